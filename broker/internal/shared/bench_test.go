package shared

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/internal/log"
	"github.com/sluicehq/sluice/internal/pgtest"
	"github.com/sluicehq/sluice/objstore"
)

// BenchmarkAppend measures the write path on one node: producers
// appending 16-record batches of 100-byte values to 8 partitions, against
// a PostgreSQL with fsync on and the directory store (which fsyncs each
// object). It reports records/s, commits/s, objects/s and the ack latency
// (p50, p99) for each window.
func BenchmarkAppend(b *testing.B) {
	srv := pgtest.NewServer(b, pgtest.Options{Durable: true})
	url := srv.URL("postgres")
	for _, window := range []time.Duration{5 * time.Millisecond, 25 * time.Millisecond} {
		for _, producers := range []int{16, 128} {
			b.Run(fmt.Sprintf("window=%v/producers=%d", window, producers), func(b *testing.B) {
				pool := openPool(b, url)
				d, err := objstore.NewDir(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				c := &cluster{t: b, url: url, dir: d, pool: pool}
				l := c.node("bench", func(cfg *Config) { cfg.Window = window })
				topic := fmt.Sprintf("bench-%v-%d", window, producers)
				parts := make([]*Partition, 8)
				for i := range parts {
					parts[i] = openPart(b, l, topic, int32(i))
				}
				batch := make([]log.Record, 16)
				for i := range batch {
					batch[i] = log.Record{Key: []byte(fmt.Sprintf("key-%d", i)), Value: bytes.Repeat([]byte("v"), 100), Timestamp: 1}
				}
				var next atomic.Int64
				lat := make([][]time.Duration, producers)
				before := l.Stats()
				b.ResetTimer()
				start := time.Now()
				var wg sync.WaitGroup
				for w := range producers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							i := next.Add(1)
							if i > int64(b.N) {
								return
							}
							t0 := time.Now()
							if _, err := parts[int(i)%len(parts)].Append(context.Background(), batch); err != nil {
								b.Error(err)
								return
							}
							lat[w] = append(lat[w], time.Since(t0))
						}
					}()
				}
				wg.Wait()
				el := time.Since(start).Seconds()
				b.StopTimer()
				after := l.Stats()
				all := slices.Concat(lat...)
				slices.Sort(all)
				if len(all) == 0 {
					return
				}
				b.ReportMetric(float64(b.N*len(batch))/el, "records/s")
				b.ReportMetric(float64(after.Objects-before.Objects)/el, "commits/s")
				b.ReportMetric(float64(after.Bytes-before.Bytes)/el/1e6, "MB/s")
				b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
				if n := after.Objects - before.Objects; n > 0 {
					b.ReportMetric(float64((after.PutTime-before.PutTime).Microseconds())/float64(n)/1000, "put-ms/obj")
					b.ReportMetric(float64((after.CommitTime-before.CommitTime).Microseconds())/float64(n)/1000, "commit-ms/obj")
				}
			})
		}
	}
}
