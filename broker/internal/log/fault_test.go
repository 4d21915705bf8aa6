package log

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/internal/log/vfs"
)

// onLog returns an injector that applies fail to operations of kind op on
// segment files while armed.
func onLog(op vfs.Op, armed *atomic.Bool, fail func() error) vfs.Injector {
	return func(o vfs.Op, path string) error {
		if o == op && strings.HasSuffix(path, ".log") && armed.Load() {
			return fail()
		}
		return nil
	}
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWriteErrorFailsOnlyThatAppend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
	}{
		{"short write", &vfs.ShortWrite{N: 10}},
		{"write error", vfs.ErrInjected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mem := vfs.NewMem()
			var armed atomic.Bool
			fs := vfs.NewFault(mem, onLog(vfs.OpWrite, &armed, func() error {
				armed.Store(false) // once
				return tt.err
			}))
			p := mustOpen(t, "/p", testConfig(t, fs, newFakeClock()))
			mustAppend(t, p, kv("a", "1"), kv("b", "2"))
			armed.Store(true)
			_, err := p.Append(context.Background(), []Record{kv("c", "3")})
			if !errors.Is(err, vfs.ErrInjected) || errors.Is(err, ErrFailed) {
				t.Fatalf("Append during the fault = %v, want the write error, not a failed partition", err)
			}
			if hw := p.HighWatermark(); hw != 2 {
				t.Fatalf("HighWatermark after the failed write = %d, want 2", hw)
			}
			if b, _ := mem.ReadFile(seg0); int64(len(b)) != p.Size() {
				t.Fatalf("segment is %d bytes, %d published: the torn write was not cut", len(b), p.Size())
			}
			off := mustAppend(t, p, kv("d", "4"))
			if off != 2 {
				t.Fatalf("next append got offset %d, want 2 (dense)", off)
			}
			want := withOffsets(0, []Record{kv("a", "1"), kv("b", "2"), kv("d", "4")})
			sameRecords(t, readAll(t, p, 0), want)
			p.Close()
			p2 := mustOpen(t, "/p", testConfig(t, mem, newFakeClock()))
			sameRecords(t, readAll(t, p2, 0), want)
		})
	}
}

func TestFsyncErrorPoisons(t *testing.T) {
	t.Parallel()
	mem := vfs.NewMem()
	var armed atomic.Bool
	fs := vfs.NewFault(mem, onLog(vfs.OpSync, &armed, func() error { return vfs.ErrInjected }))
	p, err := Open("/p", testConfig(t, fs, newFakeClock()))
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, p, kv("a", "1"))
	armed.Store(true)
	_, err = p.Append(context.Background(), []Record{kv("b", "2")})
	if !errors.Is(err, ErrFailed) || !errors.Is(err, vfs.ErrInjected) || !strings.Contains(err.Error(), "fdatasync /p/00000000000000000000.log") {
		t.Fatalf("Append with a failing fdatasync = %v, want ErrFailed naming the file", err)
	}
	armed.Store(false)
	// The partition stays failed even though the disk "recovered".
	if _, err := p.Append(context.Background(), []Record{kv("c", "3")}); !errors.Is(err, ErrFailed) {
		t.Fatalf("Append after the failure = %v, want ErrFailed", err)
	}
	if hw := p.HighWatermark(); hw != 1 {
		t.Fatalf("HighWatermark = %d, want 1: the unsynced batch must not be visible", hw)
	}
	sameRecords(t, readAll(t, p, 0), withOffsets(0, []Record{kv("a", "1")}))
	if err := p.Close(); !errors.Is(err, ErrFailed) {
		t.Fatalf("Close = %v, want the partition's failure", err)
	}
	// Reopening recovers from what the disk holds.
	p2 := mustOpen(t, "/p", testConfig(t, mem, newFakeClock()))
	got := readAll(t, p2, 0)
	if len(got) < 1 || string(got[0].Value) != "1" {
		t.Fatalf("after reopen: %s", fmtRecords(got))
	}
	if off := mustAppend(t, p2, kv("d", "4")); off != int64(len(got)) {
		t.Fatalf("append after reopen got %d, want %d", off, len(got))
	}
}

