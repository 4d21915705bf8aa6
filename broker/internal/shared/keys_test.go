package shared

import (
	"context"
	"testing"
	"time"
)

// One statement announces the object key a window needs and the next
// ones: the pool's rows wait in sharedlog_uploads, one object after
// another uses them without a statement of its own, and the rows left
// are deleted when they grow too old to use and when the Log closes.
func TestKeysAnnouncedAhead(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	a := c.node("a", func(cfg *Config) {
		cfg.PutTimeout = 300 * time.Millisecond
		cfg.CommitTimeout = 300 * time.Millisecond
		cfg.OrphanAge = 2 * time.Second // keys are usable for 0.7 s
		cfg.PollInterval = 50 * time.Millisecond
	})
	p := openPart(t, a, "ahead", 0)
	uploads := func() (rows, statements int) {
		t.Helper()
		if err := c.pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT started_at) FROM sharedlog_uploads`).Scan(&rows, &statements); err != nil {
			t.Fatal(err)
		}
		return rows, statements
	}
	if _, err := p.Append(ctx, recs("ahead", 0, 1)); err != nil {
		t.Fatal(err)
	}
	if rows, stmts := uploads(); rows != announceAhead-1 || stmts != 1 {
		t.Fatalf("after the first object: %d upload rows from %d statements, want the %d keys announced with its own, from one", rows, stmts, announceAhead-1)
	}
	for i := range 3 {
		if _, err := p.Append(ctx, recs("ahead", 1+i, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if rows, stmts := uploads(); rows != announceAhead-4 || stmts != 1 {
		t.Fatalf("after three more objects: %d upload rows from %d statements, want %d from one", rows, stmts, announceAhead-4)
	}
	// Too old to use: the node deletes them (its poll), and announces anew.
	deadline := time.Now().Add(10 * time.Second)
	for rows, _ := uploads(); rows != 0; rows, _ = uploads() {
		if time.Now().After(deadline) {
			t.Fatalf("%d upload rows of keys too old to use are still there", rows)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := p.Append(ctx, recs("ahead", 4, 1)); err != nil {
		t.Fatal(err)
	}
	if rows, _ := uploads(); rows != announceAhead-1 {
		t.Fatalf("after an object with an empty pool: %d upload rows, want %d", rows, announceAhead-1)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if rows, _ := uploads(); rows != 0 {
		t.Fatalf("%d upload rows after Close, want none", rows)
	}
	var objects int
	if err := c.pool.QueryRow(ctx, `SELECT count(*) FROM sharedlog_objects`).Scan(&objects); err != nil || objects != 5 {
		t.Fatalf("%d objects committed (%v), want 5", objects, err)
	}
}

// With an OrphanAge that leaves keys almost no time to wait for an object,
// each object's key is announced alone: none would be used in time.
func TestKeysNotAnnouncedAheadWhenTheyWouldGoStale(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	a := c.node("a", func(cfg *Config) {
		cfg.PutTimeout = time.Second
		cfg.CommitTimeout = time.Second
		cfg.OrphanAge = 2*time.Second + 100*time.Millisecond // keys usable for 50 ms
	})
	p := openPart(t, a, "alone", 0)
	if _, err := p.Append(ctx, recs("alone", 0, 1)); err != nil {
		t.Fatal(err)
	}
	// Counted as written, so that a poll pruning stale keys in between
	// cannot hide keys announced ahead.
	if n := a.keys.announced.Load(); n != 1 {
		t.Fatalf("%d keys announced for one object, want its own alone", n)
	}
	var rows int
	if err := c.pool.QueryRow(ctx, `SELECT count(*) FROM sharedlog_uploads`).Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("%d upload rows after an object (%v), want none announced ahead", rows, err)
	}
}

// Two windows that find the pool empty at once refill it once: the second
// announces its own key alone while the first's statement fills the pool.
func TestKeysRefilledOnce(t *testing.T) {
	c := newCluster(t)
	a := c.node("a", nil)
	x, y := a.announce(), a.announce()
	for _, an := range []*announcement{x, y} {
		<-an.done
		if an.err != nil {
			t.Fatal(an.err)
		}
	}
	if n := a.keys.announced.Load(); n != announceAhead+1 {
		t.Fatalf("%d keys announced by two windows on an empty pool, want %d (one refill and a key alone)", n, announceAhead+1)
	}
	a.keys.mu.Lock()
	ready := len(a.keys.ready)
	a.keys.mu.Unlock()
	if ready != announceAhead-1 {
		t.Fatalf("%d keys in the pool, want %d", ready, announceAhead-1)
	}
}
