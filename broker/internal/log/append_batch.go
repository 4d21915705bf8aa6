package log

// This file is the write path for batches a client encoded itself (the
// Kafka listener's Produce): they are checked once, then stored byte for
// byte, only their baseOffset rewritten. Appending is split into EnqueueBatch
// (offsets fixed, returns at once) and Pending.Wait (until durable), so that
// one connection can queue request after request and have them share one
// group commit.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"strings"
)

// ErrInvalidBatch is returned (wrapped with what is wrong) by ParseBatch for
// bytes that are not one well-formed, uncompressed, dense record batch v2.
var ErrInvalidBatch = errors.New("invalid record batch")

// Batch is a record batch encoded by a client, checked by ParseBatch and
// ready for EnqueueBatch. The log takes ownership of its bytes when it is
// enqueued (the baseOffset is rewritten in place).
type Batch struct {
	raw    []byte
	h      batchHeader
	pooled bool // raw came from the encodings' pool (EncodeBatch): Release returns it
}

// Release gives the batch's bytes back for later encodings when
// EncodeBatch made them. For a log that copies a queued batch elsewhere
// (the shared log, into its object): the batch must not be used after.
func (b *Batch) Release() {
	if b.pooled {
		putBatchBuffer(b.raw)
	}
	b.raw, b.pooled = nil, false
}

// Len is the batch's size in bytes.
func (b *Batch) Len() int { return len(b.raw) }

// Count is the number of offsets the batch takes: its records, unless
// Without left some out (Records).
func (b *Batch) Count() int { return int(b.h.LastOffsetDelta) + 1 }

// ProducerID, ProducerEpoch and BaseSequence are the idempotent-producer
// fields as sent (-1 when the producer is not idempotent).
func (b *Batch) ProducerID() int64 { return b.h.ProducerID }

// ProducerEpoch is the producer's epoch as sent.
func (b *Batch) ProducerEpoch() int16 { return b.h.ProducerEpoch }

// BaseSequence is the first record's sequence number as sent.
func (b *Batch) BaseSequence() int32 { return b.h.BaseSequence }

// Transactional reports the batch's transactional attribute bit.
func (b *Batch) Transactional() bool { return b.h.Attributes&attrTransactional != 0 }

// Control reports the batch's control attribute bit.
func (b *Batch) Control() bool { return b.h.control() }

// MaxTimestamp is the batch's maxTimestamp field (Unix ms).
func (b *Batch) MaxTimestamp() int64 { return b.h.MaxTimestamp }

// Bytes returns the batch's bytes; they alias the Batch.
func (b *Batch) Bytes() []byte { return b.raw }

// SetLogAppendTime marks the batch LogAppendTime (attribute bit 3) with ms
// as its maxTimestamp, and recomputes the CRC: what Kafka does for a topic
// with message.timestamp.type=LogAppendTime. Readers then take ms as every
// record's timestamp.
func (b *Batch) SetLogAppendTime(ms int64) {
	b.h.Attributes |= attrLogAppendTime
	b.h.MaxTimestamp = ms
	be := binary.BigEndian
	be.PutUint16(b.raw[batchAttrOff:], uint16(b.h.Attributes))
	be.PutUint64(b.raw[35:], uint64(ms))
	be.PutUint32(b.raw[batchCRCOff:], crc32.Checksum(b.raw[batchAttrOff:], crcTable))
}

// ParseBatch checks that raw is exactly one record batch v2 as a client
// sends it: magic 2, a length that matches, a good CRC-32C, no compression
// and no unknown attribute bits, records that frame exactly, offset deltas
// 0, 1, 2, … and lastOffsetDelta = count-1. The baseOffset is ignored (the
// log assigns it). It appends the records to dst, offsets counted from
// baseOffset; their byte slices alias raw, and so do their header keys
// when hs is set (decoded into the reused slab *hs; see ReadFunc for the
// aliasing contract).
//
// A maxTimestamp that is not the records' largest timestamp (for a
// CreateTime batch) is corrected, and the CRC recomputed, as Kafka does, so
// that time lookups can trust it. Errors wrap ErrInvalidBatch.
func ParseBatch(raw []byte, dst []Record, hs *[]Header) (*Batch, []Record, error) {
	return parseBatch(raw, dst, hs, true)
}

