package log

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/sluicehq/sluice/broker/internal/log/vfs"
	"github.com/sluicehq/sluice/internal/bufpool"
)

// This file is the write path: Append queues, one writer goroutine per
// partition commits groups (see doc.go), rolls segments and, under
// FsyncInterval, syncs in the background.

// appendReq is one Append waiting for the writer.
type appendReq struct {
	batch []byte
	info  batchInfo
	base  int64 // under mu until done is closed
	done  chan struct{}
	err   error // set before done is closed
}

func (r *appendReq) lastOffset() int64 { return r.base + int64(r.info.lastDelt) }

// Append appends recs as one batch and returns the first offset. It returns
// once the batch is durable under the fsync policy; concurrent appends share
// one write and one fdatasync. Records are copied; recs is not retained.
//
// If ctx ends before the batch is queued nothing is appended; if it ends
// while the batch waits for the disk, Append returns ctx's error and the
// batch may still be appended.
func (p *Partition) Append(ctx context.Context, recs []Record) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	a, err := p.Enqueue(recs)
	if err != nil {
		return 0, err
	}
	return a.Wait(ctx)
}

// Appending is a batch of records queued by Enqueue.
type Appending struct {
	req      *appendReq
	released bool
}

// Enqueue encodes recs as one batch and queues it, returning at once: the
// batch's offsets follow those of everything queued before it. Wait for
// durability with Appending.Wait. One goroutine can so queue batches on
// many partitions and then wait for them all, instead of one goroutine per
// partition. Records are copied; recs is not retained.
func (p *Partition) Enqueue(recs []Record) (*Appending, error) {
	if len(recs) == 0 {
		return nil, ErrNoRecords
	}
	cfg := p.cfg.Load()
	buf := getBatchBuffer(min(encodedSizeHint(recs), cfg.MaxBatchBytes+batchHeaderSize))
	batch, info, err := appendBatch(buf, 0, recs, true, 0, p.now().UnixMilli(),
		limits{maxRecord: cfg.MaxRecordBytes, maxBatch: cfg.MaxBatchBytes})
	if err != nil {
		putBatchBuffer(buf)
		return nil, err
	}
	req := &appendReq{batch: batch, info: info, done: make(chan struct{})}
	if err := p.enqueue(req); err != nil {
		putBatchBuffer(batch)
		return nil, err
	}
	return &Appending{req: req}, nil
}

// Wait blocks until the batch is durable under the fsync policy, or failed,
// or ctx ends, and returns its base offset. If ctx ends first the batch may
// still be appended. Wait may be called again.
func (a *Appending) Wait(ctx context.Context) (int64, error) {
	base, err := a.req.wait(ctx)
	if !a.released {
		select {
		case <-a.req.done:
			// The writer is done with the batch (written or failed): its
			// bytes are in the segment, and nothing else refers to them.
			a.released = true
			putBatchBuffer(a.req.batch)
		default: // abandoned while queued: the writer still owns it
		}
	}
	return base, err
}

// Append's batch encodings come from bufpool's power-of-two classes, from
// minPooledBatch to maxPooledBatch: small produce requests otherwise
// allocate one per partition each, about half of what a Connect produce
// request allocates. A smaller batch takes the smallest class.
const (
	minPooledBatch = bufpool.Min
	maxPooledBatch = 1 << 20
)

// getBatchBuffer returns an empty buffer with room for n bytes.
func getBatchBuffer(n int) []byte {
	if n > maxPooledBatch {
		return make([]byte, 0, n)
	}
	return bufpool.Get(max(n, minPooledBatch))[:0]
}

// putBatchBuffer returns b to its pool when its capacity is a class's
// (a buffer that grew past its class, or an unpooled size, is dropped).
func putBatchBuffer(b []byte) {
	if cap(b) <= maxPooledBatch {
		bufpool.Put(b)
	}
}

// enqueue fixes req's offsets and queues it for the writer.
func (p *Partition) enqueue(req *appendReq) error {
	_, err := p.enqueueChecked(req, nil)
	return err
}

// enqueueChecked is enqueue that, when h is set, first checks and then
// records h's idempotent-producer sequence; a duplicate returns the
// original request and queues nothing.
func (p *Partition) enqueueChecked(req *appendReq, h *batchHeader) (*appendReq, error) {
	p.mu.Lock()
	switch {
	case p.closed:
		p.mu.Unlock()
		return nil, ErrClosed
	case p.failed != nil:
		err := p.failed
		p.mu.Unlock()
		return nil, err
	}
	if h != nil {
		dup, err := p.checkSequenceLocked(h)
		if err != nil || dup != nil {
			p.mu.Unlock()
			return dup, err
		}
		p.recordSequenceLocked(h, req)
	}
	req.base = p.nextOffset
	p.nextOffset += int64(req.info.count)
	setBaseOffset(req.batch, req.base)
	if h != nil {
		p.beginTxnLocked(h, req.base) // txn.go
	}
	p.queue = append(p.queue, req)
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default: // the writer is already due to look at the queue
	}
	return nil, nil
}

