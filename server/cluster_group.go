package server

// Consumer groups in cluster mode: one coordinator per group across the
// nodes, the holder of the group's lease in PostgreSQL (broker/group_lease.go,
// internal/metastore/grouplease.go). The Kafka listener learns the other
// nodes from cluster_nodes (their Kafka node ids and advertised addresses),
// so that Metadata lists them and FindCoordinator sends a group's members to
// its coordinator.

import (
	"context"

	"github.com/sluicehq/sluice/broker/kafka"
	"github.com/sluicehq/sluice/internal/metastore"
)

// groupLeases is broker.Config.GroupLeases: the cluster's PostgreSQL store
// in cluster mode, nil on an embedded node (which coordinates every group).
func (s *Server) groupLeases() metastore.GroupLeases {
	if s.cluster == nil {
		return nil
	}
	gl, _ := s.cluster.meta.(metastore.GroupLeases)
	return gl
}

// kafkaCluster is kafka.Config.Cluster: nil on an embedded node.
func (s *Server) kafkaCluster() kafka.Cluster {
	if s.cluster == nil {
		return nil
	}
	return kafkaNodes{name: s.cfg.NodeID, id: s.cluster.member.KafkaID,
		dir: metastore.NewNodeDirectory(s.cluster.pool, 0, 0)}
}

// kafkaNodes lists the cluster's live nodes for the Kafka listener.
type kafkaNodes struct {
	name string
	id   int32
	dir  *metastore.NodeDirectory
}

func (k kafkaNodes) Self() (string, int32) { return k.name, k.id }

func (k kafkaNodes) Nodes(ctx context.Context) ([]kafka.ClusterNode, error) {
	nodes, err := k.dir.Alive(ctx)
	out := make([]kafka.ClusterNode, 0, len(nodes))
	for _, n := range nodes {
		if n.KafkaAddr != "" {
			out = append(out, kafka.ClusterNode{Name: n.ID, ID: n.KafkaID, Addr: n.KafkaAddr})
		}
	}
	return out, err
}
