package compat_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/protobuf"
)

// The Protobuf rules through the public API: verdicts per level, the
// transitive history walk, the violation texts (golden), and the cases
// where Confluent, whose verdicts we follow, differs from other tools. The
// rule-by-rule diff tables are in protobuf_internal_test.go.

// protoFile wraps message bodies in a proto3 file of package shop.v1.
func protoFile(body string) string { return "syntax = \"proto3\";\npackage shop.v1;\n" + body }

func protoParse(t testing.TB, text string, refs ...serde.Referenced) *protobuf.Schema {
	t.Helper()
	s, err := protobuf.Parse(text, refs)
	if err != nil {
		t.Fatalf("parse %q: %v", text, err)
	}
	return s
}

func protoHistory(t testing.TB, texts ...string) []compat.Version {
	t.Helper()
	out := make([]compat.Version, len(texts))
	for i, s := range texts {
		out[i] = compat.Version{Number: i + 1, Schema: protoParse(t, s)}
	}
	return out
}

func protoSummary(vs []compat.Violation) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		out = append(out, fmt.Sprintf("v%d %s %s %s", v.Version, v.Direction, v.Kind, v.Path))
	}
	return out
}

// protoEvolution is one change from an old schema to a new one.
type protoEvolution struct {
	name     string
	old, new string
	// ok lists the levels under which new may follow old (NONE is implied).
	ok []compat.Level
}

var (
	protoAllLevels      = []compat.Level{compat.Backward, compat.BackwardTransitive, compat.Forward, compat.ForwardTransitive, compat.Full, compat.FullTransitive}
	protoBackwardLevels = []compat.Level{compat.Backward, compat.BackwardTransitive}
	protoForwardLevels  = []compat.Level{compat.Forward, compat.ForwardTransitive}
)

