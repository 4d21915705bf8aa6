package stream_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

// BenchmarkCountVsConsume compares a stream count (group by key, count in
// a store with its changelog, the updates to an output topic, exactly
// once; from the start of Run to its return after the last commit) with
// the raw consume rate of the same records (a typed consumer reading and
// decoding them): records/s of each. count uses the record cache (the
// default: the latest count of each key per commit), count-nocache
// forwards every update.
//
// A run reads a million records, so that the one-off costs of a stream
// run, reported beside the rate, weigh little on it: start-ms, from Run to
// the first record processed (the internal topics, the group join, each
// task's transactional id and restore), and stop-ms, from the end of the
// input to Run's return (the last commit of every task, then leaving the
// group).
//
//	go test ./stream -run XXX -bench CountVsConsume -benchtime 3x
func BenchmarkCountVsConsume(b *testing.B) {
	const n, keys, parts = 1_000_000, 1000, 4
	ctx := context.Background()
	s := sluicetest.Start(b)
	s.CreateTopic(b, "bench-in", parts, nil)
	p, err := client.NewProducer(ctx, s.Conn, "bench-in", primitive.String(), primitive.Int64(), client.AutoRegister(), client.MaxInFlight(4))
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		p.ProduceAsync(ctx, fmt.Sprintf("key-%d", i%keys), int64(i), nil)
	}
	if err := p.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	run := 0

	b.Run("consume", func(b *testing.B) {
		start := time.Now()
		for range b.N {
			c, err := client.NewConsumer(s.Conn, "bench-in", primitive.String(), primitive.Int64(), client.FromEarliest())
			if err != nil {
				b.Fatal(err)
			}
			got := 0
			var sum int64
			for m, err := range c.All(ctx) {
				if err != nil {
					b.Fatal(err)
				}
				sum += m.Value
				if got++; got == n {
					break
				}
			}
		}
		b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "records/s")
	})

	count := func(opts ...stream.Option) func(b *testing.B) {
		return func(b *testing.B) {
			start := time.Now()
			var starting, stopping time.Duration
			for range b.N {
				run++
				out := fmt.Sprintf("bench-out-%d", run)
				s.CreateTopic(b, out, parts, nil)
				app := stream.New(s.Conn, fmt.Sprintf("bench-count-%d", run), append([]stream.Option{stream.Logger(discard())}, opts...)...)
				counts := stream.Count(stream.GroupByKey(stream.From(app, "bench-in", primitive.String(), primitive.Int64())))
				stream.To(counts.ToStream(), out, primitive.String(), primitive.Int64())
				rctx, cancel := context.WithCancel(ctx)
				done := make(chan error, 1)
				began := time.Now()
				go func() { done <- app.Run(rctx) }()
				for app.Stats().Processed.Load() == 0 {
					time.Sleep(100 * time.Microsecond)
				}
				starting += time.Since(began)
				for app.Stats().Processed.Load() < n {
					time.Sleep(time.Millisecond)
				}
				ended := time.Now()
				cancel() // Run commits what it processed, then returns
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				stopping += time.Since(ended)
			}
			b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "records/s")
			b.ReportMetric(float64(starting.Milliseconds())/float64(b.N), "start-ms")
			b.ReportMetric(float64(stopping.Milliseconds())/float64(b.N), "stop-ms")
		}
	}
	b.Run("count", count())
	b.Run("count-nocache", count(stream.Caching(false)))
}
