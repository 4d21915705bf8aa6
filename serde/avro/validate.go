package avro

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	hamba "github.com/hamba/avro/v2"

	"github.com/sluicehq/sluice/serde"
)

// The byte walker checks Avro binary against a schema without building Go
// values: the schema tree is compiled once into vnodes, and the walk only
// advances an offset. Nothing allocates unless the datum is bad, when the
// error is built (and its path assembled while the walk unwinds).

const (
	// maxDatumDepth bounds nesting (records, arrays, maps, unions), so a hostile
	// datum of a recursive schema cannot exhaust the stack.
	maxDatumDepth = 256
	// maxZeroWidthItems bounds the elements of arrays whose items encode to
	// no bytes (null, empty records): their count is not bounded by the
	// input's length, and decoders allocate per element.
	maxZeroWidthItems = 1 << 16
)

type vop uint8

const (
	opNull vop = iota
	opBoolean
	opInt
	opLong
	opFloat
	opDouble
	opBytes
	opString
	opFixed
	opEnum
	opRecord
	opArray
	opMap
	opUnion
	opDecimalBytes
)

// vnode is one compiled schema node.
type vnode struct {
	op       vop
	name     string // full name of named types, for messages
	size     int    // fixed size, enum symbol count, decimal max bytes
	prec     int    // decimal precision
	min      int    // minimum encoded size in bytes
	items    *vnode // array items, map values
	fields   []vfield
	branches []*vnode
}

type vfield struct {
	name string
	typ  *vnode
}

// lazyValidator is the compiled walker of a Schema, built on first use.
type lazyValidator struct {
	once sync.Once
	root *vnode
	raw  bool // the Confluent rule: a "bytes" schema's datum is the raw bytes
	// resolved caches hamba's writer→reader resolution per writer
	// *Schema (codec.go).
	resolved sync.Map
}

func (s *Schema) validator() *lazyValidator {
	s.val.once.Do(func() {
		c := map[*named]*vnode{}
		s.val.root = compile(s.root, c)
		s.val.raw = s.val.root.op == opBytes
		minSizes(s.val.root, map[*vnode]bool{})
	})
	return &s.val
}

func compile(n *node, done map[*named]*vnode) *vnode {
	if n.named != nil {
		if v, ok := done[n.named]; ok {
			return v
		}
		nm := n.named
		v := &vnode{name: nm.full}
		done[nm] = v
		switch nm.kind {
		case kindRecord:
			v.op = opRecord
			for _, f := range nm.fields {
				v.fields = append(v.fields, vfield{name: f.name, typ: compile(f.typ, done)})
			}
		case kindEnum:
			v.op, v.size = opEnum, len(nm.symbols)
		default:
			v.op, v.size = opFixed, nm.size
		}
		return v
	}
	switch n.kind {
	case kindArray:
		return &vnode{op: opArray, items: compile(n.items, done)}
	case kindMap:
		return &vnode{op: opMap, items: compile(n.values, done)}
	case kindUnion:
		v := &vnode{op: opUnion}
		for _, b := range n.branches {
			v.branches = append(v.branches, compile(b, done))
		}
		return v
	case kindBytes:
		// Only a decimal annotation hamba accepts counts (invalid ones are
		// ignored, as Avro requires).
		if l, ok := primitiveLogical(hamba.Bytes, props(n.props)).(*hamba.DecimalLogicalSchema); ok {
			return &vnode{op: opDecimalBytes, prec: l.Precision(), size: decimalBytes(l.Precision())}
		}
	}
	return &vnode{op: vop(n.kind)} // primitives share their kind's order
}

// decimalBytes is the most bytes a minimal two's-complement unscaled value
// of the precision needs; 0 means unchecked (precisions too large to matter).
func decimalBytes(prec int) int {
	if prec > 4096 {
		return 0
	}
	m := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(prec)), nil)
	m.Sub(m, big.NewInt(1))
	return (m.BitLen() + 1 + 7) / 8
}

// minSizes fills min, the fewest bytes a datum of each node takes. Nodes
// on a cycle count as 0 while in progress (a lower bound).
func minSizes(v *vnode, seen map[*vnode]bool) int {
	if seen[v] {
		return v.min
	}
	seen[v] = true
	switch v.op {
	case opNull:
		v.min = 0
	case opFloat:
		v.min = 4
	case opDouble:
		v.min = 8
	case opFixed:
		v.min = v.size
	case opRecord:
		for _, f := range v.fields {
			v.min += minSizes(f.typ, seen)
		}
	case opArray, opMap:
		minSizes(v.items, seen)
		v.min = 1
	case opUnion:
		for _, b := range v.branches {
			minSizes(b, seen)
		}
		v.min = 1
	default:
		v.min = 1
	}
	return v.min
}

// walkErr is a failure on its way up: segments are appended innermost
// first while the walk unwinds.
type walkErr struct {
	offset int
	reason string
	segs   []string
}

