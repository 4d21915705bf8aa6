package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// requestHeader is the request header (v1, or v2 for flexible versions),
// which precedes every request body.
type requestHeader struct {
	key, version int16
	corr         int32
	// clientID is the client id; Kafka reads a null one as "".
	clientID string
}

// errShortHeader: a frame too short for a request header.
var errShortHeader = errors.New("frame shorter than a request header")

// parseHeader reads the fixed part of a request header and the nullable
// client id from frame (the bytes after the size prefix) and returns the
// rest. Tags of a flexible header are left in the rest: whether they are
// there depends on the key and version (see skipTags).
func parseHeader(frame []byte) (requestHeader, []byte, error) {
	if len(frame) < 10 {
		return requestHeader{}, nil, errShortHeader
	}
	h := requestHeader{
		key:     int16(binary.BigEndian.Uint16(frame[0:])),
		version: int16(binary.BigEndian.Uint16(frame[2:])),
		corr:    int32(binary.BigEndian.Uint32(frame[4:])),
	}
	n := int16(binary.BigEndian.Uint16(frame[8:]))
	rest := frame[10:]
	switch {
	case n < -1:
		return h, nil, fmt.Errorf("client id length %d is negative", n)
	case n == -1:
	case int(n) > len(rest):
		return h, nil, fmt.Errorf("client id length %d overruns the %d bytes left", n, len(rest))
	default:
		h.clientID = string(rest[:n])
		rest = rest[n:]
	}
	return h, rest, nil
}

// skipTags skips a tagged-field section (KIP-482): an unsigned varint count,
// then per field an unsigned varint tag, an unsigned varint size and size
// bytes.
func skipTags(b []byte) ([]byte, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return nil, errors.New("bad tagged-field count")
	}
	b = b[n:]
	for i := uint64(0); i < count; i++ {
		_, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errors.New("bad tag number")
		}
		b = b[n:]
		size, n := binary.Uvarint(b)
		if n <= 0 || size > uint64(len(b)-n) {
			return nil, errors.New("bad tagged-field size")
		}
		b = b[n+int(size):]
	}
	return b, nil
}

// decodeError says why a request could not be decoded; the connection is
// closed.
type decodeError struct {
	key, version int16
	err          error
}

func (e *decodeError) Error() string {
	name := kmsg.NameForKey(e.key)
	if name == "" {
		name = fmt.Sprintf("key %d", e.key)
	}
	return fmt.Sprintf("%s v%d: %v", name, e.version, e.err)
}

func (e *decodeError) Unwrap() error { return e.err }

// Why a request is not served.
var (
	errUnsupported = errors.New("API key or version not served")
)

// decodeRequest parses one request frame (without its size prefix) into its
// header, registration and kmsg request. An unregistered key or version is
// errUnsupported (the caller closes the connection), except ApiVersions: an
// unknown ApiVersions version is returned undecoded, with its version set, so
// that its handler can answer UNSUPPORTED_VERSION (KIP-511: the body of an
// unknown version cannot be read).
func decodeRequest(frame []byte) (requestHeader, registration, kmsg.Request, error) {
	h, body, err := parseHeader(frame)
	if err != nil {
		return h, registration{}, nil, &decodeError{h.key, h.version, err}
	}
	reg, ok := lookup(h.key, h.version)
	if !ok {
		if h.key == int16(kmsg.ApiVersions) {
			if reg, ok := handlers[h.key]; ok {
				req := kmsg.NewPtrApiVersionsRequest()
				req.SetVersion(h.version)
				return h, reg, req, nil
			}
		}
		return h, registration{}, nil, &decodeError{h.key, h.version, errUnsupported}
	}
	req := kmsg.RequestForKey(h.key)
	req.SetVersion(h.version)
	if req.IsFlexible() {
		if body, err = skipTags(body); err != nil {
			return h, reg, nil, &decodeError{h.key, h.version, fmt.Errorf("request header: %w", err)}
		}
	}
	if err := req.ReadFrom(body); err != nil {
		return h, reg, nil, &decodeError{h.key, h.version, err}
	}
	return h, reg, req, nil
}

// appendResponseHeader appends the response size placeholder, correlation id
// and, for flexible versions other than ApiVersions (whose response header is
// always v0 so that a client can read it before knowing the broker's
// versions), an empty tag section. The caller fills the size with putSize.
func appendResponseHeader(dst []byte, corr int32, resp kmsg.Response) []byte {
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	if resp.IsFlexible() && resp.Key() != int16(kmsg.ApiVersions) {
		dst = append(dst, 0)
	}
	return dst
}

// putSize writes the frame size (everything after the 4-byte prefix) into
// frame's prefix.
func putSize(frame []byte) { binary.BigEndian.PutUint32(frame, uint32(len(frame)-4)) }
