package registry

// Cluster mode: several Sluice nodes share one registry in PostgreSQL.
//
// Each node keeps the whole registry in memory, as on SQLite, and the store
// (store.Shared) keeps the copies current and the writes serialised:
//
//   - A write takes writeMu (writeLock), which takes the cluster-wide write lock
//     (a transaction holding the store's lock row), replays the writes of
//     other nodes it had not seen, and only then decides: version numbers,
//     id allocation and compatibility are checked against the latest state
//     of the whole cluster. commit stores the Write under the same lock.
//     Two nodes registering at once run one after the other.
//   - A follower goroutine replays other nodes' writes when the store
//     signals (LISTEN/NOTIFY, a reconnection, or the safety poll).
//   - A lookup by id (or GUID, or "is this id a live version of the
//     subject") that misses waits for one refresh that starts after the
//     miss before answering "not found": a schema registered on another
//     node a moment ago is found even before its notification arrives, so
//     a record using it is not refused. Concurrent misses share refreshes
//     (at most one running and one queued).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/internal/pgnotify"
	"github.com/sluicehq/sluice/registry/internal/store"
)

// Cluster configures a registry shared by the nodes of a cluster.
type Cluster struct {
	// Pool is the cluster's metadata database (internal/pgmeta.Open).
	// Required; the caller closes it after the registry.
	Pool *pgxpool.Pool
	// Notify is the node's PostgreSQL notification hub (internal/pgnotify),
	// shared with its other components; nil: the registry opens its own on
	// Pool.
	Notify *pgnotify.Hub
	// PollInterval is the safety poll for other nodes' writes, which
	// notifications normally announce at once; 0 means 2 seconds.
	PollInterval time.Duration
	// Node names this node among those sharing the registry (the server's
	// --node-id); empty means a random name per OpenCluster. It appears in
	// the warning about nodes that lag behind a write.
	Node string
}

// clusterNode is what a registry in a cluster knows of its node.
type clusterNode struct {
	name string
	poll time.Duration // the safety poll; also how often the node says it is alive
}

