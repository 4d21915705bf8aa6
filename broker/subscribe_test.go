package broker_test

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sluicehq/sluice/broker"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// subscription reads a Subscribe stream.
type subscription struct {
	t      *testing.T
	stream *connect.ServerStreamForClient[brokerv1.SubscribeResponse]
	cancel context.CancelFunc
	msgs   int
}

// subscribe opens a stream and waits for its response headers: from then
// on the start positions are fixed.
func subscribe(t *testing.T, c brokerv1connect.BrokerServiceClient, req *brokerv1.SubscribeRequest) *subscription {
	t.Helper()
	ctx, cancel := context.WithCancel(ctxT(t))
	st, err := c.Subscribe(ctx, connect.NewRequest(req))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	st.ResponseHeader()
	s := &subscription{t: t, stream: st, cancel: cancel}
	t.Cleanup(func() { cancel(); st.Close() })
	return s
}

// next returns the next n records, checking each message holds one
// partition's records in offset order.
func (s *subscription) next(n int) []*brokerv1.Record {
	s.t.Helper()
	var out []*brokerv1.Record
	for len(out) < n {
		if !s.stream.Receive() {
			s.t.Fatalf("stream ended after %d of %d records: %v", len(out), n, s.stream.Err())
		}
		s.msgs++
		m := s.stream.Msg()
		for i, r := range m.GetRecords() {
			if r.GetPartition() != m.GetPartition() {
				s.t.Fatalf("message of partition %d holds a record of partition %d", m.GetPartition(), r.GetPartition())
			}
			if i > 0 && r.GetOffset() <= m.GetRecords()[i-1].GetOffset() {
				s.t.Fatalf("partition %d: offset %d after %d", m.GetPartition(), r.GetOffset(), m.GetRecords()[i-1].GetOffset())
			}
		}
		out = append(out, m.GetRecords()...)
	}
	if len(out) != n {
		s.t.Fatalf("got %d records, want %d", len(out), n)
	}
	return out
}

func values(recs []*brokerv1.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, string(r.GetValue()))
	}
	return out
}

func TestSubscribeOnePartitionFromEarliest(t *testing.T) {
	e := newEnv(t)
	e.createTopic("t", 2, nil)
	for i := range 5 {
		e.produce("t", &brokerv1.ProduceRecord{Value: []byte(fmt.Sprint("a", i)), Partition: ptr[int32](1)})
	}
	e.produce("t", &brokerv1.ProduceRecord{Value: []byte("elsewhere"), Partition: ptr[int32](0)})
	s := subscribe(t, e.client, &brokerv1.SubscribeRequest{
		Topic: "t", Partition: ptr[int32](1),
		Start: &brokerv1.SubscribeRequest_Position{Position: brokerv1.StartPosition_START_POSITION_EARLIEST},
	})
	if got := fmt.Sprint(values(s.next(5))); got != "[a0 a1 a2 a3 a4]" {
		t.Fatalf("catch-up: %s", got)
	}
	// Then records as they are appended.
	e.produce("t", &brokerv1.ProduceRecord{Value: []byte("b0"), Partition: ptr[int32](1)})
	recs := s.next(1)
	if string(recs[0].GetValue()) != "b0" || recs[0].GetOffset() != 5 {
		t.Fatalf("live: got %q at %d", recs[0].GetValue(), recs[0].GetOffset())
	}
}

