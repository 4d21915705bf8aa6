package log

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/broker/internal/log/vfs"
)

// Open opens or creates the partition in dir, recovering its tail: the
// active segment is validated batch by batch from its last index entry and
// cut back to its longest valid prefix; indexes that are missing or do not
// match their segment are rebuilt; leftovers of an interrupted compaction or
// index write are removed. Damage in a closed segment is not repaired: Open
// fails with an error wrapping ErrCorrupt that names the file and position.
func Open(dir string, cfg Config) (*Partition, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Partition{
		dir:          strings.TrimSuffix(dir, "/"),
		fs:           c.FS,
		log:          c.Logger.With("component", "log", "dir", dir),
		now:          c.Now,
		notify:       make(chan struct{}),
		kick:         make(chan struct{}, 1),
		stop:         make(chan struct{}),
		tombstoneDue: math.MaxInt64,
	}
	p.cfg.Store(&c)
	if p.dir == "" {
		p.dir = "."
	}
	if c.Journal != nil {
		if err := p.loadID(); err != nil {
			return nil, err
		}
		if err := c.Journal.replayInto(p); err != nil {
			return nil, err
		}
	}
	segs, err := p.load()
	if err != nil {
		for _, s := range segs {
			_ = s.f.Close()
		}
		return nil, err
	}
	p.segs.Store(&segs)
	p.rebuildProducers(segs)
	p.rebuildTxns(segs)
	act := segs[len(segs)-1]
	p.hw.Store(act.lastOffset + 1)
	p.nextOffset = act.lastOffset + 1
	p.loadLogStart(segs, act.lastOffset+1)
	p.log.Debug("opened partition", "segments", len(segs), "log_start_offset", p.LogStartOffset(), "high_watermark", act.lastOffset+1)

	var syncEvery time.Duration
	if c.Fsync.Mode == FsyncInterval {
		syncEvery = c.Fsync.Interval
	}
	p.wg.Add(1)
	go p.writeLoop(syncEvery)
	if c.MaintenanceInterval > 0 {
		p.wg.Add(1)
		go p.maintainLoop(c.MaintenanceInterval)
	}
	return p, nil
}

// dirListing sorts a partition directory's names.
type dirListing struct {
	bases   []int64         // segment base offsets, ascending
	indexes map[string]bool // index file names present
	junk    []string        // temporary files to delete
}

// parseBase reads a 20-digit base offset file name stem.
func parseBase(stem string) (int64, bool) {
	if len(stem) != 20 {
		return 0, false
	}
	n, err := strconv.ParseInt(stem, 10, 64)
	return n, err == nil && n >= 0
}

func (p *Partition) list() (dirListing, error) {
	l := dirListing{indexes: map[string]bool{}}
	names, err := p.fs.List(p.dir)
	if err != nil {
		return l, fmt.Errorf("log: list %s: %w", p.dir, err)
	}
	for _, name := range names {
		switch {
		case strings.HasSuffix(name, ".tmp"), strings.HasSuffix(name, ".cleaned"):
			l.junk = append(l.junk, name)
		case strings.HasSuffix(name, ".log"):
			if base, ok := parseBase(strings.TrimSuffix(name, ".log")); ok {
				l.bases = append(l.bases, base)
			}
		case strings.HasSuffix(name, ".index"), strings.HasSuffix(name, ".timeindex"):
			l.indexes[name] = true
		}
	}
	// names are sorted and the stems have a fixed width, so bases ascend.
	return l, nil
}

