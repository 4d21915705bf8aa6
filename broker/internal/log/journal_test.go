package log

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/internal/log/vfs"
)

// journalNode opens a journal on fs and the partitions dirs under it, as a
// broker does at start: journal first, partitions replaying it, then
// FinishRecovery.
func journalNode(t *testing.T, fs vfs.FS, rotate int64, dirs ...string) (*Journal, []*Partition) {
	t.Helper()
	lg, _ := newTestLogger(t)
	j, err := OpenJournal(fs, "/journal", lg)
	if err != nil {
		t.Fatalf("OpenJournal: %v", err)
	}
	if rotate > 0 {
		j.newCap, j.maxCap = rotate, rotate
	}
	cfg := testConfig(t, fs, newFakeClock())
	cfg.Fsync = FsyncPolicy{Mode: FsyncAlways}
	cfg.Journal = j
	var parts []*Partition
	for _, d := range dirs {
		p, err := Open(d, cfg)
		if err != nil {
			t.Fatalf("Open(%s): %v", d, err)
		}
		parts = append(parts, p)
	}
	if err := j.FinishRecovery(); err != nil {
		t.Fatalf("FinishRecovery: %v", err)
	}
	return j, parts
}

// closeNode closes the partitions, then the journal.
func closeNode(t *testing.T, j *Journal, parts []*Partition) {
	t.Helper()
	for _, p := range parts {
		if err := p.Close(); err != nil {
			t.Errorf("Close %s: %v", p.dir, err)
		}
	}
	if err := j.Close(); err != nil {
		t.Errorf("journal Close: %v", err)
	}
}

// fileSize is the size of name on fs, -1 if it does not exist.
func fileSize(t *testing.T, fs *vfs.Mem, name string) int {
	b, err := fs.ReadFile(name)
	if err != nil {
		return -1
	}
	return len(b)
}

// The journal is the only durability point: a crash right after the acks
// loses the segments' unsynced bytes, and the next start puts every
// acknowledged batch back from the journal. This is the "killed between the
// journal and the partition writes" case: the journal write is durable, the
// segment write is not.
func TestJournalCrashAfterAckReplaysEveryPartition(t *testing.T) {
	t.Parallel()
	mem := vfs.NewMem()
	dirs := []string{"/t/0", "/t/1", "/t/2"}
	j, parts := journalNode(t, mem, 0, dirs...)
	want := make([][]Record, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range 20 {
				recs := numbered(b*3, 3)
				off, err := p.Append(context.Background(), recs)
				if err != nil {
					t.Errorf("partition %d append %d: %v", i, b, err)
					return
				}
				want[i] = append(want[i], withOffsets(off, recs)...)
			}
		}()
	}
	wg.Wait()

	crashed := mem.CrashClone() // power off right after the last ack
	for _, d := range dirs {
		if n := fileSize(t, crashed, d+"/"+segmentName(0)); n != 0 {
			t.Fatalf("%s holds %d synced bytes before replay; the test must start from segments the journal alone can restore", d, n)
		}
	}
	closeNode(t, j, parts)

	j2, parts2 := journalNode(t, crashed, 0, dirs...)
	defer closeNode(t, j2, parts2)
	for i, p := range parts2 {
		sameRecords(t, readAll(t, p, 0), want[i])
	}
	// Replayed files are gone, and the replay itself is durable: a second
	// crash right after the start loses nothing either.
	// (A spare prepared in the background may sit beside it: it holds no
	// records, and whether it exists yet depends on timing.)
	names, _ := crashed.List("/journal")
	var live []string
	for _, n := range names {
		if !strings.HasPrefix(n, journalSparePrefix) {
			live = append(live, n)
		}
	}
	if len(live) != 1 {
		t.Errorf("journal files after recovery: %v, want only the new one (and spares)", names)
	}
	again := crashed.CrashClone()
	j3, parts3 := journalNode(t, again, 0, dirs...)
	defer closeNode(t, j3, parts3)
	for i, p := range parts3 {
		sameRecords(t, readAll(t, p, 0), want[i])
	}
}