func (e *walkErr) datumError() *serde.DatumError {
	var sb strings.Builder
	for i := len(e.segs) - 1; i >= 0; i-- {
		sb.WriteByte('/')
		sb.WriteString(pointerEscaper.Replace(e.segs[i]))
	}
	return &serde.DatumError{Path: sb.String(), Offset: e.offset, Reason: e.reason}
}

// pointerEscaper escapes a JSON-pointer segment (RFC 6901).
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func fail(off int, format string, args ...any) *walkErr {
	return &walkErr{offset: off, reason: fmt.Sprintf(format, args...)}
}

type walker struct {
	b         []byte
	pos       int
	zeroWidth int
}

// ValidateDatum checks that b is exactly one Avro binary datum of the schema
// (with the Confluent rule that a "bytes" schema's datum is the raw bytes),
// without building Go values. The raw rule applies to a plain "bytes"
// schema only: a decimal on bytes is a number, encoded with its length.
// It is strict where decoders are lenient: ints
// past 32 bits, booleans other than 0 and 1, invalid UTF-8 in strings,
// block byte sizes that do not match their items, and bytes left over are
// all errors. Errors are *serde.DatumError. It does not allocate on valid
// input and is safe for concurrent use.
func (s *Schema) ValidateDatum(b []byte) error {
	v := s.validator()
	if v.raw {
		return nil
	}
	w := walker{b: b}
	if e := w.walk(v.root, 0); e != nil {
		return e.datumError()
	}
	if w.pos != len(b) {
		return &serde.DatumError{Offset: w.pos, Reason: fmt.Sprintf("%d bytes left over after the datum", len(b)-w.pos)}
	}
	return nil
}

// varint reads a zigzag varint of at most maxLen bytes (5 for int, 10 for
// long). ok is false at end of input or overflow; overflow tells which.
func (w *walker) varint(maxLen int) (v int64, ok, overflow bool) {
	b, p := w.b, w.pos
	if p < len(b) && b[p] < 0x80 {
		w.pos++
		u := uint64(b[p])
		return int64(u>>1) ^ -int64(u&1), true, false
	}
	var u uint64
	var s uint
	for i := 0; i < maxLen; i++ {
		if p+i >= len(b) {
			return 0, false, false
		}
		c := b[p+i]
		if i == maxLen-1 {
			// The last byte may only carry the bits that remain.
			limit := byte(0x0f)
			if maxLen == 10 {
				limit = 0x01
			}
			if c > limit {
				return 0, false, true
			}
		}
		u |= uint64(c&0x7f) << s
		if c < 0x80 {
			w.pos = p + i + 1
			return int64(u>>1) ^ -int64(u&1), true, false
		}
		s += 7
	}
	return 0, false, true
}

func (w *walker) readInt(what string) (int64, *walkErr) {
	start := w.pos
	v, ok, over := w.varint(5)
	if !ok {
		if over {
			return 0, fail(start, "%s does not fit in 32 bits", what)
		}
		return 0, fail(start, "expected %s, got end of input", what)
	}
	return v, nil
}

func (w *walker) readLong(what string) (int64, *walkErr) {
	start := w.pos
	v, ok, over := w.varint(10)
	if !ok {
		if over {
			return 0, fail(start, "%s does not fit in 64 bits", what)
		}
		return 0, fail(start, "expected %s, got end of input", what)
	}
	return v, nil
}

// length reads a bytes or string length and checks it against the input.
func (w *walker) length(what string) (int, *walkErr) {
	start := w.pos
	v, ok, over := w.varint(10)
	var err *walkErr
	if !ok {
		if over {
			err = fail(start, "%s length does not fit in 64 bits", what)
		} else {
			err = fail(start, "expected %s length, got end of input", what)
		}
	}
	n := v
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, fail(start, "negative %s length %d", what, n)
	}
	if left := len(w.b) - w.pos; n > int64(left) {
		return 0, fail(start, "%s length %d overruns the input (%d bytes left)", what, n, left)
	}
	return int(n), nil
}

