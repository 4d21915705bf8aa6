package log

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"testing"

	"github.com/sluicehq/sluice/broker/internal/log/vfs"
)

// producerBatch encodes recs the way an idempotent Kafka producer does:
// base offset 0, producer id, epoch and base sequence set, attrs as given.
func producerBatch(t testing.TB, recs []Record, pid int64, epoch int16, seq int32, attrs int16) []byte {
	t.Helper()
	like := batchHeader{Attributes: attrs, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq}
	b, _, err := appendBatchAs(nil, 0, recs, true, 0, 1_000, limits{}, &like)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustParse(t testing.TB, raw []byte) *Batch {
	t.Helper()
	b, _, err := ParseBatch(raw, nil, nil)
	if err != nil {
		t.Fatalf("ParseBatch: %v", err)
	}
	return b
}

// withoutBase is b with its baseOffset zeroed, for comparing stored batches
// with what the client sent.
func withoutBase(b []byte) []byte {
	c := bytes.Clone(b)
	binary.BigEndian.PutUint64(c, 0)
	return c
}

// splitBatches cuts concatenated batches apart.
func splitBatches(t testing.TB, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(b) > 0 {
		h, err := parseBatchHeader(b, int64(len(b)))
		if err != nil {
			t.Fatalf("splitting batches: %v", err)
		}
		out = append(out, b[:h.size()])
		b = b[h.size():]
	}
	return out
}

func TestAppendBatchKeepsClientBytes(t *testing.T) {
	t.Parallel()
	p := mustOpen(t, "/p", testConfig(t, vfs.NewMem(), newFakeClock()))
	mustAppend(t, p, kv("before", "x"))
	var sent [][]byte
	for i := range 3 {
		raw := producerBatch(t, numbered(i*10, 4), 77, 3, int32(i*4), attrTransactional*int16(i%2))
		sent = append(sent, bytes.Clone(raw))
		off, err := p.AppendBatch(context.Background(), mustParse(t, raw))
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(1 + i*4); off != want {
			t.Fatalf("batch %d at offset %d, want %d", i, off, want)
		}
	}
	got, hw, err := p.ReadBatches(nil, 1, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	if hw != 13 {
		t.Fatalf("high watermark %d, want 13", hw)
	}
	stored := splitBatches(t, got)
	if len(stored) != 3 {
		t.Fatalf("%d batches read, want 3", len(stored))
	}
	for i, b := range stored {
		if base := int64(binary.BigEndian.Uint64(b)); base != int64(1+i*4) {
			t.Errorf("batch %d has base offset %d", i, base)
		}
		if !bytes.Equal(withoutBase(b), sent[i]) {
			t.Errorf("batch %d is not stored as sent:\nsent   % x\nstored % x", i, sent[i], b)
		}
	}
	// The record path reads the same records at dense offsets, once the
	// transactional batch's transaction is committed (before that, record
	// readers stop at the last stable offset, 5: txn.go).
	if _, err := p.WriteTxnMarker(context.Background(), 77, 3, true, 0); err != nil {
		t.Fatal(err)
	}
	var want []Record
	want = append(want, withOffsets(0, []Record{kv("before", "x")})...)
	for i := range 3 {
		want = append(want, withOffsets(int64(1+i*4), numbered(i*10, 4))...)
	}
	sameRecords(t, readAll(t, p, 0), want)
}

func TestEnqueueBatchPipelines(t *testing.T) {
	t.Parallel()
	p := mustOpen(t, "/p", testConfig(t, vfs.NewMem(), newFakeClock()))
	var pend []*Pending
	for i := range 50 {
		w, err := p.EnqueueBatch(mustParse(t, producerBatch(t, numbered(i, 2), -1, -1, -1, 0)))
		if err != nil {
			t.Fatal(err)
		}
		pend = append(pend, w)
	}
	for i, w := range pend {
		off, err := w.Wait(context.Background())
		if err != nil || off != int64(2*i) {
			t.Fatalf("batch %d: offset %d, %v; want %d", i, off, err, 2*i)
		}
		if again, err := w.Wait(context.Background()); again != off || err != nil {
			t.Fatalf("second Wait: %d, %v", again, err)
		}
	}
	if hw := p.HighWatermark(); hw != 100 {
		t.Fatalf("high watermark %d, want 100", hw)
	}
}

func TestParseBatchRefuses(t *testing.T) {
	t.Parallel()
	good := producerBatch(t, numbered(0, 3), 1, 0, 0, 0)
	mut := func(f func(b []byte)) []byte {
		b := bytes.Clone(good)
		f(b)
		binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crcTable))
		return b
	}
	tests := []struct {
		name string
		raw  []byte
	}{
		{"compressed", mut(func(b []byte) { b[22] = 2 })},
		{"unknown attribute", mut(func(b []byte) { b[21] = 0x01 })},
		{"last offset delta too large", mut(func(b []byte) { binary.BigEndian.PutUint32(b[23:], 5) })},
		{"bad crc", func() []byte { b := bytes.Clone(good); b[len(b)-1] ^= 1; return b }()},
		{"truncated", good[:len(good)-1]},
		{"empty", nil},
	}
	for _, tt := range tests {
		_, recs, err := ParseBatch(tt.raw, nil, nil)
		if !errors.Is(err, ErrInvalidBatch) {
			t.Errorf("%s: err = %v, want ErrInvalidBatch", tt.name, err)
		}
		if len(recs) != 0 {
			t.Errorf("%s: %d records returned with the error", tt.name, len(recs))
		}
	}
}

