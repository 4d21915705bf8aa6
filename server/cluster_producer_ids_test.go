package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/pgtest"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// Producer ids are the cluster's, not a node's: idempotent producers that
// start on different nodes get different ids, so that one's sequence
// numbers are never taken for the other's retries on a shared partition.
// Two franz-go producers (idempotent by default), one per node, send
// single-record batches to one partition; every acknowledged record is
// read back.
func TestClusterProducerIDsAreUnique(t *testing.T) {
	meta := pgtest.DB(t)
	objects := "file://" + t.TempDir()
	a := startSharedNode(t, meta, objects, "a")
	b := startSharedNode(t, meta, objects, "b")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if _, err := a.topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "pids", Partitions: 1})); err != nil {
		t.Fatal(err)
	}
	// The producers take turns, one record each: with one producer id
	// between them, each record of the second would carry the sequence
	// number of the first's record just before it, and be taken for its
	// retry: acknowledged, and never appended.
	const each = 20
	var cls []*kgo.Client
	for _, n := range []*sharedNode{a, b} {
		cl, err := kgo.NewClient(kgo.SeedBrokers(n.s.KafkaAddr()), kgo.DefaultProduceTopic("pids"), kgo.ProducerLinger(0),
			kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		cls = append(cls, cl)
	}
	offsets := map[int64]bool{}
	for i := range each {
		for j, cl := range cls {
			r := &kgo.Record{Partition: 0, Value: fmt.Appendf(nil, "%d-%d", j, i)}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("produce %d of producer %d: %v", i, j, err)
			}
			if offsets[r.Offset] {
				t.Fatalf("record %d of producer %d acknowledged at offset %d, which another record already had", i, j, r.Offset)
			}
			offsets[r.Offset] = true
		}
	}
	got := a.fetchAll(t, "pids", 0, 2*each)
	if len(got) != 2*each {
		t.Fatalf("read %d records, want the %d acknowledged", len(got), 2*each)
	}

	seen := map[int64]string{}
	for _, n := range []*sharedNode{a, b, a, b} {
		id, epoch, err := n.s.Broker.NewProducerID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if other, ok := seen[id]; ok || epoch != 0 {
			t.Fatalf("node %s handed out producer id %d (epoch %d), already handed out by %s", n.s.cfg.NodeID, id, epoch, other)
		}
		seen[id] = n.s.cfg.NodeID
	}
}
