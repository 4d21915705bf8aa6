package avro_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/serde/avro"
)

type order struct {
	ID   int64   `avro:"id"`
	Name string  `avro:"name"`
	Note *string `avro:"note"`
}

func TestCodecRoundTrip(t *testing.T) {
	s := avro.MustParse(orderSchema)
	prefix := []byte{0, 0, 0, 0, 7}
	got, err := s.AppendEncode(append([]byte(nil), prefix...), order{ID: 42, Name: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	// Spec §10.1: the datum follows the caller's bytes untouched.
	if want := []byte{0, 0, 0, 0, 7, 0x54, 0x06, 'A', 'd', 'a', 0x00}; !bytes.Equal(got, want) {
		t.Fatalf("encoded % x, want % x", got, want)
	}
	if err := s.ValidateDatum(got[5:]); err != nil {
		t.Fatalf("encoder output fails the walker: %v", err)
	}
	var o order
	if err := s.Decode(got[5:], &o); err != nil {
		t.Fatal(err)
	}
	if o.ID != 42 || o.Name != "Ada" || o.Note != nil {
		t.Fatalf("decoded %+v", o)
	}
	hi := "hi"
	b, err := s.AppendEncode(nil, order{ID: -3, Note: &hi})
	if err != nil || !bytes.Equal(b, []byte{0x05, 0x00, 0x02, 0x04, 'h', 'i'}) {
		t.Fatalf("second vector % x, %v", b, err)
	}
}

func TestCodecErrors(t *testing.T) {
	s := avro.MustParse(orderSchema)
	var o order
	for _, tc := range []struct {
		name  string
		datum []byte
		want  string
	}{
		{"truncated", []byte{0x54, 0x06, 'A'}, "cut short"},
		{"truncated varint", []byte{0x54, 0x06, 'A', 'd', 'a'}, "cut short"},
		{"left over", []byte{0x54, 0x06, 'A', 'd', 'a', 0x00, 0x00}, "left over"},
		{"bad union", []byte{0x54, 0x06, 'A', 'd', 'a', 0x08}, "union"},
	} {
		err := s.Decode(tc.datum, &o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
	if _, err := s.AppendEncode(nil, 42); err == nil {
		t.Error("encoding an int as a record succeeded")
	}
}

func TestCodecRawBytes(t *testing.T) {
	s := avro.MustParse(`"bytes"`)
	b, err := s.AppendEncode([]byte{0, 0, 0, 0, 9}, []byte{0xde, 0xad})
	if err != nil || !bytes.Equal(b, []byte{0, 0, 0, 0, 9, 0xde, 0xad}) { // spec §10.2
		t.Fatalf("got % x, %v", b, err)
	}
	var out []byte
	if err := s.Decode(b[5:], &out); err != nil || !bytes.Equal(out, []byte{0xde, 0xad}) {
		t.Fatalf("decoded % x, %v", out, err)
	}
	if _, err := s.AppendEncode(nil, "str"); err == nil {
		t.Error("a string encoded under a raw bytes schema")
	}
}

type orderV2 struct {
	ID       int64  `avro:"id"`
	Name     string `avro:"name"`
	Currency string `avro:"currency"`
}

func TestDecodeFrom(t *testing.T) {
	writer := avro.MustParse(orderSchema)
	// The reader drops note and adds currency with a default.
	reader := avro.MustParse(`{"type":"record","name":"Order","namespace":"shop.v1","fields":[{"name":"id","type":"long"},{"name":"name","type":"string"},{"name":"currency","type":"string","default":"EUR"}]}`)
	hi := "hi"
	b, err := writer.AppendEncode(nil, order{ID: 7, Name: "Bo", Note: &hi})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second call uses the cached resolution
		var v orderV2
		if err := reader.DecodeFrom(writer, b, &v); err != nil {
			t.Fatal(err)
		}
		if v != (orderV2{ID: 7, Name: "Bo", Currency: "EUR"}) {
			t.Fatalf("decoded %+v", v)
		}
	}
	var v orderV2
	if err := reader.DecodeFrom(writer, append(b, 0), &v); err == nil {
		t.Error("bytes left over accepted through resolution")
	}
	incompatible := avro.MustParse(`{"type":"record","name":"Order","namespace":"shop.v1","fields":[{"name":"id","type":"string"}]}`)
	if err := incompatible.DecodeFrom(writer, b, &v); err == nil || !strings.Contains(err.Error(), "resolve") {
		t.Errorf("incompatible schemas: %v", err)
	}
}
