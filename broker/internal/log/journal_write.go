package log

import (
	"errors"
	"fmt"
	"path"

	"github.com/sluicehq/sluice/broker/internal/log/vfs"
)

// journalDirectBytes is the run size from which a partition syncs its own
// segment instead of going through the journal. A large run's fdatasync is
// mostly its bytes reaching the disk, so sharing one sync saves little, and
// the journal would write those bytes twice (journal, then checkpoint); small
// runs are where the fixed cost of each fdatasync dominates. Both kinds mix
// safely in one partition: a directly synced run is durable in its segment,
// and replay only rewrites what the journal holds, past it.
const journalDirectBytes = 256 << 10

// FinishRecovery ends recovery once every partition is open: files read at
// open hold nothing needed any more (every partition with records there
// synced its segment after replaying them; the rest belonged to partitions
// that no longer exist), so they become spares, and the journal starts
// writing its next file.
func (j *Journal) FinishRecovery() error {
	j.mu.Lock()
	if j.started || j.closed {
		j.mu.Unlock()
		return errors.New("log: journal already started or closed")
	}
	if len(j.replay) > 0 {
		j.log.Info("journal held data of partitions that no longer exist; dropped", "partitions", len(j.replay))
	}
	j.replay = nil
	files := j.readFiles
	j.readFiles = nil
	j.mu.Unlock()
	for _, jf := range files {
		_ = jf.f.Close()
		j.recycle(jf.name)
	}
	if err := j.openNext(); err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.started = true
	j.fileMembers = map[*Partition]struct{}{}
	j.wg.Add(1)
	go j.writeLoop()
	go j.backgroundLoop()
	j.background <- journalCheckpoint{} // prepare the next file
	return nil
}

// commit makes data (the buffers p wrote, end to end, at pos of its segment
// starting at segBase) durable in the journal, waiting for the write that
// carries it. The journal reads data until commit returns.
func (j *Journal) commit(p *Partition, segBase, pos int64, data [][]byte) error {
	n := 0
	for _, b := range data {
		n += len(b)
	}
	j.mu.Lock()
	switch {
	case j.failed != nil:
		j.mu.Unlock()
		return j.failed
	case !j.started || j.closed:
		j.mu.Unlock()
		return errors.New("log: journal is not accepting writes (not recovered yet, or closed)")
	}
	grp := j.grp
	j.pending.headers = appendJournalHeader(j.pending.headers, p.id, segBase, pos, n)
	j.pending.data = append(j.pending.data, data)
	j.pending.members = append(j.pending.members, p)
	j.mu.Unlock()
	select {
	case j.kick <- struct{}{}:
	default:
	}
	<-grp.done
	return grp.err
}

// writeLoop is the journal's single writer: a group commit across partitions.
func (j *Journal) writeLoop() {
	defer close(j.writerDone)
	for {
		select {
		case <-j.kick:
			j.writeGroup()
		case <-j.stop:
			j.writeGroup() // anything handed in before Close
			return
		}
	}
}

// writeGroup writes and syncs everything handed in since the last write.
func (j *Journal) writeGroup() {
	j.mu.Lock()
	b, grp := j.pending, j.grp
	if len(b.data) == 0 {
		j.mu.Unlock()
		return
	}
	j.pending = j.spare
	j.spare = journalBatch{}
	j.grp = &journalGroup{done: make(chan struct{})}
	failed := j.failed
	j.mu.Unlock()
	if failed != nil {
		// Handed in before the failure: never written after it, so that no
		// later write can succeed past one that failed.
		j.finishGroup(b, grp, failed)
		return
	}

	size := int64(len(b.headers))
	for _, d := range b.data {
		for _, buf := range d {
			size += int64(len(buf))
		}
	}
	if j.size > int64(len(journalMagic)) && j.size+size > j.capacity {
		j.rotate()
	}
	iov := j.iov[:0]
	for i, d := range b.data {
		h := b.headers[i*journalHeaderBytes : (i+1)*journalHeaderBytes]
		stampJournalHeader(h, j.seq)
		iov = append(iov, h)
		iov = append(iov, d...)
	}
	err := j.write(iov, size)
	clear(iov) // the callers' buffers go back to them
	j.iov = iov[:0]
	if err == nil {
		for _, p := range b.members {
			j.fileMembers[p] = struct{}{}
		}
	} else {
		j.mu.Lock()
		if j.failed == nil {
			j.failed = err
			j.log.Error("journal failed; appends under fsync=always are refused until the server restarts", "err", err)
		}
		err = j.failed
		j.mu.Unlock()
	}
	j.finishGroup(b, grp, err)
}

