package compat

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/protobuf"
)

// The Protobuf diff, rule by rule (spec/registry-api.md §11.2). Each case
// lists every difference protoDiff must find from original to update,
// compatible ones included, as "KIND path" in report order, and whether the
// diff is compatible. The lists follow Confluent's current checker (the
// shape of its diff-schema-examples.json); paths are ours.

type protoDiffCase struct {
	name       string
	original   string
	update     string
	origRefs   []serde.Referenced
	updateRefs []serde.Referenced
	want       []string
	compatible bool
}

// p3 and p2 wrap message bodies in a file header.
func p3(body string) string { return "syntax = \"proto3\";\npackage shop.v1;\n" + body }
func p2(body string) string { return "syntax = \"proto2\";\npackage shop.v1;\n" + body }

var protoPackageCases = []protoDiffCase{
	{name: "package changed", original: p3(`message Order { string id = 1; Line line = 2; } message Line { int32 n = 1; }`),
		update:     `syntax = "proto3"; package shop.v2; message Order { string id = 1; Line line = 2; } message Line { int32 n = 1; }`,
		want:       []string{"PACKAGE_CHANGED package"},
		compatible: false},
	{name: "package added", original: `syntax = "proto3"; message Order { string id = 1; }`,
		update: p3(`message Order { string id = 1; }`), want: []string{"PACKAGE_CHANGED package"}},
	{name: "name qualification is no change", original: p3(`message Order { Status s = 1; message Status { string t = 1; } }`),
		update: p3(`message Order { .shop.v1.Order.Status s = 1; message Status { string t = 1; } }`), compatible: true},
	{name: "name qualification in map is no change", original: p3(`message Order { map<string, Status> s = 1; message Status { string t = 1; } }`),
		update: p3(`message Order { map<string, Order.Status> s = 1; message Status { string t = 1; } }`), compatible: true},
}

var protoMessageCases = []protoDiffCase{
	{name: "message added", original: p3(`message Order { string id = 1; }`),
		update: p3(`message Order { string id = 1; } message Line { int32 n = 1; }`),
		want:   []string{"MESSAGE_ADDED shop.v1.Line"}, compatible: true},
	{name: "message added before is moved", original: p3(`message Order { string id = 1; }`),
		update: p3(`message Line { int32 n = 1; } message Order { string id = 1; }`),
		want:   []string{"MESSAGE_MOVED shop.v1.Order", "MESSAGE_ADDED shop.v1.Line"}, compatible: true},
	{name: "messages reordered", original: p3(`message A { int32 n = 1; } message B { int32 n = 1; }`),
		update: p3(`message B { int32 n = 1; } message A { int32 n = 1; }`),
		want:   []string{"MESSAGE_MOVED shop.v1.A", "MESSAGE_MOVED shop.v1.B"}, compatible: true},
	{name: "message removed", original: p3(`message Order { string id = 1; } message Line { int32 n = 1; }`),
		update: p3(`message Order { string id = 1; }`),
		want:   []string{"MESSAGE_REMOVED shop.v1.Line"}},
	{name: "nested message removed", original: p3(`message Order { string id = 1; message Line { int32 n = 1; message Tax { int32 r = 1; } } }`),
		update: p3(`message Order { string id = 1; message Line { int32 n = 1; } }`),
		want:   []string{"MESSAGE_REMOVED shop.v1.Order.Line.Tax"}},
	{name: "nested message field added", original: p3(`message Order { message Line { int32 n = 1; } }`),
		update: p3(`message Order { message Line { int32 n = 1; string sku = 2; } }`),
		want:   []string{"FIELD_ADDED shop.v1.Order.Line.sku (field 2)"}, compatible: true},
	{name: "message renamed", original: p3(`message Order { string id = 1; }`),
		update: p3(`message Purchase { string id = 1; }`),
		want:   []string{"MESSAGE_REMOVED shop.v1.Order", "MESSAGE_ADDED shop.v1.Purchase"}},
	{name: "nested message moved to top level", original: p3(`message Order { message Line { int32 n = 1; } }`),
		update: p3(`message Order { } message Line { int32 n = 1; }`),
		want:   []string{"MESSAGE_REMOVED shop.v1.Order.Line", "MESSAGE_ADDED shop.v1.Line"}},
	{name: "map entry is not a message", original: p3(`message Order { string id = 1; map<string, int32> tags = 2; }`),
		update: p3(`message Order { string id = 1; }`),
		want:   []string{"FIELD_REMOVED shop.v1.Order.tags (field 2)"}, compatible: true},
	{name: "map field added", original: p3(`message Order { string id = 1; }`),
		update: p3(`message Order { string id = 1; map<string, int32> tags = 2; }`),
		want:   []string{"FIELD_ADDED shop.v1.Order.tags (field 2)"}, compatible: true},
}