func TestParseBatchFixesMaxTimestamp(t *testing.T) {
	t.Parallel()
	recs := []Record{{Value: []byte("a"), Timestamp: 5_000}, {Value: []byte("b"), Timestamp: 9_000}}
	raw := producerBatch(t, recs, -1, -1, -1, 0)
	binary.BigEndian.PutUint64(raw[35:], 1) // a lie
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crcTable))
	b := mustParse(t, raw)
	if b.MaxTimestamp() != 9_000 {
		t.Fatalf("maxTimestamp %d, want 9000", b.MaxTimestamp())
	}
	if _, _, err := decodeBatch(nil, raw, true); err != nil {
		t.Fatalf("corrected batch does not decode: %v", err)
	}
}

func TestLogAppendTime(t *testing.T) {
	t.Parallel()
	p := mustOpen(t, "/p", testConfig(t, vfs.NewMem(), newFakeClock()))
	b := mustParse(t, producerBatch(t, []Record{{Value: []byte("a"), Timestamp: 5}, {Value: []byte("b"), Timestamp: 6}}, -1, -1, -1, 0))
	b.SetLogAppendTime(123_456)
	if _, err := p.AppendBatch(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	for _, r := range readAll(t, p, 0) {
		if r.Timestamp != 123_456 {
			t.Errorf("record %d has timestamp %d, want the append time", r.Offset, r.Timestamp)
		}
	}
}

func TestControlBatchesSkippedByRecordReads(t *testing.T) {
	t.Parallel()
	p := mustOpen(t, "/p", testConfig(t, vfs.NewMem(), newFakeClock()))
	mustAppend(t, p, kv("a", "1"))
	marker := producerBatch(t, []Record{{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 0}}}, 5, 0, -1, attrTransactional|attrControl)
	if _, err := p.AppendBatch(context.Background(), mustParse(t, bytes.Clone(marker))); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, p, kv("b", "2"))
	sameRecords(t, readAll(t, p, 0), []Record{{Offset: 0, Key: []byte("a"), Value: []byte("1")}, {Offset: 2, Key: []byte("b"), Value: []byte("2")}})
	raw, _, err := p.ReadBatches(nil, 1, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	bs := splitBatches(t, raw)
	if len(bs) != 2 || !bytes.Equal(withoutBase(bs[0]), marker) {
		t.Fatalf("ReadBatches from the marker: %d batches, first % x", len(bs), bs[0])
	}
}

