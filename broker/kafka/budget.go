package kafka

import (
	"context"
	"sync"
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
