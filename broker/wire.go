package broker

// Direct protobuf encoding of read records.
//
// The hot read paths (Subscribe, Fetch and GroupService.Consume over the
// binary protobuf codec) do not build []Record, []*brokerv1.Record and
// timestamps per record and then marshal them: they visit the records in the log's read buffer
// (log.Partition.ReadFunc) and append each one straight to the protobuf wire
// form of the response message. The bytes are exactly what proto.Marshal
// writes for the equivalent message (same field order, same omission of
// zero values, explicit presence of keys and values), which
// TestWireMatchesProtoMarshal, TestWireConsumeMatchesProtoMarshal and
// FuzzWireRecords check. A Consume chunk's records sit inside the
// ConsumeRecords field, whose length is only known at the end: see
// getConsumeChunk. The encoded message
// travels as the unknown fields of an otherwise empty response message, so
// connect's own protobuf codec writes it out unchanged for the Connect, gRPC
// and gRPC-Web protocols. JSON clients take the ordinary path: protojson
// ignores unknown fields, so the handlers only take this path when the
// request's codec is protobuf (wireCodec).

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
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
	// ConsumeResponse: the records event of its oneof.
	wireConsumeRespRecords = 2
	// ConsumeRecords.
	wireConsumeTopic         = 1
	wireConsumePartition     = 2
	wireConsumeRecords       = 3
	wireConsumeHighWatermark = 4
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
	field     protowire.Number // of each record: the repeated Record field
	// head is how many bytes at the start of buf are reserved for the
	// fields that precede the records in the enclosing message (a
	// ConsumeResponse's): see getConsumeChunk.
	head  int
	n     int   // records encoded
	last  int64 // offset of the last record encoded
	visit func(*log.Record) error
	// recBytes counts the key, value and header bytes of every record
	// encoded, for the fetched-bytes counter (stats.go).
	recBytes int64
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
	c.buf, c.partition, c.field, c.head, c.n, c.last = c.buf[:0], p, wireRespRecords, 0, 0, 0
	return c
}

// consumeFixedSize is the size of the ConsumeRecords fields that precede
// the records: topic and partition.
func consumeFixedSize(topic string, p int32) int {
	n := varintField(wireConsumePartition, uint64(int64(p)))
	if topic != "" {
		n += protowire.SizeTag(wireConsumeTopic) + protowire.SizeBytes(len(topic))
	}
	return n
}

// getConsumeChunk returns an empty chunk that encodes a ConsumeResponse
// carrying the ConsumeRecords of topic/p. The records are appended as they
// are read, but in the message they sit inside the length-delimited
// ConsumeRecords field, after its topic and partition: the chunk reserves
// room for that prefix at the start of buf (the length's varint at its
// widest), and finishConsume writes the prefix right-aligned against the
// records once their length is known, so nothing is copied.
func getConsumeChunk(topic string, p int32) *wireChunk {
	c := getChunk(p)
	c.field = wireConsumeRecords
	c.head = protowire.SizeTag(wireConsumeRespRecords) + protowire.SizeVarint(math.MaxUint32) + consumeFixedSize(topic, p)
	c.buf = slices.Grow(c.buf, c.head)[:c.head]
	return c
}

// finishConsume completes a chunk of getConsumeChunk with the high
// watermark and returns the ConsumeResponse bytes: exactly what
// proto.Marshal writes for ConsumeResponse{records: ConsumeRecords{topic,
// partition, records, hwm}}. The bytes live in c; they are valid until c
// goes back to the pool. The ConsumeRecords body stays far below 4 GiB:
// Consume's max_bytes is at most MaxConsumeMaxBytes.
func (c *wireChunk) finishConsume(topic string, hwm int64) []byte {
	c.buf = appendVarintField(c.buf, wireConsumeHighWatermark, uint64(hwm))
	fixed := consumeFixedSize(topic, c.partition)
	body := fixed + len(c.buf) - c.head
	start := c.head - fixed - protowire.SizeVarint(uint64(body)) - protowire.SizeTag(wireConsumeRespRecords)
	if start < 0 {
		// Not reachable with today's limits; stay correct anyway.
		c.buf = append(make([]byte, -start, -start+len(c.buf)), c.buf...)
		c.head -= start
		start = 0
	}
	// Appending to a zero-length slice of buf at start writes in place,
	// ending exactly at head.
	dst := protowire.AppendTag(c.buf[start:start], wireConsumeRespRecords, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(body))
	if topic != "" {
		dst = protowire.AppendTag(dst, wireConsumeTopic, protowire.BytesType)
		dst = protowire.AppendString(dst, topic)
	}
	appendVarintField(dst, wireConsumePartition, uint64(int64(c.partition)))
	return c.buf[start:]
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
	c.buf = appendRecordField(c.buf, c.field, c.partition, r)
	c.n++
	c.last = r.Offset
	c.recBytes += recordBytes(r)
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
	stable := p.LastStableOffset() // see readAt
	from := c.recBytes
	n, err := p.ReadFunc(offset, maxRecords, maxBytes, &c.rb, c.visit)
	if err != nil {
		if errors.Is(err, ErrOffsetOutOfRange) {
			lso, hwm = p.LogStartOffset(), p.HighWatermark()
			return hwm, lso, fmt.Errorf("%s/%d: offset %d: %w: valid offsets are %d to %d", t.name, pi, offset, ErrOffsetOutOfRange, lso, hwm)
		}
		return hwm, lso, fmt.Errorf("%s/%d: read at offset %d: %w", t.name, pi, offset, err)
	}
	t.noteWireRead(pi, n, c.recBytes-from) // stats.go
	return stableEnd(p, offset, stable, n), lso, nil
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
