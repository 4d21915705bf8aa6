package protobuf

import (
	"fmt"
	"strconv"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sluicehq/sluice/serde"
)

// MaxDepth bounds how deeply messages and groups may nest in a value that
// ValidateMessage accepts. protobuf-go allows 10000; real data rarely
// exceeds a handful, and a low bound keeps a hostile payload from making
// the walk recurse deeply.
const MaxDepth = 100

// ValidateMessage checks that b is a valid wire-format encoding of the
// message that path names (spec/wire-format.md §3; an empty path means [0]),
// without building Go values. It checks every tag (field number and wire
// type), that each known field comes with the wire type its declaration
// implies (packed and unpacked repeated scalars both accepted), varint and
// length bounds, UTF-8 of the strings that must hold it (proto3, editions
// with utf8_validation VERIFY), nested messages, map entries and groups up
// to MaxDepth, the proto2 required fields of every message present, and
// that nothing is left over. Enum fields accept any value (open enums, and
// closed enums keep unknown values as unknown fields). Unknown fields are
// skipped by wire type.
//
// It is stricter than protobuf-go's decoder in two ways, both by design
// (DESIGN.md §8): a known field whose wire type differs from its
// declaration is an error, not an unknown field; and the required fields of
// a singular message field are checked per occurrence, not after merging
// repeated occurrences.
//
// A bad value gives a *serde.DatumError with the field-name path
// ("/lines/2/sku") and byte offset; a bad path gives an error wrapping
// ErrNoSuchMessage. The plans the walk follows are compiled on first use
// and shared by concurrent callers; a call on a valid value does not
// allocate.
func (s *Schema) ValidateMessage(path []int, b []byte) error {
	p, err := s.planFor(path)
	if err != nil {
		return err
	}
	_, derr := walkMessage(p, b, 0, len(b), 0, 0)
	if derr != nil {
		return derr
	}
	return nil
}

// planFor resolves a message-index path against the cached plans.
func (s *Schema) planFor(path []int) (*msgPlan, error) {
	v := s.plans()
	var p *msgPlan
	if len(path) == 0 {
		if len(v.top) == 0 {
			_, err := s.MessageByIndexes(path)
			return nil, err
		}
		return v.top[0], nil
	}
	level := v.top
	for _, i := range path {
		if i < 0 || i >= len(level) {
			_, err := s.MessageByIndexes(path) // for its precise message
			return nil, err
		}
		p = level[i]
		level = p.nested
	}
	return p, nil
}

// walkMessage checks b[start:end] as one message of plan p and returns the
// position after it. For a group (group != 0) the walk ends at the
// matching end-group tag, which must come before end. Offsets in errors are
// absolute positions in b.
func walkMessage(p *msgPlan, b []byte, start, end, depth int, group protowire.Number) (int, *serde.DatumError) {
	if depth >= MaxDepth {
		return 0, datumErr(start, fmt.Sprintf("messages nest deeper than %d levels", MaxDepth))
	}
	// Required fields seen so far, one bit each; messages with more than 64
	// required fields (rare to the point of absurd) pay for a slice.
	var seenSmall [1]uint64
	seen := seenSmall[:]
	if len(p.required) > 64 {
		seen = make([]uint64, (len(p.required)+63)/64)
	}
	pos := start
	for pos < end {
		tagAt := pos
		num, typ, n := protowire.ConsumeTag(b[pos:end])
		if n < 0 || num > protowire.MaxValidNumber {
			return 0, tagError(b, pos, end)
		}
		pos += n
		if typ == protowire.EndGroupType {
			if group == 0 {
				return 0, datumErr(tagAt, fmt.Sprintf("end-group tag for field %d outside any group", num))
			}
			if num != group {
				return 0, datumErr(tagAt, fmt.Sprintf("end-group tag for field %d closes the group of field %d", num, group))
			}
			if err := checkRequired(p, seen, tagAt); err != nil {
				return 0, err
			}
			return pos, nil
		}
		f := p.field(num)
		if f == nil {
			next, err := skipField(b, num, typ, pos, end, depth)
			if err != nil {
				return 0, err
			}
			pos = next
			continue
		}
		next, err := walkField(f, b, num, typ, tagAt, pos, end, depth)
		if err != nil {
			return 0, prefix(err, f, num, typ, b, start, tagAt)
		}
		pos = next
		if f.reqBit >= 0 {
			seen[f.reqBit/64] |= 1 << (f.reqBit % 64)
		}
	}
	if group != 0 {
		return 0, datumErr(end, fmt.Sprintf("group of field %d is not closed by its end-group tag", group))
	}
	if err := checkRequired(p, seen, end); err != nil {
		return 0, err
	}
	return pos, nil
}

