package shared

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/internal/log"
)

// snapshot is every answer a partition gives to reads.
func snapshot(t *testing.T, p *Partition) []string {
	t.Helper()
	var out []string
	hw := p.HighWatermark()
	for off := p.LogStartOffset(); off <= hw; off++ {
		for _, maxBytes := range []int{1, 300, 5000, 1 << 20} {
			raw, h, err := p.ReadBatches(nil, off, maxBytes, true)
			out = append(out, fmt.Sprintf("rb %d %d: %d bytes hw %d err %v %x", off, maxBytes, len(raw), h, err, raw))
		}
		recs, err := p.Read(off, 3, 0)
		var sb strings.Builder
		for _, r := range recs {
			fmt.Fprintf(&sb, "%d/%d/%s/%s ", r.Offset, r.Timestamp, r.Key, r.Value)
		}
		out = append(out, fmt.Sprintf("read %d: %s %v", off, sb.String(), err))
	}
	for _, ts := range []int64{0, 1_700_000_000_005, 1_700_000_000_050, 1 << 50} {
		o, err := p.OffsetForTime(ts)
		out = append(out, fmt.Sprintf("time %d: %d %v", ts, o, err))
	}
	return out
}

func sameSnapshot(t *testing.T, what string, a, b []string) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d answers, want %d", what, len(b), len(a))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("%s: answer %d differs:\nbefore %s\nafter  %s", what, i, a[i], b[i])
		}
	}
}

