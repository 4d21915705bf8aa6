package broker

// Group coordinator leases (cluster mode, Config.GroupLeases): a node
// coordinates a group (members, assignments, offset commits) only while it
// holds the group's lease in the cluster's PostgreSQL database
// (metastore.GroupLeases, whose rules are in internal/metastore/grouplease.go).
//
//   - The first group request a node sees for a group with no live holder
//     takes the lease (a new epoch); while another node holds it, every
//     group request answers ErrNotCoordinator naming the holder (Kafka:
//     NOT_COORDINATOR, so clients ask FindCoordinator again).
//   - The holder renews all its leases in one statement every TTL/3. It
//     treats a lease as its own only until TTL*4/5 after the renewal was
//     sent (the database's expiry is later), so that it stops coordinating
//     before another node may take over.
//   - A lease lost (a renewal refused, or not renewed in time: a pause, a
//     cut from PostgreSQL) makes the node forget the group's in-memory
//     state: members waiting in JoinGroup/SyncGroup get ErrNotCoordinator,
//     Consume streams end with it, and later requests take the lease again
//     (a new epoch) or are told the new holder.
//   - Every coordinator write (offset commits, deletions, resets) carries
//     the node's epoch and is refused by the database, in the writing
//     transaction, once another node took over (metastore.ErrFenced): a
//     paused old holder never writes over the new holder's offsets.
//   - Close releases the node's leases, so that others take over at once.
//
// Without Config.GroupLeases (an embedded node) the node coordinates every
// group, as before.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sluicehq/sluice/broker/internal/group"
	"github.com/sluicehq/sluice/internal/metastore"
)

// DefaultGroupLeaseTTL is how long a group coordinator lease lasts without
// renewal: the longest a group waits for a new coordinator after its holder
// dies.
const DefaultGroupLeaseTTL = 10 * time.Second

var (
	// ErrNotCoordinator: another node of the cluster coordinates the group
	// (the error is a *NotCoordinatorError naming it).
	ErrNotCoordinator = errors.New("this node is not the group's coordinator")
	// ErrCoordinatorNotAvailable: the node cannot tell now who coordinates
	// the group (the cluster's metadata database did not answer).
	ErrCoordinatorNotAvailable = errors.New("group coordinator not available")
)

// NotCoordinatorError says which node coordinates a group.
type NotCoordinatorError struct {
	Group string
	// Holder is the coordinator's node id.
	Holder string
}

// Error names the group and its coordinator.
func (e *NotCoordinatorError) Error() string {
	return fmt.Sprintf("group %s is coordinated by node %s: send its requests there", e.Group, e.Holder)
}

// Is makes it an ErrNotCoordinator.
func (e *NotCoordinatorError) Is(target error) bool { return target == ErrNotCoordinator }

// heldLease is a lease this node holds: its epoch and until when (local
// monotonic clock) the node may act on it.
type heldLease struct {
	epoch int64
	until time.Time
}

// otherLease caches another node's lease for a moment, so that requests
// sent to the wrong node do not each ask the database.
type otherLease struct {
	holder string
	until  time.Time
}

// leaseTable is a node's view of its group leases.
type leaseTable struct {
	store metastore.GroupLeases
	node  string
	ttl   time.Duration
	// acquire serialises acquisitions (one round trip each).
	acquire sync.Mutex
	mu      sync.Mutex
	held    map[string]heldLease
	others  map[string]otherLease
	quit    chan struct{}
	done    chan struct{}
}

func newLeaseTable(cfg Config) *leaseTable {
	if cfg.GroupLeases == nil {
		return nil
	}
	ttl := cfg.GroupLeaseTTL
	if ttl <= 0 {
		ttl = DefaultGroupLeaseTTL
	}
	return &leaseTable{store: cfg.GroupLeases, node: cfg.NodeID, ttl: ttl,
		held: map[string]heldLease{}, others: map[string]otherLease{},
		quit: make(chan struct{}), done: make(chan struct{})}
}

// validity is how long after sending a renewal or acquisition the node
// acts on the lease: a fifth of the TTL short of the database's expiry,
// which counts from later (the statement's execution).
func (lt *leaseTable) validity() time.Duration { return lt.ttl - lt.ttl/5 }

// current returns the fence of a lease this node holds and may act on.
func (lt *leaseTable) current(groupID string, now time.Time) (metastore.Fence, bool) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	h, ok := lt.held[groupID]
	if !ok || !now.Before(h.until) {
		return metastore.Fence{}, false
	}
	return metastore.Fence{Node: lt.node, Epoch: h.epoch}, true
}

