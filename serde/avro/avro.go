// Package avro parses, canonicalises and validates Avro schemas for the
// registry and checks Avro-encoded bytes against them.
//
// # Parsing
//
// [Parse] validates a schema text as spec/registry-api.md §7 requires and
// reports every problem as a [ParseError] located by a JSON pointer into the
// document (or by line and column for malformed JSON), e.g.
//
//	avro: /fields/2/default: default "5" does not match type int
//
// Named types that the schema uses but does not define come from its
// references, which are parsed first into the same name table.
//
// # Canonical forms
//
// [Schema.Canonical] is the stored text of §5.2 and [Schema.Normalized] the
// fuller form of §5.3; both are computed once by Parse. Parsing either text
// again (with the same references) gives back the same texts.
//
// # Codecs
//
// [Schema.Avro] returns the equivalent github.com/hamba/avro/v2 schema, for
// encoding, decoding and code generation.
package avro

import (
	"fmt"
	"slices"

	"github.com/hamba/avro/v2"

	"github.com/sluicehq/sluice/serde"
)

// Schema is a parsed, validated Avro schema. It is immutable and safe for
// concurrent use.
type Schema struct {
	root       *node
	avro       avro.Schema
	canonical  string
	normalized string
	names      []string
	val        lazyValidator // compiled on first ValidateDatum (validate.go)
}

var _ serde.Schema = (*Schema)(nil)

// Parse parses and validates an Avro schema whose named-type references are
// given in refs, dependencies first (the order the registry flattens them
// in). Each reference is itself an Avro schema text, typically one named
// type; text may use every type the references define, by name.
//
// A bad schema yields a ParseErrors holding every problem found (up to a
// limit), each with its location; problems in a reference name it.
func Parse(text string, refs []serde.Referenced) (*Schema, error) {
	p := &parser{names: map[string]*named{}}
	for _, r := range refs {
		p.ref = r.Name
		if p.document(r.Text) == nil {
			return nil, p.errs
		}
	}
	p.ref = ""
	root := p.document(text)
	if root == nil {
		return nil, p.errs
	}
	s := &Schema{
		root:       root,
		canonical:  writeSchema(root, false),
		normalized: writeSchema(root, true),
	}
	for _, nm := range p.defined {
		s.names = append(s.names, nm.full)
	}
	h, err := toHamba(root)
	if err != nil {
		if pe, ok := err.(*ParseError); ok {
			return nil, ParseErrors{pe}
		}
		// Our validation is meant to be at least as strict as hamba's
		// constructors; reaching this is a bug, reported rather than hidden.
		return nil, ParseErrors{{Reason: fmt.Sprintf("schema accepted by the validator but rejected by the codec library (please report): %v", err)}}
	}
	s.avro = h
	return s, nil
}

// MustParse is Parse for tests and examples: it panics on error.
func MustParse(text string, refs ...serde.Referenced) *Schema {
	s, err := Parse(text, refs)
	if err != nil {
		panic(err)
	}
	return s
}

// Format returns serde.Avro.
func (s *Schema) Format() serde.Format { return serde.Avro }

// Canonical returns the stored form of spec §5.2: compact JSON, attributes
// in Avro's order, docs, aliases, defaults and custom properties kept,
// primitive schemas without properties written as bare names, and named
// types written by name after their definition.
func (s *Schema) Canonical() string { return s.canonical }

// Normalized returns the normalized form of spec §5.3: Canonical with full
// names everywhere and sorted aliases, property keys and default keys.
func (s *Schema) Normalized() string { return s.normalized }

// Resolved returns the schema with the named types that its references
// define written inline where they are first used (and by name after
// that), so the text stands alone: Confluent's format=resolved, which is
// Apache Avro's Schema.toString(). The layout is that of Canonical; without
// references it is the Canonical text.
func (s *Schema) Resolved() string { return writeResolved(s.root) }

// String returns the canonical text.
func (s *Schema) String() string { return s.canonical }

// Avro returns the equivalent hamba/avro schema. Named types defined by
// references are embedded at their first use, so the result stands alone.
// Callers must not modify it (hamba schemas expose mutable property maps).
func (s *Schema) Avro() avro.Schema { return s.avro }

// Name returns the full name of the top-level type when it is a named type
// (record, enum or fixed, defined here or in a reference), and "" otherwise.
func (s *Schema) Name() string {
	if s.root.named != nil {
		return s.root.named.full
	}
	return ""
}

// Names returns the full names of the named types this schema defines
// (not those of its references), in document order. The slice is a copy.
func (s *Schema) Names() []string { return slices.Clone(s.names) }
