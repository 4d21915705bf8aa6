// Package datadir guards a Sluice data directory against two processes (or
// two servers in one process) opening it at once: whoever opens it holds an
// exclusive flock(2) on a file in it, and records who it is there so that a
// second opener can say which process to stop.
//
// The lock is the kernel's, not the file's: it is released when the holder
// closes it or dies, so a kill -9 or a power loss never leaves a stale lock
// behind. The file itself stays; only its content (the last holder) is
// informative.
package datadir

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// FileName is the lock file inside a data directory.
const FileName = "LOCK"

// Holder describes the process that holds a data directory, as recorded in
// its lock file.
type Holder struct {
	// PID is the holder's process id.
	PID int `json:"pid"`
	// Addrs are the addresses the holder serves on (empty for a process that
	// serves nothing, or before it listens).
	Addrs []string `json:"addrs,omitempty"`
	// Since is when the holder took the lock.
	Since time.Time `json:"since"`
}

// LockedError is returned by Lock when another holder has the directory.
type LockedError struct {
	// Dir is the data directory, absolute when it could be made so.
	Dir string
	// Holder is who holds it; PID is 0 when the lock file could not be
	// read (the holder may be writing it at that moment).
	Holder Holder
}

func (e *LockedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "data directory %s is in use by ", e.Dir)
	if e.Holder.PID == 0 {
		b.WriteString("another process (its pid is not recorded yet)")
	} else {
		fmt.Fprintf(&b, "pid %d", e.Holder.PID)
	}
	if len(e.Holder.Addrs) > 0 {
		fmt.Fprintf(&b, " serving %s", strings.Join(e.Holder.Addrs, ", "))
	}
	if !e.Holder.Since.IsZero() {
		fmt.Fprintf(&b, " since %s", e.Holder.Since.UTC().Format(time.RFC3339))
	}
	b.WriteString("; two servers on one data directory would overwrite each other's records: stop that process or use another data directory")
	return b.String()
}

// ErrLocked matches every *LockedError with errors.Is.
var ErrLocked = errors.New("data directory in use")

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Lock is the exclusive hold of one data directory. Release it when the
// directory is closed.
type Lock struct {
	mu     sync.Mutex
	f      *os.File
	dir    string
	holder Holder
}

// Acquire creates dir if it is missing and takes its lock, recording this
// process's pid and addrs. When another holder has the lock it returns a
// *LockedError naming that holder at once; it never waits.
func Acquire(dir string, addrs ...string) (*Lock, error) {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	// No O_TRUNC: the current holder's record must survive our failed attempt.
	// Go opens files close-on-exec, so a child process never inherits the lock.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: lock: %w", dir, err)
	}
	if err := flock(f); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &LockedError{Dir: dir, Holder: readHolder(path)}
		}
		return nil, fmt.Errorf("data directory %s: lock %s: %w", dir, path, err)
	}
	l := &Lock{f: f, dir: dir, holder: Holder{PID: os.Getpid(), Addrs: addrs, Since: time.Now().Truncate(time.Second)}}
	if err := l.writeLocked(); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// flock takes an exclusive, non-blocking lock on f, retrying on EINTR.
func flock(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			return err
		}
	}
}

// readHolder reads a lock file's record. The holder writes it right after
// taking the lock, so a reader may catch it empty or half-written: it reads
// again for a moment before giving up with a zero Holder.
func readHolder(path string) Holder {
	var h Holder
	for i := 0; i < 20; i++ {
		b, err := os.ReadFile(path)
		if err == nil && json.Unmarshal(b, &h) == nil && h.PID != 0 {
			return h
		}
		time.Sleep(5 * time.Millisecond)
	}
	return Holder{}
}

// ReadHolder returns the record of the last process that held dir's lock
// (it may have exited since). It is for diagnostics: Acquire is the only
// way to know whether the directory is free.
func ReadHolder(dir string) (Holder, error) {
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		return Holder{}, err
	}
	var h Holder
	if err := json.Unmarshal(b, &h); err != nil {
		return Holder{}, fmt.Errorf("%s: %w", filepath.Join(dir, FileName), err)
	}
	return h, nil
}

// Dir returns the locked directory (absolute when it could be made so).
func (l *Lock) Dir() string { return l.dir }

// SetAddrs records the addresses this process serves on, for a process that
// listens only after it opened the directory.
func (l *Lock) SetAddrs(addrs ...string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("datadir: lock released")
	}
	l.holder.Addrs = addrs
	return l.writeLocked()
}

// writeLocked rewrites the lock file's record; l.mu is held or l is not
// shared yet.
func (l *Lock) writeLocked() error {
	b, err := json.Marshal(l.holder)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("data directory %s: write lock record: %w", l.dir, err)
	}
	if _, err := l.f.WriteAt(b, 0); err != nil {
		return fmt.Errorf("data directory %s: write lock record: %w", l.dir, err)
	}
	return nil
}

// Release gives the directory up. The lock file stays, with the last
// holder's record. Release is idempotent.
func (l *Lock) Release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	// Closing the only descriptor of the open file releases the flock.
	err := l.f.Close()
	l.f = nil
	return err
}
