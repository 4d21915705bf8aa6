package avro_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	hamba "github.com/hamba/avro/v2"

	"github.com/sluicehq/sluice/internal/golden"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
)

const orderSchema = `{"type":"record","name":"Order","namespace":"shop.v1","fields":[{"name":"id","type":"long"},{"name":"name","type":"string"},{"name":"note","type":["null","string"],"default":null}]}`

const richSchema = `{"type":"record","name":"R","fields":[
 {"name":"b","type":"boolean"},
 {"name":"i","type":"int"},
 {"name":"f","type":"float"},
 {"name":"d","type":"double"},
 {"name":"h","type":{"type":"fixed","name":"H","size":2}},
 {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}},
 {"name":"items","type":{"type":"array","items":{"type":"record","name":"Item","fields":[{"name":"price","type":"long"}]}}},
 {"name":"m","type":{"type":"map","values":"int"}},
 {"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":4,"scale":2}},
 {"name":"day","type":{"type":"int","logicalType":"date"}}
]}`

const listSchema = `{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}`

// rich is a valid datum of richSchema: true, 1, 0f, 0d, "ab", B,
// [{price 1},{price 2}], {"k":3}, decimal 0x01, day 5.
var rich = []byte{1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'a', 'b', 2, 4, 2, 4, 0, 2, 2, 'k', 6, 0, 2, 1, 10}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

var datumCases = []struct {
	name, schema string
	datum        []byte
	wantPath     string // "" with ok true: valid
	ok           bool
}{
	{name: "spec 10.1 value", schema: orderSchema, datum: []byte{0x54, 0x06, 'A', 'd', 'a', 0x00}, ok: true},
	{name: "spec 10.1 second value", schema: orderSchema, datum: []byte{0x05, 0x00, 0x02, 0x04, 'h', 'i'}, ok: true},
	{name: "spec 10.2 raw bytes", schema: `"bytes"`, datum: []byte{0xde, 0xad}, ok: true},
	{name: "raw bytes empty", schema: `"bytes"`, datum: nil, ok: true},
	{name: "rich", schema: richSchema, datum: rich, ok: true},
	{name: "decimal root is not raw", schema: `{"type":"bytes","logicalType":"decimal","precision":4}`, datum: []byte{0x02, 0x01}, ok: true},
	{name: "decimal root needs its length", schema: `{"type":"bytes","logicalType":"decimal","precision":4}`, datum: []byte{0x01}, wantPath: ""},
	{name: "null", schema: `"null"`, datum: nil, ok: true},
	{name: "recursive", schema: listSchema, datum: []byte{2, 2, 4, 2, 6, 0}, ok: true},
	{name: "negative block count with size", schema: `{"type":"array","items":"long"}`, datum: []byte{3, 4, 2, 4, 0}, ok: true},
	{name: "array of nulls", schema: `{"type":"array","items":"null"}`, datum: []byte{10, 0}, ok: true},
	{name: "long max", schema: `"long"`, datum: []byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, ok: true},
	{name: "int max", schema: `"int"`, datum: []byte{0xfe, 0xff, 0xff, 0xff, 0x0f}, ok: true},

	{name: "leftover", schema: orderSchema, datum: []byte{0x54, 0x06, 'A', 'd', 'a', 0x00, 0x00}, wantPath: ""},
	{name: "truncated long", schema: orderSchema, datum: nil, wantPath: "/id"},
	{name: "truncated varint", schema: orderSchema, datum: []byte{0x80}, wantPath: "/id"},
	{name: "string overruns", schema: orderSchema, datum: []byte{0x54, 0x08, 'A'}, wantPath: "/name"},
	{name: "negative string length", schema: orderSchema, datum: []byte{0x54, 0x01}, wantPath: "/name"},
	{name: "invalid utf8", schema: orderSchema, datum: []byte{0x54, 0x04, 'A', 0xff, 0}, wantPath: "/name"},
	{name: "union index out of range", schema: orderSchema, datum: []byte{0x54, 0x00, 0x04}, wantPath: "/note"},
	{name: "union negative index", schema: orderSchema, datum: []byte{0x54, 0x00, 0x01}, wantPath: "/note"},
	{name: "union branch truncated", schema: orderSchema, datum: []byte{0x54, 0x00, 0x02}, wantPath: "/note"},
	{name: "boolean 2", schema: richSchema, datum: cat([]byte{2}, rich[1:]), wantPath: "/b"},
	{name: "int overflow", schema: `"int"`, datum: []byte{0xff, 0xff, 0xff, 0xff, 0x1f}, wantPath: ""},
	{name: "int too long", schema: `"int"`, datum: []byte{0xff, 0xff, 0xff, 0xff, 0x8f, 0}, wantPath: ""},
	{name: "long overflow", schema: `"long"`, datum: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, wantPath: ""},
	{name: "float short", schema: `"float"`, datum: []byte{0, 0, 0}, wantPath: ""},
	{name: "double short", schema: `"double"`, datum: []byte{0, 0, 0, 0}, wantPath: ""},
	{name: "fixed short", schema: richSchema, datum: rich[:15], wantPath: "/h"},
	{name: "enum out of range", schema: richSchema, datum: cat(rich[:16], []byte{4}), wantPath: "/e"},
	{name: "array item truncated", schema: richSchema, datum: cat(rich[:17], []byte{4, 2, 0x80}), wantPath: "/items/1/price"},
	{name: "array count exceeds input", schema: `{"type":"array","items":"long"}`, datum: []byte{0xfe, 0xff, 0xff, 0xff, 0x0f, 0}, wantPath: ""},
	{name: "block size mismatch", schema: `{"type":"array","items":"long"}`, datum: []byte{3, 2, 2, 4, 0}, wantPath: ""},
	{name: "block size overruns", schema: `{"type":"array","items":"long"}`, datum: []byte{3, 40, 2, 0}, wantPath: ""},
	{name: "zero width flood", schema: `{"type":"array","items":"null"}`, datum: []byte{0xfe, 0xff, 0xff, 0xff, 0x0f, 0}, wantPath: ""},
	{name: "map value bad", schema: richSchema, datum: cat(rich[:21], []byte{2, 2, 'k', 0xff, 0xff, 0xff, 0xff, 0x7f}), wantPath: "/m/k"},
	{name: "map key bad utf8", schema: richSchema, datum: cat(rich[:21], []byte{2, 2, 0xc0, 6, 0}), wantPath: "/m"},
	{name: "decimal too long", schema: richSchema, datum: cat(rich[:26], []byte{8, 1, 2, 3, 4, 10}), wantPath: "/dec"},
	{name: "decimal empty", schema: richSchema, datum: cat(rich[:26], []byte{0, 10}), wantPath: "/dec"},
	{name: "date truncated", schema: richSchema, datum: rich[:28], wantPath: "/day"},
	{name: "path escaping", schema: `{"type":"map","values":"int"}`, datum: []byte{2, 6, 'a', '/', '~', 0x80}, wantPath: "/a~1~0"},
	{name: "recursion truncated", schema: listSchema, datum: []byte{2, 2, 4, 2}, wantPath: "/next/next/v"},
	{name: "direct self recursion hits depth", schema: `{"type":"record","name":"Loop","fields":[{"name":"x","type":{"type":"array","items":"Loop"}}]}`, datum: deepLoop(300), wantPath: "prefix:/x/0/x/0"},
}

