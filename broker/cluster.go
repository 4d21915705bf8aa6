package broker

import (
	"context"
	"encoding/base64"
	"fmt"
)

// ClusterID is the node's persistent cluster id, which Kafka clients read
// from Metadata and DescribeCluster (Kafka Connect keys its state by it): a
// random UUID in Kafka's 22-character base64url form, created with the data
// directory and kept in the metadata store (meta.db table broker_cluster, or
// PostgreSQL in cluster mode, where every node shares it).
func (b *Broker) ClusterID() string { return b.clusterID }

// loadClusterID reads the cluster id, creating it on first start (racing
// first starts agree on one: see metastore.Store.ClusterID).
func (b *Broker) loadClusterID(ctx context.Context) (string, error) {
	u := newKafkaUUID()
	id, err := b.meta.ClusterID(ctx, base64.RawURLEncoding.EncodeToString(u[:]))
	if err != nil {
		return "", fmt.Errorf("broker: cluster id: %w", err)
	}
	return id, nil
}
