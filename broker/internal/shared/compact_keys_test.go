package shared

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/internal/log"
	"github.com/sluicehq/sluice/internal/pgtest"
	"github.com/sluicehq/sluice/objstore"
)

// keyed makes records with the given keys ("" is no key; a key ending in
// "!" is a tombstone of the key before it), values naming who and which,
// timestamps ts, ts+1, ….
func keyed(who string, ts int64, keys ...string) []log.Record {
	out := make([]log.Record, len(keys))
	for i, k := range keys {
		r := log.Record{Timestamp: ts + int64(i), Value: []byte(fmt.Sprintf("%s-%d", who, i))}
		switch {
		case k == "":
		case strings.HasSuffix(k, "!"):
			r.Key, r.Value = []byte(strings.TrimSuffix(k, "!")), nil
		case k == "<empty>":
			r.Key = []byte{}
		default:
			r.Key = []byte(k)
		}
		out[i] = r
	}
	return out
}

// compactRound is a round of a key compaction case: appends, then
// maintenance at at (ms after the base time).
type compactRound struct {
	ops []appendOp
	at  int64
}

// The base time of the compaction cases: record timestamps are near it,
// maintenance runs at base + at. It is an hour ahead of the wall clock, so
// that every intake object is older than MergeAge as of maintenance (the
// shared log's objects are dated by PostgreSQL's clock).
var compactBase = time.Now().Add(time.Hour).UnixMilli()

var compactCases = []struct {
	name   string
	rounds []compactRound
}{
	{"overwrites", []compactRound{{ops: []appendOp{
		{recs: keyed("a", compactBase, "k1", "k2", "k1")},
		{recs: keyed("b", compactBase, "k2")},
		{recs: keyed("c", compactBase, "k3", "k1", "k3")},
		{recs: keyed("d", compactBase, "k4")},
	}}}},
	{"keyless and empty keys", []compactRound{{ops: []appendOp{
		{recs: keyed("a", compactBase, "", "k", "", "<empty>")},
		{recs: keyed("b", compactBase, "<empty>", "", "k")},
	}}}},
	{"whole batches emptied", []compactRound{{ops: []appendOp{
		{recs: keyed("a", compactBase, "x", "y")},
		{recs: keyed("b", compactBase, "x")},
		{recs: keyed("c", compactBase, "x", "y")},
		{recs: keyed("d", compactBase, "z")},
		{recs: keyed("e", compactBase, "x", "y", "z")},
	}}}},
	{"tombstones kept, then expired", []compactRound{
		{ops: []appendOp{
			{recs: keyed("a", compactBase, "k1", "k2", "k3")},
			{recs: keyed("b", compactBase+500, "k1!", "k2")},
			{recs: keyed("c", compactBase+2000, "k3!")},
		}, at: 1000}, // both tombstones are younger than 2 s: kept
		{at: 2600}, // k1's tombstone (ts base+500) expired, k3's not
		{at: 4100}, // both expired
	}},
	{"client batches, sparse ones too", []compactRound{{ops: []appendOp{
		{recs: keyed("a", compactBase, "k1", "k2", "k3", "k4", "k5"), asBatch: true, drop: []int{1, 3}},
		{recs: keyed("b", compactBase, "k1", "k3"), asBatch: true},
		{recs: keyed("c", compactBase, "k5", "k6"), asBatch: true, drop: []int{0, 1}},
		{recs: keyed("d", compactBase, "k6", "k1"), asBatch: true, logAppendTime: compactBase + 7},
		{recs: keyed("e", compactBase, "k1")},
	}}}},
	{"incremental rounds", []compactRound{
		{ops: []appendOp{
			{recs: keyed("a", compactBase, "k1", "k2", "k1")},
			{recs: keyed("b", compactBase, "k3", "k2")},
		}},
		{ops: []appendOp{
			{recs: keyed("c", compactBase, "k1", "k3")},
			{recs: keyed("d", compactBase, "k4", "k4", "k4")},
		}},
		{ops: []appendOp{
			{recs: keyed("e", compactBase, "k2")},
		}},
	}},
	{"nothing to drop", []compactRound{{ops: []appendOp{
		{recs: keyed("a", compactBase, "k1", "k2")},
		{recs: keyed("b", compactBase, "k3", "")},
	}}}},
	{"many batches, many rows", []compactRound{{ops: func() []appendOp {
		var ops []appendOp
		for i := range 60 {
			ops = append(ops, appendOp{recs: keyed(fmt.Sprint("m", i), compactBase, fmt.Sprint("k", i%9), fmt.Sprint("k", (i*7)%13), strings.Repeat("", 0))})
		}
		return ops
	}()}}},
}

