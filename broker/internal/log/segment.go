package log

import (
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sync/atomic"

	"github.com/sluicehq/sluice/broker/internal/log/vfs"
)

// segment is one .log file and its in-memory index. Closed segments never
// change; the active one grows under the partition's write lock, and what
// readers may see of it is published through size and idx after each
// durable write.
type segment struct {
	base int64
	path string
	f    vfs.File

	size  atomic.Int64                 // readable bytes
	maxTs atomic.Int64                 // largest record timestamp; math.MinInt64 if empty
	idx   atomic.Pointer[[]indexEntry] // published index entries
	// refs counts the partition's reference (dropped when the segment leaves
	// the segment list) plus one per in-flight read; the file closes at 0.
	refs atomic.Int32

	// badIndex is set once a read finds the index pointing at the wrong
	// batch; reads then scan from the segment's start. onBadIndex reports it.
	badIndex   atomic.Bool
	onBadIndex func(s *segment, pos, got, want int64)

	// Only the partition's writer touches these, under wmu.
	ib         *indexBuilder
	lastOffset int64 // last record's offset; base-1 when empty
	rollAt     int64 // Unix ms the segment started, for SegmentAge
}

func segmentName(base int64) string     { return fmt.Sprintf("%020d.log", base) }
func offsetIndexName(base int64) string { return fmt.Sprintf("%020d.index", base) }
func timeIndexName(base int64) string   { return fmt.Sprintf("%020d.timeindex", base) }

func newSegment(dir string, base int64, f vfs.File) *segment {
	s := &segment{base: base, path: filepath.Join(dir, segmentName(base)), f: f, lastOffset: base - 1}
	s.refs.Store(1)
	s.maxTs.Store(math.MinInt64)
	s.idx.Store(new([]indexEntry))
	return s
}

