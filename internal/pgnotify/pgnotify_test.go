package pgnotify_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/pgnotify"
	"github.com/sluicehq/sluice/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// start returns a hub on a fresh database whose connection is named app,
// and a connection to send notifications and look at the server with.
func start(t *testing.T, app string, maxQueued int) (*pgnotify.Hub, *pgx.Conn) {
	t.Helper()
	url := pgtest.DB(t)
	cc, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cc.RuntimeParams["application_name"] = app
	h, err := pgnotify.New(pgnotify.Config{ConnConfig: cc, MinBackoff: 10 * time.Millisecond, MaxQueued: maxQueued})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return h, conn
}

// await waits for s to be ready and takes what it holds.
func await(t *testing.T, s *pgnotify.Subscription) ([]string, bool) {
	t.Helper()
	select {
	case <-s.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("no signal in 10 s")
	}
	return s.Take(nil)
}

// collect takes payloads until it has n, failing if a missed signal comes.
func collect(t *testing.T, s *pgnotify.Subscription, n int) []string {
	t.Helper()
	var got []string
	for len(got) < n {
		p, missed := await(t, s)
		if missed {
			t.Fatalf("missed signal after %v", got)
		}
		got = append(got, p...)
	}
	return got
}

func notify(t *testing.T, conn *pgx.Conn, channel, payload string) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), `SELECT pg_notify($1, $2)`, channel, payload); err != nil {
		t.Fatal(err)
	}
}

func backends(t *testing.T, conn *pgx.Conn, app string) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Several channels share one connection; each subscriber gets its
// channel's payloads, in order, after a first missed signal.
func TestOneConnectionFansOutByChannel(t *testing.T) {
	h, conn := start(t, "pgnotify_fanout", 0)
	a1, err := h.Subscribe("chan_a")
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := h.Subscribe("chan_a")
	b, _ := h.Subscribe("chan_b")
	for _, s := range []*pgnotify.Subscription{a1, a2, b} {
		if p, missed := await(t, s); !missed || len(p) != 0 {
			t.Fatalf("first signal: payloads %v missed %v, want none and missed", p, missed)
		}
	}
	// chan_b may be LISTENed after chan_a's first signal: wait for both.
	for _, s := range []*pgnotify.Subscription{a1, a2, b} {
		s.Take(nil)
	}
	for i := range 5 {
		notify(t, conn, "chan_a", fmt.Sprint("a", i))
		notify(t, conn, "chan_b", fmt.Sprint("b", i))
	}
	want := []string{"a0", "a1", "a2", "a3", "a4"}
	for _, s := range []*pgnotify.Subscription{a1, a2} {
		if got := collect(t, s, 5); !slices.Equal(got, want) {
			t.Fatalf("chan_a got %v, want %v", got, want)
		}
	}
	if got := collect(t, b, 5); !slices.Equal(got, []string{"b0", "b1", "b2", "b3", "b4"}) {
		t.Fatalf("chan_b got %v", got)
	}
	if n := backends(t, conn, "pgnotify_fanout"); n != 1 {
		t.Fatalf("%d connections of the hub, want 1", n)
	}
	// A channel subscribed to while the hub waits is LISTENed at once.
	c, _ := h.Subscribe("chan_c")
	if _, missed := await(t, c); !missed {
		t.Fatal("a new subscription did not report missed")
	}
	notify(t, conn, "chan_c", "c0")
	if got := collect(t, c, 1); !slices.Equal(got, []string{"c0"}) {
		t.Fatalf("chan_c got %v", got)
	}
	if n := backends(t, conn, "pgnotify_fanout"); n != 1 {
		t.Fatalf("%d connections of the hub after a new channel, want 1", n)
	}
	// A closed subscription gets nothing more.
	a2.Close()
	notify(t, conn, "chan_a", "a5")
	if got := collect(t, a1, 1); !slices.Equal(got, []string{"a5"}) {
		t.Fatalf("chan_a got %v", got)
	}
	if p, missed := a2.Take(nil); len(p) != 0 || missed {
		t.Fatalf("closed subscription got %v missed %v", p, missed)
	}
}

// After its connection is killed, the hub reconnects, LISTENs again and
// tells every subscriber that it may have missed notifications.
func TestReconnectSignalsMissed(t *testing.T) {
	h, conn := start(t, "pgnotify_reconnect", 0)
	a, _ := h.Subscribe("chan_a")
	b, _ := h.Subscribe("chan_b")
	await(t, a)
	await(t, b)
	// Both LISTENed: a notification on each gets through.
	notify(t, conn, "chan_a", "x")
	notify(t, conn, "chan_b", "y")
	collect(t, a, 1)
	collect(t, b, 1)
	if _, err := conn.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgnotify_reconnect'`); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*pgnotify.Subscription{a, b} {
		for {
			_, missed := await(t, s)
			if missed {
				break
			}
		}
	}
	notify(t, conn, "chan_a", "after")
	notify(t, conn, "chan_b", "after")
	for _, s := range []*pgnotify.Subscription{a, b} {
		got := collect(t, s, 1)
		if got[len(got)-1] != "after" {
			t.Fatalf("after reconnecting got %v", got)
		}
	}
}

// A subscriber that does not keep up loses its payloads and is told so.
func TestOverflowSignalsMissed(t *testing.T) {
	h, conn := start(t, "pgnotify_overflow", 3)
	s, _ := h.Subscribe("chan_a")
	w, _ := h.Subscribe("chan_w") // a witness: delivered to after s
	if _, missed := await(t, s); !missed {
		t.Fatal("no first missed signal")
	}
	await(t, w)
	for i := range 5 {
		notify(t, conn, "chan_a", fmt.Sprint(i))
	}
	notify(t, conn, "chan_a", "last")
	notify(t, conn, "chan_w", "done")
	collect(t, w, 1)
	got, missed := s.Take(nil)
	if !missed || len(got) > 3 {
		t.Fatalf("got %v missed %v: want at most 3 payloads and missed", got, missed)
	}
	// Then it goes on normally.
	notify(t, conn, "chan_a", "next")
	if got := collect(t, s, 1); !slices.Equal(got, []string{"next"}) {
		t.Fatalf("after the overflow got %v", got)
	}
}

func TestSubscribeRefusesBadChannel(t *testing.T) {
	h, _ := start(t, "pgnotify_bad", 0)
	for _, c := range []string{"", "Upper", "1abc", "a b", "a;LISTEN x", string(make([]byte, 64))} {
		if _, err := h.Subscribe(c); err == nil {
			t.Errorf("Subscribe(%q) accepted", c)
		}
	}
	if _, err := pgnotify.New(pgnotify.Config{}); err == nil {
		t.Error("New without ConnConfig accepted")
	}
}
