package broker

// FetchBatches reads whole stored record batches of several partitions,
// as bytes: the fetch core of the Kafka listener (kafka-listener.md §6).
//
// Each partition's answer starts with the batch that contains its fetch
// offset (Kafka clients skip the records before the offset themselves) and
// adds whole batches while they fit the partition's and the request's byte
// limits; the first batch of the first partition with data goes out
// whatever its size (KIP-74), so a consumer always makes progress. Records
// are never decoded. The partition read first rotates from request to
// request so that no partition starves under a small request limit.
//
// With MaxWait, the fetch waits until MinBytes are there, MaxWait passes,
// ctx ends or the broker drains, waking on every append to a fetched
// partition. A partition error (unknown partition, offset out of range)
// ends the wait at once, as in Kafka.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/broker/internal/log"
)

// MaxFetchBatchesBytes caps a FetchBatches request's byte limit: Kafka
// clients ask for 50 MiB by default, and Kafka's broker clamps to its
// fetch.max.bytes, 55 MiB, instead of refusing.
const MaxFetchBatchesBytes = 55 << 20

// FetchBatchesRequest is a multi-partition fetch of stored batches.
type FetchBatchesRequest struct {
	Partitions []FetchBatchesPartition
	// MaxBytes bounds the whole answer; it is clamped to
	// MaxFetchBatchesBytes, and <= 0 means that cap.
	MaxBytes int
	// MinBytes is how many bytes the answer should hold before a waiting
	// fetch returns; <= 0 answers at once.
	MinBytes int
	// MaxWait bounds the wait for MinBytes; 0 answers at once.
	MaxWait time.Duration
	// Files asks for read_uncommitted partitions' batches as pinned file
	// ranges (FetchBatchesResult.Files, for sendfile) instead of bytes;
	// the caller must Release every result's Files.
	Files bool
	// ReadCommitted stops each partition at its last stable offset and
	// answers the aborted transactions overlapping what is returned
	// (txn.go); MinBytes then counts only those stable bytes.
	ReadCommitted bool
}

// FetchBatchesPartition is one partition of a FetchBatchesRequest.
type FetchBatchesPartition struct {
	Topic     string
	Partition int32
	Offset    int64
	// MaxBytes bounds this partition's share; <= 0 means no bound but the
	// request's.
	MaxBytes int
	// Dst, when set, is memory the batches are read into (from Dst[:0]),
	// so that a caller recycling buffers spares an allocation and its
	// zeroing per read; it grows as needed.
	Dst []byte
}

// FetchBatchesResult is one partition's answer, in request order.
type FetchBatchesResult struct {
	// Err is set for an unknown topic (ErrTopicNotFound), partition
	// (ErrPartitionNotFound), an offset outside the stored range (an error
	// matching ErrOffsetOutOfRange), or a failed read.
	Err error
	// Batches are whole stored batches, back to back; empty (not nil) when
	// there is nothing to send.
	Batches []byte
	// HighWatermark, LastStable and LogStartOffset describe the partition.
	// LastStable equals HighWatermark while no transaction is open.
	HighWatermark, LastStable, LogStartOffset int64
	// Files, under FetchBatchesRequest.Files, holds the batches as ranges
	// of segment files instead of Batches (which is then empty); Release
	// it once sent.
	Files *BatchFiles
	// Aborted lists, under ReadCommitted, the aborted transactions whose
	// batches may be among Batches (the client drops them).
	Aborted []AbortedTxn
}

// BatchFiles are whole stored batches as pinned ranges of segment files
// (FetchBatchesRequest.Files).
type BatchFiles = log.BatchFiles

// fetchRotation makes successive requests start reading at a different
// partition.
var fetchRotation atomic.Uint64

func nextRotation() int { return int(fetchRotation.Add(1) % (1 << 30)) }