var protoEnumCases = []protoDiffCase{
	{name: "enum added", original: p3(`message Order { int32 s = 1; }`),
		update: p3(`message Order { Status s = 1; } enum Status { NEW = 0; PAID = 1; }`),
		want:   []string{"ENUM_ADDED shop.v1.Status"}, compatible: true},
	{name: "enum removed", original: p3(`message Order { Status s = 1; } enum Status { NEW = 0; PAID = 1; }`),
		update: p3(`message Order { int32 s = 1; }`),
		want:   []string{"ENUM_REMOVED shop.v1.Status"}, compatible: true},
	{name: "enum values added, removed, renamed", original: p3(`enum Status { NEW = 0; PAID = 1; SHIPPED = 2; }`),
		update: p3(`enum Status { NEW = 0; SETTLED = 1; CANCELLED = 3; }`),
		want: []string{"ENUM_CONST_CHANGED shop.v1.Status.SETTLED (value 1)", "ENUM_CONST_REMOVED shop.v1.Status.SHIPPED (value 2)",
			"ENUM_CONST_ADDED shop.v1.Status.CANCELLED (value 3)"}, compatible: true},
	{name: "enum renamed, field follows", original: p3(`message Order { Status s = 1; } enum Status { NEW = 0; }`),
		update: p3(`message Order { State s = 1; } enum State { NEW = 0; }`),
		want:   []string{"ENUM_REMOVED shop.v1.Status", "ENUM_ADDED shop.v1.State"}, compatible: true},
	{name: "nested enum removed", original: p3(`message Order { enum Kind { A = 0; } }`), update: p3(`message Order { }`),
		want: []string{"ENUM_REMOVED shop.v1.Order.Kind"}, compatible: true},
	{name: "enum to message of the same name", original: p3(`message Order { Status s = 1; } enum Status { NEW = 0; }`),
		update: p3(`message Order { Status s = 1; } message Status { string t = 1; }`),
		want:   []string{"FIELD_KIND_CHANGED shop.v1.Order.s (field 1)", "MESSAGE_ADDED shop.v1.Status", "ENUM_REMOVED shop.v1.Status"}},
}

