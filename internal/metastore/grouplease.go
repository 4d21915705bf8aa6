package metastore

// Group coordinator leases (cluster mode): one node coordinates a group at
// a time. Table group_leases (PostgreSQL, component "broker_groups"
// migration 2) has one row per group that ever had a coordinator: the
// holder's node id, an epoch and an expiry by the database's clock.
//
// The rules (TestGroupLeaseRules):
//
//   - AcquireGroupLease takes the lease when there is no row, when the row
//     has expired (whoever held it), or when the asking node holds it
//     already (a node that restarted, or that lost track of its lease, takes
//     it afresh). Taking always bumps the epoch: a coordinator's epoch is
//     new for every incarnation of its in-memory group state. A lease
//     another node holds unexpired is refused; the answer names the holder.
//   - RenewGroupLeases extends, without changing the epoch, the leases a
//     node still holds at the epoch it knows; one whose row names another
//     holder or epoch is lost, and the node must drop that group's state.
//   - ReleaseGroupLeases expires a node's leases at once (a clean stop), so
//     another node takes over without waiting for the expiry.
//   - A coordinator's writes (CommitOffsets, DeleteGroupOffsets,
//     DeletePartitionOffsets with a non-zero Fence) lock the lease row
//     (FOR SHARE) and check holder and epoch in the writing transaction: a
//     takeover's UPDATE waits for a commit in flight, and a commit after a
//     takeover sees the new epoch and is refused with ErrFenced. A node
//     that lost its lease (paused, cut off from PostgreSQL) therefore never
//     writes over the new holder's offsets.
//
// A row is never deleted, so a group's epoch only grows.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrFenced: a coordinator's write was refused because its lease epoch is
// no longer the group's current one (another node took the group over).
var ErrFenced = errors.New("group coordinator lease lost")

// Fence identifies the coordinator making a write: its node id and the
// epoch of its lease on the group. The zero Fence is an embedded node's
// (unconditional) write.
type Fence struct {
	Node  string
	Epoch int64
}

// GroupLease is a group's lease row.
type GroupLease struct {
	Group string
	// Holder is the node id of the coordinator.
	Holder string
	// Epoch grows with every takeover.
	Epoch int64
	// Remaining is how long the lease had to run when read, by the
	// database's clock; zero or less when expired.
	Remaining time.Duration
}

// GroupLeases keeps the group coordinator leases. The PostgreSQL store
// implements it; an embedded node (SQLite) has none: it coordinates every
// group.
type GroupLeases interface {
	// AcquireGroupLease takes group's lease for node for ttl unless another
	// node holds it unexpired; it returns the lease as it stands after the
	// attempt (Holder == node when taken, with a new epoch).
	AcquireGroupLease(ctx context.Context, group, node string, ttl time.Duration) (GroupLease, error)
	// RenewGroupLeases extends by ttl the leases of held (node and epoch
	// as the node knows them) that are still theirs, and returns the groups
	// renewed; the others are lost.
	RenewGroupLeases(ctx context.Context, node string, held map[string]int64, ttl time.Duration) (map[string]bool, error)
	// ReleaseGroupLeases expires at once the leases of held still theirs.
	ReleaseGroupLeases(ctx context.Context, node string, held map[string]int64) error
	// GroupLeaseOf reads group's lease; ok is false when the group never
	// had a coordinator.
	GroupLeaseOf(ctx context.Context, group string) (l GroupLease, ok bool, err error)
	// LiveGroupLeases maps every group whose lease has not expired to its
	// holder.
	LiveGroupLeases(ctx context.Context) (map[string]string, error)
}

var _ GroupLeases = (*Postgres)(nil)

// checkLeaseTTL refuses a lease duration below a millisecond.
func checkLeaseTTL(ttl time.Duration) error {
	if ttl < time.Millisecond {
		return fmt.Errorf("group lease: duration %v is below 1ms", ttl)
	}
	return nil
}

// AcquireGroupLease implements GroupLeases: one statement, so racing
// nodes agree on one holder.
func (s *Postgres) AcquireGroupLease(ctx context.Context, group, node string, ttl time.Duration) (GroupLease, error) {
	if err := checkLeaseTTL(ttl); err != nil {
		return GroupLease{}, err
	}
	if node == "" {
		return GroupLease{}, errors.New("group lease: empty node id")
	}
	l := GroupLease{Group: group}
	var secs float64
	err := s.pool.QueryRow(ctx, `INSERT INTO group_leases AS l (group_id, node_id, epoch, expires_at)
		VALUES ($1, $2, 1, now() + $3 * interval '1 microsecond')
		ON CONFLICT (group_id) DO UPDATE SET node_id = excluded.node_id, epoch = l.epoch + 1, expires_at = excluded.expires_at
			WHERE l.expires_at <= now() OR l.node_id = excluded.node_id
		RETURNING node_id, epoch, extract(epoch FROM expires_at - now())::float8`,
		group, node, ttl.Microseconds()).Scan(&l.Holder, &l.Epoch, &secs)
	if errors.Is(err, pgx.ErrNoRows) {
		// Held by another node, unexpired.
		got, ok, err := s.GroupLeaseOf(ctx, group)
		if err != nil {
			return GroupLease{}, err
		}
		if !ok {
			return GroupLease{}, fmt.Errorf("group %s: lease row vanished", group)
		}
		return got, nil
	}
	if err != nil {
		return GroupLease{}, fmt.Errorf("group %s: acquire lease: %w", group, err)
	}
	l.Remaining = time.Duration(secs * float64(time.Second))
	return l, nil
}