// Key compaction of a shared partition leaves what the local log's
// compaction leaves: the same records at the same offsets, read the same
// way, for the same appends and maintenance times.
func TestKeyCompactionLikeLocalLog(t *testing.T) {
	c := newCluster(t)
	l := c.node("kc", func(cfg *Config) {
		cfg.MergeAge = time.Millisecond
		cfg.MergeRunBytes = 300 // several rows per segment
		cfg.GCGrace = time.Millisecond
	})
	ctx := context.Background()
	lcfg := log.Config{Compact: true, DeleteRetention: 2 * time.Second}
	for ci, tc := range compactCases {
		t.Run(tc.name, func(t *testing.T) {
			// The local log's segments start an hour before the base time:
			// maintenance at any case time rolls the active one, so that
			// every record is in a closed segment.
			local, err := log.Open(t.TempDir(), log.Config{Fsync: log.FsyncPolicy{Mode: log.FsyncNever}, MaintenanceInterval: -1,
				Compact: true, DeleteRetention: lcfg.DeleteRetention, SegmentAge: time.Millisecond,
				Now: func() time.Time { return time.UnixMilli(compactBase).Add(-time.Hour) }})
			if err != nil {
				t.Fatal(err)
			}
			defer local.Close()
			sh, err := l.Partition(ctx, fmt.Sprintf("kc-%d", ci), 0, lcfg)
			if err != nil {
				t.Fatal(err)
			}
			defer sh.Close()
			dropped := false
			for ri, round := range tc.rounds {
				for i, op := range round.ops {
					var lb, sb int64
					var lerr, serr error
					if op.asBatch {
						lb, lerr = local.AppendBatch(ctx, encodeOp(t, op))
						sb, serr = sh.AppendBatch(ctx, encodeOp(t, op))
					} else {
						lb, lerr = local.Append(ctx, op.recs)
						sb, serr = sh.Append(ctx, op.recs)
					}
					if lerr != nil || serr != nil || lb != sb {
						t.Fatalf("round %d append %d: local %d %v, shared %d %v", ri, i, lb, lerr, sb, serr)
					}
				}
				before, _ := sh.Read(0, 0, 0)
				// The shared log's intake objects become older than
				// MergeAge: every record is closed there too.
				time.Sleep(5 * time.Millisecond)
				at := time.UnixMilli(compactBase + round.at)
				if err := local.RunMaintenance(at); err != nil {
					t.Fatal(err)
				}
				if err := sh.RunMaintenance(at); err != nil {
					t.Fatal(err)
				}
				after, _ := sh.Read(0, 0, 0)
				if len(after) < len(before) {
					dropped = true
				}
				compareLogs(t, fmt.Sprintf("round %d", ri), local, sh)
			}
			if !dropped && tc.name != "nothing to drop" {
				t.Fatal("compaction dropped nothing: the case tests nothing")
			}
			// A further pass changes nothing.
			last := time.UnixMilli(compactBase + tc.rounds[len(tc.rounds)-1].at)
			snap := snapshot(t, sh)
			if err := sh.RunMaintenance(last); err != nil {
				t.Fatal(err)
			}
			sameSnapshot(t, "a second pass", snap, snapshot(t, sh))
		})
	}
}

