package protobuf

import (
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile/linker"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/sluicehq/sluice/internal/golden"
	"github.com/sluicehq/sluice/serde"
)

var (
	moneyRef = serde.Referenced{Name: "shop/v1/money.proto", Text: `syntax = "proto3";
package shop.v1;
message Money { string currency = 1; int64 units = 2; }`}
	lineRef = serde.Referenced{Name: "shop/v1/line.proto", Text: `syntax = "proto3";
package shop.v1;
import public "shop/v1/money.proto";
message Line { string sku = 1; Money price = 2; }`}
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		name     string
		text     string
		refs     []serde.Referenced
		wantName string
		wantDeps []string
	}{
		{"proto3 minimal", `syntax = "proto3"; message A { int32 x = 1; }`, nil, "A", nil},
		{"proto2 without syntax line", `message A { optional int32 x = 1; required string y = 2; }`, nil, "A", nil},
		{"proto2", `syntax = "proto2"; package p; message A { repeated int32 x = 1; }`, nil, "p.A", nil},
		{"editions", `edition = "2023"; package e; message A { int32 x = 1; }`, nil, "e.A", nil},
		{"enums only", `syntax = "proto3"; enum E { E_UNSPECIFIED = 0; }`, nil, "", nil},
		{"wkt", `syntax = "proto3"; import "google/protobuf/timestamp.proto"; import "google/protobuf/struct.proto";
			message A { google.protobuf.Timestamp t = 1; google.protobuf.Struct s = 2; }`, nil,
			"A", []string{"google/protobuf/timestamp.proto", "google/protobuf/struct.proto"}},
		{"google type", `syntax = "proto3"; import "google/type/money.proto"; import "google/type/datetime.proto";
			message A { google.type.Money m = 1; google.type.DateTime d = 2; }`, nil,
			"A", []string{"google/type/money.proto", "google/type/datetime.proto"}},
		{"confluent", `syntax = "proto3"; package p; import "confluent/meta.proto"; import "confluent/type/decimal.proto";
			message A { confluent.type.Decimal d = 1 [(confluent.field_meta) = { doc: "amount", params: { key: "precision", value: "10" } }]; }`, nil,
			"p.A", []string{"confluent/meta.proto", "confluent/type/decimal.proto"}},
		{"direct reference", `syntax = "proto3"; package shop.v1; import "shop/v1/money.proto";
			message Order { Money total = 1; }`, []serde.Referenced{moneyRef}, "shop.v1.Order", []string{"shop/v1/money.proto"}},
		{"transitive reference via public import", `syntax = "proto3"; package shop.v1; import "shop/v1/line.proto";
			message Order { repeated Line lines = 1; Money total = 2; }`, []serde.Referenced{moneyRef, lineRef},
			"shop.v1.Order", []string{"shop/v1/line.proto"}},
		{"reference named like the main file", `syntax = "proto3"; import "schema.proto"; message B { A a = 1; }`,
			[]serde.Referenced{{Name: "schema.proto", Text: `syntax = "proto3"; message A {}`}}, "B", []string{"schema.proto"}},
		{"reference replaces a bundled google/type file", `syntax = "proto3"; import "google/type/money.proto";
			message A { google.type.Money m = 1; google.type.Extra e = 2; }`,
			[]serde.Referenced{{Name: "google/type/money.proto", Text: `syntax = "proto3"; package google.type;
			message Money { string currency_code = 1; int64 units = 2; int32 nanos = 3; } message Extra {}`}},
			"A", []string{"google/type/money.proto"}},
		{"unused reference", `syntax = "proto3"; message A {}`, []serde.Referenced{moneyRef}, "A", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.text, tt.refs)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if s.Format() != serde.Protobuf {
				t.Errorf("Format() = %v", s.Format())
			}
			if got := s.Name(); got != tt.wantName {
				t.Errorf("Name() = %q, want %q", got, tt.wantName)
			}
			if diff := cmp.Diff(tt.wantDeps, s.Dependencies()); diff != "" {
				t.Errorf("Dependencies() (-want +got):\n%s", diff)
			}
			// The stored forms re-parse with the same references.
			for _, printed := range []string{s.Canonical(), s.Normalized()} {
				if _, err := Parse(printed, tt.refs); err != nil {
					t.Errorf("printed form does not re-parse: %v\n%s", err, printed)
				}
			}
		})
	}
}

