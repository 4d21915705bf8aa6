package kafka

// Cluster mode (Config.Cluster): every node of the cluster serves every
// partition, so each node's Metadata names itself the leader of every
// partition, but lists every live node's listener, so that clients can
// reach the coordinator of a group, which FindCoordinator names: the
// holder of the group's lease (broker/group_lease.go), which another node
// answers NOT_COORDINATOR for.

import (
	"context"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Cluster is what a cluster node's Kafka listener knows of the other
// nodes. Nil on an embedded node: Kafka node 0 alone.
type Cluster interface {
	// Self is this node's id in the cluster and its Kafka node id.
	Self() (name string, id int32)
	// Nodes lists the live nodes that have a Kafka listener; it may leave
	// this node out (the listener adds itself). On an error the listener
	// answers with itself alone.
	Nodes(ctx context.Context) ([]ClusterNode, error)
}

// ClusterNode is one node as the Kafka listener lists it.
type ClusterNode struct {
	// Name is the node's id in the cluster (the group lease holder's).
	Name string
	// ID is its Kafka node id.
	ID int32
	// Addr is its advertised Kafka host:port.
	Addr string
}

// nodeID is this node's Kafka node id.
func (s *Server) nodeID() int32 {
	if s.cfg.Cluster == nil {
		return NodeID
	}
	_, id := s.cfg.Cluster.Self()
	return id
}

// clusterBrokers is Metadata's broker list: this node at its advertised
// address, then every other live node.
func (s *Server) clusterBrokers(ctx context.Context) []kmsg.MetadataResponseBroker {
	out := []kmsg.MetadataResponseBroker{s.metadataBroker()}
	if s.cfg.Cluster == nil {
		return out
	}
	self, _ := s.cfg.Cluster.Self()
	nodes, err := s.cfg.Cluster.Nodes(ctx)
	if err != nil {
		s.log.Warn("listing the cluster's nodes for Metadata; answering this node alone", "err", err)
	}
	for _, n := range nodes {
		host, port, ok := splitAdvertised(n.Addr)
		if n.Name == self || !ok {
			continue
		}
		mb := kmsg.NewMetadataResponseBroker()
		mb.NodeID, mb.Host, mb.Port = n.ID, host, port
		out = append(out, mb)
	}
	return out
}

// clusterNode finds a live node by its cluster id; ok is false when it is
// not alive or has no Kafka listener.
func (s *Server) clusterNode(ctx context.Context, name string) (id int32, host string, port int32, ok bool) {
	self, selfID := s.cfg.Cluster.Self()
	if name == self {
		host, port = s.advertisedHostPort()
		return selfID, host, port, true
	}
	nodes, _ := s.cfg.Cluster.Nodes(ctx)
	for _, n := range nodes {
		if n.Name == name {
			host, port, ok := splitAdvertised(n.Addr)
			return n.ID, host, port, ok
		}
	}
	return 0, "", 0, false
}

// splitAdvertised splits an advertised host:port.
func splitAdvertised(addr string) (string, int32, bool) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return "", 0, false
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil || port == 0 {
		return "", 0, false
	}
	return host, int32(port), true
}
