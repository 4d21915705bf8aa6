package pgsink

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/protobuf"
)

// TestDecoderAllocs: the consumer's decoding of a JSON Schema or Protobuf
// datum (before its conversion) costs one allocation: the datum with its
// slowDatum; a Protobuf message-index path is found without allocating.
// A schemaless key is one allocation too (its text made only if asked
// for), two when too long to be held inline. Each decoded datum still
// converts to its own columns and values.
func TestDecoderAllocs(t *testing.T) {
	jdec, err := (&codec{nested: NestedFlatten, single: "value"}).Decoder(&client.WriterSchema{ID: 3, Format: serde.JSON, Text: jsonAll})
	if err != nil {
		t.Fatal(err)
	}
	s, err := protobuf.Parse(protoAll, nil)
	if err != nil {
		t.Fatal(err)
	}
	pdec, err := (&codec{nested: NestedFlatten, single: "value"}).Decoder(&client.WriterSchema{ID: 4, Format: serde.Protobuf, Text: protoAll})
	if err != nil {
		t.Fatal(err)
	}
	protoRaw := func(path []int, set func(*dynamicpb.Message)) []byte {
		md, err := s.MessageByIndexes(path)
		if err != nil {
			t.Fatal(err)
		}
		m := dynamicpb.NewMessage(md)
		set(m)
		body, err := protobuf.AppendEncode(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		return append(serde.AppendIndexes(nil, path), body...)
	}
	kdec, _ := (&codec{single: "id", raw: true}).Decoder(nil)
	long := strings.Repeat("k", rawKeyInline+1)
	order := protoRaw([]int{1}, func(m *dynamicpb.Message) { m.Set(m.Descriptor().Fields().ByName("id"), protoValue(nil, "o-1")) })
	other := protoRaw([]int{0}, func(m *dynamicpb.Message) { m.Set(m.Descriptor().Fields().ByName("x"), protoValue(nil, "x-1")) })
	for _, tc := range []struct {
		name string
		dec  client.Decoder[*datum]
		raw  []byte
		col  string // the first column
		val  any    // its value once converted
		max  float64
	}{
		{"json", jdec, []byte(`{"n":7,"s":"a"}`), "n", int64(7), 1},
		{"protobuf", pdec, order, "id", "o-1", 1},
		{"protobuf, path [0]", pdec, other, "x", "x-1", 1},
		{"schemaless key", kdec, []byte("key-1"), "id", "key-1", 1},
		{"schemaless key, inline", kdec, []byte(long[1:]), "id", long[1:], 1},
		{"schemaless key, long", kdec, []byte(long), "id", long, 2},
	} {
		var d *datum
		if err := tc.dec(tc.raw, &d); err != nil { // the first, which may fill caches
			t.Fatalf("%s: %v", tc.name, err)
		}
		if n := testing.AllocsPerRun(100, func() { tc.dec(tc.raw, &d) }); n > tc.max {
			t.Errorf("%s: %v allocations per datum, want %v", tc.name, n, tc.max)
		}
		if err := d.resolve(nil); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		vals, err := d.values()
		if err != nil || d.cols[0].name != tc.col || vals[0] != tc.val {
			t.Errorf("%s: column %s = %v (%v), want %s = %v", tc.name, d.cols[0].name, vals[0], err, tc.col, tc.val)
		}
	}
}

// BenchmarkDecoder: the consumer's decoding of a Protobuf datum (message
// path [1]), of a JSON Schema one, before conversion, and of a schemaless
// key.
func BenchmarkDecoder(b *testing.B) {
	jdec, err := (&codec{nested: NestedFlatten, single: "value"}).Decoder(&client.WriterSchema{ID: 3, Format: serde.JSON, Text: jsonAll})
	if err != nil {
		b.Fatal(err)
	}
	pdec, err := (&codec{nested: NestedFlatten, single: "value"}).Decoder(&client.WriterSchema{ID: 4, Format: serde.Protobuf, Text: protoAll})
	if err != nil {
		b.Fatal(err)
	}
	kdec, _ := (&codec{single: "id", raw: true}).Decoder(nil)
	for _, bc := range []struct {
		name string
		dec  client.Decoder[*datum]
		raw  []byte
	}{
		{"protobuf", pdec, append(serde.AppendIndexes(nil, []int{1}), 0x0a, 0x03, 'o', '-', '1')},
		{"json", jdec, []byte(`{"n":7,"s":"a"}`)},
		{"schemaless-key", kdec, []byte("order-0001234")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var d *datum
			for b.Loop() {
				if err := bc.dec(bc.raw, &d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestProtobufPathEncodings: a message-index path written with
// non-minimal varints names the same message, through the same decoder
// entry (one per path, whatever the bytes: the decoder's memory is bounded
// by the schema's messages).
func TestProtobufPathEncodings(t *testing.T) {
	pdec, err := (&codec{nested: NestedFlatten, single: "value"}).Decoder(&client.WriterSchema{ID: 4, Format: serde.Protobuf, Text: protoAll})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte{0x0a, 0x03, 'o', '-', '1'} // id = "o-1"
	var first *column
	for _, prefix := range [][]byte{
		{0x02, 0x02},             // [1]
		{0x82, 0x00, 0x02},       // the count in two bytes
		{0x02, 0x82, 0x80, 0x00}, // the index in three
	} {
		var d *datum
		if err := pdec(append(append([]byte(nil), prefix...), body...), &d); err != nil {
			t.Fatalf("% x: %v", prefix, err)
		}
		if err := d.resolve(nil); err != nil {
			t.Fatal(err)
		}
		vals, err := d.values()
		if err != nil || d.cols[0].name != "id" || vals[0] != "o-1" {
			t.Fatalf("% x: %s = %v (%v)", prefix, d.cols[0].name, vals[0], err)
		}
		if first == nil {
			first = colsID(d)
		} else if colsID(d) != first {
			t.Errorf("% x: another entry than the minimal path's", prefix)
		}
	}
}

// FuzzDecoders: the sink's decoding and conversion of JSON Schema and
// Protobuf bytes (as a record's envelope holds them) never panic, and a
// datum they accept has a value for each of its columns.
func FuzzDecoders(f *testing.F) {
	jdec, err := (&codec{nested: NestedFlatten, single: "value"}).Decoder(&client.WriterSchema{ID: 3, Format: serde.JSON, Text: jsonAll})
	if err != nil {
		f.Fatal(err)
	}
	pdec, err := (&codec{nested: NestedFlatten, single: "value"}).Decoder(&client.WriterSchema{ID: 4, Format: serde.Protobuf, Text: protoAll})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(true, []byte(`{"n":12345678901,"x":null,"s":"é","ok":false,"addr":{"city":"Nice"},"list":["a"],"free":{"k":[1]}}`))
	f.Add(false, []byte{0x02, 0x02, 0x0a, 0x03, 'o', '-', '1', 0x10, 0x03})
	f.Add(false, []byte{0x00, 0x0a, 0x01, 'x'})
	f.Fuzz(func(t *testing.T, json bool, b []byte) {
		dec := pdec
		if json {
			dec = jdec
		}
		var d *datum
		if err := dec(b, &d); err != nil {
			return
		}
		if err := d.resolve(nil); err != nil {
			return
		}
		vals, err := d.values()
		if err != nil {
			t.Fatalf("converted, but no values: %v", err)
		}
		if len(vals) != len(d.cols) {
			t.Fatalf("%d values for %d columns", len(vals), len(d.cols))
		}
	})
}
