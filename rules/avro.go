package rules

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	hamba "github.com/hamba/avro/v2"
)

// Avro datums are decoded by walking the schema: records become
// map[string]any, arrays []any, maps map[string]any, unions the value of
// their branch, enums their symbol, fixed and bytes []byte, int and long
// int64, float and double float64. Logical types keep their underlying
// value (a timestamp-millis is its long). The datum was validated before,
// but the decoder still checks every length against the bytes left, so a
// hostile datum is an error, never a panic or a large allocation.

// maxAvroDepth bounds recursion through recursive schemas.
const maxAvroDepth = 256

// maxNullItems bounds an array of nulls, whose items take no bytes.
const maxNullItems = 1 << 16

var errAvroShort = errors.New("datum cut short")

type avroDecoder struct {
	b     []byte
	depth int
}

func decodeAvro(s hamba.Schema, b []byte, need *fieldSet) (any, error) {
	d := avroDecoder{b: b}
	v, err := d.record(s, need)
	if err != nil {
		return nil, fmt.Errorf("avro: %w", err)
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("avro: %d bytes after the datum", len(d.b))
	}
	return v, nil
}

func (d *avroDecoder) long() (int64, error) {
	u, n := binary.Uvarint(d.b)
	if n <= 0 || n > 10 {
		return 0, errAvroShort
	}
	d.b = d.b[n:]
	return int64(u>>1) ^ -int64(u&1), nil
}

func (d *avroDecoder) take(n int64) ([]byte, error) {
	if n < 0 || n > int64(len(d.b)) {
		return nil, errAvroShort
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out, nil
}

// count reads a block count (a negative count is followed by the block's
// byte size).
func (d *avroDecoder) count() (int64, error) {
	n, err := d.long()
	if err != nil {
		return 0, err
	}
	if n < 0 {
		if n == math.MinInt64 {
			return 0, errors.New("block count out of range")
		}
		n = -n
		if _, err := d.long(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

func (d *avroDecoder) value(s hamba.Schema) (any, error) {
	if d.depth >= maxAvroDepth {
		return nil, errors.New("datum nested too deeply")
	}
	d.depth++
	v, err := d.value1(s)
	d.depth--
	return v, err
}

func (d *avroDecoder) value1(s hamba.Schema) (any, error) {
	switch s.Type() {
	case hamba.Null:
		return nil, nil
	case hamba.Boolean:
		b, err := d.take(1)
		if err != nil {
			return nil, err
		}
		return b[0] != 0, nil
	case hamba.Int, hamba.Long:
		return d.long()
	case hamba.Float:
		b, err := d.take(4)
		if err != nil {
			return nil, err
		}
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), nil
	case hamba.Double:
		b, err := d.take(8)
		if err != nil {
			return nil, err
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(b)), nil
	case hamba.Bytes:
		n, err := d.long()
		if err != nil {
			return nil, err
		}
		return d.take(n)
	case hamba.String:
		n, err := d.long()
		if err != nil {
			return nil, err
		}
		b, err := d.take(n)
		return string(b), err
	case hamba.Fixed:
		return d.take(int64(s.(*hamba.FixedSchema).Size()))
	case hamba.Enum:
		i, err := d.long()
		if err != nil {
			return nil, err
		}
		syms := s.(*hamba.EnumSchema).Symbols()
		if i < 0 || i >= int64(len(syms)) {
			return nil, fmt.Errorf("enum index %d out of range", i)
		}
		return syms[i], nil
	case hamba.Ref:
		return d.value(s.(*hamba.RefSchema).Schema())
	case hamba.Union:
		i, err := d.long()
		if err != nil {
			return nil, err
		}
		types := s.(*hamba.UnionSchema).Types()
		if i < 0 || i >= int64(len(types)) {
			return nil, fmt.Errorf("union branch %d out of range", i)
		}
		return d.value(types[i])
	case hamba.Array:
		items := s.(*hamba.ArraySchema).Items()
		var out []any
		for {
			n, err := d.count()
			if err != nil {
				return nil, err
			}
			if n == 0 {
				break
			}
			// Every item takes a byte at least, but for null items.
			if (items.Type() != hamba.Null && n > int64(len(d.b))) || n > maxNullItems {
				return nil, errAvroShort
			}
			for ; n > 0; n-- {
				v, err := d.value(items)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			}
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	case hamba.Map:
		vals := s.(*hamba.MapSchema).Values()
		out := map[string]any{}
		for {
			n, err := d.count()
			if err != nil {
				return nil, err
			}
			if n == 0 {
				break
			}
			if n > int64(len(d.b)) {
				return nil, errAvroShort
			}
			for ; n > 0; n-- {
				kl, err := d.long()
				if err != nil {
					return nil, err
				}
				k, err := d.take(kl)
				if err != nil {
					return nil, err
				}
				v, err := d.value(vals)
				if err != nil {
					return nil, err
				}
				out[string(k)] = v
			}
		}
		return out, nil
	case hamba.Record, hamba.Error:
		fields := s.(*hamba.RecordSchema).Fields()
		out := make(map[string]any, len(fields))
		for _, f := range fields {
			v, err := d.value(f.Type())
			if err != nil {
				return nil, err
			}
			out[f.Name()] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported Avro type %s", s.Type())
}