// RenewGroupLeases implements GroupLeases: one statement for every group.
func (s *Postgres) RenewGroupLeases(ctx context.Context, node string, held map[string]int64, ttl time.Duration) (map[string]bool, error) {
	if err := checkLeaseTTL(ttl); err != nil {
		return nil, err
	}
	renewed := map[string]bool{}
	if len(held) == 0 {
		return renewed, nil
	}
	groups, epochs := leaseArrays(held)
	rows, err := s.pool.Query(ctx, `UPDATE group_leases AS l SET expires_at = now() + $4 * interval '1 microsecond'
		FROM unnest($2::text[], $3::bigint[]) AS h(group_id, epoch)
		WHERE l.group_id = h.group_id AND l.epoch = h.epoch AND l.node_id = $1
		RETURNING l.group_id`, node, groups, epochs, ttl.Microseconds())
	if err != nil {
		return nil, fmt.Errorf("renew group leases: %w", err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("renew group leases: %w", err)
	}
	for _, g := range got {
		renewed[g] = true
	}
	return renewed, nil
}

// ReleaseGroupLeases implements GroupLeases.
func (s *Postgres) ReleaseGroupLeases(ctx context.Context, node string, held map[string]int64) error {
	if len(held) == 0 {
		return nil
	}
	groups, epochs := leaseArrays(held)
	if _, err := s.pool.Exec(ctx, `UPDATE group_leases AS l SET expires_at = now()
		FROM unnest($2::text[], $3::bigint[]) AS h(group_id, epoch)
		WHERE l.group_id = h.group_id AND l.epoch = h.epoch AND l.node_id = $1 AND l.expires_at > now()`,
		node, groups, epochs); err != nil {
		return fmt.Errorf("release group leases: %w", err)
	}
	return nil
}

// GroupLeaseOf implements GroupLeases.
func (s *Postgres) GroupLeaseOf(ctx context.Context, group string) (GroupLease, bool, error) {
	l := GroupLease{Group: group}
	var secs float64
	err := s.pool.QueryRow(ctx, `SELECT node_id, epoch, extract(epoch FROM expires_at - now())::float8 FROM group_leases WHERE group_id = $1`,
		group).Scan(&l.Holder, &l.Epoch, &secs)
	if errors.Is(err, pgx.ErrNoRows) {
		return GroupLease{}, false, nil
	}
	if err != nil {
		return GroupLease{}, false, fmt.Errorf("group %s: read lease: %w", group, err)
	}
	l.Remaining = time.Duration(secs * float64(time.Second))
	return l, true, nil
}

// LiveGroupLeases implements GroupLeases.
func (s *Postgres) LiveGroupLeases(ctx context.Context) (map[string]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT group_id, node_id FROM group_leases WHERE expires_at > now()`)
	if err != nil {
		return nil, fmt.Errorf("live group leases: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var g, n string
		if err := rows.Scan(&g, &n); err != nil {
			return nil, fmt.Errorf("live group leases: %w", err)
		}
		out[g] = n
	}
	return out, rows.Err()
}

func leaseArrays(held map[string]int64) ([]string, []int64) {
	groups := make([]string, 0, len(held))
	epochs := make([]int64, 0, len(held))
	for g, e := range held {
		groups = append(groups, g)
		epochs = append(epochs, e)
	}
	return groups, epochs
}

// checkFence, inside a coordinator's writing transaction, locks group's
// lease row against a takeover until the transaction ends and refuses the
// write unless fence is the current holder and epoch. The zero Fence
// passes.
func checkFence(ctx context.Context, tx pgx.Tx, group string, fence Fence) error {
	if fence == (Fence{}) {
		return nil
	}
	var node string
	var epoch int64
	err := tx.QueryRow(ctx, `SELECT node_id, epoch FROM group_leases WHERE group_id = $1 FOR SHARE`, group).Scan(&node, &epoch)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("group %s: node %s epoch %d: %w: the group has no lease", group, fence.Node, fence.Epoch, ErrFenced)
	}
	if err != nil {
		return fmt.Errorf("group %s: check lease: %w", group, err)
	}
	if node != fence.Node || epoch != fence.Epoch {
		return fmt.Errorf("group %s: node %s epoch %d: %w: node %s holds it at epoch %d", group, fence.Node, fence.Epoch, ErrFenced, node, epoch)
	}
	return nil
}