func TestTruncateFailureAfterWriteErrorPoisons(t *testing.T) {
	t.Parallel()
	var armed atomic.Bool
	fs := vfs.NewFault(vfs.NewMem(), func(op vfs.Op, path string) error {
		if armed.Load() && (op == vfs.OpWrite || op == vfs.OpTruncate) {
			return &vfs.ShortWrite{N: 5}
		}
		return nil
	})
	p := mustOpen(t, "/p", testConfig(t, fs, newFakeClock()))
	armed.Store(true)
	if _, err := p.Append(context.Background(), []Record{kv("a", "1")}); !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "truncating it back failed") {
		t.Fatalf("Append = %v, want ErrFailed after the failed truncate", err)
	}
	armed.Store(false)
	if _, err := p.Append(context.Background(), []Record{kv("a", "1")}); !errors.Is(err, ErrFailed) {
		t.Fatalf("second Append = %v, want ErrFailed", err)
	}
}

// gate blocks fdatasyncs of segment files while closed and counts them.
type gate struct {
	mu     sync.Mutex
	open   chan struct{}
	syncs  atomic.Int64
	writes atomic.Int64
}

func newGate() *gate { return &gate{open: make(chan struct{})} }

func (g *gate) injector(op vfs.Op, path string) error {
	if !strings.HasSuffix(path, ".log") {
		return nil
	}
	switch op {
	case vfs.OpWrite:
		g.writes.Add(1)
	case vfs.OpSync:
		g.syncs.Add(1)
		g.mu.Lock()
		ch := g.open
		g.mu.Unlock()
		<-ch
	}
	return nil
}

func (g *gate) release() { close(g.open) }

func queued(p *Partition) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

// TestGroupCommit holds the first fdatasync while more appends arrive: they
// must then share one write and one fdatasync, and none may be visible
// before its sync.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	g := newGate()
	p := mustOpen(t, "/p", testConfig(t, vfs.NewFault(vfs.NewMem(), g.injector), newFakeClock()))
	const n = 8
	offs := make(chan int64, n)
	var wg sync.WaitGroup
	appendOne := func() {
		defer wg.Done()
		off, err := p.Append(context.Background(), []Record{kv("k", "v")})
		if err != nil {
			t.Error(err)
		}
		offs <- off
	}
	wg.Add(1)
	go appendOne()
	waitFor(t, "the first fdatasync", func() bool { return g.syncs.Load() == 1 })
	for range n - 1 {
		wg.Add(1)
		go appendOne()
	}
	waitFor(t, "the other appends to queue", func() bool { return queued(p) == n-1 })
	if hw := p.HighWatermark(); hw != 0 {
		t.Fatalf("HighWatermark = %d before the fdatasync returned", hw)
	}
	if recs, err := p.Read(0, 0, 0); err != nil || len(recs) != 0 {
		t.Fatalf("Read before the fdatasync returned = %d records, %v", len(recs), err)
	}
	g.release()
	wg.Wait()
	close(offs)
	seen := map[int64]bool{}
	for off := range offs {
		seen[off] = true
	}
	if len(seen) != n {
		t.Fatalf("offsets %v are not distinct", seen)
	}
	if w, s := g.writes.Load(), g.syncs.Load(); w != 2 || s != 2 {
		t.Fatalf("%d appends took %d writes and %d fdatasyncs, want 2 and 2", n, w, s)
	}
	if hw := p.HighWatermark(); hw != n {
		t.Fatalf("HighWatermark = %d, want %d", hw, n)
	}
}

