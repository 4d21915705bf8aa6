package log

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"time"
)

// maintainLoop runs RunMaintenance every interval until Close.
func (p *Partition) maintainLoop(every time.Duration) {
	defer p.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			if err := p.RunMaintenance(p.now()); err != nil && !errors.Is(err, ErrClosed) {
				// Nobody else sees this error: the work is retried next tick.
				p.log.Error("log maintenance failed", "err", err)
			}
		}
	}
}

// RunMaintenance does the partition's background work as of now, and is what
// the background goroutine calls every MaintenanceInterval: it rolls an
// active segment older than SegmentAge (so that retention and compaction can
// reach its records), then deletes the oldest closed segments past
// RetentionAge (by their largest record timestamp) or beyond RetentionBytes
// (Config.Retains: not under compact alone), then compacts (Compact set, and
// a segment was closed since the last pass or a kept tombstone has expired).
// The active segment is never deleted or compacted. Safe to call
// concurrently with everything else.
func (p *Partition) RunMaintenance(now time.Time) error {
	p.maintMu.Lock()
	defer p.maintMu.Unlock()
	if p.closedFlag.Load() {
		return ErrClosed
	}
	cfg := p.cfg.Load()
	nowMs := now.UnixMilli()
	var errs []error
	if err := p.rollIfOld(cfg, nowMs); err != nil {
		errs = append(errs, err)
	}
	if cfg.Retains() {
		errs = append(errs, p.retainLocked(cfg, nowMs))
	}
	if cfg.Compact {
		segs := *p.segs.Load()
		if len(segs) > 1 && (segs[len(segs)-2].base >= p.cleanedTo || nowMs >= p.tombstoneDue) {
			errs = append(errs, p.compactLocked(cfg, nowMs))
		}
	}
	errs = append(errs, p.dropBelowStartLocked()) // log_start.go
	p.pruneAborted()                              // txn.go
	return errors.Join(errs...)
}

// rollIfOld rolls a non-empty active segment that has reached SegmentAge.
func (p *Partition) rollIfOld(cfg *Config, nowMs int64) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	s := p.active()
	if p.failure() != nil || s.ib.size == 0 || nowMs-s.rollAt < cfg.SegmentAge.Milliseconds() {
		return nil
	}
	return p.rollLocked(nowMs)
}

// retainLocked deletes the oldest closed segments that retention allows.
func (p *Partition) retainLocked(cfg *Config, nowMs int64) error {
	segs := *p.segs.Load()
	closed := segs[:len(segs)-1]
	n := 0
	reason := ""
	if cfg.RetentionAge > 0 {
		limit := nowMs - cfg.RetentionAge.Milliseconds()
		for n < len(closed) && closed[n].maxTs.Load() < limit {
			n++
		}
		if n > 0 {
			reason = "retention age"
		}
	}
	if cfg.RetentionBytes > 0 {
		// As Kafka does: delete the oldest while what remains is still at
		// least RetentionBytes.
		total := p.Size()
		for i, s := range closed {
			if i < n {
				total -= s.size.Load()
				continue
			}
			if total-s.size.Load() < cfg.RetentionBytes {
				break
			}
			total -= s.size.Load()
			n = i + 1
			reason = "retention bytes"
		}
	}
	// Not past an open transaction's start (txn.go): its records must
	// stay readable, and its marker decides them.
	n = p.retainableLocked(segs, n)
	if n == 0 {
		return nil
	}
	victims := closed[:n]
	p.wmu.Lock()
	cur := *p.segs.Load()
	rest := slices.Clone(cur[n:]) // only maintenance removes segments, and we hold maintMu
	p.segs.Store(&rest)
	p.wmu.Unlock()
	var errs []error
	for _, s := range victims {
		errs = append(errs, p.removeSegmentFiles(s.base))
		s.release()
	}
	errs = append(errs, p.fs.SyncDir(p.dir))
	p.log.Info("deleted segments", "reason", reason, "segments", n, "log_start_offset", rest[0].base)
	return errors.Join(errs...)
}