// Many partitions appending at once share journal writes: fewer fdatasyncs
// than acknowledged appends, and none on segment files.
func TestJournalGroupsPartitionsIntoOneSync(t *testing.T) {
	t.Parallel()
	var segSyncs, journalSyncs atomic.Int64
	fs := vfs.NewFault(vfs.NewMem(), func(op vfs.Op, name string) error {
		if op == vfs.OpSync {
			switch {
			case strings.HasSuffix(name, ".log"):
				segSyncs.Add(1)
			case strings.HasSuffix(name, journalSuffix):
				journalSyncs.Add(1)
			}
		}
		return nil
	})
	dirs := make([]string, 8)
	for i := range dirs {
		dirs[i] = fmt.Sprintf("/t/%d", i)
	}
	j, parts := journalNode(t, fs, 0, dirs...)
	segSyncs.Store(0)
	journalSyncs.Store(0)
	const each = 50
	var wg sync.WaitGroup
	for _, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range each {
				if _, err := p.Append(context.Background(), numbered(b, 1)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := segSyncs.Load(); n != 0 {
		t.Errorf("%d fdatasyncs of segment files while appending; the journal is the durability point", n)
	}
	if n := journalSyncs.Load(); n == 0 || n > int64(len(parts)*each) {
		t.Errorf("%d journal fdatasyncs for %d appends", n, len(parts)*each)
	}
	t.Logf("%d appends, %d journal fdatasyncs", len(parts)*each, journalSyncs.Load())
	closeNode(t, j, parts)
}

// The journal rotates files; a checkpoint syncs the segments behind the old
// file and deletes it, after which a crash must still find every record in
// the segments themselves.
func TestJournalRotationCheckpointsSegments(t *testing.T) {
	t.Parallel()
	mem := vfs.NewMem()
	dirs := []string{"/t/0", "/t/1"}
	j, parts := journalNode(t, mem, 4096, dirs...)
	want := make([][]Record, len(parts))
	for b := range 60 {
		for i, p := range parts {
			recs := []Record{kv(fmt.Sprintf("k%d", b), strings.Repeat("v", 200))}
			off := mustAppend(t, p, recs...)
			want[i] = append(want[i], withOffsets(off, recs)...)
		}
	}
	waitFor(t, "journal files to be checkpointed", func() bool {
		j.mu.Lock()
		defer j.mu.Unlock()
		return j.checkpoints >= 2
	})
	crashed := mem.CrashClone()
	for _, d := range dirs {
		if n := fileSize(t, crashed, d+"/"+segmentName(0)); n <= 0 {
			t.Fatalf("%s has %d durable bytes after checkpoints; want the checkpointed data", d, n)
		}
	}
	closeNode(t, j, parts)
	j2, parts2 := journalNode(t, crashed, 0, dirs...)
	defer closeNode(t, j2, parts2)
	for i, p := range parts2 {
		sameRecords(t, readAll(t, p, 0), want[i])
	}
}

// A topic deleted and created again under the same name gets a new
// partition id, so the old incarnation's journal records are not replayed
// into it.
func TestJournalIgnoresAnEarlierIncarnation(t *testing.T) {
	t.Parallel()
	mem := vfs.NewMem()
	j, parts := journalNode(t, mem, 0, "/t/0")
	mustAppend(t, parts[0], numbered(0, 5)...)
	crashed := mem.CrashClone()
	closeNode(t, j, parts)

	// The topic is deleted (its directory removed) and created again empty
	// before the journal was replayed.
	for _, name := range []string{segmentName(0), partitionIDFile} {
		if err := crashed.Remove("/t/0/" + name); err != nil {
			t.Fatal(err)
		}
	}
	if err := crashed.WriteFile("/t/0/"+segmentName(0), nil); err != nil {
		t.Fatal(err)
	}
	j2, parts2 := journalNode(t, crashed, 0, "/t/0")
	defer closeNode(t, j2, parts2)
	if got := readAll(t, parts2[0], 0); len(got) != 0 {
		t.Fatalf("a new partition under the old name received %d records of the deleted one", len(got))
	}
}

// A journal whose fdatasync fails fails the appends waiting on it and the
// partitions they wrote to; nothing is acknowledged.
func TestJournalSyncFailureFailsTheAppend(t *testing.T) {
	t.Parallel()
	var armed atomic.Bool
	fs := vfs.NewFault(vfs.NewMem(), func(op vfs.Op, name string) error {
		if op == vfs.OpSync && strings.HasSuffix(name, journalSuffix) && armed.Load() {
			return vfs.ErrInjected
		}
		return nil
	})
	j, parts := journalNode(t, fs, 0, "/t/0")
	mustAppend(t, parts[0], kv("a", "1"))
	armed.Store(true)
	_, err := parts[0].Append(context.Background(), []Record{kv("b", "2")})
	if !errors.Is(err, vfs.ErrInjected) || !errors.Is(err, ErrFailed) {
		t.Fatalf("append after a failed journal sync: %v; want the injected error, partition failed", err)
	}
	if hw := parts[0].HighWatermark(); hw != 1 {
		t.Errorf("high watermark %d after the failed append, want 1", hw)
	}
	if err := parts[0].Close(); !errors.Is(err, ErrFailed) {
		t.Errorf("Close of the failed partition: %v, want ErrFailed", err)
	}
	if err := j.Close(); err != nil {
		t.Errorf("journal Close: %v", err)
	}
}

// A torn record at the end of a journal file (the process died while
// writing it: never acknowledged) ends replay of that file cleanly.
func TestJournalTornTail(t *testing.T) {
	t.Parallel()
	mem := vfs.NewMem()
	j, parts := journalNode(t, mem, 0, "/t/0")
	off := mustAppend(t, parts[0], numbered(0, 4)...)
	want := withOffsets(off, numbered(0, 4))
	crashed := mem.CrashClone()
	closeNode(t, j, parts)
	names, _ := crashed.List("/journal")
	name := path.Join("/journal", names[len(names)-1])
	seq, _ := parseJournalName(names[len(names)-1])
	data, _ := crashed.ReadFile(name)
	end := int64(len(journalMagic))
	if err := scanJournal(bytes.NewReader(data), int64(len(data)), seq, func(_ partitionID, _, _, dataOff, dataLen int64) {
		end = dataOff + dataLen
	}); err != nil {
		t.Fatal(err)
	}
	rec := appendJournalHeader(nil, partitionID{1}, 0, 1<<20, 100)
	stampJournalHeader(rec, seq)
	rec[20] ^= 1 // a header whose bytes did not all reach the disk
	copy(data[end:], rec)
	if err := crashed.WriteFile(name, data); err != nil {
		t.Fatal(err)
	}
	j2, parts2 := journalNode(t, crashed, 0, "/t/0")
	defer closeNode(t, j2, parts2)
	sameRecords(t, readAll(t, parts2[0], 0), want)
}

// FuzzScanJournal: any bytes as a journal file are either records or a torn
// tail, never a panic, and every record reported lies inside the file.
func FuzzScanJournal(f *testing.F) {
	h := appendJournalHeader(nil, partitionID{9}, 0, 0, 5)
	stampJournalHeader(h, 0)
	valid := append(append([]byte(journalMagic), h...), "batch"...)
	f.Add(valid)
	f.Add(valid[:len(valid)-1])
	f.Add([]byte(journalMagic))
	f.Add([]byte("SLJRNL0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		err := scanJournal(bytes.NewReader(b), int64(len(b)), 0, func(_ partitionID, segBase, pos, dataOff, dataLen int64) {
			if dataOff < 0 || dataLen < 0 || dataOff+dataLen > int64(len(b)) || segBase < 0 || pos < 0 {
				t.Fatalf("record out of bounds: off %d len %d in %d bytes", dataOff, dataLen, len(b))
			}
		})
		var torn *journalTornError
		if err != nil && !errors.As(err, &torn) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}

// Runs of journalDirectBytes and more sync their own segment; smaller ones
// go through the journal; after a crash both kinds are there, in order.
func TestJournalMixesDirectAndJournaledRuns(t *testing.T) {
	t.Parallel()
	var segSyncs atomic.Int64
	mem := vfs.NewMem()
	fs := vfs.NewFault(mem, func(op vfs.Op, name string) error {
		if op == vfs.OpSync && strings.HasSuffix(name, ".log") {
			segSyncs.Add(1)
		}
		return nil
	})
	j, parts := journalNode(t, fs, 0, "/t/0")
	p := parts[0]
	big := strings.Repeat("x", journalDirectBytes)
	var want []Record
	for i, v := range []string{"small-1", big, "small-2", "small-3", big, "small-4"} {
		recs := []Record{kv(fmt.Sprint(i), v)}
		before := segSyncs.Load()
		off := mustAppend(t, p, recs...)
		want = append(want, withOffsets(off, recs)...)
		if synced := segSyncs.Load() > before; synced != (len(v) == len(big)) {
			t.Errorf("append %d of %d bytes: segment synced directly = %v", i, len(v), synced)
		}
	}
	crashed := mem.CrashClone()
	closeNode(t, j, parts)
	j2, parts2 := journalNode(t, crashed, 0, "/t/0")
	defer closeNode(t, j2, parts2)
	sameRecords(t, readAll(t, parts2[0], 0), want)
}

// Spares left by earlier runs: one a crash cut before its magic (empty, as
// a kill -9 right after creating it leaves it), one cut after (still
// usable). The next start removes the first, keeps the second, and names
// new spares past both, so that a recycled file never replaces a listed
// spare; many rotations after such a start work.
func TestJournalSparesLeftByACrash(t *testing.T) {
	t.Parallel()
	mem := vfs.NewMem()
	if err := mem.MkdirAll("/journal"); err != nil {
		t.Fatal(err)
	}
	if err := mem.WriteFile("/journal/spare-1.wal", append([]byte(journalMagic), make([]byte, 1000)...)); err != nil {
		t.Fatal(err)
	}
	if err := mem.WriteFile("/journal/spare-5.wal", nil); err != nil {
		t.Fatal(err)
	}
	dirs := []string{"/t/0", "/t/1"}
	j, parts := journalNode(t, mem, 4096, dirs...)
	if _, err := mem.ReadFile("/journal/spare-5.wal"); err == nil {
		t.Error("the empty spare left by a crash is still there")
	}
	want := make([][]Record, len(parts))
	for b := range 80 {
		for i, p := range parts {
			recs := []Record{kv(fmt.Sprintf("k%d", b), strings.Repeat("v", 200))}
			off := mustAppend(t, p, recs...)
			want[i] = append(want[i], withOffsets(off, recs)...)
		}
	}
	waitFor(t, "journal files to be checkpointed", func() bool {
		j.mu.Lock()
		defer j.mu.Unlock()
		return j.checkpoints >= 3
	})
	j.mu.Lock()
	if j.spares <= 5 {
		t.Errorf("spare names restarted at %d, at or below the highest found (5)", j.spares)
	}
	j.mu.Unlock()
	closeNode(t, j, parts)
	j2, parts2 := journalNode(t, mem, 4096, dirs...)
	defer closeNode(t, j2, parts2)
	for i, p := range parts2 {
		sameRecords(t, readAll(t, p, 0), want[i])
	}
}

// holdJournalSyncs is a file system that counts journal writes and whose
// journal fdatasyncs, while held, wait: each one announces itself on
// entered, then waits for a value on release and returns it as its error.
func holdJournalSyncs() (fs *vfs.Fault, held *atomic.Bool, entered chan struct{}, release chan error, journalWrites *atomic.Int64) {
	held, journalWrites = new(atomic.Bool), new(atomic.Int64)
	entered, release = make(chan struct{}, 16), make(chan error)
	fs = vfs.NewFault(vfs.NewMem(), func(op vfs.Op, name string) error {
		// Numbered journal files only: not the spares prepared in the
		// background.
		if !strings.HasSuffix(name, journalSuffix) || strings.HasPrefix(path.Base(name), journalSparePrefix) {
			return nil
		}
		switch {
		case op == vfs.OpWrite:
			journalWrites.Add(1)
		case op == vfs.OpSync && held.Load():
			entered <- struct{}{}
			return <-release
		}
		return nil
	})
	return fs, held, entered, release, journalWrites
}

// waitJournalPending polls until the journal's next write holds n records.
func waitJournalPending(t *testing.T, j *Journal, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // a bound on a hang, not a measurement
	for {
		j.mu.Lock()
		got := len(j.pending.members)
		j.mu.Unlock()
		if got == n {
			return
		}
		if got > n || time.Now().After(deadline) {
			t.Fatalf("journal's next write holds %d records, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// A journal write that fails fails the writes handed in behind it too,
// without writing them: a later write that succeeded past a failed one
// would acknowledge records that replay, which stops at the failed one's
// bytes, never reaches.
func TestJournalWritesNothingAfterAFailedSync(t *testing.T) {
	t.Parallel()
	fs, held, entered, release, journalWrites := holdJournalSyncs()
	j, parts := journalNode(t, fs, 0, "/t/0", "/t/1")
	a, b := parts[0], parts[1]
	mustAppend(t, b, kv("b0", "0"))
	held.Store(true)
	first, err := a.Enqueue([]Record{kv("a", "1")})
	if err != nil {
		t.Fatal(err)
	}
	<-entered // the journal is syncing a's run
	second, err := b.Enqueue([]Record{kv("b1", "1")})
	if err != nil {
		t.Fatal(err)
	}
	waitJournalPending(t, j, 1) // b's run waits for the next write
	writes := journalWrites.Load()
	held.Store(false) // a sync after this one would not wait
	release <- vfs.ErrInjected
	if _, err := first.Wait(context.Background()); !errors.Is(err, vfs.ErrInjected) {
		t.Errorf("append in the failed sync: %v, want the injected error", err)
	}
	if _, err := second.Wait(context.Background()); !errors.Is(err, vfs.ErrInjected) {
		t.Errorf("append handed in behind the failed sync: %v, want the injected error", err)
	}
	if n := journalWrites.Load(); n != writes {
		t.Errorf("%d journal writes after the failed sync, want none", n-writes)
	}
	if hw := b.HighWatermark(); hw != 1 {
		t.Errorf("high watermark %d of the partition behind the failure, want 1", hw)
	}
	for _, p := range parts {
		if err := p.Close(); !errors.Is(err, ErrFailed) {
			t.Errorf("Close of %s: %v, want ErrFailed", p.dir, err)
		}
	}
	if err := j.Close(); err != nil {
		t.Errorf("journal Close: %v", err)
	}
}