// acquire takes a read reference; false means the segment was retired.
func (s *segment) acquire() bool {
	for {
		n := s.refs.Load()
		if n <= 0 {
			return false
		}
		if s.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release drops a reference, closing the file after the last one.
func (s *segment) release() {
	if s.refs.Add(-1) == 0 {
		_ = s.f.Close() // read-only use by now; nothing to lose
	}
}

// publish makes the builder's state visible to readers.
func (s *segment) publish() {
	entries := s.ib.entries
	s.idx.Store(&entries)
	s.maxTs.Store(s.ib.maxTs)
	s.size.Store(s.ib.size)
}

// chunkReader reads a file in chunks. Every refill allocates a new buffer,
// so records decoded from an earlier chunk stay valid, unless reuse is set:
// then refills read into the same memory (grown when too small), which
// invalidates everything sliced from the previous chunk but costs neither an
// allocation nor the clearing of a fresh megabyte per refill.
type chunkReader struct {
	f      vfs.File
	end    int64 // read nothing at or past this
	chunk  int64
	buf    []byte
	bufPos int64
	reuse  bool
	// hs, when set (with reuse), is the slab batch decodes headers into
	// (decodeBatchInto).
	hs *[]Header
}

// errShort is returned when a read would cross end.
var errShort = errors.New("runs past the end of the segment")

// slice returns n bytes at pos.
func (c *chunkReader) slice(pos, n int64) ([]byte, error) {
	if pos >= c.bufPos && pos+n <= c.bufPos+int64(len(c.buf)) {
		return c.buf[pos-c.bufPos : pos-c.bufPos+n], nil
	}
	if pos < 0 || n < 0 || pos+n > c.end {
		return nil, errShort
	}
	want := min(max(n, c.chunk), c.end-pos)
	var buf []byte
	if c.reuse && int64(cap(c.buf)) >= want {
		buf = c.buf[:want]
	} else {
		buf = make([]byte, want)
	}
	got, err := c.f.ReadAt(buf, pos)
	if int64(got) < want {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if c.reuse {
			// Keep the memory but forget its contents.
			c.buf, c.bufPos = buf[:0], 0
		}
		return nil, err
	}
	c.buf, c.bufPos = buf, pos
	return buf[:n], nil
}

// header reads and checks the batch header at pos; the batch must fit before
// c.end.
func (c *chunkReader) header(pos int64, maxBatch int64) (batchHeader, error) {
	b, err := c.slice(pos, min(batchHeaderSize, c.end-pos))
	if err != nil {
		return batchHeader{}, err
	}
	h, err := parseBatchHeader(b, maxBatch)
	if err != nil {
		return h, err
	}
	if pos+h.size() > c.end {
		return h, corruptf("batch at offset %d of %d bytes %v (%d bytes left)", h.BaseOffset, h.size(), errShort, c.end-pos)
	}
	return h, nil
}

// batch reads and decodes the whole batch whose header is h at pos.
func (c *chunkReader) batch(dst []Record, pos int64, h batchHeader, dense bool) ([]Record, error) {
	b, err := c.slice(pos, h.size())
	if err != nil {
		return dst, err
	}
	dst, _, err = decodeBatchInto(dst, b, dense, c.hs)
	return dst, err
}

// maxScanBatch bounds batch sizes that scans of existing files accept: far
// above any limit Append enforces, low enough that garbage cannot make us
// allocate gigabytes.
const maxScanBatch = 1 << 30

// readState accumulates a Read across segments.
type readState struct {
	out        []Record
	maxRecords int // <= 0: no limit
	maxBytes   int // <= 0: no limit
	bytes      int
	// visit, when set, receives each record instead of out; the record
	// aliases the read buffer, which buf (when set) keeps for reuse.
	visit   func(*Record) error
	visited int
	buf     *ReadBuffer
	// txn makes the read read_committed (txn.go).
	txn txnFilter
}

// count is the number of records read so far.
func (r *readState) count() int {
	if r.visit != nil {
		return r.visited
	}
	return len(r.out)
}

func (r *readState) full() bool {
	n := r.count()
	return (r.maxRecords > 0 && n >= r.maxRecords) || (r.maxBytes > 0 && r.bytes >= r.maxBytes)
}

// maxReadChunk bounds one positional read of a Read.
const maxReadChunk = 1 << 20

// chunkFor is how much to read at once when st has room for budget more
// bytes: enough for the rest of the budget plus a batch header, so a read
// that ends inside a batch is not followed by a megabyte read of which one
// batch is used.
func chunkFor(st *readState) int64 {
	if st.maxBytes <= 0 {
		return maxReadChunk
	}
	return min(max(int64(st.maxBytes-st.bytes)+batchHeaderSize, 16<<10), maxReadChunk)
}

// errVisit wraps an error returned by a readState's visit, so that Read's
// callers tell it from a storage error.
type errVisit struct{ err error }

func (e errVisit) Error() string { return e.err.Error() }

// read appends records with offset >= off from s to st (or visits them)
// until the limits are reached or the segment's readable bytes end.
func (s *segment) read(off int64, st *readState) error {
	end := s.size.Load()
	var entries []indexEntry
	if !s.badIndex.Load() {
		entries = *s.idx.Load()
	}
	pos, wantBase := lookupOffset(entries, s.base, off)
	c := chunkReader{f: s.f, end: end, chunk: chunkFor(st)}
	var recs []Record
	if st.buf != nil {
		c.reuse = true
		c.buf = st.buf.buf[:0]
		c.hs = &st.buf.hdrs
		recs = st.buf.recs
		defer func() {
			// Hand the (possibly grown) memory back for the next read.
			st.buf.buf, st.buf.recs = c.buf[:0], recs[:0]
		}()
	}
	first := true
	for pos < end && !st.full() {
		c.chunk = chunkFor(st)
		h, err := c.header(pos, maxScanBatch)
		if err != nil {
			return s.corrupt(pos, err)
		}
		if first && pos > 0 && h.BaseOffset != wantBase {
			// The index is wrong but the data may be fine: stop trusting the
			// index and read this segment from the start.
			if s.badIndex.CompareAndSwap(false, true) && s.onBadIndex != nil {
				s.onBadIndex(s, pos, h.BaseOffset, wantBase)
			}
			return s.read(off, st)
		}
		first = false
		if h.BaseOffset >= st.txn.stopAt {
			return nil // the last stable offset (txn.go)
		}
		if h.lastOffset() < off || st.txn.skip(&h) {
			// Control batches (transaction markers) are for Kafka
			// clients, which get them through ReadBatches; aborted
			// transactions' batches are hidden.
			pos += h.size()
			continue
		}
		recs, err = c.batch(recs[:0], pos, h, false)
		if err != nil {
			return s.corrupt(pos, err)
		}
		for i := range recs {
			r := &recs[i]
			if r.Offset < off {
				continue
			}
			sz := recordSize(r)
			if st.count() > 0 && st.maxBytes > 0 && st.bytes+sz > st.maxBytes {
				st.bytes = st.maxBytes // full
				return nil
			}
			if st.visit != nil {
				if err := st.visit(r); err != nil {
					return errVisit{err}
				}
				st.visited++
			} else {
				st.out = append(st.out, *r)
			}
			st.bytes += sz
			if st.full() {
				return nil
			}
		}
		pos += h.size()
	}
	return nil
}

// corrupt wraps err with the segment file and position. I/O errors that are
// not ErrCorrupt pass through wrapped the same way.
func (s *segment) corrupt(pos int64, err error) error {
	return fmt.Errorf("log: %s at byte %d: %w", s.path, pos, err)
}

// offsetForTime returns the first offset in s whose record timestamp is >=
// ts, or ok=false if none is.
func (s *segment) offsetForTime(ts int64) (int64, bool, error) {
	if s.maxTs.Load() < ts {
		return 0, false, nil
	}
	end := s.size.Load()
	var pos, wantBase int64
	if !s.badIndex.Load() {
		pos, wantBase = lookupTime(*s.idx.Load(), s.base, ts)
	}
	c := chunkReader{f: s.f, end: end, chunk: 64 << 10}
	var recs []Record
	for first := true; pos < end; first = false {
		h, err := c.header(pos, maxScanBatch)
		if err != nil {
			return 0, false, s.corrupt(pos, err)
		}
		if first && pos > 0 && h.BaseOffset != wantBase {
			if s.badIndex.CompareAndSwap(false, true) && s.onBadIndex != nil {
				s.onBadIndex(s, pos, h.BaseOffset, wantBase)
			}
			return s.offsetForTime(ts)
		}
		if h.MaxTimestamp >= ts && !h.control() {
			recs, err = c.batch(recs[:0], pos, h, false)
			if err != nil {
				return 0, false, s.corrupt(pos, err)
			}
			for _, r := range recs {
				if r.Timestamp >= ts {
					return r.Offset, true, nil
				}
			}
		}
		pos += h.size()
	}
	return 0, false, nil
}

// scanResult is what a validating scan of a segment found.
type scanResult struct {
	ib         *indexBuilder
	lastOffset int64 // base-1 if no batch
	firstTs    int64 // first batch's base timestamp; 0 if none
	validEnd   int64 // end of the last valid batch
	err        error // why the scan stopped before end; nil if it reached end
	batches    int
}

// scanSegment validates batches from pos (where ib and lastOffset describe
// everything before) to end: framing, magic, CRC, record framing, and
// offsets strictly increasing (dense: each batch starting right after the
// previous one). It stops at the first invalid batch.
func scanSegment(f vfs.File, base, pos, end int64, ib *indexBuilder, lastOffset int64, dense bool) scanResult {
	res := scanResult{ib: ib, lastOffset: lastOffset, validEnd: pos}
	c := chunkReader{f: f, end: end, chunk: 1 << 20}
	var recs []Record
	for pos < end {
		h, err := c.header(pos, maxScanBatch)
		if err != nil {
			res.err = err
			return res
		}
		// Within a batch, offsets may skip even in the active segment: the
		// Kafka listener appends batches with diverted records left out
		// (sparse_batch.go). Batches still follow each other densely.
		if recs, err = c.batch(recs[:0], pos, h, false); err != nil {
			res.err = err
			return res
		}
		switch {
		case dense && h.BaseOffset != res.lastOffset+1:
			res.err = corruptf("batch base offset %d, want %d (offsets must be dense)", h.BaseOffset, res.lastOffset+1)
			return res
		case h.BaseOffset <= res.lastOffset || h.BaseOffset < base:
			res.err = corruptf("batch base offset %d does not follow offset %d", h.BaseOffset, max(res.lastOffset, base-1))
			return res
		case h.lastOffset()-base > math.MaxUint32:
			res.err = corruptf("batch last offset %d is too far past the segment base %d", h.lastOffset(), base)
			return res
		case pos+h.size() > math.MaxUint32:
			res.err = corruptf("segment grows past 4 GiB")
			return res
		}
		if res.batches == 0 && pos == 0 {
			res.firstTs = h.BaseTimestamp
		}
		ib.add(base, h, pos)
		res.lastOffset = h.lastOffset()
		res.batches++
		pos += h.size()
		res.validEnd = pos
	}
	return res
}

// countBatches estimates how many batches the bytes [pos, end) held by
// following batch lengths while they look sane, for the recovery log line.
func countBatches(f vfs.File, pos, end int64) int {
	n := 0
	var hdr [logOverhead]byte
	for pos < end {
		n++
		if end-pos < logOverhead {
			break
		}
		if _, err := f.ReadAt(hdr[:], pos); err != nil {
			break
		}
		l := int64(int32(uint32(hdr[8])<<24 | uint32(hdr[9])<<16 | uint32(hdr[10])<<8 | uint32(hdr[11])))
		if l < batchHeaderSize-logOverhead {
			break
		}
		pos += l + logOverhead
	}
	return n
}