var protoEvolutions = []protoEvolution{
	{name: "field added", old: protoFile(`message Order { string id = 1; }`),
		new: protoFile(`message Order { string id = 1; int64 total = 2; }`), ok: protoAllLevels},
	{name: "field removed", old: protoFile(`message Order { string id = 1; int64 total = 2; }`),
		new: protoFile(`message Order { string id = 1; }`), ok: protoAllLevels},
	{name: "field renamed", old: protoFile(`message Order { string id = 1; }`),
		new: protoFile(`message Order { string order_id = 1; }`), ok: protoAllLevels},
	{name: "int32 to int64", old: protoFile(`message Order { int32 qty = 1; }`),
		new: protoFile(`message Order { int64 qty = 1; }`), ok: protoAllLevels},
	{name: "uint64 to bool", old: protoFile(`message Order { uint64 qty = 1; }`),
		new: protoFile(`message Order { bool qty = 1; }`), ok: protoAllLevels},
	{name: "sint32 to sint64", old: protoFile(`message Order { sint32 qty = 1; }`),
		new: protoFile(`message Order { sint64 qty = 1; }`), ok: protoAllLevels},
	{name: "fixed32 to sfixed32", old: protoFile(`message Order { fixed32 qty = 1; }`),
		new: protoFile(`message Order { sfixed32 qty = 1; }`), ok: protoAllLevels},
	{name: "string to bytes", old: protoFile(`message Order { string id = 1; }`),
		new: protoFile(`message Order { bytes id = 1; }`), ok: protoAllLevels},
	{name: "int32 to enum", old: protoFile(`message Order { int32 s = 1; } enum Status { NEW = 0; }`),
		new: protoFile(`message Order { Status s = 1; } enum Status { NEW = 0; }`), ok: protoAllLevels},
	{name: "string to int64", old: protoFile(`message Order { string total = 4; }`),
		new: protoFile(`message Order { int64 total = 4; }`)},
	{name: "int32 to sint32", old: protoFile(`message Order { int32 qty = 1; }`),
		new: protoFile(`message Order { sint32 qty = 1; }`)},
	{name: "float to double", old: protoFile(`message Order { float w = 1; }`),
		new: protoFile(`message Order { double w = 1; }`)},
	{name: "fixed32 to fixed64", old: protoFile(`message Order { fixed32 w = 1; }`),
		new: protoFile(`message Order { fixed64 w = 1; }`)},
	{name: "scalar to message", old: protoFile(`message Order { int64 total = 1; } message Money { int64 units = 1; }`),
		new: protoFile(`message Order { Money total = 1; } message Money { int64 units = 1; }`)},
	{name: "message added", old: protoFile(`message Order { string id = 1; }`),
		new: protoFile(`message Order { string id = 1; } message Line { string sku = 1; }`), ok: protoBackwardLevels},
	{name: "nested message added", old: protoFile(`message Order { string id = 1; }`),
		new: protoFile(`message Order { string id = 1; message Line { string sku = 1; } }`), ok: protoBackwardLevels},
	{name: "message removed", old: protoFile(`message Order { string id = 1; } message Line { string sku = 1; }`),
		new: protoFile(`message Order { string id = 1; }`), ok: protoForwardLevels},
	{name: "message renamed", old: protoFile(`message Order { string id = 1; }`),
		new: protoFile(`message Purchase { string id = 1; }`)},
	{name: "enum added", old: protoFile(`message Order { string id = 1; }`),
		new: protoFile(`message Order { string id = 1; } enum Status { NEW = 0; }`), ok: protoAllLevels},
	{name: "enum removed", old: protoFile(`message Order { string id = 1; } enum Status { NEW = 0; }`),
		new: protoFile(`message Order { string id = 1; }`), ok: protoAllLevels},
	{name: "enum value added and renamed", old: protoFile(`enum Status { NEW = 0; PAID = 1; }`),
		new: protoFile(`enum Status { NEW = 0; SETTLED = 1; SHIPPED = 2; }`), ok: protoAllLevels},
	{name: "package changed", old: protoFile(`message Order { string id = 1; }`),
		new: `syntax = "proto3"; package shop.v2; message Order { string id = 1; }`},
	{name: "required field added", old: `syntax = "proto2"; message Order { optional string id = 1; }`,
		new: `syntax = "proto2"; message Order { optional string id = 1; required string sku = 2; }`},
	{name: "optional int32 to repeated", old: protoFile(`message Order { optional int32 qty = 1; }`),
		new: protoFile(`message Order { repeated int32 qty = 1; }`)},
	{name: "optional string to repeated", old: protoFile(`message Order { optional string tag = 1; }`),
		new: protoFile(`message Order { repeated string tag = 1; }`), ok: protoAllLevels},
	{name: "map field removed", old: protoFile(`message Order { string id = 1; map<string, int32> qty = 2; }`),
		new: protoFile(`message Order { string id = 1; }`), ok: protoAllLevels},
	{name: "map value int32 to string", old: protoFile(`message Order { map<string, int32> qty = 2; }`),
		new: protoFile(`message Order { map<string, string> qty = 2; }`)},
	{name: "oneof field added", old: protoFile(`message Order { oneof pay { string card = 1; } }`),
		new: protoFile(`message Order { oneof pay { string card = 1; string iban = 2; } }`), ok: protoBackwardLevels},
	{name: "oneof field removed", old: protoFile(`message Order { oneof pay { string card = 1; string iban = 2; } }`),
		new: protoFile(`message Order { oneof pay { string card = 1; } }`), ok: protoForwardLevels},
	{name: "oneof renamed", old: protoFile(`message Order { oneof pay { string card = 1; string iban = 2; } }`),
		new: protoFile(`message Order { oneof payment { string card = 1; string iban = 2; } }`), ok: protoAllLevels},
	{name: "one field into a new oneof", old: protoFile(`message Order { string card = 1; }`),
		new: protoFile(`message Order { oneof pay { string card = 1; } }`), ok: protoAllLevels},
	{name: "two fields into a new oneof", old: protoFile(`message Order { string card = 1; string iban = 2; }`),
		new: protoFile(`message Order { oneof pay { string card = 1; string iban = 2; } }`), ok: protoForwardLevels},
	{name: "field into an existing oneof", old: protoFile(`message Order { string note = 3; oneof pay { string card = 1; string iban = 2; } }`),
		new: protoFile(`message Order { oneof pay { string card = 1; string iban = 2; string note = 3; } }`), ok: protoForwardLevels},
	{name: "field out of a oneof", old: protoFile(`message Order { oneof pay { string card = 1; string iban = 2; } }`),
		new: protoFile(`message Order { string card = 1; oneof pay { string iban = 2; } }`), ok: protoBackwardLevels},
	{name: "referenced message changed incompatibly", old: protoFile(`message Order { Money total = 1; } message Money { int64 units = 1; }`),
		new: protoFile(`message Order { Money total = 1; } message Money { double units = 1; }`)},
}

