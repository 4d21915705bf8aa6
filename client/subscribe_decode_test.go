package client

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// viaProto decodes b with the generated code, as the consumer did before
// decodeSubscribeResponse.
func viaProto(b []byte) (partitionRecords, error) {
	var m brokerv1.SubscribeResponse
	if err := proto.Unmarshal(b, &m); err != nil {
		return partitionRecords{}, err
	}
	return partitionRecords{records: appendProtoRecords(nil, m.GetRecords()), partition: m.GetPartition(), highWatermark: m.GetHighWatermark()}, nil
}

// checkLikeProto says where decodeSubscribeResponse and proto.Unmarshal
// disagree on b: one fails and not the other, or the records, partition or
// high watermark differ (nil and empty bytes told apart).
func checkLikeProto(t *testing.T, b []byte) {
	t.Helper()
	want, werr := viaProto(b)
	got, gerr := decodeSubscribeResponse(b, nil)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("proto.Unmarshal: %v; decodeSubscribeResponse: %v (bytes %x)", werr, gerr, b)
	}
	if werr != nil {
		return
	}
	if len(got.records) == 0 {
		got.records = nil
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("bytes %x:\nproto:   %+v\ndecoded: %+v", b, want, got)
	}
}

func marshal(t testing.TB, m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func subscribeSamples(t testing.TB) [][]byte {
	ts := timestamppb.New(time.Date(2026, 12, 5, 3, 4, 5, 678, time.UTC))
	full := &brokerv1.SubscribeResponse{Partition: 3, HighWatermark: 1 << 40, Records: []*brokerv1.Record{
		{Partition: 3, Offset: 7, Timestamp: ts, Key: []byte("k"), Value: []byte("\x00\x00\x00\x00\x01value")},
		{Partition: 3, Offset: 8, Key: []byte{}, Value: nil}, // empty key, null value
		{Partition: 3, Offset: 9, Headers: []*brokerv1.Header{{Key: "a", Value: nil}, { // empty header value
			Key: "__value_schema_id", Value: []byte{0, 0, 0, 0, 2}}}},
		{Partition: -1, Offset: -5, Timestamp: &timestamppb.Timestamp{Seconds: -62135596800, Nanos: -1}},
	}}
	var out [][]byte
	out = append(out, marshal(t, full), nil, marshal(t, &brokerv1.SubscribeResponse{Partition: 1}))
	// Unknown fields everywhere, a repeated timestamp (merged), a field of
	// another wire type than declared (skipped as unknown), a group.
	rec := marshal(t, &brokerv1.Record{Offset: 1, Timestamp: &timestamppb.Timestamp{Seconds: 10}})
	rec = protowire.AppendTag(rec, recTimestampField, protowire.BytesType)
	rec = protowire.AppendBytes(rec, marshal(t, &timestamppb.Timestamp{Nanos: 5}))
	rec = protowire.AppendTag(rec, 99, protowire.Fixed32Type)
	rec = protowire.AppendFixed32(rec, 1)
	rec = protowire.AppendTag(rec, recKeyField, protowire.VarintType) // key as a varint: unknown
	rec = protowire.AppendVarint(rec, 5)
	rec = protowire.AppendTag(rec, 100, protowire.StartGroupType)
	rec = protowire.AppendTag(rec, 1, protowire.VarintType)
	rec = protowire.AppendVarint(rec, 1)
	rec = protowire.AppendTag(rec, 100, protowire.EndGroupType)
	var b []byte
	b = protowire.AppendTag(b, subRecordsField, protowire.BytesType)
	b = protowire.AppendBytes(b, rec)
	b = protowire.AppendTag(b, 50, protowire.BytesType)
	b = protowire.AppendBytes(b, []byte("unknown"))
	b = protowire.AppendTag(b, subPartitionField, protowire.VarintType)
	b = protowire.AppendVarint(b, 1<<33|4) // int32 keeps the low bits
	out = append(out, b)
	return out
}

func TestDecodeSubscribeResponseLikeProto(t *testing.T) {
	for _, b := range subscribeSamples(t) {
		checkLikeProto(t, b)
	}
}

func TestDecodeSubscribeResponseValues(t *testing.T) {
	b := subscribeSamples(t)[0]
	res, err := decodeSubscribeResponse(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := res.records
	switch {
	case res.partition != 3 || res.highWatermark != 1<<40 || len(r) != 4:
		t.Fatalf("partition %d, high watermark %d, %d records", res.partition, res.highWatermark, len(r))
	case string(r[0].key) != "k" || r[0].offset != 7 || !r[0].timestamp.Equal(time.Date(2026, 12, 5, 3, 4, 5, 678, time.UTC)):
		t.Errorf("record 0: %+v", r[0])
	case r[1].key == nil || len(r[1].key) != 0 || r[1].value != nil:
		t.Errorf("record 1: key %#v (want empty, not nil), value %#v (want nil)", r[1].key, r[1].value)
	case len(r[2].headers) != 2 || r[2].headers[0].Value != nil || r[2].headers[1].Key != "__value_schema_id":
		t.Errorf("record 2 headers: %+v", r[2].headers)
	case !r[1].timestamp.IsZero():
		t.Errorf("record 1 has no timestamp, got %v", r[1].timestamp)
	}
	// The bytes alias the response: nothing is copied per record.
	if &r[0].key[0] != &b[strings.Index(string(b), "k\x2a")] {
		// "k" followed by the value's tag (field 5, bytes: 0x2a)
		t.Errorf("key does not alias the response bytes")
	}
	// Decoding into a used slice reuses it.
	again, err := decodeSubscribeResponse(b, res.records)
	if err != nil || &again.records[0] != &res.records[0] {
		t.Errorf("the records slice was not reused (err %v)", err)
	}
}

func TestDecodeSubscribeResponseErrors(t *testing.T) {
	good := subscribeSamples(t)[0]
	badUTF8 := marshal(t, &brokerv1.Record{Headers: []*brokerv1.Header{{Key: "ok"}}})
	badUTF8[len(badUTF8)-1] = 0xff // the key's last byte
	var withBad []byte
	withBad = protowire.AppendTag(withBad, subRecordsField, protowire.BytesType)
	withBad = protowire.AppendBytes(withBad, badUTF8)
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"truncated", good[:20], "SubscribeResponse.records"},
		{"field zero", []byte{0x00, 0x01}, "SubscribeResponse"},
		{"record overruns", []byte{0x0a, 0x10, 0x08}, "SubscribeResponse.records"},
		{"bad timestamp", []byte{0x0a, 0x03, 0x1a, 0x01, 0x08}, "Record.timestamp"},
		{"header key not UTF-8", withBad, "invalid UTF-8"},
		{"unterminated group", []byte{0x0b}, "SubscribeResponse field 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeSubscribeResponse(tc.b, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
			if _, perr := viaProto(tc.b); perr == nil {
				t.Fatalf("proto.Unmarshal accepts it: the case tests nothing")
			}
		})
	}
}

