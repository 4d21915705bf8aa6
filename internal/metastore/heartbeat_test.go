package metastore_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/internal/metastore"
	"github.com/sluicehq/sluice/internal/pgmeta"
	"github.com/sluicehq/sluice/internal/pgtest"
)

func TestHeartbeatsAndListNodes(t *testing.T) {
	ctx := context.Background()
	pool, err := pgmeta.Open(ctx, pgtest.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	a, err := metastore.Join(ctx, pool, "a", "", true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := metastore.Join(ctx, pool, "b", "", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Advertise(ctx, "http://127.0.0.1:8081", "127.0.0.1:9092"); err != nil {
		t.Fatal(err)
	}
	nodes := listNodes(t, pool)
	if len(nodes) != 2 || nodes[0].ID != "a" || nodes[1].ID != "b" {
		t.Fatalf("ListNodes = %+v, want a and b", nodes)
	}
	if n := nodes[0]; n.HTTPAddr != "http://127.0.0.1:8081" || n.KafkaAddr != "127.0.0.1:9092" || n.State != metastore.NodeAlive || !n.Lease {
		t.Fatalf("a = %+v, want its addresses, alive, lease held", n)
	}
	if n := nodes[1]; n.HTTPAddr != "" || n.State != metastore.NodeAlive || !n.Lease {
		t.Fatalf("b = %+v, want alive with no addresses", n)
	}

	// Heartbeats move the node's heartbeat forward.
	first := nodes[0].Heartbeat
	a.StartHeartbeats(20*time.Millisecond, nil)
	a.StartHeartbeats(20*time.Millisecond, nil) // a second call does nothing
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := listNodes(t, pool)[0]
		if n.Heartbeat.After(first) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a's heartbeat stayed at %v", first)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// A node whose heartbeat is old is not responding (its lease still
	// held: the process lives but does not beat, or beats elsewhere).
	if _, err := pool.Exec(ctx, `UPDATE cluster_nodes SET heartbeat_at = now() - interval '1 hour' WHERE node_id = 'b'`); err != nil {
		t.Fatal(err)
	}
	nb := listNodes(t, pool)[1]
	if nb.State != metastore.NodeNotResponding || nb.HeartbeatAge < 59*time.Minute || !nb.Lease {
		t.Fatalf("b with an hour-old heartbeat = %+v, want not-responding, lease held", nb)
	}
	// A clean stop says so and gives up the lease.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// (The server releases the lease when it has processed the closed
	// session, a moment after Close returns.)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		nb = listNodes(t, pool)[1]
		if nb.State != metastore.NodeStopped {
			t.Fatalf("b after Close = %+v, want stopped", nb)
		}
		if !nb.Lease {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b after Close = %+v: the lease is still held", nb)
		}
	}
	// Rejoining clears the stop.
	b2, err := metastore.Join(ctx, pool, "b", "", true)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	if nb = listNodes(t, pool)[1]; nb.State != metastore.NodeAlive || !nb.Lease {
		t.Fatalf("b after rejoining = %+v, want alive", nb)
	}
	// deadAfter decides: with a tiny one, a node that has not beaten for
	// a while (b2 has no heartbeats running) is not responding.
	time.Sleep(20 * time.Millisecond)
	nodes, err = metastore.ListNodes(ctx, pool, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if nodes[1].State != metastore.NodeNotResponding {
		t.Fatalf("b2 with deadAfter 1ms = %+v", nodes[1])
	}
}

func listNodes(t *testing.T, pool *pgxpool.Pool) []metastore.Node {
	t.Helper()
	nodes, err := metastore.ListNodes(context.Background(), pool, 0)
	if err != nil {
		t.Fatal(err)
	}
	return nodes
}