var protoFieldCases = []protoDiffCase{
	{name: "field added", original: p3(`message Order { string id = 1; }`), update: p3(`message Order { string id = 1; int64 total = 2; }`),
		want: []string{"FIELD_ADDED shop.v1.Order.total (field 2)"}, compatible: true},
	{name: "field removed", original: p3(`message Order { string id = 1; int64 total = 2; }`), update: p3(`message Order { string id = 1; }`),
		want: []string{"FIELD_REMOVED shop.v1.Order.total (field 2)"}, compatible: true},
	{name: "field renumbered is remove plus add", original: p3(`message Order { string id = 1; }`), update: p3(`message Order { string id = 2; }`),
		want: []string{"FIELD_REMOVED shop.v1.Order.id (field 1)", "FIELD_ADDED shop.v1.Order.id (field 2)"}, compatible: true},
	{name: "field renamed", original: p3(`message Order { string id = 1; }`), update: p3(`message Order { string order_id = 1; }`),
		want: []string{"FIELD_NAME_CHANGED shop.v1.Order.order_id (field 1)"}, compatible: true},
	{name: "field renamed and retyped", original: p3(`message Order { int32 total = 2; }`), update: p3(`message Order { string note = 2; }`),
		want: []string{"FIELD_NAME_CHANGED shop.v1.Order.note (field 2)", "FIELD_SCALAR_KIND_CHANGED shop.v1.Order.note (field 2)"}},
	{name: "required field added", original: p2(`message Order { optional string id = 1; }`),
		update: p2(`message Order { optional string id = 1; required string sku = 2; }`),
		want:   []string{"REQUIRED_FIELD_ADDED shop.v1.Order.sku (field 2)"}},
	{name: "required field removed", original: p2(`message Order { optional string id = 1; required string sku = 2; }`),
		update: p2(`message Order { optional string id = 1; }`),
		want:   []string{"REQUIRED_FIELD_REMOVED shop.v1.Order.sku (field 2)"}},
	{name: "optional field added in proto2", original: p2(`message Order { optional string id = 1; }`),
		update: p2(`message Order { optional string id = 1; optional int32 n = 2; repeated int32 r = 3; }`),
		want:   []string{"FIELD_ADDED shop.v1.Order.n (field 2)", "FIELD_ADDED shop.v1.Order.r (field 3)"}, compatible: true},
	{name: "int32 to enum", original: p3(`message Order { int32 s = 1; } enum Status { NEW = 0; }`),
		update: p3(`message Order { Status s = 1; } enum Status { NEW = 0; }`), compatible: true},
	{name: "enum to other enum", original: p3(`message Order { A s = 1; } enum A { X = 0; } enum B { Y = 0; }`),
		update: p3(`message Order { B s = 1; } enum A { X = 0; } enum B { Y = 0; }`), compatible: true},
	{name: "enum to string", original: p3(`message Order { Status s = 1; } enum Status { NEW = 0; }`),
		update: p3(`message Order { string s = 1; } enum Status { NEW = 0; }`),
		want:   []string{"FIELD_SCALAR_KIND_CHANGED shop.v1.Order.s (field 1)"}},
	{name: "scalar to message", original: p3(`message Order { int32 total = 2; } message Money { int64 units = 1; }`),
		update: p3(`message Order { Money total = 2; } message Money { int64 units = 1; }`),
		want:   []string{"FIELD_KIND_CHANGED shop.v1.Order.total (field 2)"}},
	{name: "scalar to new message", original: p3(`message Order { int32 total = 2; }`),
		update: p3(`message Order { Money total = 2; } message Money { int64 units = 1; }`),
		want:   []string{"FIELD_KIND_CHANGED shop.v1.Order.total (field 2)", "MESSAGE_ADDED shop.v1.Money"}},
	{name: "message to map", original: p3(`message Order { Money m = 2; } message Money { int64 units = 1; }`),
		update: p3(`message Order { map<string, Money> m = 2; } message Money { int64 units = 1; }`),
		want:   []string{"FIELD_KIND_CHANGED shop.v1.Order.m (field 2)"}},
	{name: "map to scalar", original: p3(`message Order { map<string, string> m = 2; }`), update: p3(`message Order { string m = 2; }`),
		want: []string{"FIELD_KIND_CHANGED shop.v1.Order.m (field 2)"}},
	{name: "message type renamed", original: p3(`message Order { Money m = 2; } message Money { int64 units = 1; }`),
		update: p3(`message Order { Price m = 2; } message Price { int64 units = 1; }`),
		want:   []string{"FIELD_NAMED_TYPE_CHANGED shop.v1.Order.m (field 2)", "MESSAGE_REMOVED shop.v1.Money", "MESSAGE_ADDED shop.v1.Price"}},
	{name: "message type points at another existing message", original: p3(`message Order { Money m = 2; } message Money { int64 units = 1; } message Price { int64 units = 1; }`),
		update: p3(`message Order { Price m = 2; } message Money { int64 units = 1; } message Price { int64 units = 1; }`),
		want:   []string{"FIELD_NAMED_TYPE_CHANGED shop.v1.Order.m (field 2)"}},
	{name: "referenced message changed incompatibly", original: p3(`message Order { Money m = 2; } message Money { int64 units = 1; }`),
		update: p3(`message Order { Money m = 2; } message Money { string units = 1; }`),
		want:   []string{"FIELD_SCALAR_KIND_CHANGED shop.v1.Money.units (field 1)", "FIELD_NAMED_TYPE_CHANGED shop.v1.Order.m (field 2)"}},
	{name: "referenced message changed compatibly", original: p3(`message Order { Money m = 2; } message Money { int64 units = 1; }`),
		update: p3(`message Order { Money m = 2; } message Money { int64 units = 1; int32 nanos = 2; }`),
		want:   []string{"FIELD_ADDED shop.v1.Money.nanos (field 2)"}, compatible: true},
	{name: "nested type removed inside referenced message", original: p3(`message Order { Money m = 2; } message Money { message Cur { string c = 1; } }`),
		update: p3(`message Order { Money m = 2; } message Money { }`),
		want:   []string{"MESSAGE_REMOVED shop.v1.Money.Cur", "FIELD_NAMED_TYPE_CHANGED shop.v1.Order.m (field 2)"}},
}

// protoScalarTypes are the scalar keywords with their wire groups (§11.2).
var protoScalarTypes = []struct{ name, group string }{
	{"int32", "varint"}, {"int64", "varint"}, {"uint32", "varint"}, {"uint64", "varint"}, {"bool", "varint"},
	{"sint32", "zigzag"}, {"sint64", "zigzag"},
	{"string", "text"}, {"bytes", "text"},
	{"fixed32", "fixed32"}, {"sfixed32", "fixed32"},
	{"fixed64", "fixed64"}, {"sfixed64", "fixed64"},
	{"float", "float"}, {"double", "double"},
}

// protoScalarCases checks every pair of scalar types, and every scalar
// against an enum: a change inside a group is no difference at all.
func protoScalarCases() []protoDiffCase {
	var out []protoDiffCase
	types := append(slices.Clone(protoScalarTypes), struct{ name, group string }{"Status", "varint"})
	for _, a := range types {
		for _, b := range types {
			if a == b {
				continue
			}
			tc := protoDiffCase{
				name:       a.name + " to " + b.name,
				original:   p3(fmt.Sprintf("message Order { %s v = 1; } enum Status { NEW = 0; }", a.name)),
				update:     p3(fmt.Sprintf("message Order { %s v = 1; } enum Status { NEW = 0; }", b.name)),
				compatible: a.group == b.group,
			}
			if !tc.compatible {
				tc.want = []string{"FIELD_SCALAR_KIND_CHANGED shop.v1.Order.v (field 1)"}
			}
			out = append(out, tc)
		}
	}
	return out
}

