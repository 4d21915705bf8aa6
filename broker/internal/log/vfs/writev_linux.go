package vfs

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// maxIOV is the most buffers one pwritev takes (IOV_MAX on Linux).
const maxIOV = 1024

// WriteVAt writes bufs at off with pwritev, resuming after partial writes.
func (f osFile) WriteVAt(bufs [][]byte, off int64) (int, error) {
	fd := int(f.Fd())
	total := 0
	for len(bufs) > 0 {
		chunk := bufs[:min(len(bufs), maxIOV)]
		n, err := unix.Pwritev(fd, chunk, off+int64(total))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return total, &os.PathError{Op: "pwritev", Path: f.Name(), Err: err}
		}
		if n == 0 {
			return total, &os.PathError{Op: "pwritev", Path: f.Name(), Err: unix.EIO}
		}
		total += n
		// Drop what was written: whole buffers, then a prefix of the next.
		for n > 0 && len(bufs) > 0 {
			if n >= len(bufs[0]) {
				n -= len(bufs[0])
				bufs = bufs[1:]
				continue
			}
			rest := append([][]byte{bufs[0][n:]}, bufs[1:]...)
			bufs, n = rest, 0
		}
		for len(bufs) > 0 && len(bufs[0]) == 0 {
			bufs = bufs[1:]
		}
	}
	return total, nil
}