// OpenCluster opens the registry on the cluster's PostgreSQL database,
// applying its migrations there. cfg.DB is not used.
func OpenCluster(ctx context.Context, cfg Config, cl Cluster) (*Registry, error) {
	if cl.Pool == nil {
		return nil, errors.New("registry: Cluster.Pool is nil")
	}
	if cfg.MaxSchemaBytes < 0 {
		return nil, fmt.Errorf("registry: Config.MaxSchemaBytes is negative (%d)", cfg.MaxSchemaBytes)
	}
	if cfg.MaxSchemaBytes == 0 {
		cfg.MaxSchemaBytes = DefaultMaxSchemaBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := store.NewPostgres(ctx, store.PostgresConfig{Pool: cl.Pool, Notify: cl.Notify, Logger: cfg.Logger, PollInterval: cl.PollInterval})
	if err != nil {
		return nil, fmt.Errorf("registry: %w: %w", ErrStore, err)
	}
	r, err := openStoreAs(ctx, cfg, s, clusterNode{name: cl.Node, poll: cl.PollInterval}) // startCluster fills in defaults
	if err != nil {
		s.Close()
		return nil, err
	}
	return r, nil
}

// cluster is a Registry's cluster-mode state; nil on a store of its own.
type cluster struct {
	shared store.Shared
	node   clusterNode
	// written is the version of this node's last write, for Unlock to wait
	// until every live node has it (awaitNodes). Guarded by writeMu.
	written int64
	// version is the store version that memory reflects; -1 forces a full
	// reload. Guarded by writeMu.
	version int64
	// tx is the write transaction writeMu holds, or nil with txErr saying
	// why. Guarded by writeMu.
	tx    store.Tx
	txErr error

	quit chan struct{}
	done chan struct{}
	stop sync.Once

	flightMu sync.Mutex
	next     *flight // queued refresh, not started yet
	running  bool
	// refreshes counts completed refreshes (tests and logs).
	refreshes atomic.Int64
}

// flight is one refresh that callers wait for.
type flight struct {
	done chan struct{}
	err  error
}

// startCluster turns on cluster mode when s is shared; version is the
// version of the state r was loaded from.
func (r *Registry) startCluster(s store.Store, version int64, node clusterNode) {
	sh, ok := s.(store.Shared)
	if !ok {
		return
	}
	if node.name == "" {
		node.name = "registry-" + uuid.NewString()
	}
	if node.poll <= 0 {
		node.poll = store.DefaultPollInterval
	}
	c := &cluster{shared: sh, node: node, version: version, quit: make(chan struct{}), done: make(chan struct{})}
	r.cluster = c
	r.writeMu.r = r
	r.reportApplied(version)
	go r.follow(c)
}

// Every node records in the store which version its memory reflects
// (after loading, after each catch-up, and at every safety poll, which also
// says it is alive). A write returns only once every live node has it, so
// that what a client does next on any node sees it: a schema registered
// through one node is enforced on every other node as soon as the
// registration returns, and a deleted version stops validating everywhere
// as soon as the delete returns. A node is live while it reported within
// nodeLiveFor poll intervals; it leaves the table when it closes. The wait
// is bounded by one poll interval and a margin (every live node catches up
// at its safety poll at the latest); past it the write returns anyway (it
// is committed) and the laggards are named in a warning.

// nodeLiveFor is how many poll intervals a node's last report keeps it live.
const nodeLiveFor = 3

// reportApplied records that memory reflects version; failures are left to
// the next report (the safety poll), as they only delay other nodes' writes.
func (r *Registry) reportApplied(version int64) {
	c := r.cluster
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.shared.Applied(ctx, c.node.name, version); err != nil {
		r.log.Debug("registry: could not record this node's version", "err", err)
	}
}

// awaitNodesMax bounds awaitNodes' wait whatever the poll interval.
const awaitNodesMax = 5 * time.Second

// awaitNodes waits until every live node's memory reflects version, at most
// one poll interval and a second (awaitNodesMax at most).
func (r *Registry) awaitNodes(version int64) {
	c := r.cluster
	r.reportApplied(version)
	live := nodeLiveFor * c.node.poll
	deadline := time.Now().Add(min(c.node.poll+time.Second, awaitNodesMax))
	pause := time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), awaitNodesMax)
		behind, err := c.shared.Behind(ctx, version, live)
		cancel()
		switch {
		case err == nil && len(behind) == 0:
			return
		case err != nil:
			r.log.Warn("registry: could not check that other nodes have this write; they will catch up at their next poll", "version", version, "err", err)
			return
		}
		// The last check runs at the deadline.
		wait := min(pause, time.Until(deadline))
		if wait <= 0 {
			r.log.Warn("registry: write committed, but some nodes do not have it yet; they will catch up when they reach PostgreSQL again", "version", version, "nodes", behind)
			return
		}
		time.Sleep(wait)
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// closeCluster stops the follower and the store's change feed.
func (r *Registry) closeCluster() {
	c := r.cluster
	if c == nil {
		return
	}
	c.stop.Do(func() {
		close(c.quit)
		<-c.done
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := c.shared.Leave(ctx, c.node.name); err != nil {
			r.log.Debug("registry: could not leave the node table", "err", err)
		}
		cancel()
		c.shared.Close()
	})
}