var protoLabelCases = []protoDiffCase{
	{name: "proto3 optional int32 to repeated", original: p3(`message M { optional int32 n = 1; }`), update: p3(`message M { repeated int32 n = 1; }`),
		want: []string{"FIELD_NUMERIC_LABEL_CHANGED shop.v1.M.n (field 1)"}},
	{name: "proto3 repeated double to optional", original: p3(`message M { repeated double n = 1; }`), update: p3(`message M { optional double n = 1; }`),
		want: []string{"FIELD_NUMERIC_LABEL_CHANGED shop.v1.M.n (field 1)"}},
	{name: "proto3 optional enum to repeated", original: p3(`message M { optional E n = 1; } enum E { Z = 0; }`), update: p3(`message M { repeated E n = 1; } enum E { Z = 0; }`),
		want: []string{"FIELD_NUMERIC_LABEL_CHANGED shop.v1.M.n (field 1)"}},
	{name: "proto3 implicit int32 to repeated is not compared", original: p3(`message M { int32 n = 1; }`), update: p3(`message M { repeated int32 n = 1; }`),
		compatible: true},
	{name: "proto3 implicit to optional is no change", original: p3(`message M { int32 n = 1; }`), update: p3(`message M { optional int32 n = 1; }`),
		compatible: true},
	{name: "proto3 optional string to repeated", original: p3(`message M { optional string s = 1; }`), update: p3(`message M { repeated string s = 1; }`),
		want: []string{"FIELD_STRING_OR_BYTES_LABEL_CHANGED shop.v1.M.s (field 1)"}, compatible: true},
	{name: "proto3 optional bytes to repeated string", original: p3(`message M { optional bytes s = 1; }`), update: p3(`message M { repeated string s = 1; }`),
		want: []string{"FIELD_STRING_OR_BYTES_LABEL_CHANGED shop.v1.M.s (field 1)"}, compatible: true},
	{name: "proto3 optional message to repeated is ignored", original: p3(`message M { optional N n = 1; } message N { }`), update: p3(`message M { repeated N n = 1; } message N { }`),
		compatible: true},
	{name: "proto2 optional int64 to required", original: p2(`message M { optional int64 n = 1; }`), update: p2(`message M { required int64 n = 1; }`),
		want: []string{"FIELD_NUMERIC_LABEL_CHANGED shop.v1.M.n (field 1)"}},
	{name: "proto2 required fixed32 to repeated", original: p2(`message M { required fixed32 n = 1; }`), update: p2(`message M { repeated fixed32 n = 1; }`),
		want: []string{"FIELD_NUMERIC_LABEL_CHANGED shop.v1.M.n (field 1)"}},
	{name: "proto2 required string to optional", original: p2(`message M { required string s = 1; }`), update: p2(`message M { optional string s = 1; }`),
		want: []string{"FIELD_STRING_OR_BYTES_LABEL_CHANGED shop.v1.M.s (field 1)"}, compatible: true},
	{name: "proto2 required message to repeated is ignored", original: p2(`message M { required N n = 1; } message N { }`), update: p2(`message M { repeated N n = 1; } message N { }`),
		compatible: true},
	{name: "label and group change reports the type only", original: p3(`message M { optional int32 n = 1; }`), update: p3(`message M { repeated string n = 1; }`),
		want: []string{"FIELD_SCALAR_KIND_CHANGED shop.v1.M.n (field 1)"}},
	{name: "proto2 optional into oneof has no label to compare", original: p2(`message M { optional int32 n = 1; }`), update: p2(`message M { oneof o { int32 n = 1; } }`),
		want: []string{"ONEOF_ADDED shop.v1.M.o (oneof)"}, compatible: true},
}

