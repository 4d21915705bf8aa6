package broker

// ProduceBatches appends record batches that a Kafka client encoded: the
// produce core of the Kafka listener (DESIGN.md §9; kafka-listener.md §4).
//
// Each partition's batch is checked on its own and refused on its own;
// the other partitions of the request proceed. Per batch, in order:
// the partition exists; the batch is at most max.message.bytes as sent;
// it is one whole batch of magic 2 with a good CRC-32C, no control bit and
// a known codec; a compressed batch is decompressed (at most the log's
// batch limit, RECORD_LIST_TOO_LARGE beyond) and re-framed uncompressed
// with its producer fields kept; its records frame exactly with offset
// deltas 0..n-1; a keyless record on a compacted topic is refused. Then
// the records of every surviving batch of the topic go through the same
// Config.Validator as Connect's Produce, in one call; a batch with any bad
// record is refused whole (a *BatchError naming each record by its index
// in the batch, with the same reason as the Connect refusal), unless every
// bad record is one a data-contract rule diverts to a DLQ topic
// (enforce_rules_kafka.go).
//
// Accepted batches are stored as sent, only the base offset assigned, and
// queued at once (stage 1); BatchOutcome.Wait waits until they are durable
// (stage 2), so requests queued back to back share one group commit.
// Timestamps stay as the producer set them. Keys are not hashed: a Kafka
// client chose the partition.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/broker/internal/compression"
	"github.com/sluicehq/sluice/broker/internal/log"
)

// Errors of ProduceBatches, each wrapped with what is wrong and where. The
// Kafka transport maps each to its error code.
var (
	// ErrPartitionNotFound: the topic has no such partition.
	ErrPartitionNotFound = errors.New("partition not found")
	// ErrCorruptBatch: the batch's CRC does not match, its codec is
	// unknown, or its compressed payload does not decode.
	ErrCorruptBatch = errors.New("corrupt record batch")
	// ErrInvalidBatch: the bytes are not one well-formed record batch v2
	// from a producer (wrong magic, framing, offset deltas, the control
	// bit, more than one batch).
	ErrInvalidBatch = errors.New("invalid record batch")
	// ErrMessageTooLarge: the batch as sent exceeds max.message.bytes.
	ErrMessageTooLarge = errors.New("record batch larger than max.message.bytes")
	// ErrRecordListTooLarge: the decompressed records exceed the log's
	// batch limit.
	ErrRecordListTooLarge = errors.New("decompressed record batch too large")
	// ErrStorage: the partition's log failed (a write or fdatasync error)
	// and refuses appends until the broker restarts.
	ErrStorage = log.ErrFailed
)

// PartitionBatch is one partition's batch of a Kafka Produce request.
type PartitionBatch struct {
	Partition int32
	// Raw is the record batch as the client sent it. The broker takes
	// ownership: it may rewrite the bytes in place and keeps them until the
	// batch is written.
	Raw []byte
}

// BatchOutcome is what became of one PartitionBatch.
type BatchOutcome struct {
	Partition int32
	// Err, when set, refused the batch before anything was queued: a
	// *BatchError (records refused), or an error wrapping
	// ErrPartitionNotFound, ErrCorruptBatch, ErrInvalidBatch,
	// ErrMessageTooLarge, ErrRecordListTooLarge, ErrStorage,
	// ErrOutOfOrderSequence, ErrInvalidProducerEpoch, ErrInvalidTxnState
	// (a transactional batch for a partition that is not in its
	// producer's open transaction, txn.go), or the validator's own error
	// (a registry failure).
	Err error
	// LogAppendTime is the append time stamped on the batch (Unix ms), or
	// -1 when the topic keeps producer timestamps.
	LogAppendTime int64

	part    partLog
	pending appendWait
}