// finishGroup wakes grp's callers with err and keeps b's slices for reuse.
func (j *Journal) finishGroup(b journalBatch, grp *journalGroup, err error) {
	grp.err = err
	close(grp.done)

	clear(b.data)
	clear(b.members)
	j.mu.Lock()
	j.spare = journalBatch{headers: b.headers[:0], data: b.data[:0], members: b.members[:0]}
	j.mu.Unlock()
}

// write writes iov (size bytes) at the end of the current file and syncs it.
func (j *Journal) write(iov [][]byte, size int64) error {
	if _, err := vfs.WriteVAt(j.f, iov, j.size); err != nil {
		return fmt.Errorf("log: write journal %s at byte %d: %w", j.currentName(), j.size, err)
	}
	j.size += size
	if err := j.timedSync(); err != nil { // sync_observe.go
		return fmt.Errorf("log: fdatasync journal %s: %w", j.currentName(), err)
	}
	return nil
}

func (j *Journal) currentName() string { return path.Join(j.dir, journalName(j.seq)) }

// rotate makes the next file current and hands the old one to the
// background goroutine for its checkpoint. On failure the journal goes on
// past the current file's capacity (the file grows) and tries again at the
// next write.
func (j *Journal) rotate() {
	if len(j.background) == cap(j.background) {
		// Checkpoints lag behind (a slow disk): keep writing this file rather
		// than block here, which would stall every partition's commit.
		return
	}
	oldName, members := j.currentName(), j.fileMembers
	if err := j.openNext(); err != nil {
		j.log.Warn("could not start the next journal file; going on with the current one", "err", err)
		return
	}
	j.fileMembers = map[*Partition]struct{}{}
	j.background <- journalCheckpoint{name: oldName, members: members}
}

// openNext makes file seq+1 current: a spare renamed, or (when none is
// ready) a new one filled with zeros; either way with its name durable before
// any record goes in.
func (j *Journal) openNext() error {
	name := path.Join(j.dir, journalName(j.seq+1))
	j.mu.Lock()
	var spare string
	if n := len(j.free); n > 0 {
		spare, j.free = j.free[0], j.free[1:]
	}
	j.mu.Unlock()
	if spare != "" {
		if err := checkSpare(j.fs, spare); err != nil {
			// Checked when listed; a spare spoiled since (removed or cut
			// by hand) is replaced rather than failing the journal.
			j.log.Warn("journal spare unusable; preparing another", "file", spare, "reason", err)
			_ = j.fs.Remove(spare)
			spare = ""
		}
	}
	if spare == "" {
		var err error
		if spare, err = j.prepareSpare(); err != nil {
			return err
		}
	}
	if err := j.fs.Rename(spare, name); err != nil {
		return fmt.Errorf("log: use journal %s as %s: %w", spare, name, err)
	}
	if err := j.fs.SyncDir(j.dir); err != nil {
		return fmt.Errorf("log: sync journal directory %s: %w", j.dir, err)
	}
	f, err := j.fs.OpenReadWrite(name)
	if err != nil {
		return fmt.Errorf("log: open journal %s: %w", name, err)
	}
	capacity, err := f.Size()
	if err == nil && capacity < int64(len(journalMagic)) {
		err = fmt.Errorf("%d bytes, not a prepared journal file", capacity)
	}
	if err != nil {
		_ = f.Close()
		_ = j.fs.Remove(name)
		return fmt.Errorf("log: journal %s: %w", name, err)
	}
	if j.f != nil {
		_ = j.f.Close()
	}
	j.f, j.seq, j.size, j.capacity = f, j.seq+1, int64(len(journalMagic)), capacity
	return nil
}