// wait blocks until the writer has committed req (or failed it), or ctx
// ends, and returns req's base offset.
func (r *appendReq) wait(ctx context.Context) (int64, error) {
	select {
	case <-r.done:
		if r.err != nil {
			return 0, r.err
		}
		// The writer sent done after its last change to base, under the
		// channel's happens-before.
		return r.base, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("log: append abandoned while waiting for the disk (it may still be written): %w", ctx.Err())
	}
}

// writeLoop is the partition's single writer: it owns the active segment's
// file and commits queued appends in groups.
func (p *Partition) writeLoop(syncEvery time.Duration) {
	defer p.wg.Done()
	var tick <-chan time.Time
	if syncEvery > 0 {
		t := time.NewTicker(syncEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-p.kick:
			p.drain()
		case <-tick:
			p.syncActive()
		case <-p.stop:
			// Close set closed first, so the queue only shrinks now.
			p.drain()
			return
		}
	}
}

// drain commits everything queued, group by group.
func (p *Partition) drain() {
	for {
		p.mu.Lock()
		group := p.queue
		p.queue = nil
		p.mu.Unlock()
		if len(group) == 0 {
			return
		}
		p.writeGroup(group)
	}
}

func (p *Partition) active() *segment {
	segs := *p.segs.Load()
	return segs[len(segs)-1]
}

// failure returns the poison error, if any.
func (p *Partition) failure() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failed
}

// poison marks the partition failed; the first cause is kept and logged.
func (p *Partition) poison(cause error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failed == nil {
		p.failed = fmt.Errorf("%w: %w", ErrFailed, cause)
		p.log.Error("partition failed; appends refused until it is reopened", "err", cause)
	}
	return p.failed
}

func finish(reqs []*appendReq, err error) {
	for _, r := range reqs {
		r.err = err
		close(r.done)
	}
}

// needRoll says whether a batch about to be written at pos of s must go to a
// new segment instead.
func needRoll(s *segment, cfg *Config, pos int64, r *appendReq, nowMs int64) bool {
	if pos == 0 {
		return false // an empty segment takes any batch
	}
	return pos+int64(len(r.batch)) > cfg.SegmentBytes ||
		r.lastOffset()-s.base > math.MaxInt32 ||
		nowMs-s.rollAt >= cfg.SegmentAge.Milliseconds()
}

// maxRunBytes bounds how much of a group one write carries: beyond it the
// rest of the group gets its own write (and sync), so that one pwritev, and
// one journal record, stays bounded.
const maxRunBytes = 16 << 20

// writeGroup writes a group of queued appends: one vectored write per
// segment the group lands in and, under FsyncAlways, one durability point
// for it (the shared Journal for a small run, else the segment's own
// fdatasync).
func (p *Partition) writeGroup(group []*appendReq) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if err := p.failure(); err != nil {
		finish(group, err)
		return
	}
	cfg := p.cfg.Load()
	nowMs := p.now().UnixMilli()
	for len(group) > 0 {
		s := p.active()
		if needRoll(s, cfg, s.ib.size, group[0], nowMs) {
			if err := p.rollLocked(nowMs); err != nil {
				p.abortLocked(group, err)
				return
			}
			s = p.active()
		}
		start := s.ib.size
		end := start + int64(len(group[0].batch))
		n := 1
		for n < len(group) && end-start+int64(len(group[n].batch)) <= maxRunBytes && !needRoll(s, cfg, end, group[n], nowMs) {
			end += int64(len(group[n].batch))
			n++
		}
		run := group[:n]
		group = group[n:]
		// One vectored write of the run's batches as they are: no copy into
		// one buffer first.
		iov := p.iov[:0]
		for _, r := range run {
			iov = append(iov, r.batch)
		}
		p.iov = iov
		runBytes := end - start
		if _, err := vfs.WriteVAt(s.f, iov, start); err != nil {
			clear(iov)
			err = fmt.Errorf("log: write %s at byte %d: %w", s.path, start, err)
			// Cut whatever part of the run reached the file so that it ends at
			// the last published batch again; then the partition can go on.
			if terr := s.f.Truncate(start); terr != nil {
				err = p.poison(fmt.Errorf("%w; truncating it back failed: %v", err, terr))
			}
			p.abortLocked(append(run, group...), err)
			return
		}
		if cfg.Fsync.Mode == FsyncAlways {
			var err error
			if cfg.Journal != nil && runBytes < journalDirectBytes {
				if err = cfg.Journal.commit(p, s.base, start, iov); err != nil {
					err = fmt.Errorf("log: %s at byte %d: %w", s.path, start, err)
				}
			} else {
				if wb, ok := s.f.(vfs.WritebackStarter); ok {
					_ = wb.StartWriteback(start, runBytes) // advisory; Sync reports errors
				}
				if err = cfg.SyncGate.do(s.f.Sync); err != nil {
					err = fmt.Errorf("log: fdatasync %s: %w", s.path, err)
				}
			}
			if err != nil {
				// After a failed fdatasync the kernel may have dropped the dirty
				// pages: nothing about the file can be trusted until recovery.
				err = p.poison(err)
				finish(run, err)
				finish(group, err)
				return
			}
		} else {
			p.dirty = true
		}
		clear(iov) // the batches may be pooled request buffers: do not pin them
		pos := start
		for _, r := range run {
			h := batchHeader{BaseOffset: r.base, Length: int32(len(r.batch) - logOverhead), MaxTimestamp: r.info.maxTs}
			s.ib.add(s.base, h, pos)
			pos += int64(len(r.batch))
			s.lastOffset = r.lastOffset()
		}
		if start == 0 {
			s.rollAt = nowMs
		}
		s.publish()
		p.hw.Store(s.lastOffset + 1)
		p.wake()
		finish(run, nil)
	}
}

