package metastore_test

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/metadb"
	"github.com/sluicehq/sluice/internal/metastore"
	"github.com/sluicehq/sluice/internal/metastore/metastoretest"
	"github.com/sluicehq/sluice/internal/pgmeta"
	"github.com/sluicehq/sluice/internal/pgtest"
)

func TestSQLiteACLs(t *testing.T) {
	metastoretest.RunACLs(t, func(t *testing.T) (metastore.ACLStore, func(t *testing.T) metastore.ACLStore) {
		path := filepath.Join(t.TempDir(), "meta.db")
		open := func(t *testing.T) metastore.ACLStore {
			db, err := metadb.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			s, err := metastore.NewSQLiteACLs(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		return open(t), open
	})
}

// openPostgresACLs opens an ACL store on the database at url.
func openPostgresACLs(t *testing.T, url string) *metastore.PostgresACLs {
	t.Helper()
	pool, err := pgmeta.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s, err := metastore.NewPostgresACLs(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPostgresACLs(t *testing.T) {
	metastoretest.RunACLs(t, func(t *testing.T) (metastore.ACLStore, func(t *testing.T) metastore.ACLStore) {
		url := pgtest.DB(t)
		return openPostgresACLs(t, url), func(t *testing.T) metastore.ACLStore { return openPostgresACLs(t, url) }
	})
}

// TestPostgresACLWatch: a write on one node's store is announced to
// another node's watcher by LISTEN/NOTIFY, long before the safety poll
// (set to an hour here); so is a removal; the watcher signals once on
// connecting too.
func TestPostgresACLWatch(t *testing.T) {
	url := pgtest.DB(t)
	writer, watched := openPostgresACLs(t, url), openPostgresACLs(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	changes := make(chan struct{}, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		watched.WatchACLs(ctx, time.Hour, func() { changes <- struct{}{} }, func(msg string, err error) { t.Logf("%s: %v", msg, err) })
	}()
	defer func() { cancel(); <-done }()
	wait := func(what string) {
		t.Helper()
		select {
		case <-changes:
		case <-time.After(30 * time.Second):
			t.Fatalf("no change signalled after %s", what)
		}
	}
	wait("connecting")
	r := metastore.ACLRule{Principal: "bob", ResourceType: "topic", ResourceName: "orders", PatternType: "literal", Operation: "read", Permission: "allow"}
	if err := writer.AddACLRules(ctx, []metastore.ACLRule{r}); err != nil {
		t.Fatal(err)
	}
	wait("a rule added on another node")
	if err := writer.RemoveACLRules(ctx, []metastore.ACLRule{r}); err != nil {
		t.Fatal(err)
	}
	wait("a rule removed on another node")
}

// TestPostgresACLWatchReturnsAfterListener: when ctx ends, WatchACLs
// returns only after its listening goroutine has closed its connection
// (the caller closes the pool next).
func TestPostgresACLWatchReturnsAfterListener(t *testing.T) {
	s := openPostgresACLs(t, pgtest.DB(t))
	ctx, cancel := context.WithCancel(context.Background())
	connected := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.WatchACLs(ctx, time.Hour, func() {
			select {
			case connected <- struct{}{}:
			default:
			}
		}, nil)
	}()
	select {
	case <-connected:
	case <-time.After(30 * time.Second):
		t.Fatal("the watch never signalled its connection")
	}
	cancel()
	<-done
	buf := make([]byte, 1<<20)
	if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "listenACLs") || strings.Contains(stacks, "pgnotify.(*Hub).loop") {
		t.Fatalf("a listener outlived WatchACLs:\n%s", stacks)
	}
}