// removeSegmentFiles deletes a segment's .log and then its indexes: a crash
// in between leaves orphan indexes, which Open deletes.
func (p *Partition) removeSegmentFiles(base int64) error {
	var errs []error
	for _, name := range []string{segmentName(base), offsetIndexName(base), timeIndexName(base)} {
		if err := p.fs.Remove(p.path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("log: remove %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// Compact cleans the closed segments now, whatever the partition's policy:
// it keeps the latest record of each key and every keyless record, drops
// tombstones older than DeleteRetention, preserves offsets, and swaps each
// rewritten segment in crash-safely. RunMaintenance calls it for compacted
// partitions when there is something new to clean.
func (p *Partition) Compact() error {
	p.maintMu.Lock()
	defer p.maintMu.Unlock()
	if p.closedFlag.Load() {
		return ErrClosed
	}
	return p.compactLocked(p.cfg.Load(), p.now().UnixMilli())
}

// forEachBatch decodes every batch of a closed segment in order.
func (s *segment) forEachBatch(fn func(h batchHeader, recs []Record) error) error {
	end := s.size.Load()
	c := chunkReader{f: s.f, end: end, chunk: 1 << 20}
	var recs []Record
	for pos := int64(0); pos < end; {
		h, err := c.header(pos, maxScanBatch)
		if err != nil {
			return s.corrupt(pos, err)
		}
		if recs, err = c.batch(recs[:0], pos, h, false); err != nil {
			return s.corrupt(pos, err)
		}
		if err := fn(h, recs); err != nil {
			return err
		}
		pos += h.size()
	}
	return nil
}

// compactLocked keeps, in the closed segments, only the latest record of
// each key (latest among the closed segments: the active one is not
// considered, as in Kafka) plus every record without a key. A tombstone (a
// keyed record with a null value) that is the latest of its key is kept
// until its timestamp is DeleteRetention old, so that consumers get to see
// the delete. Offsets are preserved; each batch keeps its base offset and
// last offset delta. Each changed segment is rewritten to <base>.log.cleaned
// and renamed over the original (segments left empty are deleted).
func (p *Partition) compactLocked(cfg *Config, nowMs int64) error {
	segs := *p.segs.Load()
	closed := segs[:len(segs)-1]
	// Transactions (txn.go): only segments wholly below the last stable
	// offset are compacted, and aborted batches are dropped rather than
	// allowed to shadow committed records of their keys.
	closed, txn := p.compactableLocked(closed, segs)
	if len(closed) == 0 {
		return nil
	}
	latest := map[string]int64{}
	for _, s := range closed {
		err := s.forEachBatch(func(h batchHeader, recs []Record) error {
			if h.control() {
				return nil // a marker's key is not a record key
			}
			if txn.drop(&h) {
				return nil
			}
			for i := range recs {
				if recs[i].Key != nil {
					latest[string(recs[i].Key)] = recs[i].Offset
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("log: compaction: %w", err)
		}
	}
	horizon := nowMs - cfg.DeleteRetention.Milliseconds()
	due := int64(math.MaxInt64)
	keep := func(r *Record) bool {
		if txn.dropped(r.Offset) {
			return false
		}
		if r.Key == nil {
			return true
		}
		if latest[string(r.Key)] != r.Offset {
			return false
		}
		if r.Value == nil {
			if r.Timestamp <= horizon {
				return false
			}
			due = min(due, r.Timestamp+cfg.DeleteRetention.Milliseconds())
		}
		return true
	}
	var done []*cleanedSegment
	abort := func(err error) error {
		for _, c := range done {
			c.discard(p)
		}
		return err
	}
	for _, s := range closed {
		changed := false
		err := s.forEachBatch(func(h batchHeader, recs []Record) error {
			if h.control() {
				return nil // markers are kept
			}
			for i := range recs {
				if !keep(&recs[i]) {
					changed = true
				}
			}
			return nil
		})
		if err != nil {
			return abort(fmt.Errorf("log: compaction: %w", err))
		}
		if !changed {
			continue
		}
		c, err := p.writeCleaned(s, keep, cfg, s == segs[0])
		if err != nil {
			return abort(fmt.Errorf("log: compaction of %s: %w", s.path, err))
		}
		done = append(done, c)
	}
	if len(done) > 0 {
		if err := p.installCleaned(done); err != nil {
			return fmt.Errorf("log: compaction: %w", err)
		}
	}
	p.cleanedTo = segs[len(closed)].base
	p.tombstoneDue = due
	if len(done) > 0 {
		emptied := 0
		for _, c := range done {
			if c.ns == nil {
				emptied++
			}
		}
		p.log.Info("compacted segments", "segments", len(done), "removed_empty", emptied, "keys", len(latest))
	}
	return nil
}

// cleanedSegment is a compacted copy of old, written and synced as
// <base>.log.cleaned with its indexes as <base>.index.cleaned and
// <base>.timeindex.cleaned; ns is nil when nothing was left (then there are
// no files and the segment is to be deleted).
type cleanedSegment struct {
	old *segment
	ns  *segment
}

// discard closes and deletes the files of a compaction that will not be
// installed. Leftovers (if deleting fails) are removed by the next Open.
func (c *cleanedSegment) discard(p *Partition) {
	if c.ns == nil {
		return
	}
	_ = c.ns.f.Close()
	for _, name := range []string{segmentName(c.old.base), offsetIndexName(c.old.base), timeIndexName(c.old.base)} {
		_ = p.fs.Remove(p.path(name) + ".cleaned")
	}
}

// writeCleaned writes the records of s that keep accepts, batch by batch
// (each keeps its base offset and last offset delta), to .cleaned files. An
// empty result keepEmpty (the first segment, which holds the log start
// offset) is written as an empty segment rather than dropped.
func (p *Partition) writeCleaned(s *segment, keep func(*Record) bool, cfg *Config, keepEmpty bool) (_ *cleanedSegment, err error) {
	cleanedName := p.path(segmentName(s.base)) + ".cleaned"
	f, err := p.fs.Create(cleanedName)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = p.fs.Remove(cleanedName)
		}
	}()
	ib := newIndexBuilder(cfg.IndexIntervalBytes)
	last := s.base - 1
	var buf []byte
	var kept []Record
	var pos int64
	err = s.forEachBatch(func(h batchHeader, recs []Record) error {
		kept = kept[:0]
		for i := range recs {
			if h.control() || keep(&recs[i]) {
				kept = append(kept, recs[i])
			}
		}
		if len(kept) == 0 {
			return nil
		}
		var err error
		buf, _, err = appendBatchAs(buf[:0], h.BaseOffset, kept, false, h.LastOffsetDelta, 0, limits{}, &h)
		if err != nil {
			return err
		}
		nh, err := parseBatchHeader(buf, int64(len(buf)))
		if err != nil {
			return err
		}
		if _, err := f.WriteAt(buf, pos); err != nil {
			return err
		}
		ib.add(s.base, nh, pos)
		pos += int64(len(buf))
		last = nh.lastOffset()
		return nil
	})
	if err != nil {
		return nil, err
	}
	if pos == 0 && !keepEmpty {
		if err = f.Close(); err != nil {
			return nil, err
		}
		return &cleanedSegment{old: s}, p.fs.Remove(cleanedName)
	}
	if err = f.Sync(); err != nil {
		return nil, err
	}
	if err = p.writeIndexFiles(s.base, ib.entries, ".cleaned"); err != nil {
		return nil, err
	}
	ns := p.newSegment(s.base, f)
	ns.ib = ib
	ns.lastOffset = last
	ns.publish()
	ns.ib = nil
	return &cleanedSegment{old: s, ns: ns}, nil
}

// installCleaned swaps compacted segments in, three directory syncs for the
// whole pass. Per segment the commit point is the rename of its .log (or,
// for an emptied segment, its removal): the old indexes go first, so that a
// new log never meets them (a missing index is rebuilt on open), and the new
// indexes are renamed into place after. If a step fails, segments already
// swapped on disk are still served through the old files, which stay open
// and hold a superset of the same records; the next Open sees the new ones.
func (p *Partition) installCleaned(done []*cleanedSegment) error {
	fail := func(err error) error {
		for _, c := range done {
			c.discard(p)
		}
		return err
	}
	for _, c := range done {
		for _, name := range []string{offsetIndexName(c.old.base), timeIndexName(c.old.base)} {
			if err := p.fs.Remove(p.path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fail(err)
			}
		}
	}
	if err := p.fs.SyncDir(p.dir); err != nil {
		return fail(err)
	}
	for _, c := range done {
		name := p.path(segmentName(c.old.base))
		var err error
		if c.ns == nil {
			err = p.fs.Remove(name)
		} else {
			err = p.fs.Rename(name+".cleaned", name)
		}
		if err != nil {
			return fail(err)
		}
	}
	if err := p.fs.SyncDir(p.dir); err != nil {
		return fail(err)
	}
	// The new segments are in place; index trouble from here on is repaired
	// by the next Open and does not fail the compaction.
	for _, c := range done {
		if c.ns == nil {
			continue
		}
		for _, name := range []string{offsetIndexName(c.old.base), timeIndexName(c.old.base)} {
			if err := p.fs.Rename(p.path(name)+".cleaned", p.path(name)); err != nil {
				p.log.Warn("could not install compacted index; it will be rebuilt on open", "file", name, "err", err)
			}
		}
	}
	if err := p.fs.SyncDir(p.dir); err != nil {
		p.log.Warn("could not sync directory", "dir", p.dir, "err", err)
	}
	p.wmu.Lock()
	byOld := make(map[*segment]*segment, len(done))
	for _, c := range done {
		byOld[c.old] = c.ns
	}
	var cur []*segment
	for _, s := range *p.segs.Load() {
		ns, ok := byOld[s]
		switch {
		case !ok:
			cur = append(cur, s)
		case ns != nil:
			cur = append(cur, ns)
		}
	}
	p.segs.Store(&cur)
	p.wmu.Unlock()
	for _, c := range done {
		c.old.release()
	}
	return nil
}
