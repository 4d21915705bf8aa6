package log

// Batches with records left out: the Kafka listener's produce diverts the
// records that a data-contract rule sends to a dead-letter topic
// (DESIGN.md §11) and appends the rest of the client's batch. The batch
// keeps the offsets and the idempotent-producer sequence range it was
// sent with, so the producer's state advances exactly as if every record
// had been written (a retry is still recognised, the next batch still
// follows); the left-out records' offsets are gaps, as in a batch that
// compaction thinned. Such a batch is sparse: its offset deltas skip, and
// with every record left out it is empty (record count 0), which Kafka's
// own log cleaner keeps for the same reason (KAFKA-5443) and which Kafka
// clients skip, continuing after its last offset.

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Without returns a copy of b without the records at the indexes in drop
// (ascending positions in the batch). The kept records keep their bytes and
// offset deltas; the header keeps baseTimestamp, lastOffsetDelta, the
// producer fields and baseSequence, with recordCount, batchLength,
// maxTimestamp (the kept records' largest, unless the batch is
// LogAppendTime or empty) and the CRC rewritten. b itself is unchanged.
func (b *Batch) Without(drop []int) (*Batch, error) {
	out := make([]byte, batchHeaderSize, len(b.raw))
	copy(out, b.raw[:batchHeaderSize])
	pos := batchHeaderSize
	kept, next := 0, 0
	for i := range int(b.h.Count) {
		n, w := binary.Varint(b.raw[pos:])
		if w <= 0 || n < 1 || n > int64(len(b.raw)-pos-w) {
			return nil, fmt.Errorf("%w: record %d does not frame", ErrInvalidBatch, i)
		}
		end := pos + w + int(n)
		if next < len(drop) && drop[next] == i {
			next++
		} else {
			out = append(out, b.raw[pos:end]...)
			kept++
		}
		pos = end
	}
	if next != len(drop) {
		return nil, fmt.Errorf("%w: cannot leave out record %d of a batch of %d", ErrInvalidBatch, drop[next], b.h.Count)
	}
	be := binary.BigEndian
	be.PutUint32(out[batchLengthOff:], uint32(len(out)-logOverhead))
	be.PutUint32(out[57:], uint32(kept))
	recs, h, err := decodeBatchCRC(nil, out, false, nil, false)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidBatch, err)
	}
	if h.Attributes&attrLogAppendTime == 0 && len(recs) > 0 {
		h.MaxTimestamp = recs[0].Timestamp
		for _, r := range recs[1:] {
			h.MaxTimestamp = max(h.MaxTimestamp, r.Timestamp)
		}
		be.PutUint64(out[35:], uint64(h.MaxTimestamp))
	}
	h.CRC = crc32.Checksum(out[batchAttrOff:], crcTable)
	be.PutUint32(out[batchCRCOff:], h.CRC)
	return &Batch{raw: out, h: h}, nil
}

// Records is the number of records the batch holds: Count less the
// offsets left out by Without.
func (b *Batch) Records() int { return int(b.h.Count) }

// CheckSequence reports what EnqueueBatch would make of b's
// idempotent-producer fields now: duplicate when b retries one of its
// producer's recent batches (EnqueueBatch would answer with the
// original's offsets), or the ErrOutOfOrderSequence or
// ErrInvalidProducerEpoch it would refuse b with. A caller with work to do
// once per accepted batch (writing its diverted records elsewhere) checks
// before doing it; EnqueueBatch checks again.
func (p *Partition) CheckSequence(b *Batch) (duplicate bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	dup, err := p.checkSequenceLocked(&b.h)
	return dup != nil, err
}
