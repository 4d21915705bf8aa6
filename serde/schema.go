// Package serde frames and checks schema-tagged record bytes: the envelope of
// spec/wire-format.md, subject-name strategies, and the format-neutral types
// that the per-format packages (serde/avro, serde/protobuf, serde/jsonschema)
// share. It never imports the broker or the registry.
package serde

// Format is a schema format, spelled as the Confluent REST API spells it.
type Format string

// The schema formats. The zero value is not a format; callers that read
// Confluent requests map an absent schemaType to Avro themselves.
const (
	Avro     Format = "AVRO"
	Protobuf Format = "PROTOBUF"
	JSON     Format = "JSON"
)

// Valid reports whether f is one of the three formats.
func (f Format) Valid() bool { return f == Avro || f == Protobuf || f == JSON }

// Referenced is the text of a schema that another schema depends on, under the
// name the dependent schema uses for it: an Avro full name, a Protobuf import
// path, or a JSON Schema $ref URL.
//
// Parsers receive references flattened and ordered so that every schema comes
// after the schemas it depends on; names are unique within the list.
type Referenced struct {
	Name string
	Text string
}

// Schema is a parsed and validated schema of one format. Implementations are
// immutable and safe for concurrent use.
type Schema interface {
	// Format is the schema's format.
	Format() Format
	// Canonical is the stored text of spec/registry-api.md §5.2: whitespace and
	// (for Avro) attribute order no longer matter, everything else is kept.
	Canonical() string
	// Normalized is the fuller canonical text of §5.3, used with normalize=true.
	Normalized() string
}
