package broker

// Direct protobuf encoding of read records.
//
// The hot read paths (Subscribe and Fetch over the binary protobuf codec)
// do not build []Record, []*brokerv1.Record and timestamps per record and
// then marshal them: they visit the records in the log's read buffer
// (log.Partition.ReadFunc) and append each one straight to the protobuf wire
// form of the response message. The bytes are exactly what proto.Marshal
// writes for the equivalent message (same field order, same omission of
// zero values, explicit presence of keys and values), which
// TestWireMatchesProtoMarshal and FuzzWireRecords check. The encoded message
// travels as the unknown fields of an otherwise empty response message, so
// connect's own protobuf codec writes it out unchanged for the Connect, gRPC
// and gRPC-Web protocols. JSON clients take the ordinary path: protojson
// ignores unknown fields, so the handlers only take this path when the
// request's codec is protobuf (wireCodec).

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sluicehq/sluice/broker/internal/log"
)

// Field numbers of sluice.broker.v1 messages that the wire encoder writes.
// They are the .proto's contract: a renumbering there breaks
// TestWireMatchesProtoMarshal.
const (
	// Record.
	wireRecordPartition = 1
	wireRecordOffset    = 2
	wireRecordTimestamp = 3
	wireRecordKey       = 4
	wireRecordValue     = 5
	wireRecordHeaders   = 6
	// Header.
	wireHeaderKey   = 1
	wireHeaderValue = 2
	// google.protobuf.Timestamp.
	wireTimestampSeconds = 1
	wireTimestampNanos   = 2
	// SubscribeResponse and FetchResponse share field 1, records.
	wireRespRecords = 1
	// SubscribeResponse.
	wireSubPartition     = 2
	wireSubHighWatermark = 3
	// FetchResponse.
	wireFetchHighWatermark  = 2
	wireFetchLogStartOffset = 3
)

// splitMillis converts Unix milliseconds to a Timestamp's seconds and
// non-negative nanos, as recordsToProto does.
func splitMillis(ms int64) (int64, int32) {
	sec, nanos := ms/1000, int32(ms%1000)*1e6
	if nanos < 0 {
		sec--
		nanos += 1e9
	}
	return sec, nanos
}

// varintField is the size of a varint field with tag num and value v, 0
// when v is 0 (proto3 omits zero scalars).
func varintField(num protowire.Number, v uint64) int {
	if v == 0 {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeVarint(v)
}

// timestampSize is the size of a Timestamp message body.
func timestampSize(sec int64, nanos int32) int {
	return varintField(wireTimestampSeconds, uint64(sec)) + varintField(wireTimestampNanos, uint64(int64(nanos)))
}

// headerSize is the size of a Header message body.
func headerSize(h *log.Header) int {
	n := 0
	if h.Key != "" {
		n += protowire.SizeTag(wireHeaderKey) + protowire.SizeBytes(len(h.Key))
	}
	if len(h.Value) > 0 {
		n += protowire.SizeTag(wireHeaderValue) + protowire.SizeBytes(len(h.Value))
	}
	return n
}

// recordWireSize is the size of the Record message body of r in partition p.
func recordWireSize(p int32, r *log.Record) int {
	sec, nanos := splitMillis(r.Timestamp)
	n := varintField(wireRecordPartition, uint64(int64(p))) +
		varintField(wireRecordOffset, uint64(r.Offset)) +
		protowire.SizeTag(wireRecordTimestamp) + protowire.SizeBytes(timestampSize(sec, nanos))
	if r.Key != nil {
		n += protowire.SizeTag(wireRecordKey) + protowire.SizeBytes(len(r.Key))
	}
	if r.Value != nil {
		n += protowire.SizeTag(wireRecordValue) + protowire.SizeBytes(len(r.Value))
	}
	for i := range r.Headers {
		n += protowire.SizeTag(wireRecordHeaders) + protowire.SizeBytes(headerSize(&r.Headers[i]))
	}
	return n
}

// appendVarintField appends a varint field unless v is 0.
func appendVarintField(dst []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.VarintType)
	return protowire.AppendVarint(dst, v)
}

