package broker

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	registryv1 "github.com/sluicehq/sluice/proto/gen/sluice/registry/v1"
)

// decodesAsProtobuf decodes data into a fresh M with codec and with
// proto.Unmarshal and fails unless both fail or both give equal messages
// (presence of optional fields included), and unless codec's message keeps
// nothing of data (connect reuses its buffer).
func decodesAsProtobuf[M any, P interface {
	*M
	proto.Message
}](t *testing.T, codec interface{ Unmarshal([]byte, any) error }, data []byte) {
	t.Helper()
	var want, got M
	wantErr := proto.Unmarshal(data, P(&want))
	in := bytes.Clone(data)
	gotErr := codec.Unmarshal(in, P(&got))
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("protobuf-go error %v, %T error %v, for % x", wantErr, codec, gotErr, data)
	}
	if wantErr != nil {
		return
	}
	if !proto.Equal(P(&want), P(&got)) {
		t.Fatalf("%T decoded\n%v\nprotobuf-go decoded\n%v\nfrom % x", codec, P(&got), P(&want), data)
	}
	clear(in)
	if !proto.Equal(P(&want), P(&got)) {
		t.Fatalf("%T's message changed when the input buffer was overwritten", codec)
	}
}

// sameAsProtobuf is decodesAsProtobuf for a ProduceRequest.
func sameAsProtobuf(t *testing.T, data []byte) {
	t.Helper()
	decodesAsProtobuf[brokerv1.ProduceRequest](t, produceCodec{}, data)
	// Giving the copy back leaves no records, or (protobuf-go's decoding,
	// which has no keeper) all of them.
	var req brokerv1.ProduceRequest
	if (produceCodec{}).Unmarshal(data, &req) != nil {
		return
	}
	n := len(req.Records)
	releaseProduceRequest(&req)
	if len(req.Records) != 0 && len(req.Records) != n {
		t.Fatalf("%d of %d records left after the release", len(req.Records), n)
	}
}

func ptr[T any](v T) *T { return &v }

// produceCases are requests covering every field, presence and the
// fallbacks.
func produceCases() [][]byte {
	msgs := []*brokerv1.ProduceRequest{
		{},
		{Topic: "orders"},
		{Topic: "orders", Records: []*brokerv1.ProduceRecord{{}}},
		{Topic: "orders", Records: []*brokerv1.ProduceRecord{
			{Key: []byte{}, Value: []byte{}},
			{Key: []byte("k"), Value: bytes.Repeat([]byte{7}, 1024), Partition: ptr(int32(3))},
			{Value: []byte("v"), Timestamp: &timestamppb.Timestamp{Seconds: 1700000000, Nanos: 5e8}},
			{Value: []byte("v"), Timestamp: &timestamppb.Timestamp{}},
			{Value: []byte("v"), Partition: ptr(int32(-1))},
			{Headers: []*brokerv1.Header{{Key: "a", Value: []byte("1")}, {Key: "", Value: nil}, {Key: "b", Value: []byte{}}}},
		}},
		{Topic: "t", ValueSchema: &registryv1.Schema{Text: `"string"`}, KeySchema: &registryv1.Schema{Text: `"long"`},
			Records: []*brokerv1.ProduceRecord{{Value: []byte("x")}}},
	}
	var out [][]byte
	for _, m := range msgs {
		b, err := proto.Marshal(m)
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	rec := protowire.AppendTag(nil, wireProduceRecordValue, protowire.BytesType)
	rec = protowire.AppendBytes(rec, []byte("v"))
	stamp := protowire.AppendTag(nil, wireTimestampSeconds, protowire.VarintType)
	stamp = protowire.AppendVarint(stamp, 9)
	withRecord := func(r []byte) []byte {
		b := protowire.AppendTag(nil, wireProduceRecords, protowire.BytesType)
		return protowire.AppendBytes(b, r)
	}
	// Fallbacks: an unknown field in a record and at the top; a repeated
	// timestamp (merged); a repeated value schema (merged); invalid UTF-8
	// in the topic; a truncated record; a key given twice (last wins).
	unknown := protowire.AppendTag(append([]byte(nil), rec...), 99, protowire.VarintType)
	unknown = protowire.AppendVarint(unknown, 1)
	twoStamps := protowire.AppendTag(append([]byte(nil), rec...), wireProduceRecordTimestamp, protowire.BytesType)
	twoStamps = protowire.AppendBytes(twoStamps, stamp)
	twoStamps = protowire.AppendTag(twoStamps, wireProduceRecordTimestamp, protowire.BytesType)
	twoStamps = protowire.AppendBytes(twoStamps, protowire.AppendVarint(protowire.AppendTag(nil, wireTimestampNanos, protowire.VarintType), 3))
	twoKeys := protowire.AppendTag(append([]byte(nil), rec...), wireProduceRecordKey, protowire.BytesType)
	twoKeys = protowire.AppendBytes(twoKeys, []byte("first"))
	twoKeys = protowire.AppendTag(twoKeys, wireProduceRecordKey, protowire.BytesType)
	twoKeys = protowire.AppendBytes(twoKeys, []byte("second"))
	schema, _ := proto.Marshal(&registryv1.Schema{Text: `"int"`})
	twoSchemas := protowire.AppendTag(nil, wireProduceValueSchema, protowire.BytesType)
	twoSchemas = protowire.AppendBytes(twoSchemas, schema)
	twoSchemas = protowire.AppendTag(twoSchemas, wireProduceValueSchema, protowire.BytesType)
	twoSchemas = protowire.AppendBytes(twoSchemas, []byte{0x12, 0x01, 'x'})
	badTopic := protowire.AppendTag(nil, wireProduceTopic, protowire.BytesType)
	badTopic = protowire.AppendBytes(badTopic, []byte{0xff, 0xfe})
	topUnknown := protowire.AppendTag(withRecord(rec), 50, protowire.Fixed32Type)
	topUnknown = protowire.AppendFixed32(topUnknown, 1)
	out = append(out,
		withRecord(unknown), withRecord(twoStamps), withRecord(twoKeys), twoSchemas, badTopic, topUnknown,
		withRecord(rec)[:4], // truncated
	)
	return out
}

func TestDecodeProduceRequestMatchesProtobuf(t *testing.T) {
	for _, data := range produceCases() {
		sameAsProtobuf(t, data)
	}
}

func FuzzDecodeProduceRequest(f *testing.F) {
	for _, data := range produceCases() {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsProtobuf(t, data)
	})
}

