package shared

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

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

// An object's batches reach sharedlog_commit as one entry per run of a
// partition's batches from producers that are not idempotent; an
// idempotent producer's batch is an entry of its own. The answers are
// spread back over the batches: consecutive offsets within an entry.
func TestCommitRuns(t *testing.T) {
	plain := func(topic string, part int32, off, n int64, count int32) objectBatch {
		return objectBatch{Topic: topic, Partition: part, Off: off, Len: n, Count: count, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
	}
	idem := func(part int32, off, n int64, count int32) objectBatch {
		return objectBatch{Topic: "t", Partition: part, Off: off, Len: n, Count: count, ProducerID: 7, BaseSequence: 0}
	}
	for _, tc := range []struct {
		name string
		bs   []objectBatch
		want []commitRun
	}{
		{"one batch", []objectBatch{plain("t", 0, 8, 70, 1)}, []commitRun{{0, 1}}},
		{"a section of plain batches", []objectBatch{plain("t", 0, 8, 70, 2), plain("t", 0, 78, 80, 3), plain("t", 0, 158, 70, 1)}, []commitRun{{0, 3}}},
		{"partitions and topics split", []objectBatch{plain("t", 0, 8, 70, 1), plain("t", 1, 78, 70, 1), plain("t", 1, 148, 70, 1), plain("u", 1, 218, 70, 1)},
			[]commitRun{{0, 1}, {1, 2}, {3, 1}}},
		{"an idempotent batch stands alone", []objectBatch{plain("t", 0, 8, 70, 1), idem(0, 78, 70, 2), idem(0, 148, 70, 2), plain("t", 0, 218, 70, 1), plain("t", 0, 288, 70, 1)},
			[]commitRun{{0, 1}, {1, 1}, {2, 1}, {3, 2}}},
		{"a producer id without a sequence is not checked", []objectBatch{plain("t", 0, 8, 70, 1), {Topic: "t", Off: 78, Len: 70, Count: 1, ProducerID: 3, BaseSequence: -1}},
			[]commitRun{{0, 2}}},
		{"a gap in the bytes splits", []objectBatch{plain("t", 0, 8, 70, 1), plain("t", 0, 80, 70, 1)}, []commitRun{{0, 1}, {1, 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := commitRuns(tc.bs)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("runs %v, want %v", got, tc.want)
			}
			// Entry i appended at base 100*i (or was refused when odd
			// and of one batch, as a duplicate at 5).
			answers := make([]answer, len(got))
			for i, r := range got {
				answers[i] = answer{base: int64(100 * i), status: statusAppended, next: int64(1000 + i), start: 0, bytes: 1}
				if r.n == 1 && i%2 == 1 {
					answers[i] = answer{base: 5, status: statusDuplicate, next: -1, start: -1, bytes: -1}
				}
			}
			per := perBatch(tc.bs, got, answers)
			if len(per) != len(tc.bs) {
				t.Fatalf("%d answers for %d batches", len(per), len(tc.bs))
			}
			for i, r := range got {
				base := answers[i].base
				for k := r.first; k < r.first+r.n; k++ {
					want := answers[i]
					want.base = base
					if per[k] != want {
						t.Fatalf("batch %d: %+v, want %+v", k, per[k], want)
					}
					if want.status == statusAppended {
						base += int64(tc.bs[k].Count)
					}
				}
			}
		})
	}
}

// The commit of an object holding many requests' batches of a few
// partitions passes the function one entry per partition run, however many
// batches: the stored answer has that many elements, and every batch
// still gets its own offsets.
func TestCommitEntriesPerRun(t *testing.T) {
	c := newCluster(t)
	a := c.node("a", func(cfg *Config) { cfg.Window = 200 * time.Millisecond })
	ctx := context.Background()
	p0, p1 := openPart(t, a, "entries", 0), openPart(t, a, "entries", 1)
	objects := a.Stats().Objects
	var ws []*Pending
	var wantBase []int64
	next := [2]int64{}
	for i := range 20 {
		p, part := p0, 0
		if i%3 == 0 {
			p, part = p1, 1
		}
		bt, err := log.EncodeBatch(recs("e", i, 1+i%4), 1, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		w, err := p.EnqueueBatch(bt)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
		wantBase = append(wantBase, next[part])
		next[part] += int64(1 + i%4)
	}
	for i, w := range ws {
		if got, err := w.Wait(ctx); err != nil || got != wantBase[i] {
			t.Fatalf("batch %d: base %d, %v; want %d", i, got, err, wantBase[i])
		}
	}
	if n := a.Stats().Objects - objects; n != 1 {
		t.Fatalf("the batches went into %d objects, want 1", n)
	}
	var entries int
	if err := c.pool.QueryRow(ctx, `SELECT cardinality(answer_base) FROM sharedlog_objects ORDER BY object_id DESC LIMIT 1`).Scan(&entries); err != nil {
		t.Fatal(err)
	}
	if entries != 2 {
		t.Fatalf("the commit passed %d entries, want 2 (one per partition)", entries)
	}
	for part, p := range []*Partition{p0, p1} {
		got, err := p.Read(0, 0, 0)
		if err != nil || int64(len(got)) != next[part] || p.HighWatermark() != next[part] {
			t.Fatalf("partition %d: read %d records, %v; high watermark %d; want %d", part, len(got), err, p.HighWatermark(), next[part])
		}
		for i, r := range got {
			if r.Offset != int64(i) {
				t.Fatalf("partition %d: record %d has offset %d", part, i, r.Offset)
			}
		}
	}
}

// A commit whose successor, already sealed, holds batches of every
// partition it touches sends no notification: the successor's carries the
// later high watermark. Another node, which learns high watermarks only
// from notifications here (its poll is a minute away), still sees all.
func TestCommitNotifySkippedWhenNextCovers(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	release := make(chan struct{})
	var commits atomic.Int32
	a := c.node("a", func(cfg *Config) { cfg.Window = 30 * time.Millisecond })
	a.testAfterCommit = func() {
		if commits.Add(1) == 1 {
			<-release // the first object's publication waits
		}
	}
	r := c.node("r", func(cfg *Config) { cfg.PollInterval = time.Minute })
	p0, p1 := openPart(t, a, "cover", 0), openPart(t, a, "cover", 1)
	r0, r1 := openPart(t, r, "cover", 0), openPart(t, r, "cover", 1)
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			a.in.mu.Lock()
			ok := cond()
			a.in.mu.Unlock()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("waited 20 s for %s", what)
			}
		}
	}
	enqueue := func(p *Partition, from int) *Pending {
		t.Helper()
		bt, err := log.EncodeBatch(recs("cover", from, 2), 1, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		w, err := p.EnqueueBatch(bt)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	// r listens (its first poll follows its LISTEN) before anything is
	// committed.
	for deadline := time.Now().Add(20 * time.Second); r.Stats().Polls == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("node r has not polled in 20 s")
		}
	}
	// Object 1 (partition 0) is committed and held; object 2 (partitions 0
	// and 1) is stored and waits for the committer; object 3 (partitions
	// 0 and 1 again) is due when the first is released.
	w1 := enqueue(p0, 0)
	waitFor("object 1 to be committed", func() bool { return commits.Load() == 1 })
	w2, w2b := enqueue(p0, 2), enqueue(p1, 0)
	waitFor("object 2 to be stored", func() bool { return len(a.in.queue) == 1 && a.in.putting == 0 })
	w3, w3b := enqueue(p0, 4), enqueue(p1, 2)
	waitFor("object 3 to be due", func() bool { return a.in.due })
	close(release)
	for _, w := range []*Pending{w1, w2, w2b, w3, w3b} {
		if _, err := w.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	st := a.Stats()
	if st.Objects != 3 || st.NotifySkips != 1 {
		t.Fatalf("%d objects, %d commits without a notification; want 3 and 1 (object 2's)", st.Objects, st.NotifySkips)
	}
	waitHW(t, r0, 6)
	waitHW(t, r1, 4)
	if n := r.Stats().Polls; n != 1 {
		t.Fatalf("node r polled %d times; want only its first poll, so that the high watermarks came by notification", n)
	}
	// And object 2's commit sent none: r heard objects 1 and 3 only.
	if n := r.Stats().Notifications; n != 2 {
		t.Fatalf("node r received %d notifications; want 2 (objects 1 and 3)", n)
	}
}

// The commit call is a prepared statement of the connection (pgx's
// statement cache): parsed and planned once, not at every commit.
func TestCommitIsPrepared(t *testing.T) {
	c := newCluster(t)
	pc, err := pgxpool.ParseConfig(c.url)
	if err != nil {
		t.Fatal(err)
	}
	pc.MaxConns = 1 // the commits' connection is the one asked below
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	a := c.node("a", func(cfg *Config) { cfg.Pool = pool })
	p := openPart(t, a, "t", 0)
	for i := range 3 {
		if _, err := p.Append(context.Background(), recs("a", i, 1)); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_prepared_statements WHERE strpos(statement, 'sharedlog' || '_commit(') > 0`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d prepared statements call sharedlog_commit on the commits' connection, want 1", n)
	}
}
