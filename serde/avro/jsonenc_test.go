package avro

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/sluicehq/sluice/serde"
)

// jsonTestSchema covers every type and the logical types whose Go form in
// hamba is not the plain integer.
const jsonTestSchema = `{"type":"record","name":"Order","namespace":"shop.v1","fields":[
 {"name":"id","type":"string"},
 {"name":"total","type":"long"},
 {"name":"qty","type":"int"},
 {"name":"paid","type":"boolean"},
 {"name":"rate","type":"float"},
 {"name":"ratio","type":"double"},
 {"name":"blob","type":"bytes"},
 {"name":"hash","type":{"type":"fixed","name":"Hash","size":2}},
 {"name":"state","type":{"type":"enum","name":"State","symbols":["NEW","PAID"]}},
 {"name":"lines","type":{"type":"array","items":{"type":"record","name":"Line","fields":[{"name":"sku","type":"string"},{"name":"price","type":"long"}]}}},
 {"name":"tags","type":{"type":"map","values":"string"}},
 {"name":"note","type":["null","string"],"default":null},
 {"name":"ref","type":["null","Line","long"]},
 {"name":"day","type":{"type":"int","logicalType":"date"}},
 {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"tod","type":{"type":"long","logicalType":"time-micros"}},
 {"name":"when","type":["null",{"type":"long","logicalType":"timestamp-micros"}]},
 {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":6,"scale":2}},
 {"name":"price","type":{"type":"fixed","name":"Price","size":4,"logicalType":"decimal","precision":8,"scale":2},"default":"\u0000\u0000\u0000\u0001"},
 {"name":"span","type":{"type":"fixed","name":"Span","size":12,"logicalType":"duration"},"default":"\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000"},
 {"name":"uid","type":{"type":"string","logicalType":"uuid"},"default":"not-a-uuid"},
 {"name":"tm","type":{"type":"int","logicalType":"time-millis"},"default":-5},
 {"name":"lts","type":{"type":"long","logicalType":"local-timestamp-micros"},"default":9223372036854775807}
]}`

const jsonTestValue = `{"id":"o-1","total":1200,"qty":3,"paid":true,"rate":1.5,"ratio":"NaN","blob":"a\u00ff\u0000",` +
	`"hash":"\u0001\u0002","state":"PAID","lines":[{"sku":"<x>","price":-5},{"sku":"y","price":7}],"tags":{"k":"v"},` +
	`"note":{"string":"hi"},"ref":{"shop.v1.Line":{"sku":"z","price":1}},"day":19000,"at":1700000000000,"tod":3,` +
	`"when":{"long":1700000000000000},"amount":"\u0004\u00d2"}`

