package log

import (
	"errors"
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/broker/internal/log/vfs"
)

// checkStart checks that start is the log start offset everywhere: reads
// below it are out of range (naming it), reads from it return all[start:].
func checkStart(t *testing.T, p *Partition, start int64, all []Record) {
	t.Helper()
	if got := p.LogStartOffset(); got != start {
		t.Fatalf("LogStartOffset = %d, want %d", got, start)
	}
	if start > 0 {
		_, err := p.Read(start-1, 0, 0)
		var re *OffsetRangeError
		if !errors.As(err, &re) || re.Start != start {
			t.Fatalf("Read(%d) = %v, want out of range starting at %d", start-1, err, start)
		}
		if _, _, err := p.ReadBatches(nil, start-1, 1<<20, true); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("ReadBatches(%d) = %v, want out of range", start-1, err)
		}
		if _, _, err := p.ReadBatchFiles(start-1, 1<<20, true, p.HighWatermark()); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("ReadBatchFiles(%d) = %v, want out of range", start-1, err)
		}
	}
	sameRecords(t, readAll(t, p, start), all[start:])
	if off, err := p.OffsetForTime(0); err != nil || off != start {
		t.Fatalf("OffsetForTime(0) = %d, %v; want the log start %d", off, err, start)
	}
}

func TestDeleteRecordsBefore(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	clock := newFakeClock()
	cfg := testConfig(t, fs, clock)
	cfg.SegmentBytes = 300
	p := mustOpen(t, "/p", cfg)
	var all []Record
	for i := range 60 {
		r := kv(fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i))
		r.Timestamp = clock.Now().UnixMilli()
		r.Offset = mustAppend(t, p, r)
		all = append(all, r)
	}
	segs := *p.segs.Load()
	if len(segs) < 4 {
		t.Fatalf("test setup: %d segments", len(segs))
	}
	// An offset inside the third segment: the first two go, the third
	// stays with the start inside it.
	mid := segs[2].base + 1
	got, err := p.DeleteRecordsBefore(mid)
	if err != nil || got != mid {
		t.Fatalf("DeleteRecordsBefore(%d) = %d, %v", mid, got, err)
	}
	checkStart(t, p, mid, all)
	if b := bases(p); b[0] != segs[2].base {
		t.Fatalf("segments after the delete: %v, want the first at %d", b, segs[2].base)
	}
	for _, s := range segs[:2] {
		for _, name := range []string{segmentName(s.base), offsetIndexName(s.base), timeIndexName(s.base)} {
			if _, err := fs.ReadFile("/p/" + name); err == nil {
				t.Errorf("%s survived the delete", name)
			}
		}
	}
	// Going back or staying changes nothing.
	for _, off := range []int64{0, mid - 1, mid} {
		if got, err := p.DeleteRecordsBefore(off); err != nil || got != mid {
			t.Fatalf("DeleteRecordsBefore(%d) after %d = %d, %v; want no change", off, mid, got, err)
		}
	}
	// Past the high watermark, or negative: out of range, nothing changes.
	for _, off := range []int64{61, -1} {
		_, err := p.DeleteRecordsBefore(off)
		var re *OffsetRangeError
		if !errors.As(err, &re) || re.Start != mid || re.End != 60 {
			t.Fatalf("DeleteRecordsBefore(%d) = %v, want out of range [%d, 60]", off, err, mid)
		}
	}
	checkStart(t, p, mid, all)

	// The start holds across a clean reopen, and appends go on.
	p.Close()
	p = mustOpen(t, "/p", cfg)
	checkStart(t, p, mid, all)
	r := kv("after", "reopen")
	r.Offset = mustAppend(t, p, r)
	all = append(all, r)
	checkStart(t, p, mid, all)

	// Up to the high watermark: everything below goes but the active
	// segment; a read at the start is empty.
	hw := p.HighWatermark()
	if got, err := p.DeleteRecordsBefore(hw); err != nil || got != hw {
		t.Fatalf("DeleteRecordsBefore(hw %d) = %d, %v", hw, got, err)
	}
	checkStart(t, p, hw, all)
	if b := bases(p); len(b) != 1 {
		t.Fatalf("segments after deleting everything: %v, want only the active one", b)
	}
	// Appends go on from there; maintenance keeps the start.
	r = kv("next", "one")
	r.Offset = mustAppend(t, p, r)
	all = append(all, r)
	checkStart(t, p, hw, all)
	if err := p.RunMaintenance(clock.Now()); err != nil {
		t.Fatal(err)
	}
	p.Close()
	p = mustOpen(t, "/p", cfg)
	checkStart(t, p, hw, all)
}