// The fast path allocates per request, not per record.
func TestDecodeProduceRequestAllocations(t *testing.T) {
	data := produceRequestBytes(64, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		var req brokerv1.ProduceRequest
		if err := (produceCodec{}).Unmarshal(data, &req); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 5 {
		t.Errorf("decoding 64 records took %.0f allocations, want at most 5 (the message, the copy, the topic, the record slab and its pointers)", allocs)
	}
}

// produceRequestBytes is a request of n keyless records of size bytes, as
// the load generator sends.
func produceRequestBytes(n, size int) []byte {
	req := &brokerv1.ProduceRequest{Topic: "bench"}
	for range n {
		req.Records = append(req.Records, &brokerv1.ProduceRecord{Value: bytes.Repeat([]byte{'x'}, size)})
	}
	b, err := proto.Marshal(req)
	if err != nil {
		panic(err)
	}
	return b
}

// BenchmarkDecodeProduceRequest compares the fast path with protobuf-go on
// a request of 64 records of 1 KiB.
func BenchmarkDecodeProduceRequest(b *testing.B) {
	data := produceRequestBytes(64, 1024)
	b.Run("codec", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var req brokerv1.ProduceRequest
			if err := (produceCodec{}).Unmarshal(data, &req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("protobuf-go", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var req brokerv1.ProduceRequest
			if err := proto.Unmarshal(data, &req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// streamCases wrap produceCases in stream requests, with the stream
// message's own corner cases: no request, a repeated id, a repeated
// request (protobuf-go merges), an unknown field.
func streamCases() [][]byte {
	var out [][]byte
	for i, req := range produceCases() {
		out = append(out, protowire.AppendBytes(protowire.AppendTag(protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), uint64(i)), 2, protowire.BytesType), req))
	}
	one := out[2]
	out = append(out,
		nil,
		protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 7),
		append(append([]byte(nil), one...), one...),
		append(append([]byte(nil), one...), protowire.AppendVarint(protowire.AppendTag(nil, 9, protowire.VarintType), 1)...),
	)
	return out
}

func TestDecodeProduceStreamRequest(t *testing.T) {
	for _, data := range streamCases() {
		decodesAsProtobuf[brokerv1.ProduceStreamRequest](t, produceCodec{}, data)
	}
}

func FuzzDecodeProduceStreamRequest(f *testing.F) {
	for _, data := range streamCases() {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		decodesAsProtobuf[brokerv1.ProduceStreamRequest](t, produceCodec{}, data)
	})
}

// A request the fast path decoded gives its copy back once; one decoded by
// protobuf-go, or whose records were appended to, keeps its records.
func TestReleaseProduceRequest(t *testing.T) {
	data := produceRequestBytes(64, 1024)
	var req brokerv1.ProduceRequest
	if err := (produceCodec{}).Unmarshal(data, &req); err != nil {
		t.Fatal(err)
	}
	before := requestCopiesReleased.Load()
	releaseProduceRequest(&req)
	if req.Records != nil {
		t.Errorf("records left after the release: %d", len(req.Records))
	}
	releaseProduceRequest(&req)
	if n := requestCopiesReleased.Load() - before; n != 1 {
		t.Errorf("%d copies given back, want 1", n)
	}

	var slow brokerv1.ProduceRequest
	if err := proto.Unmarshal(data, &slow); err != nil {
		t.Fatal(err)
	}
	releaseProduceRequest(&slow)
	if len(slow.Records) != 64 || len(slow.Records[63].GetValue()) != 1024 {
		t.Errorf("protobuf-go's request lost its records: %d", len(slow.Records))
	}

	var grown brokerv1.ProduceRequest
	if err := (produceCodec{}).Unmarshal(data, &grown); err != nil {
		t.Fatal(err)
	}
	extra := &brokerv1.ProduceRecord{Value: []byte("appended")}
	grown.Records = append(grown.Records, extra) // overwrites the keeper
	releaseProduceRequest(&grown)
	if len(grown.Records) != 65 || grown.Records[64] != extra || len(grown.Records[0].GetValue()) != 1024 {
		t.Errorf("a request appended to was released: %d records", len(grown.Records))
	}
	if n := requestCopiesReleased.Load() - before; n != 1 {
		t.Errorf("%d copies given back, want 1", n)
	}
}

// With the copy given back, decoding takes it from the pool: four
// allocations per request (the message, the topic, the record slab and its
// pointers).
func TestDecodeProduceRequestReusesTheCopy(t *testing.T) {
	data := produceRequestBytes(64, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		var req brokerv1.ProduceRequest
		if err := (produceCodec{}).Unmarshal(data, &req); err != nil {
			t.Fatal(err)
		}
		releaseProduceRequest(&req)
	})
	limit := 4.0
	if raceEnabled {
		limit = 5 // sync.Pool drops a quarter of what it is given
	}
	if allocs > limit {
		t.Errorf("decoding 64 records and releasing them took %.2f allocations, want at most %.2f", allocs, limit)
	}
}
