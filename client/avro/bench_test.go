package avro

import (
	"testing"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/serde"
)

// BenchmarkDecode measures a consumer's decode of one record: the writer
// schema equal to the local one ("same") and an older writer resolved to
// the local schema ("resolved").
//
//	go test ./client/avro -run '^$' -bench Decode -count 5
func BenchmarkDecode(b *testing.B) {
	c := Must[fuzzOrder](fuzzV1)
	note := "leave at the door"
	datum, err := c.AppendEncode(nil, fuzzOrder{ID: "order-0001", Items: []string{"apple", "pear", "plum"}, Tags: map[string]string{"region": "eu", "tier": "gold"}, Note: &note})
	if err != nil {
		b.Fatal(err)
	}
	old, err := Must[fuzzOrder](fuzzV0).AppendEncode(nil, fuzzOrder{ID: "order-0001", Items: []string{"apple", "pear", "plum"}, Tags: map[string]string{"region": "eu", "tier": "gold"}})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		writer string
		datum  []byte
	}{{"same", fuzzV1, datum}, {"resolved", fuzzV0, old}} {
		dec, err := c.Decoder(&client.WriterSchema{ID: 1, Format: serde.Avro, Text: bc.writer})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var v fuzzOrder
				if err := dec(bc.datum, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
