// Package jsonschema is the client codec for JSON Schema values: Go values
// encoded with encoding/json under a JSON Schema text. Decoding is
// tolerant: properties the Go type does not know are ignored, so records
// written under a newer schema version are read by an older type.
package jsonschema

import (
	"encoding/json"
	"fmt"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/serde"
	sjson "github.com/sluicehq/sluice/serde/jsonschema"
)

// Codec encodes and decodes T as JSON under one JSON Schema.
type Codec[T any] struct {
	schema   *client.Schema
	parsed   *sjson.Schema
	validate bool
}

// New returns the codec of T under the schema text; refs are the schemas
// its $refs name (each with its Schema set).
func New[T any](text string, refs ...client.Reference) (*Codec[T], error) {
	parsed, err := sjson.Parse(text, client.Flatten(refs))
	if err != nil {
		return nil, fmt.Errorf("jsonschema codec: %w", err)
	}
	return &Codec[T]{
		schema: &client.Schema{Format: serde.JSON, Text: text, References: refs, RecordName: parsed.Name()},
		parsed: parsed,
	}, nil
}

// Must is New that panics on error, for generated code.
func Must[T any](text string, refs ...client.Reference) *Codec[T] {
	c, err := New[T](text, refs...)
	if err != nil {
		panic(err)
	}
	return c
}

// Validating returns a copy of the codec that validates every value against
// the schema before it is sent, so that a bad value fails in the caller
// with the schema's full report rather than at the broker.
func (c *Codec[T]) Validating() *Codec[T] {
	cp := *c
	cp.validate = true
	return &cp
}

// Schema is the local schema.
func (c *Codec[T]) Schema() *client.Schema { return c.schema }

// AppendEncode appends the JSON encoding of v.
func (c *Codec[T]) AppendEncode(dst []byte, v T) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return dst, fmt.Errorf("jsonschema codec: encode %T: %w", v, err)
	}
	if c.validate {
		if err := c.parsed.Validate(b); err != nil {
			return dst, fmt.Errorf("jsonschema codec: %T does not match the schema: %w", v, err)
		}
	}
	return append(dst, b...), nil
}

// Decoder returns a decoder of JSON datums; any JSON Schema writer version
// is accepted, and unknown properties are ignored.
func (c *Codec[T]) Decoder(w *client.WriterSchema) (client.Decoder[T], error) {
	if w == nil || w.Format != serde.JSON {
		format := "schemaless"
		if w != nil {
			format = string(w.Format)
		}
		return nil, fmt.Errorf("jsonschema codec: the record was written with a %s schema", format)
	}
	return func(b []byte, v *T) error {
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("jsonschema codec: decode %T: %w", v, err)
		}
		return nil
	}, nil
}

// RecordNames names the record of datums written with w: the writer
// schema's title, whatever the datum.
func (c *Codec[T]) RecordNames(w *client.WriterSchema) (func([]byte) (string, error), error) {
	writer, err := sjson.Parse(w.Text, w.References)
	if err != nil {
		return nil, fmt.Errorf("jsonschema codec: writer schema %d: %w", w.ID, err)
	}
	name := writer.Name()
	return func([]byte) (string, error) { return name, nil }, nil
}