func TestSubscribeAllPartitions(t *testing.T) {
	e := newEnv(t)
	e.createTopic("t", 3, nil)
	var recs []*brokerv1.ProduceRecord
	for i := range 30 {
		recs = append(recs, val(fmt.Sprint(i)))
	}
	// Three requests: each request's keyless records go to the next partition.
	for i := 0; i < 30; i += 10 {
		e.produce("t", recs[i:i+10]...)
	}
	s := subscribe(t, e.client, &brokerv1.SubscribeRequest{
		Topic: "t", Start: &brokerv1.SubscribeRequest_Position{Position: brokerv1.StartPosition_START_POSITION_EARLIEST},
	})
	got := s.next(30)
	next := map[int32]int64{}
	for _, r := range got {
		if r.GetOffset() != next[r.GetPartition()] {
			t.Fatalf("partition %d: offset %d, want %d", r.GetPartition(), r.GetOffset(), next[r.GetPartition()])
		}
		next[r.GetPartition()]++
	}
	if len(next) != 3 {
		t.Fatalf("records from %d partitions, want 3", len(next))
	}
	// New records on every partition arrive too.
	for i := 0; i < 6; i += 2 {
		e.produce("t", recs[i:i+2]...)
	}
	if n := len(s.next(6)); n != 6 {
		t.Fatalf("live: %d records", n)
	}
}

func TestSubscribeFromLatestAndOffset(t *testing.T) {
	e := newEnv(t)
	e.createTopic("t", 1, nil)
	e.produce("t", val("0"), val("1"), val("2"), val("3"))

	latest := subscribe(t, e.client, &brokerv1.SubscribeRequest{Topic: "t"}) // no start: latest
	fromTwo := subscribe(t, e.client, &brokerv1.SubscribeRequest{Topic: "t", Start: &brokerv1.SubscribeRequest_Offset{Offset: 2}})
	e.produce("t", val("4"))
	if got := latest.next(1); got[0].GetOffset() != 4 {
		t.Errorf("from latest: first record at %d, want 4", got[0].GetOffset())
	}
	if got := fmt.Sprint(values(fromTwo.next(3))); got != "[2 3 4]" {
		t.Errorf("from offset 2: %s", got)
	}
}

func TestSubscribeChunksByMaxBytes(t *testing.T) {
	e := newEnv(t)
	e.createTopic("t", 1, nil)
	var recs []*brokerv1.ProduceRecord
	for range 10 {
		recs = append(recs, &brokerv1.ProduceRecord{Value: make([]byte, 1000)})
	}
	e.produce("t", recs...)
	s := subscribe(t, e.client, &brokerv1.SubscribeRequest{
		Topic: "t", MaxBytes: 2500,
		Start: &brokerv1.SubscribeRequest_Position{Position: brokerv1.StartPosition_START_POSITION_EARLIEST},
	})
	s.next(10)
	if s.msgs < 4 {
		t.Errorf("10 records of 1000 bytes came in %d messages of at most 2500 bytes", s.msgs)
	}
}

func TestSubscribeErrors(t *testing.T) {
	e := newEnv(t)
	e.createTopic("t", 2, nil)
	e.produce("t", &brokerv1.ProduceRecord{Value: []byte("x"), Partition: ptr[int32](0)})
	tests := []struct {
		name string
		req  *brokerv1.SubscribeRequest
		code connect.Code
		msg  string
	}{
		{"unknown topic", &brokerv1.SubscribeRequest{Topic: "nope"}, connect.CodeNotFound, `subscribe: topic "nope": topic not found`},
		{"unknown partition", &brokerv1.SubscribeRequest{Topic: "t", Partition: ptr[int32](2)}, connect.CodeInvalidArgument, "subscribe: topic t: partition 2 does not exist (the topic has partitions 0..1)"},
		{"offset past the end", &brokerv1.SubscribeRequest{Topic: "t", Start: &brokerv1.SubscribeRequest_Offset{Offset: 1}}, connect.CodeOutOfRange, "subscribe t/1: offset 1: offset out of range: valid offsets are 0 to 0"},
		{"max bytes", &brokerv1.SubscribeRequest{Topic: "t", MaxBytes: -1}, connect.CodeInvalidArgument, "subscribe t: max_bytes -1: want 0 (default 1048576) to 16777216"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := e.client.Subscribe(ctxT(t), connect.NewRequest(tt.req))
			if err == nil {
				for st.Receive() {
				}
				err = st.Err()
				st.Close()
			}
			if connect.CodeOf(err) != tt.code || connectMessage(err) != tt.msg {
				t.Errorf("got %v %q\nwant %v %q", connect.CodeOf(err), connectMessage(err), tt.code, tt.msg)
			}
		})
	}
}

