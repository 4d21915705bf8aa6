// Package metastoretest is the conformance suite every metastore backend
// must pass. A backend's test calls Run with a constructor returning a
// fresh, empty store and a function that opens a second Store on the same
// database (another process, or another node).
package metastoretest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sluicehq/sluice/internal/metastore"
)

// Opener returns a fresh, empty store and a function opening another Store
// on the same database.
type Opener func(t *testing.T) (s metastore.Store, reopen func(t *testing.T) metastore.Store)

// Run runs every conformance test against the stores open returns.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"ClusterIDOnce", testClusterID},
		{"Topics", testTopics},
		{"TopicExists", testTopicExists},
		{"AssignTopicIDs", testAssignTopicIDs},
		{"Offsets", testOffsets},
		{"OffsetSweeps", testOffsetSweeps},
		{"Reopen", testReopen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

var ctx = context.Background()

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func topics(t *testing.T, s metastore.Store) []metastore.Topic {
	t.Helper()
	ts, err := s.Topics(ctx)
	must(t, err)
	return ts
}

func testClusterID(t *testing.T, open Opener) {
	s, reopen := open(t)
	other := reopen(t)
	// Racing first starts agree on one id.
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := s
			if i%2 == 1 {
				st = other
			}
			id, err := st.ClusterID(ctx, fmt.Sprintf("candidate-%d", i))
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] || id == "" {
			t.Fatalf("racing ClusterID calls got %q, want one id", ids)
		}
	}
	id, err := s.ClusterID(ctx, "later")
	must(t, err)
	if id != ids[0] {
		t.Errorf("ClusterID later = %q, want the stored %q", id, ids[0])
	}
}

func testTopics(t *testing.T, open Opener) {
	s, _ := open(t)
	if ts := topics(t, s); len(ts) != 0 {
		t.Fatalf("empty store has topics %+v", ts)
	}
	b := metastore.Topic{Name: "b", Partitions: 3, Configs: `{"retention.ms":"1000"}`, CreatedMs: 1700000000123, ID: "id-b"}
	a := metastore.Topic{Name: "a", Partitions: 1, Configs: `{}`, CreatedMs: 5, ID: "id-a"}
	upper := metastore.Topic{Name: "Z", Partitions: 1, Configs: `{}`, CreatedMs: 6, ID: "id-z"}
	for _, tp := range []metastore.Topic{b, a, upper} {
		must(t, s.CreateTopic(ctx, tp))
	}
	// Bytewise order: "Z" before "a".
	if diff := cmp.Diff([]metastore.Topic{upper, a, b}, topics(t, s)); diff != "" {
		t.Errorf("Topics (-want +got):\n%s", diff)
	}
	must(t, s.SetTopicPartitions(ctx, "b", 5))
	must(t, s.SetTopicConfigs(ctx, "b", `{"cleanup.policy":"compact"}`))
	must(t, s.MarkTopicDeleted(ctx, "a"))
	b.Partitions, b.Configs = 5, `{"cleanup.policy":"compact"}`
	a.Deleted = true
	if diff := cmp.Diff([]metastore.Topic{upper, a, b}, topics(t, s)); diff != "" {
		t.Errorf("Topics after changes (-want +got):\n%s", diff)
	}
	must(t, s.DeleteTopic(ctx, "a"))
	must(t, s.DeleteTopic(ctx, "never-was"))
	if diff := cmp.Diff([]metastore.Topic{upper, b}, topics(t, s)); diff != "" {
		t.Errorf("Topics after delete (-want +got):\n%s", diff)
	}
}