var protoMapCases = []protoDiffCase{
	{name: "map value group changed", original: p3(`message M { map<string, int32> m = 2; }`), update: p3(`message M { map<string, string> m = 2; }`),
		want: []string{"FIELD_SCALAR_KIND_CHANGED shop.v1.M.m (field 2)"}},
	{name: "map value group changed and renamed", original: p3(`message M { map<string, int32> m_int = 2; }`), update: p3(`message M { map<string, string> m_string = 2; }`),
		want: []string{"FIELD_NAME_CHANGED shop.v1.M.m_string (field 2)", "FIELD_SCALAR_KIND_CHANGED shop.v1.M.m_string (field 2)"}},
	{name: "map value within group", original: p3(`message M { map<string, int32> m = 2; }`), update: p3(`message M { map<string, uint64> m = 2; }`),
		compatible: true},
	{name: "map key group changed", original: p3(`message M { map<string, int32> m = 2; }`), update: p3(`message M { map<int64, int32> m = 2; }`),
		want: []string{"FIELD_SCALAR_KIND_CHANGED shop.v1.M.m (field 2)"}},
	{name: "map value scalar to message", original: p3(`message M { map<string, int32> m = 2; } message N { }`), update: p3(`message M { map<string, N> m = 2; } message N { }`),
		want: []string{"FIELD_KIND_CHANGED shop.v1.M.m (field 2)"}},
	{name: "map value message renamed", original: p3(`message M { map<string, N> m = 2; } message N { } message P { }`),
		update: p3(`message M { map<string, P> m = 2; } message N { } message P { }`),
		want:   []string{"FIELD_NAMED_TYPE_CHANGED shop.v1.M.m (field 2)"}},
	{name: "map value message changed incompatibly", original: p3(`message M { map<string, N> m = 2; } message N { int32 x = 1; }`),
		update: p3(`message M { map<string, N> m = 2; } message N { double x = 1; }`),
		want:   []string{"FIELD_SCALAR_KIND_CHANGED shop.v1.N.x (field 1)", "FIELD_NAMED_TYPE_CHANGED shop.v1.M.m (field 2)"}},
	{name: "map to repeated entry message", original: p3(`message M { map<string, int32> m = 2; }`),
		update: p3(`message M { repeated E m = 2; message E { string key = 1; int32 value = 2; } }`),
		want:   []string{"FIELD_KIND_CHANGED shop.v1.M.m (field 2)", "MESSAGE_ADDED shop.v1.M.E"}},
}

var protoOneofCases = []protoDiffCase{
	{name: "field added to oneof", original: p3(`message M { oneof pay { string card = 1; string iban = 2; } }`),
		update: p3(`message M { oneof pay { string card = 1; string iban = 2; int32 voucher = 3; } }`),
		want:   []string{"ONEOF_FIELD_ADDED shop.v1.M.voucher (field 3)"}, compatible: true},
	{name: "field removed from oneof", original: p3(`message M { oneof pay { string card = 1; string iban = 2; int32 voucher = 3; } }`),
		update: p3(`message M { oneof pay { string card = 1; string iban = 2; } }`),
		want:   []string{"ONEOF_FIELD_REMOVED shop.v1.M.voucher (field 3)"}},
	{name: "oneof removed with all its fields", original: p3(`message M { string id = 1; oneof pay { string card = 2; string iban = 3; } }`),
		update: p3(`message M { string id = 1; }`),
		want:   []string{"ONEOF_REMOVED shop.v1.M.pay (oneof)"}, compatible: true},
	{name: "oneof removed, one member kept", original: p3(`message M { oneof pay { string card = 2; string iban = 3; } }`),
		update: p3(`message M { string card = 2; }`),
		want: []string{"ONEOF_REMOVED shop.v1.M.pay (oneof)", "ONEOF_FIELD_MOVED_TO_TOP_LEVEL shop.v1.M.card (field 2)",
			"ONEOF_FIELD_REMOVED shop.v1.M.iban (field 3)"}},
	{name: "oneof renamed", original: p3(`message M { oneof pay { string card = 1; string iban = 2; } }`),
		update: p3(`message M { oneof payment { string card = 1; string iban = 2; } }`),
		want:   []string{"ONEOF_REMOVED shop.v1.M.pay (oneof)", "ONEOF_ADDED shop.v1.M.payment (oneof)"}, compatible: true},
	{name: "type change hidden by oneof rename", original: p3(`message M { oneof pay { string card = 1; string iban = 2; } }`),
		update: p3(`message M { oneof payment { int64 card = 1; string iban = 2; } }`),
		want: []string{"ONEOF_REMOVED shop.v1.M.pay (oneof)", "ONEOF_ADDED shop.v1.M.payment (oneof)",
			"FIELD_SCALAR_KIND_CHANGED shop.v1.M.card (field 1)"}},
	{name: "one field into a new oneof", original: p3(`message M { string id = 1; string card = 2; }`),
		update: p3(`message M { string id = 1; oneof pay { string card = 2; int32 voucher = 3; } }`),
		want:   []string{"ONEOF_ADDED shop.v1.M.pay (oneof)", "ONEOF_FIELD_ADDED shop.v1.M.voucher (field 3)"}, compatible: true},
	{name: "proto3 optional field into a new oneof", original: p3(`message M { optional string card = 2; }`),
		update: p3(`message M { oneof pay { string card = 2; } }`),
		want:   []string{"ONEOF_ADDED shop.v1.M.pay (oneof)"}, compatible: true},
	{name: "several fields into a new oneof", original: p3(`message M { string card = 1; string iban = 2; }`),
		update: p3(`message M { oneof pay { string card = 1; string iban = 2; int32 voucher = 3; } }`),
		want: []string{"MULTIPLE_FIELDS_MOVED_TO_ONEOF shop.v1.M.pay (oneof)", "ONEOF_ADDED shop.v1.M.pay (oneof)",
			"ONEOF_FIELD_ADDED shop.v1.M.voucher (field 3)"}},
	{name: "field into an existing oneof", original: p3(`message M { string id = 1; oneof pay { string card = 2; string iban = 3; } }`),
		update: p3(`message M { oneof pay { string id = 1; string card = 2; string iban = 3; } }`),
		want:   []string{"FIELD_MOVED_TO_EXISTING_ONEOF shop.v1.M.pay (oneof)"}},
	{name: "field into a renamed existing oneof", original: p3(`message M { string id = 1; oneof pay { string card = 2; string iban = 3; } }`),
		update: p3(`message M { oneof pay2 { string id = 1; string card = 2; string iban = 3; } }`),
		want: []string{"FIELD_MOVED_TO_EXISTING_ONEOF shop.v1.M.pay2 (oneof)", "ONEOF_REMOVED shop.v1.M.pay (oneof)",
			"ONEOF_ADDED shop.v1.M.pay2 (oneof)"}},
	{name: "oneofs merged", original: p3(`message M { oneof a { string x = 1; } oneof b { string y = 2; } }`),
		update: p3(`message M { oneof a { string x = 1; string y = 2; } }`),
		want:   []string{"FIELD_MOVED_TO_EXISTING_ONEOF shop.v1.M.a (oneof)", "ONEOF_REMOVED shop.v1.M.b (oneof)"}},
	{name: "field moved between oneofs", original: p3(`message M { oneof a { string x = 1; string y = 2; } oneof b { string z = 3; } }`),
		update: p3(`message M { oneof a { string x = 1; } oneof b { string y = 2; string z = 3; } }`),
		want:   []string{"FIELD_MOVED_TO_EXISTING_ONEOF shop.v1.M.b (oneof)"}},
	{name: "field out of a oneof to top level", original: p3(`message M { oneof pay { string card = 1; string iban = 2; } }`),
		update: p3(`message M { string card = 1; oneof pay { string iban = 2; } }`),
		want:   []string{"ONEOF_FIELD_MOVED_TO_TOP_LEVEL shop.v1.M.card (field 1)"}, compatible: true},
	{name: "field out of a oneof with a type change", original: p3(`message M { oneof pay { string card = 1; string iban = 2; } }`),
		update: p3(`message M { fixed64 card = 1; oneof pay { string iban = 2; } }`),
		want:   []string{"ONEOF_FIELD_MOVED_TO_TOP_LEVEL shop.v1.M.card (field 1)", "FIELD_SCALAR_KIND_CHANGED shop.v1.M.card (field 1)"}},
}

