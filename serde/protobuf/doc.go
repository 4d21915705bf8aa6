// Package protobuf parses, validates and canonicalises Protobuf schemas for
// the registry (spec/registry-api.md §5, §7) and resolves the message-index
// paths of the wire format (spec/wire-format.md §3).
//
// # Parsing
//
// A schema is one .proto file. Parse compiles it with protocompile against
// the files it imports, which the caller passes as references (import path
// and text, dependencies first). Only the bundled files resolve without a
// reference: protocompile's standard google/protobuf files, and our own
// minimal equivalents of Confluent's confluent/meta.proto and
// confluent/type/decimal.proto and of the common google/type files
// (BundledImports lists them). proto2, proto3 and edition 2023 are accepted.
// Validation is protocompile's full linker, so it is stricter than
// Confluent's default (duplicate field numbers, proto3 enums not starting at
// zero and the like are refused, which §7 calls a defensible tightening).
// Errors are *ParseError values with file, line and column.
//
// Confluent also accepts a base64-encoded serialized FileDescriptorProto;
// Parse detects it, vets it with the protobuf runtime's descriptor builder,
// and converts it to .proto text, which is then parsed like any other text.
//
// # Printing
//
// Canonical and Normalized re-print the linked descriptor, so comments and
// layout never reach the stored text. Both print forms parse back to the
// same message-index paths: the printer keeps every nested message (synthetic
// map entries and proto2 group bodies included) at its index, because
// consumers resolve paths against the stored text.
//
// # Message indexes
//
// MessageByIndexes and IndexesOf convert between a message and its path.
// Indexes count every nested message of the descriptor, synthetic map
// entries included, as protocompile, protoreflect and Confluent's Go client
// do; Confluent's Java client skips map entries when it parses schema text,
// so the two disagree for a message declared after a map field in the same
// parent. We follow the descriptor.
package protobuf
