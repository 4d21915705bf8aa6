// Package avro parses, canonicalises and validates JSON Schemas for the
// registry and checks JSON-encoded bytes against them.
package jsonschema

import (
	"errors"

	"github.com/sluicehq/sluice/serde"
)

// Schema is a parsed, validated JSON schema. It is immutable.
type Schema struct {
	// TODO(jsonschema helper): parsed form (compiled jsonschema/v5 schema) and texts.
}

var _ serde.Schema = (*Schema)(nil)

// Parse parses and validates an JSON Schema whose $ref targets in other documents are
// given in refs (dependencies first). Errors say what is wrong and where.
func Parse(text string, refs []serde.Referenced) (*Schema, error) {
	return nil, errors.New("jsonschema: not implemented")
}

// Format returns serde.JSON.
func (s *Schema) Format() serde.Format { return serde.JSON }

// Canonical returns the stored form of spec §5.2.
func (s *Schema) Canonical() string { return "" }

// Normalized returns the normalized form of spec §5.3.
func (s *Schema) Normalized() string { return "" }
