package loadgen

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// randomSubscribeResponse builds a message with every kind of record field.
func randomSubscribeResponse(rng *rand.Rand) *brokerv1.SubscribeResponse {
	m := &brokerv1.SubscribeResponse{Partition: rng.Int32N(8), HighWatermark: rng.Int64N(1 << 40)}
	off := rng.Int64N(1 << 30)
	for range rng.IntN(30) {
		off += 1 + rng.Int64N(3)
		r := &brokerv1.Record{Partition: m.Partition, Offset: off, Timestamp: timestamppb.Now()}
		if rng.IntN(3) > 0 {
			r.Key = make([]byte, rng.IntN(100))
		}
		if rng.IntN(4) > 0 {
			r.Value = make([]byte, rng.IntN(3000))
		}
		for range rng.IntN(3) {
			r.Headers = append(r.Headers, &brokerv1.Header{Key: "h", Value: []byte("v")})
		}
		m.Records = append(m.Records, r)
	}
	return m
}

// summaryOf is the reference summary, from the decoded message.
func summaryOf(m *brokerv1.SubscribeResponse) wireSummary {
	s := wireSummary{partition: m.GetPartition(), hwm: m.GetHighWatermark(), records: len(m.GetRecords())}
	for _, r := range m.GetRecords() {
		s.bytes += int64(len(r.GetKey()) + len(r.GetValue()))
		s.lastOffset = r.GetOffset()
	}
	return s
}

// TestWalkSubscribeResponse checks the counting walk against proto.Unmarshal
// and the codec against the messages it summarises.
func TestWalkSubscribeResponse(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var c countingCodec
	for i := range 300 {
		m := randomSubscribeResponse(rng)
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := walkSubscribeResponse(b)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if want := summaryOf(m); got != want {
			t.Fatalf("message %d: walk %+v, decoded %+v", i, got, want)
		}
		var msg brokerv1.SubscribeResponse
		if err := c.Unmarshal(b, &msg); err != nil {
			t.Fatal(err)
		}
		if c.last != got || msg.GetPartition() != m.GetPartition() || msg.GetHighWatermark() != m.GetHighWatermark() || len(msg.GetRecords()) != 0 {
			t.Fatalf("message %d: codec kept %+v and %v", i, c.last, &msg)
		}
		// Every cut of a message with records is malformed somewhere
		// inside a length-delimited field, or ends cleanly between fields.
		if len(b) > 2 {
			cut := b[:1+rng.IntN(len(b)-1)]
			if _, err := walkSubscribeResponse(cut); err != nil && !errors.Is(err, errWire) {
				t.Fatalf("message %d cut at %d: error %v does not wrap errWire", i, len(cut), err)
			}
		}
	}
	// Other messages are unmarshalled as usual.
	req := &brokerv1.SubscribeRequest{Topic: "t", MaxBytes: 7}
	b, err := c.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var back brokerv1.SubscribeRequest
	if err := c.Unmarshal(b, &back); err != nil || !proto.Equal(&back, req) {
		t.Fatalf("round trip of %v: %v, %v", req, &back, err)
	}
	if err := c.Unmarshal(b, fmt.Stringer(nil)); err == nil {
		t.Fatal("Unmarshal into a non-message: no error")
	}
}

// FuzzWalkSubscribeResponse feeds arbitrary bytes to the walk: it never
// panics, and whenever proto.Unmarshal also accepts them the two agree.
func FuzzWalkSubscribeResponse(f *testing.F) {
	rng := rand.New(rand.NewPCG(7, 8))
	for range 5 {
		b, err := proto.Marshal(randomSubscribeResponse(rng))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x0a, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := walkSubscribeResponse(b)
		var m brokerv1.SubscribeResponse
		if uerr := proto.Unmarshal(b, &m); uerr != nil || err != nil {
			return
		}
		if want := summaryOf(&m); got != want {
			t.Fatalf("walk %+v, decoded %+v", got, want)
		}
	})
}
