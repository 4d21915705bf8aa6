package client

import (
	"context"
	"fmt"
	"slices"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// GroupStream is a group member's GroupService.Consume stream read for
// speed, for code that processes a group's records itself (stream
// processing): the records of a response are decoded from its wire bytes
// straight into a RecordBatch, without building a protobuf message per
// record, and the batch is reused by the next Receive. Decode them with a
// RecordDecoder's DecodeAt. A GroupStream is used by one goroutine.
type GroupStream struct {
	stream *connect.ServerStreamForClient[brokerv1.ConsumeResponse]
	ev     consumeEvent
	batch  RecordBatch
	err    error
}

// OpenGroupStream joins req's group and opens its Consume stream.
func (c *Conn) OpenGroupStream(ctx context.Context, req *brokerv1.ConsumeRequest) (*GroupStream, error) {
	cl := brokerv1connect.NewGroupServiceClient(c.hc, c.baseURL,
		slices.Concat(c.brokerOpts, []connect.ClientOption{connect.WithCodec(wireCodec{})})...)
	stream, err := cl.Consume(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	return &GroupStream{stream: stream}, nil
}

// Receive waits for the next event, an assignment or a batch of records,
// and reports whether there is one; at the end of the stream it returns
// false and Err says why. The previous event's batch is overwritten.
func (s *GroupStream) Receive() bool {
	if s.err != nil || !s.stream.Receive() {
		return false
	}
	ev, err := decodeConsumeResponse(s.stream.Msg(), s.ev.records)
	if err != nil {
		s.err = fmt.Errorf("consume response: %w", err)
		return false
	}
	s.ev = ev
	s.batch = RecordBatch{Topic: ev.topic, Partition: ev.partition, HighWatermark: ev.highWatermark, recs: ev.records}
	return true
}

// Err is why the stream ended: nil when it ended cleanly.
func (s *GroupStream) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.stream.Err()
}

// Close closes the stream, which leaves the group.
func (s *GroupStream) Close() error { return s.stream.Close() }

// Assignment is the event's assignment, or nil when the event is records.
func (s *GroupStream) Assignment() *brokerv1.ConsumeAssignment { return s.ev.assignment }

// Batch is the event's records (empty for an assignment), valid until the
// next Receive.
func (s *GroupStream) Batch() *RecordBatch { return &s.batch }

// RecordBatch is records of one topic partition, in offset order, as they
// came over the wire: decode each with a RecordDecoder's DecodeAt.
type RecordBatch struct {
	Topic         string
	Partition     int32
	HighWatermark int64 // the partition's, when the batch was read
	recs          []wireRecord
}

// NewRecordBatch is a batch of records read otherwise (Fetch, Subscribe),
// for one decoding path; the records' bytes are shared, not copied.
func NewRecordBatch(topic string, partition int32, recs []*brokerv1.Record) *RecordBatch {
	return &RecordBatch{Topic: topic, Partition: partition, recs: appendProtoRecords(nil, recs)}
}

// Len is the number of records.
func (b *RecordBatch) Len() int { return len(b.recs) }

// Offset is record i's offset.
func (b *RecordBatch) Offset(i int) int64 { return b.recs[i].offset }

// Timestamp is record i's timestamp (zero when it has none).
func (b *RecordBatch) Timestamp(i int) time.Time { return b.recs[i].timestamp }

// Key is record i's key as stored (nil when it has none), sharing the
// batch's bytes: valid as long as the batch.
func (b *RecordBatch) Key(i int) []byte { return b.recs[i].key }

// Value is record i's value as stored (nil for a tombstone), sharing the
// batch's bytes: valid as long as the batch.
func (b *RecordBatch) Value(i int) []byte { return b.recs[i].value }

// DecodeAt decodes record i of b into *m, which it overwrites whole; a
// failure is a *DecodeError naming the record and side. A goroutine that
// decodes many records into one Message saves an allocation per record
// (a Message escapes to the heap when a codec decodes into it). b's topic
// must be the decoder's.
func (d *RecordDecoder[K, V]) DecodeAt(ctx context.Context, b *RecordBatch, i int, m *Message[K, V]) error {
	if b.Topic != d.topic {
		return fmt.Errorf("decode a record of %s with the decoder of %s", b.Topic, d.topic)
	}
	*m = Message[K, V]{}
	c := Consumer[K, V]{topic: d.topic, key: d.key, value: d.value}
	return c.decodeInto(ctx, &b.recs[i], m)
}

// consumeEvent is a ConsumeResponse as decodeConsumeResponse gives it: an
// assignment, or records.
type consumeEvent struct {
	assignment *brokerv1.ConsumeAssignment
	partitionRecords
}

// decodeConsumeResponse decodes msg, received through wireCodec
// (its bytes in its unknown fields), as proto.Unmarshal would, its
// records appended to recs[:0]. A response whose only field is its
// records event (every one the broker sends) is walked here without
// building messages; anything else is unmarshalled by proto and converted.
func decodeConsumeResponse(msg *brokerv1.ConsumeResponse, recs []wireRecord) (consumeEvent, error) {
	b := msg.ProtoReflect().GetUnknown()
	if body, ok := onlyRecordsEvent(b); ok {
		pr, err := decodePartitionRecords(body, consumeRecordsFields, recs)
		return consumeEvent{partitionRecords: pr}, err
	}
	full := &brokerv1.ConsumeResponse{}
	if err := proto.Unmarshal(b, full); err != nil {
		return consumeEvent{}, err
	}
	switch e := full.GetEvent().(type) {
	case *brokerv1.ConsumeResponse_Assignment:
		return consumeEvent{assignment: e.Assignment, partitionRecords: partitionRecords{records: recs[:0]}}, nil
	case *brokerv1.ConsumeResponse_Records:
		r := e.Records
		return consumeEvent{partitionRecords: partitionRecords{topic: r.GetTopic(), partition: r.GetPartition(),
			highWatermark: r.GetHighWatermark(), records: appendProtoRecords(recs[:0], r.GetRecords())}}, nil
	}
	return consumeEvent{partitionRecords: partitionRecords{records: recs[:0]}}, nil // no event: nothing to do
}

// onlyRecordsEvent returns the body of b's records event when that is
// b's one field.
func onlyRecordsEvent(b []byte) ([]byte, bool) {
	num, typ, n := consumeTag(b)
	if n < 0 || num != consumeRecordsEventField || typ != protowire.BytesType {
		return nil, false
	}
	body, m := protowire.ConsumeBytes(b[n:])
	if m < 0 || n+m != len(b) {
		return nil, false
	}
	return body, true
}
