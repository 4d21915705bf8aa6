package avro

import (
	"errors"
	"testing"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/serde"
)

type nullsHolder struct {
	ID    string `avro:"id"`
	Nulls []any  `avro:"nulls"`
}

const nullsSchema = `{"type":"record","name":"N","fields":[{"name":"id","type":"string"},{"name":"nulls","type":{"type":"array","items":"null"}}]}`

// TestDecodeBoundsLengths feeds datums whose declared lengths ask for far
// more than the input holds: each is refused with a *serde.DatumError
// naming the path, before anything is allocated for it.
func TestDecodeBoundsLengths(t *testing.T) {
	c := Must[fuzzOrder](fuzzV1)
	same, err := c.Decoder(&client.WriterSchema{ID: 1, Format: serde.Avro, Text: fuzzV1})
	if err != nil {
		t.Fatal(err)
	}
	older, err := c.Decoder(&client.WriterSchema{ID: 2, Format: serde.Avro, Text: fuzzV0})
	if err != nil {
		t.Fatal(err)
	}
	n := Must[nullsHolder](nullsSchema)
	nulls, err := n.Decoder(&client.WriterSchema{ID: 3, Format: serde.Avro, Text: nullsSchema})
	if err != nil {
		t.Fatal(err)
	}
	decOrder := func(d client.Decoder[fuzzOrder]) func([]byte) error {
		return func(b []byte) error { var v fuzzOrder; return d(b, &v) }
	}
	for _, tc := range []struct {
		name   string
		decode func([]byte) error
		datum  []byte
		path   string
	}{
		// id "a", then an items block count of 2^31-ish with 0 bytes left.
		{"array count", decOrder(same), []byte{0x02, 'a', 0xfe, 0xff, 0xff, 0xff, 0x0f}, "/items"},
		{"array count, resolved", decOrder(older), []byte{0x02, 'a', 0xfe, 0xff, 0xff, 0xff, 0x0f}, "/items"},
		// a string length of 2^40.
		{"string length", decOrder(same), []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x40}, "/id"},
		// no items, then a map block count of 2^30 with 1 byte left.
		{"map count", decOrder(same), []byte{0x02, 'a', 0x00, 0x80, 0x80, 0x80, 0x80, 0x08, 0x00}, "/tags"},
		// a string item inside the array whose length overruns.
		{"item length", decOrder(same), []byte{0x02, 'a', 0x02, 0xfe, 0xff, 0x03}, "/items/0"},
		// an array of null: items take no bytes, so the count is capped by
		// a fixed limit instead.
		{"zero-width count", func(b []byte) error { var v nullsHolder; return nulls(b, &v) }, []byte{0x02, 'a', 0xfe, 0xff, 0xff, 0xff, 0x0f, 0x00}, "/nulls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.decode(tc.datum)
			var de *serde.DatumError
			if !errors.As(err, &de) {
				t.Fatalf("got %v, want a *serde.DatumError", err)
			}
			if de.Path != tc.path {
				t.Errorf("path %q, want %q (%v)", de.Path, tc.path, err)
			}
		})
	}
	// A modest array of null still decodes.
	var v nullsHolder
	b, err := n.AppendEncode(nil, nullsHolder{ID: "a", Nulls: make([]any, 300)})
	if err != nil {
		t.Fatal(err)
	}
	if err := nulls(b, &v); err != nil || len(v.Nulls) != 300 {
		t.Fatalf("300 nulls: %v, %d items", err, len(v.Nulls))
	}
}
