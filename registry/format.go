package registry

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/serde/protobuf"
)

// Output formats (Confluent's format query parameter). Which ones a schema
// has depends on its type, as in Confluent's ParsedSchema.formattedString:
//
//   - every type: "" and FormatDefault, the stored text;
//   - Avro: FormatResolved, the text with the named types of its references
//     defined inline (Apache Avro's Schema.toString);
//   - Protobuf: FormatSerialized, the standard base64 encoding of the
//     google.protobuf.FileDescriptorProto of the file, which Confluent's
//     Protobuf deserializers ask for and decode; FormatIgnoreExtensions, the
//     text without extend blocks, extension ranges and custom options other
//     than confluent.* ones.
//
// Names are matched case-insensitively. A format the schema's type does not
// have is ignored and the stored text served, as Confluent does "for
// forward compatibility of formats"; so is Confluent's "logical", which
// converts to its Logical Type DDL (not supported here).
const (
	FormatDefault          = "default"
	FormatResolved         = "resolved"
	FormatSerialized       = "serialized"
	FormatIgnoreExtensions = "ignore_extensions"
)

// serializedName is the file name Confluent gives the FileDescriptorProto
// it serves (ProtobufSchema.DEFAULT_NAME); clients rename it anyway.
const serializedName = "default"

// FormatSchema returns the text of the schema with id in the given output
// format (see FormatDefault). An empty or unknown format gives the stored
// text without parsing; a known one parses the schema once (the parse is
// cached with the id). A schema stored in IMPORT mode that does not parse
// answers an *InvalidSchemaError for a known format.
func (r *Registry) FormatSchema(ctx context.Context, id int, format string) (string, error) {
	r.mu.RLock()
	e := r.st.schemas[id]
	r.mu.RUnlock()
	if e == nil {
		return "", fmt.Errorf("schema id %d: %w", id, ErrSchemaNotFound)
	}
	return r.formatEntry(e, effectiveFormat(e.schema.Type, format))
}

// effectiveFormat is the format a schema of type typ is served in when
// format is asked for: "" (the stored text) for an empty, unknown or
// inapplicable format, else the Format constant.
func effectiveFormat(typ serde.Format, format string) string {
	if format == "" {
		return ""
	}
	f := strings.ToLower(format) // no allocation unless there are capitals
	switch {
	case typ == serde.Avro && f == FormatResolved:
		return FormatResolved
	case typ == serde.Protobuf && f == FormatSerialized:
		return FormatSerialized
	case typ == serde.Protobuf && f == FormatIgnoreExtensions:
		return FormatIgnoreExtensions
	}
	return ""
}

// formatEntry returns e's text in f, an effective format (effectiveFormat).
func (r *Registry) formatEntry(e *schemaEntry, f string) (string, error) {
	if f == "" {
		return e.schema.Text, nil
	}
	p, err := r.parsed(e)
	if err != nil {
		return "", err
	}
	switch s := p.(type) {
	case *avro.Schema:
		return s.Resolved(), nil
	case *protobuf.Schema:
		if f == FormatIgnoreExtensions {
			return s.WithoutExtensions(), nil
		}
		fdp := s.FileDescriptorProto()
		fdp.Name = proto.String(serializedName)
		b, err := proto.Marshal(fdp)
		if err != nil {
			// A proto3 string option with invalid UTF-8 compiles but cannot
			// be serialized.
			return "", fmt.Errorf("schema id %d: format %s: %w", e.id, FormatSerialized,
				&InvalidSchemaError{Reason: "the file descriptor does not serialize: " + err.Error(), Err: err})
		}
		return base64.StdEncoding.EncodeToString(b), nil
	}
	return "", fmt.Errorf("schema id %d: parsed as %T, not %s", e.id, p, e.schema.Type)
}