// Imports: the referenced files are the references, passed to Parse.
const (
	protoRefHome   = `syntax = "proto3"; package home.v1; message Device { int32 id = 1; bool on = 2; }`
	protoRefHomeV2 = `syntax = "proto3"; package home.v1; message Device { string id = 1; bool on = 2; }`
	protoRefHome2  = `syntax = "proto3"; package home.v2; message Device { int32 id = 1; bool on = 2; }`
	protoRefNested = `syntax = "proto3"; package home.v1; message Outer { message Device { int32 id = 1; bool on = 2; } }`
	protoRefNestV2 = `syntax = "proto3"; package home.v3; message Outer { message Device { sint32 id = 1; bool on = 2; } }`
)

func protoRef(name, text string) []serde.Referenced {
	return []serde.Referenced{{Name: name, Text: text}}
}

var protoImportCases = []protoDiffCase{
	{name: "import unchanged", original: p3(`import "home.proto"; message M { home.v1.Device d = 1; }`),
		update:   p3(`import "home.proto"; message M { home.v1.Device d = 1; }`),
		origRefs: protoRef("home.proto", protoRefHome), updateRefs: protoRef("home.proto", protoRefHome), compatible: true},
	{name: "import changed incompatibly", original: p3(`import "home.proto"; message M { home.v1.Device d = 1; }`),
		update:   p3(`import "home2.proto"; message M { home.v1.Device d = 1; }`),
		origRefs: protoRef("home.proto", protoRefHome), updateRefs: protoRef("home2.proto", protoRefHomeV2),
		want: []string{"FIELD_SCALAR_KIND_CHANGED home.v1.Device.id (field 1)", "FIELD_NAMED_TYPE_CHANGED shop.v1.M.d (field 1)"}},
	{name: "import with another package, same local name", original: p3(`import "home.proto"; message M { home.v1.Device d = 1; }`),
		update:   p3(`import "home2.proto"; message M { home.v2.Device d = 1; }`),
		origRefs: protoRef("home.proto", protoRefHome), updateRefs: protoRef("home2.proto", protoRefHome2), compatible: true},
	{name: "import nested type changed incompatibly in another package", original: p3(`import "n.proto"; message M { home.v1.Outer.Device d = 1; }`),
		update:   p3(`import "n.proto"; message M { home.v3.Outer.Device d = 1; }`),
		origRefs: protoRef("n.proto", protoRefNested), updateRefs: protoRef("n.proto", protoRefNestV2),
		want: []string{"FIELD_SCALAR_KIND_CHANGED home.v3.Outer.Device.id (field 1)", "FIELD_NAMED_TYPE_CHANGED shop.v1.M.d (field 1)"}},
	{name: "message moved into an import", original: `syntax = "proto3"; message M { Device d = 1; } message Device { int32 id = 1; bool on = 2; }`,
		update: `syntax = "proto3"; import "home.proto"; message M { home.v1.Device d = 1; }`, updateRefs: protoRef("home.proto", protoRefHome),
		want: []string{"MESSAGE_REMOVED Device"}},
	{name: "message moved out of an import", original: `syntax = "proto3"; import "home.proto"; message M { home.v1.Device d = 1; }`,
		update: `syntax = "proto3"; message M { Device d = 1; } message Device { int32 id = 1; bool on = 2; }`, origRefs: protoRef("home.proto", protoRefHome),
		want: []string{"MESSAGE_ADDED Device"}, compatible: true},
	{name: "well-known type unchanged", original: p3(`import "google/protobuf/timestamp.proto"; message M { google.protobuf.Timestamp at = 1; }`),
		update: p3(`import "google/protobuf/timestamp.proto"; message M { google.protobuf.Timestamp at = 1; }`), compatible: true},
	{name: "well-known type replaced", original: p3(`import "google/protobuf/timestamp.proto"; message M { google.protobuf.Timestamp at = 1; }`),
		update: p3(`import "google/protobuf/duration.proto"; message M { google.protobuf.Duration at = 1; }`),
		want:   []string{"FIELD_NAMED_TYPE_CHANGED shop.v1.M.at (field 1)"}},
	{name: "bundled google/type unchanged", original: p3(`import "google/type/money.proto"; message M { google.type.Money price = 1; }`),
		update: p3(`import "google/type/money.proto"; message M { google.type.Money price = 1; string note = 2; }`),
		want:   []string{"FIELD_ADDED shop.v1.M.note (field 2)"}, compatible: true},
	{name: "well-known type to own message of the same local name", original: p3(`import "google/protobuf/timestamp.proto"; message M { google.protobuf.Timestamp at = 1; }`),
		update: p3(`message M { Timestamp at = 1; } message Timestamp { string iso = 1; }`),
		want: []string{"FIELD_NAME_CHANGED shop.v1.Timestamp.iso (field 1)", "FIELD_SCALAR_KIND_CHANGED shop.v1.Timestamp.iso (field 1)",
			"FIELD_REMOVED google.protobuf.Timestamp.nanos (field 2)", "FIELD_NAMED_TYPE_CHANGED shop.v1.M.at (field 1)", "MESSAGE_ADDED shop.v1.Timestamp"}},
}

