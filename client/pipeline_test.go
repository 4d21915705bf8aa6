package client_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/sluicetest"
)

// TestPipelinedKeepsOrder: with Pipelined, many batches in flight keep
// ProduceAsync call order in each partition; a batch the broker refuses
// fails alone, with the *ProduceError unary Produce gives, and the stream
// goes on.
func TestPipelinedKeepsOrder(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "events", 3, nil)
	p := mustProducer(t, ctx, srv.Conn, "events", primitive.String(), primitive.Int64(), client.AutoRegister(),
		client.Pipelined(), client.MaxInFlight(16), client.Linger(0))
	const n = 600
	var mu sync.Mutex
	acks := make([]client.Ack, n)
	errs := make([]error, n)
	calls := make([]int, n)
	for i := range n {
		var opts []client.RecordOption
		if i == 300 {
			opts = append(opts, client.ToPartition(7)) // no such partition: refused
		}
		p.ProduceAsync(ctx, []string{"a", "b", "c", "d"}[i%4], int64(i), func(a client.Ack, err error) {
			mu.Lock()
			defer mu.Unlock()
			acks[i], errs[i] = a, err
			calls[i]++
		}, opts...)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	last := map[int32]int64{}
	byOffset := map[client.Ack]int64{}
	for i := range n {
		if calls[i] != 1 {
			t.Fatalf("record %d: %d callbacks", i, calls[i])
		}
		if i == 300 {
			var pe *client.ProduceError
			if !errors.As(errs[i], &pe) || len(pe.Records) != 1 || !strings.Contains(pe.Records[0].Reason, "partition 7 does not exist") {
				t.Errorf("record 300: %v (%+v), want a ProduceError naming partition 7", errs[i], pe)
			}
			continue
		}
		if errs[i] != nil {
			t.Fatalf("record %d: %v", i, errs[i])
		}
		a := acks[i]
		if prev, ok := last[a.Partition]; ok && a.Offset <= prev {
			t.Errorf("record %d at %d/%d, after an earlier record at offset %d", i, a.Partition, a.Offset, prev)
		}
		last[a.Partition] = a.Offset
		byOffset[a] = int64(i)
	}
	c := mustConsumer(t, srv.Conn, "events", primitive.String(), primitive.Int64(), client.FromEarliest())
	for _, m := range readN(t, ctx, c, n-1) {
		if want, ok := byOffset[client.Ack{Partition: m.Partition, Offset: m.Offset}]; !ok || m.Value != want {
			t.Errorf("%d/%d holds %d, acked as %d (%v)", m.Partition, m.Offset, m.Value, want, ok)
		}
	}
}

// TestPipelinedOverHTTP1: a client whose transport is the caller's own
// and speaks only HTTP/1.1 gets an error saying Pipelined needs HTTP/2.
func TestPipelinedOverHTTP1(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "events", 1, nil)
	conn := client.New(&http.Client{Transport: http1Only{http.DefaultTransport}}, srv.URL)
	p := mustProducer(t, ctx, conn, "events", primitive.Null(), primitive.Int64(), client.AutoRegister(), client.Pipelined(), client.Linger(0))
	errc := make(chan error, 1)
	p.ProduceAsync(ctx, struct{}{}, 1, func(_ client.Ack, err error) { errc <- err })
	if err := <-errc; err == nil || !strings.Contains(err.Error(), "Pipelined needs HTTP/2") {
		t.Fatalf("err %v, want one saying Pipelined needs HTTP/2", err)
	}
	p.Close(ctx)
}

// http1Only is a RoundTripper of the caller's own (so the Conn does not
// derive an HTTP/2 one from it).
type http1Only struct{ rt http.RoundTripper }

func (h http1Only) RoundTrip(r *http.Request) (*http.Response, error) { return h.rt.RoundTrip(r) }

// BenchmarkProduceAsyncPipelined compares ProduceAsync batches sent as
// separate Produce calls with the same batches Pipelined on one stream
// (8 in flight, batches of about 64 records of 1 KiB, 8 partitions):
//
//	go test ./client -run '^$' -bench ProduceAsyncPipelined -count 5
func BenchmarkProduceAsyncPipelined(b *testing.B) {
	ctx := context.Background()
	srv := sluicetest.Start(b)
	srv.CreateTopic(b, "bench", 8, nil)
	value := make([]byte, 1024)
	for _, tc := range []struct {
		name string
		opts []client.ProducerOption
	}{
		{"calls", nil},
		{"pipelined", []client.ProducerOption{client.Pipelined()}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			opts := append([]client.ProducerOption{client.MaxInFlight(8), client.MaxBatchBytes(64 << 10), client.Linger(time.Millisecond)}, tc.opts...)
			p, err := client.NewProducer(ctx, srv.Conn, "bench", primitive.Null(), primitive.RawBytes(), opts...)
			if err != nil {
				b.Fatal(err)
			}
			var failed atomic.Pointer[error]
			b.SetBytes(int64(len(value)))
			for b.Loop() {
				p.ProduceAsync(ctx, struct{}{}, value, func(_ client.Ack, err error) {
					if err != nil {
						failed.CompareAndSwap(nil, &err)
					}
				})
			}
			if err := p.Close(ctx); err != nil {
				b.Fatal(err)
			}
			if err := failed.Load(); err != nil {
				b.Fatal(*err)
			}
		})
	}
}
