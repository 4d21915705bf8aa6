package log

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/broker/internal/log/vfs"
)

const seg0 = "/p/00000000000000000000.log"

// tenBatches writes ten batches of two records to a fresh partition on fs
// and closes it; it returns the records and the end position of each batch.
func tenBatches(t *testing.T, fs *vfs.Mem, cfg Config) ([]Record, []int64) {
	t.Helper()
	p, err := Open("/p", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var want []Record
	var ends []int64
	for i := range 10 {
		recs := []Record{kv(fmt.Sprintf("k%d", i), strings.Repeat("v", 10+i)), {Key: []byte("n"), Value: nil}}
		off := mustAppend(t, p, recs...)
		want = append(want, withOffsets(off, recs)...)
		ends = append(ends, p.active().size.Load())
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	return want, ends
}

func TestRecoverTail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// damage returns the new segment bytes given the old and batch ends.
		damage      func(b []byte, ends []int64) []byte
		keepBatches int
		cutBatches  int
	}{
		{"intact", func(b []byte, _ []int64) []byte { return b }, 10, 0},
		{"truncated mid-batch", func(b []byte, ends []int64) []byte { return b[:ends[7]+5] }, 8, 1},
		{"truncated mid-header", func(b []byte, ends []int64) []byte { return b[:ends[7]+30] }, 8, 1},
		{"truncated in last record", func(b []byte, ends []int64) []byte { return b[:ends[9]-1] }, 9, 1},
		{"garbage tail", func(b []byte, _ []int64) []byte {
			return append(b, bytes.Repeat([]byte("garbage!"), 13)...)
		}, 10, 1},
		{"zeroed tail", func(b []byte, _ []int64) []byte { return append(b, make([]byte, 4096)...) }, 10, 1},
		{"crc flip in last batch", func(b []byte, ends []int64) []byte { b[ends[9]-3] ^= 1; return b }, 9, 1},
		{"crc flip two batches back", func(b []byte, ends []int64) []byte { b[ends[8]-3] ^= 1; return b }, 8, 2},
		{"valid batch with a wrong offset", func(b []byte, _ []int64) []byte {
			extra, _, _ := appendBatch(nil, 100, []Record{kv("x", "y")}, true, 0, 1, limits{})
			return append(b, extra...)
		}, 10, 1},
		{"batch header claims a huge length", func(b []byte, ends []int64) []byte {
			b = b[:ends[9]]
			h := bytes.Clone(b[ends[8]:ends[9]])
			h[8], h[9], h[10], h[11] = 0x7f, 0xff, 0xff, 0xff
			return append(b, h...)
		}, 10, 1},
	}
	for _, tt := range tests {
		for _, dropIndex := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/drop index %v", tt.name, dropIndex), func(t *testing.T) {
				t.Parallel()
				fs := vfs.NewMem()
				cfg := testConfig(t, fs, newFakeClock())
				cfg.IndexIntervalBytes = 100
				want, ends := tenBatches(t, fs, cfg)
				b, _ := fs.ReadFile(seg0)
				damaged := tt.damage(bytes.Clone(b), ends)
				fs.WriteFile(seg0, damaged)
				if dropIndex {
					fs.Remove("/p/00000000000000000000.index")
				}
				lg, logs := newTestLogger(t)
				cfg.Logger = lg
				p := mustOpen(t, "/p", cfg)
				keep := tt.keepBatches * 2
				sameRecords(t, readAll(t, p, 0), want[:keep])
				if hw := p.HighWatermark(); hw != int64(keep) {
					t.Fatalf("HighWatermark = %d, want %d", hw, keep)
				}
				validEnd := ends[tt.keepBatches-1]
				got, _ := fs.ReadFile(seg0)
				if int64(len(got)) != validEnd || !bytes.Equal(got, b[:validEnd]) {
					t.Fatalf("segment is %d bytes after recovery, want the first %d of the original", len(got), validEnd)
				}
				warns := strings.Count(logs.String(), "level=WARN")
				if tt.cutBatches == 0 {
					if warns != 0 {
						t.Fatalf("warnings on an intact log:\n%s", logs)
					}
				} else {
					wantLine := fmt.Sprintf("bytes_cut=%d batches_cut=%d", int64(len(damaged))-validEnd, tt.cutBatches)
					if warns != 1 || !strings.Contains(logs.String(), wantLine) {
						t.Fatalf("want exactly one Warn with %q, got:\n%s", wantLine, logs)
					}
				}
				// New appends continue densely after the kept prefix.
				if off := mustAppend(t, p, kv("after", "recovery")); off != int64(keep) {
					t.Fatalf("append after recovery got offset %d, want %d", off, keep)
				}
				p.Close()
				p2 := mustOpen(t, "/p", cfg)
				if hw := p2.HighWatermark(); hw != int64(keep+1) {
					t.Fatalf("after reopen HighWatermark = %d, want %d", hw, keep+1)
				}
			})
		}
	}
}

