package log

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
)

// logStartName is the log start offset checkpoint (format.go).
const logStartName = "log-start-offset"

// LogStartOffset is the first offset a read may ask for: the first
// segment's base, or the offset DeleteRecordsBefore moved it to inside the
// first segment, whichever is larger.
func (p *Partition) LogStartOffset() int64 { return p.startOf(*p.segs.Load()) }

// startOf is the log start offset given segs, loaded before it: segments
// are removed only after logStart has been raised past them, so the pair is
// consistent.
func (p *Partition) startOf(segs []*segment) int64 {
	return max(segs[0].base, p.logStart.Load())
}

// DeleteRecordsBefore moves the log start offset forward to offset (Kafka's
// DeleteRecords): reads below it fail with ErrOffsetOutOfRange, closed
// segments wholly below it are deleted, and the new start is checkpointed
// (synced) before anything is deleted, so it holds across a crash. offset
// may not pass the high watermark, nor the last stable offset while a
// transaction is open (its records and marker must stay); either returns
// an *OffsetRangeError naming the allowed range. An offset at or below the
// current start changes nothing. It returns the log start offset after the
// call.
func (p *Partition) DeleteRecordsBefore(offset int64) (int64, error) {
	p.maintMu.Lock()
	defer p.maintMu.Unlock()
	if p.closedFlag.Load() {
		return 0, ErrClosed
	}
	start := p.LogStartOffset()
	limit := p.LastStableOffset() // <= the high watermark
	if offset < 0 || offset > limit {
		return start, &OffsetRangeError{Offset: offset, Start: start, End: limit}
	}
	if offset <= start {
		return start, nil
	}
	if err := writeFileAtomic(p.fs, p.path(logStartName), encodeLogStart(offset)); err != nil {
		return start, err
	}
	if err := p.fs.SyncDir(p.dir); err != nil {
		return start, fmt.Errorf("log: sync directory %s: %w", p.dir, err)
	}
	p.logStart.Store(offset)
	p.log.Info("moved log start offset", "log_start_offset", offset)
	// The new start holds from here; deleting what is below it can be
	// retried by maintenance if it fails now.
	return offset, p.dropBelowStartLocked()
}

// dropBelowStartLocked deletes the closed segments wholly below the log
// start offset (the next segment's base is at or below it). Caller holds
// maintMu.
func (p *Partition) dropBelowStartLocked() error {
	start := p.logStart.Load()
	segs := *p.segs.Load()
	n := 0
	for n < len(segs)-1 && segs[n+1].base <= start {
		n++
	}
	n = p.retainableLocked(segs, n)
	if n == 0 {
		return nil
	}
	victims := segs[:n]
	p.wmu.Lock()
	rest := slices.Clone((*p.segs.Load())[n:]) // only maintenance removes segments, and we hold maintMu
	p.segs.Store(&rest)
	p.wmu.Unlock()
	var errs []error
	for _, s := range victims {
		errs = append(errs, p.removeSegmentFiles(s.base))
		s.release()
	}
	errs = append(errs, p.fs.SyncDir(p.dir))
	p.log.Info("deleted segments", "reason", "log start offset", "segments", n, "log_start_offset", p.LogStartOffset())
	return errors.Join(errs...)
}

// loadLogStart reads the checkpoint at Open, with segs loaded and hw the
// recovered high watermark (format.go says what is ignored or lowered).
func (p *Partition) loadLogStart(segs []*segment, hw int64) {
	b, err := readWhole(p.fs, p.path(logStartName))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		p.log.Warn("could not read the log start offset checkpoint; ignoring it", "file", logStartName, "err", err)
		return
	}
	if b == nil {
		return
	}
	off, err := decodeLogStart(b)
	if err != nil {
		p.log.Warn("bad log start offset checkpoint; ignoring it", "file", logStartName, "err", err)
		return
	}
	if off > hw {
		p.log.Warn("log start offset checkpoint is past the recovered high watermark; lowering it",
			"log_start_offset", off, "high_watermark", hw)
		off = hw
	}
	if off > segs[0].base {
		p.logStart.Store(off)
	}
}

// encodeLogStart is the checkpoint's bytes (format.go).
func encodeLogStart(off int64) []byte {
	return []byte("1 " + strconv.FormatInt(off, 10) + "\n")
}

// decodeLogStart parses a checkpoint.
func decodeLogStart(b []byte) (int64, error) {
	s, ok := strings.CutSuffix(string(b), "\n")
	if !ok {
		return 0, corruptf("%s: %q does not end in a newline", logStartName, b)
	}
	v, num, ok := strings.Cut(s, " ")
	if !ok || v != "1" {
		return 0, corruptf("%s: %q is not version 1 (\"1 <offset>\")", logStartName, b)
	}
	off, err := strconv.ParseInt(num, 10, 64)
	if err != nil || off < 0 || num != strconv.FormatInt(off, 10) {
		return 0, corruptf("%s: %q does not hold a non-negative decimal offset", logStartName, b)
	}
	return off, nil
}
