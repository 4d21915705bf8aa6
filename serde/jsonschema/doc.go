// Package jsonschema parses, canonicalises and validates JSON Schema documents
// for the registry, and checks JSON instances (record payloads) against them.
//
// # Parsing
//
// [Parse] takes a schema text and the documents it refers to by $ref (see
// [serde.Referenced]) and compiles them with
// github.com/santhosh-tekuri/jsonschema/v5. The draft is chosen by $schema
// (draft-04, draft-06, draft-07, 2019-09, 2020-12); without $schema a document
// is draft-07, as in Confluent Schema Registry. Every document is checked
// against its draft's metaschema, so keywords of the wrong JSON type, unknown
// type names and invalid regular expressions are refused. Nothing is ever
// fetched over the network: a $ref to a document that is neither local nor one
// of the references is an error that names the URL.
//
// # References
//
// A reference's Name is the URL by which the schema refers to it. Names are
// resolved against the root's $id, or, when the root has none, against the
// fixed base URL mem://sluice/, so "customer.json" is the document that
// "$ref": "customer.json#/definitions/address" reaches. A referenced document
// that declares its own $id may refer to the other references relative to it.
//
// # Canonical forms
//
// [Schema.Canonical] is the document re-serialised compactly with object keys
// in their original order (spec/registry-api.md §5.2); [Schema.Normalized]
// sorts object keys recursively (§5.3). Number literals are kept byte for byte
// (1e400, 1.0 and -0 stay as written) because JSON Schema keywords such as
// multipleOf and const compare numbers exactly. Strings are re-escaped in one
// fixed way, so two spellings of one string share a canonical form. Duplicate
// object keys and invalid UTF-8 are refused: JSON parsers disagree about them,
// and a schema must mean one thing to every client.
//
// # Parsed forms
//
// [Schema.Compiled] is the compiled form, with $refs resolved to pointers,
// for validation and structural compatibility checks. [Schema.Document] is
// the decoded JSON with object members in document order (see [Object]), and
// [Schema.DocumentAt] maps any compiled schema's Location back to its decoded
// value, in the schema or in a reference, for what compilation drops:
// property order and unknown keywords.
//
// # Limits
//
// A schema or reference text is at most [MaxSchemaBytes]; arrays and objects
// nest at most 1000 deep; a number literal (in a schema or an instance) has
// at most 1000 characters and an exponent within ±1000, because numbers are
// compared exactly with math/big, whose cost grows with both. Patterns are Go
// RE2 regular expressions: lookarounds and backreferences, which ECMA-262
// allows, are refused.
//
// # Errors
//
// Parse reports every problem it finds as a [ParseErrors] list of
// [*ParseError], each naming the document (the schema or a reference) and the
// JSON pointer of the problem inside it, or the line and column of malformed
// JSON. [Schema.Validate] reports every failure of an instance as a
// [ValidationErrors] list of [*ValidationError] with the instance's JSON
// pointer.
package jsonschema