func TestReadBatchesLimits(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, vfs.NewMem(), newFakeClock())
	cfg.SegmentBytes = 3000
	cfg.IndexIntervalBytes = 200
	p := mustOpen(t, "/p", cfg)
	var sizes []int
	var bases []int64
	for i := range 60 {
		raw := producerBatch(t, numbered(i*3, 3), -1, -1, -1, 0)
		sizes = append(sizes, len(raw))
		off, err := p.AppendBatch(context.Background(), mustParse(t, raw))
		if err != nil {
			t.Fatal(err)
		}
		bases = append(bases, off)
	}
	if n := len(*p.segs.Load()); n < 3 {
		t.Fatalf("%d segments, want several", n)
	}
	baseOf := func(b []byte) int64 { return int64(binary.BigEndian.Uint64(b)) }
	for _, off := range []int64{0, 1, 2, 3, 50, 89, 100, 179} {
		i := int(off / 3)
		// Everything from the batch holding off, across segments.
		all, _, err := p.ReadBatches(nil, off, 1<<20, true)
		if err != nil {
			t.Fatal(err)
		}
		bs := splitBatches(t, all)
		if len(bs) != 60-i || baseOf(bs[0]) != bases[i] {
			t.Fatalf("from %d: %d batches starting at %d, want %d at %d", off, len(bs), baseOf(bs[0]), 60-i, bases[i])
		}
		// A budget of two and a half batches gives two.
		two, _, err := p.ReadBatches([]byte("prefix"), off, sizes[i]+sizes[min(i+1, 59)]+sizes[i]/2, false)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(two, []byte("prefix")) {
			t.Fatal("dst prefix lost")
		}
		if bs := splitBatches(t, two[6:]); len(bs) != min(2, 60-i) {
			t.Fatalf("from %d with room for 2.5 batches: %d batches", off, len(bs))
		}
		// A budget below one batch: nothing, unless always.
		none, _, err := p.ReadBatches(nil, off, 10, false)
		if err != nil || len(none) != 0 {
			t.Fatalf("from %d with 10 bytes: %d bytes, %v", off, len(none), err)
		}
		one, _, err := p.ReadBatches(nil, off, 10, true)
		if err != nil {
			t.Fatal(err)
		}
		if bs := splitBatches(t, one); len(bs) != 1 || baseOf(bs[0]) != bases[i] {
			t.Fatalf("from %d with 10 bytes, always: %d batches", off, len(bs))
		}
	}
	if got, _, err := p.ReadBatches(nil, 180, 100, true); err != nil || len(got) != 0 {
		t.Fatalf("at the high watermark: %d bytes, %v", len(got), err)
	}
	var re *OffsetRangeError
	if _, _, err := p.ReadBatches(nil, 181, 100, true); !errors.As(err, &re) {
		t.Fatalf("past the high watermark: %v", err)
	}
}

