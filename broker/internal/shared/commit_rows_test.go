package shared

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/internal/log"
)

// A commit writes one coordinate row per run of a partition's accepted
// batches that lie back to back in the object: a refused batch (here an
// idempotent producer's retry) splits its partition's section in two.
// Another node reads the rows (it has no coordinates in memory), and the
// merge compactor turns the runs into segments whose footers list every
// batch.
func TestCommitRowPerRun(t *testing.T) {
	c := newCluster(t)
	edit := func(cfg *Config) {
		cfg.Window = 200 * time.Millisecond // the step's batches share one object
		cfg.MergeAge = time.Millisecond
	}
	a, b := c.node("a", edit), c.node("b", edit)
	ctx := context.Background()
	p0, p1 := openPart(t, a, "runs", 0), openPart(t, a, "runs", 1)
	if _, err := p0.AppendBatch(ctx, producerBatch{1, 0, 0, 2}.encode(t)); err != nil {
		t.Fatal(err)
	}
	plain := func(from, n int) *log.Batch {
		bt, err := log.EncodeBatch(recs("plain", from, n), 1, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		return bt
	}
	objects := a.Stats().Objects
	var ws []*Pending
	for _, e := range []struct {
		p  *Partition
		bt *log.Batch
	}{
		{p0, producerBatch{2, 0, 0, 3}.encode(t)}, // appended at 2
		{p1, plain(0, 2)},                         // appended at 0
		{p0, producerBatch{1, 0, 0, 2}.encode(t)}, // a retry: the original's 0, nothing appended
		{p1, plain(2, 1)},                         // appended at 2
		{p0, producerBatch{2, 0, 3, 1}.encode(t)}, // appended at 5
	} {
		w, err := e.p.EnqueueBatch(e.bt)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	for i, want := range []int64{2, 0, 0, 2, 5} {
		if got, err := ws[i].Wait(ctx); err != nil || got != want {
			t.Fatalf("batch %d: base %d, %v; want %d", i, got, err, want)
		}
	}
	if !ws[2].Duplicate() {
		t.Fatal("the retry was not answered as a duplicate")
	}
	if n := a.Stats().Objects - objects; n != 1 {
		t.Fatalf("the batches went into %d objects, want 1", n)
	}
	if _, err := p1.AppendBatch(ctx, plain(3, 1)); err != nil { // another object
		t.Fatal(err)
	}
	type row struct{ base, last int64 }
	rows := func(part int) []row {
		t.Helper()
		rs, err := c.pool.Query(ctx, `SELECT base_offset, last_offset FROM sharedlog_batches WHERE topic_id = 'runs' AND partition = $1 ORDER BY base_offset`, part)
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close()
		var out []row
		for rs.Next() {
			var r row
			if err := rs.Scan(&r.base, &r.last); err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		return out
	}
	// Partition 0: the first object's batch, then the two runs around the
	// retry; partition 1: one run of two batches, then the last object's.
	if got, want := rows(0), []row{{0, 1}, {2, 4}, {5, 5}}; !slices.Equal(got, want) {
		t.Fatalf("partition 0 rows %v, want %v", got, want)
	}
	if got, want := rows(1), []row{{0, 2}, {3, 3}}; !slices.Equal(got, want) {
		t.Fatalf("partition 1 rows %v, want %v", got, want)
	}
	pa, pb := []*Partition{p0, p1}, []*Partition{openPart(t, b, "runs", 0), openPart(t, b, "runs", 1)}
	for part := range pa {
		pa, pb := pa[part], pb[part]
		waitHW(t, pb, pa.HighWatermark())
		want, err := pa.Read(0, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pb.Read(0, 0, 0)
		if err != nil || !sameRecords(want, got) || len(got) != int(pa.HighWatermark()) {
			t.Fatalf("partition %d read on node b from the rows: %d records, %v; node a read %d", part, len(got), err, len(want))
		}
	}

	// Merge: the segments list each batch in their footers.
	time.Sleep(5 * time.Millisecond)
	for _, p := range []*Partition{p0, p1} {
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
	segs, err := c.dir.List(ctx, "seg/")
	if err != nil {
		t.Fatal(err)
	}
	batches := 0
	for _, o := range segs {
		data, err := c.dir.GetRange(ctx, o.Key, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		bs, err := parseObject(data)
		if err != nil {
			t.Fatalf("segment %s: %v", o.Key, err)
		}
		batches += len(bs)
	}
	if batches != 6 {
		t.Fatalf("the segments' footers list %d batches, want the 6 appended", batches)
	}
	b.cache = newCache(1<<20, 4096)
	for part := range pa {
		pa, pb := pa[part], pb[part]
		pb.forgetCoords()
		want, _ := pa.Read(0, 0, 0)
		got, err := pb.Read(0, 0, 0)
		if err != nil || !sameRecords(want, got) {
			t.Fatalf("partition %d after the merge: node b read %d records, %v; node a %d", part, len(got), err, len(want))
		}
	}
}