// multiSegment writes a partition with several closed segments and closes
// it.
func multiSegment(t *testing.T, fs *vfs.Mem, cfg Config) []Record {
	t.Helper()
	p, err := Open("/p", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var want []Record
	for i := range 60 {
		recs := numbered(i*2, 2)
		off := mustAppend(t, p, recs...)
		want = append(want, withOffsets(off, recs)...)
	}
	if n := len(*p.segs.Load()); n < 4 {
		t.Fatalf("only %d segments", n)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	return want
}

func segmentCfg(t *testing.T, fs vfs.FS) Config {
	cfg := testConfig(t, fs, newFakeClock())
	cfg.SegmentBytes = 1000
	cfg.IndexIntervalBytes = 120
	return cfg
}

func TestRebuildClosedSegmentIndex(t *testing.T) {
	t.Parallel()
	const idx, tidx = "/p/00000000000000000022.index", "/p/00000000000000000022.timeindex"
	tests := []struct {
		name   string
		damage func(fs *vfs.Mem)
		// atOpen: the damage is found at open (Warn, file rewritten);
		// otherwise the first read that lands on it notices.
		atOpen bool
	}{
		{"missing index", func(fs *vfs.Mem) { fs.Remove(idx) }, true},
		{"missing timeindex", func(fs *vfs.Mem) { fs.Remove(tidx) }, true},
		{"bad magic", func(fs *vfs.Mem) { b, _ := fs.ReadFile(idx); b[0] = 'X'; fs.WriteFile(idx, b) }, true},
		{"torn entry", func(fs *vfs.Mem) { b, _ := fs.ReadFile(idx); fs.WriteFile(idx, b[:len(b)-3]) }, true},
		{"entries out of order", func(fs *vfs.Mem) {
			b, _ := fs.ReadFile(idx)
			copy(b[indexHeaderSize:], b[indexHeaderSize+8:indexHeaderSize+16])
			fs.WriteFile(idx, b)
		}, true},
		{"last entry points at the wrong batch", func(fs *vfs.Mem) {
			b, _ := fs.ReadFile(idx)
			b[len(b)-1]++ // position off by one
			fs.WriteFile(idx, b)
		}, true},
		{"wrong base offset", func(fs *vfs.Mem) {
			b, _ := fs.ReadFile("/p/00000000000000000000.index")
			fs.WriteFile(idx, b)
		}, true},
		{"middle entry points at the wrong batch", func(fs *vfs.Mem) {
			b, _ := fs.ReadFile(idx)
			b[indexHeaderSize+3]++ // first entry's relative offset, still increasing
			fs.WriteFile(idx, b)
			tb, _ := fs.ReadFile(tidx)
			tb[indexHeaderSize+11]++ // the same in the time index
			fs.WriteFile(tidx, tb)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fs := vfs.NewMem()
			cfg := segmentCfg(t, fs)
			want := multiSegment(t, fs, cfg)
			before, _ := fs.ReadFile(idx)
			if len(before) <= indexHeaderSize+16 {
				t.Fatalf("index of segment 22 has too few entries (%d bytes) for this test", len(before))
			}
			tt.damage(fs)
			lg, logs := newTestLogger(t)
			cfg.Logger = lg
			p := mustOpen(t, "/p", cfg)
			if tt.atOpen {
				if !strings.Contains(logs.String(), "level=WARN msg=\"rebuilding segment index\" component=log dir=/p segment=/p/00000000000000000022.log") {
					t.Fatalf("no Warn about the rebuilt index:\n%s", logs)
				}
				after, _ := fs.ReadFile(idx)
				if !bytes.Equal(after, before) {
					t.Fatalf("rebuilt index differs from the original")
				}
			}
			for _, from := range []int64{0, 21, 22, 23, 25, 27, 28, 31, 44, 60, 119} {
				sameRecords(t, readAll(t, p, from), want[from:])
			}
			if !tt.atOpen && !strings.Contains(logs.String(), "index points at the wrong batch") {
				t.Fatalf("no Warn about the bad index entry:\n%s", logs)
			}
		})
	}
}

func TestCorruptClosedSegment(t *testing.T) {
	t.Parallel()
	const seg = "/p/00000000000000000022.log"
	for _, dropIndex := range []bool{false, true} {
		t.Run(fmt.Sprintf("drop index %v", dropIndex), func(t *testing.T) {
			t.Parallel()
			fs := vfs.NewMem()
			cfg := segmentCfg(t, fs)
			multiSegment(t, fs, cfg)
			b, _ := fs.ReadFile(seg)
			b[200] ^= 0xff
			fs.WriteFile(seg, b)
			if dropIndex {
				// Open must rebuild the index, finds the damage and refuses.
				fs.Remove("/p/00000000000000000022.index")
				_, err := Open("/p", cfg)
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), seg+" at byte ") {
					t.Fatalf("Open = %v, want ErrCorrupt naming %s and a byte", err, seg)
				}
				return
			}
			// Closed segments are trusted at open; the read that reaches the
			// damaged batch fails and names it.
			p := mustOpen(t, "/p", cfg)
			// Records before the damaged batch are served, then the error.
			var next int64
			for {
				recs, err := p.Read(next, 0, 0)
				if err != nil {
					if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), seg+" at byte 174") || next != 26 {
						t.Fatalf("Read(%d) = %v, want ErrCorrupt at offset 26 naming %s at byte 174", next, err, seg)
					}
					break
				}
				if len(recs) == 0 {
					t.Fatal("read the whole log despite the damage")
				}
				next = recs[len(recs)-1].Offset + 1
			}
		})
	}
}

