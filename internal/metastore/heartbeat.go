package metastore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/internal/pgmeta"
)

// DefaultHeartbeatInterval is how often a node records its heartbeat.
const DefaultHeartbeatInterval = 3 * time.Second

// DefaultDeadAfter is how old a heartbeat may be before ListNodes calls the
// node not alive: three missed heartbeats and a margin.
const DefaultDeadAfter = 10 * time.Second

// Advertise records the addresses clients should use to reach this node:
// its HTTP (Confluent REST, Connect) base URL and its Kafka host:port (""
// when it has no Kafka listener).
func (m *Membership) Advertise(ctx context.Context, httpAddr, kafkaAddr string) error {
	if _, err := m.pool.Exec(ctx, `UPDATE cluster_nodes SET http_addr = $2, kafka_addr = $3, heartbeat_at = now() WHERE node_id = $1`,
		m.NodeID, httpAddr, kafkaAddr); err != nil {
		return fmt.Errorf("cluster membership: advertise: %w", err)
	}
	return nil
}

// Heartbeat records that the node is alive now (the database's clock).
func (m *Membership) Heartbeat(ctx context.Context) error {
	if _, err := m.pool.Exec(ctx, `UPDATE cluster_nodes SET heartbeat_at = now(), stopped_at = NULL WHERE node_id = $1`, m.NodeID); err != nil {
		return fmt.Errorf("cluster membership: heartbeat: %w", err)
	}
	return nil
}

type heartbeats struct {
	stop chan struct{}
	done chan struct{}
}

// StartHeartbeats records a heartbeat every interval (0 means
// DefaultHeartbeatInterval) until Close, through the pool, so that a
// dropped connection is replaced. A failed heartbeat is logged (once per
// run of failures) and retried at the next tick. Calling it again does
// nothing.
//
// Each tick also checks the lease's own connection: the lease is a
// session lock, so when PostgreSQL restarts or the connection is cut the
// node no longer holds it, and a second process could start under the
// same node id. The node then takes its lease again on a new connection.
// Should another process have taken it meanwhile, the node logs an error
// at every tick, LeaseHeld reports false (cluster status shows the lease
// held by the other process), and it tries again each tick.
func (m *Membership) StartHeartbeats(interval time.Duration, logger *slog.Logger) {
	if m.hb != nil {
		return
	}
	if interval <= 0 {
		interval = DefaultHeartbeatInterval
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	hb := &heartbeats{stop: make(chan struct{}), done: make(chan struct{})}
	m.hb = hb
	go func() {
		defer close(hb.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		failing := false
		for {
			select {
			case <-hb.stop:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), interval)
			m.keepLease(ctx, logger)
			if !m.LeaseHeld() {
				cancel()
				continue // the row is the other process's while it holds the lease
			}
			err := m.Heartbeat(ctx)
			cancel()
			switch {
			case err != nil && !failing:
				logger.Warn("cluster heartbeat failed; retrying", "node_id", m.NodeID, "err", err)
				failing = true
			case err == nil && failing:
				logger.Info("cluster heartbeat recorded again", "node_id", m.NodeID)
				failing = false
			}
		}
	}()
}

// keepLease checks the lease connection and, when it is dead, takes the
// lease again on a new one (StartHeartbeats).
func (m *Membership) keepLease(ctx context.Context, logger *slog.Logger) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.leaseLost.Load() && m.conn.Ping(ctx) == nil {
		return
	}
	oldPID := m.conn.PgConn().PID() // its backend may outlive the connection for a while
	conn, err := pgx.ConnectConfig(ctx, m.pool.Config().ConnConfig.Copy())
	if err != nil {
		if !m.leaseLost.Load() {
			logger.Warn("cluster node lease: its connection is gone and PostgreSQL cannot be reached; taking the lease again at the next heartbeat", "node_id", m.NodeID, "err", err)
		}
		return
	}
	if err := takeLease(ctx, conn, m.NodeID); err != nil {
		var holder uint32
		if errors.Is(err, ErrNodeRunning) {
			_ = conn.QueryRow(ctx, `SELECT pid `+heldAdvisoryLocks+` AND `+advisoryLockKey+` = $1`, leaseKey(m.NodeID)).Scan(&holder)
		}
		conn.Close(context.Background())
		switch {
		case holder != 0 && holder == oldPID:
			// Our old session still holds it: PostgreSQL has not noticed
			// the connection is gone yet. Nobody else can take it.
			logger.Warn("cluster node lease: its connection is gone but PostgreSQL still holds the lease for the old session; taking it again at the next heartbeat", "node_id", m.NodeID)
		case errors.Is(err, ErrNodeRunning):
			m.leaseLost.Store(true)
			logger.Error("cluster node lease lost: another process runs with this node id; stop one of them", "node_id", m.NodeID, "holder_pid", holder)
		default:
			logger.Warn("cluster node lease: could not take it again; retrying at the next heartbeat", "node_id", m.NodeID, "err", err)
		}
		return
	}
	m.conn.Close(context.Background())
	m.conn = conn
	if m.leaseLost.Swap(false) {
		logger.Info("cluster node lease taken back", "node_id", m.NodeID)
	} else {
		logger.Info("cluster node lease: its connection was gone; lease taken again on a new one", "node_id", m.NodeID)
	}
}