func testTopicExists(t *testing.T, open Opener) {
	s, _ := open(t)
	tp := metastore.Topic{Name: "t", Partitions: 1, Configs: `{}`, CreatedMs: 1, ID: "x"}
	must(t, s.CreateTopic(ctx, tp))
	tp.Partitions = 9
	if err := s.CreateTopic(ctx, tp); !errors.Is(err, metastore.ErrTopicExists) {
		t.Fatalf("CreateTopic of a taken name = %v, want ErrTopicExists", err)
	}
	// A row whose deletion is unfinished still holds the name.
	must(t, s.MarkTopicDeleted(ctx, "t"))
	if err := s.CreateTopic(ctx, tp); !errors.Is(err, metastore.ErrTopicExists) {
		t.Fatalf("CreateTopic over an unfinished deletion = %v, want ErrTopicExists", err)
	}
	if got := topics(t, s); len(got) != 1 || got[0].Partitions != 1 {
		t.Errorf("a refused CreateTopic changed the row: %+v", got)
	}
}

func testAssignTopicIDs(t *testing.T, open Opener) {
	s, _ := open(t)
	must(t, s.CreateTopic(ctx, metastore.Topic{Name: "old1", Partitions: 1, Configs: `{}`}))
	must(t, s.CreateTopic(ctx, metastore.Topic{Name: "old2", Partitions: 1, Configs: `{}`}))
	must(t, s.CreateTopic(ctx, metastore.Topic{Name: "new", Partitions: 1, Configs: `{}`, ID: "kept"}))
	n := 0
	must(t, s.AssignTopicIDs(ctx, func() string { n++; return fmt.Sprintf("gen-%d", n) }))
	got := map[string]string{}
	for _, tp := range topics(t, s) {
		got[tp.Name] = tp.ID
	}
	if got["new"] != "kept" || got["old1"] == "" || got["old2"] == "" || got["old1"] == got["old2"] || n != 2 {
		t.Errorf("ids after AssignTopicIDs = %v (%d generated); want two new distinct ids and 'kept'", got, n)
	}
	must(t, s.AssignTopicIDs(ctx, func() string { t.Error("AssignTopicIDs generated an id with none missing"); return "" }))
}

func sortOffsets(o []metastore.Offset) {
	sort.Slice(o, func(i, j int) bool {
		if o[i].Topic != o[j].Topic {
			return o[i].Topic < o[j].Topic
		}
		return o[i].Partition < o[j].Partition
	})
}

func groupOffsets(t *testing.T, s metastore.Store, g string) []metastore.Offset {
	t.Helper()
	o, err := s.GroupOffsets(ctx, g)
	must(t, err)
	sortOffsets(o)
	return o
}

func testOffsets(t *testing.T, open Opener) {
	s, _ := open(t)
	if o := groupOffsets(t, s, "g"); len(o) != 0 {
		t.Fatalf("offsets of an unknown group: %+v", o)
	}
	offs := []metastore.Offset{
		{Topic: "t", Partition: 0, Offset: 10, Metadata: "m0", TopicCreatedMs: 7},
		{Topic: "t", Partition: 1, Offset: 1 << 40, Metadata: "", TopicCreatedMs: 7},
		{Topic: "u", Partition: 0, Offset: 0, Metadata: "x", TopicCreatedMs: 8},
	}
	must(t, s.CommitOffsets(ctx, "g", metastore.Fence{}, offs, 1000))
	must(t, s.CommitOffsets(ctx, "h", metastore.Fence{}, offs[:1], 1000))
	if diff := cmp.Diff(offs, groupOffsets(t, s, "g")); diff != "" {
		t.Errorf("GroupOffsets (-want +got):\n%s", diff)
	}
	// A commit replaces.
	must(t, s.CommitOffsets(ctx, "g", metastore.Fence{}, []metastore.Offset{{Topic: "t", Partition: 0, Offset: 11, Metadata: "m1", TopicCreatedMs: 9}}, 2000))
	offs[0] = metastore.Offset{Topic: "t", Partition: 0, Offset: 11, Metadata: "m1", TopicCreatedMs: 9}
	if diff := cmp.Diff(offs, groupOffsets(t, s, "g")); diff != "" {
		t.Errorf("GroupOffsets after a second commit (-want +got):\n%s", diff)
	}
	must(t, s.DeletePartitionOffsets(ctx, "g", metastore.Fence{}, []metastore.TopicPartition{{Topic: "t", Partition: 1}, {Topic: "nope", Partition: 3}}))
	must(t, s.DeletePartitionOffsets(ctx, "g", metastore.Fence{}, nil))
	if diff := cmp.Diff([]metastore.Offset{offs[0], offs[2]}, groupOffsets(t, s, "g")); diff != "" {
		t.Errorf("GroupOffsets after DeletePartitionOffsets (-want +got):\n%s", diff)
	}
	must(t, s.DeleteGroupOffsets(ctx, "g", metastore.Fence{}))
	if o := groupOffsets(t, s, "g"); len(o) != 0 {
		t.Errorf("offsets after DeleteGroupOffsets: %+v", o)
	}
	if o := groupOffsets(t, s, "h"); len(o) != 1 {
		t.Errorf("DeleteGroupOffsets of g touched h: %+v", o)
	}
}

