package pgsink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"
)

// This file decodes Avro binary straight into column values, for schemas
// whose every column is a scalar (records flattened, no arrays, maps or
// multi-type unions): no intermediate maps, a few allocations per record.
// Other schemas go through hamba/avro (fromAvroNative). The decoder is
// strict like serde/avro's validation: lengths must fit in the datum, a
// union index must name a branch, strings must be UTF-8, an int must fit
// 32 bits, and no bytes may be left over.
//
// The same walk also transcodes a datum into PostgreSQL's binary COPY
// encoding of its columns (encodeAvroCopy): each column a 32-bit length
// (-1 for null) and the bytes PostgreSQL's receive function reads, the
// same bytes pgx writes for the decoded values (FuzzAvroCopy checks this
// against pgx's own encoders). The sink then COPYs the bytes with no Go
// value per column at all. Both walks check the datum alike, by
// construction: one function does both.

// rowVals are a datum's column values, in column order.
type rowVals []any

// fastAvroOK reports whether sh can be decoded by decodeAvroFast when
// nested records are flattened.
func fastAvroOK(sh *shape) bool {
	switch sh.kind {
	case kRecord:
		for _, f := range sh.fields {
			if !fastAvroOK(f.shape) {
				return false
			}
		}
		return true
	case kJSON, kUint64:
		return false
	}
	return true
}

// errAvroShort is a datum that ends early.
var errAvroShort = errors.New("avro: datum ends early")

type avroReader struct {
	b   []byte
	off int
	// bin makes value append the binary COPY encoding of the columns to
	// enc instead of Go values to vals.
	bin bool
	enc []byte
	// declined: a value the binary encoding does not take (errNoBinary
	// once the whole datum is checked).
	declined bool
}

// errNoBinary is a datum that decodes but has a value the binary COPY
// encoding does not take as pgx would (a date or timestamp beyond
// PostgreSQL's range arithmetic): the sink writes it through pgx.
var errNoBinary = errors.New("avro: value not transcoded to binary COPY")

// numericPlan encodes a pgtype.Numeric in PostgreSQL's binary format (a
// stateless plan: safe for concurrent use).
var numericPlan = pgtype.NumericCodec{}.PlanEncode(nil, pgtype.NumericOID, pgtype.BinaryFormatCode, pgtype.Numeric{})

// encodeAvroCopy transcodes datum b under sh into the binary COPY fields
// of its columns, appended to dst.
func encodeAvroCopy(sh *shape, b, dst []byte) ([]byte, error) {
	r := &avroReader{b: b, bin: true, enc: dst}
	if _, err := r.value(sh, nil); err != nil {
		return nil, err
	}
	if r.off != len(b) {
		return nil, fmt.Errorf("avro: %d bytes left after the datum", len(b)-r.off)
	}
	if r.declined {
		return nil, errNoBinary
	}
	return r.enc, nil
}

// field appends one fixed-size binary field of n bytes and returns them.
func (r *avroReader) field(n int) []byte {
	r.enc = binary.BigEndian.AppendUint32(r.enc, uint32(n))
	r.enc = append(r.enc, make([]byte, n)...)
	return r.enc[len(r.enc)-n:]
}

// varField appends b as one binary field.
func (r *avroReader) varField(b []byte) {
	r.enc = binary.BigEndian.AppendUint32(r.enc, uint32(len(b)))
	r.enc = append(r.enc, b...)
}

// pgEpochDays and pgEpochMicros are PostgreSQL's epoch (2000-01-01) from
// the Unix epoch.
const (
	pgEpochDays   = 10957
	pgEpochMicros = 946684800000000
)

func (r *avroReader) long() (int64, error) {
	u, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		if n == 0 {
			return 0, errAvroShort
		}
		return 0, fmt.Errorf("avro: varint at byte %d overflows 64 bits", r.off)
	}
	r.off += n
	return int64(u>>1) ^ -int64(u&1), nil
}

func (r *avroReader) take(n int) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.off {
		return nil, fmt.Errorf("avro: length %d at byte %d overruns the datum (%d bytes left)", n, r.off, len(r.b)-r.off)
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b, nil
}

func (r *avroReader) lenBytes() ([]byte, error) {
	n, err := r.long()
	if err != nil {
		return nil, err
	}
	if n > math.MaxInt32 {
		return nil, fmt.Errorf("avro: length %d too large", n)
	}
	return r.take(int(n))
}

// decodeAvroFast decodes datum b under sh into column values.
func decodeAvroFast(sh *shape, b []byte, ncols int) (rowVals, error) {
	r := &avroReader{b: b}
	vals := make(rowVals, 0, ncols)
	vals, err := r.value(sh, vals)
	if err != nil {
		return nil, err
	}
	if r.off != len(b) {
		return nil, fmt.Errorf("avro: %d bytes left after the datum", len(b)-r.off)
	}
	return vals, nil
}

// leaves counts the columns of sh.
func leaves(sh *shape) int {
	if sh.kind != kRecord {
		return 1
	}
	n := 0
	for _, f := range sh.fields {
		n += leaves(f.shape)
	}
	return n
}

