package clusterstatus_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/clusterstatus"
	"github.com/sluicehq/sluice/internal/metastore"
	"github.com/sluicehq/sluice/objstore"
)

type fakeShared struct {
	parts []clusterstatus.Partition
	err   error
}

func (f fakeShared) PartitionStatus(context.Context) ([]clusterstatus.Partition, error) {
	return f.parts, f.err
}

func TestPartitionsMerge(t *testing.T) {
	topics := func(context.Context) ([]metastore.Topic, error) {
		return []metastore.Topic{{Name: "b", Partitions: 2}, {Name: "a", Partitions: 1}, {Name: "gone", Partitions: 3, Deleted: true}}, nil
	}
	local := func() []clusterstatus.Partition {
		return []clusterstatus.Partition{{Topic: "b", Partition: 1, HasOffsets: true, HighWatermark: 7, LogStartOffset: 2}}
	}
	shared := fakeShared{parts: []clusterstatus.Partition{
		{Topic: "a", Partition: 0, HasOffsets: true, HighWatermark: 40, HasObjectCount: true, ObjectCount: 3},
	}}
	for _, c := range []struct {
		name string
		src  clusterstatus.Sources
		want []clusterstatus.Partition
		note string
	}{
		{"embedded: the node's own", clusterstatus.Sources{Local: local},
			[]clusterstatus.Partition{{Topic: "b", Partition: 1, HasOffsets: true, HighWatermark: 7, LogStartOffset: 2}},
			"embedded node, not a cluster"},
		{"meta store only: every partition, no numbers", clusterstatus.Sources{Topics: topics},
			[]clusterstatus.Partition{{Topic: "a"}, {Topic: "b"}, {Topic: "b", Partition: 1}}, "embedded"},
		{"meta store and the data node's offsets", clusterstatus.Sources{Topics: topics, Local: local},
			[]clusterstatus.Partition{{Topic: "a"}, {Topic: "b"}, {Topic: "b", Partition: 1, HasOffsets: true, HighWatermark: 7, LogStartOffset: 2}}, "embedded"},
		{"the shared log's numbers win", clusterstatus.Sources{Topics: topics, SharedLog: shared},
			[]clusterstatus.Partition{{Topic: "a", HasOffsets: true, HighWatermark: 40, HasObjectCount: true, ObjectCount: 3}, {Topic: "b"}, {Topic: "b", Partition: 1}},
			"enabled"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, err := clusterstatus.Collect(context.Background(), c.src)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, st.Partitions); diff != "" {
				t.Errorf("partitions (-want +got):\n%s", diff)
			}
			if !strings.Contains(st.SharedLogNote, c.note) || st.PartitionsErr != "" {
				t.Errorf("note %q, error %q", st.SharedLogNote, st.PartitionsErr)
			}
		})
	}
}

// Every check answers for itself: an unreachable database, a failing
// store and a failing shared log are reported, and Collect still returns.
func TestChecksAnswerForThemselves(t *testing.T) {
	pool, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	dir, err := objstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	faulty := objstore.NewFaulty(dir, 1)
	faulty.SetAll(objstore.Fault{ErrorRate: 1})
	st, err := clusterstatus.Collect(context.Background(), clusterstatus.Sources{
		NodeID: "n1", Pool: pool, DatabaseURL: "postgres://nobody@127.0.0.1:1/none",
		Objects: faulty, ObjectsURL: "file:///x",
		SharedLog: fakeShared{err: errors.New("boom")},
		Topics:    func(context.Context) ([]metastore.Topic, error) { return nil, errors.New("no topics") },
	})
	if err != nil {
		t.Fatal(err)
	}
	if !st.Cluster || st.Database == nil || st.Database.Reachable || st.Database.Err == "" || st.NodesErr == "" {
		t.Errorf("database %+v, nodes error %q: want unreachable with errors", st.Database, st.NodesErr)
	}
	if st.Objects == nil || st.Objects.Healthy || !strings.Contains(st.Objects.Err, "injected") {
		t.Errorf("objects %+v: want the probe's failure", st.Objects)
	}
	if !strings.Contains(st.PartitionsErr, "no topics") || !strings.Contains(st.PartitionsErr, "boom") {
		t.Errorf("partitions error %q", st.PartitionsErr)
	}
}