func TestSubscribeEndsWhenTopicDeleted(t *testing.T) {
	e := newEnv(t)
	e.createTopic("t", 2, nil)
	s := subscribe(t, e.client, &brokerv1.SubscribeRequest{Topic: "t"})
	if _, err := e.topics.DeleteTopic(ctxT(t), connect.NewRequest(&brokerv1.DeleteTopicRequest{Name: "t"})); err != nil {
		t.Fatal(err)
	}
	for s.stream.Receive() {
	}
	if err := s.stream.Err(); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("stream ended with %v, want NotFound", err)
	}
}

// TestSubscribeEndsOnDrain: shutting the broker down ends idle streams with
// Unavailable, so an HTTP server can drain.
func TestSubscribeEndsOnDrain(t *testing.T) {
	waiting := make(chan struct{}, 1)
	e := newEnv(t)
	e.hook = signal(waiting)
	e.restart()
	e.createTopic("t", 1, nil)
	s := subscribe(t, e.client, &brokerv1.SubscribeRequest{Topic: "t"})
	<-waiting
	e.b.Drain()
	for s.stream.Receive() {
	}
	if err := s.stream.Err(); connect.CodeOf(err) != connect.CodeUnavailable {
		t.Fatalf("stream ended with %v, want Unavailable", err)
	}
}

// TestSubscribeAndFetchEveryProtocol reads the same records over Connect,
// gRPC and gRPC-Web with the binary codec (the pre-encoded wire path) and
// with JSON (the ordinary path): every client decodes the same messages.
func TestSubscribeAndFetchEveryProtocol(t *testing.T) {
	e := newEnv(t)
	e.createTopic("t", 2, nil)
	var in []*brokerv1.ProduceRecord
	for i := range 40 {
		r := &brokerv1.ProduceRecord{Value: []byte(fmt.Sprint("v", i)), Partition: ptr(int32(i % 2))}
		switch i % 4 {
		case 1:
			r.Key = []byte(fmt.Sprint("k", i))
		case 2:
			r.Key, r.Value = []byte{}, []byte{}
			r.Headers = []*brokerv1.Header{{Key: "h", Value: []byte("1")}, {Key: "é"}, {Value: []byte("no key")}}
		case 3:
			r.Value = nil
			r.Timestamp = timestamppb.New(time.UnixMilli(-1500))
		}
		in = append(in, r)
	}
	e.produce("t", in...)
	noGzip := connect.WithAcceptCompression("gzip", nil, nil)
	clients := []struct {
		name string
		opts []connect.ClientOption
	}{
		{"connect+json", []connect.ClientOption{connect.WithProtoJSON()}}, // the reference: the ordinary path
		{"connect+proto", nil},
		{"grpc", []connect.ClientOption{connect.WithGRPC()}},
		{"grpc+json", []connect.ClientOption{connect.WithGRPC(), connect.WithProtoJSON()}},
		{"grpc-web", []connect.ClientOption{connect.WithGRPCWeb()}},
	}
	var refSub, refFetch []*brokerv1.Record
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			client := brokerv1connect.NewBrokerServiceClient(h2cClient(), e.srv.URL, append(c.opts, noGzip)...)
			s := subscribe(t, client, &brokerv1.SubscribeRequest{
				Topic: "t", Start: &brokerv1.SubscribeRequest_Position{Position: brokerv1.StartPosition_START_POSITION_EARLIEST},
			})
			sub := s.next(len(in))
			var fetched []*brokerv1.Record
			for p := range int32(2) {
				res, err := client.Fetch(ctxT(t), connect.NewRequest(&brokerv1.FetchRequest{Topic: "t", Partition: p}))
				if err != nil {
					t.Fatal(err)
				}
				if res.Msg.GetHighWatermark() != 20 || res.Msg.GetLogStartOffset() != 0 {
					t.Fatalf("fetch %d: high watermark %d, log start %d; want 20, 0", p, res.Msg.GetHighWatermark(), res.Msg.GetLogStartOffset())
				}
				fetched = append(fetched, res.Msg.GetRecords()...)
			}
			if refSub == nil {
				refSub, refFetch = sub, fetched
				// The reference itself must hold what was produced.
				for _, r := range fetched {
					want := in[2*int(r.GetOffset())+int(r.GetPartition())]
					if !bytes.Equal(r.GetKey(), want.GetKey()) || (r.Key == nil) != (want.Key == nil) ||
						!bytes.Equal(r.GetValue(), want.GetValue()) || (r.Value == nil) != (want.Value == nil) || len(r.GetHeaders()) != len(want.GetHeaders()) {
						t.Fatalf("record %d/%d is %v, produced %v", r.GetPartition(), r.GetOffset(), r, want)
					}
					if want.Timestamp != nil && !r.GetTimestamp().AsTime().Equal(want.GetTimestamp().AsTime()) {
						t.Fatalf("record %d/%d: timestamp %v, produced %v", r.GetPartition(), r.GetOffset(), r.GetTimestamp().AsTime(), want.GetTimestamp().AsTime())
					}
				}
				return
			}
			sameRecords(t, "subscribe", sub, refSub)
			sameRecords(t, "fetch", fetched, refFetch)
		})
	}
}

