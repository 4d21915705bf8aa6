package log

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/internal/log/vfs"
)

func TestAppendReadRoundTrip(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	p := mustOpen(t, "/p", testConfig(t, vfs.NewMem(), clock))
	recs := []Record{
		{Key: nil, Value: nil},           // null key, null value
		{Key: []byte{}, Value: []byte{}}, // empty, not null
		{Key: []byte("k"), Value: nil},   // tombstone
		{Key: nil, Value: []byte("v")},   // keyless
		{Key: []byte("k2"), Value: []byte("v2"), Timestamp: 42, Headers: []Header{
			{Key: "a", Value: []byte("1")},
			{Key: "", Value: nil},
			{Key: "empty", Value: []byte{}},
		}},
		{Key: []byte(strings.Repeat("x", 300)), Value: []byte(strings.Repeat("y", 70000)), Timestamp: -5},
	}
	off := mustAppend(t, p, recs...)
	if off != 0 {
		t.Fatalf("first offset = %d, want 0", off)
	}
	got := readAll(t, p, 0)
	sameRecords(t, got, withOffsets(0, recs))
	now := clock.Now().UnixMilli()
	for i, r := range got {
		want := recs[i].Timestamp
		if want == 0 {
			want = now
		}
		if r.Timestamp != want {
			t.Errorf("record %d timestamp = %d, want %d", i, r.Timestamp, want)
		}
	}
	if hw := p.HighWatermark(); hw != int64(len(recs)) {
		t.Errorf("HighWatermark = %d, want %d", hw, len(recs))
	}
}

func TestDenseOffsetsAndReadFromMiddle(t *testing.T) {
	t.Parallel()
	p := mustOpen(t, "/p", testConfig(t, vfs.NewMem(), newFakeClock()))
	var want []Record
	for i := range 20 {
		recs := numbered(len(want), i%4+1)
		off := mustAppend(t, p, recs...)
		if off != int64(len(want)) {
			t.Fatalf("append %d: offset %d, want %d", i, off, len(want))
		}
		want = append(want, withOffsets(off, recs)...)
	}
	for from := range want {
		sameRecords(t, readAll(t, p, int64(from)), want[from:])
	}
}

func TestReadLimits(t *testing.T) {
	t.Parallel()
	p := mustOpen(t, "/p", testConfig(t, vfs.NewMem(), newFakeClock()))
	for range 10 {
		mustAppend(t, p, numbered(0, 10)...)
	}
	tests := []struct {
		name                 string
		from                 int64
		maxRecords, maxBytes int
		want                 int
	}{
		{"records", 5, 7, 0, 7},
		{"records across batches", 5, 30, 0, 30},
		{"unlimited", 0, 0, 0, 100},
		{"bytes small still one", 3, 0, 1, 1},
		{"bytes", 0, 0, 10 * (4 + 16), 10},
		{"at hw", 100, 10, 10, 0},
		{"last", 99, 10, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.Read(tt.from, tt.maxRecords, tt.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Fatalf("got %d records, want %d", len(got), tt.want)
			}
			for i, r := range got {
				if r.Offset != tt.from+int64(i) {
					t.Fatalf("record %d has offset %d, want %d", i, r.Offset, tt.from+int64(i))
				}
			}
		})
	}
}

func TestReadOutOfRange(t *testing.T) {
	t.Parallel()
	p := mustOpen(t, "/p", testConfig(t, vfs.NewMem(), newFakeClock()))
	mustAppend(t, p, numbered(0, 3)...)
	for _, off := range []int64{-1, 4, 1000} {
		_, err := p.Read(off, 1, 0)
		if !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("Read(%d) error = %v, want ErrOffsetOutOfRange", off, err)
		}
		var re *OffsetRangeError
		if !errors.As(err, &re) || re.Start != 0 || re.End != 3 || re.Offset != off {
			t.Fatalf("Read(%d) error = %#v, want range [0, 3]", off, err)
		}
	}
	if recs, err := p.Read(3, 1, 0); err != nil || len(recs) != 0 {
		t.Fatalf("Read(hw) = %v, %v; want nothing, nil", recs, err)
	}
}

