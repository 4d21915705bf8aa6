package objstore

import "context"

// paceKey carries a write pace in a context (WithWritePace).
type paceKey struct{}

// WithWritePace returns a context under which a Dir's Put calls pace
// with the size of each chunk (at most flushChunk bytes) before it writes
// it, and fails with pace's error: a background writer (the shared log's
// merges) spreads a large object over time instead of filling the disk's
// queue and write cache at once, ahead of the syncs of the produce path
// and of PostgreSQL on the same disk. As httptrace carries its hooks, the
// pace travels with the request, so the Store interface and the wrappers
// around it (Faulty) stay as they are. An S3 store ignores it: its writes
// go to other machines' disks.
func WithWritePace(ctx context.Context, pace func(n int) error) context.Context {
	return context.WithValue(ctx, paceKey{}, pace)
}

// writePace is ctx's pace, or nil.
func writePace(ctx context.Context) func(n int) error {
	p, _ := ctx.Value(paceKey{}).(func(n int) error)
	return p
}
