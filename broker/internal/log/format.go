package log

// This file owns the bytes of every file kind in a partition directory.
//
// # Segment file: <base offset, 20 digits>.log
//
// A sequence of record batches in Kafka's record batch v2 layout (magic 2),
// back to back, no file header, so that Kafka tooling can read our segments.
// Integers are big-endian; "varint" is the zigzag LEB128 varint Kafka and
// protobuf's sint64 use.
//
//	off  size  field
//	  0     8  baseOffset            offset of the batch's first record
//	  8     4  batchLength           bytes after this field (total - 12)
//	 12     4  partitionLeaderEpoch  always 0 (no replication yet)
//	 16     1  magic                 2; never change
//	 17     4  crc                   CRC-32C (Castagnoli) of bytes 21..end
//	 21     2  attributes            bits below; 0 for what Append writes
//	 23     4  lastOffsetDelta       last record's offset - baseOffset
//	 27     8  baseTimestamp         first record's timestamp, Unix ms
//	 35     8  maxTimestamp          largest record timestamp, Unix ms (the
//	                                 append time when bit 3 is set)
//	 43     8  producerId            -1, or an idempotent producer's id
//	 51     2  producerEpoch         -1, or that producer's epoch
//	 53     4  baseSequence          -1, or the first record's sequence
//	 57     4  recordCount           number of records that follow, >= 1 (0 in an
//	                                 empty batch: sparse_batch.go)
//
// Attributes (Kafka's bits):
//
//	bits 0-2  compression  0 only: stored batches are uncompressed
//	bit  3    timestamp    0 CreateTime, 1 LogAppendTime
//	bit  4    transactional
//	bit  5    control      a control batch (transaction marker): one
//	                       record; never returned by Read and ReadFunc
//	bits 6-15              0; any other bit is refused
//
// Append writes attributes 0 and producer fields -1. AppendBatch stores a
// client's batch as sent (only baseOffset rewritten), so producer fields,
// the transactional bit and base sequence are whatever the producer set.
//	 61     …  records
//
// Each record:
//
//	varint  length           bytes of the record after this varint
//	int8    attributes       0
//	varint  timestampDelta   timestamp - baseTimestamp
//	varint  offsetDelta      offset - baseOffset
//	varint  keyLength        -1 is a null key
//	bytes   key
//	varint  valueLength      -1 is a null value (a tombstone when keyed)
//	bytes   value
//	varint  headerCount
//	headers: varint keyLength (>= 0), key, varint valueLength (-1 null), value
//
// The CRC deliberately leaves out baseOffset and batchLength (Kafka's
// design): we encode and checksum a batch before the append lock assigns its
// offset, then patch the first eight bytes.
//
// In a segment that was never compacted, offsets are dense: offsetDelta is
// the record's index and each batch starts right after the previous one
// ends. Compaction keeps each surviving record's offset and its batch's
// baseOffset and lastOffsetDelta, so compacted segments have gaps within and
// between batches; offsets still strictly increase.
//
// Torn write: a crash while appending leaves a prefix of the last batches:
// a short header, a batchLength that runs past the end of the file, or bytes
// that fail the CRC. Recovery keeps the longest prefix of whole valid batches
// and truncates the rest (recover.go). Data before the last fsync is never
// torn.
//
// # Offset index: <base>.index
//
//	off  size  field
//	  0     4  magic        "SLOI"; never change
//	  4     2  version      1
//	  6     2  entrySize    8
//	  8     8  baseOffset   must equal the file name's base offset
//	 16     4  crc          CRC-32C of bytes 0..15
//	 20     …  entries, 8 bytes each:
//	             4  relativeOffset  batch baseOffset - segment base offset
//	             4  position        byte position of that batch in the .log
//
// # Time index: <base>.timeindex
//
//	off  size  field
//	  0     4  magic        "SLTI"; never change
//	  4     2  version      1
//	  6     2  entrySize    12
//	  8     8  baseOffset
//	 16     4  crc          CRC-32C of bytes 0..15
//	 20     …  entries, 12 bytes each:
//	             8  timestamp       every record with offset < base+rel has
//	                                timestamp <= this (Unix ms)
//	             4  relativeOffset
//
// An entry is added for the first batch that starts IndexIntervalBytes or
// more after the previous entry's batch (the segment's first batch, at
// position 0, needs none); both indexes get an entry for the same batch, so
// they have the same length. Entries strictly increase in offset and
// position, and timestamps never decrease.
//
// Indexes are derived data. They are written whole when a segment is closed
// (rolled, compacted, or the partition closed), through a temporary file that
// is synced and renamed into place, so a crash leaves either a complete index
// or none. The active segment's index lives in memory and is rebuilt from the
// segment's tail on open. A missing, short or inconsistent index is rebuilt
// from its segment and the repair logged at Warn.
//
// # Log start offset checkpoint: log-start-offset
//
// Present once DeleteRecordsBefore has moved the log start offset inside
// the first segment. One line of ASCII text, "1 <offset>\n": the format
// version 1, a space, and the log start offset in decimal. It is written
// whole through <name>.tmp, synced and renamed into place, so it is
// either the old value or the new one. A value below the first segment's
// base is stale (retention went further) and ignored; one above the high
// watermark recovered at open is lowered to it. An unreadable checkpoint
// is logged at Warn and ignored: the records it hid come back, nothing is
// lost.
//
// # Temporary files
//
// <name>.tmp is an index or checkpoint being written; <base>.log.cleaned,
// <base>.index.cleaned and <base>.timeindex.cleaned are a compacted segment
// being written. Open deletes all of them: a crash before the final rename
// leaves the old segment in place, and after it the new one.
//
// # Evolution
//
// The segment layout is Kafka's and changes only as Kafka's does: a new
// magic would be a new layout that readers must dispatch on; attribute bits
// we do not handle are refused, not ignored, until they are implemented.
// History: the first layout allowed attributes 0 only; the second (batches
// from Kafka producers) allows the timestamp-type, transactional and
// control bits and keeps producer fields. A binary of the first layout
// refuses a segment holding such a batch as corrupt, so downgrading over a
// directory written through the Kafka listener is not supported.
// Compression (bits 0-2) is still refused: the produce path stores
// compressed batches decompressed. The index layouts change by bumping version; since
// indexes are derived, a reader that meets an unknown version rebuilds the
// index instead of failing, so old and new binaries can share a directory.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"unsafe"
)