// abortLocked fails reqs with err without poisoning: nothing of them was
// published. The offsets handed to appends still queued behind them assumed
// they would be written, so those are renumbered from the high watermark.
func (p *Partition) abortLocked(reqs []*appendReq, err error) {
	p.mu.Lock()
	// Producer state may name batches that were not written: forget it
	// rather than refuse their producers' retries (see producers.go).
	p.producers = nil
	next := p.hw.Load()
	for _, r := range p.queue {
		r.base = next
		setBaseOffset(r.batch, next)
		next += int64(r.info.count)
	}
	p.nextOffset = next
	p.mu.Unlock()
	finish(reqs, err)
}

// wake closes the current Notify channel.
func (p *Partition) wake() {
	p.mu.Lock()
	if !p.closed {
		close(p.notify)
		p.notify = make(chan struct{})
	}
	p.mu.Unlock()
}

// syncActive is the FsyncInterval tick.
func (p *Partition) syncActive() {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if !p.dirty || p.failure() != nil {
		return
	}
	s := p.active()
	if err := p.cfg.Load().SyncGate.do(s.f.Sync); err != nil {
		p.poison(fmt.Errorf("log: fdatasync %s: %w", s.path, err))
		return
	}
	p.dirty = false
}

// rollLocked closes the active segment and starts a new one at the high
// watermark. The old segment is synced whatever the policy, so that only the
// active segment can ever have a torn tail.
func (p *Partition) rollLocked(nowMs int64) error {
	old := p.active()
	if err := old.f.Sync(); err != nil {
		return p.poison(fmt.Errorf("log: fdatasync %s before rolling: %w", old.path, err))
	}
	p.dirty = false
	if err := p.writeIndexFiles(old.base, *old.idx.Load(), ""); err != nil {
		// Indexes are derived; the next Open rebuilds a missing one.
		p.log.Warn("could not write index; it will be rebuilt on open", "segment", old.path, "err", err)
	}
	base := old.lastOffset + 1
	ns, err := p.createSegment(base, nowMs)
	if err != nil {
		return err
	}
	segs := append(slices.Clone(*p.segs.Load()), ns)
	p.segs.Store(&segs)
	old.ib = nil
	p.log.Debug("rolled segment", "segment", ns.path, "offset", base)
	return nil
}

// createSegment creates an empty segment file and makes its name durable.
func (p *Partition) createSegment(base int64, nowMs int64) (*segment, error) {
	name := p.path(segmentName(base))
	f, err := p.fs.Create(name)
	if err != nil {
		return nil, fmt.Errorf("log: create segment: %w", err)
	}
	if err := p.fs.SyncDir(p.dir); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("log: sync directory %s: %w", p.dir, err)
	}
	s := p.newSegment(base, f)
	s.ib = newIndexBuilder(p.cfg.Load().IndexIntervalBytes)
	s.rollAt = nowMs
	s.publish()
	return s, nil
}

// newSegment makes a segment that reports a bad index to the partition's log.
func (p *Partition) newSegment(base int64, f vfs.File) *segment {
	s := newSegment(p.dir, base, f)
	s.onBadIndex = func(s *segment, pos, got, want int64) {
		p.log.Warn("segment index points at the wrong batch; reading the segment without it",
			"segment", s.path, "position", pos, "found_offset", got, "want_offset", want)
	}
	return s
}

func (p *Partition) path(name string) string { return p.dir + "/" + name }

// writeIndexFiles writes a segment's two index files whole, each through a
// synced temporary file renamed into place; suffix names the final files
// (".cleaned" during compaction). The caller syncs the directory.
func (p *Partition) writeIndexFiles(base int64, entries []indexEntry, suffix string) error {
	if err := writeFileAtomic(p.fs, p.path(offsetIndexName(base)+suffix), encodeOffsetIndex(base, entries)); err != nil {
		return err
	}
	return writeFileAtomic(p.fs, p.path(timeIndexName(base)+suffix), encodeTimeIndex(base, entries))
}

func writeFileAtomic(fs vfs.FS, name string, data []byte) error {
	tmp := name + ".tmp"
	f, err := fs.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(data, 0)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fs.Rename(tmp, name)
	}
	if err != nil {
		_ = fs.Remove(tmp)
		return fmt.Errorf("log: write %s: %w", name, err)
	}
	return nil
}