func TestJSONRoundTrip(t *testing.T) {
	s := MustParse(jsonTestSchema)
	b, err := s.AppendEncodeJSON(nil, []byte(jsonTestValue))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ValidateDatum(b); err != nil {
		t.Fatalf("encoded datum does not validate: %v", err)
	}
	got, err := s.AppendDecodeJSON(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	// Only the order of map keys could differ; this value has one key.
	want := `{"id":"o-1","total":1200,"qty":3,"paid":true,"rate":1.5,"ratio":"NaN","blob":"aÿ\u0000","hash":"\u0001\u0002",` +
		`"state":"PAID","lines":[{"sku":"<x>","price":-5},{"sku":"y","price":7}],"tags":{"k":"v"},"note":{"string":"hi"},` +
		`"ref":{"shop.v1.Line":{"sku":"z","price":1}},"day":19000,"at":1700000000000,"tod":3,"when":{"long":1700000000000000},"amount":"\u0004Ò",` +
		`"price":"\u0000\u0000\u0000\u0001","span":"\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000","uid":"not-a-uuid","tm":-5,"lts":9223372036854775807}`
	if string(got) != want {
		t.Errorf("decoded\n got %s\nwant %s", got, want)
	}
	// Decoding what was decoded encodes to the same bytes.
	again, err := s.AppendEncodeJSON(nil, got)
	if err != nil || !bytes.Equal(again, b) {
		t.Errorf("re-encoded %x (%v), want %x", again, err, b)
	}
}

// TestJSONEncodeBytes checks the binary form against hand-computed bytes:
// "o-1" (06 6f 2d 31), long 5 (0a), union branch 1 "hi" (02 04 68 69),
// a missing field with a null default (00), time-micros 3 (06).
func TestJSONEncodeBytes(t *testing.T) {
	s := MustParse(`{"type":"record","name":"R","fields":[{"name":"id","type":"string"},{"name":"total","type":"long"},
		{"name":"note","type":["null","string"]},{"name":"opt","type":["null","int"],"default":null},
		{"name":"t","type":{"type":"long","logicalType":"time-micros"}}]}`)
	b, err := s.AppendEncodeJSON([]byte{0xaa}, []byte(`{"id":"o-1","total":5,"note":{"string":"hi"},"t":3}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(b), "aa"+"066f2d31"+"0a"+"02046869"+"00"+"06"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	raw := MustParse(`"bytes"`)
	b, err = raw.AppendEncodeJSON(nil, []byte(`"\u0000\u00ffA"`))
	if err != nil || hex.EncodeToString(b) != "00ff41" {
		t.Errorf("raw bytes: %x %v", b, err)
	}
	out, err := raw.AppendDecodeJSON(nil, []byte{0, 0xff, 'A'})
	if err != nil || string(out) != `"\u0000ÿA"` {
		t.Errorf("raw bytes decoded: %s %v", out, err)
	}
}

// TestJSONEncodeErrors: each mismatch names where and what.
func TestJSONEncodeErrors(t *testing.T) {
	s := MustParse(`{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"string"},{"name":"total","type":"long"},
		{"name":"qty","type":"int","default":1},{"name":"note","type":["null","string"],"default":null},
		{"name":"lines","type":{"type":"array","items":{"type":"record","name":"Line","fields":[{"name":"price","type":"long"}]}},"default":[]},
		{"name":"state","type":{"type":"enum","name":"S","symbols":["A","B"]},"default":"A"},
		{"name":"h","type":{"type":"fixed","name":"H","size":2},"default":"ab"},
		{"name":"m","type":{"type":"map","values":"int"},"default":{}}]}`)
	for _, c := range []struct{ doc, path, reason string }{
		{`{"id":"a","total":"12"}`, "/total", `expected long, got string`},
		{`{"id":"a","total":1.5}`, "/total", `expected long (an integer), got number 1.5`},
		{`{"id":"a","total":1,"qty":3000000000}`, "/qty", `3000000000 is out of range for int`},
		{`{"id":"a"}`, "/total", `missing (record shop.Order has no default for it)`},
		{`{"id":"a","total":1,"totl":2}`, "/totl", `not a field of record shop.Order`},
		{`{"id":"a","total":1,"note":"x"}`, "/note", `a union value is null or an object with one member naming its branch (one of [null, string]), e.g. {"string": ...}; got string`},
		{`{"id":"a","total":1,"note":{"int":1}}`, "/note", `"int" is not a branch of union [null, string]`},
		{`{"id":"a","total":1,"note":{"string":2}}`, "/note/string", `expected string, got number 2`},
		{`{"id":"a","total":1,"lines":[{"price":1},{"price":true}]}`, "/lines/1/price", `expected long, got boolean`},
		{`{"id":"a","total":1,"state":"C"}`, "/state", `"C" is not a symbol of enum shop.S (A, B)`},
		{`{"id":"a","total":1,"h":"abc"}`, "/h", `fixed shop.H takes 2 bytes, got 3`},
		{`{"id":"a","total":1,"m":{"a/b":"x"}}`, "/m/a~1b", `expected int, got string`},
		{`{"id":"€","total":1,"h":"a€"}`, "/h", `bytes are written as code points 0-255 (\u0000-\u00ff); character 1 is '€'`},
		{`[1]`, "", `expected record shop.Order (an object), got array`},
		{`{"id":"a","total":1} {}`, "", `not JSON: text after the value`},
		{`{"id":`, "", `not JSON: unexpected EOF`},
	} {
		_, err := s.AppendEncodeJSON(nil, []byte(c.doc))
		var de *serde.DatumError
		if !errors.As(err, &de) || de.Path != c.path || de.Reason != c.reason {
			t.Errorf("%s:\n got %v\nwant %s: %s", c.doc, err, c.path, c.reason)
		}
	}
}

func TestJSONDecodeRefusesBadBytes(t *testing.T) {
	s := MustParse(`{"type":"record","name":"R","fields":[{"name":"id","type":"string"}]}`)
	for _, b := range [][]byte{{0x06, 'a'}, {0x02, 'a', 'b'}, {0x01}} {
		if out, err := s.AppendDecodeJSON(nil, b); err == nil {
			t.Errorf("%x decoded to %s", b, out)
		}
	}
}

// FuzzAppendDecodeJSON: whatever decodes re-encodes from its JSON to bytes
// that decode to the same JSON.
func FuzzAppendDecodeJSON(f *testing.F) {
	s := MustParse(jsonTestSchema)
	seed, err := s.AppendEncodeJSON(nil, []byte(jsonTestValue))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte{0x06, 'o', '-', '1'})
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := s.AppendDecodeJSON(nil, b)
		if err != nil {
			return
		}
		b2, err := s.AppendEncodeJSON(nil, j)
		if err != nil {
			t.Fatalf("decoded JSON %s does not encode: %v", j, err)
		}
		j2, err := s.AppendDecodeJSON(nil, b2)
		if err != nil || !bytes.Equal(j, j2) {
			t.Fatalf("round trip: %s -> %s (%v)", j, j2, err)
		}
	})
}

// FuzzAppendEncodeJSON: any text either is refused with a DatumError or
// encodes to a datum that validates.
func FuzzAppendEncodeJSON(f *testing.F) {
	s := MustParse(jsonTestSchema)
	f.Add([]byte(jsonTestValue))
	f.Add([]byte(`{"id":"x"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		b, err := s.AppendEncodeJSON(nil, doc)
		if err != nil {
			if !errors.Is(err, serde.ErrDatum) {
				t.Fatalf("error is not a DatumError: %v", err)
			}
			return
		}
		if err := s.ValidateDatum(b); err != nil {
			t.Fatalf("%s encoded to an invalid datum: %v", doc, err)
		}
	})
}

func BenchmarkAppendEncodeJSON(b *testing.B) {
	s := MustParse(jsonTestSchema)
	doc := []byte(jsonTestValue)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	var dst []byte
	for b.Loop() {
		var err error
		if dst, err = s.AppendEncodeJSON(dst[:0], doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendDecodeJSON(b *testing.B) {
	s := MustParse(jsonTestSchema)
	datum, err := s.AppendEncodeJSON(nil, []byte(jsonTestValue))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(datum)))
	b.ReportAllocs()
	var dst []byte
	for b.Loop() {
		if dst, err = s.AppendDecodeJSON(dst[:0], datum); err != nil {
			b.Fatal(err)
		}
	}
}
