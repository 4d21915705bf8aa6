package log

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// partitionIDFile holds the partition's journal identity (journal.go).
const partitionIDFile = "partition.id"

// loadID reads the partition's identity, creating one the first time the
// partition opens with a journal.
func (p *Partition) loadID() error {
	if err := p.fs.MkdirAll(p.dir); err != nil {
		return fmt.Errorf("log: create %s: %w", p.dir, err)
	}
	name := p.path(partitionIDFile)
	b, err := readWhole(p.fs, name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("log: read %s: %w", name, err)
	}
	if b != nil {
		raw, derr := hex.DecodeString(strings.TrimSpace(string(b)))
		if derr != nil || len(raw) != len(p.id) {
			return corruptf("%s holds %q, not a 32-digit hex partition id", name, b)
		}
		copy(p.id[:], raw)
		return nil
	}
	_, _ = rand.Read(p.id[:])
	if err := writeFileAtomic(p.fs, name, []byte(hex.EncodeToString(p.id[:])+"\n")); err != nil {
		return err
	}
	if err := p.fs.SyncDir(p.dir); err != nil {
		return fmt.Errorf("log: sync directory %s: %w", p.dir, err)
	}
	return nil
}

// checkpointSync makes everything the partition has written durable in its
// segments, so that the journal may forget it. It holds wmu only to pick the
// active segment: the writer goes on while the fdatasync runs.
func (p *Partition) checkpointSync() error {
	p.wmu.Lock()
	if p.closedFlag.Load() {
		// Close synced the active segment under wmu; a failure there left the
		// partition failed.
		err := p.failure()
		p.wmu.Unlock()
		return err
	}
	if err := p.failure(); err != nil {
		p.wmu.Unlock()
		return err
	}
	s := p.active()
	ok := s.acquire()
	p.wmu.Unlock()
	if !ok {
		return nil // retired: it was synced when the partition rolled past it
	}
	defer s.release()
	if err := s.f.Sync(); err != nil {
		return p.poison(fmt.Errorf("log: fdatasync %s for a journal checkpoint: %w", s.path, err))
	}
	return nil
}
