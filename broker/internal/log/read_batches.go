package log

// This file is the read path of Kafka clients: whole stored batches, as
// bytes, without decoding a record. A read walks only 61-byte batch headers
// (from the sparse index's position) to find the first batch to send and
// where to stop, and copies each segment's run of batches with one
// positional read.

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// ReadBatches appends to dst the stored bytes of whole batches, starting
// with the batch that contains offset (a Kafka client skips the records
// before offset itself), and returns dst and the high watermark the read
// saw. It adds batches while the bytes appended stay within maxBytes; when
// always is set, the first batch is appended even if it alone exceeds
// maxBytes (KIP-74: a consumer must always be able to make progress).
// Control batches are included; batch bytes are as stored (baseOffset
// set, CRC valid).
//
// Reading at the high watermark appends nothing; outside [LogStartOffset,
// HighWatermark] the error is an *OffsetRangeError. In a compacted log the
// first batch may start after offset.
func (p *Partition) ReadBatches(dst []byte, offset int64, maxBytes int, always bool) ([]byte, int64, error) {
	return p.ReadBatchesBelow(dst, offset, maxBytes, always, math.MaxInt64)
}

// ReadBatchesBelow is ReadBatches that stops before the first batch whose
// base offset is end or more: a read_committed fetch passes the last
// stable offset, which always falls on a batch boundary.
func (p *Partition) ReadBatchesBelow(dst []byte, offset int64, maxBytes int, always bool, end int64) ([]byte, int64, error) {
	for {
		if p.closedFlag.Load() {
			return dst, 0, ErrClosed
		}
		hw := p.hw.Load()
		segs := *p.segs.Load()
		if start := p.startOf(segs); offset < start || offset > hw {
			return dst, hw, &OffsetRangeError{Offset: offset, Start: start, End: hw}
		}
		if offset == hw {
			return dst, hw, nil
		}
		if offset >= end {
			return dst, hw, nil
		}
		st := rawState{dst: dst, start: len(dst), maxBytes: maxBytes, always: always, end: end}
		i := sort.Search(len(segs), func(i int) bool { return segs[i].base > offset }) - 1
		retired := false
		for ; i < len(segs) && !st.full; i++ {
			s := segs[i]
			if !s.acquire() {
				retired = true
				break
			}
			err := s.readBatches(offset, &st)
			s.release()
			if err != nil {
				if len(st.dst) > st.start {
					// Serve what is good; the next read, from the damaged
					// batch on, gets the error.
					return st.dst, hw, nil
				}
				return dst, hw, err
			}
		}
		if retired && len(st.dst) == st.start {
			continue // retention or compaction swapped segments; look again
		}
		return st.dst, hw, nil
	}
}

// rawState accumulates a ReadBatches across segments.
type rawState struct {
	dst      []byte
	start    int // len(dst) before the read
	maxBytes int
	always   bool
	full     bool
	end      int64 // stop before a batch based at or after this
}

// room is how many more bytes may be appended.
func (st *rawState) room() int64 { return int64(st.maxBytes) - int64(len(st.dst)-st.start) }

// readBatches appends s's batches holding offsets >= off to st.
func (s *segment) readBatches(off int64, st *rawState) error {
	end := s.size.Load()
	var entries []indexEntry
	if !s.badIndex.Load() {
		entries = *s.idx.Load()
	}
	pos, wantBase := lookupOffset(entries, s.base, off)
	// Find the first batch whose last offset is >= off: the index is sparse
	// (an entry every IndexIntervalBytes), so this reads a few headers.
	c := chunkReader{f: s.f, end: end, chunk: 8 << 10}
	var first batchHeader
	for checked := false; ; checked = true {
		if pos >= end {
			return nil
		}
		h, err := c.header(pos, maxScanBatch)
		if err != nil {
			return s.corrupt(pos, err)
		}
		if !checked && pos > 0 && h.BaseOffset != wantBase {
			if s.badIndex.CompareAndSwap(false, true) && s.onBadIndex != nil {
				s.onBadIndex(s, pos, h.BaseOffset, wantBase)
			}
			return s.readBatches(off, st)
		}
		if h.BaseOffset >= st.end {
			st.full = true
			return nil
		}
		if h.lastOffset() >= off {
			first = h
			break
		}
		pos += h.size()
	}
	// Read the run from pos that may fit, then cut it at the last whole
	// batch inside the budget.
	want := min(end-pos, max(st.room(), 0))
	taken := len(st.dst) - st.start
	if taken == 0 && st.always {
		want = max(want, first.size())
	}
	if want < first.size() {
		st.full = true
		return nil
	}
	at := len(st.dst)
	st.dst = slices.Grow(st.dst, int(want))[:at+int(want)]
	buf := st.dst[at:]
	if n, err := s.f.ReadAt(buf, pos); int64(n) < want {
		st.dst = st.dst[:at]
		if err == nil {
			err = fmt.Errorf("short read of %d bytes, want %d", n, want)
		}
		return s.corrupt(pos, err)
	}
	cut := int64(0)
	last := first.BaseOffset - 1
	for cut < want {
		if want-cut < batchHeaderSize {
			break
		}
		h, err := parseBatchHeader(buf[cut:], maxScanBatch)
		if err == nil && h.BaseOffset <= last {
			err = corruptf("batch base offset %d does not follow offset %d", h.BaseOffset, last)
		}
		if err != nil {
			st.dst = st.dst[:at+int(cut)]
			if cut == 0 {
				return s.corrupt(pos, err)
			}
			st.full = true // the next read reports it
			return nil
		}
		if cut+h.size() > want {
			break
		}
		if h.BaseOffset >= st.end {
			st.dst = st.dst[:at+int(cut)]
			st.full = true
			return nil
		}
		last = h.lastOffset()
		cut += h.size()
	}
	st.dst = st.dst[:at+int(cut)]
	if pos+cut < end {
		st.full = true // the budget ended inside this segment
	}
	return nil
}