// ParseVerifiedBatch is ParseBatch for bytes whose CRC the caller has just
// checked (PeekBatch's CRCOK) or computed (Reframe): it skips the second
// pass over the bytes.
func ParseVerifiedBatch(raw []byte, dst []Record, hs *[]Header) (*Batch, []Record, error) {
	return parseBatch(raw, dst, hs, false)
}

func parseBatch(raw []byte, dst []Record, hs *[]Header, checkCRC bool) (*Batch, []Record, error) {
	start := len(dst)
	dst, h, err := decodeBatchCRC(dst, raw, true, hs, checkCRC)
	if err == nil && h.Count == 0 {
		err = corruptf("the batch holds no records")
	}
	if err != nil {
		msg, _ := strings.CutPrefix(err.Error(), ErrCorrupt.Error()+": ")
		return nil, dst[:start], fmt.Errorf("%w: %s", ErrInvalidBatch, msg)
	}
	if h.Attributes&attrLogAppendTime == 0 {
		maxTs := int64(math.MinInt64)
		for i := start; i < len(dst); i++ {
			maxTs = max(maxTs, dst[i].Timestamp)
		}
		if maxTs != h.MaxTimestamp {
			h.MaxTimestamp = maxTs
			binary.BigEndian.PutUint64(raw[35:], uint64(maxTs))
			binary.BigEndian.PutUint32(raw[batchCRCOff:], crc32.Checksum(raw[batchAttrOff:], crcTable))
		}
	}
	return &Batch{raw: raw, h: h}, dst, nil
}

// Pending is a batch queued by EnqueueBatch. Safe for concurrent use.
type Pending struct {
	req *appendReq
	// Duplicate is set when the batch was an idempotent producer's retry
	// of a batch already queued or stored: nothing new was queued, and
	// Wait reports the original's offsets.
	Duplicate bool
}

// Wait blocks until the batch is durable under the fsync policy, or failed,
// or ctx ends, and returns its base offset. It may be called again.
func (w *Pending) Wait(ctx context.Context) (int64, error) {
	return w.req.wait(ctx)
}

// EnqueueBatch queues b to be appended and returns at once: the batch's
// offsets follow those of every batch queued before it, on this or any
// other goroutine, and precede those queued after. Wait for durability
// with Pending.Wait; batches queued back to back share one write and one
// fdatasync. A batch larger than Config.MaxBatchBytes is refused with
// ErrBatchTooLarge. b must not be used after it is queued.
//
// A batch from an idempotent producer (producer id >= 0) is checked
// against that producer's recent batches (producers.go): a retry of one of
// the last five returns a Pending for the original (Duplicate set), a gap
// in sequence is ErrOutOfOrderSequence and an old epoch
// ErrInvalidProducerEpoch.
func (p *Partition) EnqueueBatch(b *Batch) (*Pending, error) {
	if b == nil || len(b.raw) == 0 {
		return nil, ErrNoRecords
	}
	if limit := p.cfg.Load().MaxBatchBytes; len(b.raw) > limit {
		return nil, fmt.Errorf("log: batch of %d bytes exceeds the limit of %d: %w", len(b.raw), limit, ErrBatchTooLarge)
	}
	if b.Transactional() {
		if err := p.markTransactional(); err != nil { // txn.go
			return nil, err
		}
	}
	req := &appendReq{
		batch: b.raw,
		info:  batchInfo{count: b.Count(), firstTs: b.h.BaseTimestamp, maxTs: b.h.MaxTimestamp, lastDelt: b.h.LastOffsetDelta},
		done:  make(chan struct{}),
	}
	dup, err := p.enqueueChecked(req, &b.h)
	if err != nil {
		return nil, err
	}
	if dup != nil {
		return &Pending{req: dup, Duplicate: true}, nil
	}
	return &Pending{req: req}, nil
}

