package pgsink_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/avro"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/connect/pgsink"
	"github.com/sluicehq/sluice/internal/pgtest"
	"github.com/sluicehq/sluice/sluicetest"
)

type benchRow struct {
	ID       string  `avro:"id"`
	Customer string  `avro:"customer"`
	Total    float64 `avro:"total"`
	Qty      int64   `avro:"qty"`
	City     string  `avro:"city"`
}

const benchSchema = `{"type":"record","name":"Row","fields":[{"name":"id","type":"string"},{"name":"customer","type":"string"},
 {"name":"total","type":"double"},{"name":"qty","type":"long"},{"name":"city","type":"string"}]}`

// benchRows is enough rows that the sink's start (connecting, creating
// its tables, the consumer's first fetch: 0.2-0.3 s on a loaded machine)
// does not hide its throughput: 200,000, or SLUICE_BENCH_SINK_ROWS (more
// rows weigh the start less, on both sides).
var benchRows = func() int {
	if v := os.Getenv("SLUICE_BENCH_SINK_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			panic(fmt.Sprintf("SLUICE_BENCH_SINK_ROWS=%q: want a positive number of rows", v))
		}
		return n
	}
	return 200000
}()

func benchData(i int) benchRow {
	return benchRow{ID: fmt.Sprintf("id-%07d", i), Customer: fmt.Sprintf("customer-%d", i%977), Total: float64(i) * 1.25, Qty: int64(i % 13), City: "Lyon"}
}

