package objstore

import "os"

// flushChunk is how much of an object Dir.Put writes at a time, asking the
// kernel after each chunk to write it to disk. A large object (a merged
// segment of 16 MiB) written whole and then fsynced puts all of it in the
// disk's queue at once, and every other sync on that disk (the produce
// path's objects, PostgreSQL's WAL) waits behind it; flushed as it is
// written, at most two chunks are in flight, and the final fsync has little
// left to do. RocksDB's bytes_per_sync and PostgreSQL's
// checkpoint_flush_after do the same. A paced Put (WithWritePace) waits for
// its pace before each chunk.
const flushChunk = 256 << 10

// writeFlushed writes data to f from its start, chunk by chunk, each
// after pace (when set) and flushed as it goes (where the platform can),
// then fsyncs f.
func writeFlushed(f *os.File, data []byte, pace func(n int) error) error {
	fl := newRangeFlusher(f)
	for off := 0; off < len(data); off += flushChunk {
		end := min(off+flushChunk, len(data))
		if pace != nil {
			if err := pace(end - off); err != nil {
				return err
			}
		}
		if _, err := f.Write(data[off:end]); err != nil {
			return err
		}
		if end < len(data) {
			if err := fl.flush(int64(off), int64(end-off)); err != nil {
				return err
			}
		}
	}
	return f.Sync()
}
