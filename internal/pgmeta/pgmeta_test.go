package pgmeta_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/internal/pgmeta"
	"github.com/sluicehq/sluice/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"postgres://u@127.0.0.1:5432/db", ""},
		{"postgresql://u:secret@h/db?sslmode=disable", ""},
		{"mysql://u@h/db", `scheme "mysql"`},
		{"postgres:///db", "no host"},
		{"postgres://u@h", "no database name"},
		{"postgres://u@h/", "no database name"},
		{"postgres://u:secret@h:bad/db", "metadata URL"},
		{"mysql://u@h/db?password=secret", `scheme "mysql"`},
	} {
		err := pgmeta.CheckURL(tc.url)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckURL(%q) = %v, want nil", tc.url, err)
		case err != nil && strings.Contains(err.Error(), "secret"):
			t.Errorf("CheckURL(%q) = %v: the password is in the message", tc.url, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("CheckURL(%q) = %v, want an error containing %q", tc.url, err, tc.want)
		case err != nil && strings.Contains(err.Error(), "secret"):
			t.Errorf("CheckURL(%q) = %v: the password leaks into the message", tc.url, err)
		}
	}
}

// Nodes starting at once apply each migration exactly once; a database
// with more migrations than the binary knows is refused.
func TestMigrate(t *testing.T) {
	ctx := context.Background()
	pool, err := pgmeta.Open(ctx, pgtest.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	migs := []string{`CREATE TABLE a (x INT)`, `ALTER TABLE a ADD COLUMN y INT; CREATE TABLE b (z INT)`}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- pgmeta.Migrate(ctx, pool, "c", migs)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Migrate: %v", err)
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM migrations WHERE component = 'c'`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("migrations recorded: %d, %v; want 2", n, err)
	}
	err = pgmeta.Migrate(ctx, pool, "c", migs[:1])
	if err == nil || !strings.Contains(err.Error(), "newer Sluice") {
		t.Fatalf("Migrate with fewer migrations = %v, want a refusal naming a newer Sluice", err)
	}
}

// Connections ask the server to probe a silent client, so that a dead
// node's session and locks go within about 25 s.
func TestKeepalives(t *testing.T) {
	ctx := context.Background()
	pool, err := pgmeta.Open(ctx, pgtest.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var idle string
	if err := pool.QueryRow(ctx, `SHOW tcp_keepalives_idle`).Scan(&idle); err != nil || idle != "10" {
		t.Fatalf("tcp_keepalives_idle = %q, %v; want 10", idle, err)
	}
}

// TestRedact: no password reaches a message, wherever the URL puts it.
func TestRedact(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"postgres://u:TOPSECRET@h/db", "postgres://u:xxxxx@h/db"},
		{"postgres://u@h/db?sslmode=disable&password=TOPSECRET", "postgres://u@h/db?password=xxxxx&sslmode=disable"},
		{"postgres://u@h/db?sslpassword=TOPSECRET", "postgres://u@h/db?sslpassword=xxxxx"},
		{"postgres://u@h/db?password=TOPSECRET%zz", "postgres://u@h/db?(parameters hidden: they do not parse)"},
		{"postgres://u@h/db?sslmode=disable", "postgres://u@h/db?sslmode=disable"},
	} {
		if got := pgmeta.Redact(tc.url); got != tc.want || strings.Contains(got, "TOPSECRET") {
			t.Errorf("Redact(%q) = %q, want %q", tc.url, got, tc.want)
		}
	}
}
