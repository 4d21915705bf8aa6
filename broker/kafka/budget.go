package kafka

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/sluicehq/sluice/internal/bufpool"
)

// budget is a counting semaphore of bytes: the memory of requests read and
// not yet answered. A request larger than the whole budget waits until the
// budget is empty, then takes all of it.
type budget struct {
	mu    sync.Mutex
	limit int64
	used  int64
	wake  chan struct{} // closed and replaced by every release
}

func newBudget(limit int64) *budget { return &budget{limit: limit, wake: make(chan struct{})} }

// acquire takes n bytes (clamped to the limit) and returns how many it took,
// or stops when ctx ends or stop is closed.
func (b *budget) acquire(ctx context.Context, stop <-chan struct{}, n int64) (int64, error) {
	n = min(n, b.limit)
	for {
		b.mu.Lock()
		if b.used+n <= b.limit {
			b.used += n
			b.mu.Unlock()
			return n, nil
		}
		wake := b.wake
		b.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-stop:
			return 0, errStopped
		}
	}
}

// release returns n bytes taken by acquire.
func (b *budget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	close(b.wake)
	b.wake = make(chan struct{})
	b.mu.Unlock()
}

// Request frames are read into bufpool's buffers: a producer's requests
// are about the same size (kgo sends ~1 MiB ones), and a fresh buffer per
// request costs a page fault per 4 KiB as the kernel copies the socket's
// bytes in. A request's buffer goes back to its pool only when its handler
// said nothing it handed on still points into it (Conn.reuseRequestBuffer)
// and its response has been written; otherwise the garbage collector takes
// it as before.

// putRequestBuffer gives b, a pooled request frame, back to its pool.
// Nothing may use its bytes any more. A nil b is ignored.
func putRequestBuffer(b []byte) {
	if b == nil {
		return
	}
	if poisonReusedBuffers.Load() {
		// Tests: a batch still pointing into a released buffer reads this
		// pattern (and the race detector sees the write).
		full := b[:cap(b)]
		for i := range full {
			full[i] = 0xA5
		}
	}
	requestBuffersReused.Add(1)
	bufpool.Put(b)
}

// poisonReusedBuffers makes putRequestBuffer overwrite each buffer (set by
// the package's tests); requestBuffersReused counts the buffers returned.
var (
	poisonReusedBuffers  atomic.Bool
	requestBuffersReused atomic.Int64
)
