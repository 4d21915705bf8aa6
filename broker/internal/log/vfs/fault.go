package vfs

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Op names an operation that a Fault FS may fail.
type Op int

// Operations seen by an Injector.
const (
	OpCreate Op = iota
	OpOpen
	OpRead
	OpWrite
	OpSync
	OpTruncate
	OpClose
	OpRemove
	OpRename
	OpMkdir
	OpList
	OpSyncDir
)

var opNames = [...]string{"create", "open", "read", "write", "sync", "truncate", "close", "remove", "rename", "mkdir", "list", "syncdir"}

// String names the operation.
func (o Op) String() string {
	if o >= 0 && int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// ErrInjected is the error a Fault FS returns for an injected failure.
var ErrInjected = errors.New("vfs: injected fault")

// ShortWrite, returned by an Injector for an OpWrite, makes the write store
// only its first N bytes (clamped to the buffer) and then fail with
// ErrInjected: a torn write.
type ShortWrite struct{ N int }

// Error implements error.
func (e *ShortWrite) Error() string { return fmt.Sprintf("vfs: injected short write of %d bytes", e.N) }

// Is makes a ShortWrite match ErrInjected.
func (e *ShortWrite) Is(target error) bool { return target == ErrInjected }

// Injector decides the fate of one operation on path: nil lets it run, an
// error fails it (nothing done), a *ShortWrite tears an OpWrite.
type Injector func(op Op, path string) error

// Fault wraps an FS and consults an Injector before every operation. The
// injector can be swapped while the FS is in use.
type Fault struct {
	inner FS
	mu    sync.Mutex
	inj   Injector
}

// NewFault wraps inner; a nil inj injects nothing.
func NewFault(inner FS, inj Injector) *Fault { return &Fault{inner: inner, inj: inj} }

// SetInjector replaces the injector; nil injects nothing.
func (f *Fault) SetInjector(inj Injector) {
	f.mu.Lock()
	f.inj = inj
	f.mu.Unlock()
}

func (f *Fault) check(op Op, path string) error {
	f.mu.Lock()
	inj := f.inj
	f.mu.Unlock()
	if inj == nil {
		return nil
	}
	return inj(op, path)
}

// FailAfter returns an Injector that lets n operations of the given kinds run
// (every kind if none given) and fails every later one: a process that dies
// at a chosen point. Its Count reports how many operations it has seen.
func FailAfter(n int64, ops ...Op) (Injector, *atomic.Int64) {
	var count atomic.Int64
	return func(op Op, _ string) error {
		if len(ops) > 0 && !containsOp(ops, op) {
			return nil
		}
		if count.Add(1) > n {
			return ErrInjected
		}
		return nil
	}, &count
}

func containsOp(ops []Op, op Op) bool {
	for _, o := range ops {
		if o == op {
			return true
		}
	}
	return false
}

// Create implements FS.
func (f *Fault) Create(name string) (File, error) {
	if err := f.check(OpCreate, name); err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	file, err := f.inner.Create(name)
	if err != nil {
		return nil, err
	}
	return &faultFile{fs: f, name: name, inner: file}, nil
}

// OpenReadWrite implements FS.
func (f *Fault) OpenReadWrite(name string) (File, error) {
	if err := f.check(OpOpen, name); err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	file, err := f.inner.OpenReadWrite(name)
	if err != nil {
		return nil, err
	}
	return &faultFile{fs: f, name: name, inner: file}, nil
}

// Open implements FS.
func (f *Fault) Open(name string) (File, error) {
	if err := f.check(OpOpen, name); err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	file, err := f.inner.Open(name)
	if err != nil {
		return nil, err
	}
	return &faultFile{fs: f, name: name, inner: file}, nil
}

// Remove implements FS.
func (f *Fault) Remove(name string) error {
	if err := f.check(OpRemove, name); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return f.inner.Remove(name)
}

// Rename implements FS.
func (f *Fault) Rename(oldname, newname string) error {
	if err := f.check(OpRename, oldname); err != nil {
		return fmt.Errorf("rename %s: %w", oldname, err)
	}
	return f.inner.Rename(oldname, newname)
}

// MkdirAll implements FS.
func (f *Fault) MkdirAll(dir string) error {
	if err := f.check(OpMkdir, dir); err != nil {
		return fmt.Errorf("mkdir %s: %w", dir, err)
	}
	return f.inner.MkdirAll(dir)
}

// List implements FS.
func (f *Fault) List(dir string) ([]string, error) {
	if err := f.check(OpList, dir); err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	return f.inner.List(dir)
}

// SyncDir implements FS.
func (f *Fault) SyncDir(dir string) error {
	if err := f.check(OpSyncDir, dir); err != nil {
		return fmt.Errorf("syncdir %s: %w", dir, err)
	}
	return f.inner.SyncDir(dir)
}

type faultFile struct {
	fs    *Fault
	name  string
	inner File
}

func (f *faultFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.fs.check(OpRead, f.name); err != nil {
		return 0, fmt.Errorf("read %s: %w", f.name, err)
	}
	return f.inner.ReadAt(p, off)
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	err := f.fs.check(OpWrite, f.name)
	if err == nil {
		return f.inner.WriteAt(p, off)
	}
	var sw *ShortWrite
	if errors.As(err, &sw) {
		n := min(max(sw.N, 0), len(p))
		if n > 0 {
			if _, werr := f.inner.WriteAt(p[:n], off); werr != nil {
				return 0, werr
			}
		}
		return n, fmt.Errorf("write %s: %w", f.name, err)
	}
	return 0, fmt.Errorf("write %s: %w", f.name, err)
}

func (f *faultFile) Close() error {
	// The handle is released even when the close "fails", as with close(2).
	err := f.fs.check(OpClose, f.name)
	cerr := f.inner.Close()
	if err != nil {
		return fmt.Errorf("close %s: %w", f.name, err)
	}
	return cerr
}

func (f *faultFile) Sync() error {
	if err := f.fs.check(OpSync, f.name); err != nil {
		return fmt.Errorf("sync %s: %w", f.name, err)
	}
	return f.inner.Sync()
}

func (f *faultFile) Truncate(size int64) error {
	if err := f.fs.check(OpTruncate, f.name); err != nil {
		return fmt.Errorf("truncate %s: %w", f.name, err)
	}
	return f.inner.Truncate(size)
}

func (f *faultFile) Size() (int64, error) { return f.inner.Size() }

// WriteVAt is one write operation for the injector, as pwritev is one
// system call; an injected short write keeps the first N bytes.
func (f *faultFile) WriteVAt(bufs [][]byte, off int64) (int, error) {
	err := f.fs.check(OpWrite, f.name)
	if err == nil {
		return WriteVAt(f.inner, bufs, off)
	}
	var sw *ShortWrite
	if errors.As(err, &sw) {
		keep := max(sw.N, 0)
		var part [][]byte
		for _, b := range bufs {
			if keep == 0 {
				break
			}
			k := min(keep, len(b))
			part = append(part, b[:k])
			keep -= k
		}
		n, werr := WriteVAt(f.inner, part, off)
		if werr != nil {
			return 0, werr
		}
		return n, fmt.Errorf("write %s: %w", f.name, err)
	}
	return 0, fmt.Errorf("write %s: %w", f.name, err)
}