func (m *Membership) stopHeartbeats() {
	if m.hb == nil {
		return
	}
	close(m.hb.stop)
	<-m.hb.done
	m.hb = nil
}

// NodeState says whether a node looks alive.
type NodeState string

// Node states.
const (
	// NodeAlive: its last heartbeat is recent.
	NodeAlive NodeState = "alive"
	// NodeStopped: it stopped cleanly (Close) and has not rejoined.
	NodeStopped NodeState = "stopped"
	// NodeNotResponding: its last heartbeat is too old and it did not
	// stop cleanly (it crashed, hangs, or cannot reach the database).
	NodeNotResponding NodeState = "not-responding"
)

// Node is one row of cluster_nodes, as ListNodes reads it.
type Node struct {
	// ID is the node id.
	ID string
	// HTTPAddr and KafkaAddr are the addresses it advertises ("" when it
	// has not advertised, or has no Kafka listener).
	HTTPAddr, KafkaAddr string
	// KafkaID is its Kafka node id.
	KafkaID int32
	// StartedAt is when it last joined.
	StartedAt time.Time
	// Heartbeat is when it last recorded a heartbeat (or joined).
	Heartbeat time.Time
	// HeartbeatAge is how long ago that was, by the database's clock (so
	// that nodes' clock skew does not matter).
	HeartbeatAge time.Duration
	// State says whether it looks alive.
	State NodeState
	// Lease is true when a process holds the node id's lease now (a live
	// PostgreSQL session of that node).
	Lease bool
}

// ListNodes returns every node that ever joined the cluster, by id, with
// its last heartbeat; a heartbeat older than deadAfter (0 means
// DefaultDeadAfter) makes a node not alive.
func ListNodes(ctx context.Context, pool *pgxpool.Pool, deadAfter time.Duration) ([]Node, error) {
	if deadAfter <= 0 {
		deadAfter = DefaultDeadAfter
	}
	// The lease is a session advisory lock keyed by the node id
	// (pgmeta.LockKey("node:"+id), Join); pg_locks shows it held. An
	// advisory lock's bigint key is split into classid (high 32 bits) and
	// objid (low 32 bits).
	rows, err := pool.Query(ctx, `SELECT node_id, kafka_node_id, http_addr, kafka_addr, started_at, heartbeat_at,
			extract(epoch FROM now() - heartbeat_at)::float8, stopped_at IS NOT NULL
		FROM cluster_nodes ORDER BY node_id`)
	if err != nil {
		return nil, fmt.Errorf("cluster nodes: %w", err)
	}
	var nodes []Node
	for rows.Next() {
		var n Node
		var age float64
		var stopped bool
		if err := rows.Scan(&n.ID, &n.KafkaID, &n.HTTPAddr, &n.KafkaAddr, &n.StartedAt, &n.Heartbeat, &age, &stopped); err != nil {
			rows.Close()
			return nil, fmt.Errorf("cluster nodes: %w", err)
		}
		n.HeartbeatAge = time.Duration(age * float64(time.Second))
		switch {
		case stopped:
			n.State = NodeStopped
		case n.HeartbeatAge <= deadAfter:
			n.State = NodeAlive
		default:
			n.State = NodeNotResponding
		}
		nodes = append(nodes, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cluster nodes: %w", err)
	}
	held, err := heldLeases(ctx, pool)
	if err != nil {
		return nil, err
	}
	for i := range nodes {
		nodes[i].Lease = held[leaseKey(nodes[i].ID)]
	}
	return nodes, nil
}

// heldAdvisoryLocks selects the granted session advisory locks of this
// database, those of pg_advisory_lock(bigint) (objsubid 1), from pg_locks.
const heldAdvisoryLocks = `FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND granted
	AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`

// advisoryLockKey is the bigint key of a pg_locks advisory-lock row: it is
// split into classid (high 32 bits) and objid (low 32 bits).
const advisoryLockKey = `((classid::bigint << 32) | objid::bigint)`

// heldLeases returns the advisory-lock keys held now in this database.
func heldLeases(ctx context.Context, pool *pgxpool.Pool) (map[int64]bool, error) {
	rows, err := pool.Query(ctx, `SELECT `+advisoryLockKey+` `+heldAdvisoryLocks)
	if err != nil {
		return nil, fmt.Errorf("cluster nodes: leases: %w", err)
	}
	defer rows.Close()
	held := map[int64]bool{}
	for rows.Next() {
		var k int64
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("cluster nodes: leases: %w", err)
		}
		held[k] = true
	}
	return held, rows.Err()
}

// leaseKey is the advisory-lock key of a node id's lease (Join).
func leaseKey(nodeID string) int64 { return pgmeta.LockKey("node:" + nodeID) }
