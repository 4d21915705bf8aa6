package pgsink

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// This file renders a key's identity: the bytes that tell its row apart
// from the others of a batch in upsert mode (and for deletes). A key
// reaches the planner in one of two forms: its columns' binary COPY fields
// (the Avro transcoder's, or a schemaless key's) or its decoded Go values
// (JSON Schema, Protobuf, Avro that is not transcoded). One key value may
// come in both forms within a batch (a topic whose key schema changed from
// one format or version to another), and PostgreSQL refuses a statement
// that touches one row twice: both forms render to one canonical encoding
// of the values, which depends on neither the form nor the key schema.
//
// The identity is the key's column names in name order, then each
// column's value in that order, tagged by its type family:
//
//	N                null
//	i + 8 bytes      an integer (integer, bigint): int64, big-endian
//	b + 1 byte       a boolean
//	r + 8 bytes      a float (real, double precision): the float64's bits,
//	                 -0 as 0, every NaN as one
//	s + len + bytes  text
//	x + len + bytes  bytea
//	d + 8 bytes      a date: days since 1970-01-01
//	T + 8 bytes      a timestamp: microseconds since 1970-01-01 UTC
//	n + len + text   a numeric, normalized (no trailing zeros: 1.50 = 1.5)
//	j + len + bytes  jsonb: the JSON text
//
// (len is a uvarint). So an Avro int key and a JSON Schema integer key of
// the same value are one row, as PostgreSQL sees them once both are in the
// table's column; keys whose values are of different families (the text
// "7" and the number 7: no format's compatible evolution does that) are
// told apart.

// keyForm is how the identity of keys of one column list is rendered.
type keyForm struct {
	prefix string      // the column names in name order, each ended by NUL
	order  []int       // the columns' indexes in name order
	fams   []keyFamily // per column (cols order): its family
	// binary: every column has a family whose binary COPY field the
	// identity is rendered from.
	binary bool
}

// keyFamily is the type family of a key column, as its binary COPY field
// is read.
type keyFamily uint8

const (
	famOther keyFamily = iota // no binary field is read: values only
	famInt4
	famInt8
	famBool
	famFloat4
	famFloat8
	famText
	famBytes
	famDate
	famTimestamp
	famNumeric
)

// familyOf is the family of a column type.
func familyOf(pgType string) keyFamily {
	switch pgType {
	case "integer":
		return famInt4
	case "bigint":
		return famInt8
	case "boolean":
		return famBool
	case "real":
		return famFloat4
	case "double precision":
		return famFloat8
	case "text":
		return famText
	case "bytea":
		return famBytes
	case "date":
		return famDate
	case "timestamp with time zone":
		return famTimestamp
	}
	if strings.HasPrefix(pgType, "numeric") {
		return famNumeric
	}
	return famOther
}

func newKeyForm(cols []column) *keyForm {
	f := &keyForm{order: make([]int, len(cols)), fams: make([]keyFamily, len(cols)), binary: true}
	for i := range cols {
		f.order[i] = i
		f.fams[i] = familyOf(cols[i].pgType)
		f.binary = f.binary && f.fams[i] != famOther
	}
	slices.SortStableFunc(f.order, func(a, b int) int { return strings.Compare(cols[a].name, cols[b].name) })
	var b strings.Builder
	for _, i := range f.order {
		b.WriteString(cols[i].name)
		b.WriteByte(0)
	}
	f.prefix = b.String()
	return f
}

// keyForm returns the form of k's column list, made once per list.
func (s *Sink) keyForm(k *datum) *keyForm {
	id := colsID(k)
	if id == s.lastFormID && s.lastForm != nil {
		return s.lastForm
	}
	f, ok := s.keyForms[id]
	if !ok {
		f = newKeyForm(k.cols)
		if s.keyForms == nil {
			s.keyForms = map[*column]*keyForm{}
		}
		s.keyForms[id] = f
	}
	s.lastFormID, s.lastForm = id, f
	return f
}

// appendKeyIdentity appends k's identity (above) to dst.
func (s *Sink) appendKeyIdentity(dst []byte, k *datum) ([]byte, error) {
	f := s.keyForm(k)
	dst = append(dst, f.prefix...)
	if k.enc != nil && f.binary {
		at := len(dst)
		if out, ok := f.appendFields(dst, k.enc, &s.idOffs); ok {
			return out, nil
		}
		dst = dst[:at] // fields that are not the columns': read the values
	}
	vals, err := k.values()
	if err != nil {
		return dst, err
	}
	if len(vals) != len(f.fams) {
		return dst, fmt.Errorf("%d values for %d key columns", len(vals), len(f.fams))
	}
	for _, i := range f.order {
		dst = appendValueID(dst, f.fams[i], vals[i])
	}
	return dst, nil
}

// appendFields appends the identity of the binary COPY fields enc (one per
// column, in column order); false when enc does not hold them. offs is
// scratch space.
func (f *keyForm) appendFields(dst, enc []byte, offs *[]int) ([]byte, bool) {
	o := (*offs)[:0]
	pos := 0
	for pos < len(enc) {
		if len(enc)-pos < 4 {
			return dst, false
		}
		o = append(o, pos)
		n := int32(binary.BigEndian.Uint32(enc[pos:]))
		pos += 4
		if n > 0 {
			pos += int(n)
		}
	}
	*offs = o
	if pos != len(enc) || len(o) != len(f.fams) {
		return dst, false
	}
	for _, i := range f.order {
		at := o[i]
		n := int32(binary.BigEndian.Uint32(enc[at:]))
		if n < 0 {
			dst = append(dst, 'N')
			continue
		}
		var ok bool
		if dst, ok = appendFieldID(dst, f.fams[i], enc[at+4:at+4+int(n)]); !ok {
			return dst, false
		}
	}
	return dst, true
}

