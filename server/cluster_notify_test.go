package server

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/pgtest"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// Each node of a cluster holds one listening connection, shared by the
// registry, the ACL store and the shared log: PostgreSQL wakes every
// listening backend of the database at each NOTIFY, so three per node
// cost three wake-ups per node and commit.
func TestClusterOneListenerPerNode(t *testing.T) {
	meta := pgtest.DB(t)
	objects := "file://" + t.TempDir()
	nodes := []*sharedNode{startSharedNode(t, meta, objects, "a"), startSharedNode(t, meta, objects, "b"), startSharedNode(t, meta, objects, "c")}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, meta)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// A listening backend's last statement is a LISTEN; the count of
	// channels it listens on is visible to itself only.
	count := func() (n int) {
		t.Helper()
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Their hubs connect as the components subscribe; give them a moment
	// to settle, then the count must stay at one per node.
	deadline := time.Now().Add(20 * time.Second)
	for count() != len(nodes) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	for range 10 {
		if n := count(); n != len(nodes) {
			t.Fatalf("%d listening connections for %d nodes, want one per node", n, len(nodes))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// And they still follow each other's commits: produced on a, read on
	// b and c (long polls woken by the notification or the poll).
	if _, err := nodes[0].topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "events", Partitions: 1})); err != nil {
		t.Fatal(err)
	}
	nodes[0].produce(t, "events", 0, "x", "y")
	for _, n := range nodes[1:] {
		if got := n.fetchAll(t, "events", 0, 2); len(got) != 2 {
			t.Fatalf("node %s read %d records, want 2", n.s.cfg.NodeID, len(got))
		}
	}
	if n := count(); n != len(nodes) {
		t.Fatalf("%d listening connections for %d nodes after producing, want one per node", n, len(nodes))
	}
}