func (r *avroReader) value(sh *shape, vals rowVals) (rowVals, error) {
	if sh.union != notUnion {
		idx, err := r.long()
		if err != nil {
			return nil, err
		}
		null, branch := int64(-1), int64(0)
		switch sh.union {
		case nullFirst:
			null, branch = 0, 1
		case nullLast:
			null = 1
		}
		switch idx {
		case null:
			for range leaves(sh) {
				if r.bin {
					r.enc = binary.BigEndian.AppendUint32(r.enc, math.MaxUint32) // -1: null
				} else {
					vals = append(vals, nil)
				}
			}
			return vals, nil
		case branch:
		default:
			return nil, fmt.Errorf("avro: union index %d at byte %d names no branch", idx, r.off)
		}
	}
	switch sh.kind {
	case kRecord:
		var err error
		for _, f := range sh.fields {
			if vals, err = r.value(f.shape, vals); err != nil {
				return nil, fmt.Errorf("%s: %w", f.name, err)
			}
		}
		return vals, nil
	case kBool:
		b, err := r.take(1)
		if err != nil {
			return nil, err
		}
		if b[0] > 1 {
			return nil, fmt.Errorf("avro: boolean byte %d", b[0])
		}
		if r.bin {
			r.field(1)[0] = b[0]
			return vals, nil
		}
		return append(vals, b[0] == 1), nil
	case kInt32, kDate:
		n, err := r.long()
		if err != nil {
			return nil, err
		}
		if n < math.MinInt32 || n > math.MaxInt32 {
			return nil, fmt.Errorf("avro: int %d out of range", n)
		}
		if r.bin {
			if sh.kind == kDate {
				r.declined = r.declined || n-pgEpochDays < math.MinInt32
				n -= pgEpochDays
			}
			binary.BigEndian.PutUint32(r.field(4), uint32(int32(n)))
			return vals, nil
		}
		if sh.kind == kDate {
			return append(vals, time.Unix(n*86400, 0).UTC()), nil
		}
		return append(vals, int32(n)), nil
	case kInt64, kTimestamp:
		n, err := r.long()
		if err != nil {
			return nil, err
		}
		if r.bin {
			if sh.kind == kTimestamp {
				var ok bool
				n, ok = pgMicros(n, sh.micros)
				r.declined = r.declined || !ok
			}
			binary.BigEndian.PutUint64(r.field(8), uint64(n))
			return vals, nil
		}
		switch {
		case sh.kind == kInt64:
			return append(vals, n), nil
		case sh.micros:
			return append(vals, time.UnixMicro(n).UTC()), nil
		}
		return append(vals, time.UnixMilli(n).UTC()), nil
	case kFloat32:
		b, err := r.take(4)
		if err != nil {
			return nil, err
		}
		if r.bin {
			binary.BigEndian.PutUint32(r.field(4), binary.LittleEndian.Uint32(b))
			return vals, nil
		}
		return append(vals, math.Float32frombits(binary.LittleEndian.Uint32(b))), nil
	case kFloat64:
		b, err := r.take(8)
		if err != nil {
			return nil, err
		}
		if r.bin {
			binary.BigEndian.PutUint64(r.field(8), binary.LittleEndian.Uint64(b))
			return vals, nil
		}
		return append(vals, math.Float64frombits(binary.LittleEndian.Uint64(b))), nil
	case kString:
		if sh.symbols != nil {
			n, err := r.long()
			if err != nil {
				return nil, err
			}
			if n < 0 || n >= int64(len(sh.symbols)) {
				return nil, fmt.Errorf("avro: enum index %d out of range", n)
			}
			if r.bin {
				r.enc = binary.BigEndian.AppendUint32(r.enc, uint32(len(sh.symbols[n])))
				r.enc = append(r.enc, sh.symbols[n]...)
				return vals, nil
			}
			return append(vals, sh.symbols[n]), nil
		}
		b, err := r.lenBytes()
		if err != nil {
			return nil, err
		}
		if !utf8.Valid(b) {
			return nil, errors.New("avro: string is not UTF-8")
		}
		if r.bin {
			r.varField(b)
			return vals, nil
		}
		return append(vals, string(b)), nil
	case kBytes, kDecimal:
		var (
			b   []byte
			err error
		)
		if sh.fixed > 0 {
			b, err = r.take(sh.fixed)
		} else {
			b, err = r.lenBytes()
		}
		if err != nil {
			return nil, err
		}
		if sh.kind == kBytes {
			if r.bin {
				r.varField(b)
				return vals, nil
			}
			return append(vals, append([]byte(nil), b...)), nil
		}
		if sh.fixed == 0 && (len(b) == 0 || sh.decMax > 0 && len(b) > sh.decMax) {
			return nil, fmt.Errorf("avro: decimal of precision %d in %d bytes", sh.precision, len(b))
		}
		n := new(big.Int).SetBytes(b)
		if len(b) > 0 && b[0]&0x80 != 0 { // two's complement
			n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
		}
		num := pgtype.Numeric{Int: n, Exp: int32(-sh.scale), Valid: true}
		if r.bin {
			at := len(r.enc)
			r.enc = append(r.enc, 0, 0, 0, 0)
			if r.enc, err = numericPlan.Encode(num, r.enc); err != nil {
				return nil, err
			}
			binary.BigEndian.PutUint32(r.enc[at:], uint32(len(r.enc)-at-4))
			return vals, nil
		}
		return append(vals, num), nil
	}
	return nil, fmt.Errorf("avro: no direct decoding of %s", sh.pgType())
}

// pgMicros converts an Avro timestamp (milliseconds, or microseconds when
// micros) to PostgreSQL's microseconds since 2000-01-01; false when the
// arithmetic overflows (pgx's would wrap around).
func pgMicros(n int64, micros bool) (int64, bool) {
	if !micros {
		if n > math.MaxInt64/1000 || n < math.MinInt64/1000 {
			return 0, false
		}
		n *= 1000
	}
	if n < math.MinInt64+pgEpochMicros {
		return 0, false
	}
	return n - pgEpochMicros, true
}
