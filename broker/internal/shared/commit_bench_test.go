package shared

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/pgtest"
	"github.com/sluicehq/sluice/objstore"
)

// BenchmarkCommitCall is the commit's capacity alone, with no object
// store or client in the way: one and three connections (three nodes)
// calling sharedlog_commit back to back for objects holding one run of 90
// records in each of the same 6 partitions (their upload rows written
// beforehand, as a node announces keys ahead), on a durable PostgreSQL
// (fsync and synchronous_commit on), without and with a synchronous
// standby (on the same machine, as production's has its own). Every call
// takes the same six row locks and holds them through the WAL flush (and
// the standby's), so with three connections the rate is that of commits
// queueing on one hot set of partitions.
func BenchmarkCommitCall(b *testing.B) {
	for _, standby := range []bool{false, true} {
		srv := pgtest.NewServer(b, pgtest.Options{Durable: true})
		if standby {
			st, err := srv.StartStandby(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(st.Stop) // before srv's (last in, first out)
		}
		url := srv.URL("postgres")
		d, err := objstore.NewDir(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		c := &cluster{t: b, url: url, dir: d, pool: openPool(b, url)}
		l := c.node("n0", nil)
		for p := range int32(6) {
			openPart(b, l, "t", p)
		}
		for _, g := range []int{1, 3} {
			b.Run(fmt.Sprintf("standby=%v/conns=%d", standby, g), func(b *testing.B) {
				benchCommits(b, c, g)
			})
		}
	}
}

// benchCommits makes b.N commits from conns connections at once.
func benchCommits(b *testing.B, c *cluster, conns int) {
	ctx := context.Background()
	keys := make([]string, b.N)
	run := time.Now().UnixNano() // keys are never reused, across runs either
	for i := range keys {
		keys[i] = fmt.Sprintf("wal/n0/%d-%08d", run, i)
	}
	if _, err := c.pool.Exec(ctx, `INSERT INTO sharedlog_uploads (key, node) SELECT k, 'n0' FROM unnest($1::text[]) AS k`, keys); err != nil {
		b.Fatal(err)
	}
	args := commitArgs{
		topics: []string{"t", "t", "t", "t", "t", "t"},
		parts:  []int32{0, 1, 2, 3, 4, 5},
		offs:   []int64{0, 1000, 2000, 3000, 4000, 5000},
		lens:   []int64{1000, 1000, 1000, 1000, 1000, 1000},
		counts: []int64{90, 90, 90, 90, 90, 90},
		maxts:  []int64{1, 1, 1, 1, 1, 1},
		pids:   []int64{-1, -1, -1, -1, -1, -1},
		epochs: []int16{-1, -1, -1, -1, -1, -1},
		seqs:   []int32{-1, -1, -1, -1, -1, -1},
		kinds:  []int16{kindPlain, kindPlain, kindPlain, kindPlain, kindPlain, kindPlain},
	}
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	start := time.Now()
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			var mine []time.Duration
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					break
				}
				t0 := time.Now()
				_, err := c.pool.Exec(ctx, commitSQL, keys[i], "n0", int64(6000), args.topics, args.parts, args.offs, args.lens, args.counts, args.maxts, args.pids, args.epochs, args.seqs, args.kinds, true)
				if err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	took := time.Since(start)
	if len(lat) < b.N {
		b.Fatalf("%d of %d commits answered", len(lat), b.N)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/took.Seconds(), "commits/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*9/10].Microseconds())/1000, "p90-ms")
}
