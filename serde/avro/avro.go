// Package avro parses, canonicalises and validates Avro schemas for the
// registry and checks Avro-encoded bytes against them.
package avro

import (
	"errors"

	"github.com/sluicehq/sluice/serde"
)

// Schema is a parsed, validated Avro schema. It is immutable.
type Schema struct {
	// TODO(avro helper): parsed form (hamba/avro schema) and texts.
}

var _ serde.Schema = (*Schema)(nil)

// Parse parses and validates an Avro schema whose named-type references are
// given in refs (dependencies first). Errors say what is wrong and where.
func Parse(text string, refs []serde.Referenced) (*Schema, error) {
	return nil, errors.New("avro: not implemented")
}

// Format returns serde.Avro.
func (s *Schema) Format() serde.Format { return serde.Avro }

// Canonical returns the stored form of spec §5.2.
func (s *Schema) Canonical() string { return "" }

// Normalized returns the normalized form of spec §5.3.
func (s *Schema) Normalized() string { return "" }
