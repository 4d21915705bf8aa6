package broker_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

func TestFetchLimits(t *testing.T) {
	e := newEnv(t)
	e.createTopic("t", 1, nil)
	var recs []*brokerv1.ProduceRecord
	for range 10 {
		recs = append(recs, &brokerv1.ProduceRecord{Value: bytes.Repeat([]byte("v"), 1000)})
	}
	e.produce("t", recs...)
	res, err := e.client.Fetch(ctxT(t), connect.NewRequest(&brokerv1.FetchRequest{Topic: "t", Offset: 2, MaxRecords: 3}))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.Msg.GetRecords()); n != 3 || res.Msg.GetRecords()[0].GetOffset() != 2 {
		t.Errorf("max_records 3 from 2: got %d records from %d", n, res.Msg.GetRecords()[0].GetOffset())
	}
	// max_bytes smaller than one record still returns one record.
	res, err = e.client.Fetch(ctxT(t), connect.NewRequest(&brokerv1.FetchRequest{Topic: "t", Offset: 0, MaxBytes: 10}))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.Msg.GetRecords()); n < 1 || n > 2 {
		t.Errorf("max_bytes 10: got %d records, want about one", n)
	}
	// At the high watermark without max_wait: empty at once.
	res, err = e.client.Fetch(ctxT(t), connect.NewRequest(&brokerv1.FetchRequest{Topic: "t", Offset: 10}))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Msg.GetRecords()) != 0 || res.Msg.GetHighWatermark() != 10 || res.Msg.GetLogStartOffset() != 0 {
		t.Errorf("at the end: %d records, hw %d, lso %d", len(res.Msg.GetRecords()), res.Msg.GetHighWatermark(), res.Msg.GetLogStartOffset())
	}
}

// TestFetchLongPollWakesUp parks a Fetch with a long max_wait, then
// produces: the Fetch answers with the new record.
func TestFetchLongPollWakesUp(t *testing.T) {
	waiting := make(chan struct{}, 16)
	e := newEnv(t)
	e.hook = signal(waiting)
	e.restart() // the hook is installed at start
	e.createTopic("t", 2, nil)
	e.produce("t", &brokerv1.ProduceRecord{Value: []byte("old"), Partition: ptr[int32](1)})

	type result struct {
		res *brokerv1.FetchResponse
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := e.client.Fetch(ctxT(t), connect.NewRequest(&brokerv1.FetchRequest{
			Topic: "t", Partition: 1, Offset: 1, MaxWait: durationpb.New(time.Minute),
		}))
		if err != nil {
			done <- result{err: err}
			return
		}
		done <- result{res: res.Msg}
	}()
	<-waiting
	// A record on another partition does not answer the Fetch.
	e.produce("t", &brokerv1.ProduceRecord{Value: []byte("other"), Partition: ptr[int32](0)})
	e.produce("t", &brokerv1.ProduceRecord{Value: []byte("new"), Partition: ptr[int32](1)})
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(r.res.GetRecords()) != 1 || string(r.res.GetRecords()[0].GetValue()) != "new" || r.res.GetRecords()[0].GetOffset() != 1 {
		t.Fatalf("long poll answered %v", r.res.GetRecords())
	}
}

func TestFetchLongPollTimesOutEmpty(t *testing.T) {
	e := newEnv(t)
	e.createTopic("t", 1, nil)
	res, err := e.client.Fetch(ctxT(t), connect.NewRequest(&brokerv1.FetchRequest{
		Topic: "t", Offset: 0, MaxWait: durationpb.New(20 * time.Millisecond),
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Msg.GetRecords()) != 0 {
		t.Fatalf("got %d records from an empty topic", len(res.Msg.GetRecords()))
	}
}

// TestFetchLongPollEndsOnCancel: a client that gives up ends the wait.
func TestFetchLongPollEndsOnCancel(t *testing.T) {
	waiting := make(chan struct{}, 16)
	e := newEnv(t)
	e.hook = signal(waiting)
	e.restart()
	e.createTopic("t", 1, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.client.Fetch(ctx, connect.NewRequest(&brokerv1.FetchRequest{Topic: "t", MaxWait: durationpb.New(time.Minute)}))
		done <- err
	}()
	<-waiting
	cancel()
	if err := <-done; connect.CodeOf(err) != connect.CodeCanceled {
		t.Fatalf("got %v, want Canceled", err)
	}
}

func BenchmarkFetch(b *testing.B) {
	e := newEnv(b)
	e.createTopic("bench", 1, nil)
	// 1000 records of 1 KiB per Fetch: the default max_records, about
	// 1 MiB, the size a catching-up consumer asks for.
	const batch, size = 1000, 1024
	value := bytes.Repeat([]byte("x"), size)
	recs := make([]*brokerv1.ProduceRecord, batch)
	for i := range recs {
		recs[i] = &brokerv1.ProduceRecord{Value: value}
	}
	for range 10 {
		e.produce("bench", recs...)
	}
	const total = 10 * batch
	b.SetBytes(batch * size)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		off := int64(0)
		for pb.Next() {
			res, err := e.client.Fetch(context.Background(), connect.NewRequest(&brokerv1.FetchRequest{Topic: "bench", Offset: off, MaxRecords: batch}))
			if err != nil {
				b.Error(err)
				return
			}
			off = (off + int64(len(res.Msg.GetRecords()))) % total
		}
	})
}
