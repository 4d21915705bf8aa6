package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sluicehq/sluice/registry/internal/store"
)

// SharedOpener returns two Shared stores on one fresh, empty database, as
// two nodes would have.
type SharedOpener func(t *testing.T) (a, b store.Shared)

// RunShared runs the conformance tests of Shared stores (in addition to
// Run, which every store passes).
func RunShared(t *testing.T, open SharedOpener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open SharedOpener)
	}{
		{"ChangesReplayToLoad", testChangesReplay},
		{"BeginSeesOtherNodesWrites", testBeginSees},
		{"BeginWaitsForTheLock", testBeginWaits},
		{"RollbackWritesNothing", testRollback},
		{"ChangedAfterOtherNodeCommits", testChanged},
		{"ConflictUnderLockRollsBack", testConflictUnderLock},
		{"NodesBehind", testNodesBehind},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

var ignoreVersion = cmpopts.IgnoreFields(store.State{}, "Version")

// replay applies changes to a copy of st the way a node does, returning the
// resulting state (as a Write list folded into a map-free form: schemas,
// versions, settings and MaxID).
func replay(t *testing.T, base *store.State, ch *store.Changes) *store.State {
	t.Helper()
	if ch.Reload != nil {
		return ch.Reload
	}
	type vk = store.VersionKey
	schemas := map[int]store.Schema{}
	versions := map[vk]store.Version{}
	configs := map[string]string{}
	modes := map[string]string{}
	for _, s := range base.Schemas {
		schemas[s.ID] = s
	}
	for _, v := range base.Versions {
		versions[vk{Subject: v.Subject, Version: v.Version}] = v
	}
	for _, c := range base.Configs {
		configs[c.Subject] = c.Value
	}
	for _, m := range base.Modes {
		modes[m.Subject] = m.Value
	}
	maxID := base.MaxID
	for _, w := range ch.Writes {
		for _, s := range w.PutSchemas {
			schemas[s.ID] = s
			maxID = max(maxID, s.ID)
		}
		for _, v := range w.PutVersions {
			versions[vk{Subject: v.Subject, Version: v.Version}] = v
		}
		for _, k := range w.DeleteVersions {
			delete(versions, k)
		}
		for _, id := range w.DeleteSchemas {
			delete(schemas, id)
		}
		for _, c := range w.PutConfigs {
			configs[c.Subject] = c.Value
		}
		for _, s := range w.DeleteConfigs {
			delete(configs, s)
		}
		for _, m := range w.PutModes {
			modes[m.Subject] = m.Value
		}
		for _, s := range w.DeleteModes {
			delete(modes, s)
		}
		maxID = max(maxID, w.MaxID)
	}
	out := &store.State{MaxID: maxID, Version: ch.Version}
	for _, s := range schemas {
		out.Schemas = append(out.Schemas, s)
	}
	for _, v := range versions {
		out.Versions = append(out.Versions, v)
	}
	for k, v := range configs {
		out.Configs = append(out.Configs, store.Setting{Subject: k, Value: v})
	}
	for k, v := range modes {
		out.Modes = append(out.Modes, store.Setting{Subject: k, Value: v})
	}
	return out
}

var sortState = []cmp.Option{
	cmpopts.SortSlices(func(a, b store.Schema) bool { return a.ID < b.ID }),
	cmpopts.SortSlices(func(a, b store.Version) bool {
		return a.Subject < b.Subject || a.Subject == b.Subject && a.Version < b.Version
	}),
	cmpopts.SortSlices(func(a, b store.Setting) bool { return a.Subject < b.Subject }),
	emptyOpts,
}

func testChangesReplay(t *testing.T, open SharedOpener) {
	a, b := open(t)
	ctx := context.Background()
	base := load(t, b)
	apply(t, a, seed())
	apply(t, a, &store.Write{PutModes: []store.Setting{{Subject: "a", Value: "READONLY"}}, PutConfigs: []store.Setting{{Subject: "", Value: `{"compatibility":"FULL"}`}}})
	apply(t, a, &store.Write{
		DeleteVersions: []store.VersionKey{{Subject: "b", Version: 2}},
		DeleteSchemas:  []int{2},
		DeleteModes:    []string{"a"},
		MaxID:          9,
	})
	ch, err := b.Changes(ctx, base.Version)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Reload == nil && len(ch.Writes) != 3 {
		t.Errorf("Changes after 3 writes on the other node: %d writes, want 3", len(ch.Writes))
	}
	want := load(t, a)
	if ch.Version != want.Version {
		t.Errorf("Changes version %d, Load version %d", ch.Version, want.Version)
	}
	if diff := cmp.Diff(want, replay(t, base, ch), sortState...); diff != "" {
		t.Errorf("replaying Changes differs from Load (-load +replay):\n%s", diff)
	}
	// Nothing new: no writes, same version.
	again, err := b.Changes(ctx, ch.Version)
	if err != nil {
		t.Fatal(err)
	}
	if again.Version != ch.Version || len(again.Writes) != 0 || again.Reload != nil {
		t.Errorf("Changes at the current version = %+v, want nothing at version %d", again, ch.Version)
	}
}

func testBeginSees(t *testing.T, open SharedOpener) {
	a, b := open(t)
	ctx := context.Background()
	v0 := load(t, b).Version
	ta, err := a.Begin(ctx, v0)
	if err != nil {
		t.Fatal(err)
	}
	if ch := ta.Changes(); len(ch.Writes) != 0 || ch.Reload != nil || ch.Version != v0 {
		t.Errorf("Begin on an unchanged store: changes %+v", ch)
	}
	v1, err := ta.Commit(ctx, seed())
	if err != nil {
		t.Fatal(err)
	}
	if v1 <= v0 {
		t.Errorf("Commit version %d, want more than %d", v1, v0)
	}
	tb, err := b.Begin(ctx, v0)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Rollback()
	ch := tb.Changes()
	if ch.Version != v1 {
		t.Errorf("the other node's Begin sees version %d, want %d", ch.Version, v1)
	}
	if diff := cmp.Diff(load(t, a), replay(t, &store.State{}, ch), append(sortState, ignoreVersion)...); diff != "" {
		t.Errorf("the other node's Begin: changes do not rebuild the state (-load +replay):\n%s", diff)
	}
}

func testBeginWaits(t *testing.T, open SharedOpener) {
	a, b := open(t)
	ctx := context.Background()
	ta, err := a.Begin(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	// While a holds the lock, b cannot take it.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	tb, err := b.Begin(short, 0)
	cancel()
	if err == nil {
		tb.Rollback()
		ta.Rollback()
		t.Fatal("two nodes hold the write lock at once")
	}
	done := make(chan error, 1)
	var got *store.Changes
	go func() {
		tb, err := b.Begin(ctx, 0)
		if err == nil {
			got = tb.Changes()
			tb.Rollback()
		}
		done <- err
	}()
	v, err := ta.Commit(ctx, seed())
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got.Version != v {
		t.Errorf("a Begin that waited for the lock sees version %d, want the holder's commit %d", got.Version, v)
	}
}

func testRollback(t *testing.T, open SharedOpener) {
	a, b := open(t)
	ctx := context.Background()
	before := load(t, b)
	ta, err := a.Begin(ctx, before.Version)
	if err != nil {
		t.Fatal(err)
	}
	ta.Rollback()
	ta.Rollback() // idempotent
	if diff := cmp.Diff(before, load(t, b), emptyOpts); diff != "" {
		t.Errorf("Rollback changed the state (-before +after):\n%s", diff)
	}
	// An empty commit writes nothing and keeps the version.
	ta, err = a.Begin(ctx, before.Version)
	if err != nil {
		t.Fatal(err)
	}
	v, err := ta.Commit(ctx, &store.Write{})
	if err != nil || v != before.Version {
		t.Errorf("empty Commit = %d, %v; want %d, nil", v, err, before.Version)
	}
	// The lock is free again.
	short, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tb, err := b.Begin(short, before.Version)
	if err != nil {
		t.Fatalf("Begin after Rollback and an empty Commit: %v", err)
	}
	tb.Rollback()
}

func testChanged(t *testing.T, open SharedOpener) {
	a, b := open(t)
	// Drain the signals of b's start (its first connection).
	deadline := time.After(30 * time.Second)
	v0 := load(t, b).Version
	apply(t, a, seed())
	for {
		select {
		case <-b.Changed():
		case <-deadline:
			t.Fatal("no Changed signal on the other node within 30s of a commit")
		}
		ch, err := b.Changes(context.Background(), v0)
		if err != nil {
			t.Fatal(err)
		}
		if ch.Version > v0 {
			return
		}
	}
}

func testConflictUnderLock(t *testing.T, open SharedOpener) {
	a, b := open(t)
	ctx := context.Background()
	apply(t, a, seed())
	before := load(t, b)
	tb, err := b.Begin(ctx, before.Version)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tb.Commit(ctx, &store.Write{PutSchemas: []store.Schema{schema(1, `"dup"`)}, MaxID: 1})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Commit of a duplicate id = %v, want ErrConflict", err)
	}
	tb.Rollback()
	if diff := cmp.Diff(before, load(t, a), emptyOpts); diff != "" {
		t.Errorf("a failed Commit changed the state (-before +after):\n%s", diff)
	}
	// The lock was released.
	ta, err := a.Begin(ctx, before.Version)
	if err != nil {
		t.Fatal(err)
	}
	ta.Rollback()
}

// testNodesBehind: Applied records each node's version (never lowering it),
// Behind lists the live nodes older than a version, and Leave forgets a node.
func testNodesBehind(t *testing.T, open SharedOpener) {
	a, b := open(t)
	ctx := context.Background()
	behind := func(version int64, live time.Duration) []string {
		t.Helper()
		got, err := a.Behind(ctx, version, live)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := behind(1, time.Minute); len(got) != 0 {
		t.Fatalf("Behind on an empty table = %v", got)
	}
	for _, c := range []struct {
		s       store.Shared
		node    string
		version int64
	}{{a, "node-a", 5}, {b, "node-b", 3}, {b, "node-c", 7}, {a, "node-b", 2}} {
		if err := c.s.Applied(ctx, c.node, c.version); err != nil {
			t.Fatal(err)
		}
	}
	// node-b's later report of 2 did not lower its 3.
	if got := behind(4, time.Minute); !cmp.Equal(got, []string{"node-b"}) {
		t.Fatalf("Behind(4) = %v, want [node-b]", got)
	}
	if got := behind(6, time.Minute); !cmp.Equal(got, []string{"node-a", "node-b"}) {
		t.Fatalf("Behind(6) = %v, want [node-a node-b]", got)
	}
	if got := behind(3, time.Minute); len(got) != 0 {
		t.Fatalf("Behind(3) = %v, want none", got)
	}
	// Nodes not seen within the live window do not count.
	time.Sleep(1500 * time.Millisecond)
	if err := a.Applied(ctx, "node-a", 5); err != nil {
		t.Fatal(err)
	}
	if got := behind(6, time.Second); !cmp.Equal(got, []string{"node-a"}) {
		t.Fatalf("Behind(6) within 1s = %v, want [node-a]", got)
	}
	if err := b.Leave(ctx, "node-a"); err != nil {
		t.Fatal(err)
	}
	if got := behind(6, time.Minute); !cmp.Equal(got, []string{"node-b"}) {
		t.Fatalf("Behind(6) after node-a left = %v, want [node-b]", got)
	}
}
