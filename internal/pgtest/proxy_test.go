package pgtest_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/pgtest"
)

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// SetCut closes the proxy's connections and refuses new ones until undone.
func TestProxySetCut(t *testing.T) {
	url := pgtest.DB(t)
	host := hostOf(t, url)
	p := pgtest.NewProxy(t, host)
	via := p.Via(t, url)
	ctx := context.Background()
	conn := connect(t, via)
	if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	p.SetCut(true)
	if _, err := conn.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatal("a connection survived SetCut(true)")
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if c, err := pgx.Connect(cctx, via); err == nil {
		c.Close(ctx)
		t.Fatal("a new connection was accepted while cut")
	}
	p.SetCut(false)
	if _, err := connect(t, via).Exec(ctx, "SELECT 1"); err != nil {
		t.Fatalf("after SetCut(false): %v", err)
	}
}

// CutBefore drops the call (nothing happens on the server); CutAfter
// forwards it (the server commits it) and the client never hears back.
func TestProxyCutCall(t *testing.T) {
	url := pgtest.DB(t)
	exec1(t, url, "CREATE TABLE cut (v int)")
	p := pgtest.NewProxy(t, hostOf(t, url))
	via := p.Via(t, url)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		arm  func(marker string, n int)
		rows int // rows in the table after the cut call
	}{
		{"before", p.CutBefore, 0},
		{"after", p.CutAfter, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exec1(t, url, "TRUNCATE cut")
			conn := connect(t, via)
			if _, err := conn.Exec(ctx, "SELECT 1 /* unmarked */"); err != nil {
				t.Fatal(err)
			}
			cuts := p.Cuts()
			tc.arm("cut_me", 1)
			if _, err := conn.Exec(ctx, "INSERT INTO cut VALUES (1) /* cut_me */"); err == nil {
				t.Fatal("the marked call was answered")
			}
			if got := p.Cuts(); got != cuts+1 {
				t.Fatalf("Cuts() = %d, want %d", got, cuts+1)
			}
			if n := count(t, url, "cut"); n != tc.rows {
				t.Fatalf("%d rows after the cut call, want %d", n, tc.rows)
			}
			// Armed once: the next marked call goes through.
			if _, err := connect(t, via).Exec(ctx, "INSERT INTO cut VALUES (2) /* cut_me */"); err != nil {
				t.Fatalf("second marked call: %v", err)
			}
		})
	}
}

// A prepared statement's text goes over the wire once per connection, in
// its Parse; each later call is a Bind of its name. The proxy still cuts
// the call (pgx's statement cache, its default).
func TestProxyCutPreparedCall(t *testing.T) {
	url := pgtest.DB(t)
	exec1(t, url, "CREATE TABLE cut (v int)")
	p := pgtest.NewProxy(t, hostOf(t, url))
	via := p.Via(t, url)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		arm  func(marker string, n int)
		rows int // rows in the table after the cut call
	}{
		{"before", p.CutBefore, 2},
		{"after", p.CutAfter, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exec1(t, url, "TRUNCATE cut")
			conn := connect(t, via)
			// Prepared and run twice before the marker is armed.
			for i := range 2 {
				if _, err := conn.Exec(ctx, "INSERT INTO cut VALUES ($1) /* cut_me */", i); err != nil {
					t.Fatal(err)
				}
			}
			cuts := p.Cuts()
			tc.arm("cut_me", 1)
			// An unmarked statement on the same connection passes.
			if _, err := conn.Exec(ctx, "SELECT $1::int /* unmarked */", 1); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(ctx, "INSERT INTO cut VALUES ($1) /* cut_me */", 9); err == nil {
				t.Fatal("the marked call was answered")
			}
			if got := p.Cuts(); got != cuts+1 {
				t.Fatalf("Cuts() = %d, want %d", got, cuts+1)
			}
			if n := count(t, url, "cut"); n != tc.rows {
				t.Fatalf("%d rows after the cut call, want %d", n, tc.rows)
			}
		})
	}
}

func hostOf(t *testing.T, url string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
}