// compareLogs checks that local and shared answer every read alike.
func compareLogs(t *testing.T, what string, local *log.Partition, sh *Partition) {
	t.Helper()
	hw := local.HighWatermark()
	if sh.HighWatermark() != hw {
		t.Fatalf("%s: high watermark: local %d, shared %d", what, hw, sh.HighWatermark())
	}
	lr, lerr := local.Read(0, 0, 0)
	sr, serr := sh.Read(0, 0, 0)
	if lerr != nil || serr != nil || !sameRecords(lr, sr) {
		t.Fatalf("%s: records differ:\nlocal  %v %s\nshared %v %s", what, lerr, show(lr), serr, show(sr))
	}
	for off := int64(0); off <= hw; off++ {
		for _, maxBytes := range []int{1, 100, 1 << 20} {
			lw, lh, lerr := local.ReadBatches(nil, off, maxBytes, true)
			sw, shw, serr := sh.ReadBatches(nil, off, maxBytes, true)
			if (lerr == nil) != (serr == nil) || lh != shw || !sameBatches(t, lw, sw) {
				t.Fatalf("%s: ReadBatches(%d, %d): local %d bytes hw %d err %v; shared %d bytes hw %d err %v",
					what, off, maxBytes, len(lw), lh, lerr, len(sw), shw, serr)
			}
		}
		lr, lerr := local.Read(off, 2, 0)
		sr, serr := sh.Read(off, 2, 0)
		if (lerr == nil) != (serr == nil) || !sameRecords(lr, sr) {
			t.Fatalf("%s: Read(%d): local %s %v; shared %s %v", what, off, show(lr), lerr, show(sr), serr)
		}
	}
}

// sameBatches compares two reads batch by batch: the same offsets and
// records (the header fields compaction rewrites may be computed alike or
// not; the records decide).
func sameBatches(t *testing.T, a, b []byte) bool {
	t.Helper()
	if bytes.Equal(a, b) {
		return true
	}
	for len(a) > 0 && len(b) > 0 {
		ha, _ := log.PeekBatch(a)
		hb, _ := log.PeekBatch(b)
		ra, err1 := log.DecodeStoredBatch(a[:ha.Size], nil)
		rb, err2 := log.DecodeStoredBatch(b[:hb.Size], nil)
		if err1 != nil || err2 != nil || !sameRecords(ra, rb) ||
			!bytes.Equal(a[:8], b[:8]) || lastOffsetDelta(a) != lastOffsetDelta(b) {
			t.Logf("batches differ: %v %v\n%x\n%x", err1, err2, a[:ha.Size], b[:hb.Size])
			return false
		}
		a, b = a[ha.Size:], b[hb.Size:]
	}
	return len(a) == 0 && len(b) == 0
}

func show(rs []log.Record) string {
	var sb strings.Builder
	for _, r := range rs {
		v := string(r.Value)
		if r.Value == nil {
			v = "<null>"
		}
		fmt.Fprintf(&sb, "%d:%q=%s ", r.Offset, r.Key, v)
	}
	return sb.String()
}

