package shared

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/internal/log"
)

// appendOp is one append of an equivalence case: records through Append,
// or a client-encoded batch through EnqueueBatch.
type appendOp struct {
	recs          []log.Record
	asBatch       bool  // encode and append as a client batch
	logAppendTime int64 // with asBatch: stamp LogAppendTime
	drop          []int // with asBatch: leave these records out (Batch.Without)
}

// equivCases run on a local log.Partition and a shared Partition alike;
// every read must answer the same.
var equivCases = []struct {
	name string
	ops  []appendOp
}{
	{"one record", []appendOp{{recs: recs("x", 0, 1)}}},
	{"many small batches", func() []appendOp {
		var ops []appendOp
		for i := range 20 {
			ops = append(ops, appendOp{recs: recs("x", i*2, 2)})
		}
		return ops
	}()},
	{"nulls, empties and headers", []appendOp{{recs: []log.Record{
		{Key: nil, Value: []byte("v"), Timestamp: 5},
		{Key: []byte{}, Value: nil, Timestamp: 3},
		{Key: []byte("k"), Value: []byte{}, Headers: []log.Header{{Key: "h1", Value: []byte("a")}, {Key: "h2", Value: nil}, {Key: "", Value: []byte{}}}, Timestamp: 9},
	}}}},
	{"client batches", []appendOp{{recs: recs("c", 0, 5), asBatch: true}, {recs: recs("c", 5, 1), asBatch: true}, {recs: recs("d", 0, 3)}}},
	{"sparse and empty batches (records left out)", []appendOp{
		{recs: recs("s", 0, 5), asBatch: true, drop: []int{1, 2}},
		{recs: recs("s", 5, 2), asBatch: true, drop: []int{0, 1}},
		{recs: recs("s", 7, 3), asBatch: true, drop: []int{2}},
		{recs: recs("s", 10, 2)},
	}},
	{"log append time", []appendOp{{recs: recs("l", 0, 4), asBatch: true, logAppendTime: 1_800_000_000_000}, {recs: recs("l", 4, 2)}}},
	{"large values", []appendOp{
		{recs: []log.Record{{Key: []byte("big"), Value: bytes.Repeat([]byte("0123456789"), 30_000), Timestamp: 100}}},
		{recs: recs("after", 0, 3)},
		{recs: []log.Record{{Value: bytes.Repeat([]byte("z"), 70_000), Timestamp: 50}, {Value: []byte("small"), Timestamp: 200}}},
	}},
	{"timestamps out of order", []appendOp{
		{recs: []log.Record{{Value: []byte("a"), Timestamp: 300}, {Value: []byte("b"), Timestamp: 100}}},
		{recs: []log.Record{{Value: []byte("c"), Timestamp: 200}}},
		{recs: []log.Record{{Value: []byte("d"), Timestamp: 400}, {Value: []byte("e"), Timestamp: 150}}},
	}},
}