var protoRecursionCases = []protoDiffCase{
	{name: "recursive message changed", original: p3(`message Node { string v = 1; repeated Node kids = 2; }`),
		update: p3(`message Node { int64 v = 1; repeated Node kids = 2; }`),
		want:   []string{"FIELD_SCALAR_KIND_CHANGED shop.v1.Node.v (field 1)"}},
	{name: "mutually recursive messages changed", original: p3(`message A { B b = 1; string s = 2; } message B { A a = 1; }`),
		update: p3(`message A { B b = 1; double s = 2; } message B { A a = 1; }`),
		// Confluent flags B.a only (it meets A first and skips A inside B);
		// we flag both fields of the cycle. The verdict is the same.
		want: []string{"FIELD_NAMED_TYPE_CHANGED shop.v1.B.a (field 1)", "FIELD_NAMED_TYPE_CHANGED shop.v1.A.b (field 1)",
			"FIELD_SCALAR_KIND_CHANGED shop.v1.A.s (field 2)"}},
	{name: "recursive message extended", original: p3(`message Node { string v = 1; repeated Node kids = 2; }`),
		update: p3(`message Node { string v = 1; repeated Node kids = 2; Node parent = 3; }`),
		want:   []string{"FIELD_ADDED shop.v1.Node.parent (field 3)"}, compatible: true},
}

