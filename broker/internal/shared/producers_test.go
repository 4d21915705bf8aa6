package shared

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/sluicehq/sluice/broker/internal/log"
)

// producerBatch is an idempotent producer's batch of n records.
type producerBatch struct {
	pid   int64
	epoch int16
	seq   int32
	n     int
}

func (pb producerBatch) encode(t *testing.T) *log.Batch {
	t.Helper()
	b, err := log.EncodeBatch(recs(fmt.Sprintf("p%d", pb.pid), int(pb.seq), pb.n), 1, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	raw := append([]byte(nil), b.Bytes()...)
	binary.BigEndian.PutUint64(raw[43:], uint64(pb.pid))
	binary.BigEndian.PutUint16(raw[51:], uint16(pb.epoch))
	binary.BigEndian.PutUint32(raw[53:], uint32(pb.seq))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	out, _, err := log.ParseBatch(raw, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// outcome is what became of one batch, comparable between the logs.
type outcome struct {
	base int64
	dup  bool
	err  string // "", "sequence" or "epoch"
}

func classify(base int64, dup bool, err error) outcome {
	switch {
	case errors.Is(err, log.ErrOutOfOrderSequence):
		return outcome{err: "sequence"}
	case errors.Is(err, log.ErrInvalidProducerEpoch):
		return outcome{err: "epoch"}
	case err != nil:
		return outcome{err: err.Error()}
	}
	return outcome{base: base, dup: dup}
}

// producerCases are steps of batches; the batches of one step are
// enqueued together (one object on the shared log) and then waited for.
var producerCases = []struct {
	name  string
	steps [][]producerBatch
}{
	{"retry of the last batch", [][]producerBatch{{{1, 0, 0, 3}}, {{1, 0, 3, 2}}, {{1, 0, 3, 2}}, {{1, 0, 5, 1}}}},
	{"gap in sequence", [][]producerBatch{{{1, 0, 0, 2}}, {{1, 0, 10, 1}}, {{1, 0, 2, 1}}}},
	{"epochs", [][]producerBatch{{{1, 0, 0, 2}}, {{1, 1, 0, 1}}, {{1, 0, 2, 1}}, {{1, 2, 5, 1}}, {{1, 1, 1, 1}}}},
	{"only the last five are remembered", [][]producerBatch{
		{{1, 0, 0, 1}}, {{1, 0, 1, 1}}, {{1, 0, 2, 1}}, {{1, 0, 3, 1}}, {{1, 0, 4, 1}}, {{1, 0, 5, 1}},
		{{1, 0, 1, 1}}, {{1, 0, 0, 1}}, {{1, 0, 6, 1}},
	}},
	{"two producers interleaved", [][]producerBatch{{{1, 0, 0, 1}, {2, 0, 0, 2}}, {{2, 0, 2, 1}, {1, 0, 1, 1}}, {{2, 0, 2, 1}}}},
	{"a retry in the same object", [][]producerBatch{{{1, 0, 0, 2}, {1, 0, 0, 2}, {1, 0, 2, 1}}, {{1, 0, 2, 1}}}},
	{"a first batch at any sequence", [][]producerBatch{{{7, 3, 42, 2}}, {{7, 3, 44, 1}}}},
	{"sequence wraps", [][]producerBatch{{{1, 0, 2147483646, 2}}, {{1, 0, 0, 1}}, {{1, 0, 0, 1}}}},
}

func TestIdempotentProducersLikeLocalLog(t *testing.T) {
	c := newCluster(t)
	l := c.node("idem", nil)
	ctx := context.Background()
	for ci, tc := range producerCases {
		t.Run(tc.name, func(t *testing.T) {
			local, err := log.Open(t.TempDir(), log.Config{Fsync: log.FsyncPolicy{Mode: log.FsyncNever}, MaintenanceInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer local.Close()
			sh := openPart(t, l, fmt.Sprintf("idem-%d", ci), 0)
			defer sh.Close()
			for si, step := range tc.steps {
				// Before the step, both logs' CheckSequence agree on each
				// batch (against what was committed before).
				for _, pb := range step {
					ld, lerr := local.CheckSequence(pb.encode(t))
					sd, serr := sh.CheckSequence(pb.encode(t))
					if classify(0, ld, lerr) != classify(0, sd, serr) {
						t.Fatalf("step %d: CheckSequence(%+v): local %v %v, shared %v %v", si, pb, ld, lerr, sd, serr)
					}
				}
				var lw []func() outcome
				var sw []*Pending
				var serrs []error
				for _, pb := range step {
					w, lerr := local.EnqueueBatch(pb.encode(t))
					lw = append(lw, func() outcome {
						if lerr != nil {
							return classify(0, false, lerr)
						}
						base, err := w.Wait(ctx)
						return classify(base, w.Duplicate, err)
					})
					s, err := sh.EnqueueBatch(pb.encode(t))
					sw, serrs = append(sw, s), append(serrs, err)
				}
				for i := range step {
					want := lw[i]()
					var got outcome
					if serrs[i] != nil {
						got = classify(0, false, serrs[i])
					} else {
						base, err := sw[i].Wait(ctx)
						got = classify(base, sw[i].Duplicate(), err)
					}
					if got != want {
						t.Fatalf("step %d batch %d %+v: shared %+v, local %+v", si, i, step[i], got, want)
					}
				}
			}
			if lh, sh := local.HighWatermark(), sh.HighWatermark(); lh != sh {
				t.Fatalf("high watermark: local %d, shared %d", lh, sh)
			}
			lr, _ := local.Read(0, 0, 0)
			sr, _ := sh.Read(0, 0, 0)
			if !sameRecords(lr, sr) {
				t.Fatalf("records differ: local %d, shared %d", len(lr), len(sr))
			}
		})
	}
}

// Two nodes appending one producer's batches: the sequence check holds
// across nodes (it runs under the partition's row lock).
func TestIdempotentAcrossNodes(t *testing.T) {
	c := newCluster(t)
	a, b := c.node("a", nil), c.node("b", nil)
	pa, pb := openPart(t, a, "idem-x", 0), openPart(t, b, "idem-x", 0)
	ctx := context.Background()
	first, err := pa.AppendBatch(ctx, producerBatch{9, 0, 0, 3}.encode(t))
	if err != nil {
		t.Fatal(err)
	}
	// The retry reaches the other node (the producer reconnected there).
	w, err := pb.EnqueueBatch(producerBatch{9, 0, 0, 3}.encode(t))
	if err != nil {
		t.Fatal(err)
	}
	if base, err := w.Wait(ctx); err != nil || base != first || !w.Duplicate() {
		t.Fatalf("retry on node b: base %d dup %v err %v, want the original's %d", base, w.Duplicate(), err, first)
	}
	if _, err := pb.AppendBatch(ctx, producerBatch{9, 0, 5, 1}.encode(t)); !errors.Is(err, log.ErrOutOfOrderSequence) {
		t.Fatalf("gap on node b: %v", err)
	}
	if base, err := pb.AppendBatch(ctx, producerBatch{9, 0, 3, 1}.encode(t)); err != nil || base != 3 {
		t.Fatalf("next on node b: %d, %v", base, err)
	}
}
