package serde

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Magic bytes of the two envelope forms (spec/wire-format.md §2.3). Never change.
const (
	// MagicID starts a 4-byte big-endian schema id: the classic Confluent prefix.
	MagicID byte = 0x00
	// MagicGUID starts a 16-byte schema GUID (header mode).
	MagicGUID byte = 0x01
)

// Header keys that carry the schema identity in header mode (§2.2).
const (
	KeySchemaIDHeader   = "__key_schema_id"
	ValueSchemaIDHeader = "__value_schema_id"
)

// MaxIndexDepth bounds a Protobuf message-index path. Deeper nesting than this
// is refused before any schema is consulted [decision: no real schema nests
// messages 64 deep, and the bound keeps a hostile length from costing work].
const MaxIndexDepth = 64

// ErrMalformed marks every envelope parse error; test with errors.Is.
var ErrMalformed = errors.New("malformed envelope")

// EnvelopeError is a malformed envelope: what is wrong and at which byte.
type EnvelopeError struct {
	// Offset is the byte position in the parsed input where the problem is.
	Offset int
	Reason string
}

func (e *EnvelopeError) Error() string {
	return fmt.Sprintf("malformed envelope at byte %d: %s", e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrMalformed) true.
func (e *EnvelopeError) Is(target error) bool { return target == ErrMalformed }

func malformed(off int, format string, args ...any) error {
	return &EnvelopeError{Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// Identity is the schema identity read from an envelope: an integer id
// (Magic MagicID) or a GUID (Magic MagicGUID).
type Identity struct {
	Magic byte
	ID    int32
	GUID  [16]byte
}

// String renders "id 42" or "guid 123e4567-…".
func (id Identity) String() string {
	if id.Magic == MagicGUID {
		g := id.GUID
		return fmt.Sprintf("guid %x-%x-%x-%x-%x", g[0:4], g[4:6], g[6:8], g[8:10], g[10:16])
	}
	return fmt.Sprintf("id %d", id.ID)
}

// AppendPrefix appends the classic prefix (magic 0 and the big-endian id) to dst.
func AppendPrefix(dst []byte, id int32) []byte {
	dst = append(dst, MagicID)
	return binary.BigEndian.AppendUint32(dst, uint32(id))
}

// AppendGUID appends magic 1 and the 16 GUID bytes, the header-mode identity.
func AppendGUID(dst []byte, guid [16]byte) []byte {
	dst = append(dst, MagicGUID)
	return append(dst, guid[:]...)
}

// ParseIdentity reads the magic byte and the id or GUID at the start of b and
// returns the identity and the bytes after it. It does not read a Protobuf
// message-index path: call ReadIndexes on the rest once the schema is known to
// be Protobuf.
func ParseIdentity(b []byte) (Identity, []byte, error) {
	if len(b) == 0 {
		return Identity{}, nil, malformed(0, "empty input: no magic byte")
	}
	switch b[0] {
	case MagicID:
		if len(b) < 5 {
			return Identity{}, nil, malformed(len(b), "schema id truncated: need 5 bytes (magic + 4-byte id), have %d", len(b))
		}
		id := int32(binary.BigEndian.Uint32(b[1:5]))
		if id <= 0 {
			return Identity{}, nil, malformed(1, "schema id %d is not positive", id)
		}
		return Identity{Magic: MagicID, ID: id}, b[5:], nil
	case MagicGUID:
		if len(b) < 17 {
			return Identity{}, nil, malformed(len(b), "schema GUID truncated: need 17 bytes (magic + 16-byte GUID), have %d", len(b))
		}
		var id Identity
		id.Magic = MagicGUID
		copy(id.GUID[:], b[1:17])
		return id, b[17:], nil
	}
	return Identity{}, nil, malformed(0, "unknown magic byte 0x%02x (want 0x00 or 0x01)", b[0])
}

// AppendIndexes appends a Protobuf message-index path (§3): the single byte 0
// for [0], otherwise the zig-zag varint count followed by each index.
func AppendIndexes(dst []byte, path []int) []byte {
	if len(path) == 1 && path[0] == 0 {
		return append(dst, 0)
	}
	dst = binary.AppendVarint(dst, int64(len(path)))
	for _, i := range path {
		dst = binary.AppendVarint(dst, int64(i))
	}
	return dst
}

// ReadIndexes reads a message-index path from the start of b, appending it to
// dst (pass a reused slice to avoid allocating), and returns the path and the
// bytes after it. A count of 0 is the path [0]. Negative counts or indexes,
// varints longer than 5 bytes, values over 2^31-1 and paths deeper than
// MaxIndexDepth are refused; whether the path names a message is for the
// schema to say.
func ReadIndexes(dst []int, b []byte) ([]int, []byte, error) {
	dst = dst[:0]
	if len(b) == 0 {
		return dst, nil, malformed(0, "message indexes absent")
	}
	n, off, err := readVarint32(b, 0, -1)
	if err != nil {
		return dst, nil, err
	}
	if n == 0 {
		return append(dst, 0), b[off:], nil
	}
	if n > MaxIndexDepth {
		return dst, nil, malformed(0, "message-index count %d exceeds the maximum depth %d", n, MaxIndexDepth)
	}
	for i := 0; i < int(n); i++ {
		v, next, err := readVarint32(b, off, i)
		if err != nil {
			return dst, nil, err
		}
		dst = append(dst, int(v))
		off = next
	}
	return dst, b[off:], nil
}

// readVarint32 reads a non-negative zig-zag varint of at most 5 bytes that
// fits in an int32, starting at off. index names the path element read, -1
// for the count; it only shapes error messages, built lazily so that the
// success path does not allocate.
func readVarint32(b []byte, off int, index int) (int32, int, error) {
	what := func() string {
		if index < 0 {
			return "message-index count"
		}
		return fmt.Sprintf("message index %d", index)
	}
	var ux uint64
	for i := 0; i < 5; i++ {
		if off+i >= len(b) {
			return 0, 0, malformed(off+i, "%s truncated", what())
		}
		c := b[off+i]
		ux |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			v := int64(ux>>1) ^ -int64(ux&1)
			if v < 0 {
				return 0, 0, malformed(off, "%s is negative (%d)", what(), v)
			}
			if v > 1<<31-1 {
				return 0, 0, malformed(off, "%s %d exceeds 2^31-1", what(), v)
			}
			return int32(v), off + i + 1, nil
		}
	}
	return 0, 0, malformed(off, "%s varint longer than 5 bytes", what())
}