// prepareSpare creates a spare file: the magic, then zeros to the next
// capacity, synced, so that records later overwrite it in place.
func (j *Journal) prepareSpare() (string, error) {
	j.mu.Lock()
	capacity := j.newCap
	j.newCap = min(2*j.newCap, j.maxCap)
	j.spares++
	name := path.Join(j.dir, fmt.Sprintf("%s%d%s", journalSparePrefix, j.spares, journalSuffix))
	j.mu.Unlock()
	f, err := j.fs.Create(name)
	if err != nil {
		return "", fmt.Errorf("log: create journal spare %s: %w", name, err)
	}
	zeros := make([]byte, min(capacity, 1<<20))
	copy(zeros, journalMagic)
	for off := int64(0); off < capacity && err == nil; off += int64(len(zeros)) {
		_, err = f.WriteAt(zeros[:min(int64(len(zeros)), capacity-off)], off)
		if off == 0 {
			clear(zeros[:len(journalMagic)])
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = j.fs.Remove(name)
		return "", fmt.Errorf("log: prepare journal spare %s: %w", name, err)
	}
	return name, nil
}

// recycle turns a file that holds nothing needed into a spare, or removes it
// when enough spares are kept.
func (j *Journal) recycle(name string) {
	j.mu.Lock()
	keep := len(j.free) < journalMaxFree
	var spare string
	if keep {
		j.spares++
		spare = path.Join(j.dir, fmt.Sprintf("%s%d%s", journalSparePrefix, j.spares, journalSuffix))
	}
	j.mu.Unlock()
	if keep {
		if err := j.fs.Rename(name, spare); err == nil {
			j.mu.Lock()
			j.free = append(j.free, spare)
			j.mu.Unlock()
			return
		}
	}
	if err := j.fs.Remove(name); err != nil {
		j.log.Warn("could not remove a checkpointed journal file", "file", name, "err", err)
	}
}

// backgroundLoop runs checkpoints (make the segments behind a closed journal
// file durable, then recycle the file) and keeps a spare file ready, off the
// writer's path.
func (j *Journal) backgroundLoop() {
	defer j.wg.Done()
	for ck := range j.background {
		if ck.name != "" {
			j.checkpoint(ck)
		}
		j.mu.Lock()
		need := len(j.free) == 0 && !j.closed
		j.mu.Unlock()
		if need {
			spare, err := j.prepareSpare()
			if err != nil {
				j.log.Warn("could not prepare a journal file ahead of time", "err", err)
				continue
			}
			j.mu.Lock()
			j.free = append(j.free, spare)
			j.mu.Unlock()
		}
	}
}

// checkpoint syncs the active segment of every partition that wrote to a
// closed journal file, then recycles the file. On failure the file stays for
// the next start to replay.
func (j *Journal) checkpoint(ck journalCheckpoint) {
	var errs []error
	for p := range ck.members {
		if err := p.checkpointSync(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		j.log.Error("checkpoint failed; keeping the journal file for the next start to replay", "file", ck.name, "err", err)
		return
	}
	j.recycle(ck.name)
	j.mu.Lock()
	j.checkpoints++
	j.mu.Unlock()
}

// Close stops the journal after the partitions using it were closed: it
// writes anything still handed in, waits for the background work, and
// closes the current file. The files stay; the next OpenJournal replays the
// live ones (partitions closed cleanly have synced segments, so that is one
// idempotent pass).
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	started := j.started
	j.mu.Unlock()
	if !started {
		j.closeReadFiles()
		return nil
	}
	close(j.stop)
	<-j.writerDone // the writer is the only sender on background
	close(j.background)
	j.wg.Wait()
	return j.f.Close()
}

func (j *Journal) closeReadFiles() {
	for _, jf := range j.readFiles {
		_ = jf.f.Close()
	}
	j.readFiles = nil
}
