package jsonschema

import (
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// fastDecodeCases are texts where the fast decoder must agree with
// decodeInstance: same value, or both refusing.
var fastDecodeCases = []string{
	`{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `1.5e3`, `-12.25E-2`, `"x"`,
	` {"a": [1, 2, {"b": null}], "c": "\u00e9\n\"q\"", "d": true} `,
	`{"a":1,"a":2}`, `"naïve ☃"`, `[[[[]]]]`,
	// Refused.
	``, ` `, `{`, `[1,]`, `{"a":1,}`, `01`, `1.`, `.5`, `1e`, `-`, `+1`, `tru`, `nul`,
	`"a`, "\"a\x01\"", `"\x"`, `{"a" 1}`, `{a:1}`, `[1 2]`, `1 2`, `{} x`,
	`1e999999`, `"\ud800"`,
}

func TestFastDecodeAgreesWithDecodeInstance(t *testing.T) {
	for _, text := range fastDecodeCases {
		fast, ferr := fastDecode([]byte(text))
		slow, serr := decodeInstance([]byte(text))
		if (ferr == nil) != (serr == nil) && ferr == nil {
			t.Errorf("%q: fast accepts %v, slow refuses: %v", text, fast, serr)
			continue
		}
		if ferr == nil && !cmp.Equal(fast, slow) {
			t.Errorf("%q: fast %#v, slow %#v", text, fast, slow)
		}
	}
}

// FuzzFastDecode: whatever the fast decoder accepts, decodeInstance
// accepts with the same value (the fast path may refuse more: the slow path
// then decides).
func FuzzFastDecode(f *testing.F) {
	for _, c := range fastDecodeCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !utf8.Valid(b) {
			return // ValidatePayload refuses it before decoding
		}
		fast, ferr := fastDecode(b)
		if ferr != nil {
			return
		}
		slow, serr := decodeInstance(b)
		if serr != nil {
			t.Fatalf("%q: fast accepts %#v, decodeInstance refuses: %v", b, fast, serr)
		}
		if !cmp.Equal(fast, slow) {
			t.Fatalf("%q: fast %#v, slow %#v", b, fast, slow)
		}
	})
}

func BenchmarkDecodePerf(b *testing.B) {
	doc := []byte(`{"event_id":"3f2b8c1e-9d4a-4e6b-8f0a-1c2d3e4f5a6b","tenant_id":"tenant-042","user_id":987654321,"session_id":"sess-6c1f0e2a7b","created_at_ms":1795000000123,"event_type":"paid","amount_cents":129999,"currency":"EUR","quantity":3,"price":433.33,"discount":0.15,"is_test":false,"country":"DE","city":"Berlin","ip":"203.0.113.42","user_agent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36","tags":["promo","mobile","returning"],"attributes":{"ab_bucket":"B","campaign":"winter-sale","channel":"email"},"address":{"street":"Friedrichstrasse 123","zip":"10117","country":"DE"},"payload":"q83vAavN7wGrze8Bq83vAavN7wGrze8Bq83vAavN7wGrze8Bq83vAavN7wGrze8B","referrer":"https://www.example.com/landing?utm_source=newsletter","schema_version":3}`)
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if _, err := decodeInstance(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if _, err := fastDecode(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