// TestParseBinary: a base64 FileDescriptorProto is accepted and stored as
// the same canonical text as the source it was compiled from.
func TestParseBinary(t *testing.T) {
	files := corpus(t)
	for _, name := range sortedKeys(files) {
		t.Run(name, func(t *testing.T) {
			src := mustParse(t, files[name])
			fdp := src.File().(linker.Result).FileDescriptorProto()
			b, err := proto.Marshal(fdp)
			if err != nil {
				// Invalid UTF-8 in proto3 string options has no binary form.
				t.Skipf("no binary form: %v", err)
			}
			for _, enc := range []string{
				base64.StdEncoding.EncodeToString(b),
				"\n" + wrap(base64.StdEncoding.EncodeToString(b), 76) + "\n",
			} {
				s, err := Parse(enc, nil)
				if name == "messageset_proto2.proto" {
					// The runtime's descriptor builder, which vets binary
					// input, refuses MessageSets unless built with protolegacy.
					if err == nil || !strings.Contains(err.Error(), "MessageSet") {
						t.Errorf("Parse(base64) of a MessageSet = %v, want the MessageSet refusal", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Parse(base64): %v", err)
				}
				if s.Canonical() != src.Canonical() {
					t.Errorf("binary input canonical:\n%s\nwant\n%s", s.Canonical(), src.Canonical())
				}
			}
		})
	}
}

func wrap(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + "\n")
		s = s[n:]
	}
	b.WriteString(s)
	return b.String()
}

// invalidCases are schemas Parse must refuse; their messages are in
// testdata/invalid.golden.
var invalidCases = []struct {
	name string
	text string
	refs []serde.Referenced
}{
	{"empty", "  \n", nil},
	{"syntax error", "syntax = \"proto3\";\nmessage A {\n  int32 x = ;\n}\n", nil},
	{"unknown syntax", `syntax = "proto4"; message A {}`, nil},
	{"unknown edition", `edition = "2099"; message A {}`, nil},
	{"syntax not first", "message A {}\nsyntax = \"proto3\";\n", nil},
	{"required in proto3", "syntax = \"proto3\";\nmessage A {\n  required int32 x = 1;\n}\n", nil},
	{"unlabelled field in proto2", "syntax = \"proto2\";\nmessage A {\n  int32 x = 1;\n}\n", nil},
	{"unlabelled field without syntax", "message A {\n  int32 x = 1;\n}\n", nil},
	{"labelled map", "syntax = \"proto3\";\nmessage A {\n  repeated map<string, int32> m = 1;\n}\n", nil},
	{"duplicate top-level name", "syntax = \"proto3\";\nmessage A {}\nenum A { Z = 0; }\n", nil},
	{"duplicate field name", "syntax = \"proto3\";\nmessage A {\n  int32 x = 1;\n  string x = 2;\n}\n", nil},
	{"duplicate field number", "syntax = \"proto3\";\nmessage A {\n  int32 x = 1;\n  string y = 1;\n}\n", nil},
	{"proto3 enum first value not zero", "syntax = \"proto3\";\nenum E {\n  ONE = 1;\n}\n", nil},
	{"unresolvable type", "syntax = \"proto3\";\nmessage A {\n  Missing m = 1;\n}\n", nil},
	{"unresolvable map value", "syntax = \"proto3\";\nmessage A {\n  map<string, Missing> m = 1;\n}\n", nil},
	{"missing import", "syntax = \"proto3\";\nimport \"shop/v1/money.proto\";\nmessage A {}\n", nil},
	{"error in reference", "syntax = \"proto3\";\nimport \"bad.proto\";\nmessage A {}\n",
		[]serde.Referenced{{Name: "bad.proto", Text: "syntax = \"proto3\";\nmessage B {\n  Nope n = 1;\n}\n"}}},
	{"missing transitive reference", "syntax = \"proto3\";\nimport \"shop/v1/line.proto\";\nmessage A {}\n",
		[]serde.Referenced{lineRef}},
	{"import cycle", "syntax = \"proto3\";\nimport \"a.proto\";\nmessage A {}\n",
		[]serde.Referenced{{Name: "a.proto", Text: `syntax = "proto3"; import "b.proto";`}, {Name: "b.proto", Text: `syntax = "proto3"; import "a.proto";`}}},
	{"field number out of range", "syntax = \"proto3\";\nmessage A {\n  int32 x = 536870912;\n}\n", nil},
	{"reserved field number used", "syntax = \"proto3\";\nmessage A {\n  reserved 1;\n  int32 x = 1;\n}\n", nil},
	{"several errors", "syntax = \"proto3\";\nmessage A {\n  Missing m = 1;\n  Other o = 1;\n}\n", nil},
	{"protocompile defect", "syntax = \"proto3\";\nimport \"confluent/meta.proto\";\noption (confluent.file_meta) = { Tags: \"a\" };\n", nil},
	{"reference without name", `syntax = "proto3"; message A {}`, []serde.Referenced{{Text: "x"}}},
	{"reference listed twice", `syntax = "proto3"; message A {}`, []serde.Referenced{moneyRef, moneyRef}},
	{"base64 that is not a descriptor", base64.StdEncoding.EncodeToString([]byte{0xff, 0xff, 0xff, 0xff}), nil},
	{"binary descriptor with unresolvable type", base64.StdEncoding.EncodeToString(mustMarshalBadDescriptor()), nil},
}

