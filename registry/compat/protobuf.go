package compat

import (
	"github.com/sluicehq/sluice/serde/protobuf"
)

// The Protobuf rules are Confluent Schema Registry's Protobuf checker
// (io.confluent.kafka.schemaregistry.protobuf.diff.SchemaDiff, the version
// on master in June 2026), re-implemented over protocompile's linked
// descriptors: spec/registry-api.md §11.2. "X reads Y" means the diff from
// Y (the original) to X (the update) holds only compatible differences, so
// BACKWARD diffs from the registered version to the candidate and FORWARD
// the other way round (§10).
//
// The diff covers the whole file: the package, every top-level and nested
// message and enum, matched by name within its scope (so by full name
// relative to the package), and in each matched message every field,
// matched by number. Each difference has one of Confluent's types (the
// violation's Kind); those outside Confluent's compatible set are the
// violations, all of them, each located by full name and field number:
//
//	shop.v1.Order.total (field 4): type changed from string to int64
//
// In short, what is incompatible:
//
//   - PACKAGE_CHANGED: any package change (Karapace accepts it).
//   - MESSAGE_REMOVED, top level or nested; renaming a message is a removal
//     plus an addition. Synthetic map-entry messages are not messages here.
//   - FIELD_KIND_CHANGED: scalar (enums included) vs message vs map.
//   - FIELD_SCALAR_KIND_CHANGED: a scalar moving between wire groups
//     (varint: int32 int64 uint32 uint64 bool enum; zigzag: sint32 sint64;
//     string bytes; fixed32 sfixed32; fixed64 sfixed64; float; double). A
//     change inside a group is not a difference at all, so int64 -> int32
//     and int32 -> enum are compatible in both directions.
//   - FIELD_NAMED_TYPE_CHANGED: a message field now names a message with a
//     different name (full name without its file's package), or the same
//     message changed incompatibly. Referenced messages are compared through
//     their resolved definitions, imported ones included, recursively with
//     memoisation; identical descriptors (well-known types) are skipped.
//   - FIELD_NUMERIC_LABEL_CHANGED: a numeric field's label changed, when
//     both sides wrote a label (proto3 `int32 x` has none, so
//     `int32 x` -> `repeated int32 x` is not compared). On string/bytes it
//     is compatible, on message fields ignored.
//   - REQUIRED_FIELD_ADDED, REQUIRED_FIELD_REMOVED (proto2).
//   - ONEOF_FIELD_REMOVED: a member dropped from a oneof while the oneof, or
//     another of its members, survives.
//   - MULTIPLE_FIELDS_MOVED_TO_ONEOF, FIELD_MOVED_TO_EXISTING_ONEOF: a oneof
//     of the update whose pre-existing members come from more than one
//     origin (several top-level fields, a top-level field and a oneof, two
//     oneofs). Moving one field into a new oneof, renaming a oneof and
//     moving a field out of a oneof are compatible.
//
// Deliberately not compared, as in Confluent (and so differing from
// `buf breaking`, which flags most of these): the syntax and edition,
// options, comments, services, extensions, `reserved` statements (removing
// a field without reserving its number, or reusing a reserved number, is
// accepted; Apicurio insists on reservations), field defaults and
// json_name, enum value changes of any kind, and proto2 groups, which
// Confluent's parser keeps outside fields and nested types. Renumbering a
// field is FIELD_REMOVED plus FIELD_ADDED, both compatible.

// protobufReads reports the incompatible differences from writer (the
// original) to reader (the update). It never fails: linked descriptors are
// complete, so every type resolves.
func protobufReads(reader, writer *protobuf.Schema) ([]Violation, error) {
	var out []Violation
	for _, d := range protoDiff(writer.File(), reader.File(), false) {
		out = append(out, Violation{Kind: string(d.kind), Path: d.path, Message: d.message})
	}
	return out, nil
}