// load prepares the segments of the directory, oldest first.
func (p *Partition) load() ([]*segment, error) {
	if err := p.fs.MkdirAll(p.dir); err != nil {
		return nil, fmt.Errorf("log: create %s: %w", p.dir, err)
	}
	l, err := p.list()
	if err != nil {
		return nil, err
	}
	changed := false
	for _, name := range l.junk {
		if err := p.fs.Remove(p.path(name)); err != nil {
			return nil, fmt.Errorf("log: remove leftover %s: %w", name, err)
		}
		p.log.Info("removed leftover of an interrupted write", "file", name)
		changed = true
	}
	have := map[int64]bool{}
	for _, b := range l.bases {
		have[b] = true
	}
	for name := range l.indexes {
		stem := strings.TrimSuffix(strings.TrimSuffix(name, ".index"), ".timeindex")
		if b, ok := parseBase(stem); ok && !have[b] {
			// A segment deleted by retention or emptied by compaction whose
			// indexes were still to go when the process stopped.
			if err := p.fs.Remove(p.path(name)); err != nil {
				return nil, fmt.Errorf("log: remove orphan index %s: %w", name, err)
			}
			changed = true
		}
	}
	if changed {
		if err := p.fs.SyncDir(p.dir); err != nil {
			return nil, fmt.Errorf("log: sync directory %s: %w", p.dir, err)
		}
	}
	nowMs := p.now().UnixMilli()
	if len(l.bases) == 0 {
		s, err := p.createSegment(0, nowMs)
		if err != nil {
			return nil, err
		}
		return []*segment{s}, nil
	}
	var segs []*segment
	for i, base := range l.bases {
		last := i == len(l.bases)-1
		s, err := p.openSegment(base, last, nowMs)
		if err != nil {
			return segs, err
		}
		if n := len(segs); n > 0 && segs[n-1].lastOffset >= s.base {
			segs = append(segs, s)
			return segs, fmt.Errorf("log: %s ends at offset %d, overlapping %s: %w", segs[n-1].path, segs[n-1].lastOffset, s.path, ErrCorrupt)
		}
		segs = append(segs, s)
	}
	return segs, nil
}