// numericScan reads a binary numeric (a stateless plan).
var numericScan = pgtype.NumericCodec{}.PlanScan(nil, pgtype.NumericOID, pgtype.BinaryFormatCode, &pgtype.Numeric{})

// appendFieldID appends the identity of one binary COPY field of family
// fam; false when the field is not of that family's size.
func appendFieldID(dst []byte, fam keyFamily, b []byte) ([]byte, bool) {
	switch fam {
	case famInt4:
		if len(b) != 4 {
			return dst, false
		}
		return appendInt(dst, 'i', int64(int32(binary.BigEndian.Uint32(b)))), true
	case famInt8:
		if len(b) != 8 {
			return dst, false
		}
		return appendInt(dst, 'i', int64(binary.BigEndian.Uint64(b))), true
	case famBool:
		if len(b) != 1 {
			return dst, false
		}
		return append(dst, 'b', b[0]), true
	case famFloat4:
		if len(b) != 4 {
			return dst, false
		}
		return appendFloat(dst, float64(math.Float32frombits(binary.BigEndian.Uint32(b)))), true
	case famFloat8:
		if len(b) != 8 {
			return dst, false
		}
		return appendFloat(dst, math.Float64frombits(binary.BigEndian.Uint64(b))), true
	case famText:
		return appendBytes(dst, 's', b), true
	case famBytes:
		return appendBytes(dst, 'x', b), true
	case famDate:
		if len(b) != 4 {
			return dst, false
		}
		return appendInt(dst, 'd', int64(int32(binary.BigEndian.Uint32(b)))+pgEpochDays), true
	case famTimestamp:
		if len(b) != 8 {
			return dst, false
		}
		return appendInt(dst, 'T', int64(binary.BigEndian.Uint64(b))+pgEpochMicros), true
	case famNumeric:
		var n pgtype.Numeric
		if err := numericScan.Scan(b, &n); err != nil {
			return dst, false
		}
		return appendNumeric(dst, n), true
	}
	return dst, false
}

// appendValueID appends the identity of one decoded value of a column of
// family fam (which only says whether a time is a date).
func appendValueID(dst []byte, fam keyFamily, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, 'N')
	case int32:
		return appendInt(dst, 'i', int64(x))
	case int64:
		return appendInt(dst, 'i', x)
	case int:
		return appendInt(dst, 'i', int64(x))
	case bool:
		b := byte(0)
		if x {
			b = 1
		}
		return append(dst, 'b', b)
	case float32:
		return appendFloat(dst, float64(x))
	case float64:
		return appendFloat(dst, x)
	case string:
		return append(binary.AppendUvarint(append(dst, 's'), uint64(len(x))), x...)
	case []byte:
		return appendBytes(dst, 'x', x)
	case time.Time:
		if fam == famDate { // as pgx writes a date: the time's calendar day
			return appendInt(dst, 'd', time.Date(x.Year(), x.Month(), x.Day(), 0, 0, 0, 0, time.UTC).Unix()/86400)
		}
		return appendInt(dst, 'T', x.Unix()*1000000+int64(x.Nanosecond())/1000) // as pgx writes it
	case pgtype.Numeric:
		return appendNumeric(dst, x)
	case json.RawMessage:
		return appendBytes(dst, 'j', x)
	}
	// No decoder makes other types; should one, its values are still told
	// apart by type and rendering.
	return appendBytes(dst, '?', fmt.Appendf(nil, "%T:%v", v, v))
}

func appendInt(dst []byte, tag byte, n int64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, tag), uint64(n))
}

func appendFloat(dst []byte, f float64) []byte {
	switch {
	case f == 0:
		f = 0 // -0 is 0
	case math.IsNaN(f):
		f = math.NaN()
	}
	return binary.BigEndian.AppendUint64(append(dst, 'r'), math.Float64bits(f))
}

func appendBytes(dst []byte, tag byte, b []byte) []byte {
	return append(binary.AppendUvarint(append(dst, tag), uint64(len(b))), b...)
}

// appendNumeric appends a numeric's identity: its value in lowest terms
// (digits without trailing zeros, and an exponent), or NaN or ±Infinity.
func appendNumeric(dst []byte, n pgtype.Numeric) []byte {
	var text []byte
	switch {
	case !n.Valid:
		return append(dst, 'N')
	case n.NaN:
		text = []byte("NaN")
	case n.InfinityModifier == pgtype.Infinity:
		text = []byte("Infinity")
	case n.InfinityModifier == pgtype.NegativeInfinity:
		text = []byte("-Infinity")
	case n.Int == nil || n.Int.Sign() == 0:
		text = []byte("0")
	default:
		i, exp := new(big.Int).Set(n.Int), int64(n.Exp)
		ten, q, r := big.NewInt(10), new(big.Int), new(big.Int)
		for {
			q.QuoRem(i, ten, r)
			if r.Sign() != 0 {
				break
			}
			i, q = q, i
			exp++
		}
		text = fmt.Appendf(i.Append(nil, 10), "e%d", exp)
	}
	return appendBytes(dst, 'n', text)
}
