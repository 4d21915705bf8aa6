package store

import (
	"context"
	"time"
)

// Shared is a Store that several Sluice nodes use at once (PostgreSQL in
// cluster mode). Each node keeps the whole registry in memory, as with
// SQLite; Shared adds what keeps those copies current and the writes of
// different nodes serialised:
//
//   - Every committed write gets the next store version and is kept, as a
//     Write, in a changelog. A node that knows version v catches up by
//     replaying the writes after v (Changes), or reloads everything when the
//     changelog no longer reaches back that far.
//   - Begin takes the cluster-wide write lock and hands back the writes the
//     node has not seen. The registry applies them, then decides (version
//     numbers, id allocation, compatibility) against the latest state, and
//     Commit stores its Write under the same lock. Two nodes registering at
//     once therefore run one after the other, the second seeing the first.
//   - Changed wakes the node when another node may have committed
//     (a notification, a reconnection, or a periodic safety poll).
type Shared interface {
	Store
	// Begin waits for the cluster-wide write lock and returns a transaction
	// holding it, whose Changes are the writes committed after version
	// since. The caller must Commit or Rollback.
	Begin(ctx context.Context, since int64) (Tx, error)
	// Changes returns, without the lock, the writes committed after
	// version since.
	Changes(ctx context.Context, since int64) (*Changes, error)
	// Changed receives a value when other nodes may have committed writes;
	// values coalesce (the channel has a buffer of one).
	Changed() <-chan struct{}
	// Applied records that node's memory reflects version (never lowering
	// it) and that the node is alive now.
	Applied(ctx context.Context, node string, version int64) error
	// Behind lists the nodes seen alive within live whose memory is older
	// than version.
	Behind(ctx context.Context, version int64, live time.Duration) ([]string, error)
	// Leave forgets node (a clean shutdown): writes stop waiting for it.
	Leave(ctx context.Context, node string) error
	// Close stops the change feed; the caller still owns the database.
	Close() error
}

// Changes are the writes a node has not seen.
type Changes struct {
	// Version is the store version that the node's memory reflects once it
	// has applied these changes.
	Version int64
	// Writes are the writes committed after the version asked for, oldest
	// first.
	Writes []*Write
	// Reload, when not nil, replaces Writes: the changelog no longer holds
	// every write since the version asked for, so the node rebuilds its
	// memory from this complete state.
	Reload *State
}

// Tx is a registry write holding the cluster-wide write lock.
type Tx interface {
	// Changes are the writes the node had not seen when the lock was taken.
	Changes() *Changes
	// Commit stores w like Store.Apply, records it in the changelog as the
	// next version, tells the other nodes, and releases the lock. It returns
	// the new version (the version of Changes when w is empty: nothing is
	// written). On error nothing of w is stored, unless the error is an
	// ambiguous commit (the connection broke during COMMIT), which a later
	// Changes reveals.
	Commit(ctx context.Context, w *Write) (int64, error)
	// Rollback releases the lock without writing. It is a no-op after
	// Commit, so callers may defer it.
	Rollback()
}
