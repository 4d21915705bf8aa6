package metastore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/internal/pgmeta"
)

// pgClusterMigrations are the cluster's membership tables (component
// "cluster").
var pgClusterMigrations = []string{
	`CREATE TABLE cluster_nodes (
		node_id    TEXT        PRIMARY KEY,
		started_at TIMESTAMPTZ NOT NULL,
		addrs      TEXT        NOT NULL DEFAULT ''
	);
	-- The one node that keeps topic data on its local disk while the
	-- cluster has no shared log: fixed by the first node to claim it,
	-- since its topics' bytes exist nowhere else.
	CREATE TABLE cluster_data_node (
		singleton  INTEGER     PRIMARY KEY CHECK (singleton = 1),
		node_id    TEXT        NOT NULL,
		claimed_at TIMESTAMPTZ NOT NULL DEFAULT now()
	);`,
	// 2: what a node advertises and its heartbeat (membership.go,
	// Heartbeats, ListNodes). stopped_at is set by a clean Close and
	// cleared by Join.
	`ALTER TABLE cluster_nodes
		ADD COLUMN http_addr    TEXT        NOT NULL DEFAULT '',
		ADD COLUMN kafka_addr   TEXT        NOT NULL DEFAULT '',
		ADD COLUMN heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now(),
		ADD COLUMN stopped_at   TIMESTAMPTZ;`,
}

var nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// CheckNodeID refuses a node id that is empty, too long or uses characters
// other than [A-Za-z0-9._-].
func CheckNodeID(id string) error {
	if !nodeIDPattern.MatchString(id) {
		return fmt.Errorf("node id %q: want 1 to 64 characters of [A-Za-z0-9._-]", id)
	}
	return nil
}

// ErrNodeRunning: another process holds the node id's lease.
var ErrNodeRunning = errors.New("a node with this id is already running")

// Membership is a node's place in the cluster, held from Join until Close.
type Membership struct {
	// NodeID is this node's id.
	NodeID string
	// DataNode is the id of the node that keeps the cluster's topic data
	// on its local disk (the cluster has no shared log yet): this node
	// when equal to NodeID.
	DataNode string

	conn *pgx.Conn
	// pool carries the heartbeats (heartbeat.go); the lease stays on conn.
	pool *pgxpool.Pool
	// hb is set while heartbeats run (StartHeartbeats).
	hb *heartbeats
}

// IsDataNode reports whether this node keeps the topic data.
func (m *Membership) IsDataNode() bool { return m.DataNode == m.NodeID }

// Join makes nodeID a member: it takes the node id's lease (a session
// advisory lock on a connection of its own, released when the node stops
// or its connection dies), so two processes cannot run as one node;
// records the node in cluster_nodes; and claims the data-node role if no
// node has it (claimData false never claims it).
func Join(ctx context.Context, pool *pgxpool.Pool, nodeID string, addrs string, claimData bool) (*Membership, error) {
	if err := CheckNodeID(nodeID); err != nil {
		return nil, err
	}
	if err := pgmeta.Migrate(ctx, pool, "cluster", pgClusterMigrations); err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("cluster membership: %w", err)
	}
	m := &Membership{NodeID: nodeID, conn: conn, pool: pool}
	fail := func(err error) (*Membership, error) {
		conn.Close(context.Background())
		return nil, err
	}
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, leaseKey(nodeID)).Scan(&got); err != nil {
		return fail(fmt.Errorf("cluster membership: node lease: %w", err))
	}
	if !got {
		return fail(fmt.Errorf("node %q: %w (another process holds its lease); give this node another --node-id", nodeID, ErrNodeRunning))
	}
	if _, err := conn.Exec(ctx, `INSERT INTO cluster_nodes (node_id, started_at, addrs, heartbeat_at, stopped_at) VALUES ($1, now(), $2, now(), NULL)
		ON CONFLICT (node_id) DO UPDATE SET started_at = excluded.started_at, addrs = excluded.addrs,
			heartbeat_at = excluded.heartbeat_at, stopped_at = NULL`, nodeID, addrs); err != nil {
		return fail(fmt.Errorf("cluster membership: %w", err))
	}
	if claimData {
		if _, err := conn.Exec(ctx, `INSERT INTO cluster_data_node (singleton, node_id) VALUES (1, $1) ON CONFLICT (singleton) DO NOTHING`, nodeID); err != nil {
			return fail(fmt.Errorf("cluster membership: data node: %w", err))
		}
	}
	err = conn.QueryRow(ctx, `SELECT node_id FROM cluster_data_node WHERE singleton = 1`).Scan(&m.DataNode)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fail(fmt.Errorf("cluster membership: data node: %w", err))
	}
	return m, nil
}

// Close stops the heartbeats, records that the node stopped (so that
// ListNodes tells a clean stop from a lost node) and gives up the node's
// lease.
func (m *Membership) Close() error {
	m.stopHeartbeats()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// Best effort: a node whose database is gone stops all the same.
	m.conn.Exec(ctx, `UPDATE cluster_nodes SET stopped_at = now() WHERE node_id = $1`, m.NodeID)
	return m.conn.Close(context.Background())
}