// TestProtoLevels checks every evolution under every level, with the old
// schema as the only version.
func TestProtoLevels(t *testing.T) {
	t.Parallel()
	for _, ev := range protoEvolutions {
		t.Run(ev.name, func(t *testing.T) {
			hist := protoHistory(t, ev.old)
			cand := protoParse(t, ev.new)
			for _, level := range compat.Levels {
				vs, err := compat.Check(level, cand, hist)
				if err != nil {
					t.Fatalf("%s: %v", level, err)
				}
				want := level == compat.None || slices.Contains(ev.ok, level)
				if got := len(vs) == 0; got != want {
					t.Errorf("%s: compatible = %v, want %v; violations %q", level, got, want, protoSummary(vs))
				}
				for _, v := range vs {
					if v.Version != 1 || v.Kind == "" || v.Path == "" || v.Message == "" {
						t.Errorf("%s: incomplete violation %+v", level, v)
					}
					if v.Direction == "backward" && !level.Backward() || v.Direction == "forward" && !level.Forward() {
						t.Errorf("%s: violation in direction %q", level, v.Direction)
					}
				}
			}
		})
	}
}

// TestProtoTransitive: a field removed in v2 comes back in the candidate
// with another type. Against the latest version that is just an added
// field; against v1 it is a type change, which only the transitive levels
// see, and they report it against version 1.
func TestProtoTransitive(t *testing.T) {
	hist := protoHistory(t,
		protoFile(`message Order { string id = 1; string note = 2; }`),
		protoFile(`message Order { string id = 1; }`),
		protoFile(`message Order { string id = 1; int64 total = 3; }`),
	)
	cand := protoParse(t, protoFile(`message Order { string id = 1; int64 note = 2; int64 total = 3; }`))
	cases := []struct {
		level compat.Level
		want  []string
	}{
		{compat.Backward, nil},
		{compat.Forward, nil},
		{compat.Full, nil},
		{compat.BackwardTransitive, []string{"v1 backward FIELD_SCALAR_KIND_CHANGED shop.v1.Order.note (field 2)"}},
		{compat.ForwardTransitive, []string{"v1 forward FIELD_SCALAR_KIND_CHANGED shop.v1.Order.note (field 2)"}},
		{compat.FullTransitive, []string{
			"v1 backward FIELD_SCALAR_KIND_CHANGED shop.v1.Order.note (field 2)",
			"v1 forward FIELD_SCALAR_KIND_CHANGED shop.v1.Order.note (field 2)",
		}},
	}
	for _, tc := range cases {
		vs, err := compat.Check(tc.level, cand, hist)
		if err != nil {
			t.Fatalf("%s: %v", tc.level, err)
		}
		if got := protoSummary(vs); !slices.Equal(got, tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.level, got, tc.want)
		}
	}

	// Newest first: when several versions fail, the newest failing one is
	// reported, here v3 (which has total as int64) against a string total.
	bad := protoParse(t, protoFile(`message Order { string id = 1; string total = 3; }`))
	vs, err := compat.Check(compat.BackwardTransitive, bad, hist)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := protoSummary(vs), []string{"v3 backward FIELD_SCALAR_KIND_CHANGED shop.v1.Order.total (field 3)"}; !slices.Equal(got, want) {
		t.Errorf("newest failing version:\n got %q\nwant %q", got, want)
	}
}

// TestProtoReadsAnswers: the Protobuf placeholder is gone; Reads gives a
// verdict for any two Protobuf schemas, and a mixed pair is a violation,
// not an error.
func TestProtoReadsAnswers(t *testing.T) {
	a := protoParse(t, protoFile(`message Order { string id = 1; }`))
	b := protoParse(t, protoFile(`message Order { int64 id = 1; }`))
	vs, err := compat.Reads(a, b)
	if errors.Is(err, compat.ErrNotSupported) || err != nil {
		t.Fatalf("Reads: %v", err)
	}
	if got := protoSummary(vs); !slices.Equal(got, []string{"v0  FIELD_SCALAR_KIND_CHANGED shop.v1.Order.id (field 1)"}) {
		t.Errorf("Reads = %q", got)
	}
	if vs, err := compat.Reads(a, a); err != nil || len(vs) != 0 {
		t.Errorf("Reads(a, a) = %v, %v", vs, err)
	}
}

