package metastore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sluicehq/sluice/internal/metastore"
	"github.com/sluicehq/sluice/internal/pgmeta"
	"github.com/sluicehq/sluice/internal/pgtest"
)

func TestJoin(t *testing.T) {
	ctx := context.Background()
	pool, err := pgmeta.Open(ctx, pgtest.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	a, err := metastore.Join(ctx, pool, "a", "127.0.0.1:1", true)
	if err != nil {
		t.Fatal(err)
	}
	if !a.IsDataNode() {
		t.Fatalf("first claimant: data node %q, want a", a.DataNode)
	}
	// One process per node id.
	if _, err := metastore.Join(ctx, pool, "a", "", true); !errors.Is(err, metastore.ErrNodeRunning) {
		t.Fatalf("second Join as a = %v, want ErrNodeRunning", err)
	}
	b, err := metastore.Join(ctx, pool, "b", "", true)
	if err != nil {
		t.Fatal(err)
	}
	if b.IsDataNode() || b.DataNode != "a" {
		t.Fatalf("b: data node %q, want a", b.DataNode)
	}
	// The role stays with a across restarts, and a may rejoin once gone.
	a.Close()
	a2, err := metastore.Join(ctx, pool, "a", "", true)
	if err != nil {
		t.Fatal(err)
	}
	if !a2.IsDataNode() {
		t.Fatalf("a after restart: data node %q", a2.DataNode)
	}
	a2.Close()
	b.Close()
	c, err := metastore.Join(ctx, pool, "c", "", true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.IsDataNode() {
		t.Fatal("the data-node role moved to another node while a was down: a's topic bytes are on a's disk only")
	}
	for _, bad := range []string{"", "has space", "x/y", string(make([]byte, 65))} {
		if _, err := metastore.Join(ctx, pool, bad, "", true); err == nil {
			t.Errorf("Join(%q) accepted a bad node id", bad)
		}
	}
}