func testOffsetSweeps(t *testing.T, open Opener) {
	s, _ := open(t)
	must(t, s.CommitOffsets(ctx, "g1", metastore.Fence{}, []metastore.Offset{
		{Topic: "t", Partition: 0, Offset: 1, TopicCreatedMs: 1},
		{Topic: "t", Partition: 5, Offset: 1, TopicCreatedMs: 1},
		{Topic: "old", Partition: 0, Offset: 1, TopicCreatedMs: 2},
	}, 1))
	must(t, s.CommitOffsets(ctx, "g2", metastore.Fence{}, []metastore.Offset{
		{Topic: "t", Partition: 1, Offset: 1, TopicCreatedMs: 1},
		{Topic: "old", Partition: 0, Offset: 1, TopicCreatedMs: 3},
	}, 1))
	gts, err := s.OffsetGroupTopics(ctx)
	must(t, err)
	gt := func(g, tp string, c int64) metastore.GroupTopic {
		return metastore.GroupTopic{Group: g, Topic: tp, TopicCreatedMs: c}
	}
	want := []metastore.GroupTopic{gt("g1", "old", 2), gt("g1", "t", 1), gt("g2", "old", 3), gt("g2", "t", 1)}
	less := cmpopts.SortSlices(func(a, b metastore.GroupTopic) bool { return fmt.Sprint(a) < fmt.Sprint(b) })
	if diff := cmp.Diff(want, gts, less); diff != "" {
		t.Errorf("OffsetGroupTopics (-want +got):\n%s", diff)
	}
	must(t, s.DeleteTopicOffsets(ctx, "old", 2))
	must(t, s.DeleteOffsetsFrom(ctx, "t", 1))
	if diff := cmp.Diff([]metastore.Offset{{Topic: "t", Partition: 0, Offset: 1, TopicCreatedMs: 1}}, groupOffsets(t, s, "g1")); diff != "" {
		t.Errorf("g1 after sweeps (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]metastore.Offset{{Topic: "old", Partition: 0, Offset: 1, TopicCreatedMs: 3}}, groupOffsets(t, s, "g2")); diff != "" {
		t.Errorf("g2 after sweeps (-want +got):\n%s", diff)
	}
}

func testReopen(t *testing.T, open Opener) {
	s, reopen := open(t)
	must(t, s.CreateTopic(ctx, metastore.Topic{Name: "t", Partitions: 2, Configs: `{}`, CreatedMs: 1, ID: "i"}))
	must(t, s.CommitOffsets(ctx, "g", metastore.Fence{}, []metastore.Offset{{Topic: "t", Partition: 1, Offset: 4, TopicCreatedMs: 1}}, 1))
	id, err := s.ClusterID(ctx, "c")
	must(t, err)
	r := reopen(t)
	if diff := cmp.Diff(topics(t, s), topics(t, r)); diff != "" {
		t.Errorf("topics on another store (-first +second):\n%s", diff)
	}
	if diff := cmp.Diff(groupOffsets(t, s, "g"), groupOffsets(t, r, "g")); diff != "" {
		t.Errorf("offsets on another store (-first +second):\n%s", diff)
	}
	if id2, err := r.ClusterID(ctx, "other"); err != nil || id2 != id {
		t.Errorf("cluster id on another store = %q, %v; want %q", id2, err, id)
	}
}
