package loadgen

import (
	"math/rand/v2"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// randomConsumeRecords builds a records event with every kind of record
// field.
func randomConsumeRecords(rng *rand.Rand) *brokerv1.ConsumeRecords {
	ev := &brokerv1.ConsumeRecords{Topic: "orders", Partition: rng.Int32N(8), HighWatermark: rng.Int64N(1 << 40)}
	off := rng.Int64N(1 << 30)
	for range rng.IntN(30) {
		off += 1 + rng.Int64N(3)
		r := &brokerv1.Record{Partition: ev.Partition, Offset: off, Timestamp: timestamppb.Now()}
		if rng.IntN(3) > 0 {
			r.Key = make([]byte, rng.IntN(100))
		}
		if rng.IntN(4) > 0 {
			r.Value = make([]byte, rng.IntN(3000))
		}
		for range rng.IntN(3) {
			r.Headers = append(r.Headers, &brokerv1.Header{Key: "h", Value: []byte("v")})
		}
		ev.Records = append(ev.Records, r)
	}
	return ev
}

// TestGroupCountingCodec checks the counting walk of ConsumeResponses
// against proto.Unmarshal, and that assignments are decoded as usual.
func TestGroupCountingCodec(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var c groupCountingCodec
	for i := range 300 {
		ev := randomConsumeRecords(rng)
		b, err := proto.Marshal(&brokerv1.ConsumeResponse{Event: &brokerv1.ConsumeResponse_Records{Records: ev}})
		if err != nil {
			t.Fatal(err)
		}
		var got brokerv1.ConsumeResponse
		if err := c.Unmarshal(b, &got); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		g := got.GetRecords()
		if g == nil || g.GetTopic() != ev.Topic || g.GetPartition() != ev.Partition || g.GetHighWatermark() != ev.HighWatermark || len(g.GetRecords()) != 0 {
			t.Fatalf("message %d: event %v, want topic %s, partition %d, high watermark %d and no records", i, g, ev.Topic, ev.Partition, ev.HighWatermark)
		}
		if want := summarise(nil, ev.GetRecords()); !slices.Equal(c.recs, want) {
			t.Fatalf("message %d: summary %v, want %v", i, c.recs, want)
		}
	}
	a := &brokerv1.ConsumeResponse{Event: &brokerv1.ConsumeResponse_Assignment{Assignment: &brokerv1.ConsumeAssignment{MemberId: "m", MemberEpoch: 3}}}
	b, err := proto.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var got brokerv1.ConsumeResponse
	if err := c.Unmarshal(b, &got); err != nil || !proto.Equal(&got, a) {
		t.Fatalf("assignment: %v, %v; want %v", &got, err, a)
	}
	// Truncated records events are refused, naming what is wrong.
	full, err := proto.Marshal(&brokerv1.ConsumeResponse{Event: &brokerv1.ConsumeResponse_Records{Records: randomConsumeRecords(rng)}})
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n < len(full); n += 1 + n/4 {
		if err := c.Unmarshal(full[:n], &got); err == nil {
			t.Fatalf("%d of %d bytes: no error", n, len(full))
		}
	}
}

// FuzzGroupCountingCodec: the walk never panics, and whenever
// proto.Unmarshal accepts a records-only message, the walk agrees with it.
func FuzzGroupCountingCodec(f *testing.F) {
	rng := rand.New(rand.NewPCG(9, 10))
	for range 4 {
		b, _ := proto.Marshal(&brokerv1.ConsumeResponse{Event: &brokerv1.ConsumeResponse_Records{Records: randomConsumeRecords(rng)}})
		f.Add(b)
	}
	f.Add([]byte{0x12, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		var c groupCountingCodec
		var got brokerv1.ConsumeResponse
		err := c.Unmarshal(data, &got)
		var ref brokerv1.ConsumeResponse
		if proto.Unmarshal(data, &ref) != nil || !onlyConsumeRecords(data) || ref.GetRecords() == nil {
			return
		}
		if err != nil {
			t.Fatalf("proto.Unmarshal accepts the message, the walk says %v", err)
		}
		if want := summarise(nil, ref.GetRecords().GetRecords()); !slices.Equal(c.recs, want) {
			t.Fatalf("summary %v, want %v", c.recs, want)
		}
	})
}
