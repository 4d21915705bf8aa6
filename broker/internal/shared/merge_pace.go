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
// 27-37 ms in the others; the worst round paced at 8 MiB/s had 58 and 91
// ms, at 16 MiB/s 82, at 32 MiB/s 73. So a node's merges share a budget
// of MergeRate bytes a second: after a merge of n bytes, the next one on
// the node waits until the budget has paid for it. The backlog is merged
// all the same, later; a merge whose batches have waited mergeOverdue
// times MergeAge is not charged, so that a node taking in more than its
// budget for long catches up at full speed rather than fall further
// behind.
type mergePacer struct {
	rate int64 // bytes a second; <= 0 is no limit
	now  func() time.Time

	mu   sync.Mutex
	next time.Time // when the budget allows the next merge
}

// wait blocks until the next merge may start, or ctx ends.
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

// spent charges a merge of n bytes to the budget.
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