// Wait blocks until the queued batch is durable under the fsync policy and
// returns its base offset and the partition's log start offset. It returns
// Err at once for a refused batch. ctx ends the wait, not the write.
func (o *BatchOutcome) Wait(ctx context.Context) (base, logStart int64, err error) {
	if o.Err != nil {
		return -1, -1, o.Err
	}
	base, err = o.pending.Wait(ctx)
	if err != nil {
		if errors.Is(err, log.ErrClosed) {
			err = fmt.Errorf("%w: %w", ErrClosed, err)
		}
		return -1, -1, err
	}
	return base, o.part.LogStartOffset(), nil
}

// BatchError refuses one partition's batch because of some of its records.
// Nothing of the batch was written.
type BatchError struct {
	Topic     string
	Partition int32
	// Count is the number of records in the batch.
	Count int
	// Records are the bad records, Index being the position in the batch,
	// in batch order.
	Records []*RecordError
}

// maxReasonBytes bounds each record's reason in BatchError's message.
const maxReasonBytes = 1 << 10

// Error summarises the refusal with the first three bad records, each
// reason cut to about 1 KiB, as Kafka's own message does.
func (e *BatchError) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "produce %s/%d: %d of %d records refused", e.Topic, e.Partition, len(e.Records), e.Count)
	for i, r := range e.Records {
		if i == 3 {
			fmt.Fprintf(&sb, "; and %d more", len(e.Records)-3)
			break
		}
		fmt.Fprintf(&sb, "; record %d: %s", r.Index, TruncateReason(r.Err.Error()))
	}
	return sb.String()
}

// Is makes every BatchError an ErrInvalidArgument.
func (e *BatchError) Is(target error) bool { return target == ErrInvalidArgument }