func TestMergeCompactor(t *testing.T) {
	c := newCluster(t)
	edit := func(cfg *Config) {
		cfg.MergeAge = time.Millisecond
		cfg.MergeRunBytes = 2 << 10
		cfg.GCGrace = time.Millisecond
	}
	a, b := c.node("a", edit), c.node("b", edit)
	ctx := context.Background()
	pa := []*Partition{openPart(t, a, "merge", 0), openPart(t, a, "merge", 1)}
	pb := []*Partition{openPart(t, b, "merge", 0), openPart(t, b, "merge", 1)}
	// Objects shared by both partitions, batches of several sizes.
	for i := range 25 {
		var wg sync.WaitGroup
		for _, p := range pa {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rs := recs(fmt.Sprint(p.key.part), i*3, 1+i%3)
				rs[0].Value = bytes.Repeat([]byte{'a' + byte(i%26)}, 10+i*40)
				if _, err := p.Append(ctx, rs); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	var before [2][]string
	for i := range pa {
		waitHW(t, pb[i], pa[i].HighWatermark())
		before[i] = snapshot(t, pa[i])
		sameSnapshot(t, "node b before the merge", before[i], snapshot(t, pb[i]))
	}
	rowCount := func(part int) int {
		var n int
		if err := c.pool.QueryRow(ctx, `SELECT count(*) FROM sharedlog_batches WHERE topic_id = 'merge' AND partition = $1`, part).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	rows0 := rowCount(0)
	time.Sleep(5 * time.Millisecond)
	for _, p := range pa {
		if err := p.Reconfigure(log.Config{RetentionAge: -1}); err != nil {
			t.Fatal(err)
		}
		if err := p.RunMaintenance(time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if got := a.Stats().Merges; got != 2 {
		t.Fatalf("%d merges, want 2", got)
	}
	if after := rowCount(0); after >= rows0 || after < 2 {
		t.Fatalf("partition 0 has %d coordinate rows after the merge, %d before: want fewer, and runs of 2 KiB", after, rows0)
	}
	// (Node a's or b's background collector may have been first.)
	if _, _, err := a.CollectGarbage(ctx); err != nil {
		t.Fatalf("GC after the merge: %v", err)
	}
	listed, err := c.dir.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range listed {
		if !strings.HasPrefix(o.Key, "seg/") {
			t.Fatalf("intake object %s left after both partitions were merged", o.Key)
		}
	}
	// Both nodes answer as before: a from the segments, b with stale
	// coordinates (the objects they name are gone) and an empty cache.
	b.cache = newCache(1<<20, 4096)
	a.cache = newCache(1<<20, 4096)
	for i := range pa {
		sameSnapshot(t, "node a after the merge", before[i], snapshot(t, pa[i]))
		sameSnapshot(t, "node b after the merge", before[i], snapshot(t, pb[i]))
	}
	// Merged data was read around the cache.
	if b.Stats().ColdReads == 0 {
		t.Fatal("no cold reads of merged segments")
	}
	for _, cc := range []*cache{a.cache, b.cache} {
		cc.mu.Lock()
		for k := range cc.m {
			if strings.HasPrefix(k.key, segPrefix) {
				t.Errorf("segment block %v in the cache", k)
			}
		}
		cc.mu.Unlock()
	}
	// Nothing left to merge; appends after the merge read across the
	// boundary.
	if n, err := pa[0].merge(ctx); err != nil || n != 0 {
		t.Fatalf("second merge: %d, %v", n, err)
	}
	hw := pa[0].HighWatermark()
	if _, err := pa[0].Append(ctx, recs("late", 0, 2)); err != nil {
		t.Fatal(err)
	}
	waitHW(t, pb[0], hw+2)
	got, err := pb[0].Read(hw-2, 0, 0)
	if err != nil || len(got) != 4 || string(got[3].Value) != "late-1" {
		t.Fatalf("read across the segment boundary: %d records, %v", len(got), err)
	}
}

// A merge planned against rows that changed since is refused.
func TestMergeRefusedWhenStale(t *testing.T) {
	c := newCluster(t)
	a := c.node("a", nil)
	p := openPart(t, a, "stale", 0)
	ctx := context.Background()
	for range 3 {
		if _, err := p.Append(ctx, recs("s", 0, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.pool.Exec(ctx, `INSERT INTO sharedlog_uploads (key, node) VALUES ('seg/x/0/1', 'a')`); err != nil {
		t.Fatal(err)
	}
	var ok bool
	// Base 0 is in some object, but not in object -1.
	err := c.pool.QueryRow(ctx, `SELECT sharedlog_merge('seg/x/0/1', 'a', 100, 'stale', 0, ARRAY[0, 1]::BIGINT[], ARRAY[-1, -1]::BIGINT[],
		ARRAY[0]::BIGINT[], ARRAY[1]::BIGINT[], ARRAY[8]::BIGINT[], ARRAY[10]::BIGINT[], ARRAY[1]::BIGINT[])`).Scan(&ok)
	if err != nil || ok {
		t.Fatalf("stale merge: %v, %v; want false", ok, err)
	}
	var n int
	if err := c.pool.QueryRow(ctx, `SELECT count(*) FROM sharedlog_batches WHERE topic_id = 'stale'`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d rows after a refused merge (%v), want the 3 batches untouched", n, err)
	}
	if got, err := p.Read(0, 0, 0); err != nil || len(got) != 3 {
		t.Fatalf("read after a refused merge: %d, %v", len(got), err)
	}
}

// Appends on one node, merges, retention-free maintenance and GC on a
// second, reads on a third, all at once: every read sees each offset with
// one value for ever, and the history holds at the end on every node.
func TestConcurrentMergeAppendRead(t *testing.T) {
	c := newCluster(t)
	edit := func(cfg *Config) {
		cfg.MergeAge = time.Millisecond
		cfg.MergeRunBytes = 4 << 10
		cfg.GCGrace = time.Millisecond
	}
	a, b, r := c.node("a", edit), c.node("b", edit), c.node("r", edit)
	ctx := context.Background()
	const parts = 2
	var pa, pb, pr [parts]*Partition
	hist := [parts]*history{}
	for i := range parts {
		pa[i], pb[i], pr[i] = openPart(t, a, "mix", int32(i)), openPart(t, b, "mix", int32(i)), openPart(t, r, "mix", int32(i))
		if err := pb[i].Reconfigure(log.Config{RetentionAge: -1}); err != nil {
			t.Fatal(err)
		}
		hist[i] = newHistory()
	}
	done := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { // maintenance on node b
		defer bg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(15 * time.Millisecond):
			}
			for i := range parts {
				if err := pb[i].RunMaintenance(time.Now()); err != nil {
					t.Errorf("maintenance: %v", err)
				}
			}
			if _, _, err := b.CollectGarbage(ctx); err != nil {
				t.Errorf("GC: %v", err)
			}
		}
	}()
	seen := [parts]map[int64]string{{}, {}}
	go func() { // reads on node r
		defer bg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			for i := range parts {
				got, err := pr[i].Read(0, 0, 0)
				if err != nil {
					t.Errorf("read: %v", err)
					return
				}
				for j, rec := range got {
					if rec.Offset != int64(j) {
						t.Errorf("partition %d: record %d has offset %d", i, j, rec.Offset)
						return
					}
					if v, ok := seen[i][rec.Offset]; ok && v != string(rec.Value) {
						t.Errorf("partition %d offset %d read as %s, earlier as %s", i, rec.Offset, rec.Value, v)
						return
					}
					seen[i][rec.Offset] = string(rec.Value)
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hist[i].write(t, pa[i], fmt.Sprintf("p%d", i), 3, 40)
		}()
	}
	wg.Wait()
	close(done)
	bg.Wait()
	time.Sleep(5 * time.Millisecond)
	for i := range parts {
		if err := pb[i].RunMaintenance(time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if b.Stats().Merges == 0 {
		t.Fatal("no merge happened")
	}
	for i := range parts {
		for _, p := range []*Partition{pa[i], pb[i], pr[i]} {
			waitHW(t, p, pa[i].HighWatermark())
			hist[i].check(t, p)
		}
	}
	t.Logf("%d merges; reader saw %d and %d offsets", b.Stats().Merges, len(seen[0]), len(seen[1]))
}

// One RunMaintenance merges pass after pass until nothing is left.
func TestMergeLoops(t *testing.T) {
	c := newCluster(t)
	a := c.node("a", func(cfg *Config) { cfg.MergeAge = time.Millisecond; cfg.MergeMaxBytes = 1500 })
	ctx := context.Background()
	p := openPart(t, a, "loops", 0)
	if err := p.Reconfigure(log.Config{RetentionAge: -1}); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := p.Append(ctx, []log.Record{{Value: bytes.Repeat([]byte("x"), 200), Timestamp: int64(i + 1)}}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(5 * time.Millisecond)
	if err := p.RunMaintenance(time.Now()); err != nil {
		t.Fatal(err)
	}
	var intake int
	if err := c.pool.QueryRow(ctx, `SELECT count(*) FROM sharedlog_batches b JOIN sharedlog_objects o USING (object_id)
		WHERE b.topic_id = 'loops' AND o.key LIKE 'wal/%'`).Scan(&intake); err != nil {
		t.Fatal(err)
	}
	if m := a.Stats().Merges; m < 4 || intake != 0 {
		t.Fatalf("%d merges, %d batches left in intake objects; want every batch merged, 5 or so per segment", m, intake)
	}
	if got, err := p.Read(0, 0, 0); err != nil || len(got) != 20 {
		t.Fatalf("read after the merges: %d records, %v", len(got), err)
	}
}
