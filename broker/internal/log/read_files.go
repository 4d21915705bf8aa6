package log

// Whole stored batches as ranges of segment files, for sendfile(2): the
// read path of Kafka consumers when the bytes can go from the page cache
// to the socket without passing through user space. The segments stay
// pinned (acquired) until Release, so retention or compaction cannot close
// a file under a transfer.

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"syscall"
)

// BatchRange is a run of whole batches, back to back, in one segment file.
type BatchRange struct {
	f        syscall.RawConn // nil when the file has no descriptor
	r        io.ReaderAt
	Off, Len int64
}

// RawConn returns the segment file's descriptor access for sendfile, or
// nil when the file system has none (in-memory or fault-injecting files).
func (r BatchRange) RawConn() syscall.RawConn { return r.f }

// ReadAt reads the range into dst, which must be r.Len bytes: the copy
// for transports that cannot send a file (TLS, in-memory files).
func (r BatchRange) ReadAt(dst []byte) error {
	if int64(len(dst)) != r.Len {
		return fmt.Errorf("log: range of %d bytes read into %d", r.Len, len(dst))
	}
	n, err := r.r.ReadAt(dst, r.Off)
	if n == len(dst) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// BatchFiles is what ReadBatchFiles found: ranges in offset order, their
// total size, and the last offset they hold. Release it once sent.
type BatchFiles struct {
	Ranges     []BatchRange
	Size       int64
	LastOffset int64
	segs       []*segment
}

// Release unpins the segments; the ranges must not be used after it. It
// is safe on nil and idempotent.
func (b *BatchFiles) Release() {
	if b == nil {
		return
	}
	for _, s := range b.segs {
		s.release()
	}
	b.segs, b.Ranges = nil, nil
}

// ReadBatchFiles is ReadBatchesBelow returning file ranges instead of
// bytes: the same batches (from the one holding offset, whole, within
// maxBytes, the first always when always is set, none based at end or
// later). It reads only batch headers. Release the result.
func (p *Partition) ReadBatchFiles(offset int64, maxBytes int, always bool, end int64) (*BatchFiles, int64, error) {
	for {
		if p.closedFlag.Load() {
			return nil, 0, ErrClosed
		}
		hw := p.hw.Load()
		segs := *p.segs.Load()
		if start := p.startOf(segs); offset < start || offset > hw {
			return nil, hw, &OffsetRangeError{Offset: offset, Start: start, End: hw}
		}
		out := &BatchFiles{LastOffset: -1}
		if offset == hw || offset >= end {
			return out, hw, nil
		}
		st := fileState{out: out, maxBytes: int64(maxBytes), always: always, end: end}
		i := sort.Search(len(segs), func(i int) bool { return segs[i].base > offset }) - 1
		retired := false
		for ; i < len(segs) && !st.full; i++ {
			s := segs[i]
			if !s.acquire() {
				retired = true
				break
			}
			n := len(out.Ranges)
			err := s.batchFiles(offset, &st)
			if len(out.Ranges) == n {
				s.release() // nothing of this segment is used
			} else {
				out.segs = append(out.segs, s)
			}
			if err != nil {
				if out.Size > 0 {
					return out, hw, nil // serve what is good; the next read errs
				}
				out.Release()
				return nil, hw, err
			}
		}
		if retired && out.Size == 0 {
			out.Release()
			continue
		}
		return out, hw, nil
	}
}

// fileState accumulates a ReadBatchFiles across segments.
type fileState struct {
	out      *BatchFiles
	maxBytes int64
	always   bool
	end      int64
	full     bool
}

// batchFiles adds s's run of batches holding offsets >= off to st.
func (s *segment) batchFiles(off int64, st *fileState) error {
	end := s.size.Load()
	var entries []indexEntry
	if !s.badIndex.Load() {
		entries = *s.idx.Load()
	}
	pos, wantBase := lookupOffset(entries, s.base, off)
	// Headers only: one positional read of a header per batch.
	c := chunkReader{f: s.f, end: end, chunk: batchHeaderSize}
	start := int64(-1)
	for checked := false; pos < end; checked = true {
		h, err := c.header(pos, maxScanBatch)
		if err != nil {
			return s.corrupt(pos, err)
		}
		if !checked && pos > 0 && h.BaseOffset != wantBase {
			if s.badIndex.CompareAndSwap(false, true) && s.onBadIndex != nil {
				s.onBadIndex(s, pos, h.BaseOffset, wantBase)
			}
			return s.batchFiles(off, st)
		}
		if start < 0 && h.lastOffset() < off {
			pos += h.size()
			continue
		}
		if h.BaseOffset >= st.end {
			st.full = true
			break
		}
		first := st.out.Size == 0 && start < 0
		if st.out.Size+h.size() > st.maxBytes && !(first && st.always) {
			st.full = true
			break
		}
		if start < 0 {
			start = pos
		}
		st.out.Size += h.size()
		st.out.LastOffset = h.lastOffset()
		pos += h.size()
	}
	if start >= 0 {
		r := BatchRange{r: s.f, Off: start, Len: pos - start}
		if sf, ok := s.f.(interface {
			SyscallConn() (syscall.RawConn, error)
		}); ok {
			if rc, err := sf.SyscallConn(); err == nil {
				r.f = rc
			}
		}
		st.out.Ranges = append(st.out.Ranges, r)
	}
	return nil
}
