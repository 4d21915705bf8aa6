package client

import (
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// consumeEventViaProto is b decoded by the generated code and converted.
func consumeEventViaProto(b []byte) (consumeEvent, error) {
	full := &brokerv1.ConsumeResponse{}
	if err := proto.Unmarshal(b, full); err != nil {
		return consumeEvent{}, err
	}
	switch e := full.GetEvent().(type) {
	case *brokerv1.ConsumeResponse_Assignment:
		return consumeEvent{assignment: e.Assignment}, nil
	case *brokerv1.ConsumeResponse_Records:
		r := e.Records
		return consumeEvent{partitionRecords: partitionRecords{topic: r.GetTopic(), partition: r.GetPartition(),
			highWatermark: r.GetHighWatermark(), records: appendProtoRecords(nil, r.GetRecords())}}, nil
	}
	return consumeEvent{}, nil
}

// checkConsumeEvent fails where decodeConsumeResponse (through
// groupStreamCodec) and proto.Unmarshal disagree on b.
func checkConsumeEvent(t *testing.T, b []byte) {
	t.Helper()
	want, werr := consumeEventViaProto(b)
	msg := &brokerv1.ConsumeResponse{}
	if err := (wireCodec{}).Unmarshal(b, msg); err != nil {
		t.Fatal(err)
	}
	// A batch left from an earlier response is reused, not kept.
	got, gerr := decodeConsumeResponse(msg, []wireRecord{{offset: 99}})
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("proto.Unmarshal: %v; decodeConsumeResponse: %v (bytes %x)", werr, gerr, b)
	}
	if werr != nil {
		return
	}
	if len(got.records) == 0 {
		got.records = nil
	}
	if (want.assignment == nil) != (got.assignment == nil) || want.assignment != nil && !proto.Equal(want.assignment, got.assignment) {
		t.Fatalf("bytes %x: assignment %v, proto %v", b, got.assignment, want.assignment)
	}
	want.assignment, got.assignment = nil, nil
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("bytes %x:\nproto:   %+v\ndecoded: %+v", b, want, got)
	}
}

func TestDecodeConsumeResponseLikeProto(t *testing.T) {
	own, other := consumeSamples(t)
	for _, b := range append(own, other...) {
		checkConsumeEvent(t, b)
	}
}

func FuzzDecodeConsumeResponse(f *testing.F) {
	own, other := consumeSamples(f)
	for _, b := range append(own, other...) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkConsumeEvent(t, b)
	})
}

// consumeSamples are ConsumeResponses to decode: records events as the
// broker sends them (own), and others: an assignment, no event, and what
// proto reads its own way (a timestamp given twice merges, unknown fields,
// a field of another wire type, invalid UTF-8, two events, cut short).
func consumeSamples(t testing.TB) (own, other [][]byte) {
	ts := timestamppb.New(time.Date(2026, 12, 5, 3, 4, 5, 678, time.UTC))
	recs := &brokerv1.ConsumeRecords{Topic: "orders", Partition: 3, HighWatermark: 1 << 40, Records: []*brokerv1.Record{
		{Partition: 3, Offset: 7, Timestamp: ts, Key: []byte("k"), Value: []byte("\x00\x00\x00\x00\x01value")},
		{Partition: 3, Offset: 8, Key: []byte{}, Value: nil}, // empty key, null value
		{Partition: 3, Offset: 9, Headers: []*brokerv1.Header{{Key: "a", Value: nil}, {
			Key: "__value_schema_id", Value: []byte{0, 0, 0, 0, 2}}}},
		{Partition: -1, Offset: -5, Timestamp: &timestamppb.Timestamp{Seconds: -62135596800, Nanos: -1}},
	}}
	own = append(own,
		marshal(t, &brokerv1.ConsumeResponse{Event: &brokerv1.ConsumeResponse_Records{Records: recs}}),
		marshal(t, &brokerv1.ConsumeResponse{Event: &brokerv1.ConsumeResponse_Records{Records: &brokerv1.ConsumeRecords{}}}),
	)
	// Fields given twice: the last scalar wins.
	body := marshal(t, recs)
	body = protowire.AppendTag(body, crTopicField, protowire.BytesType)
	body = protowire.AppendString(body, "payments")
	body = protowire.AppendTag(body, crPartitionField, protowire.VarintType)
	body = protowire.AppendVarint(body, 1<<33|4) // int32 keeps the low bits
	own = append(own, event(body))

	other = append(other,
		nil, // no event
		marshal(t, &brokerv1.ConsumeResponse{Event: &brokerv1.ConsumeResponse_Assignment{Assignment: &brokerv1.ConsumeAssignment{
			MemberId: "m", MemberEpoch: 2, Partitions: []*brokerv1.TopicPartitions{{Topic: "orders", Partitions: []int32{0, 1}}}}}}),
	)
	// A timestamp given twice (merged by proto), unknown fields at each
	// level, a field of another wire type, invalid UTF-8, two events.
	rec := marshal(t, &brokerv1.Record{Offset: 1, Timestamp: &timestamppb.Timestamp{Seconds: 10}})
	twice := protowire.AppendTag(rec, recTimestampField, protowire.BytesType)
	twice = protowire.AppendBytes(twice, marshal(t, &timestamppb.Timestamp{Nanos: 5}))
	other = append(other, event(records(twice)))
	other = append(other, event(records(protowire.AppendVarint(protowire.AppendTag(rec, 99, protowire.VarintType), 1))))
	other = append(other, event(records(protowire.AppendVarint(protowire.AppendTag(rec, recKeyField, protowire.VarintType), 5))))
	tsUnknown := protowire.AppendVarint(protowire.AppendTag(marshal(t, ts), 7, protowire.VarintType), 1)
	other = append(other, event(records(protowire.AppendBytes(protowire.AppendTag(nil, recTimestampField, protowire.BytesType), tsUnknown))))
	hdrUnknown := protowire.AppendVarint(protowire.AppendTag(marshal(t, &brokerv1.Header{Key: "h"}), 9, protowire.VarintType), 1)
	other = append(other, event(records(protowire.AppendBytes(protowire.AppendTag(nil, recHeadersField, protowire.BytesType), hdrUnknown))))
	other = append(other, event(protowire.AppendBytes(protowire.AppendTag(nil, crTopicField, protowire.BytesType), []byte{0xff})))
	badHeader := marshal(t, &brokerv1.Record{Headers: []*brokerv1.Header{{Key: "x"}}})
	badHeader[len(badHeader)-1] = 0xff // the header key's one byte
	other = append(other, event(records(badHeader)))
	other = append(other, event(protowire.AppendVarint(protowire.AppendTag(body, 40, protowire.VarintType), 1)))
	two := event(body)
	other = append(other, append(two, two...))
	cut := event(body)
	other = append(other, cut[:len(cut)-1]) // cut short
	return own, other
}

// records is a ConsumeRecords body holding the one record rec.
func records(rec []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(nil, crRecordsField, protowire.BytesType), rec)
}

// event is a ConsumeResponse whose records event is body.
func event(body []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(nil, consumeRecordsEventField, protowire.BytesType), body)
}