// Record batch v2 constants; never change.
const (
	batchMagic      = 2
	batchHeaderSize = 61 // bytes before the first record
	batchLengthOff  = 8  // offset of batchLength
	batchMagicOff   = 16
	batchCRCOff     = 17
	batchAttrOff    = 21 // CRC covers from here to the end
	// logOverhead is baseOffset + batchLength: the bytes batchLength does not count.
	logOverhead = 12

	// Attribute bits.
	attrCompression   = 0x07
	attrLogAppendTime = 0x08
	attrTransactional = 0x10
	attrControl       = 0x20
	attrKnown         = attrCompression | attrLogAppendTime | attrTransactional | attrControl
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt marks every error about damaged on-disk data; it is wrapped
// with the file and position. Test with errors.Is.
var ErrCorrupt = errors.New("corrupt log data")

// ErrRecordTooLarge is returned (wrapped with the record's index and size) by
// Append for a record larger than Config.MaxRecordBytes.
var ErrRecordTooLarge = errors.New("record too large")

// ErrBatchTooLarge is returned (wrapped with the size) by Append for a batch
// larger than Config.MaxBatchBytes.
var ErrBatchTooLarge = errors.New("batch too large")

// batchHeader is the fixed part of a record batch.
type batchHeader struct {
	BaseOffset      int64
	Length          int32 // batchLength: total size - logOverhead
	LeaderEpoch     int32
	Magic           int8
	CRC             uint32
	Attributes      int16
	LastOffsetDelta int32
	BaseTimestamp   int64
	MaxTimestamp    int64
	ProducerID      int64
	ProducerEpoch   int16
	BaseSequence    int32
	Count           int32
}

// size is the batch's total size in bytes.
func (h batchHeader) size() int64 { return int64(h.Length) + logOverhead }

// control reports whether the batch is a control batch (a transaction marker).
func (h batchHeader) control() bool { return h.Attributes&attrControl != 0 }

// lastOffset is the offset of the batch's last record.
func (h batchHeader) lastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// corruptf formats an ErrCorrupt.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// parseBatchHeader decodes and sanity-checks the 61-byte header at the start
// of b without reading the records. maxLen bounds batchLength.
func parseBatchHeader(b []byte, maxLen int64) (batchHeader, error) {
	if len(b) < batchHeaderSize {
		return batchHeader{}, corruptf("batch header needs %d bytes, have %d", batchHeaderSize, len(b))
	}
	be := binary.BigEndian
	h := batchHeader{
		BaseOffset:      int64(be.Uint64(b[0:])),
		Length:          int32(be.Uint32(b[8:])),
		LeaderEpoch:     int32(be.Uint32(b[12:])),
		Magic:           int8(b[16]),
		CRC:             be.Uint32(b[17:]),
		Attributes:      int16(be.Uint16(b[21:])),
		LastOffsetDelta: int32(be.Uint32(b[23:])),
		BaseTimestamp:   int64(be.Uint64(b[27:])),
		MaxTimestamp:    int64(be.Uint64(b[35:])),
		ProducerID:      int64(be.Uint64(b[43:])),
		ProducerEpoch:   int16(be.Uint16(b[51:])),
		BaseSequence:    int32(be.Uint32(b[53:])),
		Count:           int32(be.Uint32(b[57:])),
	}
	switch {
	case h.Magic != batchMagic:
		return h, corruptf("batch magic is %d, want %d", h.Magic, batchMagic)
	case h.BaseOffset < 0:
		return h, corruptf("batch base offset %d is negative", h.BaseOffset)
	case int64(h.Length) < batchHeaderSize-logOverhead:
		return h, corruptf("batch length %d is shorter than a batch header", h.Length)
	case h.size() > maxLen:
		return h, corruptf("batch length %d exceeds the limit of %d bytes", h.Length, maxLen-logOverhead)
	case h.Attributes&^attrKnown != 0:
		return h, corruptf("batch attributes %#04x have unknown bits set (known: %#04x)", uint16(h.Attributes), attrKnown)
	case h.Attributes&attrCompression != 0:
		return h, corruptf("batch attributes %#04x: compression codec %d is not supported in a stored batch (stored batches are uncompressed)", uint16(h.Attributes), h.Attributes&attrCompression)
	case h.Count < 0 || h.LastOffsetDelta < 0:
		return h, corruptf("batch record count %d, last offset delta %d: neither may be negative", h.Count, h.LastOffsetDelta)
	case h.LastOffsetDelta < h.Count-1:
		return h, corruptf("batch last offset delta %d is less than record count %d - 1", h.LastOffsetDelta, h.Count)
	case h.BaseOffset > math.MaxInt64-int64(h.LastOffsetDelta):
		return h, corruptf("batch last offset overflows")
	}
	return h, nil
}

// decodeBatch decodes the one batch that b holds exactly, checking the CRC
// and every record's framing, and appends its records to dst. Records alias
// b. dense requires offsetDelta == index (a never-compacted batch).
func decodeBatch(dst []Record, b []byte, dense bool) ([]Record, batchHeader, error) {
	return decodeBatchInto(dst, b, dense, nil)
}

// decodeBatchInto is decodeBatch with, when hs is set, headers decoded into
// the reused slab *hs and header keys aliasing b (unsafe.String) instead of
// one slice and one string allocated per record with headers. The records
// are then valid only while b and the slab are not reused: the ReadFunc
// contract.
func decodeBatchInto(dst []Record, b []byte, dense bool, hs *[]Header) ([]Record, batchHeader, error) {
	return decodeBatchCRC(dst, b, dense, hs, true)
}

// decodeBatchCRC is decodeBatchInto that checks the CRC only when checkCRC
// is set: a caller that has just verified or computed it skips a second
// pass over the bytes.
func decodeBatchCRC(dst []Record, b []byte, dense bool, hs *[]Header, checkCRC bool) ([]Record, batchHeader, error) {
	h, err := parseBatchHeader(b, int64(len(b)))
	if err != nil {
		return dst, h, err
	}
	if h.size() != int64(len(b)) {
		return dst, h, corruptf("batch length %d does not match its %d bytes", h.Length, len(b))
	}
	if !checkCRC {
		// trusted
	} else if got := crc32.Checksum(b[batchAttrOff:], crcTable); got != h.CRC {
		return dst, h, corruptf("batch at offset %d: crc is %#08x, computed %#08x", h.BaseOffset, h.CRC, got)
	}
	// Each record takes at least 7 bytes, which bounds the allocation a
	// hostile count can cause.
	if int64(h.Count) > int64(len(b)-batchHeaderSize)/7 {
		return dst, h, corruptf("batch at offset %d: %d records cannot fit in %d bytes", h.BaseOffset, h.Count, len(b))
	}
	dst = growRecords(dst, int(h.Count))
	d := decoder{b: b, pos: batchHeaderSize, hs: hs}
	if hs != nil {
		*hs = (*hs)[:0]
	}
	prevDelta := int64(-1)
	for i := range int(h.Count) {
		r, err := d.record(h)
		if err != nil {
			return dst, h, corruptf("batch at offset %d: record %d: %v", h.BaseOffset, i, err)
		}
		delta := r.Offset - h.BaseOffset
		switch {
		case dense && delta != int64(i):
			return dst, h, corruptf("batch at offset %d: record %d has offset delta %d, want %d", h.BaseOffset, i, delta, i)
		case delta <= prevDelta || delta > int64(h.LastOffsetDelta):
			return dst, h, corruptf("batch at offset %d: record %d has offset delta %d, want (%d, %d]", h.BaseOffset, i, delta, prevDelta, h.LastOffsetDelta)
		}
		prevDelta = delta
		dst = append(dst, r)
	}
	if d.pos != len(b) {
		return dst, h, corruptf("batch at offset %d: %d bytes after the last record", h.BaseOffset, len(b)-d.pos)
	}
	if dense && prevDelta != int64(h.LastOffsetDelta) {
		return dst, h, corruptf("batch at offset %d: last offset delta %d, but the last record has %d", h.BaseOffset, h.LastOffsetDelta, prevDelta)
	}
	return dst, h, nil
}

func growRecords(dst []Record, n int) []Record {
	if cap(dst)-len(dst) < n {
		nd := make([]Record, len(dst), len(dst)+n)
		copy(nd, dst)
		return nd
	}
	return dst
}

// decoder reads records from a batch.
type decoder struct {
	b   []byte
	pos int
	// hs, when set, is the slab headers are decoded into, keys aliasing b
	// (see decodeBatchInto).
	hs *[]Header
}

var (
	errVarint   = errors.New("bad varint")
	errOverflow = errors.New("value out of range")
)

func (d *decoder) varint() (int64, error) {
	v, n := binary.Varint(d.b[d.pos:])
	if n <= 0 {
		return 0, errVarint
	}
	d.pos += n
	return v, nil
}

func (d *decoder) varint32() (int32, error) {
	v, err := d.varint()
	if err != nil {
		return 0, err
	}
	if v < math.MinInt32 || v > math.MaxInt32 {
		return 0, errOverflow
	}
	return int32(v), nil
}

// bytes reads a varint length and that many bytes; -1 is nil, 0 is empty.
func (d *decoder) bytes(end int, what string) ([]byte, error) {
	n, err := d.varint32()
	if err != nil {
		return nil, fmt.Errorf("%s length: %w", what, err)
	}
	if n == -1 {
		return nil, nil
	}
	if n < -1 || int64(n) > int64(end-d.pos) {
		return nil, fmt.Errorf("%s length %d does not fit in the %d bytes left", what, n, end-d.pos)
	}
	v := d.b[d.pos : d.pos+int(n) : d.pos+int(n)]
	d.pos += int(n)
	return v, nil
}

func (d *decoder) record(h batchHeader) (Record, error) {
	length, err := d.varint32()
	if err != nil {
		return Record{}, fmt.Errorf("length: %w", err)
	}
	if length < 1 || int64(length) > int64(len(d.b)-d.pos) {
		return Record{}, fmt.Errorf("length %d does not fit in the %d bytes left", length, len(d.b)-d.pos)
	}
	end := d.pos + int(length)
	d.pos++ // attributes, unused
	rest := decoder{b: d.b[:end], pos: d.pos}
	tsDelta, err := rest.varint()
	if err != nil {
		return Record{}, fmt.Errorf("timestamp delta: %w", err)
	}
	offDelta, err := rest.varint32()
	if err != nil {
		return Record{}, fmt.Errorf("offset delta: %w", err)
	}
	r := Record{Offset: h.BaseOffset + int64(offDelta), Timestamp: h.BaseTimestamp + tsDelta}
	if h.Attributes&attrLogAppendTime != 0 {
		r.Timestamp = h.MaxTimestamp // the broker's append time stands for every record
	}
	if offDelta < 0 {
		return Record{}, fmt.Errorf("offset delta %d is negative", offDelta)
	}
	if r.Key, err = rest.bytes(end, "key"); err != nil {
		return Record{}, err
	}
	if r.Value, err = rest.bytes(end, "value"); err != nil {
		return Record{}, err
	}
	nh, err := rest.varint32()
	if err != nil {
		return Record{}, fmt.Errorf("header count: %w", err)
	}
	// A header takes at least two bytes.
	if nh < 0 || int64(nh) > int64(end-rest.pos)/2 {
		return Record{}, fmt.Errorf("header count %d does not fit in the %d bytes left", nh, end-rest.pos)
	}
	if nh > 0 {
		if d.hs != nil {
			// Appending may move the slab; records decoded before keep
			// the old array, which stays valid.
			first := len(*d.hs)
			*d.hs = slices.Grow(*d.hs, int(nh))[:first+int(nh)]
			r.Headers = (*d.hs)[first : first+int(nh) : first+int(nh)]
		} else {
			r.Headers = make([]Header, nh)
		}
		for i := range r.Headers {
			k, err := rest.bytes(end, "header key")
			if err != nil {
				return Record{}, fmt.Errorf("header %d: %w", i, err)
			}
			if k == nil {
				return Record{}, fmt.Errorf("header %d: key is null", i)
			}
			v, err := rest.bytes(end, "header value")
			if err != nil {
				return Record{}, fmt.Errorf("header %d: %w", i, err)
			}
			key := ""
			if d.hs != nil {
				key = unsafe.String(unsafe.SliceData(k), len(k))
			} else {
				key = string(k)
			}
			r.Headers[i] = Header{Key: key, Value: v}
		}
	}
	if rest.pos != end {
		return Record{}, fmt.Errorf("%d bytes left over in the record", end-rest.pos)
	}
	d.pos = end
	return r, nil
}

// limits bound what Append accepts.
type limits struct {
	maxRecord int // encoded record bytes
	maxBatch  int // encoded batch bytes
}

// batchInfo describes an encoded batch.
type batchInfo struct {
	count    int
	firstTs  int64
	maxTs    int64
	lastDelt int32
}

// appendBatch encodes recs as one batch with baseOffset base onto dst. With
// dense, record i gets offset base+i and lastOffsetDelta is len(recs)-1;
// otherwise each record keeps its Offset and lastDelta is written as given.
// A zero Timestamp becomes nowMs. Limits of zero are not checked.
func appendBatch(dst []byte, base int64, recs []Record, dense bool, lastDelta int32, nowMs int64, lim limits) ([]byte, batchInfo, error) {
	return appendBatchAs(dst, base, recs, dense, lastDelta, nowMs, lim, nil)
}

// appendBatchAs is appendBatch writing, when like is set, like's
// attributes and producer fields instead of 0 and -1 (and, for a
// LogAppendTime batch, like's maxTimestamp): compaction rewrites a batch
// this way without losing what its producer stamped on it.
func appendBatchAs(dst []byte, base int64, recs []Record, dense bool, lastDelta int32, nowMs int64, lim limits, like *batchHeader) ([]byte, batchInfo, error) {
	if len(recs) == 0 {
		return dst, batchInfo{}, errors.New("log: a batch needs at least one record")
	}
	if len(recs) > math.MaxInt32 {
		return dst, batchInfo{}, fmt.Errorf("log: %d records in one batch: %w", len(recs), ErrBatchTooLarge)
	}
	ts := func(r *Record) int64 {
		if r.Timestamp == 0 {
			return nowMs
		}
		return r.Timestamp
	}
	info := batchInfo{count: len(recs), firstTs: ts(&recs[0]), maxTs: math.MinInt64}
	if dense {
		lastDelta = int32(len(recs) - 1)
	}
	info.lastDelt = lastDelta
	start := len(dst)
	dst = append(dst, make([]byte, batchHeaderSize)...)
	for i := range recs {
		r := &recs[i]
		if lim.maxRecord > 0 {
			raw := len(r.Key) + len(r.Value)
			for _, h := range r.Headers {
				raw += len(h.Key) + len(h.Value)
			}
			if raw > lim.maxRecord {
				return dst[:start], info, fmt.Errorf("log: record %d: %d bytes of key, value and headers exceed the limit of %d: %w", i, raw, lim.maxRecord, ErrRecordTooLarge)
			}
		}
		t := ts(r)
		info.maxTs = max(info.maxTs, t)
		delta := int64(i)
		if !dense {
			delta = r.Offset - base
			if delta < 0 || delta > int64(lastDelta) {
				return dst[:start], info, fmt.Errorf("log: record %d: offset %d outside batch [%d, %d]", i, r.Offset, base, base+int64(lastDelta))
			}
		}
		body := recordBodySize(r, t-info.firstTs, delta)
		dst = binary.AppendVarint(dst, int64(body))
		dst = appendRecordBody(dst, r, t-info.firstTs, delta)
		if lim.maxBatch > 0 && len(dst)-start > lim.maxBatch {
			return dst[:start], info, fmt.Errorf("log: batch of %d records is over %d bytes at record %d: %w", len(recs), lim.maxBatch, i, ErrBatchTooLarge)
		}
	}
	if len(dst)-start-logOverhead > math.MaxInt32 {
		return dst[:start], info, fmt.Errorf("log: batch of %d bytes: %w", len(dst)-start, ErrBatchTooLarge)
	}
	b := dst[start:]
	be := binary.BigEndian
	be.PutUint64(b[0:], uint64(base))
	be.PutUint32(b[8:], uint32(len(b)-logOverhead))
	be.PutUint32(b[12:], 0) // partitionLeaderEpoch
	b[16] = batchMagic
	be.PutUint16(b[21:], 0) // attributes
	be.PutUint32(b[23:], uint32(lastDelta))
	be.PutUint64(b[27:], uint64(info.firstTs))
	be.PutUint64(b[35:], uint64(info.maxTs))
	be.PutUint64(b[43:], math.MaxUint64) // producerId -1
	be.PutUint16(b[51:], math.MaxUint16) // producerEpoch -1
	be.PutUint32(b[53:], math.MaxUint32) // baseSequence -1
	if like != nil {
		be.PutUint16(b[21:], uint16(like.Attributes))
		if like.Attributes&attrLogAppendTime != 0 {
			info.maxTs = like.MaxTimestamp
			be.PutUint64(b[35:], uint64(like.MaxTimestamp))
		}
		be.PutUint64(b[43:], uint64(like.ProducerID))
		be.PutUint16(b[51:], uint16(like.ProducerEpoch))
		be.PutUint32(b[53:], uint32(like.BaseSequence))
	}
	be.PutUint32(b[57:], uint32(len(recs)))
	be.PutUint32(b[17:], crc32.Checksum(b[batchAttrOff:], crcTable))
	return dst, info, nil
}

// setBaseOffset patches an encoded batch's baseOffset; the CRC does not cover it.
func setBaseOffset(b []byte, base int64) { binary.BigEndian.PutUint64(b, uint64(base)) }

// appendRecordBody encodes a record without its leading length varint.
func appendRecordBody(dst []byte, r *Record, tsDelta, offDelta int64) []byte {
	dst = append(dst, 0) // attributes
	dst = binary.AppendVarint(dst, tsDelta)
	dst = binary.AppendVarint(dst, offDelta)
	dst = appendNullableBytes(dst, r.Key)
	dst = appendNullableBytes(dst, r.Value)
	dst = binary.AppendVarint(dst, int64(len(r.Headers)))
	for _, h := range r.Headers {
		dst = binary.AppendVarint(dst, int64(len(h.Key)))
		dst = append(dst, h.Key...)
		dst = appendNullableBytes(dst, h.Value)
	}
	return dst
}

// varintLen is the size of v as a zigzag varint.
func varintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

// recordBodySize is len(appendRecordBody(nil, r, tsDelta, offDelta)),
// computed without encoding so the length prefix can be written first.
func recordBodySize(r *Record, tsDelta, offDelta int64) int {
	n := 1 + varintLen(tsDelta) + varintLen(offDelta) + nullableLen(r.Key) + nullableLen(r.Value) + varintLen(int64(len(r.Headers)))
	for _, h := range r.Headers {
		n += varintLen(int64(len(h.Key))) + len(h.Key) + nullableLen(h.Value)
	}
	return n
}

func nullableLen(b []byte) int {
	if b == nil {
		return 1
	}
	return varintLen(int64(len(b))) + len(b)
}

// encodedSizeHint estimates an Append's encoded batch size, to allocate once.
func encodedSizeHint(recs []Record) int {
	n := batchHeaderSize
	for i := range recs {
		n += len(recs[i].Key) + len(recs[i].Value) + 24
		for _, h := range recs[i].Headers {
			n += len(h.Key) + len(h.Value) + 6
		}
	}
	return n
}

func appendNullableBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

// recordSize approximates a record's share of a read's maxBytes budget.
func recordSize(r *Record) int {
	n := len(r.Key) + len(r.Value) + 16
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value) + 2
	}
	return n
}

