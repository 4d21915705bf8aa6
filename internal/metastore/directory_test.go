package metastore_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/metastore"
	"github.com/sluicehq/sluice/internal/pgmeta"
	"github.com/sluicehq/sluice/internal/pgtest"
)

// Kafka node ids are given once per node id, distinct and stable across a
// rejoin; the directory lists the live nodes with them, from a cache, and
// leaves out a node that stopped.
func TestNodeDirectoryAndKafkaIDs(t *testing.T) {
	ctx := context.Background()
	pool, err := pgmeta.Open(ctx, pgtest.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	a, err := metastore.Join(ctx, pool, "a", "", false)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := metastore.Join(ctx, pool, "b", "", false)
	if err != nil {
		t.Fatal(err)
	}
	if a.KafkaID == b.KafkaID || a.KafkaID <= 0 || b.KafkaID <= 0 {
		t.Fatalf("Kafka ids a=%d b=%d, want distinct and positive", a.KafkaID, b.KafkaID)
	}
	if err := b.Advertise(ctx, "http://127.0.0.1:1", "127.0.0.1:2"); err != nil {
		t.Fatal(err)
	}
	dir := metastore.NewNodeDirectory(pool, 0, time.Hour)
	nodes, err := dir.Alive(ctx)
	if err != nil || len(nodes) != 2 || nodes[1].ID != "b" || nodes[1].KafkaID != b.KafkaID || nodes[1].KafkaAddr != "127.0.0.1:2" {
		t.Fatalf("Alive = %+v, %v; want a and b with b's id and address", nodes, err)
	}
	bID := b.KafkaID
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// Cached: still both within the refresh interval.
	if nodes, _ := dir.Alive(ctx); len(nodes) != 2 {
		t.Errorf("cached Alive = %+v, want the two nodes read before", nodes)
	}
	if nodes, err := metastore.NewNodeDirectory(pool, 0, 0).Alive(ctx); err != nil || len(nodes) != 1 || nodes[0].ID != "a" {
		t.Errorf("Alive after b stopped = %+v, %v; want a only", nodes, err)
	}
	// b rejoins with its id.
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err = metastore.Join(ctx, pool, "b", "", false)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err) // PostgreSQL releases the closed session's lease a moment later
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer b.Close()
	if b.KafkaID != bID {
		t.Errorf("b rejoined with Kafka id %d, want %d", b.KafkaID, bID)
	}
}
