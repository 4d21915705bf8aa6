package pgsink_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/avro"
	"github.com/sluicehq/sluice/client/jsonschema"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/connect/pgsink"
	"github.com/sluicehq/sluice/internal/pgtest"
	"github.com/sluicehq/sluice/sluicetest"
)

// childEnv, when set, makes the test binary run one sink (configured from
// JSON in the variable) instead of the tests: the kill -9 test's child.
const childEnv = "SLUICE_PGSINK_CHILD"

func TestMain(m *testing.M) {
	if cfg := os.Getenv(childEnv); cfg != "" {
		os.Exit(runChild(cfg))
	}
	pgtest.Main(m)
}

type childConfig struct {
	URL  string
	Sink pgsink.Config
}

func runChild(raw string) int {
	var cc childConfig
	if err := json.Unmarshal([]byte(raw), &cc); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	conn := client.New(sluicetest.HTTPClient(), cc.URL)
	s, err := pgsink.New(cc.Sink, conn, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := s.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// nullable makes a pointer codec send nil as a tombstone.
type nullable[T any] struct{ client.Codec[*T] }

func (nullable[T]) IsNull(v *T) bool { return v == nil }

type Address struct {
	City string `avro:"city"`
	Zip  *int32 `avro:"zip"`
}

type Order struct {
	ID       string   `avro:"id"`
	Customer string   `avro:"customer"`
	Total    float64  `avro:"total"`
	Qty      int64    `avro:"qty"`
	Address  Address  `avro:"address"`
	Tags     []string `avro:"tags"`
}

const orderV1 = `{"type":"record","name":"Order","namespace":"shop","fields":[
 {"name":"id","type":"string"},
 {"name":"customer","type":"string"},
 {"name":"total","type":"double"},
 {"name":"qty","type":"long"},
 {"name":"address","type":{"type":"record","name":"Address","fields":[
   {"name":"city","type":"string"},{"name":"zip","type":["null","int"],"default":null}]}},
 {"name":"tags","type":{"type":"array","items":"string"}}]}`

type OrderV2 struct {
	Order
	Note *string `avro:"note"`
}

const orderV2 = `{"type":"record","name":"Order","namespace":"shop","fields":[
 {"name":"id","type":"string"},
 {"name":"customer","type":"string"},
 {"name":"total","type":"double"},
 {"name":"qty","type":"long"},
 {"name":"address","type":{"type":"record","name":"Address","fields":[
   {"name":"city","type":"string"},{"name":"zip","type":["null","int"],"default":null}]}},
 {"name":"tags","type":{"type":"array","items":"string"}},
 {"name":"note","type":["null","string"],"default":null}]}`

func logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// runSink runs a sink until the test ends; errors are reported on the
// returned channel.
func runSink(t *testing.T, conn *client.Conn, cfg pgsink.Config) (stop func() error) {
	t.Helper()
	s, err := pgsink.New(cfg, conn, logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	var result error
	stop = func() error {
		once.Do(func() {
			cancel()
			result = <-done
		})
		return result
	}
	t.Cleanup(func() { stop() })
	return stop
}

func pgConn(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// waitOffsets waits until the connector has committed want records in
// total over all partitions.
func waitOffsets(t *testing.T, pg *pgx.Conn, connector string, want int64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var n *int64
		err := pg.QueryRow(context.Background(), `SELECT sum(next_offset)::bigint FROM sluice_connect_offsets WHERE connector = $1`, connector).Scan(&n)
		if err == nil && n != nil && *n >= want {
			return
		}
		if time.Now().After(deadline) {
			got := int64(-1)
			if n != nil {
				got = *n
			}
			t.Fatalf("connector %s committed %d records, want %d (err %v)", connector, got, want, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ptr[T any](v T) *T { return &v }

func TestSinkAvroUpsertTombstoneEvolution(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.DB(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "orders", 2, map[string]string{"cleanup.policy": "compact"})
	p, err := client.NewProducer(ctx, srv.Conn, "orders", primitive.String(), nullable[Order]{avro.Must[*Order](orderV1)}, client.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Order{}
	for i := range 50 {
		o := Order{ID: fmt.Sprintf("o%d", i%20), Customer: fmt.Sprintf("c%d", i), Total: float64(i) + 0.5, Qty: int64(i),
			Address: Address{City: "Lyon"}, Tags: []string{"a", fmt.Sprint(i)}}
		if i%3 == 0 {
			o.Address.Zip = ptr(int32(69000 + i))
		}
		if _, err := p.Produce(ctx, o.ID, &o); err != nil {
			t.Fatal(err)
		}
		want[o.ID] = o
	}
	// Tombstones delete o3 and o4.
	for _, id := range []string{"o3", "o4"} {
		if _, err := p.Produce(ctx, id, nil); err != nil {
			t.Fatal(err)
		}
		delete(want, id)
	}
	stop := runSink(t, srv.Conn, pgsink.Config{Name: "orders-sink", Postgres: dbURL, Topic: "orders", KeyColumn: "id", BatchInterval: 20 * time.Millisecond})
	pg := pgConn(t, dbURL)
	waitOffsets(t, pg, "orders-sink", 52)
	checkOrders(t, pg, want, false)

	// A new schema version adds a nullable column; older rows read NULL.
	p2, err := client.NewProducer(ctx, srv.Conn, "orders", primitive.String(), nullable[OrderV2]{avro.Must[*OrderV2](orderV2)}, client.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	o := OrderV2{Order: Order{ID: "o5", Customer: "new", Total: 9, Qty: 1, Address: Address{City: "Paris"}, Tags: []string{}}, Note: ptr("gift")}
	if _, err := p2.Produce(ctx, o.ID, &o); err != nil {
		t.Fatal(err)
	}
	want["o5"] = o.Order
	waitOffsets(t, pg, "orders-sink", 53)
	checkOrders(t, pg, want, true)
	var note *string
	if err := pg.QueryRow(ctx, `SELECT note FROM orders WHERE id = 'o5'`).Scan(&note); err != nil || note == nil || *note != "gift" {
		t.Fatalf("note of o5 = %q (err %v), want gift", deref(note), err)
	}
	if err := pg.QueryRow(ctx, `SELECT note FROM orders WHERE id = 'o6'`).Scan(&note); err != nil || note != nil {
		t.Fatalf("note of o6 = %v (err %v), want NULL", note, err)
	}
	if err := stop(); err != nil {
		t.Fatalf("sink: %v", err)
	}
}

// checkOrders compares the table with want, column by column.
func checkOrders(t *testing.T, pg *pgx.Conn, want map[string]Order, _ bool) {
	t.Helper()
	rows, err := pg.Query(context.Background(), `SELECT id, customer, total, qty, address_city, address_zip, tags FROM orders ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Order{}
	for rows.Next() {
		var o Order
		var tags []byte
		if err := rows.Scan(&o.ID, &o.Customer, &o.Total, &o.Qty, &o.Address.City, &o.Address.Zip, &tags); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(tags, &o.Tags); err != nil {
			t.Fatalf("tags %s: %v", tags, err)
		}
		got[o.ID] = o
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Fatalf("row %s missing", id)
		}
		if show(g) != show(w) {
			t.Fatalf("row %s = %s, want %s", id, show(g), show(w))
		}
	}
}

// show renders an order with its optional zip code dereferenced.
func show(o Order) string {
	zip := "null"
	if o.Address.Zip != nil {
		zip = fmt.Sprint(*o.Address.Zip)
	}
	if o.Tags == nil {
		o.Tags = []string{}
	}
	return fmt.Sprintf("%s %s %v %d %s %s %q", o.ID, o.Customer, o.Total, o.Qty, o.Address.City, zip, o.Tags)
}

type Event struct {
	Seq  int64  `json:"seq"`
	Body string `json:"body"`
}

const eventSchema = `{"type":"object","title":"Event","properties":{"seq":{"type":"integer"},"body":{"type":"string"}},"required":["seq","body"]}`

// TestSinkKill9 kills the sink process in the middle of a stream, twice,
// restarts it each time, and checks that every record is one row: none
// missing, none duplicated (insert mode, no primary key, so a duplicate
// would show).
func TestSinkKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 test: slow")
	}
	ctx := context.Background()
	dbURL := pgtest.DB(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "events", 3, nil)
	p, err := client.NewProducer(ctx, srv.Conn, "events", primitive.Null(), jsonschema.Must[Event](eventSchema), client.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	const total = 30000
	produced := make(chan error, 1)
	go func() {
		for i := range total {
			p.ProduceAsync(ctx, struct{}{}, Event{Seq: int64(i), Body: "b"}, nil)
		}
		produced <- p.Flush(ctx)
	}()
	cfg, _ := json.Marshal(childConfig{URL: srv.URL, Sink: pgsink.Config{Name: "events-sink", Postgres: dbURL, Topic: "events",
		Mode: pgsink.ModeInsert, BatchRecords: 500, BatchInterval: 5 * time.Millisecond}})
	pg := pgConn(t, dbURL)
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+string(cfg))
		cmd.Stderr = testWriter{t}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	rowCount := func() int64 {
		var n int64
		if err := pg.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&n); err != nil {
			return 0 // not created yet
		}
		return n
	}
	for kill := 1; kill <= 2; kill++ {
		cmd := start()
		// Let it write some batches, then kill it mid-stream.
		deadline := time.Now().Add(60 * time.Second)
		for rowCount() < int64(kill)*5000 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		t.Logf("killed the sink with %d rows written", rowCount())
	}
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	cmd := start()
	defer func() {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}()
	waitOffsets(t, pg, "events-sink", total)
	var n, distinct, lo, hi int64
	if err := pg.QueryRow(ctx, `SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM events`).Scan(&n, &distinct, &lo, &hi); err != nil {
		t.Fatal(err)
	}
	if n != total || distinct != total || lo != 0 || hi != total-1 {
		t.Fatalf("rows %d, distinct seq %d, seq %d..%d; want %d rows, each seq once", n, distinct, lo, hi, total)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestSinkBadRecord: a record upsert mode cannot write (no key) goes to
// the dead-letter topic with the reason, the others are written; with
// on_error fail the sink stops with an error naming the record.
func TestSinkBadRecord(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.DB(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "ev", 1, map[string]string{"key.schema.validation": "none"})
	srv.CreateTopic(t, "ev-dlq", 1, nil)
	keyed, err := client.NewProducer(ctx, srv.Conn, "ev", primitive.String(), jsonschema.Must[Event](eventSchema), client.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	unkeyed, err := client.NewProducer(ctx, srv.Conn, "ev", primitive.Null(), jsonschema.Must[Event](eventSchema), client.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := keyed.Produce(ctx, fmt.Sprint(i), Event{Seq: int64(i), Body: "ok"}); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			if _, err := unkeyed.Produce(ctx, struct{}{}, Event{Seq: 99, Body: "no key"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// on_error fail: stops at offset 2.
	s, err := pgsink.New(pgsink.Config{Name: "strict", Postgres: dbURL, Topic: "ev", Table: "strict"}, srv.Conn, logger(t))
	if err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = s.Run(tctx)
	if err == nil || !strings.Contains(err.Error(), "partition 0 offset 2") || !strings.Contains(err.Error(), "needs a record key") {
		t.Fatalf("strict sink: %v, want an error naming offset 2 and the missing key", err)
	}

	stop := runSink(t, srv.Conn, pgsink.Config{Name: "lenient", Postgres: dbURL, Topic: "ev", Table: "lenient", OnError: pgsink.OnErrorDLQ, DLQTopic: "ev-dlq"})
	pg := pgConn(t, dbURL)
	waitOffsets(t, pg, "lenient", 4)
	var n int
	if err := pg.QueryRow(ctx, `SELECT count(*) FROM lenient`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("lenient rows %d (err %v), want 3", n, err)
	}
	c, err := client.NewConsumer(srv.Conn, "ev-dlq", primitive.RawBytes(), primitive.RawBytes(), client.FromEarliest())
	if err != nil {
		t.Fatal(err)
	}
	cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
	defer ccancel()
	for m, err := range c.All(cctx) {
		if err != nil {
			t.Fatal(err)
		}
		hs := map[string]string{}
		for _, h := range m.Headers {
			hs[h.Key] = string(h.Value)
		}
		if !strings.Contains(hs[client.DeadLetterErrorHeader], "needs a record key") || hs[client.DeadLetterOffsetHeader] != "2" || hs[client.DeadLetterTopicHeader] != "ev" {
			t.Fatalf("dead letter headers %v", hs)
		}
		break
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestStatus: the position and lag of a sink, and a running sink whose
// heartbeat is stale (a killed process) reported as not responding.
func TestStatus(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.DB(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "st", 2, nil)
	p, err := client.NewProducer(ctx, srv.Conn, "st", primitive.String(), jsonschema.Must[Event](eventSchema), client.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := p.Produce(ctx, fmt.Sprint(i), Event{Seq: int64(i), Body: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := pgsink.Config{Name: "st", Postgres: dbURL, Topic: "st"}
	st, err := pgsink.ReadStatus(ctx, cfg, srv.Conn)
	if err != nil || st.State != "" || st.Lag != 5 {
		t.Fatalf("before any run: %+v, %v", st, err)
	}
	stop := runSink(t, srv.Conn, cfg)
	pg := pgConn(t, dbURL)
	waitOffsets(t, pg, "st", 5)
	if st, err = pgsink.ReadStatus(ctx, cfg, srv.Conn); err != nil || st.State != "running" || st.Lag != 0 {
		t.Fatalf("running: %+v, %v", st, err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if st, _ = pgsink.ReadStatus(ctx, cfg, srv.Conn); st.State != "stopped" {
		t.Fatalf("stopped: %+v", st)
	}
	// As a kill -9 leaves it: "running", with an old heartbeat.
	if _, err := pg.Exec(ctx, `UPDATE sluice_connect_status SET state = 'running', updated_at = now() - interval '1 minute'`); err != nil {
		t.Fatal(err)
	}
	if st, _ = pgsink.ReadStatus(ctx, cfg, srv.Conn); st.State != "not responding" || !strings.Contains(st.Detail, "no heartbeat since") {
		t.Fatalf("stale: %+v", st)
	}
}
