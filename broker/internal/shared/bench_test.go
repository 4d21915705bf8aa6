package shared

import (
	"bytes"
	"context"
	"encoding/binary"
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

// BenchmarkRead measures ReadBatches (what a Kafka fetch does) over a
// partition of 16-record batches of 100-byte values, 1 MiB per read: from
// the local log, from the shared log with a warm cache (the node that
// wrote it), and cold (another node, its cache emptied before each pass).
func BenchmarkRead(b *testing.B) {
	c := newCluster(b)
	ctx := context.Background()
	writer := c.node("w", func(cfg *Config) { cfg.Window = 20 * time.Millisecond })
	reader := c.node("r", nil)
	local, err := log.Open(b.TempDir(), log.Config{Fsync: log.FsyncPolicy{Mode: log.FsyncNever}, MaintenanceInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer local.Close()
	pw := openPart(b, writer, "read", 0)
	batch := make([]log.Record, 16)
	for i := range batch {
		batch[i] = log.Record{Key: []byte(fmt.Sprintf("key-%d", i)), Value: bytes.Repeat([]byte("v"), 100), Timestamp: 1}
	}
	const batches = 2000
	var ws []*Pending
	for range batches {
		eb, err := log.EncodeBatch(batch, 1, 0, 0)
		if err != nil {
			b.Fatal(err)
		}
		w, err := pw.EnqueueBatch(eb)
		if err != nil {
			b.Fatal(err)
		}
		ws = append(ws, w)
		if _, err := local.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	for _, w := range ws {
		if _, err := w.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
	pr := openPart(b, reader, "read", 0)
	type reads interface {
		ReadBatches(dst []byte, offset int64, maxBytes int, always bool) ([]byte, int64, error)
		HighWatermark() int64
	}
	pass := func(b *testing.B, p reads) int {
		n := 0
		var buf []byte
		for off := int64(0); off < p.HighWatermark(); {
			var err error
			buf, _, err = p.ReadBatches(buf[:0], off, 1<<20, true)
			if err != nil {
				b.Fatal(err)
			}
			n += len(buf)
			// The last batch's last offset: base + lastOffsetDelta.
			pos := 0
			for pos < len(buf) {
				size := int(binary.BigEndian.Uint32(buf[pos+8:])) + 12
				off = int64(binary.BigEndian.Uint64(buf[pos:])) + int64(binary.BigEndian.Uint32(buf[pos+23:])) + 1
				pos += size
			}
		}
		return n
	}
	for _, tc := range []struct {
		name string
		p    reads
		cold bool
	}{{"local", local, false}, {"shared-warm", pw, false}, {"shared-cold", pr, true}} {
		b.Run(tc.name, func(b *testing.B) {
			total := 0
			for range b.N {
				if tc.cold {
					b.StopTimer()
					reader.cache = newCache(256<<20, 1<<20)
					pr.forgetCoords()
					b.StartTimer()
				}
				total += pass(b, tc.p)
			}
			b.ReportMetric(float64(total)/b.Elapsed().Seconds()/1e6, "MB/s")
		})
	}
	// Records (ReadFunc, the streaming consumers' path), warm.
	type visits interface {
		ReadFunc(offset int64, maxRecords, maxBytes int, rb *log.ReadBuffer, visit func(*log.Record) error) (int, error)
		HighWatermark() int64
	}
	for _, tc := range []struct {
		name string
		p    visits
	}{{"records-local", local}, {"records-shared-warm", pw}} {
		b.Run(tc.name, func(b *testing.B) {
			var rb log.ReadBuffer
			recs := 0
			visit := func(*log.Record) error { recs++; return nil }
			for range b.N {
				for off := int64(0); off < tc.p.HighWatermark(); {
					n, err := tc.p.ReadFunc(off, 5000, 1<<20, &rb, visit)
					if err != nil || n == 0 {
						b.Fatalf("read at %d: %d records, %v", off, n, err)
					}
					off += int64(n)
				}
			}
			b.ReportMetric(float64(recs)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkAppendS3Latency measures the write path on one node against a
// store with an object store's PUT latency (p50 30 ms, p99 80 ms, added to
// the directory store's own) and PostgreSQL from pgtest: 64 closed-loop
// producers appending 16-record batches of 100-byte values to 8
// partitions with the default window. It reports records/s, objects/s and
// the ack latency p50/p99: with slow PUTs, how many objects a node keeps
// in flight decides the ack latency.
func BenchmarkAppendS3Latency(b *testing.B) {
	c := newCluster(b)
	slow := objstore.NewFaulty(c.dir, 1)
	slow.Set(objstore.OpPut, objstore.Fault{Latency: objstore.LatencyPercentiles(30*time.Millisecond, 80*time.Millisecond, 1)})
	l := c.node("bench", func(cfg *Config) { cfg.Objects, cfg.Window = slow, 0 })
	parts := make([]*Partition, 8)
	for i := range parts {
		parts[i] = openPart(b, l, "s3", int32(i))
	}
	batch := make([]log.Record, 16)
	for i := range batch {
		batch[i] = log.Record{Key: []byte(fmt.Sprintf("key-%d", i)), Value: bytes.Repeat([]byte("v"), 100), Timestamp: 1}
	}
	const producers = 64
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
	b.ReportMetric(float64(after.Objects-before.Objects)/el, "objects/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
}
