package vfs

import (
	"fmt"
	"io"
)

// VectorWriter is implemented by files that write several buffers at one
// position in one call (Linux pwritev), so that a caller holding a run of
// batches in separate buffers need not copy them into one first.
type VectorWriter interface {
	// WriteVAt writes bufs one after the other starting at off. Like
	// WriteAt it returns an error whenever it wrote fewer bytes than the
	// buffers hold.
	WriteVAt(bufs [][]byte, off int64) (int, error)
}

// WriteVAt writes bufs one after the other at off of f: in one call where f
// is a VectorWriter, else buffer by buffer.
func WriteVAt(f File, bufs [][]byte, off int64) (int, error) {
	if vw, ok := f.(VectorWriter); ok {
		return vw.WriteVAt(bufs, off)
	}
	return writeEach(f, bufs, off)
}

// writeEach writes bufs with one WriteAt each.
func writeEach(f io.WriterAt, bufs [][]byte, off int64) (int, error) {
	total := 0
	for _, b := range bufs {
		n, err := f.WriteAt(b, off+int64(total))
		total += n
		if err != nil {
			return total, err
		}
		if n < len(b) {
			return total, fmt.Errorf("vfs: short write of %d of %d bytes", n, len(b))
		}
	}
	return total, nil
}
