package metastore

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultDirectoryRefresh is how long a NodeDirectory answers from its
// cache before reading cluster_nodes again.
const DefaultDirectoryRefresh = time.Second

// directoryTimeout bounds one read of cluster_nodes: a node cut off from
// the database answers from its last list instead of hanging its callers.
const directoryTimeout = 2 * time.Second

// NodeDirectory answers which nodes of the cluster are alive and where
// they listen, from ListNodes read at most once per refresh interval (the
// Kafka listener asks on every Metadata and FindCoordinator request).
type NodeDirectory struct {
	pool      *pgxpool.Pool
	deadAfter time.Duration
	refresh   time.Duration

	mu    sync.Mutex
	at    time.Time
	nodes []Node
}

// NewNodeDirectory returns a directory over pool's cluster_nodes; a
// heartbeat older than deadAfter (0: DefaultDeadAfter) makes a node not
// alive; refresh 0 means DefaultDirectoryRefresh.
func NewNodeDirectory(pool *pgxpool.Pool, deadAfter, refresh time.Duration) *NodeDirectory {
	if refresh <= 0 {
		refresh = DefaultDirectoryRefresh
	}
	return &NodeDirectory{pool: pool, deadAfter: deadAfter, refresh: refresh}
}

// Alive returns the nodes that look alive, by id. When the database does
// not answer (within 2 s) it returns the last list it read with the error,
// and tries again after the refresh interval.
func (d *NodeDirectory) Alive(ctx context.Context) ([]Node, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.at.IsZero() && time.Since(d.at) < d.refresh {
		return d.nodes, nil
	}
	ctx, cancel := context.WithTimeout(ctx, directoryTimeout)
	defer cancel()
	all, err := ListNodes(ctx, d.pool, d.deadAfter)
	if err != nil {
		d.at = time.Now()
		return d.nodes, err
	}
	alive := make([]Node, 0, len(all))
	for _, n := range all {
		if n.State == NodeAlive {
			alive = append(alive, n)
		}
	}
	d.nodes, d.at = alive, time.Now()
	return alive, nil
}