// TestRecoveryKeepsProducerFields reopens a partition whose active segment
// holds client batches (producer fields, transactional bit) and a torn
// tail: the batches survive byte for byte and the tail is cut.
func TestRecoveryKeepsProducerFields(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	cfg := testConfig(t, fs, newFakeClock())
	p, err := Open("/p", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var sent [][]byte
	for i := range 4 {
		raw := producerBatch(t, numbered(i*2, 2), 900+int64(i), int16(i), int32(i*2), attrTransactional*int16(i%2))
		sent = append(sent, bytes.Clone(raw))
		if _, err := p.AppendBatch(context.Background(), mustParse(t, raw)); err != nil {
			t.Fatal(err)
		}
	}
	// Crash: what was synced survives, no index was written; then add a
	// torn batch at the end.
	crashed := fs.CrashClone()
	p.Close()
	f, err := crashed.OpenReadWrite("/p/" + segmentName(0))
	if err != nil {
		t.Fatal(err)
	}
	size, _ := f.Size()
	torn := producerBatch(t, numbered(99, 2), 1, 1, 1, 0)
	if _, err := f.WriteAt(torn[:len(torn)-3], size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cfg.FS = crashed
	p2 := mustOpen(t, "/p", cfg)
	if hw := p2.HighWatermark(); hw != 8 {
		t.Fatalf("high watermark after recovery %d, want 8", hw)
	}
	raw, _, err := p2.ReadBatches(nil, 0, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	bs := splitBatches(t, raw)
	if len(bs) != 4 {
		t.Fatalf("%d batches after recovery, want 4", len(bs))
	}
	for i, b := range bs {
		if !bytes.Equal(withoutBase(b), sent[i]) {
			t.Errorf("batch %d changed in recovery", i)
		}
	}
}

// FuzzParseBatch: any bytes are refused cleanly or accepted; an accepted
// batch decodes to the same records through the storage decoder and can be
// appended and read back byte for byte.
func FuzzParseBatch(f *testing.F) {
	f.Add(producerBatch(f, numbered(0, 3), 1, 2, 3, 0))
	f.Add(producerBatch(f, []Record{{Headers: []Header{{Key: "h", Value: []byte("v")}}}}, -1, -1, -1, attrTransactional))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		in := bytes.Clone(raw)
		slab := make([]Header, 0, 2)
		b, recs, err := ParseBatch(in, nil, &slab)
		if err != nil {
			if !errors.Is(err, ErrInvalidBatch) {
				t.Fatalf("error %v is not ErrInvalidBatch", err)
			}
			return
		}
		again, _, err := decodeBatch(nil, in, true)
		if err != nil {
			t.Fatalf("accepted batch does not decode: %v", err)
		}
		sameRecords(t, recs, again)
		if b.Count() != len(recs) {
			t.Fatalf("Count %d, %d records", b.Count(), len(recs))
		}
	})
}

func TestIdempotentProducerSequences(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	cfg := testConfig(t, fs, newFakeClock())
	p, err := Open("/p", cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	send := func(p *Partition, pid int64, epoch int16, seq int32, n int) (int64, bool, error) {
		t.Helper()
		w, err := p.EnqueueBatch(mustParse(t, producerBatch(t, numbered(0, n), pid, epoch, seq, 0)))
		if err != nil {
			return -1, false, err
		}
		off, err := w.Wait(ctx)
		return off, w.Duplicate, err
	}
	// A new producer may start at any sequence.
	if off, dup, err := send(p, 7, 0, 17, 3); off != 0 || dup || err != nil {
		t.Fatalf("first batch: %d %v %v", off, dup, err)
	}
	if off, _, err := send(p, 7, 0, 20, 2); off != 3 || err != nil {
		t.Fatalf("next batch: %d %v", off, err)
	}
	// A retry of either is answered with its original offset, not appended.
	for _, c := range []struct {
		seq  int32
		n    int
		want int64
	}{{17, 3, 0}, {20, 2, 3}} {
		if off, dup, err := send(p, 7, 0, c.seq, c.n); off != c.want || !dup || err != nil {
			t.Fatalf("retry of seq %d: %d %v %v", c.seq, off, dup, err)
		}
	}
	if hw := p.HighWatermark(); hw != 5 {
		t.Fatalf("high watermark %d after retries, want 5", hw)
	}
	if _, _, err := send(p, 7, 0, 23, 1); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("gap: %v", err)
	}
	if _, _, err := send(p, 7, 1, 4, 1); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("new epoch not at 0: %v", err)
	}
	if off, _, err := send(p, 7, 1, 0, 1); off != 5 || err != nil {
		t.Fatalf("new epoch at 0: %d %v", off, err)
	}
	if _, _, err := send(p, 7, 0, 22, 1); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("old epoch: %v", err)
	}
	// Another producer and the non-idempotent are independent.
	if _, _, err := send(p, 8, 0, 0, 1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := send(p, -1, -1, -1, 1); err != nil {
		t.Fatal(err)
	}
	// After a crash, the state is rebuilt from the log.
	crashed := fs.CrashClone()
	p.Close()
	cfg.FS = crashed
	p2 := mustOpen(t, "/p", cfg)
	if off, dup, err := send(p2, 7, 1, 0, 1); off != 5 || !dup || err != nil {
		t.Fatalf("retry after restart: %d %v %v", off, dup, err)
	}
	if _, _, err := send(p2, 7, 1, 5, 1); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("gap after restart: %v", err)
	}
	if _, _, err := send(p2, 7, 0, 25, 1); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("old epoch after restart: %v", err)
	}
	if off, _, err := send(p2, 7, 1, 1, 2); off != 8 || err != nil {
		t.Fatalf("next after restart: %d %v", off, err)
	}
}

