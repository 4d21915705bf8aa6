package avro

import (
	"errors"
	"fmt"
	"io"
	"sync"

	hamba "github.com/hamba/avro/v2"
)

// The typed codec is a thin layer over hamba/avro with three additions the
// client runtime needs: encoding appends to the caller's buffer, decoding
// is strict (hamba's Unmarshal forgives a datum cut short at end of input
// and ignores bytes left over), and a "bytes" schema follows the Confluent
// rule of wire-format.md §4 (the datum is the raw bytes, no length).

var writers = sync.Pool{New: func() any { return hamba.NewWriter(nil, 256) }}

// AppendEncode appends the Avro binary encoding of v under the schema to
// dst and returns the extended slice. v is what hamba/avro accepts for the
// schema (structs with `avro` tags, maps, primitives). For a "bytes" schema
// v must be a []byte, appended as it is.
func (s *Schema) AppendEncode(dst []byte, v any) ([]byte, error) {
	if s.validator().raw {
		b, ok := v.([]byte)
		if !ok {
			return dst, fmt.Errorf("avro: encode: a \"bytes\" schema takes a []byte, got %T", v)
		}
		return append(dst, b...), nil
	}
	w := writers.Get().(*hamba.Writer)
	defer func() {
		w.Reset(nil)
		w.Error = nil
		writers.Put(w)
	}()
	w.WriteVal(s.avro, v)
	if w.Error != nil {
		return dst, fmt.Errorf("avro: encode %T: %w", v, w.Error)
	}
	return append(dst, w.Buffer()...), nil
}

// Decode decodes b, exactly one datum of the schema, into v (a pointer, as
// for hamba/avro's Unmarshal). A truncated datum or bytes left over are
// errors. For a "bytes" schema v must be a *[]byte or *any and receives a
// copy of b.
func (s *Schema) Decode(b []byte, v any) error {
	if s.validator().raw {
		return decodeRaw(b, v)
	}
	return decodeWith(s.avro, b, v)
}

// DecodeFrom decodes b, a datum written with the writer schema, into v
// shaped by this (the reader) schema, using Avro schema resolution
// (hamba's SchemaCompatibility.Resolve): fields the reader lacks are
// skipped, fields the writer lacks take the reader's defaults, and
// promotions (int→long, string↔bytes, ...) apply. Schemas that are not
// compatible in that direction are an error. The resolution is computed
// once per writer schema and cached.
func (s *Schema) DecodeFrom(writer *Schema, b []byte, v any) error {
	if writer == s {
		return s.Decode(b, v)
	}
	wraw, rraw := writer.validator().raw, s.validator().raw
	if wraw || rraw {
		if wraw && rraw {
			return decodeRaw(b, v)
		}
		return errors.New("avro: decode: a raw \"bytes\" schema resolves only to another \"bytes\" schema")
	}
	lv := s.validator()
	r, ok := lv.resolved.Load(writer)
	if !ok {
		rs, err := hamba.NewSchemaCompatibility().Resolve(s.avro, writer.avro)
		if err != nil {
			return fmt.Errorf("avro: decode: writer schema does not resolve to the reader schema: %w", err)
		}
		r, _ = lv.resolved.LoadOrStore(writer, rs)
	}
	return decodeWith(r.(hamba.Schema), b, v)
}

func decodeRaw(b []byte, v any) error {
	switch p := v.(type) {
	case *[]byte:
		*p = append([]byte(nil), b...)
	case *any:
		*p = append([]byte(nil), b...)
	default:
		return fmt.Errorf("avro: decode: a \"bytes\" schema decodes into *[]byte or *any, got %T", v)
	}
	return nil
}

func decodeWith(schema hamba.Schema, b []byte, v any) error {
	r := hamba.NewReader(nil, 0).Reset(b)
	r.ReadVal(schema, v)
	if r.Error != nil {
		if errors.Is(r.Error, io.EOF) || errors.Is(r.Error, io.ErrUnexpectedEOF) {
			return fmt.Errorf("avro: decode %T: datum cut short: %w", v, r.Error)
		}
		return fmt.Errorf("avro: decode %T: %w", v, r.Error)
	}
	r.Peek()
	if r.Error == nil {
		return fmt.Errorf("avro: decode %T: bytes left over after the datum", v)
	}
	return nil
}
