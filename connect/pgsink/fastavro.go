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
}

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
				vals = append(vals, nil)
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
		return append(vals, b[0] == 1), nil
	case kInt32, kDate:
		n, err := r.long()
		if err != nil {
			return nil, err
		}
		if n < math.MinInt32 || n > math.MaxInt32 {
			return nil, fmt.Errorf("avro: int %d out of range", n)
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
		return append(vals, math.Float32frombits(binary.LittleEndian.Uint32(b))), nil
	case kFloat64:
		b, err := r.take(8)
		if err != nil {
			return nil, err
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
			return append(vals, sh.symbols[n]), nil
		}
		b, err := r.lenBytes()
		if err != nil {
			return nil, err
		}
		if !utf8.Valid(b) {
			return nil, errors.New("avro: string is not UTF-8")
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
			return append(vals, append([]byte(nil), b...)), nil
		}
		if sh.fixed == 0 && (len(b) == 0 || sh.decMax > 0 && len(b) > sh.decMax) {
			return nil, fmt.Errorf("avro: decimal of precision %d in %d bytes", sh.precision, len(b))
		}
		n := new(big.Int).SetBytes(b)
		if len(b) > 0 && b[0]&0x80 != 0 { // two's complement
			n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
		}
		return append(vals, pgtype.Numeric{Int: n, Exp: int32(-sh.scale), Valid: true}), nil
	}
	return nil, fmt.Errorf("avro: no direct decoding of %s", sh.pgType())
}