// walkField checks one occurrence of a known field whose tag is at tagAt
// and whose value starts at pos.
func walkField(f *fieldPlan, b []byte, num protowire.Number, typ protowire.Type, tagAt, pos, end, depth int) (int, *serde.DatumError) {
	want := f.kind.wireType()
	if typ != want && !(f.packable && typ == protowire.BytesType) {
		return 0, datumErr(tagAt, fmt.Sprintf("field %s is %s (wire type %d), but its tag has wire type %d%s",
			f.name, f.typeName, want, typ, wireTypeName(typ)))
	}
	switch typ {
	case protowire.VarintType:
		_, n := protowire.ConsumeVarint(b[pos:end])
		if n < 0 {
			return 0, varintError(b, pos, end)
		}
		return pos + n, nil
	case protowire.Fixed32Type:
		if end-pos < 4 {
			return 0, datumErr(pos, fmt.Sprintf("fixed32 value needs 4 bytes, only %d left", end-pos))
		}
		return pos + 4, nil
	case protowire.Fixed64Type:
		if end-pos < 8 {
			return 0, datumErr(pos, fmt.Sprintf("fixed64 value needs 8 bytes, only %d left", end-pos))
		}
		return pos + 8, nil
	case protowire.StartGroupType:
		return walkMessage(f.msg, b, pos, end, depth+1, num)
	}
	// Length-delimited: bytes, string, message, map entry or a packed run.
	from, to, err := lengthDelimited(b, pos, end)
	if err != nil {
		return 0, err
	}
	switch {
	case f.kind == kindString:
		if !utf8.Valid(b[from:to]) {
			return 0, datumErr(from+invalidUTF8At(b[from:to]), "string is not valid UTF-8")
		}
	case f.kind == kindMessage:
		if _, err := walkMessage(f.msg, b, from, to, depth+1, 0); err != nil {
			return 0, err
		}
	case f.packable:
		if err := walkPacked(f, b, from, to); err != nil {
			return 0, err
		}
	}
	return to, nil
}

// walkPacked checks a packed run of scalars: whole varints, or a length
// that is a multiple of the fixed size.
func walkPacked(f *fieldPlan, b []byte, from, to int) *serde.DatumError {
	switch f.kind {
	case kindVarint:
		for pos := from; pos < to; {
			_, n := protowire.ConsumeVarint(b[pos:to])
			if n < 0 {
				return varintError(b, pos, to)
			}
			pos += n
		}
	case kindFixed32:
		if (to-from)%4 != 0 {
			return datumErr(from, fmt.Sprintf("packed fixed32 run of %d bytes is not a multiple of 4", to-from))
		}
	case kindFixed64:
		if (to-from)%8 != 0 {
			return datumErr(from, fmt.Sprintf("packed fixed64 run of %d bytes is not a multiple of 8", to-from))
		}
	}
	return nil
}

// lengthDelimited reads the length prefix at pos and returns the bounds of
// the payload, which must lie within end.
func lengthDelimited(b []byte, pos, end int) (from, to int, err *serde.DatumError) {
	l, n := protowire.ConsumeVarint(b[pos:end])
	if n < 0 {
		return 0, 0, varintError(b, pos, end)
	}
	from = pos + n
	if l > uint64(end-from) {
		return 0, 0, datumErr(pos, fmt.Sprintf("length %d overruns the %d bytes left", l, end-from))
	}
	return from, from + int(l), nil
}

