package objstore

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// rangeFlusher starts the writeback of each chunk as it is written and
// waits for the one before it (sync_file_range), so that at most two
// chunks are being written at once.
type rangeFlusher struct {
	f           *os.File
	off, n      int64 // the previous chunk
	prev        bool  // whether there is a previous chunk
	unsupported bool
}

func newRangeFlusher(f *os.File) *rangeFlusher { return &rangeFlusher{f: f} }

// flush starts writing [off, off+n) and waits for the chunk before it.
// A filesystem without sync_file_range is left to the final fsync.
func (r *rangeFlusher) flush(off, n int64) error {
	if r.unsupported {
		return nil
	}
	fd := int(r.f.Fd())
	if err := unix.SyncFileRange(fd, off, n, unix.SYNC_FILE_RANGE_WRITE); err != nil {
		return r.failed(err)
	}
	if r.prev {
		if err := unix.SyncFileRange(fd, r.off, r.n, unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER); err != nil {
			return r.failed(err)
		}
	}
	r.off, r.n, r.prev = off, n, true
	return nil
}

// failed turns off flushing where the call is not supported, and passes
// on a real error (a failed write: the object is not stored).
func (r *rangeFlusher) failed(err error) error {
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ESPIPE) {
		r.unsupported = true
		return nil
	}
	return err
}