func TestSequenceWraps(t *testing.T) {
	t.Parallel()
	if got := lastSequence(math.MaxInt32-1, 3); got != 1 {
		t.Fatalf("lastSequence wraps to %d, want 1", got)
	}
	if nextSequence(math.MaxInt32) != 0 {
		t.Fatal("nextSequence does not wrap")
	}
}

func TestReadBatchesBelow(t *testing.T) {
	t.Parallel()
	p := mustOpen(t, "/p", testConfig(t, vfs.NewMem(), newFakeClock()))
	for i := range 5 {
		if _, err := p.AppendBatch(context.Background(), mustParse(t, producerBatch(t, numbered(i*2, 2), -1, -1, -1, 0))); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		from, end int64
		want      int
	}{{0, 6, 3}, {1, 6, 3}, {0, 10, 5}, {4, 5, 1}, {4, 6, 1}, {4, 4, 0}, {6, 6, 0}, {0, 0, 0}} {
		got, _, err := p.ReadBatchesBelow(nil, c.from, 1<<20, true, c.end)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(splitBatches(t, got)); n != c.want {
			t.Errorf("from %d below %d: %d batches, want %d", c.from, c.end, n, c.want)
		}
	}
}

// TestProducerStateRebuildIsBounded: Open reads only the log's tail for
// producer state: a producer whose batches lie before it is accepted at
// any sequence afterwards, one within it keeps its duplicate detection.
func TestProducerStateRebuildIsBounded(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	cfg := testConfig(t, fs, newFakeClock())
	cfg.IndexIntervalBytes = 1 << 10
	cfg.producerScanBytes = 64 << 10
	p, err := Open("/p", cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	append1 := func(p *Partition, pid int64, seq int32, size int) (int64, bool, error) {
		w, err := p.EnqueueBatch(mustParse(t, producerBatch(t, []Record{{Value: make([]byte, size)}}, pid, 0, seq, 0)))
		if err != nil {
			return -1, false, err
		}
		off, err := w.Wait(ctx)
		return off, w.Duplicate, err
	}
	if _, _, err := append1(p, 1, 0, 100); err != nil { // old producer, then 70 KiB of others
		t.Fatal(err)
	}
	for i := range 70 {
		if _, _, err := append1(p, 2, int32(i), 1<<10); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := append1(p, 3, 0, 100); err != nil {
		t.Fatal(err)
	}
	p.Close()
	p2 := mustOpen(t, "/p", cfg)
	if _, dup, err := append1(p2, 3, 0, 100); !dup || err != nil {
		t.Fatalf("recent producer's retry: dup %v, %v", dup, err)
	}
	if _, dup, err := append1(p2, 1, 7, 100); dup || err != nil {
		t.Fatalf("producer older than the scanned tail: dup %v, %v; want accepted afresh", dup, err)
	}
	if _, _, err := append1(p2, 2, 80, 100); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("producer in the tail, gap: %v", err)
	}
}

// TestReadBatchFilesMatchesReadBatches: the file ranges hold exactly the
// bytes ReadBatchesBelow returns, for every offset and limit, across
// segments, on the OS file system (with descriptors) and in memory.
func TestReadBatchFilesMatchesReadBatches(t *testing.T) {
	t.Parallel()
	for _, fsName := range []string{"os", "mem"} {
		cfg := testConfig(t, vfs.NewMem(), newFakeClock())
		dir := "/p"
		if fsName == "os" {
			cfg.FS, dir = vfs.OS, t.TempDir()
		}
		cfg.SegmentBytes = 2000
		cfg.IndexIntervalBytes = 200
		p := mustOpen(t, dir, cfg)
		for i := range 80 {
			if _, err := p.AppendBatch(context.Background(), mustParse(t, producerBatch(t, numbered(i*3, 3), -1, -1, -1, 0))); err != nil {
				t.Fatal(err)
			}
		}
		for _, off := range []int64{0, 1, 5, 60, 119, 200, 239, 240} {
			for _, lim := range []int{1, 150, 400, 5000, 1 << 20} {
				for _, always := range []bool{false, true} {
					for _, end := range []int64{math.MaxInt64, 90} {
						want, _, err := p.ReadBatchesBelow(nil, off, lim, always, end)
						if err != nil {
							t.Fatal(err)
						}
						bf, _, err := p.ReadBatchFiles(off, lim, always, end)
						if err != nil {
							t.Fatal(err)
						}
						var got []byte
						for _, r := range bf.Ranges {
							if (r.RawConn() != nil) != (fsName == "os") {
								t.Fatalf("%s: RawConn %v", fsName, r.RawConn())
							}
							b := make([]byte, r.Len)
							if err := r.ReadAt(b); err != nil {
								t.Fatal(err)
							}
							got = append(got, b...)
						}
						if !bytes.Equal(got, want) || bf.Size != int64(len(want)) {
							t.Fatalf("%s from %d limit %d always %v end %d: %d bytes in ranges, ReadBatches %d", fsName, off, lim, always, end, len(got), len(want))
						}
						if len(want) > 0 {
							bs := splitBatches(t, want)
							last := bs[len(bs)-1]
							h, _ := parseBatchHeader(last, int64(len(last)))
							if bf.LastOffset != h.lastOffset() {
								t.Fatalf("last offset %d, want %d", bf.LastOffset, h.lastOffset())
							}
						}
						bf.Release()
						bf.Release()
					}
				}
			}
		}
		if n := len(*p.segs.Load()); n < 3 {
			t.Fatalf("%d segments, want several", n)
		}
	}
}

// TestReleasePoolsOnlyItsOwnEncodings: Release gives EncodeBatch's bytes
// back for the next encoding, and never a client's (ParseBatch aliases the
// request): an encoding written into a client's request would corrupt it.
func TestReleasePoolsOnlyItsOwnEncodings(t *testing.T) {
	recs := []Record{{Value: bytes.Repeat([]byte("v"), 3000)}}
	mine, err := EncodeBatch(recs, 1, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A client's batch of exactly a pool class's capacity, the case that
	// putBatchBuffer alone would take.
	client := make([]byte, mine.Len(), minPooledBatch)
	copy(client, mine.Bytes())
	theirs, _, err := ParseBatch(client, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	theirs.Release()
	mine.Release()
	if mine.Len() != 0 || theirs.Len() != 0 {
		t.Fatalf("released batches still hold %d and %d bytes", mine.Len(), theirs.Len())
	}
	for range 100 {
		b := getBatchBuffer(3000)
		if &b[:1][0] == &client[0] {
			t.Fatal("the pool handed out a client's batch bytes")
		}
	}
}