func encodeOp(t *testing.T, op appendOp) *log.Batch {
	t.Helper()
	b, err := log.EncodeBatch(op.recs, 1, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Through ParseBatch, as the Kafka listener hands batches over.
	raw := bytes.Clone(b.Bytes())
	pb, _, err := log.ParseBatch(raw, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if op.logAppendTime != 0 {
		pb.SetLogAppendTime(op.logAppendTime)
	}
	if op.drop != nil {
		if pb, err = pb.Without(op.drop); err != nil {
			t.Fatal(err)
		}
	}
	return pb
}

func TestEquivalenceWithLocalLog(t *testing.T) {
	c := newCluster(t)
	l := c.node("eq", nil)
	ctx := context.Background()
	for ci, tc := range equivCases {
		t.Run(tc.name, func(t *testing.T) {
			local, err := log.Open(t.TempDir(), log.Config{Fsync: log.FsyncPolicy{Mode: log.FsyncNever}, MaintenanceInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer local.Close()
			sh := openPart(t, l, fmt.Sprintf("equiv-%d", ci), 0)
			defer sh.Close()
			for i, op := range tc.ops {
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
					t.Fatalf("append %d: local %d %v, shared %d %v", i, lb, lerr, sb, serr)
				}
			}
			hw := local.HighWatermark()
			if got := sh.HighWatermark(); got != hw {
				t.Fatalf("high watermark: local %d, shared %d", hw, got)
			}
			var lrb, srb log.ReadBuffer
			for off := int64(0); off <= hw; off++ {
				for _, maxBytes := range []int{1, 100, 500, 70_000, 1 << 20} {
					for _, always := range []bool{false, true} {
						lw, lh, lerr := local.ReadBatches(nil, off, maxBytes, always)
						sw, shw, serr := sh.ReadBatches(nil, off, maxBytes, always)
						if (lerr == nil) != (serr == nil) || lh != shw || !bytes.Equal(lw, sw) {
							t.Fatalf("ReadBatches(%d, %d, %v): local %d bytes hw %d err %v; shared %d bytes hw %d err %v",
								off, maxBytes, always, len(lw), lh, lerr, len(sw), shw, serr)
						}
					}
				}
				for _, lim := range [][2]int{{0, 0}, {1, 0}, {2, 1}, {0, 40}, {3, 100_000}} {
					lr, lerr := local.Read(off, lim[0], lim[1])
					sr, serr := sh.Read(off, lim[0], lim[1])
					if (lerr == nil) != (serr == nil) || !sameRecords(lr, sr) {
						t.Fatalf("Read(%d, %d, %d): local %d records err %v; shared %d records err %v", off, lim[0], lim[1], len(lr), lerr, len(sr), serr)
					}
					// ReadFunc with a ReadBuffer kept across calls, as
					// streaming consumers read: the same records.
					lr, lerr = readFuncCopies(local, off, lim[0], lim[1], &lrb)
					sr, serr = readFuncCopies(sh, off, lim[0], lim[1], &srb)
					if (lerr == nil) != (serr == nil) || !sameRecords(lr, sr) {
						t.Fatalf("ReadFunc(%d, %d, %d): local %d records err %v; shared %d records err %v", off, lim[0], lim[1], len(lr), lerr, len(sr), serr)
					}
				}
			}
			for _, ts := range []int64{0, 1, 5, 100, 150, 250, 1_700_000_000_003, 1_800_000_000_000, 1 << 50} {
				lo, lerr := local.OffsetForTime(ts)
				so, serr := sh.OffsetForTime(ts)
				if lerr != nil || serr != nil || lo != so {
					t.Fatalf("OffsetForTime(%d): local %d %v, shared %d %v", ts, lo, lerr, so, serr)
				}
			}
			for _, off := range []int64{-1, hw + 1} {
				_, _, lerr := local.ReadBatches(nil, off, 100, true)
				_, _, serr := sh.ReadBatches(nil, off, 100, true)
				if lerr == nil || serr == nil || lerr.Error() != serr.Error() {
					t.Fatalf("ReadBatches(%d): local %v, shared %v", off, lerr, serr)
				}
			}
		})
	}
}

func sameRecords(a, b []log.Record) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if len(x.Headers) == 0 {
			x.Headers = nil
		}
		if len(y.Headers) == 0 {
			y.Headers = nil
		}
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}

// partitionLog is the part of *log.Partition's method set that the broker
// calls and a shared partition offers too: the interface a later step
// puts into package broker. Besides it, both have EnqueueBatch, returning
// each its own Pending (Wait(ctx) (int64, error)); *log.Partition also has
// ReadBatchFiles, the zero-copy path of local segment files.
type partitionLog interface {
	Append(ctx context.Context, recs []log.Record) (int64, error)
	AppendBatch(ctx context.Context, b *log.Batch) (int64, error)
	ReadBatches(dst []byte, offset int64, maxBytes int, always bool) ([]byte, int64, error)
	ReadBatchesBelow(dst []byte, offset int64, maxBytes int, always bool, end int64) ([]byte, int64, error)
	Read(offset int64, maxRecords, maxBytes int) ([]log.Record, error)
	ReadFunc(offset int64, maxRecords, maxBytes int, rb *log.ReadBuffer, visit func(*log.Record) error) (int, error)
	HighWatermark() int64
	LastStableOffset() int64
	LogStartOffset() int64
	Size() int64
	Notify() <-chan struct{}
	OffsetForTime(ts int64) (int64, error)
	DeleteRecordsBefore(offset int64) (int64, error)
	RunMaintenance(now time.Time) error
	Reconfigure(cfg log.Config) error
	OpenTxns() []log.OpenTxn
	AbortedTxns(from, to int64) []log.AbortedTxn
	WriteTxnMarker(ctx context.Context, pid int64, epoch int16, commit bool, coordinatorEpoch int32) (int64, error)
	MaxBatchBytes() int
	Close() error
}

var (
	_ partitionLog = (*log.Partition)(nil)
	_ partitionLog = (*Partition)(nil)
)

// readFuncCopies reads with p.ReadFunc into rb and returns copies of the
// records visited (each is valid only during its visit).
func readFuncCopies(p partitionLog, off int64, maxRecords, maxBytes int, rb *log.ReadBuffer) ([]log.Record, error) {
	var out []log.Record
	_, err := p.ReadFunc(off, maxRecords, maxBytes, rb, func(r *log.Record) error {
		c := *r
		c.Key, c.Value = bytes.Clone(r.Key), bytes.Clone(r.Value)
		c.Headers = nil
		for _, h := range r.Headers {
			c.Headers = append(c.Headers, log.Header{Key: strings.Clone(h.Key), Value: bytes.Clone(h.Value)})
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

func TestReadBatchesBelow(t *testing.T) {
	c := newCluster(t)
	l := c.node("below", func(cfg *Config) { cfg.MergeAge = time.Millisecond; cfg.MergeRunBytes = 1 << 20 })
	ctx := context.Background()
	local, err := log.Open(t.TempDir(), log.Config{Fsync: log.FsyncPolicy{Mode: log.FsyncNever}, MaintenanceInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	sh := openPart(t, l, "below", 0)
	if err := sh.Reconfigure(log.Config{RetentionAge: -1}); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		r := recs("b", i*2, 2)
		if _, err := local.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
		if _, err := sh.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string) {
		for off := int64(0); off <= 12; off++ {
			for end := int64(0); end <= 13; end++ {
				lw, lh, lerr := local.ReadBatchesBelow(nil, off, 1<<20, true, end)
				sw, shw, serr := sh.ReadBatchesBelow(nil, off, 1<<20, true, end)
				if (lerr == nil) != (serr == nil) || lh != shw || !bytes.Equal(lw, sw) {
					t.Fatalf("%s: ReadBatchesBelow(%d, end %d): local %d bytes %v, shared %d bytes %v", what, off, end, len(lw), lerr, len(sw), serr)
				}
			}
		}
	}
	check("intake objects")
	time.Sleep(5 * time.Millisecond)
	if err := sh.RunMaintenance(time.Now()); err != nil { // merges all six into one run
		t.Fatal(err)
	}
	if l.Stats().Merges != 1 {
		t.Fatal("no merge")
	}
	check("one merged run")
}