// sameRecords compares records in order; for subscribe the partitions may
// interleave differently, so both sides are ordered first.
func sameRecords(t *testing.T, what string, got, want []*brokerv1.Record) {
	t.Helper()
	order := func(rs []*brokerv1.Record) []*brokerv1.Record {
		rs = slices.Clone(rs)
		slices.SortStableFunc(rs, func(a, b *brokerv1.Record) int {
			return cmp.Or(cmp.Compare(a.GetPartition(), b.GetPartition()), cmp.Compare(a.GetOffset(), b.GetOffset()))
		})
		return rs
	}
	got, want = order(got), order(want)
	if len(got) != len(want) {
		t.Fatalf("%s: %d records, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !proto.Equal(got[i], want[i]) {
			t.Fatalf("%s: record %d is %v, want %v", what, i, got[i], want[i])
		}
	}
}

// TestSubscribeFirstChunkIsSmall: with more stored than one message holds,
// each partition's first message holds at most FirstSubscribeChunkBytes
// (the subscriber starts sooner), the next ones up to max_bytes.
func TestSubscribeFirstChunkIsSmall(t *testing.T) {
	e := newEnv(t)
	e.createTopic("t", 2, nil)
	for p := range int32(2) {
		var recs []*brokerv1.ProduceRecord
		for range 200 {
			recs = append(recs, &brokerv1.ProduceRecord{Value: make([]byte, 1000), Partition: ptr(p)})
		}
		e.produce("t", recs...)
	}
	s := subscribe(t, e.client, &brokerv1.SubscribeRequest{
		Topic: "t", MaxBytes: 1 << 20,
		Start: &brokerv1.SubscribeRequest_Position{Position: brokerv1.StartPosition_START_POSITION_EARLIEST},
	})
	var sizes [2][]int
	for got := 0; got < 400; {
		if !s.stream.Receive() {
			t.Fatal(s.stream.Err())
		}
		m := s.stream.Msg()
		sizes[m.GetPartition()] = append(sizes[m.GetPartition()], proto.Size(m))
		got += len(m.GetRecords())
	}
	for p, ss := range sizes {
		if len(ss) != 2 || ss[0] > broker.FirstSubscribeChunkBytes+2000 || ss[1] < 100_000 {
			t.Errorf("partition %d: messages of %v bytes, want a first of at most about %d, then the rest in one", p, ss, broker.FirstSubscribeChunkBytes)
		}
	}
}
