package broker

import (
	"context"
	"time"

	"github.com/sluicehq/sluice/broker/internal/log"
)

// partLog is what the broker calls on a partition: the seam between the
// broker and its two partition logs, local segment files
// (broker/internal/log, localPart) and the shared log of a cluster
// (broker/internal/shared, sharedPart in cluster_log.go). Both offer the
// same offsets, batches and errors (a shared partition's errors also match
// the local log's sentinels: see sharedError).
type partLog interface {
	// Enqueue encodes recs as one batch and queues it; Wait gives its base
	// offset once durable.
	Enqueue(recs []log.Record) (appendWait, error)
	// EnqueueBatch queues a batch a client encoded.
	EnqueueBatch(b *log.Batch) (appendWait, error)
	// CheckSequence reports what EnqueueBatch would make of b's
	// idempotent-producer fields now (log.Partition.CheckSequence).
	CheckSequence(b *log.Batch) (duplicate bool, err error)
	// NewTxnBatch encodes a transactional batch (log.Partition.NewTxnBatch).
	NewTxnBatch(recs []log.Record, pid int64, epoch int16, nowMs int64) (*log.Batch, error)

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

// batchFileReader is the zero-copy read of a partition kept in local
// segment files (sendfile); a shared partition has no files, and the Kafka
// fetch reads its batches as bytes instead.
type batchFileReader interface {
	ReadBatchFiles(offset int64, maxBytes int, always bool, end int64) (*log.BatchFiles, int64, error)
}

// appendWait is a queued append: *log.Appending, *log.Pending or a shared
// partition's pending batch.
type appendWait interface {
	Wait(ctx context.Context) (int64, error)
}

// localPart is a partition in local segment files. Enqueue and
// EnqueueBatch return the interface; every other method is the log's own.
type localPart struct{ *log.Partition }

var (
	_ partLog         = localPart{}
	_ batchFileReader = localPart{}
)

func (p localPart) Enqueue(recs []log.Record) (appendWait, error) {
	a, err := p.Partition.Enqueue(recs)
	if err != nil {
		return nil, err
	}
	return a, nil
}

func (p localPart) EnqueueBatch(b *log.Batch) (appendWait, error) {
	w, err := p.Partition.EnqueueBatch(b)
	if err != nil {
		return nil, err
	}
	return w, nil
}

// openPartition opens partition i of a topic: from the shared log when
// the broker has one (Config.Shared), else in its local directory
// (created if needed).
func (b *Broker) openPartition(ctx context.Context, name string, id TopicID, i int, lc log.Config) (partLog, error) {
	lc.Logger = b.log.With("topic", name, "partition", i)
	if b.shared != nil {
		return b.openSharedPartition(ctx, id, i, lc) // cluster_log.go
	}
	p, err := log.Open(b.partitionDir(name, i), lc)
	if err != nil {
		return nil, err
	}
	return localPart{p}, nil
}
