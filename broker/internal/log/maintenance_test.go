package log

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/internal/log/vfs"
)

// appendAt appends one record per value with timestamp ts.
func appendAt(t *testing.T, p *Partition, ts int64, n int) []Record {
	t.Helper()
	var out []Record
	for range n {
		r := Record{Key: []byte("k"), Value: []byte("value-value-value"), Timestamp: ts}
		off := mustAppend(t, p, r)
		r.Offset = off
		out = append(out, r)
	}
	return out
}

func bases(p *Partition) []int64 {
	var out []int64
	for _, s := range *p.segs.Load() {
		out = append(out, s.base)
	}
	return out
}

func TestRetentionAge(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	clock := newFakeClock()
	cfg := testConfig(t, fs, clock)
	cfg.SegmentBytes = 500
	cfg.RetentionAge = time.Hour
	p := mustOpen(t, "/p", cfg)
	t0 := clock.Now().UnixMilli()
	var all []Record
	all = append(all, appendAt(t, p, t0, 20)...)                                        // old
	all = append(all, appendAt(t, p, t0+int64(30*time.Minute/time.Millisecond), 20)...) // newer
	segs := *p.segs.Load()
	// Find the first segment holding newer records: everything before it is old.
	firstNew := 0
	for i, s := range segs {
		if s.maxTs.Load() > t0 {
			firstNew = i
			break
		}
	}
	if firstNew < 2 || firstNew >= len(segs)-1 {
		t.Fatalf("test setup: first newer segment is %d of %d", firstNew, len(segs))
	}
	sizeBefore := p.Size()

	// Not yet an hour old: nothing goes.
	if err := p.RunMaintenance(time.UnixMilli(t0).Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if p.LogStartOffset() != 0 {
		t.Fatalf("deleted segments at exactly the retention age")
	}
	if err := p.RunMaintenance(time.UnixMilli(t0).Add(time.Hour + time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	start := segs[firstNew].base
	if got := p.LogStartOffset(); got != start {
		t.Fatalf("LogStartOffset = %d, want %d", got, start)
	}
	if p.Size() >= sizeBefore {
		t.Fatalf("Size did not shrink")
	}
	if _, err := p.Read(0, 1, 0); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Read(0) after retention = %v, want out of range", err)
	}
	sameRecords(t, readAll(t, p, start), all[start:])
	for _, s := range segs[:firstNew] {
		for _, name := range []string{segmentName(s.base), offsetIndexName(s.base), timeIndexName(s.base)} {
			if _, err := fs.ReadFile("/p/" + name); err == nil {
				t.Errorf("%s survived retention", name)
			}
		}
	}
	// Far in the future every closed segment goes, never the active one.
	if err := p.RunMaintenance(time.UnixMilli(t0).Add(100 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := bases(p); len(got) != 1 || got[0] != segs[len(segs)-1].base {
		t.Fatalf("segments after everything expired: %v", got)
	}
	p.Close()
	p2 := mustOpen(t, "/p", cfg)
	if p2.LogStartOffset() != segs[len(segs)-1].base || p2.HighWatermark() != 40 {
		t.Fatalf("after reopen: start %d, hw %d", p2.LogStartOffset(), p2.HighWatermark())
	}
}

func TestRetentionBytes(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	cfg := testConfig(t, vfs.NewMem(), clock)
	cfg.SegmentBytes = 500
	cfg.RetentionBytes = 1200
	cfg.RetentionAge = -1
	p := mustOpen(t, "/p", cfg)
	all := appendAt(t, p, clock.Now().UnixMilli(), 60)
	segs := *p.segs.Load()
	// Expected: drop the oldest while what remains stays >= RetentionBytes.
	total := p.Size()
	drop := 0
	for _, s := range segs[:len(segs)-1] {
		if total-s.size.Load() < cfg.RetentionBytes {
			break
		}
		total -= s.size.Load()
		drop++
	}
	if drop == 0 {
		t.Fatal("test setup: nothing to drop")
	}
	if err := p.RunMaintenance(clock.Now().Add(1000 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := p.LogStartOffset(); got != segs[drop].base {
		t.Fatalf("LogStartOffset = %d, want %d", got, segs[drop].base)
	}
	if p.Size() < cfg.RetentionBytes || p.Size() != total {
		t.Fatalf("Size = %d, want %d (>= %d)", p.Size(), total, cfg.RetentionBytes)
	}
	sameRecords(t, readAll(t, p, p.LogStartOffset()), all[p.LogStartOffset():])
}

func TestRetentionWhileReading(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	cfg := testConfig(t, vfs.NewMem(), clock)
	cfg.SegmentBytes = 500
	cfg.RetentionAge = time.Minute
	p := mustOpen(t, "/p", cfg)
	all := appendAt(t, p, clock.Now().UnixMilli(), 30)
	old := (*p.segs.Load())[0]
	if !old.acquire() {
		t.Fatal("acquire")
	}
	if err := p.RunMaintenance(clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// The reader that held the segment can still read it.
	st := readState{}
	if err := old.read(0, &st); err != nil {
		t.Fatal(err)
	}
	sameRecords(t, st.out, all[:len(st.out)])
	old.release()
	if old.refs.Load() != 0 {
		t.Fatalf("retired segment still has %d references", old.refs.Load())
	}
}

// compactModel is what compaction must leave: in offsets below activeBase,
// the latest record of each key (among those offsets) and every keyless
// record, tombstones only while younger than the horizon; everything from
// activeBase on.
func compactModel(all []Record, activeBase, horizon int64) []Record {
	latest := map[string]int64{}
	for _, r := range all[:activeBase] {
		if r.Key != nil {
			latest[string(r.Key)] = r.Offset
		}
	}
	var out []Record
	for _, r := range all {
		if r.Offset < activeBase && r.Key != nil {
			if latest[string(r.Key)] != r.Offset || (r.Value == nil && r.Timestamp <= horizon) {
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

func TestCompaction(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	clock := newFakeClock()
	cfg := testConfig(t, fs, clock)
	cfg.SegmentBytes = 400
	cfg.IndexIntervalBytes = 100
	cfg.Compact = true
	cfg.DeleteRetention = time.Hour
	p := mustOpen(t, "/p", cfg)
	var all []Record
	add := func(recs ...Record) {
		off := mustAppend(t, p, recs...)
		for i := range recs {
			if recs[i].Timestamp == 0 {
				recs[i].Timestamp = clock.Now().UnixMilli()
			}
		}
		all = append(all, withOffsets(off, recs)...)
	}
	for round := range 6 {
		for k := range 5 {
			add(kv(fmt.Sprintf("key%d", k), fmt.Sprintf("round%d", round)))
		}
		add(Record{Value: []byte(fmt.Sprintf("keyless%d", round))})
		if round <= 3 {
			add(kv("dead", fmt.Sprint(round)))
		}
		if round == 3 {
			add(Record{Key: []byte("dead"), Value: nil})      // tombstone, the key's last word
			add(kv("gone", "x"), Record{Key: []byte("gone")}) // key deleted in one batch
		}
	}
	// Keys rewritten many times fill whole segments with nothing left.
	for i := range 20 {
		add(kv("hot", fmt.Sprint(i)))
	}
	add(kv("key0", "final"))
	activeBase := p.active().base
	if len(*p.segs.Load()) < 5 {
		t.Fatalf("test setup: only %d segments", len(*p.segs.Load()))
	}
	sizeBefore := p.Size()
	if err := p.RunMaintenance(clock.Now()); err != nil {
		t.Fatal(err)
	}
	want := compactModel(all, activeBase, clock.Now().Add(-time.Hour).UnixMilli())
	sameRecords(t, readAll(t, p, 0), want)
	if p.LogStartOffset() != 0 {
		t.Fatalf("compaction moved the log start to %d", p.LogStartOffset())
	}
	if p.Size() >= sizeBefore {
		t.Fatalf("compaction did not shrink the log: %d -> %d", sizeBefore, p.Size())
	}
	// Reading from an offset compacted away starts at the next survivor.
	for _, r := range all[:activeBase] {
		i := slices.IndexFunc(want, func(w Record) bool { return w.Offset >= r.Offset })
		got, err := p.Read(r.Offset, 1, 0)
		if r.Offset < p.LogStartOffset() {
			if !errors.Is(err, ErrOffsetOutOfRange) {
				t.Fatalf("Read(%d) below log start = %v", r.Offset, err)
			}
			continue
		}
		if err != nil || len(got) != 1 || got[0].Offset != want[i].Offset {
			t.Fatalf("Read(%d) = %s, %v; want offset %d", r.Offset, fmtRecords(got), err, want[i].Offset)
		}
	}
	// The tombstone is still there (younger than DeleteRetention).
	hasTombstone := slices.ContainsFunc(want, func(r Record) bool { return string(r.Key) == "dead" && r.Value == nil })
	if !hasTombstone {
		t.Fatal("model lost the tombstone; test setup is wrong")
	}
	// A second pass with nothing new changes nothing.
	if err := p.RunMaintenance(clock.Now()); err != nil {
		t.Fatal(err)
	}
	sameRecords(t, readAll(t, p, p.LogStartOffset()), want)

	// Once DeleteRetention passes, maintenance removes the tombstone.
	clock.Advance(time.Hour + time.Second)
	if err := p.RunMaintenance(clock.Now()); err != nil {
		t.Fatal(err)
	}
	want = compactModel(all, activeBase, clock.Now().Add(-time.Hour).UnixMilli())
	if slices.ContainsFunc(want, func(r Record) bool { return string(r.Key) == "dead" && r.Value == nil }) {
		t.Fatal("model kept the tombstone; test setup is wrong")
	}
	sameRecords(t, readAll(t, p, p.LogStartOffset()), want)
	// OffsetForTime still finds records through compacted segments.
	if off, err := p.OffsetForTime(0); err != nil || off != want[0].Offset {
		t.Fatalf("OffsetForTime(0) = %d, %v; want %d", off, err, want[0].Offset)
	}
	p.Close()
	p2 := mustOpen(t, "/p", cfg)
	sameRecords(t, readAll(t, p2, p2.LogStartOffset()), want)
	if p2.HighWatermark() != int64(len(all)) {
		t.Fatalf("HighWatermark after reopen = %d, want %d", p2.HighWatermark(), len(all))
	}
}

// TestCompactionCrash crashes the process at every file operation of a
// compaction in turn: whatever reaches the disk, the reopened log serves
// each surviving offset with its original record, and loses no key's
// latest record.
func TestCompactionCrash(t *testing.T) {
	t.Parallel()
	base := vfs.NewMem()
	clock := newFakeClock()
	cfg := testConfig(t, base, clock)
	cfg.SegmentBytes = 300
	cfg.Logger = nil
	p, err := Open("/p", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var all []Record
	for i := range 60 {
		r := kv(fmt.Sprintf("key%d", i%7), fmt.Sprint(i))
		r.Timestamp = clock.Now().UnixMilli()
		if i%13 == 0 {
			r.Key = nil
		}
		off := mustAppend(t, p, r)
		r.Offset = off
		all = append(all, r)
	}
	activeBase := p.active().base
	p.Close()
	full := compactModel(all, activeBase, 0)

	for n := int64(0); ; n++ {
		if n > 1000 {
			t.Fatal("compaction never finished")
		}
		disk := base.CrashClone()
		fault := vfs.NewFault(disk, nil)
		cfg.FS = fault
		p, err := Open("/p", cfg)
		if err != nil {
			t.Fatal(err)
		}
		inj, _ := vfs.FailAfter(n)
		fault.SetInjector(inj)
		cerr := p.Compact()
		after := disk.CrashClone()
		fault.SetInjector(nil)
		p.Close()

		cfg.FS = after
		p2, err := Open("/p", cfg)
		if err != nil {
			t.Fatalf("crash after %d operations: Open: %v", n, err)
		}
		got := readAll(t, p2, p2.LogStartOffset())
		p2.Close()
		// Every record served is the original at its offset; every record
		// the full compaction keeps is there.
		i := 0
		for _, r := range got {
			sameRecords(t, []Record{r}, []Record{all[r.Offset]})
		}
		for _, w := range full {
			for i < len(got) && got[i].Offset < w.Offset {
				i++
			}
			if i == len(got) || got[i].Offset != w.Offset {
				t.Fatalf("crash after %d operations: lost offset %d (%s)", n, w.Offset, fmtRecord(w))
			}
		}
		if cerr == nil {
			sameRecords(t, got, full)
			if n < 5 {
				t.Fatalf("compaction finished within %d operations; the crash points are not exercised", n)
			}
			return
		}
	}
}

func TestReconfigure(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	cfg := testConfig(t, vfs.NewMem(), clock)
	cfg.SegmentBytes = 500
	cfg.RetentionAge = -1
	p := mustOpen(t, "/p", cfg)
	appendAt(t, p, clock.Now().UnixMilli(), 40)
	if err := p.RunMaintenance(clock.Now().Add(1000 * time.Hour)); err != nil || p.LogStartOffset() != 0 {
		t.Fatalf("unlimited retention deleted: start %d, %v", p.LogStartOffset(), err)
	}
	bad := cfg
	bad.SegmentBytes = -5
	if err := p.Reconfigure(bad); err == nil || !strings.Contains(err.Error(), "SegmentBytes -5") {
		t.Fatalf("Reconfigure with a bad config = %v", err)
	}
	next := cfg
	next.RetentionAge = time.Hour
	next.FS = nil // ignored: FS, Fsync, Logger and Now stay as opened
	if err := p.Reconfigure(next); err != nil {
		t.Fatal(err)
	}
	if err := p.RunMaintenance(clock.Now().Add(2 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, want := p.LogStartOffset(), p.active().base; got != want {
		t.Fatalf("after Reconfigure, retention left log start at %d, want %d", got, want)
	}
}

func TestOpenRefusesOverlappingSegments(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	cfg := segmentCfg(t, fs)
	multiSegment(t, fs, cfg)
	// A stray copy of segment 0 named as if it started at 5.
	b, _ := fs.ReadFile(seg0)
	fs.WriteFile("/p/00000000000000000005.log", b)
	_, err := Open("/p", cfg)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "00000000000000000005.log") {
		t.Fatalf("Open = %v, want ErrCorrupt naming the stray segment", err)
	}
}

// TestMaintenanceUnderLoad runs retention or compaction over and over while
// writers append and readers follow the log from its start: readers must
// only ever see increasing offsets and intact records, or be told their
// offset has gone (out of range).
func TestMaintenanceUnderLoad(t *testing.T) {
	t.Parallel()
	for _, compact := range []bool{false, true} {
		t.Run(fmt.Sprintf("compact=%v", compact), func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			cfg := testConfig(t, vfs.NewMem(), clock)
			cfg.Logger = nil
			cfg.SegmentBytes = 600
			cfg.IndexIntervalBytes = 100
			cfg.Compact = compact
			cfg.RetentionBytes = 3000
			cfg.DeleteRetention = time.Second
			p := mustOpen(t, "/p", cfg)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for w := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 1500 {
						key := fmt.Sprintf("k%d", i%10)
						if _, err := p.Append(context.Background(), []Record{kv(key, fmt.Sprintf("%s=w%d-%d", key, w, i))}); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var next int64
					for {
						select {
						case <-stop:
							return
						default:
						}
						wake := p.Notify()
						recs, err := p.Read(next, 20, 0)
						if err == nil && len(recs) == 0 {
							select {
							case <-wake:
							case <-stop:
								return
							}
							continue
						}
						if errors.Is(err, ErrOffsetOutOfRange) {
							next = p.LogStartOffset()
							continue
						}
						if err != nil {
							t.Error(err)
							return
						}
						for _, r := range recs {
							if r.Offset < next || !strings.HasPrefix(string(r.Value), string(r.Key)+"=") {
								t.Errorf("read %s after offset %d", fmtRecord(r), next)
								return
							}
							next = r.Offset + 1
						}
					}
				}()
			}
			// Maintenance passes interleave with the writers until they have
			// appended everything, each pass after at least 10 new records.
			// The wake-up channel is taken before the high watermark is
			// looked at: taken after, the writers' last append could fall
			// in between and never be heard of (the test then hung until
			// its 20 s guard, about once in 600 runs).
			for p.HighWatermark() < 3000 {
				for hw := p.HighWatermark(); ; {
					wake := p.Notify()
					if p.HighWatermark() >= min(hw+10, 3000) {
						break
					}
					select {
					case <-wake:
					case <-time.After(20 * time.Second):
						close(stop)
						wg.Wait()
						t.Fatal("writers stopped")
					}
				}
				clock.Advance(time.Second)
				if err := p.RunMaintenance(clock.Now()); err != nil {
					t.Error(err)
					break
				}
			}
			close(stop)
			wg.Wait()
			if err := p.RunMaintenance(clock.Now()); err != nil {
				t.Fatal(err)
			}
			if p.LogStartOffset() == 0 && !compact {
				t.Fatalf("high watermark %d, log start %d: maintenance was not exercised", p.HighWatermark(), p.LogStartOffset())
			}
			if compact && p.Size() > 20*cfg.SegmentBytes {
				t.Errorf("compacted log of 10 keys is %d bytes", p.Size())
			}
		})
	}
}

// TestCompactDelete: under cleanup.policy=compact,delete retention deletes
// the closed segments past RetentionAge, keys and all, and compaction then
// keeps the last record of each key in the rest; under compact alone the
// expired segments stay and only compaction applies.
func TestCompactDelete(t *testing.T) {
	t.Parallel()
	for _, compactDelete := range []bool{true, false} {
		t.Run(fmt.Sprint("compact-delete=", compactDelete), func(t *testing.T) {
			t.Parallel()
			fs := vfs.NewMem()
			clock := newFakeClock()
			cfg := testConfig(t, fs, clock)
			cfg.SegmentBytes = 400
			cfg.IndexIntervalBytes = 100
			cfg.Compact = true
			cfg.CompactDelete = compactDelete
			cfg.RetentionAge = time.Hour
			cfg.SegmentAge = 20 * time.Minute // the pass at t1 rolls the old records' last segment
			cfg.DeleteRetention = 24 * time.Hour
			p := mustOpen(t, "/p", cfg)
			t0 := clock.Now().UnixMilli()
			var all []Record
			add := func(ts int64, recs ...Record) {
				for i := range recs {
					recs[i].Timestamp = ts
				}
				off := mustAppend(t, p, recs...)
				all = append(all, withOffsets(off, recs)...)
			}
			// Old: a key written once, then two rounds of five keys.
			add(t0, kv("solo", "only"))
			for round := range 2 {
				for k := range 5 {
					add(t0, kv(fmt.Sprint("key", k), fmt.Sprint("old", round)))
				}
			}
			// Half an hour later: two more rounds, in segments of their own.
			t1 := t0 + (30 * time.Minute).Milliseconds()
			clock.Advance(30 * time.Minute)
			if err := p.RunMaintenance(time.UnixMilli(t1)); err != nil { // nothing expires yet
				t.Fatal(err)
			}
			if p.LogStartOffset() != 0 || p.active().base != int64(len(all)) {
				t.Fatalf("test setup: after the pass at t1, log start %d and active base %d, want 0 and %d", p.LogStartOffset(), p.active().base, len(all))
			}
			for round := range 2 {
				for k := range 5 {
					add(t1, kv(fmt.Sprint("key", k), fmt.Sprint("new", round)))
				}
			}
			firstNew := int64(11) // solo, then 10 old records

			// An hour after the old records: they expire under
			// compact,delete, and compaction keeps each key's last record.
			now := time.UnixMilli(t0).Add(time.Hour + time.Second)
			clock.Advance(now.Sub(clock.Now()))
			if err := p.RunMaintenance(now); err != nil {
				t.Fatal(err)
			}
			activeBase := p.active().base
			want := compactModel(all, activeBase, now.Add(-cfg.DeleteRetention).UnixMilli())
			if compactDelete {
				if got := p.LogStartOffset(); got != firstNew {
					t.Fatalf("LogStartOffset = %d, want %d (the old records expired)", got, firstNew)
				}
				want = slices.DeleteFunc(want, func(r Record) bool { return r.Offset < firstNew })
			} else if got := p.LogStartOffset(); got != 0 {
				t.Fatalf("LogStartOffset = %d under compact alone, want 0", got)
			}
			got := readAll(t, p, p.LogStartOffset())
			sameRecords(t, got, want)
			solo := slices.ContainsFunc(got, func(r Record) bool { return string(r.Key) == "solo" })
			if solo == compactDelete {
				t.Fatalf("key solo present %v, want %v", solo, !compactDelete)
			}
			p.Close()
			p2 := mustOpen(t, "/p", cfg)
			sameRecords(t, readAll(t, p2, p2.LogStartOffset()), want)
		})
	}
}
