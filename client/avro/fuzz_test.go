package avro

import (
	"testing"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/serde"
)

type fuzzOrder struct {
	ID    string            `avro:"id"`
	Items []string          `avro:"items"`
	Tags  map[string]string `avro:"tags"`
	Note  *string           `avro:"note"`
}

const fuzzV1 = `{"type":"record","name":"O","fields":[{"name":"id","type":"string"},{"name":"items","type":{"type":"array","items":"string"}},{"name":"tags","type":{"type":"map","values":"string"}},{"name":"note","type":["null","string"],"default":null}]}`
const fuzzV0 = `{"type":"record","name":"O","fields":[{"name":"id","type":"string"},{"name":"items","type":{"type":"array","items":"string"}},{"name":"tags","type":{"type":"map","values":"string"}}]}`

// FuzzDecode feeds record bytes (untrusted: anything a topic holds) to the
// decoders of the same and of an older writer schema: errors are fine,
// panics are not, and what decodes re-encodes.
func FuzzDecode(f *testing.F) {
	c := Must[fuzzOrder](fuzzV1)
	same, err := c.Decoder(&client.WriterSchema{ID: 1, Format: serde.Avro, Text: fuzzV1})
	if err != nil {
		f.Fatal(err)
	}
	older, err := c.Decoder(&client.WriterSchema{ID: 2, Format: serde.Avro, Text: fuzzV0})
	if err != nil {
		f.Fatal(err)
	}
	note := "n"
	seed, _ := c.AppendEncode(nil, fuzzOrder{ID: "a", Items: []string{"x"}, Tags: map[string]string{"k": "v"}, Note: &note})
	f.Add(seed)
	f.Add([]byte{})
	f.Add([]byte{0x02, 'a', 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		var v fuzzOrder
		if err := same(b, &v); err == nil {
			if _, err := c.AppendEncode(nil, v); err != nil {
				t.Errorf("decoded value does not re-encode: %v", err)
			}
		}
		var w fuzzOrder
		_ = older(b, &w)
	})
}
