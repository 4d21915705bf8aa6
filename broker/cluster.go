package broker

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
)

// ClusterID is the node's persistent cluster id, which Kafka clients read
// from Metadata and DescribeCluster (Kafka Connect keys its state by it): a
// random UUID in Kafka's 22-character base64url form, created with the data
// directory and kept in meta.db (table broker_cluster).
func (b *Broker) ClusterID() string { return b.clusterID }

// loadClusterID reads the cluster id, creating it on first start.
func (b *Broker) loadClusterID(ctx context.Context) (string, error) {
	var id string
	err := b.db.QueryRowContext(ctx, `SELECT value FROM broker_cluster WHERE key = 'cluster_id'`).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("broker: cluster id: %w", err)
	}
	u := newKafkaUUID()
	id = base64.RawURLEncoding.EncodeToString(u[:])
	// INSERT OR IGNORE then read back: two processes racing on one new
	// data directory agree on one id.
	if _, err := b.db.ExecContext(ctx, `INSERT OR IGNORE INTO broker_cluster (key, value) VALUES ('cluster_id', ?)`, id); err != nil {
		return "", fmt.Errorf("broker: cluster id: %w", err)
	}
	if err := b.db.QueryRowContext(ctx, `SELECT value FROM broker_cluster WHERE key = 'cluster_id'`).Scan(&id); err != nil {
		return "", fmt.Errorf("broker: cluster id: %w", err)
	}
	return id, nil
}
