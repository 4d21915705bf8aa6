package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/internal/pgmeta"
	"github.com/sluicehq/sluice/internal/pgtest"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// benchWindowEnv, when set (a duration), is the cluster nodes' shared-log
// window in the benchmarks instead of the default.
const benchWindowEnv = "SLUICE_BENCH_SHARED_WINDOW"

// benchDurableEnv, when set to 1, makes both sides of the benchmarks
// durable, as each runs by default: the embedded node with fsync always
// (an ack after fdatasync) and the cluster's PostgreSQL with fsync and
// synchronous_commit on (a server of the benchmark's own), so that the
// ratio compares like with like. Unset, neither is (the embedded node
// runs with fsync never, PostgreSQL with fsync off): the cost of the
// work alone, without the disk's.
const benchDurableEnv = "SLUICE_BENCH_DURABLE"

// benchPG is the PostgreSQL of a cluster benchmark: a pool on its
// database and the server, whose CPU time the benchmark reads (nil for
// an outside server).
type benchPG struct {
	pool *pgxpool.Pool
	srv  *pgtest.Server
}

// benchNodes starts the nodes of one benchmark target and returns their
// URLs and, for a cluster, its PostgreSQL (nil for the embedded node).
// "embedded" is one node; "clusterN" is N shared-log nodes (PostgreSQL from
// pgtest; file object store on local disk, each object fsynced). See
// benchDurableEnv for fsync on either side.
func benchNodes(b *testing.B, target string) ([]string, *benchPG) {
	b.Helper()
	durable := os.Getenv(benchDurableEnv) == "1"
	if target == "embedded" {
		fsync := neverFsync(nil)
		if durable {
			var err error
			if fsync, err = broker.ParseFsyncPolicy("always"); err != nil {
				b.Fatal(err)
			}
		}
		_, url, stop, err := Start(context.Background(), Config{DataDir: b.TempDir(), Fsync: fsync}, "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { stop() })
		return []string{url}, nil
	}
	var n int
	if _, err := fmt.Sscanf(target, "cluster%d", &n); err != nil || n < 1 {
		b.Fatalf("bench target %q: want embedded or clusterN", target)
	}
	var pg benchPG
	var meta string
	if durable {
		pg.srv = pgtest.NewServer(b, pgtest.Options{Durable: true})
		meta = pg.srv.URL("postgres")
	} else {
		meta = pgtest.DB(b)
		pg.srv = pgtest.SharedServer(b)
	}
	pool, err := pgmeta.Open(context.Background(), meta)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	pg.pool = pool
	objects := "file://" + b.TempDir()
	var window time.Duration
	if v := os.Getenv(benchWindowEnv); v != "" {
		var err error
		if window, err = time.ParseDuration(v); err != nil || window <= 0 {
			b.Fatalf("%s=%q: want a positive duration such as 2ms", benchWindowEnv, v)
		}
	}
	var urls []string
	for i := range n {
		_, url, stop, err := Start(context.Background(), Config{DataDir: b.TempDir(), Meta: meta, NodeID: fmt.Sprint("n", i), Objects: objects,
			SharedWindow: window, Fsync: neverFsync(nil)}, "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { stop() })
		urls = append(urls, url)
	}
	return urls, &pg
}

// pgCounters are PostgreSQL's committed transactions (pg_stat_database,
// every client: commits, upload rows, polls, reads), the shared log's
// committed objects (one sharedlog_commit call each) and the CPU time of
// the PostgreSQL server's processes (0 when it is not pgtest's own).
type pgCounters struct {
	xacts, objects int64
	cpu            time.Duration
}

func readPGCounters(b *testing.B, pg *benchPG) pgCounters {
	b.Helper()
	var c pgCounters
	ctx := context.Background()
	// The statistics are sent by each backend at most every second or so:
	// ask for a fresh snapshot of what has been reported.
	if _, err := pg.pool.Exec(ctx, `SELECT pg_stat_clear_snapshot()`); err != nil {
		b.Fatal(err)
	}
	if err := pg.pool.QueryRow(ctx, `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&c.xacts); err != nil {
		b.Fatal(err)
	}
	if err := pg.pool.QueryRow(ctx, `SELECT count(*) FROM sharedlog_objects`).Scan(&c.objects); err != nil {
		b.Fatal(err)
	}
	if pg.srv != nil {
		cpu, err := pg.srv.CPUTime()
		if err != nil {
			b.Fatal(err)
		}
		c.cpu = cpu
	}
	return c
}

// processCPU is the CPU time (user and system) of this process: the
// nodes and the clients of a benchmark.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkClusterProduce produces over Connect (closed-loop producers,
// 100 records of 100 bytes per request, one 6-partition topic) to an
// embedded node, to one node of a shared-log cluster, and to
// each node of a three-node one in turn (PostgreSQL from pgtest, file
// object store on local disk), reporting records/s, the ack latency
// p50/p99 and, for a cluster, shared-log objects (= sharedlog_commit
// calls) per second and PostgreSQL transactions per second. It also
// reports the CPU time per record of this process (nodes and clients:
// go-cpu-us/rec) and, for a cluster, of PostgreSQL (pg-cpu-us/rec).
// Everything runs on this machine: compare targets within one run,
// interleaved. Neither side is durable unless SLUICE_BENCH_DURABLE=1
// (benchDurableEnv).
//
//	go test ./server -run '^$' -bench ClusterProduce -benchtime 2000x
//	SLUICE_BENCH_DURABLE=1 go test ./server -run '^$' -bench ClusterProduce -benchtime 2000x
func BenchmarkClusterProduce(b *testing.B) {
	for _, producers := range []int{16, 64} {
		for _, target := range []string{"embedded", "cluster1", "cluster3"} {
			b.Run(fmt.Sprintf("producers=%d/%s", producers, target), func(b *testing.B) {
				urls, pg := benchNodes(b, target)
				benchProduce(b, urls, pg, producers)
			})
		}
	}
}

// benchTopic creates the 6-partition topic "bench" and returns a produce
// request of 100 records of 100 bytes.
func benchTopic(b *testing.B, hc *http.Client, url string) *brokerv1.ProduceRequest {
	b.Helper()
	if _, err := brokerv1connect.NewTopicServiceClient(hc, url).CreateTopic(context.Background(),
		connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "bench", Partitions: 6})); err != nil {
		b.Fatal(err)
	}
	value := make([]byte, 100)
	req := &brokerv1.ProduceRequest{Topic: "bench"}
	for i := range 100 {
		req.Records = append(req.Records, &brokerv1.ProduceRecord{Key: []byte(fmt.Sprint(i)), Value: value})
	}
	return req
}

func benchProduce(b *testing.B, urls []string, pg *benchPG, producers int) {
	ctx := context.Background()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	req := benchTopic(b, hc, urls[0])
	per := len(req.Records)
	var mu sync.Mutex
	var lat []time.Duration
	next := make(chan struct{}, b.N)
	for range b.N {
		next <- struct{}{}
	}
	close(next)
	var before pgCounters
	if pg != nil {
		before = readPGCounters(b, pg)
	}
	b.ResetTimer()
	cpu0 := processCPU(b)
	start := time.Now()
	var wg sync.WaitGroup
	for g := range producers {
		cl := brokerv1connect.NewBrokerServiceClient(hc, urls[g%len(urls)])
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for range next {
				t0 := time.Now()
				if _, err := cl.Produce(ctx, connect.NewRequest(req)); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	took := time.Since(start)
	cpu := processCPU(b) - cpu0
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	records := float64(b.N * per)
	b.ReportMetric(records/took.Seconds(), "records/s")
	b.ReportMetric(float64(cpu.Microseconds())/records, "go-cpu-us/rec")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	if pg != nil {
		time.Sleep(1100 * time.Millisecond) // let the backends report their statistics
		after := readPGCounters(b, pg)
		b.ReportMetric(float64(after.objects-before.objects)/took.Seconds(), "objects/s")
		b.ReportMetric(float64(after.xacts-before.xacts)/took.Seconds(), "pg-xacts/s")
		if after.cpu > 0 {
			// The second of statistics wait above costs PostgreSQL little.
			b.ReportMetric(float64((after.cpu-before.cpu).Microseconds())/records, "pg-cpu-us/rec")
		}
	}
}

// BenchmarkClusterConsume reads a 6-partition topic of 60,000 records
// (100 bytes each, produced as in BenchmarkClusterProduce) over Connect
// Fetch, one reader per partition (1 MiB, up to 10,000 records per fetch),
// from an embedded node and from a node of a three-node cluster that did
// not produce the records, after one untimed pass has filled its read
// cache (the cached consume of issue #16; colder reads are measured by
// broker/internal/shared's BenchmarkRead). One op is one pass over the
// topic; it reports records/s.
//
//	go test ./server -run '^$' -bench ClusterConsume -benchtime 20x
func BenchmarkClusterConsume(b *testing.B) {
	for _, target := range []string{"embedded", "cluster3"} {
		b.Run(target, func(b *testing.B) {
			urls, _ := benchNodes(b, target)
			ctx := context.Background()
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			req := benchTopic(b, hc, urls[0])
			const requests = 600
			var sent atomic.Int64
			var wg sync.WaitGroup
			for range 16 {
				cl := brokerv1connect.NewBrokerServiceClient(hc, urls[0])
				wg.Add(1)
				go func() {
					defer wg.Done()
					for sent.Add(1) <= requests {
						if _, err := cl.Produce(ctx, connect.NewRequest(req)); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			reader := brokerv1connect.NewBrokerServiceClient(hc, urls[len(urls)-1])
			want := int64(requests * len(req.Records))
			pass := func() int64 {
				var total atomic.Int64
				var wg sync.WaitGroup
				for part := range int32(6) {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for off := int64(0); ; {
							res, err := reader.Fetch(ctx, connect.NewRequest(&brokerv1.FetchRequest{Topic: "bench", Partition: part, Offset: off, MaxRecords: 10000, MaxBytes: 1 << 20}))
							if err != nil {
								b.Error(err)
								return
							}
							recs := res.Msg.GetRecords()
							if len(recs) == 0 {
								if off < res.Msg.GetHighWatermark() {
									b.Errorf("partition %d: no records at %d below the high watermark %d", part, off, res.Msg.GetHighWatermark())
								}
								return
							}
							total.Add(int64(len(recs)))
							off = recs[len(recs)-1].GetOffset() + 1
						}
					}()
				}
				wg.Wait()
				return total.Load()
			}
			// The reader learns the high watermarks by notification: wait
			// until it serves every record, which also fills its cache.
			for deadline := time.Now().Add(30 * time.Second); ; {
				n := pass()
				if n == want {
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("the reading node serves %d records of %d", n, want)
				}
				time.Sleep(50 * time.Millisecond)
			}
			b.ResetTimer()
			for range b.N {
				if n := pass(); n != want {
					b.Fatalf("a pass read %d records, want %d", n, want)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(int64(b.N)*want)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