// deepLoop nests single-element arrays n deep.
func deepLoop(n int) []byte {
	b := make([]byte, 0, 2*n)
	for range n {
		b = append(b, 2)
	}
	for range n {
		b = append(b, 0)
	}
	return b
}

// TestValidateDatum checks every rule with a valid or an invalid datum;
// messages are in testdata/datum_errors.golden.
func TestValidateDatum(t *testing.T) {
	var out strings.Builder
	for _, tc := range datumCases {
		s := avro.MustParse(tc.schema)
		err := s.ValidateDatum(tc.datum)
		if tc.ok {
			if err != nil {
				t.Errorf("%s: unexpected error %v", tc.name, err)
			}
			continue
		}
		var de *serde.DatumError
		if !errors.As(err, &de) || !errors.Is(err, serde.ErrDatum) {
			t.Errorf("%s: error %T %v is not a DatumError", tc.name, err, err)
			continue
		}
		if p, ok := strings.CutPrefix(tc.wantPath, "prefix:"); ok {
			if !strings.HasPrefix(de.Path, p) {
				t.Errorf("%s: path %q, want prefix %q", tc.name, de.Path, p)
			}
		} else if de.Path != tc.wantPath {
			t.Errorf("%s: path %q, want %q (%v)", tc.name, de.Path, tc.wantPath, err)
		}
		if de.Offset < 0 || de.Offset > len(tc.datum) {
			t.Errorf("%s: offset %d outside the datum", tc.name, de.Offset)
		}
		msg := err.Error()
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		fmt.Fprintf(&out, "%s: %s\n", tc.name, msg)
	}
	golden.Check(t, filepath.Join("testdata", "datum_errors.golden"), out.String())
}

func TestValidateDatumNoAllocs(t *testing.T) {
	s, b := orderEvent(t)
	if err := s.ValidateDatum(b); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = s.ValidateDatum(b) }); n != 0 {
		t.Fatalf("%v allocations per call, want 0", n)
	}
	r := avro.MustParse(richSchema)
	if n := testing.AllocsPerRun(100, func() { _ = r.ValidateDatum(rich) }); n != 0 {
		t.Fatalf("%v allocations per call on rich, want 0", n)
	}
}

// hambaDecodesAll reports whether hamba decodes b as exactly one datum of
// s, with nothing left over (hamba's Unmarshal forgives truncation at
// end of input and leftovers, so the reader is driven directly).
func hambaDecodesAll(s *avro.Schema, b []byte) error {
	r := hamba.NewReader(nil, 0).Reset(b)
	var v any
	r.ReadVal(s.Avro(), &v)
	if r.Error != nil {
		return r.Error
	}
	r.Peek()
	if r.Error == nil {
		return errors.New("bytes left over")
	}
	return nil
}

