// Package avro parses, canonicalises and validates Protobuf schemas for the
// registry and checks Protobuf-encoded bytes against them.
package protobuf

import (
	"errors"

	"github.com/sluicehq/sluice/serde"
)

// Schema is a parsed, validated Protobuf schema. It is immutable.
type Schema struct {
	// TODO(protobuf helper): parsed form (protocompile linked file) and texts.
}

var _ serde.Schema = (*Schema)(nil)

// Parse parses and validates an .proto file whose imports are
// given in refs (dependencies first). Errors say what is wrong and where.
func Parse(text string, refs []serde.Referenced) (*Schema, error) {
	return nil, errors.New("protobuf: not implemented")
}

// Format returns serde.Protobuf.
func (s *Schema) Format() serde.Format { return serde.Protobuf }

// Canonical returns the stored form of spec §5.2.
func (s *Schema) Canonical() string { return "" }

// Normalized returns the normalized form of spec §5.3.
func (s *Schema) Normalized() string { return "" }