// appendRecordField appends r, of partition p, as the length-delimited
// field num: one element of a repeated Record field.
func appendRecordField(dst []byte, num protowire.Number, p int32, r *log.Record) []byte {
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(recordWireSize(p, r)))
	dst = appendVarintField(dst, wireRecordPartition, uint64(int64(p)))
	dst = appendVarintField(dst, wireRecordOffset, uint64(r.Offset))
	sec, nanos := splitMillis(r.Timestamp)
	dst = protowire.AppendTag(dst, wireRecordTimestamp, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(timestampSize(sec, nanos)))
	dst = appendVarintField(dst, wireTimestampSeconds, uint64(sec))
	dst = appendVarintField(dst, wireTimestampNanos, uint64(int64(nanos)))
	if r.Key != nil {
		dst = protowire.AppendTag(dst, wireRecordKey, protowire.BytesType)
		dst = protowire.AppendBytes(dst, r.Key)
	}
	if r.Value != nil {
		dst = protowire.AppendTag(dst, wireRecordValue, protowire.BytesType)
		dst = protowire.AppendBytes(dst, r.Value)
	}
	for i := range r.Headers {
		h := &r.Headers[i]
		dst = protowire.AppendTag(dst, wireRecordHeaders, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(headerSize(h)))
		if h.Key != "" {
			dst = protowire.AppendTag(dst, wireHeaderKey, protowire.BytesType)
			dst = protowire.AppendString(dst, h.Key)
		}
		if len(h.Value) > 0 {
			dst = protowire.AppendTag(dst, wireHeaderValue, protowire.BytesType)
			dst = protowire.AppendBytes(dst, h.Value)
		}
	}
	return dst
}

// wireChunk is one response message being encoded from one read: the
// records field first, then the caller appends the trailing scalar fields.
// Its memory (the log's read buffer and the message bytes) is reused from
// read to read; take one from chunkPool and put it back once the message is
// sent.
type wireChunk struct {
	rb        log.ReadBuffer
	buf       []byte
	partition int32
	n         int   // records encoded
	last      int64 // offset of the last record encoded
	visit     func(*log.Record) error
}

// chunkPool holds wireChunks between reads, so that an idle subscriber or
// a finished Fetch holds no read memory and a busy server allocates none.
var chunkPool = sync.Pool{New: func() any {
	c := new(wireChunk)
	c.visit = c.add
	return c
}}

// getChunk returns an empty chunk for partition p.
func getChunk(p int32) *wireChunk {
	c := chunkPool.Get().(*wireChunk)
	c.buf, c.partition, c.n, c.last = c.buf[:0], p, 0, 0
	return c
}

// maxPooledChunk is the largest message buffer kept for reuse: a Fetch with
// a 16 MiB max_bytes should not pin 16 MiB for ever.
const maxPooledChunk = 4 << 20

// putChunk hands c back for reuse.
func putChunk(c *wireChunk) {
	if cap(c.buf) > maxPooledChunk {
		return
	}
	chunkPool.Put(c)
}

// add is the log.ReadFunc visitor: it encodes one record. A header key
// that is not UTF-8 is refused, as proto.Marshal refuses the string field.
func (c *wireChunk) add(r *log.Record) error {
	for i := range r.Headers {
		if !utf8.ValidString(r.Headers[i].Key) {
			return fmt.Errorf("record at offset %d: header %d: the key is not valid UTF-8", r.Offset, i)
		}
	}
	c.buf = appendRecordField(c.buf, wireRespRecords, c.partition, r)
	c.n++
	c.last = r.Offset
	return nil
}

// readWireAt is readAt encoding into c instead of returning records: the
// same range checks and errors, the same high watermark and log start
// offset.
func (b *Broker) readWireAt(t *topic, pi int32, offset int64, maxRecords, maxBytes int, c *wireChunk) (hwm, lso int64, err error) {
	p := t.parts[pi]
	lso, hwm = p.LogStartOffset(), p.HighWatermark()
	if offset < lso || offset > hwm {
		return hwm, lso, fmt.Errorf("%s/%d: offset %d: %w: valid offsets are %d to %d", t.name, pi, offset, ErrOffsetOutOfRange, lso, hwm)
	}
	if offset == hwm {
		return hwm, lso, nil
	}
	if _, err := p.ReadFunc(offset, maxRecords, maxBytes, &c.rb, c.visit); err != nil {
		if errors.Is(err, ErrOffsetOutOfRange) {
			lso, hwm = p.LogStartOffset(), p.HighWatermark()
			return hwm, lso, fmt.Errorf("%s/%d: offset %d: %w: valid offsets are %d to %d", t.name, pi, offset, ErrOffsetOutOfRange, lso, hwm)
		}
		return hwm, lso, fmt.Errorf("%s/%d: read at offset %d: %w", t.name, pi, offset, err)
	}
	return max(hwm, p.HighWatermark()), lso, nil
}

// wireCodec reports whether a request's messages are binary protobuf, the
// only codec whose responses may carry pre-encoded bytes: Content-Type
// application/proto or application/connect+proto (Connect),
// application/grpc[+proto] (gRPC) or application/grpc-web[+proto]
// (gRPC-Web). Anything else (JSON, a Connect GET, a codec we do not know)
// takes the ordinary path.
func wireCodec(h http.Header) bool {
	mt, _, _ := strings.Cut(h.Get("Content-Type"), ";")
	switch strings.ToLower(strings.TrimSpace(mt)) {
	case "application/proto", "application/connect+proto",
		"application/grpc", "application/grpc+proto",
		"application/grpc-web", "application/grpc-web+proto":
		return true
	}
	return false
}