// mustMarshalBadDescriptor returns a serialized FileDescriptorProto whose
// field refers to a message that the file no longer declares.
func mustMarshalBadDescriptor() []byte {
	s, err := Parse(`syntax = "proto3"; package p; message A { B b = 1; } message B {}`, nil)
	if err != nil {
		panic(err)
	}
	fdp := proto.Clone(s.File().(linker.Result).FileDescriptorProto()).(*descriptorpb.FileDescriptorProto)
	fdp.MessageType = fdp.MessageType[:1]
	b, err := proto.Marshal(fdp)
	if err != nil {
		panic(err)
	}
	return b
}

func TestParseInvalid(t *testing.T) {
	var out strings.Builder
	for _, tt := range invalidCases {
		s, err := Parse(tt.text, tt.refs)
		if err == nil {
			t.Errorf("%s: Parse accepted it:\n%s", tt.name, s.Canonical())
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%s: error %v (%T) is not a *ParseError", tt.name, err, err)
		}
		if errors.Is(err, errInternal) {
			t.Errorf("%s: internal error: %v", tt.name, err)
		}
		fmt.Fprintf(&out, "== %s\n%v\n", tt.name, err)
	}
	golden.Check(t, filepath.Join("testdata", "invalid.golden"), out.String())
}

// TestParseErrorPositions pins the structured fields of a few errors, so
// that callers can rely on more than the message text.
func TestParseErrorPositions(t *testing.T) {
	tests := []struct {
		name string
		want ParseError
	}{
		{"required in proto3", ParseError{Line: 3, Col: 3}},
		{"missing import", ParseError{Line: 2, Col: 8}},
		{"error in reference", ParseError{File: "bad.proto", Line: 3, Col: 3}},
		{"empty", ParseError{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var text string
			var refs []serde.Referenced
			for _, c := range invalidCases {
				if c.name == tt.name {
					text, refs = c.text, c.refs
				}
			}
			_, err := Parse(text, refs)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			if pe.File != tt.want.File || pe.Line != tt.want.Line || pe.Col != tt.want.Col {
				t.Errorf("got %q %d:%d, want %q %d:%d (%v)", pe.File, pe.Line, pe.Col, tt.want.File, tt.want.Line, tt.want.Col, err)
			}
			if pe.Reason == "" {
				t.Error("empty Reason")
			}
		})
	}
}

// TestParseSeveralErrors: every problem is reported, not only the first.
func TestParseSeveralErrors(t *testing.T) {
	_, err := Parse("syntax = \"proto3\";\nmessage A {\n  Missing m = 1;\n  Other o = 2;\n}\n", nil)
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok || len(joined.Unwrap()) != 2 {
		t.Fatalf("want two joined errors, got %v", err)
	}
	for i, e := range joined.Unwrap() {
		var pe *ParseError
		if !errors.As(e, &pe) || pe.Line != 3+i {
			t.Errorf("error %d: %v, want a *ParseError on line %d", i, e, 3+i)
		}
	}
}

