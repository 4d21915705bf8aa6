// Package primitive holds the client codecs of plain values, for keys
// mostly: Avro primitives (registered like any schema, framed with the
// schema id, as `primitive: string` in sluice.yaml means), schemaless raw
// bytes and strings (no subject, no envelope), and Null for records
// without a key.
package primitive

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/serde"
	savro "github.com/sluicehq/sluice/serde/avro"
)

// avroCodec is the codec of an Avro primitive schema.
type avroCodec[T any] struct {
	schema *client.Schema
	parsed *savro.Schema
	encode func(dst []byte, v T) []byte
	// decode, when set, reads a datum already validated against a writer
	// schema of the same type (the same canonical form: logical types
	// aside, the same bytes), without the general schema resolution.
	decode func(b []byte, v *T)
}

func newAvro[T any](typ string, encode func([]byte, T) []byte, decode func([]byte, *T)) *avroCodec[T] {
	text := `"` + typ + `"`
	return &avroCodec[T]{
		schema: &client.Schema{Format: serde.Avro, Text: text},
		parsed: savro.MustParse(text),
		encode: encode,
		decode: decode,
	}
}

func (c *avroCodec[T]) Schema() *client.Schema { return c.schema }

func (c *avroCodec[T]) AppendEncode(dst []byte, v T) ([]byte, error) { return c.encode(dst, v), nil }

func (c *avroCodec[T]) Decoder(w *client.WriterSchema) (client.Decoder[T], error) {
	if w == nil || w.Format != serde.Avro {
		return nil, fmt.Errorf("avro %s codec: the record was not written with an Avro schema", c.schema.Text)
	}
	writer, err := savro.Parse(w.Text, w.References)
	if err != nil {
		return nil, fmt.Errorf("avro %s codec: writer schema %d: %w", c.schema.Text, w.ID, err)
	}
	if c.decode != nil && writer.Canonical() == c.parsed.Canonical() {
		return func(b []byte, v *T) error {
			if err := writer.ValidateDatum(b); err != nil {
				return err
			}
			c.decode(b, v)
			return nil
		}, nil
	}
	return func(b []byte, v *T) error {
		// Untrusted bytes: bounded walk first (see client/avro).
		if err := writer.ValidateDatum(b); err != nil {
			return err
		}
		return c.parsed.DecodeFrom(writer, b, v)
	}, nil
}

func appendLong(dst []byte, v int64) []byte {
	return binary.AppendUvarint(dst, uint64(v<<1)^uint64(v>>63))
}

// readLong reads the zigzag varint at the start of a validated datum and
// returns it with its length.
func readLong(b []byte) (int64, int) {
	u, n := binary.Uvarint(b)
	return int64(u>>1) ^ -int64(u&1), n
}

func decodeLong(b []byte, v *int64) { *v, _ = readLong(b) }

func decodeInt(b []byte, v *int32) {
	l, _ := readLong(b)
	*v = int32(l)
}

func decodeString(b []byte, v *string) {
	_, n := readLong(b)
	*v = string(b[n:])
}

func decodeDouble(b []byte, v *float64) {
	*v = math.Float64frombits(binary.LittleEndian.Uint64(b))
}

// String is the codec of the Avro schema "string".
func String() client.Codec[string] {
	return newAvro("string", func(dst []byte, v string) []byte {
		return append(appendLong(dst, int64(len(v))), v...)
	}, decodeString)
}

// Int64 is the codec of the Avro schema "long".
func Int64() client.Codec[int64] { return newAvro("long", appendLong, decodeLong) }

// Int32 is the codec of the Avro schema "int".
func Int32() client.Codec[int32] {
	return newAvro("int", func(dst []byte, v int32) []byte { return appendLong(dst, int64(v)) }, decodeInt)
}

// Float64 is the codec of the Avro schema "double".
func Float64() client.Codec[float64] {
	return newAvro("double", func(dst []byte, v float64) []byte {
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
	}, decodeDouble)
}

// Bool is the codec of the Avro schema "boolean".
func Bool() client.Codec[bool] {
	return newAvro("boolean", func(dst []byte, v bool) []byte {
		if v {
			return append(dst, 1)
		}
		return append(dst, 0)
	}, nil)
}

// Bytes is the codec of the Avro schema "bytes"; as Confluent does, the
// datum is the bytes themselves, without a length.
func Bytes() client.Codec[[]byte] {
	return newAvro("bytes", func(dst []byte, v []byte) []byte { return append(dst, v...) }, nil)
}

// raw is a schemaless codec: no subject, no envelope.
type raw[T ~string | ~[]byte] struct{}

var rawSchema = &client.Schema{}

func (raw[T]) Schema() *client.Schema { return rawSchema }

func (raw[T]) AppendEncode(dst []byte, v T) ([]byte, error) { return append(dst, v...), nil }

func (raw[T]) Decoder(*client.WriterSchema) (client.Decoder[T], error) {
	return func(b []byte, v *T) error {
		*v = T(append([]byte(nil), b...))
		return nil
	}, nil
}

// RawBytes is the schemaless codec of bytes as they are.
func RawBytes() client.Codec[[]byte] { return raw[[]byte]{} }

// RawString is the schemaless codec of a string's UTF-8 bytes.
func RawString() client.Codec[string] { return raw[string]{} }

// null is the codec of no value at all.
type null struct{}

func (null) Schema() *client.Schema { return rawSchema }

func (null) AppendEncode(dst []byte, _ struct{}) ([]byte, error) { return dst, nil }

func (null) IsNull(struct{}) bool { return true }

func (null) Decoder(*client.WriterSchema) (client.Decoder[struct{}], error) {
	return func([]byte, *struct{}) error { return nil }, nil
}

// Null is the codec of records without a key (or tombstones without a
// value): the side is sent as null, and whatever a record holds there is
// ignored on reading.
func Null() client.Codec[struct{}] { return null{} }