func TestOpenRemovesLeftovers(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	cfg := segmentCfg(t, fs)
	want := multiSegment(t, fs, cfg)
	junk := []string{
		"/p/00000000000000000022.log.cleaned",
		"/p/00000000000000000022.index.cleaned",
		"/p/00000000000000000022.index.tmp",
		"/p/00000000000000009999.index",
		"/p/00000000000000009999.timeindex",
	}
	for _, j := range junk {
		fs.WriteFile(j, []byte("junk"))
	}
	fs.WriteFile("/p/README", []byte("not ours"))
	p := mustOpen(t, "/p", cfg)
	sameRecords(t, readAll(t, p, 0), want)
	for _, j := range junk {
		if _, err := fs.ReadFile(j); err == nil {
			t.Errorf("%s survived Open", j)
		}
	}
	if _, err := fs.ReadFile("/p/README"); err != nil {
		t.Errorf("Open removed a file it does not own: %v", err)
	}
}

// TestCrashKeepsAcked crashes (drops everything not synced) while appenders
// run: under FsyncAlways every append acked before the crash is there.
func TestCrashKeepsAcked(t *testing.T) {
	t.Parallel()
	for _, mode := range []FsyncMode{FsyncAlways, FsyncNever} {
		t.Run(FsyncPolicy{Mode: mode}.String(), func(t *testing.T) {
			t.Parallel()
			fs := vfs.NewMem()
			cfg := segmentCfg(t, fs)
			cfg.Fsync.Mode = mode
			p, err := Open("/p", cfg)
			if err != nil {
				t.Fatal(err)
			}
			type ack struct {
				off int64
				val string
			}
			var mu sync.Mutex
			var acks []ack
			var wg sync.WaitGroup
			ctx, cancel := context.WithCancel(context.Background())
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ctx.Err() == nil; i++ {
						v := fmt.Sprintf("w%d-%d", w, i)
						off, err := p.Append(ctx, []Record{kv("k", v)})
						if err != nil {
							return
						}
						mu.Lock()
						acks = append(acks, ack{off, v})
						mu.Unlock()
					}
				}()
			}
			// Crash once enough has been acked.
			for {
				<-p.Notify()
				if p.HighWatermark() > 150 {
					break
				}
			}
			mu.Lock()
			acked := append([]ack(nil), acks...)
			crashed := fs.CrashClone()
			mu.Unlock()
			cancel()
			wg.Wait()
			p.Close()

			cfg.FS = crashed
			p2 := mustOpen(t, "/p", cfg)
			got := readAll(t, p2, 0)
			for i, r := range got {
				if r.Offset != int64(i) {
					t.Fatalf("record %d has offset %d", i, r.Offset)
				}
			}
			if mode != FsyncAlways {
				return
			}
			for _, a := range acked {
				if a.off >= int64(len(got)) || string(got[a.off].Value) != a.val {
					t.Fatalf("acked %q at %d lost after crash (recovered %d records)", a.val, a.off, len(got))
				}
			}
		})
	}
}

