package client

import (
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// checkGroupCodec decodes b as a ConsumeResponse with groupCodec and with
// proto.Unmarshal and fails unless both give the same message (or both
// fail). It reports whether groupCodec decoded b itself.
func checkGroupCodec(t *testing.T, b []byte) (own bool) {
	t.Helper()
	want := &brokerv1.ConsumeResponse{}
	werr := proto.Unmarshal(b, want)
	got := &brokerv1.ConsumeResponse{}
	// A message left over from an earlier Receive is replaced whole.
	got.Event = &brokerv1.ConsumeResponse_Assignment{Assignment: &brokerv1.ConsumeAssignment{MemberId: "stale"}}
	gerr := groupCodec{}.Unmarshal(b, got)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("proto.Unmarshal: %v; groupCodec: %v (bytes %x)", werr, gerr, b)
	}
	if werr == nil && !proto.Equal(want, got) {
		t.Fatalf("bytes %x:\nproto:      %v\ngroupCodec: %v", b, want, got)
	}
	return decodeConsumeRecords(b) != nil
}

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

// TestGroupCodecLikeProto: groupCodec decodes records responses itself,
// leaves everything it would read differently to proto, and gives what
// proto.Unmarshal gives either way.
func TestGroupCodecLikeProto(t *testing.T) {
	own, other := consumeSamples(t)
	for _, b := range own {
		if !checkGroupCodec(t, b) {
			t.Errorf("bytes %x: left to proto.Unmarshal, want decoded by groupCodec", b)
		}
	}
	for _, b := range other {
		if checkGroupCodec(t, b) {
			t.Errorf("bytes %x: decoded by groupCodec, want left to proto.Unmarshal", b)
		}
	}
}

// TestGroupCodecOwnsItsBytes: connect reuses the buffer it hands to
// Unmarshal, so the decoded records must not alias it.
func TestGroupCodecOwnsItsBytes(t *testing.T) {
	own, _ := consumeSamples(t)
	b := append([]byte(nil), own[0]...)
	var m brokerv1.ConsumeResponse
	if err := (groupCodec{}).Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := proto.Clone(&m)
	for i := range b {
		b[i] = 0xff
	}
	if !proto.Equal(want, &m) {
		t.Fatal("the decoded records changed with the buffer they were decoded from")
	}
}

func FuzzGroupCodec(f *testing.F) {
	own, other := consumeSamples(f)
	for _, b := range append(own, other...) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkGroupCodec(t, b)
	})
}

// BenchmarkGroupCodec: a response of 500 records of 100-byte values,
// decoded by groupCodec and by proto.Unmarshal.
func BenchmarkGroupCodec(b *testing.B) {
	recs := &brokerv1.ConsumeRecords{Topic: "orders", Partition: 1, HighWatermark: 1000}
	for i := range 500 {
		recs.Records = append(recs.Records, &brokerv1.Record{Partition: 1, Offset: int64(i),
			Timestamp: timestamppb.New(time.Unix(1700000000, 0)), Key: []byte("key-0042"), Value: make([]byte, 100)})
	}
	data := marshal(b, &brokerv1.ConsumeResponse{Event: &brokerv1.ConsumeResponse_Records{Records: recs}})
	for _, c := range []struct {
		name      string
		unmarshal func([]byte, any) error
	}{
		{"groupCodec", groupCodec{}.Unmarshal},
		{"proto", func(b []byte, m any) error { return proto.Unmarshal(b, m.(proto.Message)) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for range b.N {
				var m brokerv1.ConsumeResponse
				if err := c.unmarshal(data, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