// readWhole reads a small file fully; a missing file is (nil, nil).
func readWhole(fsys vfs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, err := f.Size()
	if err != nil {
		return nil, err
	}
	if n > 1<<30 {
		return nil, corruptf("%s is %d bytes, too large for an index", name, n)
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && !(errors.Is(err, io.EOF) && n == 0) {
		return nil, err
	}
	return b, nil
}

// loadIndexes returns the valid on-disk index of a segment of size bytes, or
// an error saying why there is none (missing: fs.ErrNotExist).
func (p *Partition) loadIndexes(base, size int64, c *chunkReader) ([]indexEntry, error) {
	ob, err := readWhole(p.fs, p.path(offsetIndexName(base)))
	if err != nil {
		return nil, err
	}
	tb, err := readWhole(p.fs, p.path(timeIndexName(base)))
	if err != nil {
		return nil, err
	}
	if ob == nil || tb == nil {
		return nil, fs.ErrNotExist
	}
	entries, err := decodeIndexes(ob, tb, base, size)
	if err != nil {
		return nil, err
	}
	if n := len(entries); n > 0 {
		// The last entry must point at a batch with the offset it claims;
		// earlier ones are checked when a read lands on them.
		e := entries[n-1]
		h, err := c.header(int64(e.pos), maxScanBatch)
		if err != nil {
			return nil, fmt.Errorf("last entry points at byte %d: %w", e.pos, err)
		}
		if h.BaseOffset != base+int64(e.rel) {
			return nil, corruptf("last entry says offset %d at byte %d, the batch there has %d", base+int64(e.rel), e.pos, h.BaseOffset)
		}
	}
	return entries, nil
}

// openSegment opens the segment with the given base. The active segment is
// scanned with full validation from its last index entry and its torn tail
// cut; a closed one is trusted after its index checks out, and is scanned
// (and must be valid) only to rebuild a bad index.
func (p *Partition) openSegment(base int64, active bool, nowMs int64) (*segment, error) {
	name := p.path(segmentName(base))
	open := p.fs.Open
	if active {
		open = p.fs.OpenReadWrite
	}
	f, err := open(name)
	if err != nil {
		return nil, fmt.Errorf("log: open segment: %w", err)
	}
	s := p.newSegment(base, f)
	size, err := f.Size()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("log: size of %s: %w", name, err)
	}
	cfg := p.cfg.Load()
	c := &chunkReader{f: f, end: size, chunk: 64 << 10}
	entries, ierr := p.loadIndexes(base, size, c)

	ib := newIndexBuilder(cfg.IndexIntervalBytes)
	var from int64
	last := base - 1
	if ierr == nil && len(entries) > 0 {
		// Resume from the last entry: everything before it was synced before
		// the index was written.
		e := entries[len(entries)-1]
		ib.entries = entries
		ib.maxTs = e.ts
		ib.size = int64(e.pos)
		from = int64(e.pos)
		last = base + int64(e.rel) - 1
	}
	rebuilt := ierr != nil
	if !active && ierr == nil {
		// Closed and indexed: only the batch headers after the last entry
		// are needed, for the segment's last offset and largest timestamp.
		res, herr := scanHeaders(c, base, from, size, ib, last)
		if herr == nil {
			s.ib, s.lastOffset = ib, res
			s.publish()
			s.ib = nil
			return s, nil
		}
		ierr = herr
		rebuilt = true
		ib = newIndexBuilder(cfg.IndexIntervalBytes)
		from, last = 0, base-1
	}
	if rebuilt {
		reason := "missing"
		if !errors.Is(ierr, fs.ErrNotExist) {
			reason = ierr.Error()
		}
		// The active segment's index is routinely stale or missing after a
		// crash (it is written at roll and close); a closed segment's is not.
		lvl := slog.LevelWarn
		if active {
			lvl = slog.LevelInfo
		}
		p.log.Log(context.Background(), lvl, "rebuilding segment index", "segment", name, "reason", reason)
	}
	res := scanSegment(f, base, from, size, ib, last, active)
	if res.err != nil && !active {
		_ = f.Close()
		return nil, fmt.Errorf("log: %s at byte %d: %w", name, res.validEnd, res.err)
	}
	if res.err != nil {
		cut := size - res.validEnd
		batches := countBatches(f, res.validEnd, size)
		if err := f.Truncate(res.validEnd); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("log: truncate torn tail of %s: %w", name, err)
		}
		if err := f.Sync(); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("log: fdatasync %s: %w", name, err)
		}
		p.log.Warn("truncated torn tail of segment", "file", name, "bytes_cut", cut, "batches_cut", batches,
			"kept_bytes", res.validEnd, "high_watermark", res.lastOffset+1, "reason", res.err.Error())
	}
	s.ib = res.ib
	s.lastOffset = res.lastOffset
	if active {
		s.rollAt = nowMs
		if res.validEnd > 0 {
			s.rollAt = min(s.firstTimestamp(), nowMs)
		}
	}
	s.publish()
	if !active {
		if err := p.writeIndexFiles(base, s.ib.entries, ""); err != nil {
			p.log.Warn("could not write rebuilt index", "segment", name, "err", err)
		}
		s.ib = nil
	}
	return s, nil
}

// firstTimestamp is the base timestamp of the segment's first batch, or 0.
func (s *segment) firstTimestamp() int64 {
	var hdr [batchHeaderSize]byte
	if _, err := s.f.ReadAt(hdr[:], 0); err != nil {
		return 0
	}
	h, err := parseBatchHeader(hdr[:], maxScanBatch)
	if err != nil {
		return 0
	}
	return h.BaseTimestamp
}

// scanHeaders walks batch headers from pos to end, feeding ib, and returns
// the last offset. The batches must tile the rest of the file exactly.
func scanHeaders(c *chunkReader, base, pos, end int64, ib *indexBuilder, last int64) (int64, error) {
	for pos < end {
		h, err := c.header(pos, maxScanBatch)
		if err != nil {
			return last, fmt.Errorf("batch at byte %d: %w", pos, err)
		}
		if h.BaseOffset <= last {
			return last, corruptf("batch at byte %d has base offset %d, not after %d", pos, h.BaseOffset, last)
		}
		ib.add(base, h, pos)
		last = h.lastOffset()
		pos += h.size()
	}
	return last, nil
}