// follow replays other nodes' writes whenever the store signals.
// A failure is logged once when it starts and once when it ends, not at
// every poll while PostgreSQL is away.
func (r *Registry) follow(c *cluster) {
	defer close(c.done)
	var failingSince time.Time
	for {
		select {
		case <-c.quit:
			return
		case <-c.shared.Changed():
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := r.refresh(ctx)
		cancel()
		if err == nil {
			r.writeMu.mu.Lock()
			v := c.version
			r.writeMu.mu.Unlock()
			if v >= 0 {
				r.reportApplied(v)
			}
		}
		switch {
		case err != nil && failingSince.IsZero():
			failingSince = time.Now()
			r.log.Warn("registry: cannot catch up with other nodes; retrying at every signal (logged again once it works)", "err", err)
		case err == nil && !failingSince.IsZero():
			r.log.Info("registry: caught up with other nodes again", "after", time.Since(failingSince).Round(time.Millisecond))
			failingSince = time.Time{}
		}
	}
}

// refresh reads the writes committed since memory's version and applies them.
func (r *Registry) refresh(ctx context.Context) error {
	c := r.cluster
	// The local mutex only: reading changes needs no cluster-wide lock.
	r.writeMu.mu.Lock()
	defer r.writeMu.mu.Unlock()
	ch, err := c.shared.Changes(ctx, c.version)
	if err != nil {
		return err
	}
	c.refreshes.Add(1)
	return r.catchUpLocked(ch)
}

// catchUpLocked applies changes read from the store to memory. The caller
// holds writeMu.
func (r *Registry) catchUpLocked(ch *store.Changes) error {
	c := r.cluster
	switch {
	case ch.Reload != nil:
		st, err := load(ch.Reload)
		if err != nil {
			c.version = -1
			return fmt.Errorf("registry: reload from the store: %w", err)
		}
		r.mu.Lock()
		r.st = st
		r.mu.Unlock()
		r.log.Info("registry reloaded from the cluster store", "version", ch.Version)
	case len(ch.Writes) > 0:
		r.mu.Lock()
		for _, w := range ch.Writes {
			if err := r.st.apply(w, nil); err != nil {
				r.mu.Unlock()
				c.version = -1 // memory is now suspect: reload next time
				return fmt.Errorf("registry: replay another node's write: %w", err)
			}
		}
		r.mu.Unlock()
	default:
		c.version = ch.Version
		return nil
	}
	c.version = ch.Version
	r.wakeWatchers()
	return nil
}

func (r *Registry) wakeWatchers() {
	r.watchMu.Lock()
	close(r.watch)
	r.watch = make(chan struct{})
	r.watchMu.Unlock()
}

// writeLock is Registry.writeMu. On a store of its own it is a mutex; in
// cluster mode Lock also takes the cluster-wide write lock (a store
// transaction, bounded by lockWaitTimeout) and brings memory up to date, so
// that every writer decides against the latest state of the cluster, and
// Unlock releases it. Lock cannot fail: when the cluster lock cannot be
// had, the error is kept and the write's commit (storeWrite) returns it, so
// nothing decided on a stale state is stored.
type writeLock struct {
	mu sync.Mutex
	r  *Registry // set in cluster mode only
}

// lockWaitTimeout bounds the wait for the cluster-wide write lock.
const lockWaitTimeout = 30 * time.Second

// Lock takes the lock (see writeLock).
func (l *writeLock) Lock() {
	l.mu.Lock()
	if l.r == nil {
		return
	}
	c := l.r.cluster
	c.tx, c.txErr = nil, nil
	if l.r.closed.Load() {
		c.txErr = errors.New("registry is closed")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), lockWaitTimeout)
	defer cancel()
	tx, err := c.shared.Begin(ctx, c.version)
	if err != nil {
		c.txErr = fmt.Errorf("take the cluster-wide write lock: %w", err)
		return
	}
	if err := l.r.catchUpLocked(tx.Changes()); err != nil {
		tx.Rollback()
		c.txErr = err
		return
	}
	c.tx = tx
}

// Unlock releases the lock, and the cluster-wide lock unless the write
// committed. After a write it waits, without the locks, until every live
// node has the write (awaitNodes).
func (l *writeLock) Unlock() {
	var written int64
	if l.r != nil {
		c := l.r.cluster
		if c.tx != nil {
			c.tx.Rollback() // a no-op after Commit
		}
		c.tx, c.txErr = nil, nil
		written, c.written = c.written, 0
	}
	l.mu.Unlock()
	if written > 0 {
		l.r.awaitNodes(written)
	}
}

// storeWrite persists w: through the transaction writeMu holds in cluster
// mode, else with Apply. The caller holds writeMu.
func (r *Registry) storeWrite(ctx context.Context, w *store.Write) error {
	c := r.cluster
	if c == nil {
		return r.store.Apply(ctx, w)
	}
	if c.tx == nil {
		if c.txErr == nil {
			c.txErr = errors.New("no cluster-wide write lock held")
		}
		return c.txErr
	}
	v, err := c.tx.Commit(ctx, w)
	c.tx = nil
	if err != nil {
		return err
	}
	c.version = v
	c.written = v
	return nil
}

// refreshAfterMiss waits for a refresh that starts after the call and
// reports whether one completed, so the caller looks again. It is false on
// a store of its own (nothing can be missing) and on error.
func (r *Registry) refreshAfterMiss(ctx context.Context) bool {
	c := r.cluster
	if c == nil || r.closed.Load() {
		return false
	}
	c.flightMu.Lock()
	f := c.next
	if f == nil {
		f = &flight{done: make(chan struct{})}
		c.next = f
		if !c.running {
			c.running = true
			go r.runFlights(c)
		}
	}
	c.flightMu.Unlock()
	select {
	case <-f.done:
		if f.err != nil {
			r.log.Warn("registry: looking up an unknown id in the cluster store failed", "err", f.err)
			return false
		}
		return true
	case <-ctx.Done():
		return false
	}
}

// runFlights runs queued refreshes one at a time until none is queued.
func (r *Registry) runFlights(c *cluster) {
	for {
		c.flightMu.Lock()
		f := c.next
		if f == nil {
			c.running = false
			c.flightMu.Unlock()
			return
		}
		c.next = nil
		c.flightMu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		f.err = r.refresh(ctx)
		cancel()
		close(f.done)
	}
}

// missTimeout bounds the refresh of lookups that have no context.
const missTimeout = 5 * time.Second
