package metastore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/metastore"
	"github.com/sluicehq/sluice/internal/pgmeta"
	"github.com/sluicehq/sluice/internal/pgtest"
)

func TestJoin(t *testing.T) {
	ctx := context.Background()
	pool, err := pgmeta.Open(ctx, pgtest.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	a, err := metastore.Join(ctx, pool, "a", "127.0.0.1:1", true)
	if err != nil {
		t.Fatal(err)
	}
	if !a.IsDataNode() {
		t.Fatalf("first claimant: data node %q, want a", a.DataNode)
	}
	// One process per node id.
	if _, err := metastore.Join(ctx, pool, "a", "", true); !errors.Is(err, metastore.ErrNodeRunning) {
		t.Fatalf("second Join as a = %v, want ErrNodeRunning", err)
	}
	b, err := metastore.Join(ctx, pool, "b", "", true)
	if err != nil {
		t.Fatal(err)
	}
	if b.IsDataNode() || b.DataNode != "a" {
		t.Fatalf("b: data node %q, want a", b.DataNode)
	}
	// The role stays with a across restarts, and a may rejoin once gone.
	a.Close()
	a2, err := metastore.Join(ctx, pool, "a", "", true)
	if err != nil {
		t.Fatal(err)
	}
	if !a2.IsDataNode() {
		t.Fatalf("a after restart: data node %q", a2.DataNode)
	}
	a2.Close()
	b.Close()
	c, err := metastore.Join(ctx, pool, "c", "", true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.IsDataNode() {
		t.Fatal("the data-node role moved to another node while a was down: a's topic bytes are on a's disk only")
	}
	for _, bad := range []string{"", "has space", "x/y", string(make([]byte, 65))} {
		if _, err := metastore.Join(ctx, pool, bad, "", true); err == nil {
			t.Errorf("Join(%q) accepted a bad node id", bad)
		}
	}
}

// TestLeaseTakenBack: a node whose lease connection is cut takes the
// lease again on a new connection at its next heartbeat; if another
// process took it first, LeaseHeld says so until that process stops, and
// then the node takes it back.
func TestLeaseTakenBack(t *testing.T) {
	ctx := context.Background()
	pool, err := pgmeta.Open(ctx, pgtest.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// holder is the backend holding id's lease, 0 when none does.
	holder := func(id string) int {
		t.Helper()
		var pid int
		err := pool.QueryRow(ctx, `SELECT COALESCE(max(pid), 0) FROM pg_locks WHERE locktype = 'advisory' AND granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND ((classid::bigint << 32) | objid::bigint) = $1`, pgmeta.LockKey("node:"+id)).Scan(&pid)
		if err != nil {
			t.Fatal(err)
		}
		return pid
	}
	cut := func(pid int) {
		t.Helper()
		if _, err := pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
			t.Fatal(err)
		}
		for i := 0; holder("a") == pid || holder("b") == pid; i++ {
			if i == 500 {
				t.Fatalf("backend %d still holds its lease", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for i := 0; !cond(); i++ {
			if i == 1000 {
				t.Fatalf("waited 10 s for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// Cut with nobody else waiting: taken again on a new connection.
	b, err := metastore.Join(ctx, pool, "b", "", false)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.StartHeartbeats(200*time.Millisecond, nil)
	first := holder("b")
	cut(first)
	waitFor("b to take its lease again", func() bool { return holder("b") != 0 })
	if !b.LeaseHeld() {
		t.Fatal("b: LeaseHeld false after taking its lease again")
	}
	if _, err := metastore.Join(ctx, pool, "b", "", false); !errors.Is(err, metastore.ErrNodeRunning) {
		t.Fatalf("a second b once the first took its lease back: %v, want ErrNodeRunning", err)
	}

	// Cut, and another process joins as a before a's next heartbeat.
	a, err := metastore.Join(ctx, pool, "a", "", false)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	cut(holder("a"))
	a2, err := metastore.Join(ctx, pool, "a", "", false)
	if err != nil {
		t.Fatalf("join as a while a's lease connection is gone: %v", err)
	}
	a2pid := holder("a")
	a.StartHeartbeats(200*time.Millisecond, nil)
	waitFor("a to see its lease lost", func() bool { return !a.LeaseHeld() })
	if holder("a") != a2pid {
		t.Fatal("the lease moved while the second process held it")
	}
	a2.Close()
	waitFor("a to take its lease back", func() bool { return a.LeaseHeld() && holder("a") != 0 })
}