// AppendBatch is EnqueueBatch then Wait.
func (p *Partition) AppendBatch(ctx context.Context, b *Batch) (int64, error) {
	w, err := p.EnqueueBatch(b)
	if err != nil {
		return 0, err
	}
	return w.Wait(ctx)
}

// BatchHeaderSize is the size of a record batch's fixed header: the
// records (compressed or not) start there.
const BatchHeaderSize = batchHeaderSize

// BatchHead is the fixed header of a batch as a client sent it, read by
// PeekBatch before anything else is trusted.
type BatchHead struct {
	// Size is baseOffset + batchLength: the batch's total size in bytes
	// as its header claims.
	Size  int64
	Magic int8
	// CRCOK reports whether the CRC-32C matches bytes 21 to the end of
	// the claimed size (false when the batch is shorter than it claims).
	CRCOK bool
	// Attributes is the attribute field; Codec is its bits 0-2.
	Attributes int16
	Codec      int8
	// Control and Transactional are attribute bits 5 and 4; UnknownBits
	// says whether a bit above 5 is set.
	Control, Transactional, UnknownBits bool
	// Count is the record count field.
	Count int32
	// BaseOffset and ProducerID are the header's fields of those names.
	BaseOffset, ProducerID int64
}

// HiddenFromReaders reports whether a read_committed record reader skips
// the batch: a control batch (a transaction marker), or a batch of one of
// the aborted transactions (the entries overlapping the read).
func (h BatchHead) HiddenFromReaders(aborted []AbortedTxn) bool {
	return hiddenBatch(h.Control, h.Transactional, h.ProducerID, h.BaseOffset, aborted)
}

// PeekBatch reads the fixed header at the start of raw without checking
// anything but its length, for a caller that must tell a bad CRC from a
// bad magic from a compressed batch (they answer differently). ok is
// false when raw is shorter than a header.
func PeekBatch(raw []byte) (h BatchHead, ok bool) {
	if len(raw) < batchHeaderSize {
		return h, false
	}
	be := binary.BigEndian
	h.Size = int64(int32(be.Uint32(raw[batchLengthOff:]))) + logOverhead
	h.Magic = int8(raw[batchMagicOff])
	h.Attributes = int16(be.Uint16(raw[batchAttrOff:]))
	h.Codec = int8(h.Attributes & attrCompression)
	h.Control = h.Attributes&attrControl != 0
	h.Transactional = h.Attributes&attrTransactional != 0
	h.UnknownBits = h.Attributes&^attrKnown != 0
	h.Count = int32(be.Uint32(raw[57:]))
	h.BaseOffset = int64(be.Uint64(raw[0:]))
	h.ProducerID = int64(be.Uint64(raw[43:]))
	if h.Size >= batchHeaderSize && h.Size <= int64(len(raw)) {
		h.CRCOK = crc32.Checksum(raw[batchAttrOff:h.Size], crcTable) == be.Uint32(raw[batchCRCOff:])
	}
	return h, true
}

// Reframe turns b, a compressed batch's header (BatchHeaderSize bytes)
// followed by its records decompressed, into an uncompressed batch: it
// clears the compression bits, sets batchLength to b's size and recomputes
// the CRC. Producer fields, sequence, timestamps and the other bits stay.
// The result still goes through ParseBatch.
func Reframe(b []byte) {
	if len(b) < batchHeaderSize {
		return
	}
	be := binary.BigEndian
	be.PutUint32(b[batchLengthOff:], uint32(len(b)-logOverhead))
	be.PutUint16(b[batchAttrOff:], be.Uint16(b[batchAttrOff:])&^attrCompression)
	be.PutUint32(b[batchCRCOff:], crc32.Checksum(b[batchAttrOff:], crcTable))
}

// MaxBatchBytes is the largest batch the partition accepts
// (Config.MaxBatchBytes).
func (p *Partition) MaxBatchBytes() int { return p.cfg.Load().MaxBatchBytes }
