package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func exec1(t *testing.T, url, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func count(t *testing.T, url, table string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Each DB is its own database: a table made in one is absent in the other.
func TestDBIsolated(t *testing.T) {
	a, b := pgtest.DB(t), pgtest.DB(t)
	if a == b {
		t.Fatalf("two DB calls gave one URL %s", a)
	}
	exec1(t, a, "CREATE TABLE x (v int); INSERT INTO x VALUES (1)")
	if n := count(t, a, "x"); n != 1 {
		t.Fatalf("count = %d, want 1", n)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT * FROM x"); err == nil {
		t.Fatal("table x of one test database is visible in another")
	}
}

// A killed server restarts on the same port with its committed rows.
func TestKillRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second PostgreSQL server")
	}
	ctx := context.Background()
	srv := pgtest.NewServer(t, pgtest.Options{Durable: true})
	url := srv.URL("postgres")
	exec1(t, url, "CREATE TABLE y (v int); INSERT INTO y VALUES (1), (2)")
	srv.Kill()
	if _, err := pgx.Connect(ctx, url); err == nil {
		t.Fatal("connected to a killed server")
	}
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, url, "y"); n != 2 {
		t.Fatalf("after kill and restart: %d rows, want 2", n)
	}
}

// CPUTime counts the server's backends: it grows when one works.
func TestCPUTime(t *testing.T) {
	url := pgtest.DB(t)
	srv := pgtest.SharedServer(t)
	if srv == nil {
		t.Skip("the server is outside this process (" + pgtest.EnvURL + ")")
	}
	before, err := srv.CPUTime()
	if err != nil {
		t.Fatal(err)
	}
	if before <= 0 {
		t.Fatalf("CPUTime = %v after starting the server and a database", before)
	}
	exec1(t, url, "SELECT count(*) FROM generate_series(1, 3000000)")
	after, err := srv.CPUTime()
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Fatalf("CPUTime %v after a query, %v before", after, before)
	}
	t.Logf("a 3M-row count cost the server %v of CPU", after-before)
}

// A standby is synchronous: a commit that waits for it to apply
// (remote_apply) is visible there when it returns, and it refuses writes.
func TestStandby(t *testing.T) {
	srv := pgtest.NewServer(t, pgtest.Options{})
	st, err := srv.StartStandby(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Stop)
	exec1(t, srv.URL("postgres"), "SET synchronous_commit = remote_apply; CREATE TABLE x (v int); INSERT INTO x VALUES (1), (2)")
	if n := count(t, st.URL("postgres"), "x"); n != 2 {
		t.Fatalf("the standby has %d rows of the 2 committed", n)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, st.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "INSERT INTO x VALUES (3)"); err == nil {
		t.Fatal("the standby took a write")
	}
}