func TestFsyncInterval(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		interval time.Duration
	}{{"long", time.Hour}, {"short", time.Millisecond}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var syncs atomic.Int64
			fs := vfs.NewFault(vfs.NewMem(), func(op vfs.Op, path string) error {
				if op == vfs.OpSync && strings.HasSuffix(path, ".log") {
					syncs.Add(1)
				}
				return nil
			})
			cfg := testConfig(t, fs, newFakeClock())
			cfg.Fsync = FsyncPolicy{Mode: FsyncInterval, Interval: tt.interval}
			p, err := Open("/p", cfg)
			if err != nil {
				t.Fatal(err)
			}
			for range 20 {
				mustAppend(t, p, kv("k", "v"))
			}
			if tt.interval == time.Hour {
				if n := syncs.Load(); n != 0 {
					t.Fatalf("%d fdatasyncs before the interval", n)
				}
			} else {
				waitFor(t, "a background fdatasync", func() bool { return syncs.Load() > 0 })
			}
			before := syncs.Load()
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			if tt.interval == time.Hour && syncs.Load() != before+1 {
				t.Fatalf("Close did not fdatasync the active segment")
			}
		})
	}
}

func TestAppendContextCanceled(t *testing.T) {
	t.Parallel()
	g := newGate()
	p := mustOpen(t, "/p", testConfig(t, vfs.NewFault(vfs.NewMem(), g.injector), newFakeClock()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Append(ctx, []Record{kv("k", "v")}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with a canceled context = %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := p.Append(ctx, []Record{kv("k", "v")})
		done <- err
	}()
	waitFor(t, "the fdatasync", func() bool { return g.syncs.Load() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "may still be written") {
		t.Fatalf("Append canceled while waiting = %v", err)
	}
	g.release()
	waitFor(t, "the abandoned append to land", func() bool { return p.HighWatermark() == 1 })
}

// TestReadsDoNotWaitForTheWriter blocks the writer inside fdatasync and
// checks that reads of durable data, and the partition's accessors, still
// answer.
func TestReadsDoNotWaitForTheWriter(t *testing.T) {
	t.Parallel()
	var armed atomic.Bool
	var blocked atomic.Int64
	release := make(chan struct{})
	fs := vfs.NewFault(vfs.NewMem(), func(op vfs.Op, path string) error {
		if op == vfs.OpSync && armed.Load() {
			blocked.Add(1)
			<-release
		}
		return nil
	})
	cfg := segmentCfg(t, fs)
	p := mustOpen(t, "/p", cfg)
	var want []Record
	for i := range 40 {
		recs := numbered(i, 1)
		want = append(want, withOffsets(mustAppend(t, p, recs...), recs)...)
	}
	armed.Store(true)
	done := make(chan error)
	go func() {
		_, err := p.Append(context.Background(), numbered(99, 1))
		done <- err
	}()
	waitFor(t, "the writer to block in fdatasync", func() bool { return blocked.Load() == 1 })
	sameRecords(t, readAll(t, p, 0), want)
	if off, err := p.OffsetForTime(0); err != nil || off != 0 {
		t.Fatalf("OffsetForTime = %d, %v", off, err)
	}
	if p.HighWatermark() != 40 || p.LogStartOffset() != 0 || p.Size() == 0 {
		t.Fatalf("accessors: hw %d start %d size %d", p.HighWatermark(), p.LogStartOffset(), p.Size())
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestOSFileSystem(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := testConfig(t, nil, newFakeClock())
	cfg.FS = nil // the real disk
	cfg.SegmentBytes = 4096
	p := mustOpen(t, dir, cfg)
	var want []Record
	for i := range 100 {
		recs := numbered(i*3, 3)
		want = append(want, withOffsets(mustAppend(t, p, recs...), recs)...)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p2 := mustOpen(t, dir, cfg)
	sameRecords(t, readAll(t, p2, 0), want)
	if len(*p2.segs.Load()) < 3 {
		t.Fatalf("%d segments, want several", len(*p2.segs.Load()))
	}
}
