package broker

import (
	"bytes"
	"fmt"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// txnCases are requests covering every field, presence and the
// fallbacks.
func txnCases() [][]byte {
	stamp := &timestamppb.Timestamp{Seconds: 1700000000, Nanos: 5e8}
	msgs := []*brokerv1.ProduceAndCommitRequest{
		{},
		{TransactionalId: "app-0", ProducerId: 7, ProducerEpoch: 3},
		{TransactionalId: "app-1", ProducerId: -1, ProducerEpoch: -1, MemberEpoch: -5, Group: "g", MemberId: "m"},
		{TransactionalId: "app-2", Topics: []*brokerv1.TopicRecords{{Topic: "empty"}, {}}},
		{
			TransactionalId: "app-3", ProducerId: 1 << 40, ProducerEpoch: 1<<15 - 1, Group: "app",
			Topics: []*brokerv1.TopicRecords{
				{Topic: "out", Records: []*brokerv1.ProduceRecord{
					{Key: []byte("k"), Value: []byte("v"), Timestamp: stamp},
					{Key: []byte{}, Value: []byte{}, Timestamp: &timestamppb.Timestamp{}},
					{Value: bytes.Repeat([]byte{7}, 300), Partition: ptr(int32(2))},
					{Headers: []*brokerv1.Header{{Key: "a", Value: []byte("1")}, {Key: "b"}}},
					{},
				}},
				{Topic: "app-aggregate-0001-changelog", Records: []*brokerv1.ProduceRecord{
					{Key: []byte("k"), Timestamp: stamp, Partition: ptr(int32(0))},
				}},
			},
			Offsets: []*brokerv1.OffsetCommit{
				{Topic: "in", Partition: 0, Offset: 42, Metadata: "stream-time=1700000000000"},
				{Topic: "in", Partition: -1, Offset: -1},
				{},
			},
		},
	}
	var out [][]byte
	for _, m := range msgs {
		b, err := proto.Marshal(m)
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	good := out[len(out)-1]
	// Fallbacks: an unknown field, a known one with another wire type, a
	// repeated timestamp (protobuf merges), invalid UTF-8, truncations.
	out = append(out,
		protowire.AppendVarint(protowire.AppendTag(bytes.Clone(good), 99, protowire.VarintType), 1),
		protowire.AppendBytes(protowire.AppendTag(nil, wireTxnProducerID, protowire.BytesType), []byte("x")),
		protowire.AppendVarint(protowire.AppendTag(nil, wireTxnID, protowire.VarintType), 1),
		protowire.AppendBytes(protowire.AppendTag(nil, wireTxnGroup, protowire.BytesType), []byte{0xff, 0xfe}),
		protowire.AppendBytes(protowire.AppendTag(nil, wireTxnOffsets, protowire.BytesType),
			protowire.AppendBytes(protowire.AppendTag(nil, wireOffsetMetadata, protowire.BytesType), []byte{0xc0})),
		protowire.AppendBytes(protowire.AppendTag(nil, wireTxnOffsets, protowire.BytesType),
			protowire.AppendVarint(protowire.AppendTag(nil, 9, protowire.VarintType), 1)),
		protowire.AppendBytes(protowire.AppendTag(nil, wireTxnTopics, protowire.BytesType),
			protowire.AppendVarint(protowire.AppendTag(nil, 3, protowire.VarintType), 1)),
		protowire.AppendBytes(protowire.AppendTag(nil, wireTxnTopics, protowire.BytesType),
			protowire.AppendBytes(protowire.AppendTag(nil, wireTopicRecordsRecords, protowire.BytesType),
				append(protowire.AppendBytes(protowire.AppendTag(nil, wireProduceRecordTimestamp, protowire.BytesType), []byte{8, 1}),
					protowire.AppendBytes(protowire.AppendTag(nil, wireProduceRecordTimestamp, protowire.BytesType), []byte{16, 2})...))),
		good[:len(good)-1],
		good[:len(good)/2],
		[]byte{0xff},
	)
	return out
}

func TestDecodeProduceAndCommitRequestMatchesProtobuf(t *testing.T) {
	for i, data := range txnCases() {
		t.Run(fmt.Sprint(i), func(t *testing.T) { decodesAsProtobuf[brokerv1.ProduceAndCommitRequest](t, groupCodec{}, data) })
	}
}

func FuzzDecodeProduceAndCommitRequest(f *testing.F) {
	for _, data := range txnCases() {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		decodesAsProtobuf[brokerv1.ProduceAndCommitRequest](t, groupCodec{}, data)
	})
}

// txnRequestBytes is a stream task's commit: n output records and n
// changelog records (string keys, 8-byte values, timestamps; the changelog
// ones with a partition) and the offsets of two inputs.
func txnRequestBytes(n int) []byte {
	req := &brokerv1.ProduceAndCommitRequest{TransactionalId: "bench-count-0", ProducerId: 1000, ProducerEpoch: 2, Group: "bench-count",
		Topics: []*brokerv1.TopicRecords{{Topic: "bench-out"}, {Topic: "bench-count-aggregate-0001-changelog"}},
		Offsets: []*brokerv1.OffsetCommit{
			{Topic: "bench-in", Offset: 123456, Metadata: "stream-time=1700000000000"},
			{Topic: "bench-count-repartition-0002-repartition", Offset: 654321, Metadata: "stream-time=1700000000000"},
		}}
	for i := range n {
		ts := &timestamppb.Timestamp{Seconds: 1700000000 + int64(i)}
		key := []byte(fmt.Sprintf("key-%d", i))
		req.Topics[0].Records = append(req.Topics[0].Records, &brokerv1.ProduceRecord{Key: key, Value: []byte("\x00\x00\x00\x00\x01\x02\x03\x04"), Timestamp: ts})
		req.Topics[1].Records = append(req.Topics[1].Records, &brokerv1.ProduceRecord{Key: key, Value: []byte{2, 4}, Timestamp: ts, Partition: ptr(int32(0))})
	}
	b, err := proto.Marshal(req)
	if err != nil {
		panic(err)
	}
	return b
}

// The fast path allocates per request and per offset, not per record.
func TestDecodeProduceAndCommitRequestAllocations(t *testing.T) {
	data := txnRequestBytes(500)
	decodesAsProtobuf[brokerv1.ProduceAndCommitRequest](t, groupCodec{}, data)
	allocs := testing.AllocsPerRun(50, func() {
		var req brokerv1.ProduceAndCommitRequest
		if err := (groupCodec{}).Unmarshal(data, &req); err != nil {
			t.Fatal(err)
		}
	})
	// The copy, the record, pointer, timestamp and partition slabs, the
	// topic slab and its pointers, the two topic names, the id, the group,
	// two offsets with their topic and metadata strings, the offsets slice.
	if allocs > 20 && !raceEnabled {
		t.Errorf("decoding 1,000 records took %.0f allocations, want at most 20", allocs)
	}
}

// BenchmarkDecodeProduceAndCommitRequest compares the fast path with
// protobuf-go on a commit of 500 output and 500 changelog records.
func BenchmarkDecodeProduceAndCommitRequest(b *testing.B) {
	data := txnRequestBytes(500)
	b.Run("groupCodec", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for range b.N {
			var req brokerv1.ProduceAndCommitRequest
			if err := (groupCodec{}).Unmarshal(data, &req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("protobuf-go", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for range b.N {
			var req brokerv1.ProduceAndCommitRequest
			if err := proto.Unmarshal(data, &req); err != nil {
				b.Fatal(err)
			}
		}
	})
}
