package protobuf

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/golden"

	"github.com/google/go-cmp/cmp"
)

// TestCanonicalRoundTrip checks, for every corpus file, that Canonical
// re-parses to an equivalent descriptor with the same message indexes and
// is a fixed point, that Normalized re-parses with the same indexes and is a
// fixed point, and that both texts match their golden files.
func TestCanonicalRoundTrip(t *testing.T) {
	files := corpus(t)
	for _, name := range sortedKeys(files) {
		t.Run(name, func(t *testing.T) {
			s := mustParse(t, files[name])
			golden.Check(t, filepath.Join("testdata", "golden", strings.TrimSuffix(name, ".proto")+".canonical.proto"), s.Canonical())
			golden.Check(t, filepath.Join("testdata", "golden", strings.TrimSuffix(name, ".proto")+".normalized.proto"), s.Normalized())

			c := mustParse(t, s.Canonical())
			if diff := diffDescriptors(t, s, c); diff != "" {
				t.Errorf("Canonical re-parses to a different descriptor (-orig +canonical):\n%s", diff)
			}
			if c.Canonical() != s.Canonical() {
				t.Errorf("Canonical is not a fixed point; second print:\n%s", c.Canonical())
			}
			if c.Normalized() != s.Normalized() {
				t.Errorf("Normalized of Canonical differs:\n%s", c.Normalized())
			}

			n := mustParse(t, s.Normalized())
			if n.Normalized() != s.Normalized() {
				t.Errorf("Normalized is not a fixed point; second print:\n%s", n.Normalized())
			}
			for _, sch := range []*Schema{c, n} {
				if diff := cmp.Diff(s.indexes, sch.indexes); diff != "" {
					t.Errorf("message indexes changed by re-printing (-orig +reprint):\n%s", diff)
				}
			}
		})
	}
}

// TestCanonicalIgnoresLayout: whitespace, comments, option order and
// equivalent spellings give one canonical text; meaning changes do not.
func TestCanonicalIgnoresLayout(t *testing.T) {
	base := `syntax = "proto3"; package p; message M { int32 a = 1 [deprecated = true, json_name = "x"]; N n = 2; message N {} }`
	same := []string{
		"syntax=\"proto3\";\npackage p;\n\n// comment\nmessage M {\n  /* block */ int32 a = 1 [json_name = \"x\", deprecated=true];\n  .p.M.N n = 2;\n  message N {\n  }\n}\n",
		`syntax = 'proto3'; package p; message M { int32 a = 1 [json_name = "x", deprecated = true]; p.M.N n = 2; message N {} ; }`,
	}
	different := []string{
		`syntax = "proto3"; package p; message M { int32 a = 1 [deprecated = false, json_name = "x"]; N n = 2; message N {} }`,
		`syntax = "proto3"; package p; message M { int64 a = 1 [deprecated = true, json_name = "x"]; N n = 2; message N {} }`,
		`syntax = "proto3"; package p; message M { N n = 2; int32 a = 1 [deprecated = true, json_name = "x"]; message N {} }`,
	}
	want := mustParse(t, base).Canonical()
	for _, text := range same {
		if got := mustParse(t, text).Canonical(); got != want {
			t.Errorf("Canonical(%q) =\n%s\nwant\n%s", text, got, want)
		}
	}
	for _, text := range different {
		if got := mustParse(t, text).Canonical(); got == want {
			t.Errorf("Canonical(%q) equals the base text's, want a difference", text)
		}
	}
}

// TestNormalizedIgnoresOrder: §5.3 orderings that Canonical keeps.
func TestNormalizedIgnoresOrder(t *testing.T) {
	tests := []struct {
		name, a, b string
	}{
		{"field order", `syntax = "proto3"; message M { int32 a = 1; string b = 2; }`,
			`syntax = "proto3"; message M { string b = 2; int32 a = 1; }`},
		{"enum value order", `syntax = "proto3"; enum E { Z = 0; A = 1; B = 2; }`,
			`syntax = "proto3"; enum E { Z = 0; B = 2; A = 1; }`},
		{"import order", `syntax = "proto3"; import "google/protobuf/any.proto"; import "google/type/date.proto"; message M { google.protobuf.Any a = 1; google.type.Date d = 2; }`,
			`syntax = "proto3"; import "google/type/date.proto"; import "google/protobuf/any.proto"; message M { google.protobuf.Any a = 1; google.type.Date d = 2; }`},
		{"reserved order", `syntax = "proto3"; message M { reserved 3, 1; reserved "b", "a"; }`,
			`syntax = "proto3"; message M { reserved 1; reserved 3; reserved "a", "b"; }`},
		{"qualification", `syntax = "proto3"; package p; message M { N n = 1; } message N {}`,
			`syntax = "proto3"; package p; message M { .p.N n = 1; } message N {}`},
		{"proto2 syntax line", `syntax = "proto2"; message M { optional int32 a = 1; }`,
			`message M { optional int32 a = 1; }`},
		{"oneof member order", `syntax = "proto3"; message M { oneof o { int32 a = 1; int32 b = 2; } }`,
			`syntax = "proto3"; message M { oneof o { int32 b = 2; int32 a = 1; } }`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := mustParse(t, tt.a), mustParse(t, tt.b)
			if a.Normalized() != b.Normalized() {
				t.Errorf("Normalized differs:\n%s\n---\n%s", a.Normalized(), b.Normalized())
			}
		})
	}
}

// TestMapEntryOrderKept: a nested message declared before a map field keeps
// its index in both printed forms, even when normalising reorders fields.
func TestMapEntryOrderKept(t *testing.T) {
	text := `syntax = "proto3"; package p;
message M {
  map<string, int32> z = 3;
  message A {}
  map<string, A> y = 1;
  message B {}
  int32 x = 2;
}`
	s := mustParse(t, text)
	for _, printed := range []string{s.Canonical(), s.Normalized()} {
		r := mustParse(t, printed)
		for _, name := range []string{"p.M.A", "p.M.B"} {
			want, _ := s.IndexesOf(name)
			got, err := r.IndexesOf(name)
			if err != nil || !cmp.Equal(got, want) {
				t.Errorf("%s: indexes %v (%v) after re-print, want %v\n%s", name, got, err, want, printed)
			}
		}
	}
}

func TestQuote(t *testing.T) {
	tests := []struct {
		in     string
		utf8ok bool
		want   string
	}{
		{"plain", true, `"plain"`},
		{"a\"b\\c'd", true, `"a\"b\\c\'d"`},
		{"\n\r\t\x00\x7f", true, `"\n\r\t\000\177"`},
		{"héllo", true, `"héllo"`},
		{"héllo", false, `"h\303\251llo"`},
		{"\xff", true, `"\377"`},
	}
	for _, tt := range tests {
		if got := quote(tt.in, tt.utf8ok); got != tt.want {
			t.Errorf("quote(%q, %v) = %s, want %s", tt.in, tt.utf8ok, got, tt.want)
		}
	}
}

func TestJSONCamelCase(t *testing.T) {
	for in, want := range map[string]string{
		"foo": "foo", "foo_bar": "fooBar", "foo__bar": "fooBar", "_foo": "Foo",
		"foo_": "foo", "foo_1bar": "foo1bar", "FooBar": "FooBar", "a_b_c": "aBC",
	} {
		if got := jsonCamelCase(in); got != want {
			t.Errorf("jsonCamelCase(%q) = %q, want %q", in, got, want)
		}
	}
}