// TestDiffDetects keeps the round-trip test honest: the descriptor
// comparison it relies on does see a change of meaning.
func TestDiffDetects(t *testing.T) {
	a := mustParse(t, `syntax = "proto3"; message A { int32 x = 1 [deprecated = true]; }`)
	for _, text := range []string{
		`syntax = "proto3"; message A { int32 x = 1; }`,
		`syntax = "proto3"; message A { int64 x = 1 [deprecated = true]; }`,
		`syntax = "proto3"; message A { optional int32 x = 1 [deprecated = true]; }`,
	} {
		if diffDescriptors(t, a, mustParse(t, text)) == "" {
			t.Errorf("no difference found with %s", text)
		}
	}
	if d := diffDescriptors(t, a, mustParse(t, a.Canonical())); d != "" {
		t.Errorf("difference found with own canonical form:\n%s", d)
	}
}

func TestBundledImports(t *testing.T) {
	got := BundledImports()
	for _, want := range []string{
		"confluent/meta.proto", "confluent/type/decimal.proto", "google/protobuf/timestamp.proto",
		"google/protobuf/descriptor.proto", "google/type/date.proto", "google/type/money.proto",
		"google/type/latlng.proto", "google/type/timeofday.proto", "google/type/decimal.proto",
	} {
		if !slicesContains(got, want) {
			t.Errorf("BundledImports() lacks %s: %v", want, got)
		}
	}
	for _, name := range []string{"google/type/money.proto", "confluent/meta.proto", "google/protobuf/any.proto"} {
		if !IsBundled(name) {
			t.Errorf("IsBundled(%q) = false", name)
		}
	}
	for _, name := range []string{"shop/v1/money.proto", "google/type/nope.proto", "google/protobuf/nope.proto", ""} {
		if IsBundled(name) {
			t.Errorf("IsBundled(%q) = true", name)
		}
	}
	for _, name := range got {
		text := fmt.Sprintf("syntax = \"proto3\";\nimport %q;\n", name)
		if _, err := Parse(text, nil); err != nil {
			t.Errorf("import %s: %v", name, err)
		}
	}
}

func slicesContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestCanonicalCycle checks that an import cycle reads the same whichever
// file of it the compiler reported it from.
func TestCanonicalCycle(t *testing.T) {
	tests := []struct{ reason, want string }{
		{`cycle found in imports: "b.proto" -> "a.proto" -> "b.proto"`, `protobuf: a.proto: cycle found in imports: "a.proto" -> "b.proto" -> "a.proto"`},
		{`cycle found in imports: "a.proto" -> "b.proto" -> "a.proto"`, `protobuf: a.proto: cycle found in imports: "a.proto" -> "b.proto" -> "a.proto"`},
		{`cycle found in imports: "main.proto" -> "c.proto" -> "a.proto" -> "b.proto" -> "c.proto"`, `protobuf: a.proto: cycle found in imports: "a.proto" -> "b.proto" -> "c.proto" -> "a.proto"`},
		{`cycle found in imports: "x.proto" -> "x.proto"`, `protobuf: x.proto: cycle found in imports: "x.proto" -> "x.proto"`},
		{`cycle found in imports: "main.proto" -> "main.proto"`, `protobuf: cycle found in imports: "main.proto" -> "main.proto"`},
	}
	for _, tt := range tests {
		got, ok := canonicalCycle(&ParseError{File: "z.proto", Line: 1, Col: 27, Reason: tt.reason}, "main.proto")
		if !ok || got.Error() != tt.want {
			t.Errorf("canonicalCycle(%s) = %v, %v; want %s", tt.reason, got, ok, tt.want)
		}
	}
	if _, ok := canonicalCycle(&ParseError{Reason: "field A.x: unknown type B"}, "main.proto"); ok {
		t.Error("canonicalCycle took an error that is not a cycle")
	}
}