// FetchBatches reads the partitions of req, waiting as req says. The
// results are in request order; their bytes belong to the caller.
func (b *Broker) FetchBatches(ctx context.Context, req FetchBatchesRequest) []FetchBatchesResult {
	maxBytes := req.MaxBytes
	if maxBytes <= 0 || maxBytes > MaxFetchBatchesBytes {
		maxBytes = MaxFetchBatchesBytes
	}
	n := len(req.Partitions)
	res := make([]FetchBatchesResult, n)
	parts := make([]partLog, n)
	start := 0
	if n > 0 {
		start = nextRotation() % n
	}
	for i := range res {
		res[i].Batches = req.Partitions[i].Dst[:0]
	}
	var deadline <-chan time.Time
	for {
		// Resolve the partitions on every pass: a deleted topic ends the
		// wait, and CreatePartitions swaps the topic value (sharing its
		// partitions).
		for i, fp := range req.Partitions {
			res[i].HighWatermark, res[i].LastStable, res[i].LogStartOffset = -1, -1, -1
			parts[i] = nil
			t, err := b.lookup(fp.Topic)
			if err != nil {
				res[i].Err = fmt.Errorf("fetch: %w", err)
				continue
			}
			if fp.Partition < 0 || int(fp.Partition) >= len(t.parts) {
				res[i].Err = fmt.Errorf("fetch %s/%d: %w (the topic has partitions 0..%d)", fp.Topic, fp.Partition, ErrPartitionNotFound, len(t.parts)-1)
				continue
			}
			parts[i] = t.parts[fp.Partition]
		}
		// Take the notification channels before reading, so an append
		// between the read and the wait is not missed.
		var wakes []<-chan struct{}
		if req.MaxWait > 0 {
			wakes = make([]<-chan struct{}, 0, n)
			for _, p := range parts {
				if p != nil {
					wakes = append(wakes, p.Notify())
				}
			}
		}
		total, failed := b.readBatchesOnce(req, maxBytes, start, parts, res)
		if req.MaxWait <= 0 || total >= req.MinBytes || failed || len(wakes) == 0 {
			return b.noteFetched(req, res) // stats.go
		}
		if deadline == nil {
			timer := time.NewTimer(req.MaxWait)
			defer timer.Stop()
			deadline = timer.C
		}
		if b.waitHook != nil {
			b.waitHook()
		}
		if !b.waitAny(ctx, wakes, deadline) {
			return b.noteFetched(req, res)
		}
	}
}

// readBatchesOnce reads every partition from its fetch offset into res,
// starting with partition start, and returns the bytes read and whether a
// partition failed.
func (b *Broker) readBatchesOnce(req FetchBatchesRequest, maxBytes, start int, parts []partLog, res []FetchBatchesResult) (int, bool) {
	total, failed := 0, false
	n := len(parts)
	for k := range n {
		i := (start + k) % n
		p := parts[i]
		if p == nil {
			failed = true
			continue
		}
		fp := req.Partitions[i]
		r := &res[i]
		budget := maxBytes - total
		if fp.MaxBytes > 0 {
			budget = min(budget, fp.MaxBytes)
		}
		// The first batch of the first partition with data goes out
		// whatever its size.
		always := total == 0
		var err error
		var hw int64
		stable := p.LastStableOffset() // before the read (txn.go)
		r.Files.Release()              // an earlier pass's, in a long poll
		r.Files = nil
		// A shared partition has no files: its batches are read as bytes.
		if fr, ok := p.(batchFileReader); ok && req.Files && !req.ReadCommitted {
			r.Files, hw, err = fr.ReadBatchFiles(fp.Offset, max(budget, 0), always, math.MaxInt64)
			r.Batches = r.Batches[:0]
		} else {
			r.Batches, hw, err = p.ReadBatches(r.Batches[:0], fp.Offset, max(budget, 0), always)
		}
		if r.Batches == nil {
			r.Batches = []byte{}
		}
		r.LogStartOffset = p.LogStartOffset()
		r.HighWatermark = max(hw, p.HighWatermark())
		r.LastStable = min(p.LastStableOffset(), r.HighWatermark)
		if err == nil && req.ReadCommitted {
			r.Batches, r.Aborted = readCommitted(p, fp.Offset, stable, r.Batches)
		}
		if err != nil {
			var re *log.OffsetRangeError
			if errors.As(err, &re) {
				err = fmt.Errorf("fetch %s/%d: offset %d: %w: valid offsets are %d to %d", fp.Topic, fp.Partition, fp.Offset, ErrOffsetOutOfRange, re.Start, re.End)
			} else {
				err = fmt.Errorf("fetch %s/%d: read at offset %d: %w", fp.Topic, fp.Partition, fp.Offset, err)
			}
			r.Err = err
			failed = true
			continue
		}
		total += len(r.Batches)
		if r.Files != nil {
			total += int(r.Files.Size)
		}
	}
	return total, failed
}

// waitAny waits for one of wakes to close, the deadline, the drain or ctx;
// it reports whether a wake fired.
func (b *Broker) waitAny(ctx context.Context, wakes []<-chan struct{}, deadline <-chan time.Time) bool {
	if len(wakes) == 1 {
		select {
		case <-wakes[0]:
			return true
		case <-deadline:
		case <-b.drain:
		case <-ctx.Done():
		}
		return false
	}
	woke := make(chan struct{}, 1)
	stop := make(chan struct{})
	defer close(stop)
	for _, w := range wakes {
		go func() {
			select {
			case <-w:
				select {
				case woke <- struct{}{}:
				default:
				}
			case <-stop:
			}
		}()
	}
	select {
	case <-woke:
		return true
	case <-deadline:
	case <-b.drain:
	case <-ctx.Done():
	}
	return false
}
