package primitive

import (
	"bytes"
	"fmt"
	"math"
	"testing"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/serde"
	savro "github.com/sluicehq/sluice/serde/avro"
)

// roundTrip encodes v with c, checks the bytes against serde/avro's
// encoder of the same schema, and decodes them back.
func roundTrip[T any](t *testing.T, c client.Codec[T], v T, eq func(a, b T) bool) {
	t.Helper()
	got, err := c.AppendEncode(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Schema()
	want, err := savro.MustParse(s.Text).AppendEncode(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s %v: encoded %x, serde/avro encodes %x", s.Text, v, got, want)
	}
	dec, err := c.Decoder(&client.WriterSchema{ID: 1, Format: serde.Avro, Text: s.Text})
	if err != nil {
		t.Fatal(err)
	}
	var back T
	if err := dec(got, &back); err != nil || !eq(back, v) {
		t.Errorf("%s %v: decoded %v, %v", s.Text, v, back, err)
	}
}

func same[T comparable](a, b T) bool { return a == b }

func TestAvroPrimitives(t *testing.T) {
	for _, s := range []string{"", "a", "héllo", string(make([]byte, 300))} {
		roundTrip(t, String(), s, same)
	}
	for _, n := range []int64{0, 1, -1, 63, -64, 64, math.MaxInt64, math.MinInt64} {
		roundTrip(t, Int64(), n, same)
	}
	for _, n := range []int32{0, -1, math.MaxInt32, math.MinInt32} {
		roundTrip(t, Int32(), n, same)
	}
	for _, f := range []float64{0, -1.5, math.Inf(1), math.MaxFloat64} {
		roundTrip(t, Float64(), f, same)
	}
	roundTrip(t, Bool(), true, same)
	roundTrip(t, Bool(), false, same)
	roundTrip(t, Bytes(), []byte{0, 1, 2}, bytes.Equal)
}

// TestPromotion: an int written key reads as a long (Avro resolution).
func TestPromotion(t *testing.T) {
	b, _ := Int32().AppendEncode(nil, -7)
	dec, err := Int64().Decoder(&client.WriterSchema{ID: 1, Format: serde.Avro, Text: `"int"`})
	if err != nil {
		t.Fatal(err)
	}
	var v int64
	if err := dec(b, &v); err != nil || v != -7 {
		t.Errorf("decoded %d, %v", v, err)
	}
	if _, err := Int64().Decoder(&client.WriterSchema{ID: 2, Format: serde.JSON, Text: `{}`}); err == nil {
		t.Error("a JSON writer schema was accepted by an Avro primitive codec")
	}
	if err := dec([]byte{0x80}, &v); err == nil {
		t.Error("a truncated varint decoded")
	}
}

func TestRawAndNull(t *testing.T) {
	if RawString().Schema().Format != "" || RawBytes().Schema().Format != "" || Null().Schema().Format != "" {
		t.Error("raw codecs must be schemaless")
	}
	b, _ := RawString().AppendEncode([]byte("x"), "yz")
	if string(b) != "xyz" {
		t.Errorf("append: %q", b)
	}
	dec, _ := RawBytes().Decoder(nil)
	in := []byte("abc")
	var out []byte
	if err := dec(in, &out); err != nil || string(out) != "abc" {
		t.Fatal(err)
	}
	in[0] = 'z'
	if string(out) != "abc" {
		t.Error("decoded bytes alias the record's buffer")
	}
	if n, ok := Null().(client.NullableCodec[struct{}]); !ok || !n.IsNull(struct{}{}) {
		t.Error("Null is not a nullable codec")
	}
}

// generalDecoder is the decoder a codec gives when the writer schema is not
// its own (a logical type makes the text differ, not the canonical form):
// through serde/avro's schema resolution, as every other pair is read.
func generalDecoder[T any](t testing.TB, c client.Codec[T], typ string) client.Decoder[T] {
	t.Helper()
	ac := c.(*avroCodec[T])
	general := *ac
	general.decode = nil
	dec, err := general.Decoder(&client.WriterSchema{ID: 1, Format: serde.Avro, Text: typ})
	if err != nil {
		t.Fatal(err)
	}
	return dec
}

// agree decodes b with the codec's direct decoder (its own writer schema)
// and with the general one, and reports a difference.
func agree[T comparable](t testing.TB, c client.Codec[T], typ string, b []byte) {
	t.Helper()
	fast, err := c.Decoder(&client.WriterSchema{ID: 1, Format: serde.Avro, Text: typ})
	if err != nil {
		t.Fatal(err)
	}
	var got, want T
	gerr := fast(b, &got)
	werr := generalDecoder(t, c, typ)(b, &want)
	// Compared as their bits (fmt's %#v): a NaN equals itself here.
	if (gerr == nil) != (werr == nil) || gerr == nil && fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
		t.Fatalf("%s datum %x: direct decode %v (%v), general %v (%v)", typ, b, got, gerr, want, werr)
	}
}

// TestDirectDecoders: the direct decoders of long, int, string and double
// read what schema resolution reads, and refuse what it refuses, including
// a writer with a logical type (same canonical form, same bytes).
func TestDirectDecoders(t *testing.T) {
	for _, b := range [][]byte{{0}, {1}, {0x80, 1}, {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, {0x80}, {}, {0, 0},
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}} {
		agree(t, Int64(), `"long"`, b)
		agree(t, Int64(), `{"type":"long","logicalType":"timestamp-millis"}`, b)
		agree(t, Int32(), `"int"`, b)
	}
	for _, b := range [][]byte{{0}, {2, 'a'}, {4, 'a'}, {1}, {6, 0xff, 0xfe, 0xfd}, {2, 'a', 'b'}} {
		agree(t, String(), `"string"`, b)
		agree(t, String(), `{"type":"string","logicalType":"uuid"}`, b)
	}
	for _, b := range [][]byte{{0, 0, 0, 0, 0, 0, 0xf8, 0x3f}, {1, 2, 3}, make([]byte, 9)} {
		agree(t, Float64(), `"double"`, b)
	}
}

// FuzzDirectDecoders: for any bytes, a direct decoder and schema
// resolution agree on the value or on refusing it.
func FuzzDirectDecoders(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{4, 'h', 'i'})
	f.Add([]byte{0x80, 0x80, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		agree(t, Int64(), `"long"`, b)
		agree(t, Int32(), `"int"`, b)
		agree(t, String(), `"string"`, b)
		agree(t, Float64(), `"double"`, b)
	})
}
