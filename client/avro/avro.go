// Package avro is the client codec for Avro values: Go structs with `avro`
// tags (as hamba/avro and `sluice gen` produce them), maps and primitives,
// encoded under a schema text. Records written with another version of the
// schema are read with Avro schema resolution (writer schema to the local,
// reader schema).
package avro

import (
	"fmt"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/serde"
	savro "github.com/sluicehq/sluice/serde/avro"
)

// Codec encodes and decodes T under one Avro schema.
type Codec[T any] struct {
	schema *client.Schema
	parsed *savro.Schema
}

var _ client.Codec[struct{}] = (*Codec[struct{}])(nil)

// New returns the codec of T under the schema text; refs are the schemas
// that text names (each with its Schema set, so that it parses here).
func New[T any](text string, refs ...client.Reference) (*Codec[T], error) {
	parsed, err := savro.Parse(text, client.Flatten(refs))
	if err != nil {
		return nil, fmt.Errorf("avro codec: %w", err)
	}
	return &Codec[T]{
		schema: &client.Schema{Format: serde.Avro, Text: text, References: refs, RecordName: parsed.Name()},
		parsed: parsed,
	}, nil
}

// Must is New that panics on error, for schemas compiled into a program
// (generated code); the schema text is then a constant known to parse.
func Must[T any](text string, refs ...client.Reference) *Codec[T] {
	c, err := New[T](text, refs...)
	if err != nil {
		panic(err)
	}
	return c
}

// Schema is the local schema.
func (c *Codec[T]) Schema() *client.Schema { return c.schema }

// AppendEncode appends the Avro binary encoding of v.
func (c *Codec[T]) AppendEncode(dst []byte, v T) ([]byte, error) {
	return c.parsed.AppendEncode(dst, v)
}

// Decoder returns a decoder of datums written with w, resolved to the local
// schema; a writer schema that does not resolve to it is an error here.
func (c *Codec[T]) Decoder(w *client.WriterSchema) (client.Decoder[T], error) {
	if w == nil || w.Format != serde.Avro {
		return nil, fmt.Errorf("avro codec: the record was written with a %s schema", formatName(w))
	}
	writer, err := savro.Parse(w.Text, w.References)
	if err != nil {
		return nil, fmt.Errorf("avro codec: writer schema %d: %w", w.ID, err)
	}
	// Record bytes are untrusted (a topic without payload validation holds
	// anything); savro's Decode and DecodeFrom walk them with the writer
	// schema first, which bounds every declared length by the bytes present.
	if writer.Canonical() == c.parsed.Canonical() {
		return func(b []byte, v *T) error { return c.parsed.Decode(b, v) }, nil
	}
	return func(b []byte, v *T) error { return c.parsed.DecodeFrom(writer, b, v) }, nil
}

func formatName(w *client.WriterSchema) string {
	if w == nil || w.Format == "" {
		return "schemaless"
	}
	return string(w.Format)
}

// RecordNames names the record of datums written with w: the writer
// schema's record full name, whatever the datum.
func (c *Codec[T]) RecordNames(w *client.WriterSchema) (func([]byte) (string, error), error) {
	writer, err := savro.Parse(w.Text, w.References)
	if err != nil {
		return nil, fmt.Errorf("avro codec: writer schema %d: %w", w.ID, err)
	}
	name := writer.Name()
	return func([]byte) (string, error) { return name, nil }, nil
}
