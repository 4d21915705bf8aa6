package metastoretest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/internal/metastore"
)

// LeaseStore is a metadata backend with group coordinator leases.
type LeaseStore interface {
	metastore.Store
	metastore.GroupLeases
}

// LeaseOpener returns a fresh, empty store with group leases.
type LeaseOpener func(t *testing.T) LeaseStore

// RunGroupLeases runs the group lease tests (the rules in
// internal/metastore/grouplease.go) against the stores open returns.
func RunGroupLeases(t *testing.T, open LeaseOpener) {
	t.Run("Rules", func(t *testing.T) { testLeaseRules(t, open) })
	t.Run("Fencing", func(t *testing.T) { testLeaseFencing(t, open) })
	t.Run("RacingAcquire", func(t *testing.T) { testLeaseRace(t, open) })
}

const (
	long = time.Hour
	// short leases expire before the next step: the test waits for it.
	short = time.Millisecond
)

func acquire(t *testing.T, s LeaseStore, g, node string, ttl time.Duration) metastore.GroupLease {
	t.Helper()
	l, err := s.AcquireGroupLease(ctx, g, node, ttl)
	must(t, err)
	return l
}

// expire waits until a lease taken for `short` has expired by the
// database's clock.
func expire(t *testing.T, s LeaseStore, g string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, ok, err := s.GroupLeaseOf(ctx, g)
		must(t, err)
		if !ok || l.Remaining <= 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lease %+v did not expire", l)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func testLeaseRules(t *testing.T, open LeaseOpener) {
	type state int
	const (
		none state = iota
		mineLive
		mineExpired
		otherLive
		otherExpired
	)
	// setup brings group "g" to a state and returns the epoch there (0:
	// no row).
	setup := func(t *testing.T, s LeaseStore, st state) int64 {
		switch st {
		case none:
			return 0
		case mineLive:
			acquire(t, s, "g", "a", short)
			expire(t, s, "g")
			return acquire(t, s, "g", "a", long).Epoch
		case mineExpired:
			acquire(t, s, "g", "b", short)
			expire(t, s, "g")
			e := acquire(t, s, "g", "a", short).Epoch
			expire(t, s, "g")
			return e
		case otherLive:
			return acquire(t, s, "g", "b", long).Epoch
		case otherExpired:
			e := acquire(t, s, "g", "b", short).Epoch
			expire(t, s, "g")
			return e
		}
		panic("unknown state")
	}
	names := map[state]string{none: "no row", mineLive: "a holds it", mineExpired: "a's expired", otherLive: "b holds it", otherExpired: "b's expired"}

	t.Run("Acquire", func(t *testing.T) {
		tests := []struct {
			st         state
			wantHolder string
			// bump: the epoch after is the one before + 1 (1 with no row);
			// else unchanged.
			bump bool
		}{
			{none, "a", true},
			{mineLive, "a", true}, // a node taking its own lease again starts a new incarnation
			{mineExpired, "a", true},
			{otherLive, "b", false},
			{otherExpired, "a", true},
		}
		for _, tt := range tests {
			t.Run(names[tt.st], func(t *testing.T) {
				s := open(t)
				before := setup(t, s, tt.st)
				got := acquire(t, s, "g", "a", long)
				want := before
				if tt.bump {
					want++
				}
				if got.Holder != tt.wantHolder || got.Epoch != want {
					t.Errorf("AcquireGroupLease by a = holder %q epoch %d; want %q epoch %d", got.Holder, got.Epoch, tt.wantHolder, want)
				}
				if tt.wantHolder == "a" && got.Remaining <= 0 {
					t.Errorf("an acquired lease has %v left", got.Remaining)
				}
			})
		}
	})

	t.Run("Renew", func(t *testing.T) {
		tests := []struct {
			st state
			// epochDelta is added to the state's epoch in the renewal.
			epochDelta int64
			want       bool
		}{
			{none, 1, false},
			{mineLive, 0, true},
			{mineLive, -1, false},  // an older incarnation of a's
			{mineExpired, 0, true}, // nobody took it meanwhile: the epoch proves it
			{otherLive, 0, false},
			{otherExpired, 0, false},
		}
		for _, tt := range tests {
			t.Run(names[tt.st], func(t *testing.T) {
				s := open(t)
				e := setup(t, s, tt.st) + tt.epochDelta
				got, err := s.RenewGroupLeases(ctx, "a", map[string]int64{"g": e, "other": 7}, long)
				must(t, err)
				if got["g"] != tt.want || got["other"] {
					t.Errorf("RenewGroupLeases by a at epoch %d = %v; want g renewed %v", e, got, tt.want)
				}
				if !tt.want {
					return
				}
				l, _, err := s.GroupLeaseOf(ctx, "g")
				must(t, err)
				if l.Holder != "a" || l.Epoch != e || l.Remaining < long/2 {
					t.Errorf("lease after renewal = %+v; want a's at epoch %d with about %v left", l, e, long)
				}
			})
		}
	})

	t.Run("Release", func(t *testing.T) {
		s := open(t)
		e := acquire(t, s, "g", "a", long).Epoch
		// A release at a stale epoch, or by another node, does nothing.
		must(t, s.ReleaseGroupLeases(ctx, "a", map[string]int64{"g": e - 1}))
		must(t, s.ReleaseGroupLeases(ctx, "b", map[string]int64{"g": e}))
		if l := acquire(t, s, "g", "b", long); l.Holder != "a" {
			t.Fatalf("b took a lease a still holds: %+v", l)
		}
		acquire(t, s, "h", "c", long)
		acquire(t, s, "x", "c", short)
		expire(t, s, "x")
		live, err := s.LiveGroupLeases(ctx)
		must(t, err)
		if diff := cmp.Diff(map[string]string{"g": "a", "h": "c"}, live); diff != "" {
			t.Errorf("LiveGroupLeases (-want +got):\n%s", diff)
		}
		must(t, s.ReleaseGroupLeases(ctx, "a", map[string]int64{"g": e}))
		if l := acquire(t, s, "g", "b", long); l.Holder != "b" || l.Epoch != e+1 {
			t.Errorf("after a's release b got %+v; want b at epoch %d", l, e+1)
		}
	})
}