// Produce on one node, key compaction on another and reads on a third,
// all at once: every read is a consistent log (offsets ascending, each
// record the one acked at its offset, a record missing below the last
// offset read only if a later record of its key was acked), and
// afterwards the log holds exactly the latest record of each key.
func TestKeyCompactionConcurrentProduceFetch(t *testing.T) {
	c := newCluster(t)
	edit := func(cfg *Config) {
		cfg.MergeAge = time.Millisecond
		cfg.MergeRunBytes = 1 << 10
		cfg.GCGrace = time.Millisecond
	}
	a, b, r := c.node("a", edit), c.node("b", edit), c.node("r", edit)
	ctx := context.Background()
	lcfg := log.Config{Compact: true}
	open := func(l *Log) *Partition {
		p, err := l.Partition(ctx, "kcc", 0, lcfg)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	pa, pb, pr := open(a), open(b), open(r)

	const keys, writers, perWriter = 13, 3, 60
	var hmu sync.Mutex
	acked := map[int64]string{} // offset -> value
	keyOf := func(v string) string { return strings.SplitN(v, "/", 2)[0] }

	type readResult struct {
		reach int64 // the last offset read + 1
		seen  map[int64]string
	}
	var reads []readResult
	done := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(2)
	var passes, collected int
	go func() { // key compaction on node b
		defer bg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if err := pb.RunMaintenance(time.Now()); err != nil {
				t.Errorf("maintenance: %v", err)
			}
			passes++
			dead, _, err := b.CollectGarbage(ctx)
			if err != nil {
				t.Errorf("GC: %v", err)
			}
			collected += dead
		}
	}()
	go func() { // reads on node r
		defer bg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			time.Sleep(2 * time.Millisecond)
			got, err := pr.Read(0, 0, 0)
			if err != nil {
				t.Errorf("read: %v", err)
				return
			}
			rr := readResult{seen: map[int64]string{}}
			prev := int64(-1)
			for _, rec := range got {
				if rec.Offset <= prev {
					t.Errorf("read: offset %d after %d", rec.Offset, prev)
					return
				}
				prev = rec.Offset
				if string(rec.Key) != keyOf(string(rec.Value)) {
					t.Errorf("offset %d: key %s with value %s", rec.Offset, rec.Key, rec.Value)
					return
				}
				rr.seen[rec.Offset] = string(rec.Value)
				rr.reach = rec.Offset + 1
			}
			reads = append(reads, rr)
		}
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				k := fmt.Sprintf("k%d", (w*perWriter+i)%keys)
				v := fmt.Sprintf("%s/w%d-%d", k, w, i)
				off, err := pa.Append(ctx, []log.Record{{Key: []byte(k), Value: []byte(v), Timestamp: time.Now().UnixMilli()}})
				if err != nil {
					t.Errorf("append %s: %v", v, err)
					return
				}
				hmu.Lock()
				acked[off] = v
				hmu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(done)
	bg.Wait()
	if t.Failed() {
		return
	}
	hw := pa.HighWatermark()
	if int(hw) != writers*perWriter || len(acked) != writers*perWriter {
		t.Fatalf("high watermark %d, %d acked, want %d", hw, len(acked), writers*perWriter)
	}
	// latestBelow is, per key, the largest acked offset below hw.
	latestBelow := func(hw int64) map[string]int64 {
		m := map[string]int64{}
		for off, v := range acked {
			if k := keyOf(v); off < hw && off >= m[k] {
				m[k] = off
			}
		}
		return m
	}
	latest := latestBelow(hw)
	for i, rr := range reads {
		for off, v := range rr.seen {
			if acked[off] != v {
				t.Fatalf("read %d: offset %d holds %s, acked there: %q", i, off, v, acked[off])
			}
		}
		for off := range rr.reach {
			if _, ok := rr.seen[off]; !ok && latest[keyOf(acked[off])] == off {
				t.Fatalf("read %d (to offset %d): offset %d, the latest record of %s, is missing", i, rr.reach, off, keyOf(acked[off]))
			}
		}
	}
	// Once everything is old enough, the log is the latest of each key.
	time.Sleep(5 * time.Millisecond)
	if err := pb.RunMaintenance(time.Now()); err != nil {
		t.Fatal(err)
	}
	want := latest
	for _, p := range []*Partition{pa, pb, pr} {
		waitHW(t, p, hw)
		got, err := p.Read(0, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != keys {
			t.Fatalf("after compaction %d records, want one per key (%d): %s", len(got), keys, show(got))
		}
		for _, rec := range got {
			if want[string(rec.Key)] != rec.Offset || acked[rec.Offset] != string(rec.Value) {
				t.Fatalf("after compaction: %s at %d, want the latest (offset %d)", rec.Key, rec.Offset, want[string(rec.Key)])
			}
		}
	}
	// The objects the compaction emptied are collected after the grace
	// period; the compacted log reads the same after.
	time.Sleep(5 * time.Millisecond)
	dead, _, err := b.CollectGarbage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	collected += dead
	var left int
	if err := c.pool.QueryRow(ctx, `SELECT count(*) FROM sharedlog_objects WHERE live_bytes <= 0`).Scan(&left); err != nil || left != 0 || collected == 0 {
		t.Fatalf("%d dead objects left after GC (%v), %d collected", left, err, collected)
	}
	if got, err := pr.Read(0, 0, 0); err != nil || len(got) != keys {
		t.Fatalf("after GC: %d records, %v", len(got), err)
	}
	// Compaction left no row in an intake object (its gaps stop merges).
	var inWAL int
	if err := c.pool.QueryRow(ctx, `SELECT count(*) FROM sharedlog_batches b JOIN sharedlog_objects o USING (object_id)
		WHERE b.topic_id = 'kcc' AND o.key NOT LIKE 'seg/%'`).Scan(&inWAL); err != nil || inWAL != 0 {
		t.Fatalf("%d rows left in intake objects (%v)", inWAL, err)
	}
	t.Logf("%d maintenance passes, %d reads during them, %d records compacted to %d, %d objects collected", passes, len(reads), hw, keys, collected)
}

// A compaction plan whose rows changed before the swap changes nothing,
// and its objects are deleted.
func TestKeyCompactionStalePlan(t *testing.T) {
	c := newCluster(t)
	l := c.node("st", func(cfg *Config) { cfg.MergeAge = -1 })
	ctx := context.Background()
	p, err := l.Partition(ctx, "stale", 0, log.Config{Compact: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Append(ctx, keyed("a", compactBase, "k", "k")); err != nil {
		t.Fatal(err)
	}
	snap := snapshot(t, p)
	out := &compactOutput{p: p, ctx: ctx}
	raw := encodeOp(t, appendOp{recs: keyed("x", compactBase, "k")}).Bytes()
	if err := out.add(raw, 1, 1, compactBase, false); err != nil {
		t.Fatal(err)
	}
	if err := out.finish(); err != nil {
		t.Fatal(err)
	}
	// A row that is not there (wrong object): the plan is stale.
	ok, err := p.swapCompacted(ctx, []compactRow{{coord: coord{base: 0, last: 1}, objectID: -5}}, out, p.noticeCompacted(2, math.MaxInt64))
	if err != nil || ok {
		t.Fatalf("swap of a stale plan: %v %v, want false", ok, err)
	}
	out.abandon()
	if _, err := c.dir.GetRange(ctx, out.keys[0], 0, 1); err == nil {
		t.Fatalf("the stale plan's object %s is still there", out.keys[0])
	}
	var n int
	if err := c.pool.QueryRow(ctx, `SELECT count(*) FROM sharedlog_uploads WHERE key = $1`, out.keys[0]).Scan(&n); err != nil || n != 0 {
		t.Fatalf("upload rows of the stale plan: %d %v", n, err)
	}
	sameSnapshot(t, "after a stale plan", snap, snapshot(t, p))
	// MergeAge < 0: intake objects are never old enough, nothing is closed.
	if err := p.RunMaintenance(time.Now()); err != nil {
		t.Fatal(err)
	}
	sameSnapshot(t, "with MergeAge < 0", snap, snapshot(t, p))
	if errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
}

// thinBatch keeps exactly the records not dropped, at their offsets, in a
// batch that decodes as a stored batch (CRC, framing) with the same base
// offset and last offset delta, and a maxTimestamp that is the kept
// records' largest (LogAppendTime batches keep theirs); thinning a thinned
// (sparse) batch again works the same.
func FuzzThinBatch(f *testing.F) {
	f.Add([]byte("k1\x00v1\x00\x00k2"), uint64(0b101), false)
	f.Add([]byte("abcdefghijklmnopqrstuvwxyz"), uint64(0xf0f0_0000_0003), true)
	f.Add([]byte{}, uint64(0), false)
	f.Fuzz(func(t *testing.T, seed []byte, mask uint64, logAppendTime bool) {
		n := 1 + len(seed)%16
		recs := make([]log.Record, n)
		for i := range recs {
			var b byte
			if len(seed) > 0 {
				b = seed[i%len(seed)]
			}
			recs[i] = log.Record{Value: bytes.Repeat([]byte{b}, int(b%7)), Timestamp: int64(1000 + int(b)*(i+1))}
			if b%3 != 0 {
				recs[i].Key = []byte{b}
			}
			if b%5 == 0 {
				recs[i].Value = nil
			}
		}
		eb, err := log.EncodeBatch(recs, 1, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		pb, _, err := log.ParseBatch(bytes.Clone(eb.Bytes()), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if logAppendTime {
			pb.SetLogAppendTime(5000)
		}
		raw := pb.Bytes()
		putBase(raw, 77)
		for pass, m := range []uint64{mask & 0xffff_ffff, mask >> 32} {
			got, err := log.DecodeStoredBatch(raw, nil)
			if err != nil {
				t.Fatalf("pass %d: %v", pass, err)
			}
			var drop []int
			var want []log.Record
			for i := range got {
				if m>>i&1 == 1 && len(drop) < len(got)-1 {
					drop = append(drop, i)
				} else {
					want = append(want, got[i])
				}
			}
			thin, err := thinBatch(raw, got, drop)
			if err != nil {
				t.Fatalf("pass %d: %v", pass, err)
			}
			kept, err := log.DecodeStoredBatch(thin, nil)
			if err != nil {
				t.Fatalf("pass %d: the thinned batch does not decode: %v", pass, err)
			}
			if !sameRecords(kept, want) {
				t.Fatalf("pass %d: kept %s, want %s", pass, show(kept), show(want))
			}
			if !bytes.Equal(thin[:8], raw[:8]) || lastOffsetDelta(thin) != lastOffsetDelta(raw) {
				t.Fatalf("pass %d: base or last offset delta changed", pass)
			}
			maxTs := int64(binary.BigEndian.Uint64(thin[35:]))
			wantTs := int64(5000)
			if !logAppendTime {
				wantTs = want[0].Timestamp
				for _, r := range want {
					wantTs = max(wantTs, r.Timestamp)
				}
			}
			if maxTs != wantTs {
				t.Fatalf("pass %d: maxTimestamp %d, want %d", pass, maxTs, wantTs)
			}
			raw = thin
		}
	})
}

// BenchmarkKeyCompaction measures one key compaction pass over a merged
// partition of 20,000 records of 100-byte values (200 batches of 100) over
// 1,000 keys, against a PostgreSQL with fsync on and the directory store:
// records/s and MB/s of the closed part (read twice, the survivors
// written once and swapped in). BenchmarkKeyCompactionLocal is the same
// pass on log.Partition, for comparison.
func BenchmarkKeyCompaction(b *testing.B) {
	srv := pgtest.NewServer(b, pgtest.Options{Durable: true})
	url := srv.URL("postgres")
	d, err := objstore.NewDir(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	c := &cluster{t: b, url: url, dir: d, pool: openPool(b, url)}
	l := c.node("bench", func(cfg *Config) { cfg.MergeAge = time.Millisecond })
	ctx := context.Background()
	const batches, perBatch, keys = 200, 100, 1000
	var total time.Duration
	var bytesIn int64
	for i := range b.N {
		p, err := l.Partition(ctx, fmt.Sprint("kc-bench-", i), 0, log.Config{Compact: true})
		if err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		for j := range batches {
			recs := make([]log.Record, perBatch)
			for k := range recs {
				recs[k] = log.Record{Key: []byte(fmt.Sprint("key-", (j*perBatch+k)%keys)), Value: bytes.Repeat([]byte("v"), 100), Timestamp: 1}
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := p.Append(ctx, recs); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
		time.Sleep(5 * time.Millisecond)
		for {
			n, err := p.merge(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		bytesIn += p.Size()
		cfg := p.cfg.Load()
		start := time.Now()
		if err := p.compactKeys(cfg, time.Now()); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		if got, err := p.Read(0, 0, 0); err != nil || len(got) != keys {
			b.Fatalf("after compaction %d records, %v; want %d", len(got), err, keys)
		}
		p.Close()
	}
	reportCompaction(b, total, bytesIn, batches*perBatch)
}

func reportCompaction(b *testing.B, total time.Duration, bytesIn int64, records int) {
	b.ReportMetric(float64(b.N*records)/total.Seconds(), "records/s")
	b.ReportMetric(float64(bytesIn)/1e6/total.Seconds(), "MB/s")
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/pass")
}

func BenchmarkKeyCompactionLocal(b *testing.B) {
	ctx := context.Background()
	const batches, perBatch, keys = 200, 100, 1000
	var total time.Duration
	var bytesIn int64
	base := time.Now()
	for range b.N {
		p, err := log.Open(b.TempDir(), log.Config{Fsync: log.FsyncPolicy{Mode: log.FsyncAlways}, MaintenanceInterval: -1,
			Compact: true, SegmentAge: time.Millisecond, Now: func() time.Time { return base }})
		if err != nil {
			b.Fatal(err)
		}
		for j := range batches {
			recs := make([]log.Record, perBatch)
			for k := range recs {
				recs[k] = log.Record{Key: []byte(fmt.Sprint("key-", (j*perBatch+k)%keys)), Value: bytes.Repeat([]byte("v"), 100), Timestamp: 1}
			}
			if _, err := p.Append(ctx, recs); err != nil {
				b.Fatal(err)
			}
		}
		bytesIn += p.Size()
		start := time.Now()
		if err := p.RunMaintenance(base.Add(time.Hour)); err != nil { // rolls, then compacts
			b.Fatal(err)
		}
		total += time.Since(start)
		if got, err := p.Read(0, 0, 0); err != nil || len(got) != keys {
			b.Fatalf("after compaction %d records, %v; want %d", len(got), err, keys)
		}
		p.Close()
	}
	reportCompaction(b, total, bytesIn, batches*perBatch)
}

// After one node's pass, the others learn by notification what it
// cleaned and skip the closed part until it grows: one node, not every
// node, reads it.
func TestKeyCompactionOneNodePerPass(t *testing.T) {
	c := newCluster(t)
	edit := func(cfg *Config) { cfg.MergeAge = time.Millisecond }
	a, b := c.node("a", edit), c.node("b", edit)
	ctx := context.Background()
	open := func(l *Log) *Partition {
		p, err := l.Partition(ctx, "once", 0, log.Config{Compact: true})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	pa, pb := open(a), open(b)
	passes := func(p *Partition) (int64, int64) {
		p.kc.mu.Lock()
		defer p.kc.mu.Unlock()
		return p.kc.passes, p.kc.cleanedTo
	}
	learned := func(p *Partition, end int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, to := passes(p); to == end {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not learn that the closed part up to %d was compacted", p.l.cfg.Node, end)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	later := time.Now().Add(time.Hour)
	for round, p := range []*Partition{pa, pb, pa} {
		other := pb
		if p == pb {
			other = pa
		}
		if _, err := p.Append(ctx, keyed(fmt.Sprint("r", round), 1, "k1", "k2", "k1")); err != nil {
			t.Fatal(err)
		}
		waitHW(t, other, p.HighWatermark())
		before, _ := passes(p)
		otherBefore, _ := passes(other)
		if err := p.RunMaintenance(later); err != nil {
			t.Fatal(err)
		}
		if n, _ := passes(p); n != before+1 {
			t.Fatalf("round %d: %s ran %d passes, want 1", round, p.l.cfg.Node, n-before)
		}
		learned(other, p.HighWatermark())
		if err := other.RunMaintenance(later); err != nil {
			t.Fatal(err)
		}
		if n, _ := passes(other); n != otherBefore {
			t.Fatalf("round %d: %s read the closed part again after %s compacted it", round, other.l.cfg.Node, p.l.cfg.Node)
		}
	}
	got, err := pb.Read(0, 0, 0)
	if err != nil || len(got) != 2 {
		t.Fatalf("read %s, %v; want k2 and k1 once each", show(got), err)
	}
}

// A pass moves the closed part's rows still in intake objects into
// segments, changed or not: the gaps it leaves would stop the merge
// compactor (it merges runs of consecutive rows), and an unmerged row
// keeps its whole intake object alive.
func TestKeyCompactionMovesIntakeRows(t *testing.T) {
	c := newCluster(t)
	// The merge compactor's age is an hour, maintenance runs two hours on:
	// the closed part is all intake objects, the merge does nothing.
	l := c.node("mv", func(cfg *Config) { cfg.MergeAge = time.Hour })
	ctx := context.Background()
	p, err := l.Partition(ctx, "move", 0, log.Config{Compact: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, keys := range [][]string{{"a"}, {"b"}, {"a"}, {"c"}, {"d"}, {"b"}, {"e"}} {
		if _, err := p.Append(ctx, keyed("x", 1, keys...)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.RunMaintenance(time.Now().Add(2 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	var inWAL int
	if err := c.pool.QueryRow(ctx, `SELECT count(*) FROM sharedlog_batches b JOIN sharedlog_objects o USING (object_id)
		WHERE b.topic_id = 'move' AND o.key NOT LIKE 'seg/%'`).Scan(&inWAL); err != nil || inWAL != 0 {
		t.Fatalf("%d rows left in intake objects (%v)", inWAL, err)
	}
	got, err := p.Read(0, 0, 0)
	if want := "2:\"a\"=x-0 3:\"c\"=x-0 4:\"d\"=x-0 5:\"b\"=x-0 6:\"e\"=x-0 "; err != nil || show(got) != want {
		t.Fatalf("read %s %v, want %s", show(got), err, want)
	}
}
