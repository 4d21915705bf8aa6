package broker_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/broker"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

func TestTopicIDsPersistAndChangeOnRecreate(t *testing.T) {
	e := newEnv(t)
	d := e.createTopic("ids", 2, nil)
	id, err := broker.ParseTopicID(d.GetTopicId())
	if err != nil || id.IsZero() || len(d.GetTopicId()) != 22 {
		t.Fatalf("topic id %q: %v", d.GetTopicId(), err)
	}
	if name, err := e.b.TopicByID(id); err != nil || name != "ids" {
		t.Fatalf("TopicByID = %q, %v", name, err)
	}
	cluster := e.b.ClusterID()
	if len(cluster) != 22 {
		t.Fatalf("cluster id %q: want 22 characters", cluster)
	}

	e.restart()
	if got := e.b.ClusterID(); got != cluster {
		t.Fatalf("cluster id after restart %q, want %q", got, cluster)
	}
	ti, err := e.b.DescribeTopic("ids")
	if err != nil || ti.ID != id {
		t.Fatalf("topic id after restart %v (%v), want %v", ti.ID, err, id)
	}

	if err := e.b.DeleteTopic(ctxT(t), "ids"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.TopicByID(id); !errors.Is(err, broker.ErrUnknownTopicID) {
		t.Fatalf("TopicByID of a deleted topic: %v, want ErrUnknownTopicID", err)
	}
	d2 := e.createTopic("ids", 1, nil)
	if d2.GetTopicId() == d.GetTopicId() {
		t.Fatal("a re-created topic kept its old id")
	}
}

// TestTopicIDsAssignedToOldRows: a data directory from before topic ids
// gets an id for each topic on open, and keeps it.
func TestTopicIDsAssignedToOldRows(t *testing.T) {
	e := newEnv(t)
	e.createTopic("old", 1, nil)
	e.stop()
	db := openDB(t, e.dir)
	if _, err := db.Exec(`UPDATE broker_topics SET topic_id = NULL`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	e.start()
	ti, err := e.b.DescribeTopic("old")
	if err != nil || ti.ID.IsZero() {
		t.Fatalf("old topic: id %v, %v", ti.ID, err)
	}
	e.restart()
	if ti2, _ := e.b.DescribeTopic("old"); ti2.ID != ti.ID {
		t.Fatalf("assigned id changed across restart: %v then %v", ti.ID, ti2.ID)
	}
}

func TestParseTopicID(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"AAAAAAAAAAAAAAAAAAAAAQ", true},
		{"", false},
		{"AAAAAAAAAAAAAAAAAAAAAQ==", false},
		{"AAAAAAAAAAAAAAAAAAAA", false},
		{"!AAAAAAAAAAAAAAAAAAAAQ", false},
	} {
		id, err := broker.ParseTopicID(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseTopicID(%q) = %v, %v; want ok=%v", tc.in, id, err, tc.ok)
		}
		if err == nil && id.String() != tc.in {
			t.Errorf("round trip of %q gave %q", tc.in, id.String())
		}
		if err != nil && !errors.Is(err, broker.ErrInvalidArgument) {
			t.Errorf("ParseTopicID(%q) error %v is not ErrInvalidArgument", tc.in, err)
		}
	}
}

func TestCreatePartitions(t *testing.T) {
	e := newEnv(t)
	e.createTopic("grow", 2, map[string]string{"retention.ms": "3600000"})
	e.produce("grow", kv("a", "1"))
	before, _ := e.b.DescribeTopic("grow")

	for _, tc := range []struct {
		count int
		want  string
	}{
		{2, "the topic has 2 partitions; the new count 2 must be more"},
		{1, "the new count 1 must be more"},
		{broker.MaxPartitions + 1, "want at most 1024"},
	} {
		_, err := e.topics.CreatePartitions(ctxT(t), connect.NewRequest(&brokerv1.CreatePartitionsRequest{Name: "grow", Partitions: int32(tc.count)}))
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(fmt.Sprint(err), tc.want) {
			t.Errorf("count %d: %v; want InvalidArgument with %q", tc.count, err, tc.want)
		}
		if err := e.b.CheckCreatePartitions("grow", tc.count); err == nil {
			t.Errorf("CheckCreatePartitions(%d) accepted", tc.count)
		}
	}
	if _, err := e.topics.CreatePartitions(ctxT(t), connect.NewRequest(&brokerv1.CreatePartitionsRequest{Name: "nope", Partitions: 3})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("unknown topic: %v", err)
	}
	if err := e.b.CheckCreatePartitions("grow", 5); err != nil {
		t.Fatal(err)
	}
	// A stray directory from a crashed attempt must not leak into the new
	// partition.
	stray := filepath.Join(e.dir, "topics", "grow", "3")
	if err := os.MkdirAll(stray, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stray, "junk"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := e.topics.CreatePartitions(ctxT(t), connect.NewRequest(&brokerv1.CreatePartitionsRequest{Name: "grow", Partitions: 5}))
	if err != nil {
		t.Fatal(err)
	}
	d := res.Msg.GetTopic()
	if len(d.GetPartitions()) != 5 || d.GetTopicId() != before.ID.String() || d.GetConfigs()["retention.ms"] != "3600000" {
		t.Fatalf("after growth: %d partitions, id %s (was %s), retention %s", len(d.GetPartitions()), d.GetTopicId(), before.ID, d.GetConfigs()["retention.ms"])
	}
	if _, err := os.Stat(filepath.Join(stray, "junk")); !os.IsNotExist(err) {
		t.Fatalf("stray file survived: %v", err)
	}
	// The new partitions take records and survive a restart; the old ones
	// keep theirs.
	r := e.produce("grow", &brokerv1.ProduceRecord{Value: []byte("new"), Partition: ptr(int32(4))})
	if r[0].GetPartition() != 4 || r[0].GetOffset() != 0 {
		t.Fatalf("produce to partition 4: %v", r[0])
	}
	e.restart()
	ti, err := e.b.DescribeTopic("grow")
	if err != nil || len(ti.Partitions) != 5 {
		t.Fatalf("after restart: %v, %v", ti, err)
	}
	var total int64
	for _, p := range ti.Partitions {
		total += p.HighWatermark
	}
	if total != 2 || ti.Partitions[4].HighWatermark != 1 {
		t.Fatalf("records after restart: %+v", ti.Partitions)
	}
}
