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
//	go test ./stream -run XXX -bench CountVsConsume -benchtime 3x
func BenchmarkCountVsConsume(b *testing.B) {
	const n, keys, parts = 100_000, 1000, 4
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
			for range b.N {
				run++
				out := fmt.Sprintf("bench-out-%d", run)
				s.CreateTopic(b, out, parts, nil)
				app := stream.New(s.Conn, fmt.Sprintf("bench-count-%d", run), append([]stream.Option{stream.Logger(discard())}, opts...)...)
				counts := stream.Count(stream.GroupByKey(stream.From(app, "bench-in", primitive.String(), primitive.Int64())))
				stream.To(counts.ToStream(), out, primitive.String(), primitive.Int64())
				rctx, cancel := context.WithCancel(ctx)
				done := make(chan error, 1)
				go func() { done <- app.Run(rctx) }()
				for app.Stats().Processed.Load() < n {
					time.Sleep(time.Millisecond)
				}
				cancel() // Run commits what it processed, then returns
				if err := <-done; err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "records/s")
		}
	}
	b.Run("count", count())
	b.Run("count-nocache", count(stream.Caching(false)))
}