// BenchmarkSink measures the sink writing benchRows records of a typed
// topic (Avro, 5 columns) into an empty table, per write mode; compare
// with BenchmarkPostgresCopy, PostgreSQL's own COPY of the same rows.
// Each run starts a sink (connecting to PostgreSQL and to Sluice,
// creating its tables) and ends when its last batch is committed. Besides
// rows/s it reports the CPU per row of the benchmark's process (the Sluice
// node, the consumer and the sink) and of PostgreSQL; with
// SLUICE_BENCH_PGCPU=1 it logs PostgreSQL's CPU per process.
//
//	go test ./connect/pgsink -run '^$' -bench 'Sink|PostgresCopy' -benchtime 3x
func BenchmarkSink(b *testing.B) {
	ctx := context.Background()
	dbURL := pgtest.DB(b)
	srv := sluicetest.Start(b)
	srv.CreateTopic(b, "bench", 1, nil)
	// Pipelined batches keep ProduceAsync's order, so the topic holds the
	// rows in the order BenchmarkPostgresCopy writes them (keys
	// ascending). Unordered batches (MaxInFlight alone) interleaved the
	// keys: the sink's index inserts then landed all over the index (a
	// third larger, more PostgreSQL CPU per row) while COPY's appended.
	p, err := client.NewProducer(ctx, srv.Conn, "bench", primitive.String(), avro.Must[benchRow](benchSchema), client.AutoRegister(), client.MaxInFlight(4), client.Pipelined())
	if err != nil {
		b.Fatal(err)
	}
	for i := range benchRows {
		r := benchData(i)
		p.ProduceAsync(ctx, r.ID, r, func(_ client.Ack, err error) {
			if err != nil {
				b.Error(err)
			}
		})
	}
	if err := p.Close(ctx); err != nil {
		b.Fatal(err)
	}
	pg, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer pg.Close(ctx)
	for _, mode := range []struct {
		name, mode, write string
		existing          bool // every key is in the table already: all updates
	}{
		{"upsert-copy", pgsink.ModeUpsert, pgsink.WriteCopy, false},
		{"upsert-copy-existing", pgsink.ModeUpsert, pgsink.WriteCopy, true},
		{"upsert-values", pgsink.ModeUpsert, pgsink.WriteValues, false},
		{"insert-copy", pgsink.ModeInsert, pgsink.WriteCopy, false},
	} {
		b.Run(mode.name, func(b *testing.B) {
			var cpu, pgCPU int64
			byProc := postgresCPUByProcess()
			for b.Loop() {
				// Go runs a sub-benchmark's function again for each
				// -count, in the same database: a name is never reused.
				name := fmt.Sprintf("bench_%s_%d", mode.write+mode.mode, benchSinks.Add(1))
				if mode.existing {
					b.StopTimer()
					if _, err := pg.Exec(ctx, `CREATE TABLE `+name+` (id text PRIMARY KEY, customer text, total double precision, qty bigint, city text)`); err != nil {
						b.Fatal(err)
					}
					if _, err := pg.CopyFrom(ctx, pgx.Identifier{name}, []string{"id", "customer", "total", "qty", "city"}, pgx.CopyFromRows(benchValues(-1))); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				// Reading PostgreSQL's CPU time globs /proc (tens of
				// milliseconds on a busy machine): not timed, and not in
				// the process's CPU, as BenchmarkPostgresCopy reads it once
				// around all its runs.
				b.StopTimer()
				pgCPU0 := postgresCPU()
				cpu0 := processCPU()
				b.StartTimer()
				// The end of a run is told by the sink's log of its
				// committed batches, not by asking PostgreSQL: a poll or
				// a LISTEN would take PostgreSQL's time from the sink
				// being measured.
				committed := &commitCounter{target: int64(benchRows), done: make(chan struct{})}
				if os.Getenv("SLUICE_BENCH_LOG") != "" {
					committed.next = logger(b).Handler()
				}
				s, err := pgsink.New(pgsink.Config{Name: name, Postgres: dbURL, Topic: "bench", Table: name, KeyColumn: "id",
					Mode: mode.mode, Write: mode.write, BatchRecords: benchBatch(), BatchInterval: 100 * time.Millisecond}, srv.Conn, slog.New(committed))
				if err != nil {
					b.Fatal(err)
				}
				rctx, cancel := context.WithCancel(ctx)
				done := make(chan error, 1)
				go func() { done <- s.Run(rctx) }()
				select {
				case <-committed.done:
				case err := <-done:
					b.Fatalf("sink %s stopped before writing %d rows: %v", name, benchRows, err)
				case <-time.After(time.Minute):
					b.Fatalf("sink %s: %d of %d rows committed after a minute", name, committed.n.Load(), benchRows)
				}
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				cpu += processCPU() - cpu0
				pgCPU += postgresCPU() - pgCPU0
				b.StartTimer()
			}
			reportRows(b, cpu, pgCPU)
			if os.Getenv("SLUICE_BENCH_PGCPU") != "" {
				for p, ns := range postgresCPUByProcess() {
					if d := ns - byProc[p]; d > 0 {
						b.Logf("PostgreSQL CPU %6.0f ns/row: %s", float64(d)/float64(benchRows*b.N), p)
					}
				}
			}
		})
	}
}

// benchSinks numbers the sinks BenchmarkSink starts.
var benchSinks atomic.Int64

// processCPU is the CPU time (user and system) the benchmark's process
// has used, in nanoseconds: the Sluice node, the consumer and the sink
// here, or pgx's encoding for BenchmarkPostgresCopy (PostgreSQL's own
// time is not in it).
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkPostgresCopy is the baseline: pgx's COPY of the same rows, as
// Go values, in the same order, into an empty table with the same columns
// and primary key. Sub-benchmark connect counts, like BenchmarkSink, the
// connection to PostgreSQL (opened for each run, closed at its end) and
// the CREATE TABLE; warm reuses one connection for every run. A new
// backend costs PostgreSQL tens of milliseconds of CPU of its own on this
// virtual machine (its fork, its catalog caches, its first touch of shared
// memory), which the sink pays at every start.
func BenchmarkPostgresCopy(b *testing.B) {
	ctx := context.Background()
	dbURL := pgtest.DB(b)
	rows := benchValues(0)
	n := 0
	copyRun := func(b *testing.B, pg *pgx.Conn) {
		n++
		table := fmt.Sprintf("copy_%d", n)
		if _, err := pg.Exec(ctx, `CREATE TABLE `+table+` (id text PRIMARY KEY, customer text, total double precision, qty bigint, city text)`); err != nil {
			b.Fatal(err)
		}
		if _, err := pg.CopyFrom(ctx, pgx.Identifier{table}, []string{"id", "customer", "total", "qty", "city"}, pgx.CopyFromRows(rows)); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("connect", func(b *testing.B) {
		cpu, pgCPU := processCPU(), postgresCPU()
		for b.Loop() {
			pg, err := pgx.Connect(ctx, dbURL)
			if err != nil {
				b.Fatal(err)
			}
			copyRun(b, pg)
			if err := pg.Close(ctx); err != nil {
				b.Fatal(err)
			}
		}
		reportRows(b, processCPU()-cpu, postgresCPU()-pgCPU)
	})
	b.Run("warm", func(b *testing.B) {
		pg, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			b.Fatal(err)
		}
		defer pg.Close(ctx)
		cpu, pgCPU := processCPU(), postgresCPU()
		for b.Loop() {
			copyRun(b, pg)
		}
		reportRows(b, processCPU()-cpu, postgresCPU()-pgCPU)
	})
}

// benchValues are the benchmark's rows as Go values, in order; with
// version < 0 every value but the key differs from benchData's.
func benchValues(version int) [][]any {
	rows := make([][]any, benchRows)
	for i := range rows {
		r := benchData(i)
		if version < 0 {
			r.Customer, r.Total, r.Qty, r.City = "old", -1, -1, "Paris"
		}
		rows[i] = []any{r.ID, r.Customer, r.Total, r.Qty, r.City}
	}
	return rows
}

// reportRows reports rows/s, and the CPU per row of the benchmark's
// process (cpu-ns/row) and of PostgreSQL (pg-cpu-ns/row) from the CPU
// times the timed runs used.
func reportRows(b *testing.B, cpu, pgCPU int64) {
	rows := float64(benchRows * b.N)
	b.ReportMetric(rows/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(cpu)/rows, "cpu-ns/row")
	b.ReportMetric(float64(pgCPU)/rows, "pg-cpu-ns/row")
}

// commitCounter is a slog.Handler that counts the records of the sink's
// "batch written" lines (logged after each batch's commit) and closes
// done when target records are committed. With SLUICE_BENCH_LOG=1 it also
// passes the sink's lines to next (the test log: fill and write times).
type commitCounter struct {
	target int64
	n      atomic.Int64
	done   chan struct{}
	once   sync.Once
	next   slog.Handler
}

func (c *commitCounter) Enabled(context.Context, slog.Level) bool { return true }

func (c *commitCounter) Handle(ctx context.Context, r slog.Record) error {
	if c.next != nil {
		c.next.Handle(ctx, r)
	}
	if r.Message != "batch written" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "records" && c.n.Add(a.Value.Int64()) >= c.target {
			c.once.Do(func() { close(c.done) })
		}
		return true
	})
	return nil
}

func (c *commitCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *commitCounter) WithGroup(string) slog.Handler      { return c }

// benchBatch is BenchmarkSink's batch_records: 20,000, or
// SLUICE_BENCH_SINK_BATCH.
func benchBatch() int {
	if v := os.Getenv("SLUICE_BENCH_SINK_BATCH"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			panic(fmt.Sprintf("SLUICE_BENCH_SINK_BATCH=%q: want a positive number of records", v))
		}
		return n
	}
	return 20000
}
