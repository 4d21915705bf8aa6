package avro

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	hamba "github.com/hamba/avro/v2"

	"github.com/sluicehq/sluice/serde"
)

// The typed codec is a thin layer over hamba/avro with three additions the
// client runtime needs: encoding appends to the caller's buffer, decoding
// is strict (hamba's Unmarshal forgives a datum cut short at end of input
// and ignores bytes left over), and a "bytes" schema follows the Confluent
// rule of wire-format.md §4 (the datum is the raw bytes, no length).
//
// Datum bytes are untrusted, and hamba allocates whatever a length or a
// block count declares before reading the items (a 7-byte datum can ask
// for gigabytes). So every decode first walks the bytes with the writer
// schema's compiled walker (validate.go), which caps each declared length
// by the bytes remaining: a bytes/string length by the bytes left, an
// array or map block count by the bytes left divided by the smallest
// encoding of one item, and block counts of items that encode to no bytes
// (null, empty records) by maxZeroWidthItems. The walk allocates nothing
// and refuses with a *serde.DatumError naming the path; only then does
// hamba build the Go value.

var writers = sync.Pool{New: func() any { return hamba.NewWriter(nil, 256) }}

// readers are reused across decodes: a Reader keeps a slab that serves
// short strings and bytes, and it only ever moves forward (values handed
// out earlier are never overwritten), so reuse saves the slab's
// allocation on every decode.
var readers = sync.Pool{New: func() any { return hamba.NewReader(nil, 0) }}

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
// for hamba/avro's Unmarshal). The bytes are checked as ValidateDatum does
// before any Go value is built, so hostile lengths cannot make it allocate
// more than the input justifies; such failures are a *serde.DatumError
// (wrapped) naming the path. A truncated datum or bytes left over are
// errors. For a "bytes" schema v must be a *[]byte or *any and receives a
// copy of b.
func (s *Schema) Decode(b []byte, v any) error {
	if s.validator().raw {
		return decodeRaw(b, v)
	}
	if err := s.ValidateDatum(b); err != nil {
		return walkError(v, err)
	}
	return decodeWith(s.avro, b, v)
}

// DecodeFrom decodes b, a datum written with the writer schema, into v
// shaped by this (the reader) schema, using Avro schema resolution
// (hamba's SchemaCompatibility.Resolve): fields the reader lacks are
// skipped, fields the writer lacks take the reader's defaults, and
// promotions (int→long, string↔bytes, ...) apply. Schemas that are not
// compatible in that direction are an error. The resolution is computed
// once per writer schema and cached. As for Decode, b is first checked
// against the writer schema, so declared lengths are bounded by the input.
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
	if err := writer.ValidateDatum(b); err != nil {
		return walkError(v, err)
	}
	return decodeWith(r.(hamba.Schema), b, v)
}

// walkError wraps a failure of the bounds walk, keeping the *DatumError
// reachable; a datum that ends before its declared content says "cut
// short", as hamba's own truncation errors do.
func walkError(v any, err error) error {
	var de *serde.DatumError
	if errors.As(err, &de) && (strings.Contains(de.Reason, "end of input") || strings.Contains(de.Reason, "overruns the input")) {
		return fmt.Errorf("avro: decode %T: datum cut short: %w", v, err)
	}
	return fmt.Errorf("avro: decode %T: %w", v, err)
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
	r := readers.Get().(*hamba.Reader).Reset(b)
	defer func() {
		r.Reset(nil)
		r.Error = nil
		readers.Put(r)
	}()
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
