package pgsink_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
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
// does not hide its throughput.
const benchRows = 200000

func benchData(i int) benchRow {
	return benchRow{ID: fmt.Sprintf("id-%07d", i), Customer: fmt.Sprintf("customer-%d", i%977), Total: float64(i) * 1.25, Qty: int64(i % 13), City: "Lyon"}
}

// BenchmarkSink measures the sink writing benchRows records of a typed
// topic (Avro, 5 columns) into an empty table, per write mode; compare
// with BenchmarkPostgresCopy, PostgreSQL's own COPY of the same rows.
//
//	go test ./connect/pgsink -run '^$' -bench 'Sink|PostgresCopy' -benchtime 3x
func BenchmarkSink(b *testing.B) {
	ctx := context.Background()
	dbURL := pgtest.DB(b)
	srv := sluicetest.Start(b)
	srv.CreateTopic(b, "bench", 1, nil)
	p, err := client.NewProducer(ctx, srv.Conn, "bench", primitive.String(), avro.Must[benchRow](benchSchema), client.AutoRegister(), client.MaxInFlight(4))
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
	if err := p.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	pg, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer pg.Close(ctx)
	// The end of a run is told by a notification from the offsets table
	// (sent when the sink's transaction commits), not by polling it: a
	// poll would take PostgreSQL's time from the sink being measured.
	if _, err := pg.Exec(ctx, `
		CREATE TABLE IF NOT EXISTS sluice_connect_offsets (connector text NOT NULL, topic text NOT NULL,
			partition integer NOT NULL, next_offset bigint NOT NULL, PRIMARY KEY (connector, topic, partition));
		CREATE FUNCTION bench_notify() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN PERFORM pg_notify('bench_offsets', NEW.connector || ' ' || NEW.next_offset); RETURN NULL; END $$;
		CREATE TRIGGER bench_notify AFTER INSERT OR UPDATE ON sluice_connect_offsets FOR EACH ROW EXECUTE FUNCTION bench_notify();
		LISTEN bench_offsets`); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []struct{ name, mode, write string }{
		{"upsert-copy", pgsink.ModeUpsert, pgsink.WriteCopy},
		{"upsert-values", pgsink.ModeUpsert, pgsink.WriteValues},
		{"insert-copy", pgsink.ModeInsert, pgsink.WriteCopy},
	} {
		b.Run(mode.name, func(b *testing.B) {
			cpu := processCPU()
			for b.Loop() {
				// Go runs a sub-benchmark's function again for each
				// -count, in the same database: a name is never reused.
				name := fmt.Sprintf("bench_%s_%d", mode.write+mode.mode, benchSinks.Add(1))
				s, err := pgsink.New(pgsink.Config{Name: name, Postgres: dbURL, Topic: "bench", Table: name, KeyColumn: "id",
					Mode: mode.mode, Write: mode.write, BatchRecords: 20000, BatchInterval: 100 * time.Millisecond}, srv.Conn, benchLogger(b))
				if err != nil {
					b.Fatal(err)
				}
				rctx, cancel := context.WithCancel(ctx)
				done := make(chan error, 1)
				go func() { done <- s.Run(rctx) }()
				for done := fmt.Sprintf("%s %d", name, benchRows); ; {
					wctx, wcancel := context.WithTimeout(ctx, time.Minute)
					n, err := pg.WaitForNotification(wctx)
					wcancel()
					if err != nil {
						b.Fatalf("waiting for %s: %v", done, err)
					}
					if n.Payload == done {
						break
					}
				}
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(benchRows*b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(processCPU()-cpu)/float64(benchRows*b.N), "cpu-ns/row")
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
// Go values, into an empty table with the same primary key.
func BenchmarkPostgresCopy(b *testing.B) {
	ctx := context.Background()
	dbURL := pgtest.DB(b)
	pg, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer pg.Close(ctx)
	rows := make([][]any, benchRows)
	for i := range rows {
		r := benchData(i)
		rows[i] = []any{r.ID, r.Customer, r.Total, r.Qty, r.City}
	}
	n := 0
	cpu := processCPU()
	for b.Loop() {
		n++
		table := fmt.Sprintf("copy_%d", n)
		if _, err := pg.Exec(ctx, `CREATE TABLE `+table+` (id text PRIMARY KEY, customer text, total double precision, qty bigint, city text)`); err != nil {
			b.Fatal(err)
		}
		if _, err := pg.CopyFrom(ctx, pgx.Identifier{table}, []string{"id", "customer", "total", "qty", "city"}, pgx.CopyFromRows(rows)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchRows*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(processCPU()-cpu)/float64(benchRows*b.N), "cpu-ns/row")
}

// benchLogger logs the sink's batches (fill and write times) with
// SLUICE_BENCH_LOG=1.
func benchLogger(b *testing.B) *slog.Logger {
	if os.Getenv("SLUICE_BENCH_LOG") == "" {
		return nil
	}
	return logger(b)
}