func TestDeleteRecordsBeforeCrash(t *testing.T) {
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
	for i := range 40 {
		r := kv(fmt.Sprintf("k%d", i), fmt.Sprint(i))
		r.Timestamp = clock.Now().UnixMilli()
		r.Offset = mustAppend(t, p, r)
		all = append(all, r)
	}
	const target = 25
	p.Close()
	for n := int64(0); ; n++ {
		if n > 1000 {
			t.Fatal("DeleteRecordsBefore never finished")
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
		_, derr := p.DeleteRecordsBefore(target)
		after := disk.CrashClone() // kill -9 right here: unsynced changes are lost
		fault.SetInjector(nil)
		p.Close()

		cfg.FS = after
		p2, err := Open("/p", cfg)
		if err != nil {
			t.Fatalf("crash after %d operations: Open: %v", n, err)
		}
		start := p2.LogStartOffset()
		if start != 0 && start != target {
			t.Fatalf("crash after %d operations: start %d, want 0 or %d", n, start, target)
		}
		if derr == nil && start != target {
			t.Fatalf("crash after %d operations: DeleteRecordsBefore succeeded but the start is %d after the crash", n, start)
		}
		sameRecords(t, readAll(t, p2, start), all[start:])
		p2.Close()
		if derr == nil {
			if n < 3 {
				t.Fatalf("finished within %d operations; the crash points are not exercised", n)
			}
			return
		}
	}
}

func TestDeleteRecordsBeforeOpenTransaction(t *testing.T) {
	t.Parallel()
	p := mustOpen(t, "/p", testConfig(t, vfs.NewMem(), newFakeClock()))
	mustAppend(t, p, kv("a", "x"), kv("b", "x")) // 0-1
	appendTxn(t, p, 1, 0, kv("t", "x"))          // 2, open
	mustAppend(t, p, kv("c", "x"))               // 3
	if got, err := p.DeleteRecordsBefore(2); err != nil || got != 2 {
		t.Fatalf("DeleteRecordsBefore(LSO 2) = %d, %v", got, err)
	}
	_, err := p.DeleteRecordsBefore(3)
	var re *OffsetRangeError
	if !errors.As(err, &re) || re.End != 2 {
		t.Fatalf("DeleteRecordsBefore past the LSO = %v, want out of range ending at the LSO 2", err)
	}
	marker(t, p, 1, true) // 4
	if got, err := p.DeleteRecordsBefore(5); err != nil || got != 5 {
		t.Fatalf("DeleteRecordsBefore(hw) after the commit = %d, %v", got, err)
	}
}

func TestLogStartCheckpointOnOpen(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file string
		want       int64
	}{
		{"valid", "1 3\n", 3},
		{"past the high watermark is lowered", "1 99\n", 5},
		{"not a number", "1 x\n", 0},
		{"no newline", "1 3", 0},
		{"other version", "2 3\n", 0},
		{"negative", "1 -3\n", 0},
		{"leading zero", "1 03\n", 0},
		{"empty", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs := vfs.NewMem()
			cfg := testConfig(t, fs, newFakeClock())
			p := mustOpen(t, "/p", cfg)
			mustAppend(t, p, numbered(0, 5)...)
			p.Close()
			if err := fs.WriteFile("/p/"+logStartName, []byte(tc.file)); err != nil {
				t.Fatal(err)
			}
			p = mustOpen(t, "/p", cfg)
			if got := p.LogStartOffset(); got != tc.want {
				t.Fatalf("LogStartOffset with checkpoint %q = %d, want %d", tc.file, got, tc.want)
			}
			if got := p.HighWatermark(); got != 5 {
				t.Fatalf("HighWatermark = %d, want 5", got)
			}
		})
	}
}

func FuzzDecodeLogStart(f *testing.F) {
	f.Add([]byte("1 0\n"))
	f.Add([]byte("1 9223372036854775807\n"))
	f.Add([]byte("1 -1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		off, err := decodeLogStart(b)
		if err != nil {
			return
		}
		if off < 0 || string(encodeLogStart(off)) != string(b) {
			t.Fatalf("decodeLogStart(%q) = %d, which encodes as %q", b, off, encodeLogStart(off))
		}
	})
}