// coordinate makes sure this node coordinates groupID and returns the
// fence for its writes: the zero Fence on an embedded node; else the
// lease's, taking the lease when no other node holds it. Another holder is
// a *NotCoordinatorError.
func (b *Broker) coordinate(ctx context.Context, groupID string) (metastore.Fence, error) {
	lt := b.groups.leases
	if lt == nil {
		return metastore.Fence{}, nil
	}
	if f, ok := lt.current(groupID, time.Now()); ok {
		return f, nil
	}
	lt.mu.Lock()
	o, ok := lt.others[groupID]
	lt.mu.Unlock()
	if ok && time.Now().Before(o.until) {
		return metastore.Fence{}, &NotCoordinatorError{Group: groupID, Holder: o.holder}
	}
	lt.acquire.Lock()
	defer lt.acquire.Unlock()
	if f, ok := lt.current(groupID, time.Now()); ok {
		return f, nil // taken by a request that queued before
	}
	// Whatever this node knew of the group belongs to a lease it no longer
	// acts on.
	b.dropGroup(groupID)
	sent := time.Now()
	// Bounded: a node cut off from the database answers "not available"
	// rather than holding its clients.
	actx, cancel := context.WithTimeout(ctx, max(lt.ttl/2, time.Second))
	l, err := lt.store.AcquireGroupLease(actx, groupID, lt.node, lt.ttl)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return metastore.Fence{}, ctx.Err()
		}
		return metastore.Fence{}, fmt.Errorf("group %s: %w: %v", groupID, ErrCoordinatorNotAvailable, err)
	}
	lt.mu.Lock()
	defer lt.mu.Unlock()
	if l.Holder != lt.node {
		// Cache briefly: the holder may die, and its lease expire.
		lt.others[groupID] = otherLease{holder: l.Holder, until: sent.Add(min(max(l.Remaining, 0), lt.ttl/5))}
		return metastore.Fence{}, &NotCoordinatorError{Group: groupID, Holder: l.Holder}
	}
	delete(lt.others, groupID)
	lt.held[groupID] = heldLease{epoch: l.Epoch, until: sent.Add(lt.validity())}
	b.log.Info("coordinating group", "group", groupID, "epoch", l.Epoch)
	return metastore.Fence{Node: lt.node, Epoch: l.Epoch}, nil
}

// GroupCoordinator returns the node id of the node coordinating groupID:
// this one ("" on an embedded node, which coordinates every group), or
// the holder of its lease. A group without a live holder is taken by this
// node (Kafka's FindCoordinator asks here).
func (b *Broker) GroupCoordinator(ctx context.Context, groupID string) (string, error) {
	if err := ValidateGroupID(groupID); err != nil {
		return "", fmt.Errorf("find coordinator: %w", err)
	}
	_, err := b.coordinate(ctx, groupID)
	var nc *NotCoordinatorError
	switch {
	case err == nil:
		return b.cfg.NodeID, nil
	case errors.As(err, &nc):
		return nc.Holder, nil
	}
	return "", err
}

// lostLease handles a coordinator write refused by the database: the lease
// is gone, so the group's state is dropped and the caller told
// ErrNotCoordinator.
func (b *Broker) lostLease(groupID string, fence metastore.Fence, err error) error {
	if !errors.Is(err, metastore.ErrFenced) {
		return err
	}
	lt := b.groups.leases
	if lt != nil {
		lt.mu.Lock()
		if h, ok := lt.held[groupID]; ok && h.epoch == fence.Epoch {
			delete(lt.held, groupID)
		}
		lt.mu.Unlock()
		b.dropGroup(groupID)
	}
	b.log.Warn("group coordinator lease lost: a write was refused", "group", groupID, "epoch", fence.Epoch, "err", err)
	return fmt.Errorf("group %s: %w (%v)", groupID, ErrNotCoordinator, err)
}

// dropGroup forgets the group's in-memory state (members, assignments,
// waiting classic joins).
func (b *Broker) dropGroup(groupID string) {
	cause := fmt.Errorf("group %s: %w: this node's lease on it ended; find the coordinator again", groupID, ErrNotCoordinator)
	b.groupDo(context.Background(), func(s *group.State) {
		if s.Forget(groupID, cause) {
			b.log.Info("dropped the state of a group this node no longer coordinates", "group", groupID)
		}
	})
}

// runLeases renews the node's leases every TTL/3 and drops the groups
// whose lease is lost or lapsed, until Close.
func (b *Broker) runLeases() {
	lt := b.groups.leases
	defer close(lt.done)
	tk := time.NewTicker(lt.ttl / 3)
	defer tk.Stop()
	failing := false
	for {
		select {
		case <-lt.quit:
			return
		case <-tk.C:
		}
		lt.mu.Lock()
		snap := make(map[string]int64, len(lt.held))
		for g, h := range lt.held {
			snap[g] = h.epoch
		}
		for g, o := range lt.others {
			if time.Now().After(o.until) {
				delete(lt.others, g)
			}
		}
		lt.mu.Unlock()
		sent := time.Now()
		var renewed map[string]bool
		var err error
		if len(snap) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), lt.ttl/3)
			renewed, err = lt.store.RenewGroupLeases(ctx, lt.node, snap, lt.ttl)
			cancel()
		}
		switch {
		case err != nil && !failing:
			b.log.Warn("renewing group coordinator leases failed; retrying", "groups", len(snap), "err", err)
			failing = true
		case err == nil && failing:
			b.log.Info("group coordinator leases renewed again")
			failing = false
		}
		var drop []string
		lt.mu.Lock()
		now := time.Now()
		for g, h := range lt.held {
			e, asked := snap[g]
			switch {
			case err == nil && asked && e == h.epoch && renewed[g]:
				h.until = sent.Add(lt.validity())
				lt.held[g] = h
			case err == nil && asked && e == h.epoch:
				delete(lt.held, g) // another node has it
				drop = append(drop, g)
			case !now.Before(h.until):
				delete(lt.held, g) // not renewed in time
				drop = append(drop, g)
			}
		}
		lt.mu.Unlock()
		for _, g := range drop {
			b.log.Warn("group coordinator lease lost", "group", g)
			b.dropGroup(g)
		}
	}
}

// stopLeases stops the renewals and releases the node's leases, so that
// other nodes take its groups over at once.
func (b *Broker) stopLeases() {
	lt := b.groups.leases
	if lt == nil {
		return
	}
	close(lt.quit)
	<-lt.done
	lt.mu.Lock()
	held := make(map[string]int64, len(lt.held))
	for g, h := range lt.held {
		held[g] = h.epoch
	}
	clear(lt.held)
	lt.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := lt.store.ReleaseGroupLeases(ctx, lt.node, held); err != nil {
		b.log.Warn("releasing group coordinator leases", "err", err)
	}
}
