package shared

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/broker/internal/log"
	"github.com/sluicehq/sluice/internal/pgmeta"
	"github.com/sluicehq/sluice/internal/pgtest"
	"github.com/sluicehq/sluice/objstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// cluster is one PostgreSQL database and one object directory that test
// nodes share.
type cluster struct {
	t    testing.TB
	url  string
	dir  *objstore.Dir
	pool *pgxpool.Pool
}

func newCluster(t testing.TB) *cluster {
	t.Helper()
	url := pgtest.DB(t)
	d, err := objstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pool := openPool(t, url)
	return &cluster{t: t, url: url, dir: d, pool: pool}
}

// newKillableCluster is newCluster on a PostgreSQL server of the test's own,
// for tests that kill and restart it, with synchronous_commit on (pgtest
// turns it off by default): a commit is acknowledged only once its WAL is
// written, as the shared log requires of production; fsync stays off (the
// kernel keeps what a killed server wrote). With it off, acked records
// vanish when the server is killed.
func newKillableCluster(t testing.TB) (*pgtest.Server, *cluster) {
	t.Helper()
	srv := pgtest.NewServer(t, pgtest.Options{Settings: map[string]string{"synchronous_commit": "on"}})
	url := srv.URL("postgres")
	d, err := objstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return srv, &cluster{t: t, url: url, dir: d, pool: openPool(t, url)}
}

func openPool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgmeta.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// node opens a Log named name; edit adjusts its config.
func (c *cluster) node(name string, edit func(*Config)) *Log {
	c.t.Helper()
	cfg := Config{Pool: c.pool, Objects: c.dir, Node: name, Window: 5 * time.Millisecond, PollInterval: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(testWriter{c.t}, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if edit != nil {
		edit(&cfg)
	}
	l, err := Open(context.Background(), cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { l.Close() })
	return l
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	if os.Getenv("SHARED_TEST_LOG") != "" {
		w.t.Log(string(b))
	}
	return len(b), nil
}

func openPart(t testing.TB, l *Log, topic string, part int32) *Partition {
	t.Helper()
	p, err := l.Partition(context.Background(), topic, part, log.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// recs makes n records whose values say who and which.
func recs(who string, from, n int) []log.Record {
	out := make([]log.Record, n)
	for i := range out {
		out[i] = log.Record{Key: []byte(fmt.Sprintf("k%d", (from+i)%7)), Value: []byte(fmt.Sprintf("%s-%d", who, from+i)), Timestamp: int64(1_700_000_000_000 + from + i)}
	}
	return out
}

// waitHW waits until p's high watermark reaches want.
func waitHW(t testing.TB, p *Partition, want int64) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		ch := p.Notify()
		if p.HighWatermark() >= want {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("high watermark of %s is %d after 20 s, want %d", p.key, p.HighWatermark(), want)
		}
	}
}