func TestSegmentRollAndIndexedReads(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	cfg := testConfig(t, fs, newFakeClock())
	cfg.SegmentBytes = 2000
	cfg.IndexIntervalBytes = 150
	p := mustOpen(t, "/p", cfg)
	var want []Record
	for i := range 200 {
		recs := numbered(i*2, 2)
		off := mustAppend(t, p, recs...)
		want = append(want, withOffsets(off, recs)...)
	}
	segs := *p.segs.Load()
	if len(segs) < 5 {
		t.Fatalf("%d segments, want several", len(segs))
	}
	for i, s := range segs {
		if s.size.Load() > cfg.SegmentBytes {
			t.Errorf("segment %d is %d bytes, over SegmentBytes", i, s.size.Load())
		}
		if i > 0 && len(*s.idx.Load()) == 0 {
			t.Errorf("segment %d has no index entries", i)
		}
	}
	for _, from := range []int64{0, 1, 17, 99, 100, 101, 250, 398, 399} {
		sameRecords(t, readAll(t, p, from), want[from:])
		got, err := p.Read(from, 3, 0)
		if err != nil {
			t.Fatal(err)
		}
		sameRecords(t, got, want[from:min(from+3, int64(len(want)))])
	}
	names, _ := fs.List("/p")
	wantName := fmt.Sprintf("%020d.log", segs[1].base)
	found := false
	for _, n := range names {
		found = found || n == wantName
	}
	if !found {
		t.Fatalf("no %s among %v", wantName, names)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// Every segment now has both index files.
	names, _ = fs.List("/p")
	if got, want := len(names), 3*len(segs); got != want {
		t.Fatalf("%d files after close, want %d: %v", got, want, names)
	}
}

func TestRollByAge(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	cfg := testConfig(t, vfs.NewMem(), clock)
	cfg.SegmentAge = time.Hour
	p := mustOpen(t, "/p", cfg)
	mustAppend(t, p, kv("a", "1"))
	clock.Advance(30 * time.Minute)
	mustAppend(t, p, kv("b", "2"))
	if n := len(*p.segs.Load()); n != 1 {
		t.Fatalf("%d segments before SegmentAge, want 1", n)
	}
	clock.Advance(31 * time.Minute)
	mustAppend(t, p, kv("c", "3"))
	segs := *p.segs.Load()
	if len(segs) != 2 || segs[1].base != 2 {
		t.Fatalf("after SegmentAge: %d segments, want 2 with the second at 2", len(segs))
	}
	// Maintenance rolls an idle segment too.
	clock.Advance(2 * time.Hour)
	if err := p.RunMaintenance(clock.Now()); err != nil {
		t.Fatal(err)
	}
	if segs := *p.segs.Load(); len(segs) != 3 || segs[2].base != 3 || segs[2].size.Load() != 0 {
		t.Fatalf("after maintenance: %d segments, want 3 with an empty active at 3", len(segs))
	}
	sameRecords(t, readAll(t, p, 0), withOffsets(0, []Record{kv("a", "1"), kv("b", "2"), kv("c", "3")}))
}

func TestRestartKeepsEverything(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	clock := newFakeClock()
	cfg := testConfig(t, fs, clock)
	cfg.SegmentBytes = 1500
	cfg.IndexIntervalBytes = 100
	p := mustOpen(t, "/p", cfg)
	var want []Record
	for i := range 100 {
		recs := numbered(i, 3)
		recs[0].Headers = []Header{{Key: "h", Value: []byte{byte(i)}}}
		off := mustAppend(t, p, recs...)
		want = append(want, withOffsets(off, recs)...)
	}
	idxBefore := map[int64][]indexEntry{}
	for _, s := range *p.segs.Load() {
		idxBefore[s.base] = *s.idx.Load()
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		p2 := mustOpen(t, "/p", cfg)
		sameRecords(t, readAll(t, p2, 0), want)
		if p2.HighWatermark() != int64(len(want)) {
			t.Fatalf("round %d: HighWatermark = %d, want %d", round, p2.HighWatermark(), len(want))
		}
		for _, s := range *p2.segs.Load() {
			if got := *s.idx.Load(); !equalEntries(got, idxBefore[s.base]) {
				t.Fatalf("round %d: segment %d index after reopen differs:\n%v\n%v", round, s.base, got, idxBefore[s.base])
			}
		}
		off := mustAppend(t, p2, kv("more", fmt.Sprint(round)))
		want = append(want, withOffsets(off, []Record{kv("more", fmt.Sprint(round))})...)
		idxBefore[p2.active().base] = *p2.active().idx.Load()
		if err := p2.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func equalEntries(a, b []indexEntry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNotifyWakesWaiters(t *testing.T) {
	t.Parallel()
	p := mustOpen(t, "/p", testConfig(t, vfs.NewMem(), newFakeClock()))
	ch := p.Notify()
	select {
	case <-ch:
		t.Fatal("Notify fired before any append")
	default:
	}
	var wg sync.WaitGroup
	woke := make(chan int64, 3)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ch
			woke <- p.HighWatermark()
		}()
	}
	mustAppend(t, p, kv("a", "b"))
	wg.Wait()
	close(woke)
	for hw := range woke {
		if hw != 1 {
			t.Errorf("woken waiter saw high watermark %d, want 1", hw)
		}
	}
	ch2 := p.Notify()
	if ch2 == ch {
		t.Fatal("Notify returned the fired channel again")
	}
	p.Close()
	select {
	case <-ch2:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not wake Notify waiters")
	}
	if _, err := p.Append(context.Background(), numbered(0, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v, want ErrClosed", err)
	}
	if _, err := p.Read(0, 1, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close: %v, want ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestConcurrentAppendersDenseComplete(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	cfg := testConfig(t, fs, newFakeClock())
	cfg.SegmentBytes = 8 << 10
	cfg.IndexIntervalBytes = 512
	p := mustOpen(t, "/p", cfg)
	const writers, each = 8, 60
	var wg sync.WaitGroup
	type ack struct {
		off int64
		n   int
		key string
	}
	acks := make(chan ack, writers*each)
	// Readers follow along while writers append.
	stop := make(chan struct{})
	var rwg sync.WaitGroup
	for range 2 {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			var next int64
			for {
				select {
				case <-stop:
					return
				default:
				}
				ch := p.Notify()
				recs, err := p.Read(next, 50, 0)
				if err != nil {
					t.Errorf("reader: %v", err)
					return
				}
				for _, r := range recs {
					if r.Offset != next {
						t.Errorf("reader: offset %d, want %d", r.Offset, next)
						return
					}
					next++
				}
				if len(recs) == 0 {
					select {
					case <-ch:
					case <-stop:
						return
					}
				}
			}
		}()
	}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				n := i%3 + 1
				recs := make([]Record, n)
				key := fmt.Sprintf("w%d-%d", w, i)
				for j := range recs {
					recs[j] = kv(key, fmt.Sprint(j))
				}
				off, err := p.Append(context.Background(), recs)
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				acks <- ack{off, n, key}
			}
		}()
	}
	wg.Wait()
	close(stop)
	rwg.Wait()
	close(acks)
	all := readAll(t, p, 0)
	total := 0
	for a := range acks {
		total += a.n
		for j := range a.n {
			r := all[a.off+int64(j)]
			if string(r.Key) != a.key || string(r.Value) != fmt.Sprint(j) {
				t.Fatalf("offset %d holds %s, want key %s value %d", a.off+int64(j), fmtRecord(r), a.key, j)
			}
		}
	}
	if len(all) != total || p.HighWatermark() != int64(total) {
		t.Fatalf("read %d records, high watermark %d, acked %d", len(all), p.HighWatermark(), total)
	}
	for i, r := range all {
		if r.Offset != int64(i) {
			t.Fatalf("record %d has offset %d", i, r.Offset)
		}
	}
}

func TestOffsetForTime(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, vfs.NewMem(), newFakeClock())
	cfg.SegmentBytes = 600
	cfg.IndexIntervalBytes = 100
	p := mustOpen(t, "/p", cfg)
	// Timestamps 1000, 1010, ... with one record out of order.
	for i := range 60 {
		ts := int64(1000 + 10*i)
		if i == 30 {
			ts = 500
		}
		mustAppend(t, p, Record{Key: []byte("k"), Value: []byte(fmt.Sprint(i)), Timestamp: ts})
	}
	tests := []struct {
		ts   int64
		want int64
	}{
		{0, 0}, {1000, 0}, {1001, 1}, {1010, 1}, {1290, 29}, {1295, 31}, {1300, 31}, {1590, 59}, {1591, 60}, {1 << 60, 60}, {500, 0},
	}
	for _, tt := range tests {
		got, err := p.OffsetForTime(tt.ts)
		if err != nil || got != tt.want {
			t.Errorf("OffsetForTime(%d) = %d, %v; want %d", tt.ts, got, err, tt.want)
		}
	}
}

func TestParseFsyncPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    FsyncPolicy
		wantErr string
	}{
		{in: "always", want: FsyncPolicy{Mode: FsyncAlways}},
		{in: "never", want: FsyncPolicy{Mode: FsyncNever}},
		{in: "interval:100ms", want: FsyncPolicy{Mode: FsyncInterval, Interval: 100 * time.Millisecond}},
		{in: "interval:0s", wantErr: `log: fsync policy "interval:0s": the interval must be positive`},
		{in: "interval:x", wantErr: `log: fsync policy "interval:x": time: invalid duration "x"`},
		{in: "Always", wantErr: `log: fsync policy "Always": want always, never or interval:<duration>`},
		{in: "", wantErr: `log: fsync policy "": want always, never or interval:<duration>`},
	}
	for _, tt := range tests {
		got, err := ParseFsyncPolicy(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseFsyncPolicy(%q) error = %v, want %s", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseFsyncPolicy(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if back, _ := ParseFsyncPolicy(got.String()); back != got {
			t.Errorf("%v does not round-trip through String", got)
		}
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, vfs.NewMem(), newFakeClock())
	cfg.MaxRecordBytes = 100
	cfg.MaxBatchBytes = 1000
	p := mustOpen(t, "/p", cfg)
	_, err := p.Append(context.Background(), []Record{kv("a", "b"), kv("k", strings.Repeat("v", 100))})
	if !errors.Is(err, ErrRecordTooLarge) || !strings.Contains(err.Error(), "record 1:") {
		t.Fatalf("oversized record: %v", err)
	}
	_, err = p.Append(context.Background(), numbered(0, 1)[:0])
	if !errors.Is(err, ErrNoRecords) {
		t.Fatalf("empty append: %v", err)
	}
	big := make([]Record, 20)
	for i := range big {
		big[i] = kv("k", strings.Repeat("v", 90))
	}
	if _, err = p.Append(context.Background(), big); !errors.Is(err, ErrBatchTooLarge) {
		t.Fatalf("oversized batch: %v", err)
	}
	// Nothing was appended and offsets stay dense.
	if off := mustAppend(t, p, kv("a", "b")); off != 0 {
		t.Fatalf("offset after refused appends = %d, want 0", off)
	}
}

func TestInvalidConfig(t *testing.T) {
	t.Parallel()
	_, err := Open("/p", Config{FS: vfs.NewMem(), SegmentBytes: -1, Fsync: FsyncPolicy{Mode: FsyncInterval}})
	if err == nil || !strings.Contains(err.Error(), "SegmentBytes -1") || !strings.Contains(err.Error(), "Fsync interval 0s") {
		t.Fatalf("Open with bad config: %v", err)
	}
}
