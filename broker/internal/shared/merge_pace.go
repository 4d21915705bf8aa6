package shared

import (
	"context"
	"sync"
	"time"
)

// mergePacer spreads a node's merges (compact.go) over time: each merge
// writes a segment object (up to MergeMaxBytes, synced) and rewrites its
// coordinates in PostgreSQL, and the first merges of a busy partition's
// backlog all come due together, when its objects reach MergeAge. Run
// back to back they took the object store's disk and PostgreSQL's WAL
// from the produce path: in the cluster benchmark, the round during which
// they came due had its ack p99 at 113 and 174 ms (two runs) against
// 27-37 ms in the others. So a node's merges share a budget of MergeRate
// bytes a second, charged as each segment is written: a directory store
// writes it in chunks (objstore.WithWritePace), each waiting until the
// budget has paid for the ones before, and a merge pass starts only when
// the budget allows. Pacing only the starts of merges (each segment then
// written at the disk's full speed) was not enough: a commit that synced
// PostgreSQL's WAL while a 16 MiB segment was being written waited for it,
// 58-130 ms. The backlog is merged all the same, later; a merge whose
// batches have waited mergeOverdue times MergeAge is not paced, so that a
// node taking in more than its budget for long catches up at full speed
// rather than fall further behind.
type mergePacer struct {
	rate int64 // bytes a second; <= 0 is no limit
	now  func() time.Time

	mu   sync.Mutex
	next time.Time // when the budget allows the next write
}

// wait blocks until the budget allows more writing, or ctx ends.
func (m *mergePacer) wait(ctx context.Context) error {
	if m.rate <= 0 {
		return nil
	}
	m.mu.Lock()
	d := m.next.Sub(m.now())
	m.mu.Unlock()
	if d <= 0 {
		return nil
	}
	return sleep(ctx, d)
}

// take waits for the budget (wait), then charges n bytes to it.
func (m *mergePacer) take(ctx context.Context, n int64) error {
	if err := m.wait(ctx); err != nil {
		return err
	}
	m.spent(n)
	return nil
}

// spent charges n bytes written to the budget.
func (m *mergePacer) spent(n int64) {
	if m.rate <= 0 || n <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if m.next.Before(now) {
		m.next = now
	}
	m.next = m.next.Add(time.Duration(float64(n) / float64(m.rate) * float64(time.Second)))
}