// EncodeBatch encodes recs as one uncompressed record batch v2 with
// baseOffset 0 and producer fields -1 (a zero Timestamp becomes nowMs) and
// returns it as a Batch ready for EnqueueBatch: for a log that takes
// records (Append) but stores batches as clients encode them (the shared
// log). Its bytes come from the pool of Append's encodings: Batch.Release
// gives them back. maxRecordBytes and maxBatchBytes bound it as Config's
// fields bound Append; 0 is no limit. No records is ErrNoRecords.
func EncodeBatch(recs []Record, nowMs int64, maxRecordBytes, maxBatchBytes int) (*Batch, error) {
	if len(recs) == 0 {
		return nil, ErrNoRecords
	}
	raw, _, err := appendBatch(getBatchBuffer(encodedSizeHint(recs)), 0, recs, true, 0, nowMs, limits{maxRecord: maxRecordBytes, maxBatch: maxBatchBytes})
	if err != nil {
		return nil, err
	}
	b, err := batchOf(raw)
	if err != nil {
		return nil, err
	}
	b.pooled = true // putBatchBuffer keeps only a buffer of its class's capacity
	return b, nil
}

// batchOf wraps a batch this package encoded (raw) as a Batch.
func batchOf(raw []byte) (*Batch, error) {
	h, err := parseBatchHeader(raw, int64(len(raw)))
	if err != nil {
		return nil, err
	}
	return &Batch{raw: raw, h: h}, nil
}

// DecodeStoredBatch decodes one batch as a log stores it, dense or sparse
// (records left out by Batch.Without, or thinned by compaction: offset
// deltas only increase, within lastOffsetDelta; an empty batch has no
// records), checking its CRC and every record's framing, and appends its
// records to dst; they alias raw. For logs that keep batches elsewhere
// than segment files (the shared log). Errors wrap ErrCorrupt.
func DecodeStoredBatch(raw []byte, dst []Record) ([]Record, error) {
	dst, _, err := decodeBatch(dst, raw, false)
	return dst, err
}
