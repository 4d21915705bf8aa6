package pgsource_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/avro"
	"github.com/sluicehq/sluice/connect/pgsource"
	"github.com/sluicehq/sluice/internal/pgtest"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	registryv1 "github.com/sluicehq/sluice/proto/gen/sluice/registry/v1"
	"github.com/sluicehq/sluice/sluicetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// logicalServer starts a PostgreSQL server with logical replication on
// and returns the URL of its postgres database.
func logicalServer(t testing.TB) string {
	srv := pgtest.NewServer(t, pgtest.Options{Settings: map[string]string{
		"wal_level": "logical", "max_replication_slots": "8", "max_wal_senders": "8"}})
	return srv.URL("postgres")
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, nil))
}

// run runs a source until stop is called or the test ends.
func run(t *testing.T, conn *client.Conn, cfg pgsource.Config) (stop func() error) {
	t.Helper()
	s, err := pgsource.New(cfg, conn, logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	var res error
	stop = func() error {
		once.Do(func() { cancel(); res = <-done })
		return res
	}
	t.Cleanup(func() { stop() })
	return stop
}

type CustomerKey struct {
	ID int32 `avro:"id"`
}

type Customer struct {
	ID      int32   `avro:"id"`
	Name    *string `avro:"name"`
	Balance *string `avro:"balance"`
	Born    *int32  `avro:"born"`
	Email   *string `avro:"email"`
}

const keySchema = `{"type":"record","name":"customersKey","namespace":"sluice.cdc.public","fields":[{"name":"id","type":"int"}]}`

// The reader schema has email (added later by ALTER TABLE) with a default,
// so it reads both versions.
const valueSchema = `{"type":"record","name":"customers","namespace":"sluice.cdc.public","fields":[
 {"name":"id","type":"int"},
 {"name":"name","type":["null","string"],"default":null},
 {"name":"balance","type":["null","string"],"default":null},
 {"name":"born","type":["null",{"type":"int","logicalType":"date"}],"default":null},
 {"name":"email","type":["null","string"],"default":null}]}`

// event is one record as the test sees it.
func event(m client.Message[CustomerKey, *Customer]) string {
	op := ""
	for _, h := range m.Headers {
		if h.Key == pgsource.OpHeader {
			op = string(h.Value)
		}
	}
	if m.Value == nil {
		return fmt.Sprintf("%s %d null", op, m.Key.ID)
	}
	s := func(p *string) string {
		if p == nil {
			return "null"
		}
		return *p
	}
	born := "null"
	if m.Value.Born != nil {
		born = time.Unix(int64(*m.Value.Born)*86400, 0).UTC().Format("2006-01-02")
	}
	return fmt.Sprintf("%s %d %s %s %s %s", op, m.Key.ID, s(m.Value.Name), s(m.Value.Balance), born, s(m.Value.Email))
}

// collect reads the topic from the start until it has n records.
func collect(t *testing.T, conn *client.Conn, topic string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := conn.Topics().DescribeTopic(context.Background(), connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: topic}))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s: %v", topic, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c, err := client.NewConsumer(conn, topic, avro.Must[CustomerKey](keySchema), avro.Must[*Customer](valueSchema), client.FromEarliest())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []string
	for m, err := range c.All(ctx) {
		if err != nil {
			t.Fatalf("consume %s: %v (after %q)", topic, err, out)
		}
		out = append(out, event(m))
		if len(out) == n {
			return out
		}
	}
	t.Fatalf("consume %s: %d records, want %d: %q", topic, len(out), n, out)
	return nil
}

func execSQL(t *testing.T, pg *pgx.Conn, sqls ...string) {
	t.Helper()
	for _, q := range sqls {
		if _, err := pg.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func equal(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestSource: snapshot, then changes in order; ALTER TABLE registers a new
// version; a restart resumes with the changes made while it was down.
func TestSource(t *testing.T) {
	ctx := context.Background()
	url := logicalServer(t)
	pg, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(ctx)
	execSQL(t, pg,
		`CREATE TABLE customers (id integer PRIMARY KEY, name text, balance numeric(10,2), born date)`,
		`INSERT INTO customers VALUES (1, 'ann', 10.50, '1990-01-02'), (2, 'bob', NULL, NULL), (3, 'cy', 0, '1969-12-31')`)
	srv := sluicetest.Start(t)
	cfg := pgsource.Config{Name: "shop", Postgres: url, Tables: []string{"customers"}}
	stop := run(t, srv.Conn, cfg)

	want := []string{
		"r 1 ann 10.50 1990-01-02 null",
		"r 2 bob null null null",
		"r 3 cy 0.00 1969-12-31 null",
	}
	equal(t, collect(t, srv.Conn, "public.customers", 3), want)

	execSQL(t, pg,
		`INSERT INTO customers VALUES (4, 'dee', 1, NULL)`,
		`UPDATE customers SET name = 'anne' WHERE id = 1`,
		`DELETE FROM customers WHERE id = 2`,
		`BEGIN; UPDATE customers SET id = 30 WHERE id = 3; UPDATE customers SET balance = 2 WHERE id = 4; COMMIT`)
	want = append(want,
		"c 4 dee 1.00 null null",
		"u 1 anne 10.50 1990-01-02 null",
		"d 2 null",
		"d 3 null",
		"u 30 cy 0.00 1969-12-31 null",
		"u 4 dee 2.00 null null",
	)
	equal(t, collect(t, srv.Conn, "public.customers", len(want)), want)

	// ALTER TABLE: a new, compatible version of the value subject.
	execSQL(t, pg, `ALTER TABLE customers ADD COLUMN email text`,
		`INSERT INTO customers VALUES (5, 'eve', 3, NULL, 'eve@example.com')`)
	want = append(want, "c 5 eve 3.00 null eve@example.com")
	equal(t, collect(t, srv.Conn, "public.customers", len(want)), want)
	vs, err := srv.Conn.Registry().ListVersions(ctx, connect.NewRequest(&registryv1.ListVersionsRequest{Subject: "public.customers-value"}))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(vs.Msg.GetVersions()); n != 2 {
		t.Fatalf("public.customers-value has %d versions, want 2", n)
	}

	// Stopped, the slot keeps the changes made meanwhile; restarted, the
	// source sends them, and nothing before again.
	if err := stop(); err != nil {
		t.Fatalf("source: %v", err)
	}
	execSQL(t, pg, `INSERT INTO customers VALUES (6, 'fay', NULL, NULL, NULL)`, `DELETE FROM customers WHERE id = 5`)
	run(t, srv.Conn, cfg)
	want = append(want, "c 6 fay null null null", "d 5 null")
	equal(t, collect(t, srv.Conn, "public.customers", len(want)), want)
}