// Not compared at all (spec §11.2): syntax, options, reserved, services,
// extensions, proto2 groups.
var protoIgnoredCases = []protoDiffCase{
	{name: "syntax proto2 to proto3", original: p2(`message M { optional int32 n = 1; optional string s = 2; }`),
		update: p3(`message M { int32 n = 1; string s = 2; }`), compatible: true},
	{name: "syntax proto2 required to proto3", original: p2(`message M { required int32 n = 1; }`),
		update: p3(`message M { int32 n = 1; }`), compatible: true},
	{name: "proto3 to editions", original: p3(`message M { int32 n = 1; repeated string s = 2; }`),
		update: `edition = "2023"; package shop.v1; message M { int32 n = 1; repeated string s = 2; }`, compatible: true},
	{name: "options and services", original: p3(`message M { int32 n = 1; }`),
		update: p3(`option java_package = "x"; message M { option deprecated = true; int32 n = 1 [deprecated = true, json_name = "N"]; }
service S { rpc Get(M) returns (M); }`), compatible: true},
	{name: "reserved added, field removed", original: p3(`message M { int32 n = 1; string s = 2; }`),
		update: p3(`message M { reserved 2; reserved "s"; int32 n = 1; }`),
		want:   []string{"FIELD_REMOVED shop.v1.M.s (field 2)"}, compatible: true},
	{name: "reserved number reused", original: p3(`message M { reserved 2; int32 n = 1; }`),
		update: p3(`message M { int32 n = 1; string s = 2; }`),
		want:   []string{"FIELD_ADDED shop.v1.M.s (field 2)"}, compatible: true},
	{name: "extensions", original: p2(`message M { optional int32 n = 1; extensions 100 to 200; }`),
		update: p2(`message M { optional int32 n = 1; extensions 100 to 300; } extend M { optional string x = 100; }`), compatible: true},
	{name: "proto2 group changed", original: p2(`message M { optional group G = 1 { optional int32 a = 2; } }`),
		update: p2(`message M { optional group G = 1 { optional string a = 2; } }`), compatible: true},
	{name: "proto2 group removed", original: p2(`message M { optional int32 n = 3; optional group G = 1 { optional int32 a = 2; } }`),
		update: p2(`message M { optional int32 n = 3; }`), compatible: true},
}

func protoAllDiffCases() map[string][]protoDiffCase {
	return map[string][]protoDiffCase{
		"package": protoPackageCases, "message": protoMessageCases, "enum": protoEnumCases,
		"field": protoFieldCases, "scalar": protoScalarCases(), "label": protoLabelCases, "map": protoMapCases,
		"oneof": protoOneofCases, "import": protoImportCases, "recursion": protoRecursionCases, "ignored": protoIgnoredCases,
	}
}

func TestProtoDiffRules(t *testing.T) {
	for group, cases := range protoAllDiffCases() {
		t.Run(group, func(t *testing.T) {
			t.Parallel()
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					o := protoMustParse(t, tc.original, tc.origRefs)
					u := protoMustParse(t, tc.update, tc.updateRefs)
					diffs := protoDiff(o.File(), u.File(), true)
					got := make([]string, 0, len(diffs))
					compatible := true
					for _, d := range diffs {
						got = append(got, string(d.kind)+" "+d.path)
						compatible = compatible && d.compatible()
					}
					if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
						t.Errorf("differences:\n got %q\nwant %q", got, tc.want)
					}
					if compatible != tc.compatible {
						t.Errorf("compatible = %v, want %v (differences %q)", compatible, tc.compatible, got)
					}
					// Every difference has a message, and the rendered form
					// names the location.
					for _, d := range diffs {
						if d.message == "" || d.path == "" || strings.Contains(d.message, "%!") {
							t.Errorf("difference %s at %q has message %q", d.kind, d.path, d.message)
						}
					}
				})
			}
		})
	}
}

// TestProtoDiffIdentity: a schema has no differences from itself, nor from
// its own canonical and normalized forms (the stored texts), for every
// schema of the rule tables.
func TestProtoDiffIdentity(t *testing.T) {
	for group, cases := range protoAllDiffCases() {
		for _, tc := range cases {
			for _, side := range []struct {
				text string
				refs []serde.Referenced
			}{{tc.original, tc.origRefs}, {tc.update, tc.updateRefs}} {
				s := protoMustParse(t, side.text, side.refs)
				for _, form := range []string{side.text, s.Canonical(), s.Normalized()} {
					again := protoMustParse(t, form, side.refs)
					if diffs := protoDiff(s.File(), again.File(), true); len(diffs) > 0 {
						t.Errorf("%s/%s: %d differences from itself (%q): %v", group, tc.name, len(diffs), form, diffs)
					}
				}
			}
		}
	}
}

// TestProtoDiffSharesWellKnownDescriptors pins the shortcut that skips
// comparing the google/protobuf files: both parses link the same
// descriptors, so the differ never walks them.
func TestProtoDiffSharesWellKnownDescriptors(t *testing.T) {
	text := p3(`import "google/protobuf/struct.proto"; message M { google.protobuf.Struct s = 1; }`)
	a, b := protoMustParse(t, text, nil), protoMustParse(t, text, nil)
	d := &protoDiffer{memo: map[protoPair]*protoPairState{}, all: true}
	d.compareTypes(a.File().Messages(), b.File().Messages(), a.File().Enums(), b.File().Enums())
	for pair := range d.memo {
		if pair.original.ParentFile().Package() == "google.protobuf" {
			t.Errorf("compared %s although both sides share its descriptor", pair.original.FullName())
		}
	}
}

func protoMustParse(t testing.TB, text string, refs []serde.Referenced) *protobuf.Schema {
	t.Helper()
	s, err := protobuf.Parse(text, refs)
	if err != nil {
		t.Fatalf("parse %q: %v", text, err)
	}
	return s
}