// TestProtoImportsThroughReferences: imported messages are compared through
// their resolved definitions; the import path and reference name do not
// matter, the definitions do.
func TestProtoImportsThroughReferences(t *testing.T) {
	money := serde.Referenced{Name: "money.proto", Text: `syntax = "proto3"; package money.v1; message Money { int64 units = 1; int32 nanos = 2; }`}
	moneyCompatible := serde.Referenced{Name: "money/v2.proto", Text: `syntax = "proto3"; package money.v1; message Money { int64 units = 1; int32 nanos = 2; string currency = 3; }`}
	moneyBroken := serde.Referenced{Name: "money.proto", Text: `syntax = "proto3"; package money.v1; message Money { string units = 1; int32 nanos = 2; }`}
	order := func(path string) string {
		return protoFile(`import "` + path + `"; message Order { money.v1.Money total = 4; }`)
	}
	old := protoParse(t, order("money.proto"), money)
	hist := []compat.Version{{Number: 1, Schema: old}}

	ok := protoParse(t, order("money/v2.proto"), moneyCompatible)
	if vs, err := compat.Check(compat.Full, ok, hist); err != nil || len(vs) != 0 {
		t.Errorf("compatible import: %q, %v", protoSummary(vs), err)
	}
	broken := protoParse(t, order("money.proto"), moneyBroken)
	vs, err := compat.Check(compat.Backward, broken, hist)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"v1 backward FIELD_SCALAR_KIND_CHANGED money.v1.Money.units (field 1)",
		"v1 backward FIELD_NAMED_TYPE_CHANGED shop.v1.Order.total (field 4)",
	}
	if got := protoSummary(vs); !slices.Equal(got, want) {
		t.Errorf("broken import:\n got %q\nwant %q", got, want)
	}
}

// TestProtoFollowsConfluent collects the cases where another
// implementation gives another verdict than Confluent's checker, which we
// follow (spec/registry-api.md §12). Each case names the other tool and
// its rule; backward and forward are the verdicts we give.
func TestProtoFollowsConfluent(t *testing.T) {
	cases := []struct {
		name              string
		old, new          string
		backward, forward bool
	}{
		{name: "package change is incompatible (Karapace: compatible)",
			old: protoFile(`message Order { string id = 1; }`), new: `syntax = "proto3"; package shop.v2; message Order { string id = 1; }`},
		{name: "field removed without reserving it is compatible (Apicurio: removed fields must be reserved; buf breaking: FIELD_NO_DELETE)",
			old: protoFile(`message Order { string id = 1; string note = 2; }`), new: protoFile(`message Order { string id = 1; }`),
			backward: true, forward: true},
		{name: "reusing a reserved number is compatible (buf breaking: FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED history; Confluent checks it only under LOGICAL)",
			old: protoFile(`message Order { reserved 2; reserved "note"; string id = 1; }`), new: protoFile(`message Order { string id = 1; int64 note = 2; }`),
			backward: true, forward: true},
		{name: "removing a reserved range is compatible (buf breaking: RESERVED_MESSAGE_NO_DELETE)",
			old: protoFile(`message Order { reserved 2 to 5; string id = 1; }`), new: protoFile(`message Order { string id = 1; }`),
			backward: true, forward: true},
		{name: "int64 to int32 is compatible both ways (buf breaking FILE: FIELD_SAME_TYPE)",
			old: protoFile(`message Order { int64 qty = 1; }`), new: protoFile(`message Order { int32 qty = 1; }`),
			backward: true, forward: true},
		{name: "field renamed is compatible (buf breaking FILE, WIRE_JSON: FIELD_SAME_NAME)",
			old: protoFile(`message Order { string id = 1; }`), new: protoFile(`message Order { string order_id = 1; }`),
			backward: true, forward: true},
		{name: "enum value removed is compatible (buf breaking: ENUM_VALUE_NO_DELETE)",
			old: protoFile(`enum Status { NEW = 0; PAID = 1; }`), new: protoFile(`enum Status { NEW = 0; }`),
			backward: true, forward: true},
		{name: "enum removed is compatible (buf breaking: ENUM_NO_DELETE)",
			old: protoFile(`message Order { string id = 1; } enum Status { NEW = 0; }`), new: protoFile(`message Order { string id = 1; }`),
			backward: true, forward: true},
		{name: "syntax change is not compared (buf breaking: FILE_SAME_SYNTAX)",
			old: `syntax = "proto2"; package shop.v1; message Order { optional int32 qty = 1; }`, new: protoFile(`message Order { int32 qty = 1; }`),
			backward: true, forward: true},
		{name: "option change is not compared (buf breaking: FILE_SAME_GO_PACKAGE and friends)",
			old: protoFile(`option go_package = "a/b"; message Order { int32 qty = 1; }`), new: protoFile(`option go_package = "c/d"; message Order { int32 qty = 1 [packed = false]; }`),
			backward: true, forward: true},
		{name: "one field moved into a new oneof is compatible (buf breaking: FIELD_SAME_ONEOF)",
			old: protoFile(`message Order { string card = 1; }`), new: protoFile(`message Order { oneof pay { string card = 1; } }`),
			backward: true, forward: true},
		{name: "proto3 implicit number to repeated is not compared (buf breaking: FIELD_SAME_CARDINALITY)",
			old: protoFile(`message Order { int32 qty = 1; }`), new: protoFile(`message Order { repeated int32 qty = 1; }`),
			backward: true, forward: true},
		{name: "map field removal is a plain FIELD_REMOVED (Redpanda 24-26: MESSAGE_REMOVED, bug #30374)",
			old: protoFile(`message Order { string id = 1; map<string, int32> qty = 2; }`), new: protoFile(`message Order { string id = 1; }`),
			backward: true, forward: true},
		{name: "map to repeated entry message is incompatible although wire-compatible (protobuf language guide: maps are repeated entries)",
			old: protoFile(`message Order { map<string, int32> qty = 2; message Entry { string key = 1; int32 value = 2; } }`),
			new: protoFile(`message Order { repeated Entry qty = 2; message Entry { string key = 1; int32 value = 2; } }`)},
		{name: "message renamed with identical structure is incompatible (buf breaking WIRE: compatible)",
			old: protoFile(`message Order { Money total = 1; } message Money { int64 units = 1; }`),
			new: protoFile(`message Order { Price total = 1; } message Price { int64 units = 1; }`)},
		{name: "proto2 groups are not compared (Confluent's parser keeps groups out of the diff)",
			old:      `syntax = "proto2"; package shop.v1; message Order { optional group Line = 1 { optional int32 qty = 2; } }`,
			new:      `syntax = "proto2"; package shop.v1; message Order { optional group Line = 1 { optional string qty = 2; } }`,
			backward: true, forward: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old, cand := protoParse(t, tc.old), protoParse(t, tc.new)
			hist := []compat.Version{{Number: 1, Schema: old}}
			for _, dir := range []struct {
				level compat.Level
				want  bool
			}{{compat.Backward, tc.backward}, {compat.Forward, tc.forward}} {
				vs, err := compat.Check(dir.level, cand, hist)
				if err != nil {
					t.Fatal(err)
				}
				if got := len(vs) == 0; got != dir.want {
					t.Errorf("%s: compatible = %v, want %v; violations %q", dir.level, got, dir.want, protoSummary(vs))
				}
			}
		})
	}
}