func TestSubscribeCodecKeepsACopy(t *testing.T) {
	b := subscribeSamples(t)[0]
	buf := append([]byte(nil), b...)
	var m brokerv1.SubscribeResponse
	if err := (wireCodec{}).Unmarshal(buf, &m); err != nil {
		t.Fatal(err)
	}
	clear(buf) // connect reuses its buffer
	res, err := decodeSubscribeMessage(&m, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := viaProto(b)
	if !reflect.DeepEqual(want, res) {
		t.Fatalf("got %+v, want %+v", res, want)
	}
	// Other messages are plain protobuf.
	req := &brokerv1.SubscribeRequest{Topic: "t", MaxBytes: 5}
	out, err := (wireCodec{}).Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var back brokerv1.SubscribeRequest
	if err := (wireCodec{}).Unmarshal(out, &back); err != nil || !proto.Equal(req, &back) {
		t.Fatalf("request round trip: %v, %v", &back, err)
	}
	if err := (wireCodec{}).Unmarshal(out, new(int)); err == nil {
		t.Fatal("unmarshal into an int: no error")
	}
}

// FuzzDecodeSubscribeResponse checks that the consumer's decoder of
// Subscribe responses (bytes from the network) agrees with proto.Unmarshal
// on any input: the same records, or an error from both.
func FuzzDecodeSubscribeResponse(f *testing.F) {
	for _, b := range subscribeSamples(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkLikeProto(t, b)
	})
}
