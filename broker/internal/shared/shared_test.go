package shared

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/internal/log"
)

func TestAppendReadOneNode(t *testing.T) {
	c := newCluster(t)
	l := c.node("a", nil)
	p := openPart(t, l, "topic-1", 0)
	ctx := context.Background()
	for i := range 5 {
		base, err := p.Append(ctx, recs("a", i*3, 3))
		if err != nil {
			t.Fatal(err)
		}
		if base != int64(i*3) {
			t.Fatalf("append %d: base %d, want %d", i, base, i*3)
		}
	}
	if hw := p.HighWatermark(); hw != 15 {
		t.Fatalf("high watermark %d, want 15", hw)
	}
	got, err := p.Read(4, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 11 || got[0].Offset != 4 || string(got[0].Value) != "a-4" || string(got[10].Value) != "a-14" {
		t.Fatalf("read from 4: %d records, first %+v", len(got), got[0])
	}
	if _, err := p.Read(16, 0, 0); !errors.Is(err, log.ErrOffsetOutOfRange) {
		t.Fatalf("read past the high watermark: %v, want ErrOffsetOutOfRange", err)
	}
}

func TestTwoNodes(t *testing.T) {
	c := newCluster(t)
	a, b := c.node("a", nil), c.node("b", nil)
	pa, pb := openPart(t, a, "t", 3), openPart(t, b, "t", 3)
	ctx := context.Background()
	if _, err := pa.Append(ctx, recs("a", 0, 4)); err != nil {
		t.Fatal(err)
	}
	waitHW(t, pb, 4)
	got, err := pb.Read(0, 0, 0)
	if err != nil || len(got) != 4 || string(got[3].Value) != "a-3" {
		t.Fatalf("node b read %d records, err %v", len(got), err)
	}
	// Concurrent appends from both nodes: offsets dense and unique.
	const perNode, writers, size = 40, 4, 3
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	for _, n := range []struct {
		name string
		p    *Partition
	}{{"a", pa}, {"b", pb}} {
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				who := fmt.Sprintf("%s%d", n.name, w)
				for i := range perNode {
					base, err := n.p.Append(ctx, recs(who, i*size, size))
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					for j := range size {
						if prev, ok := seen[base+int64(j)]; ok {
							t.Errorf("offset %d given twice (%s and %s)", base+int64(j), prev, who)
						}
						seen[base+int64(j)] = fmt.Sprintf("%s-%d", who, i*size+j)
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	total := int64(4 + 2*writers*perNode*size)
	waitHW(t, pa, total)
	waitHW(t, pb, total)
	for _, p := range []*Partition{pa, pb} {
		got, err := p.Read(4, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(got)) != total-4 {
			t.Fatalf("%s read %d records, want %d", p.l.cfg.Node, len(got), total-4)
		}
		for i, r := range got {
			if r.Offset != int64(i)+4 || seen[r.Offset] != string(r.Value) {
				t.Fatalf("node %s offset %d holds %q, acked as %q", p.l.cfg.Node, r.Offset, r.Value, seen[r.Offset])
			}
		}
	}
	if n := b.Stats().Notifications; n == 0 {
		t.Fatal("node b received no notification of node a's commits")
	}
	st := a.Stats()
	t.Logf("node a: %d objects, %d batches, cache hits %d misses %d, notifications %d", st.Objects, st.Batches, st.CacheHits, st.CacheMisses, st.Notifications)
}

func TestPartitions(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	if got, err := Partitions(ctx, c.pool); err != nil || len(got) != 0 {
		t.Fatalf("before the shared log ran: %v, %v", got, err)
	}
	l := c.node("a", nil)
	p0, p1 := openPart(t, l, "info", 0), openPart(t, l, "info", 1)
	for range 3 {
		if _, err := p0.Append(ctx, recs("x", 0, 2)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Partitions(ctx, c.pool)
	if err != nil {
		t.Fatal(err)
	}
	// Size adds this node's commits at once and takes the row's bytes at
	// each poll, so a poll that read the last commit's row before the
	// commit's own addition counts it twice until the next poll: wait for
	// the two to agree.
	for deadline := time.Now().Add(10 * time.Second); p0.Size() != got[0].Bytes && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	want := []PartitionInfo{
		{TopicID: "info", Partition: 0, HighWatermark: 6, Bytes: p0.Size(), Batches: 3, Objects: 3},
		{TopicID: "info", Partition: 1},
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] || p1.HighWatermark() != 0 {
		t.Fatalf("Partitions: %+v, want %+v", got, want)
	}
}

// TestSizeAfterCommit checks that a node's Size is its partition row's
// bytes right after an append, whichever way a poll interleaves with the
// commit: a poll that reads the row after the commit but is applied before
// the commit is published (Size used to add the commit's bytes on top of
// the polled row, counting them twice), and a poll that read the row
// before the commit and is applied after it (it lacks the commit's bytes).
func TestSizeAfterCommit(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	l := c.node("a", func(cfg *Config) { cfg.PollInterval = time.Hour })
	p := openPart(t, l, "size", 0)
	row := func() int64 {
		t.Helper()
		var n int64
		if err := c.pool.QueryRow(ctx, `SELECT bytes FROM sharedlog_partitions WHERE topic_id = 'size' AND partition = 0`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// A poll between the commit and its publication.
	l.testAfterCommit = func() {
		if err := l.pollAll(ctx); err != nil {
			t.Error(err)
		}
	}
	for i := range 3 {
		if _, err := p.Append(ctx, recs("x", i*2, 2)); err != nil {
			t.Fatal(err)
		}
		if got, want := p.Size(), row(); got != want || want == 0 {
			t.Fatalf("append %d, poll before publication: Size %d, the row holds %d", i, got, want)
		}
	}
	// A row read before a commit, applied after it.
	var next, start, bytes int64
	if err := c.pool.QueryRow(ctx, `SELECT next_offset, log_start_offset, bytes FROM sharedlog_partitions WHERE topic_id = 'size' AND partition = 0`).Scan(&next, &start, &bytes); err != nil {
		t.Fatal(err)
	}
	l.testAfterCommit = func() {}
	if _, err := p.Append(ctx, recs("x", 6, 2)); err != nil {
		t.Fatal(err)
	}
	p.advance(next, start, bytes)
	if got, want := p.Size(), row(); got != want || got == bytes {
		t.Fatalf("stale row applied after the commit: Size %d, the row holds %d (the stale row %d)", got, want, bytes)
	}
}