// TruncateReason cuts s to about 1 KiB on a rune boundary, marking the cut.
func TruncateReason(s string) string {
	if len(s) <= maxReasonBytes {
		return s
	}
	cut := maxReasonBytes
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

// ProduceBatches checks each batch, runs the topic's validator over the
// records of the batches that passed, and queues the accepted ones, in the
// order given (a partition's batches are queued in request order; queueing
// happens before ProduceBatches returns). An unknown topic is an error
// wrapping ErrTopicNotFound; everything else is per batch, in the outcomes
// (one per batch, in order). The caller then calls Wait on each outcome.
func (b *Broker) ProduceBatches(ctx context.Context, topicName string, batches []PartitionBatch) ([]BatchOutcome, error) {
	t, err := b.lookup(topicName)
	if err != nil {
		return nil, fmt.Errorf("produce: %w", err)
	}
	cfg := t.cfg.Load()
	out := make([]BatchOutcome, len(batches))
	parsed := make([]*log.Batch, len(batches))
	// The records of every batch that passed the checks, in one slice for
	// one validator call; first[i] is where batch i's records start. The
	// slice is pooled: a request of a thousand records would otherwise
	// allocate and grow ~100 KiB of it.
	pooled := produceRecordsPool.Get().(*[]ProduceRecord)
	recs := (*pooled)[:0]
	defer func() {
		clear(recs) // they alias the request's bytes
		if cap(recs) <= maxPooledProduceRecords {
			*pooled = recs[:0]
			produceRecordsPool.Put(pooled)
		}
	}()
	first := make([]int, len(batches)+1)
	var lrecs []log.Record
	for i := range batches {
		pb := &batches[i]
		o := &out[i]
		o.Partition, o.LogAppendTime = pb.Partition, -1
		first[i] = len(recs)
		if pb.Partition < 0 || int(pb.Partition) >= len(t.parts) {
			o.Err = fmt.Errorf("produce %s/%d: %w (the topic has partitions 0..%d)", topicName, pb.Partition, ErrPartitionNotFound, len(t.parts)-1)
			continue
		}
		o.part = t.parts[pb.Partition]
		var batch *log.Batch
		batch, lrecs, o.Err = b.checkBatch(topicName, pb, cfg, o.part, lrecs[:0])
		if o.Err != nil {
			continue
		}
		parsed[i] = batch
		p := pb.Partition
		recs = slices.Grow(recs, len(lrecs))
		for j := range lrecs {
			r := &lrecs[j]
			recs = append(recs, ProduceRecord{Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp, Partition: &p})
		}
	}
	first[len(batches)] = len(recs)

	bad := make([][]*RecordError, len(batches))
	if cfg.Compact {
		for i := range batches {
			for j := first[i]; j < first[i+1]; j++ {
				if recs[j].Key == nil {
					bad[i] = append(bad[i], &RecordError{Index: j - first[i], Err: invalidf("a record on compacted topic %s needs a key", topicName)})
				}
			}
		}
	}
	if b.cfg.Validator != nil && len(recs) > 0 {
		err := b.cfg.Validator.ValidateProduce(ctx, topicName, cfg, recs)
		var pe *ProduceError
		switch {
		case errors.As(err, &pe):
			for _, re := range pe.Records {
				// Map the index in recs back to (batch, index in batch).
				i := batchOf(first, re.Index)
				bad[i] = append(bad[i], &RecordError{Index: re.Index - first[i], Err: re.Err})
			}
		case err != nil:
			// Not about records (the registry failed): no batch of the
			// topic can be checked, so none is written.
			for i := range out {
				if out[i].Err == nil {
					out[i].Err = fmt.Errorf("produce %s/%d: %w", topicName, out[i].Partition, err)
				}
			}
		}
	}
	for i := range out {
		o := &out[i]
		if o.Err != nil {
			continue
		}
		queued := recs[first[i]:first[i+1]]
		if len(bad[i]) > 0 {
			sortRecordErrors(bad[i])
			// Records that data-contract rules divert are written to their
			// DLQ topics and the batch is queued without them; any other
			// refusal refuses the batch (enforce_rules_kafka.go).
			parsed[i], queued, o.Err = b.divertBatch(ctx, topicName, o.part, o, parsed[i], queued, bad[i])
			if o.Err != nil {
				continue
			}
		}
		var release func()
		if parsed[i].Transactional() {
			// txn.go: only into a partition of an open transaction.
			release, o.Err = b.txnProduceBegin(topicName, o.Partition, parsed[i].ProducerID(), parsed[i].ProducerEpoch())
			if o.Err != nil {
				continue
			}
		}
		if cfg.LogAppendTime {
			// message.timestamp.type=LogAppendTime: the broker's clock
			// becomes every record's timestamp (the batch's maxTimestamp,
			// attribute bit 3, a new CRC), as in Kafka.
			o.LogAppendTime = b.cfg.Now().UnixMilli()
			parsed[i].SetLogAppendTime(o.LogAppendTime)
		}
		w, err := o.part.EnqueueBatch(parsed[i])
		if release != nil {
			release()
		}
		if err != nil {
			o.Err = fmt.Errorf("produce %s/%d: %w", topicName, o.Partition, err)
			if errors.Is(err, log.ErrBatchTooLarge) {
				o.Err = fmt.Errorf("produce %s/%d: %w: %w", topicName, o.Partition, ErrRecordListTooLarge, err)
			}
			continue
		}
		o.pending = w
		t.noteQueued(o.Partition, queued) // stats.go
	}
	return out, nil
}

// produceRecordsPool holds ProduceBatches' record slices between requests.
var produceRecordsPool = sync.Pool{New: func() any { return new([]ProduceRecord) }}

// maxPooledProduceRecords bounds the slices kept: a rare huge request should
// not pin its slice.
const maxPooledProduceRecords = 1 << 16

// batchOf returns the batch whose records [first[i], first[i+1]) hold
// record index j.
func batchOf(first []int, j int) int {
	for i := 0; i+1 < len(first); i++ {
		if first[i] <= j && j < first[i+1] {
			return i
		}
	}
	return len(first) - 2 // unreachable for a j the validator was given
}

// sortRecordErrors orders a batch's record errors by index (the compacted
// check and the validator each produce them in order; merged they may not
// be), stable so that a record's key side stays before its value side.
func sortRecordErrors(errs []*RecordError) {
	for i := 1; i < len(errs); i++ {
		for j := i; j > 0 && errs[j].Index < errs[j-1].Index; j-- {
			errs[j], errs[j-1] = errs[j-1], errs[j]
		}
	}
}

// checkBatch runs the per-batch checks and returns the batch ready to
// queue, with its records appended to recs (aliasing the batch's bytes).
func (b *Broker) checkBatch(topicName string, pb *PartitionBatch, cfg *TopicConfig, part partLog, recs []log.Record) (*log.Batch, []log.Record, error) {
	where := fmt.Sprintf("produce %s/%d", topicName, pb.Partition)
	raw := pb.Raw
	if len(raw) > cfg.MaxMessageBytes {
		return nil, recs, fmt.Errorf("%s: %w: the batch is %d bytes, max.message.bytes is %d", where, ErrMessageTooLarge, len(raw), cfg.MaxMessageBytes)
	}
	h, ok := log.PeekBatch(raw)
	switch {
	case !ok:
		return nil, recs, fmt.Errorf("%s: %w: %d bytes cannot hold a batch header (%d bytes)", where, ErrInvalidBatch, len(raw), log.BatchHeaderSize)
	case h.Magic != 2:
		return nil, recs, fmt.Errorf("%s: %w: magic %d; only record batch v2 (magic 2) is accepted", where, ErrInvalidBatch, h.Magic)
	case h.Size < log.BatchHeaderSize || h.Size > int64(len(raw)):
		return nil, recs, fmt.Errorf("%s: %w: the batch claims %d bytes, %d were sent", where, ErrInvalidBatch, h.Size, len(raw))
	case h.Size < int64(len(raw)):
		return nil, recs, fmt.Errorf("%s: %w: %d bytes follow the first batch; a partition takes one batch per request", where, ErrInvalidBatch, int64(len(raw))-h.Size)
	case !h.CRCOK:
		return nil, recs, fmt.Errorf("%s: %w: CRC-32C mismatch", where, ErrCorruptBatch)
	case h.Control:
		return nil, recs, fmt.Errorf("%s: %w: the control bit is set; control batches are written by the broker only", where, ErrInvalidBatch)
	case h.UnknownBits:
		return nil, recs, fmt.Errorf("%s: %w: attributes %#04x set unknown bits", where, ErrInvalidBatch, uint16(h.Attributes))
	case h.Codec > int8(compression.Zstd):
		return nil, recs, fmt.Errorf("%s: %w: compression codec %d is unknown", where, ErrCorruptBatch, h.Codec)
	}
	if h.Codec != int8(compression.None) {
		limit := part.MaxBatchBytes() - log.BatchHeaderSize
		buf := make([]byte, log.BatchHeaderSize, log.BatchHeaderSize+min(4*len(raw), limit))
		copy(buf, raw[:log.BatchHeaderSize])
		var err error
		buf, err = compression.Decompress(buf, compression.Codec(h.Codec), raw[log.BatchHeaderSize:], limit)
		switch {
		case errors.Is(err, compression.ErrTooLarge):
			return nil, recs, fmt.Errorf("%s: %w: %v", where, ErrRecordListTooLarge, err)
		case err != nil:
			return nil, recs, fmt.Errorf("%s: %w: %v", where, ErrCorruptBatch, err)
		}
		log.Reframe(buf)
		raw = buf
	}
	// The CRC was checked above (or computed by Reframe), and a per-batch
	// slab holds the records' headers.
	var hs []log.Header
	batch, recs, err := log.ParseVerifiedBatch(raw, recs, &hs)
	if err != nil {
		return nil, recs, fmt.Errorf("%s: %w: %v", where, ErrInvalidBatch, err)
	}
	return batch, recs, nil
}