// TestProtoViolationsGolden pins the violation texts users see: every
// violation of each evolution under FULL, one per line.
func TestProtoViolationsGolden(t *testing.T) {
	cases := []struct{ name, old, new string }{
		{"type change", protoFile(`message Order { string id = 1; string total = 4; }`), protoFile(`message Order { string id = 1; int64 total = 4; }`)},
		{"kind change", protoFile(`message Order { int64 total = 4; } message Money { int64 units = 1; }`),
			protoFile(`message Order { Money total = 4; } message Money { int64 units = 1; }`)},
		{"enum to string", protoFile(`message Order { Status s = 1; } enum Status { NEW = 0; }`), protoFile(`message Order { string s = 1; } enum Status { NEW = 0; }`)},
		{"message type renamed", protoFile(`message Order { Money total = 4; } message Money { int64 units = 1; }`),
			protoFile(`message Order { Price total = 4; } message Price { int64 units = 1; }`)},
		{"referenced message changed", protoFile(`message Order { Money total = 4; } message Money { int64 units = 1; }`),
			protoFile(`message Order { Money total = 4; } message Money { float units = 1; }`)},
		{"map value", protoFile(`message Order { map<string, int32> qty = 2; }`), protoFile(`message Order { map<int64, string> qty = 2; }`)},
		{"labels", protoFile(`message Order { optional int32 qty = 1; optional string tag = 2; }`),
			protoFile(`message Order { repeated int32 qty = 1; repeated string tag = 2; }`)},
		{"proto2 required", `syntax = "proto2"; package shop.v1; message Order { optional string id = 1; required int32 qty = 2; }`,
			`syntax = "proto2"; package shop.v1; message Order { optional string id = 1; required string sku = 3; }`},
		{"package", protoFile(`message Order { string id = 1; }`), `syntax = "proto3"; message Order { string id = 1; }`},
		{"nested message removed", protoFile(`message Order { message Line { string sku = 1; } }`), protoFile(`message Order { }`)},
		{"oneof members", protoFile(`message Order { string note = 4; oneof pay { string card = 1; string iban = 2; int32 voucher = 3; } }`),
			protoFile(`message Order { oneof pay { string card = 1; string iban = 2; string note = 4; } }`)},
		{"fields into a new oneof", protoFile(`message Order { string card = 1; string iban = 2; }`),
			protoFile(`message Order { oneof pay { string card = 1; string iban = 2; } }`)},
		{"oneofs merged", protoFile(`message Order { oneof a { string x = 1; } oneof b { string y = 2; } }`),
			protoFile(`message Order { oneof a { string x = 1; string y = 2; } }`)},
	}
	var b strings.Builder
	for _, tc := range cases {
		vs, err := compat.Pair(compat.Full, protoParse(t, tc.new), protoParse(t, tc.old))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(vs) == 0 {
			t.Errorf("%s: no violations", tc.name)
		}
		fmt.Fprintf(&b, "# %s\n", tc.name)
		for _, v := range vs {
			fmt.Fprintf(&b, "%s %s: %s\n", v.Direction, v.Kind, v)
		}
	}
	protoGolden(t, "violations.golden", b.String())
}