// skipField skips the value of an unknown field, checking it as far as the
// wire format allows: whole varints, lengths in bounds, groups closed by
// their own end-group tag.
func skipField(b []byte, num protowire.Number, typ protowire.Type, pos, end, depth int) (int, *serde.DatumError) {
	switch typ {
	case protowire.VarintType:
		_, n := protowire.ConsumeVarint(b[pos:end])
		if n < 0 {
			return 0, varintError(b, pos, end)
		}
		return pos + n, nil
	case protowire.Fixed32Type:
		if end-pos < 4 {
			return 0, datumErr(pos, fmt.Sprintf("fixed32 value of unknown field %d needs 4 bytes, only %d left", num, end-pos))
		}
		return pos + 4, nil
	case protowire.Fixed64Type:
		if end-pos < 8 {
			return 0, datumErr(pos, fmt.Sprintf("fixed64 value of unknown field %d needs 8 bytes, only %d left", num, end-pos))
		}
		return pos + 8, nil
	case protowire.BytesType:
		_, to, err := lengthDelimited(b, pos, end)
		return to, err
	case protowire.StartGroupType:
		if depth+1 >= MaxDepth {
			return 0, datumErr(pos, fmt.Sprintf("groups nest deeper than %d levels", MaxDepth))
		}
		for pos < end {
			tagAt := pos
			n2, t2, n := protowire.ConsumeTag(b[pos:end])
			if n < 0 || n2 > protowire.MaxValidNumber {
				return 0, tagError(b, pos, end)
			}
			pos += n
			if t2 == protowire.EndGroupType {
				if n2 != num {
					return 0, datumErr(tagAt, fmt.Sprintf("end-group tag for field %d closes the group of unknown field %d", n2, num))
				}
				return pos, nil
			}
			next, err := skipField(b, n2, t2, pos, end, depth+1)
			if err != nil {
				return 0, err
			}
			pos = next
		}
		return 0, datumErr(end, fmt.Sprintf("group of unknown field %d is not closed by its end-group tag", num))
	}
	return 0, datumErr(pos, fmt.Sprintf("unknown field %d has invalid wire type %d", num, typ))
}

// checkRequired reports the first required field not seen.
func checkRequired(p *msgPlan, seen []uint64, at int) *serde.DatumError {
	for i, f := range p.required {
		if seen[i/64]&(1<<(i%64)) == 0 {
			return datumErr(at, fmt.Sprintf("required field %s of %s is missing", f.name, p.fullName))
		}
	}
	return nil
}

// prefix puts the field (and, for a repeated field, the element's index) in
// front of the path of an error found inside it. Only errors pay for this:
// the index is found by counting the earlier occurrences of the field in
// the message, whose bytes up to tagAt are known to be valid.
func prefix(err *serde.DatumError, f *fieldPlan, num protowire.Number, typ protowire.Type, b []byte, start, tagAt int) *serde.DatumError {
	seg := "/" + f.name
	// A packed run holds many elements under one tag: its errors name the
	// field and the byte offset instead of an index.
	if f.list && !(f.packable && typ == protowire.BytesType) {
		seg += "/" + strconv.Itoa(countOccurrences(b, num, start, tagAt))
	}
	err.Path = seg + err.Path
	return err
}

// countOccurrences counts the tags of field num in b[start:end], which holds
// fields already validated by the walk (so skipping cannot fail).
func countOccurrences(b []byte, num protowire.Number, start, end int) int {
	count := 0
	for pos := start; pos < end; {
		n2, typ, n := protowire.ConsumeTag(b[pos:end])
		if n < 0 {
			break
		}
		if n2 == num {
			count++
		}
		pos += n
		if typ == protowire.EndGroupType {
			continue
		}
		m := protowire.ConsumeFieldValue(n2, typ, b[pos:end])
		if m < 0 {
			break
		}
		pos += m
	}
	return count
}

func datumErr(offset int, reason string) *serde.DatumError {
	return &serde.DatumError{Offset: offset, Reason: reason}
}

// tagError explains why the tag at pos does not parse.
func tagError(b []byte, pos, end int) *serde.DatumError {
	v, n := protowire.ConsumeVarint(b[pos:end])
	if n < 0 {
		return varintError(b, pos, end)
	}
	if v>>3 == 0 {
		return datumErr(pos, "field number 0 is invalid")
	}
	return datumErr(pos, fmt.Sprintf("field number %d is out of range (max %d)", v>>3, protowire.MaxValidNumber))
}

// varintError explains why the varint at pos does not parse.
func varintError(b []byte, pos, end int) *serde.DatumError {
	for i := 0; i < 10; i++ {
		if pos+i >= end {
			return datumErr(pos, "varint is cut off by the end of input")
		}
		if b[pos+i] < 0x80 {
			break
		}
	}
	return datumErr(pos, "varint is longer than 10 bytes or overflows 64 bits")
}

// invalidUTF8At returns the offset of the first byte that is not part of a
// valid UTF-8 sequence.
func invalidUTF8At(s []byte) int {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(s)
}

func wireTypeName(t protowire.Type) string {
	switch t {
	case protowire.VarintType:
		return " (varint)"
	case protowire.Fixed32Type:
		return " (fixed32)"
	case protowire.Fixed64Type:
		return " (fixed64)"
	case protowire.BytesType:
		return " (length-delimited)"
	case protowire.StartGroupType:
		return " (start group)"
	case protowire.EndGroupType:
		return " (end group)"
	}
	return " (invalid)"
}