func testLeaseFencing(t *testing.T, open LeaseOpener) {
	s := open(t)
	off := func(o int64) []metastore.Offset {
		return []metastore.Offset{{Topic: "t", Partition: 0, Offset: o, TopicCreatedMs: 1}}
	}
	// A fenced write of a group that never had a lease is refused.
	if err := s.CommitOffsets(ctx, "g", metastore.Fence{Node: "a", Epoch: 1}, off(1), 1); !errors.Is(err, metastore.ErrFenced) {
		t.Fatalf("commit without a lease = %v, want ErrFenced", err)
	}
	a := acquire(t, s, "g", "a", short)
	fa := metastore.Fence{Node: "a", Epoch: a.Epoch}
	must(t, s.CommitOffsets(ctx, "g", fa, off(10), 1))
	// a is paused past its lease; b takes over and commits.
	expire(t, s, "g")
	b := acquire(t, s, "g", "b", long)
	if b.Holder != "b" || b.Epoch <= a.Epoch {
		t.Fatalf("takeover = %+v, want b at an epoch above %d", b, a.Epoch)
	}
	fb := metastore.Fence{Node: "b", Epoch: b.Epoch}
	must(t, s.CommitOffsets(ctx, "g", fb, off(20), 2))
	// a wakes up: every coordinator write of its is refused, nothing
	// written.
	if err := s.CommitOffsets(ctx, "g", fa, off(5), 3); !errors.Is(err, metastore.ErrFenced) {
		t.Errorf("old holder's commit = %v, want ErrFenced", err)
	}
	if err := s.DeletePartitionOffsets(ctx, "g", fa, []metastore.TopicPartition{{Topic: "t", Partition: 0}}); !errors.Is(err, metastore.ErrFenced) {
		t.Errorf("old holder's DeletePartitionOffsets = %v, want ErrFenced", err)
	}
	if err := s.DeleteGroupOffsets(ctx, "g", fa); !errors.Is(err, metastore.ErrFenced) {
		t.Errorf("old holder's DeleteGroupOffsets = %v, want ErrFenced", err)
	}
	// The same node at a newer epoch of another's is refused too.
	if err := s.CommitOffsets(ctx, "g", metastore.Fence{Node: "a", Epoch: b.Epoch}, off(6), 3); !errors.Is(err, metastore.ErrFenced) {
		t.Errorf("commit naming the right epoch but the wrong node = %v, want ErrFenced", err)
	}
	if got, err := s.RenewGroupLeases(ctx, "a", map[string]int64{"g": a.Epoch}, long); err != nil || got["g"] {
		t.Errorf("old holder's renewal = %v, %v; want none renewed", got, err)
	}
	if diff := cmp.Diff(off(20), groupOffsets(t, s, "g")); diff != "" {
		t.Errorf("offsets after the fenced writes (-want +got):\n%s", diff)
	}
	must(t, s.DeleteGroupOffsets(ctx, "g", fb))
	if o := groupOffsets(t, s, "g"); len(o) != 0 {
		t.Errorf("offsets after the holder's delete: %+v", o)
	}
}

func testLeaseRace(t *testing.T, open LeaseOpener) {
	s := open(t)
	nodes := []string{"a", "b", "c", "d", "e", "f"}
	got := make([]metastore.GroupLease, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := s.AcquireGroupLease(ctx, "g", n, long)
			if err != nil {
				t.Error(err)
			}
			got[i] = l
		}()
	}
	wg.Wait()
	for i, l := range got {
		if l.Holder != got[0].Holder || l.Epoch != got[0].Epoch || l.Epoch != 1 {
			t.Fatalf("racing acquires answered %+v (node %s); want one holder at epoch 1: %+v", l, nodes[i], got)
		}
	}
}