// protoGolden compares got with testdata/protobuf/name, rewriting it under
// -update (the flag the package's tests share).
func protoGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "protobuf", name)
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s is missing: run go test -run %s -update", path, t.Name())
	}
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run go test -run %s -update and review the diff):\n--- want\n%s\n--- got\n%s", path, t.Name(), want, got)
	}
}

// FuzzProtoReads checks the diff's invariants on arbitrary pairs of
// schemas that parse: no error, no panic, the same answer twice, nothing
// between a schema and itself or its stored form, and every violation
// complete and of an incompatible kind.
func FuzzProtoReads(f *testing.F) {
	for _, ev := range protoEvolutions {
		f.Add(ev.old, ev.new)
	}
	incompatible := []string{
		"PACKAGE_CHANGED", "MESSAGE_REMOVED", "FIELD_KIND_CHANGED", "FIELD_SCALAR_KIND_CHANGED",
		"FIELD_NAMED_TYPE_CHANGED", "FIELD_NUMERIC_LABEL_CHANGED", "REQUIRED_FIELD_ADDED", "REQUIRED_FIELD_REMOVED",
		"ONEOF_FIELD_REMOVED", "MULTIPLE_FIELDS_MOVED_TO_ONEOF", "FIELD_MOVED_TO_EXISTING_ONEOF",
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		sa, err := protobuf.Parse(a, nil)
		if err != nil {
			return
		}
		sb, err := protobuf.Parse(b, nil)
		if err != nil {
			return
		}
		vs, err := compat.Reads(sa, sb)
		if err != nil {
			t.Fatalf("Reads: %v", err)
		}
		again, _ := compat.Reads(sa, sb)
		if !slices.Equal(vs, again) {
			t.Fatalf("two answers: %v and %v", vs, again)
		}
		for _, v := range vs {
			if !slices.Contains(incompatible, v.Kind) || v.Path == "" || v.Message == "" {
				t.Fatalf("bad violation %+v", v)
			}
		}
		stored, err := protobuf.Parse(sa.Canonical(), nil)
		if err != nil {
			t.Fatalf("canonical form does not parse: %v", err)
		}
		for _, pair := range [][2]*protobuf.Schema{{sa, sa}, {sa, stored}, {stored, sa}} {
			if vs, err := compat.Reads(pair[0], pair[1]); err != nil || len(vs) > 0 {
				t.Fatalf("schema against itself: %v, %v", vs, err)
			}
		}
	})
}

// Example_protobuf checks a candidate Protobuf schema against a subject's
// history, as `sluice schema check` does without a server.
func Example_protobuf() {
	v1, _ := protobuf.Parse(`syntax = "proto3"; package shop.v1;
message Order { string id = 1; string total = 4; }`, nil)
	candidate, _ := protobuf.Parse(`syntax = "proto3"; package shop.v1;
message Order { string id = 1; int64 total = 4; string note = 5; }`, nil)
	vs, err := compat.Check(compat.Backward, candidate, []compat.Version{{Number: 1, Schema: v1}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, v := range vs {
		fmt.Printf("version %d: %s [%s]\n", v.Version, v, v.Kind)
	}
	// Output:
	// version 1: shop.v1.Order.total (field 4): type changed from string to int64 [FIELD_SCALAR_KIND_CHANGED]
}
