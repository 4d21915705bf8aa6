package jsonschema_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/golden"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/jsonschema"
)

const recordPayload = `{"event_id":"3f2b8c1e-9d4a-4e6b-8f0a-1c2d3e4f5a6b","tenant_id":"tenant-042","user_id":987654321,` +
	`"session_id":"sess-6c1f0e2a7b","created_at_ms":1795000000123,"event_type":"paid","amount_cents":129999,` +
	`"currency":"EUR","quantity":3,"price":433.33,"discount":0.15,"is_test":false,"country":"DE","city":"Berlin",` +
	`"ip":"203.0.113.42","user_agent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",` +
	`"tags":["promo","mobile","returning"],"attributes":{"campaign":"winter-sale","ab_bucket":"B","channel":"email"},` +
	`"address":{"street":"Friedrichstrasse 123","zip":"10117","country":"DE"},` +
	`"payload":"q83vAavN7wGrze8Bq83vAavN7wGrze8Bq83vAavN7wGrze8Bq83vAavN7wGrze8B",` +
	`"referrer":"https://www.example.com/landing?utm_source=newsletter","schema_version":3}`

func recordSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	text, err := os.ReadFile("testdata/record.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := jsonschema.Parse(string(text), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestValidatePayload(t *testing.T) {
	s := recordSchema(t)
	bad := func(from, to string) string { return strings.Replace(recordPayload, from, to, 1) }
	cases := []struct {
		name, doc string
		wantPath  string // "-" for valid
	}{
		{"record", recordPayload, "-"},
		{"wrong type", bad(`"quantity":3`, `"quantity":"3"`), "/quantity"},
		{"nested", bad(`"country":"DE"}`, `"country":"DEU"}`), "/address/country"},
		{"array item", bad(`"promo"`, `7`), "/tags/0"},
		{"missing required", bad(`"city":"Berlin",`, ``), ""},
		{"below minimum", bad(`"quantity":3`, `"quantity":-1`), "/quantity"},
		{"trailing garbage", recordPayload + " x", ""},
		{"two values", recordPayload + recordPayload, ""},
		{"malformed", `{"event_id":`, ""},
		{"invalid UTF-8", bad(`Berlin`, "Berl\xffn"), ""},
		{"empty", ``, ""},
	}
	var report strings.Builder
	for _, c := range cases {
		err := s.ValidatePayload([]byte(c.doc))
		if c.wantPath == "-" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		var de *serde.DatumError
		if !errors.As(err, &de) || !errors.Is(err, serde.ErrDatum) {
			t.Errorf("%s: got %v (%T), want a *serde.DatumError", c.name, err, err)
			continue
		}
		if de.Path != c.wantPath {
			t.Errorf("%s: path %q, want %q (%v)", c.name, de.Path, c.wantPath, err)
		}
		fmt.Fprintf(&report, "%s: %v\n", c.name, err)
	}
	golden.Check(t, filepath.Join("testdata", "payload_errors.golden"), report.String())
}

// FuzzValidatePayload: never panics; what ValidatePayload accepts,
// encoding/json parses as one value.
func FuzzValidatePayload(f *testing.F) {
	s := recordSchema(f)
	f.Add([]byte(recordPayload))
	f.Add([]byte(`{"a":1}`))
	f.Add([]byte(`[1, 2`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if s.ValidatePayload(b) != nil {
			return
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("accepted %q, encoding/json refuses: %v", b, err)
		}
	})
}

func BenchmarkValidatePayload(b *testing.B) {
	s := recordSchema(b)
	doc := []byte(recordPayload)
	b.Run("ValidatePayload", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if err := s.ValidatePayload(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The library's documented route: json.Decoder with UseNumber, then
	// Validate.
	b.Run("library", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			dec := json.NewDecoder(bytes.NewReader(doc))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				b.Fatal(err)
			}
			if err := s.Compiled().Validate(v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
