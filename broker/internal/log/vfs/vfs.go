// Package vfs is the small file-system interface the log does all its I/O
// through, with three implementations: OS (the real disk), Mem (in memory,
// with a crash that drops everything not yet synced) and Fault (a wrapper
// that injects short writes and write, sync or metadata errors).
//
// The interface is deliberately narrow: positional reads and writes, a data
// sync, truncation, and the directory operations the log needs to create,
// swap and delete segment files crash-safely. Names are slash-joined paths
// as the os package takes them.
package vfs

import (
	"io"
)

// File is an open file. ReadAt and WriteAt are positional (pread/pwrite), so
// one File may be read by many goroutines while one goroutine writes to it.
type File interface {
	io.ReaderAt
	io.WriterAt
	io.Closer
	// Sync makes the file's data durable (fdatasync where available).
	Sync() error
	// Truncate changes the file's size.
	Truncate(size int64) error
	// Size returns the file's current size in bytes.
	Size() (int64, error)
}

// FS is a file system. Directory changes (create, rename, remove) are durable
// only after SyncDir on their directory.
type FS interface {
	// Create creates name, or truncates it if it exists, for reading and
	// writing.
	Create(name string) (File, error)
	// OpenReadWrite opens an existing file for reading and writing.
	OpenReadWrite(name string) (File, error)
	// Open opens an existing file for reading only.
	Open(name string) (File, error)
	// Remove deletes a file. Open handles keep working on the old data.
	Remove(name string) error
	// Rename atomically renames oldname to newname, replacing newname.
	Rename(oldname, newname string) error
	// MkdirAll creates dir and any missing parents.
	MkdirAll(dir string) error
	// List returns the names (not paths) of the entries in dir, sorted.
	List(dir string) ([]string, error)
	// SyncDir makes the directory's entries durable.
	SyncDir(dir string) error
}

// WritebackStarter is implemented by files that can start writing a range
// to the device without waiting for it (Linux sync_file_range). The log calls
// it right after each write under fsync=always, so the writes of many
// partitions reach the disk in parallel and the later, serialised Sync has
// little left to wait for. It is advisory: errors surface at Sync.
type WritebackStarter interface {
	StartWriteback(off, n int64) error
}