func (w *walker) walk(v *vnode, depth int) *walkErr {
	start := w.pos
	switch v.op {
	case opNull:
		return nil
	case opBoolean:
		if w.pos >= len(w.b) {
			return fail(start, "expected boolean, got end of input")
		}
		if c := w.b[w.pos]; c > 1 {
			return fail(start, "boolean byte must be 0 or 1, got 0x%02x", c)
		}
		w.pos++
		return nil
	case opInt:
		_, err := w.readInt("int")
		return err
	case opLong:
		_, err := w.readLong("long")
		return err
	case opFloat, opDouble:
		n, what := 4, "float"
		if v.op == opDouble {
			n, what = 8, "double"
		}
		if len(w.b)-w.pos < n {
			return fail(start, "expected %s (%d bytes), got end of input (%d bytes left)", what, n, len(w.b)-w.pos)
		}
		w.pos += n
		return nil
	case opBytes:
		n, err := w.length("bytes")
		if err != nil {
			return err
		}
		w.pos += n
		return nil
	case opDecimalBytes:
		n, err := w.length("bytes")
		if err != nil {
			return err
		}
		if n == 0 {
			return fail(start, "decimal has no bytes (an unscaled value takes at least 1)")
		}
		if v.size > 0 && n > v.size {
			return fail(start, "decimal of precision %d takes at most %d bytes, got %d", v.prec, v.size, n)
		}
		w.pos += n
		return nil
	case opString:
		n, err := w.length("string")
		if err != nil {
			return err
		}
		s := w.b[w.pos : w.pos+n]
		if !utf8.Valid(s) {
			return fail(w.pos+invalidUTF8(s), "string is not valid UTF-8")
		}
		w.pos += n
		return nil
	case opFixed:
		if left := len(w.b) - w.pos; left < v.size {
			return fail(start, "expected %d bytes of fixed %s, got end of input (%d bytes left)", v.size, v.name, left)
		}
		w.pos += v.size
		return nil
	case opEnum:
		i, ok, over := w.varint(5)
		if !ok {
			if over {
				return fail(start, "enum %s index does not fit in 32 bits", v.name)
			}
			return fail(start, "expected enum %s index, got end of input", v.name)
		}
		if i < 0 || i >= int64(v.size) {
			return fail(start, "enum index %d out of range for %s (%d symbols)", i, v.name, v.size)
		}
		return nil
	}
	if depth >= maxDatumDepth {
		return fail(start, "nested deeper than %d levels", maxDatumDepth)
	}
	switch v.op {
	case opRecord:
		for i := range v.fields {
			f := &v.fields[i]
			if err := w.walk(f.typ, depth+1); err != nil {
				err.segs = append(err.segs, f.name)
				return err
			}
		}
		return nil
	case opUnion:
		i, err := w.readInt("union branch index")
		if err != nil {
			return err
		}
		if i < 0 || i >= int64(len(v.branches)) {
			return fail(start, "union branch index %d out of range (%d branches)", i, len(v.branches))
		}
		return w.walk(v.branches[i], depth+1)
	}
	return w.blocks(v, depth)
}

// blocks walks the blocks of an array or map: counts until a 0, a
// negative count followed by the block's byte size.
func (w *walker) blocks(v *vnode, depth int) *walkErr {
	what, countWhat, sizeWhat := "array", "array block count", "array block byte size"
	if v.op == opMap {
		what, countWhat, sizeWhat = "map", "map block count", "map block byte size"
	}
	idx := 0
	for {
		start := w.pos
		count, err := w.readLong(countWhat)
		if err != nil {
			return err
		}
		if count == 0 {
			return nil
		}
		size := int64(-1)
		if count < 0 {
			if count == -1<<63 {
				return fail(start, "%s block count %d is out of range", what, count)
			}
			count = -count
			if size, err = w.readLong(sizeWhat); err != nil {
				return err
			}
			if size < 0 || size > int64(len(w.b)-w.pos) {
				return fail(start, "%s block byte size %d overruns the input (%d bytes left)", what, size, len(w.b)-w.pos)
			}
		}
		min := v.items.min
		if v.op == opMap {
			min++ // the key's length
		}
		left := int64(len(w.b) - w.pos)
		if min > 0 && count > left/int64(min) {
			return fail(start, "%s block count %d exceeds what the %d bytes left can hold", what, count, left)
		}
		if min == 0 {
			if count > int64(maxZeroWidthItems-w.zeroWidth) {
				return fail(start, "%s block count %d exceeds the limit of %d elements that take no bytes", what, count, maxZeroWidthItems)
			}
			w.zeroWidth += int(count)
		}
		body := w.pos
		for range count {
			if v.op == opMap {
				kstart := w.pos
				n, err := w.length("map key")
				if err != nil {
					return err
				}
				key := w.b[w.pos : w.pos+n]
				if !utf8.Valid(key) {
					return fail(w.pos+invalidUTF8(key), "map key is not valid UTF-8")
				}
				w.pos += n
				if err := w.walk(v.items, depth+1); err != nil {
					err.segs = append(err.segs, keyAt(w.b, kstart))
					return err
				}
			} else if err := w.walk(v.items, depth+1); err != nil {
				err.segs = append(err.segs, strconv.Itoa(idx))
				return err
			}
			idx++
		}
		if size >= 0 && int64(w.pos-body) != size {
			return fail(start, "%s block byte size %d does not match its elements (%d bytes)", what, size, w.pos-body)
		}
	}
}

// keyAt decodes the map key whose length starts at off (already checked).
func keyAt(b []byte, off int) string {
	w := walker{b: b, pos: off}
	n, _ := w.length("map key")
	return string(b[w.pos : w.pos+n])
}

func invalidUTF8(s []byte) int {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return 0
}