// FuzzRecover appends arbitrary bytes to the active segment of a valid
// partition: Open must keep every original record, serve only valid ones,
// and reach the same state when opened again.
func FuzzRecover(f *testing.F) {
	valid, _, _ := appendBatch(nil, 6, []Record{kv("more", "data")}, true, 0, 1, limits{})
	f.Add(valid, false)
	f.Add([]byte("garbage"), true)
	f.Add(make([]byte, 100), false)
	f.Add(valid[:40], true)
	f.Fuzz(func(t *testing.T, tail []byte, dropIndex bool) {
		fs := vfs.NewMem()
		cfg := testConfig(t, fs, newFakeClock())
		cfg.IndexIntervalBytes = 64
		cfg.Logger = nil
		p, err := Open("/p", cfg)
		if err != nil {
			t.Fatal(err)
		}
		var want []Record
		for i := range 3 {
			recs := numbered(i*2, 2)
			off := mustAppend(t, p, recs...)
			want = append(want, withOffsets(off, recs)...)
		}
		p.Close()
		b, _ := fs.ReadFile(seg0)
		fs.WriteFile(seg0, append(b, tail...))
		if dropIndex {
			fs.Remove("/p/00000000000000000000.index")
		}
		p, err = Open("/p", cfg)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		got := readAll(t, p, 0)
		if len(got) < len(want) {
			t.Fatalf("recovered %d records, want at least %d", len(got), len(want))
		}
		sameRecords(t, got[:len(want)], want)
		hw := p.HighWatermark()
		if int64(len(got)) != hw {
			t.Fatalf("read %d records, high watermark %d", len(got), hw)
		}
		p.Close()
		size1, _ := fs.ReadFile(seg0)
		p, err = Open("/p", cfg)
		if err != nil {
			t.Fatalf("second Open: %v", err)
		}
		size2, _ := fs.ReadFile(seg0)
		if p.HighWatermark() != hw || len(size1) != len(size2) {
			t.Fatalf("second open changed state: hw %d -> %d, size %d -> %d", hw, p.HighWatermark(), len(size1), len(size2))
		}
		p.Close()
	})
}
