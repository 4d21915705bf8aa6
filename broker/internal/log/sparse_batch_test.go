package log

import (
	"context"
	"errors"
	"testing"

	"github.com/sluicehq/sluice/broker/internal/log/vfs"
)

// TestBatchWithoutKeepsOffsetsAndSequence: a batch with records left out
// (and one with all of them) spans the offsets the client sent, reads back
// with the kept records at their offsets, advances the producer's
// sequence by the whole batch (a retry is a duplicate, the next batch is
// accepted) and survives a crash and recovery of the active segment with
// the producer state rebuilt from it.
func TestBatchWithoutKeepsOffsetsAndSequence(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	cfg := testConfig(t, fs, newFakeClock())
	p, err := Open("/p", cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const pid, epoch = 42, 0
	recs := numbered(0, 4)
	for i := range recs {
		recs[i].Timestamp = int64(1000 + i)
	}
	// Batch 1: records 1 and 3 left out; batch 2: all left out; batch 3
	// whole. Sequences 0-3, 4-5, 6-7.
	b1, err := mustParse(t, producerBatch(t, recs, pid, epoch, 0, 0)).Without([]int{1, 3})
	if err != nil {
		t.Fatal(err)
	}
	if b1.Records() != 2 || b1.Count() != 4 || b1.MaxTimestamp() != 1002 {
		t.Fatalf("sparse batch: %d records, %d offsets, maxTimestamp %d; want 2, 4, 1002", b1.Records(), b1.Count(), b1.MaxTimestamp())
	}
	if base, err := p.AppendBatch(ctx, b1); err != nil || base != 0 {
		t.Fatalf("append sparse batch: base %d, %v", base, err)
	}
	b2, err := mustParse(t, producerBatch(t, numbered(4, 2), pid, epoch, 4, 0)).Without([]int{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if base, err := p.AppendBatch(ctx, b2); err != nil || base != 4 {
		t.Fatalf("append empty batch: base %d, %v", base, err)
	}
	// A retry of batch 2 as the client sent it is a duplicate.
	retry := mustParse(t, producerBatch(t, numbered(4, 2), pid, epoch, 4, 0))
	if dup, err := p.CheckSequence(retry); !dup || err != nil {
		t.Fatalf("CheckSequence of a retry: duplicate %v, %v", dup, err)
	}
	if w, err := p.EnqueueBatch(retry); err != nil || !w.Duplicate {
		t.Fatalf("retry: %+v, %v", w, err)
	}
	// A gap is still refused.
	gap := mustParse(t, producerBatch(t, numbered(6, 2), pid, epoch, 7, 0))
	if _, err := p.CheckSequence(gap); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("CheckSequence of a gap: %v", err)
	}
	if base, err := p.AppendBatch(ctx, mustParse(t, producerBatch(t, numbered(6, 2), pid, epoch, 6, 0))); err != nil || base != 6 {
		t.Fatalf("append after the empty batch: base %d, %v", base, err)
	}
	want := []Record{recs[0], recs[2]}
	want = append(withOffsets(0, want[:1]), withOffsets(2, want[1:])...)
	want = append(want, withOffsets(6, numbered(6, 2))...)
	check := func(p *Partition) {
		t.Helper()
		if hw := p.HighWatermark(); hw != 8 {
			t.Fatalf("high watermark %d, want 8", hw)
		}
		got := readAll(t, p, 0)
		for i := range got {
			got[i].Timestamp = 0
		}
		for i := range want {
			want[i].Timestamp = 0
		}
		sameRecords(t, got, want)
		// From a left-out offset and from the empty batch's.
		for _, from := range []int64{1, 4} {
			if got := readAll(t, p, from); len(got) == 0 || got[0].Offset != map[int64]int64{1: 2, 4: 6}[from] {
				t.Fatalf("read from %d: %v", from, fmtRecords(got))
			}
		}
	}
	check(p)

	crashed := fs.CrashClone()
	p.Close()
	cfg.FS = crashed
	p2 := mustOpen(t, "/p", cfg)
	check(p2)
	// The rebuilt producer state knows the batches' whole sequence
	// ranges: the retry of batch 2 is a duplicate, sequence 8 follows.
	if dup, err := p2.CheckSequence(retry); !dup || err != nil {
		t.Fatalf("after recovery, CheckSequence of a retry: duplicate %v, %v", dup, err)
	}
	if base, err := p2.AppendBatch(ctx, mustParse(t, producerBatch(t, numbered(8, 1), pid, epoch, 8, 0))); err != nil || base != 8 {
		t.Fatalf("append after recovery: base %d, %v", base, err)
	}
}

// TestBatchWithoutRefuses: indexes outside the batch are an error, and a
// client's batch with no records is refused by ParseBatch (only Without
// makes empty batches).
func TestBatchWithoutRefuses(t *testing.T) {
	t.Parallel()
	b := mustParse(t, producerBatch(t, numbered(0, 2), -1, -1, -1, 0))
	if _, err := b.Without([]int{2}); !errors.Is(err, ErrInvalidBatch) {
		t.Fatalf("Without(2) of 2 records: %v", err)
	}
	empty, err := b.Without([]int{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ParseBatch(empty.Bytes(), nil, nil); !errors.Is(err, ErrInvalidBatch) {
		t.Fatalf("ParseBatch of an empty batch: %v", err)
	}
}