// corrupt yields systematic corruptions of b: truncations, bit flips and
// appended bytes.
func corrupt(b []byte) [][]byte {
	var out [][]byte
	for i := range len(b) {
		out = append(out, b[:i])
		for bit := range 8 {
			c := append([]byte(nil), b...)
			c[i] ^= 1 << bit
			out = append(out, c)
		}
	}
	out = append(out, cat(b, []byte{0}), cat(b, []byte{0x80}), cat(b, b))
	return out
}

// TestDifferentialHamba: whatever the walker accepts, hamba decodes whole.
func TestDifferentialHamba(t *testing.T) {
	oe, ob := orderEvent(t)
	corpus := []struct {
		s *avro.Schema
		b []byte
	}{{oe, ob}}
	for _, tc := range datumCases {
		if tc.schema == `"bytes"` {
			continue // the Confluent raw-bytes rule is ours, not hamba's
		}
		corpus = append(corpus, struct {
			s *avro.Schema
			b []byte
		}{avro.MustParse(tc.schema), tc.datum})
	}
	accepted, refused := 0, 0
	for _, c := range corpus {
		for _, b := range append(corrupt(c.b), c.b) {
			if c.s.ValidateDatum(b) != nil {
				refused++
				continue
			}
			accepted++
			if err := hambaDecodesAll(c.s, b); err != nil {
				t.Errorf("walker accepts % x of %s, hamba fails: %v", b, c.s, err)
			}
		}
	}
	if accepted == 0 || refused == 0 {
		t.Fatalf("degenerate corpus: %d accepted, %d refused", accepted, refused)
	}
}

func FuzzValidateDatum(f *testing.F) {
	schemas := []string{orderSchema, richSchema, listSchema, `{"type":"array","items":"long"}`, `{"type":"map","values":"int"}`}
	for i := range schemas {
		f.Add(uint8(i), []byte{})
	}
	for _, tc := range datumCases {
		for i, s := range schemas {
			if s == tc.schema {
				f.Add(uint8(i), tc.datum)
			}
		}
	}
	parsed := make([]*avro.Schema, len(schemas))
	for i, s := range schemas {
		parsed[i] = avro.MustParse(s)
	}
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		s := parsed[int(which)%len(parsed)]
		err := s.ValidateDatum(b)
		if err != nil {
			var de *serde.DatumError
			if !errors.As(err, &de) || de.Reason == "" || de.Offset < 0 || de.Offset > len(b) {
				t.Fatalf("bad error %#v", err)
			}
			return
		}
		if herr := hambaDecodesAll(s, b); herr != nil {
			t.Fatalf("walker accepts % x, hamba fails: %v", b, herr)
		}
	})
}

// orderEvent is the 22-field record of the performance baseline with a
// datum encoded by hamba from a generic value.
func orderEvent(tb testing.TB) (*avro.Schema, []byte) {
	tb.Helper()
	text, err := os.ReadFile("testdata/order_event.avsc")
	if err != nil {
		tb.Fatal(err)
	}
	s, err := avro.Parse(string(text), nil)
	if err != nil {
		tb.Fatal(err)
	}
	ref := "https://www.example.com/landing?utm_source=newsletter"
	v := map[string]any{
		"event_id": "3f2b8c1e-9d4a-4e6b-8f0a-1c2d3e4f5a6b", "tenant_id": "tenant-042", "user_id": int64(987654321),
		"session_id": "sess-6c1f0e2a7b", "created_at_ms": int64(1795000000123), "event_type": "paid",
		"amount_cents": int64(129999), "currency": "EUR", "quantity": 3, "price": 433.33, "discount": float32(0.15),
		"is_test": false, "country": "DE", "city": "Berlin", "ip": "203.0.113.42",
		"user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
		"tags":       []any{"promo", "mobile", "returning"},
		"attributes": map[string]any{"campaign": "winter-sale", "ab_bucket": "B", "channel": "email"},
		"address":    map[string]any{"street": "Friedrichstrasse 123", "zip": "10117", "country": "DE"},
		"payload":    []byte(strings.Repeat("\xab\xcd\xef\x01", 16)),
		"referrer":   map[string]any{"string": ref}, "schema_version": 3,
	}
	b, err := hamba.Marshal(s.Avro(), v)
	if err != nil {
		tb.Fatal(err)
	}
	return s, b
}

func BenchmarkValidateDatum(b *testing.B) {
	s, d := orderEvent(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(d)))
	for b.Loop() {
		if err := s.ValidateDatum(d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHambaGenericDecode(b *testing.B) {
	s, d := orderEvent(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(d)))
	for b.Loop() {
		var v any
		if err := hamba.Unmarshal(s.Avro(), d, &v); err != nil {
			b.Fatal(err)
		}
	}
}
