package server

// Consumer groups in cluster mode with the shared log: one coordinator per
// group across the nodes, the holder of the group's lease in PostgreSQL (broker/group_lease.go,
// internal/metastore/grouplease.go). The Kafka listener learns the other
// nodes from cluster_nodes (their Kafka node ids and advertised addresses),
// so that Metadata lists them and FindCoordinator sends a group's members to
// its coordinator. Without the shared log the data node keeps every topic
// and coordinates every group, as an embedded node does.

import (
	"context"
	"net/http"
	"strings"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/broker/kafka"
	"github.com/sluicehq/sluice/internal/metastore"
)

// groupLeases is broker.Config.GroupLeases: the cluster's PostgreSQL store
// with the shared log; nil on an embedded node, and in a cluster without
// the shared log, whose data node keeps every topic and so coordinates
// every group.
func (s *Server) groupLeases() metastore.GroupLeases {
	if s.cluster == nil || s.cluster.objects == nil {
		return nil
	}
	gl, _ := s.cluster.meta.(metastore.GroupLeases)
	return gl
}

// directory is the cluster's live nodes (cached), made on first use.
func (s *Server) directory() *metastore.NodeDirectory {
	s.cluster.dirOnce.Do(func() { s.cluster.dir = metastore.NewNodeDirectory(s.cluster.pool, 0, 0) })
	return s.cluster.dir
}

// kafkaCluster is kafka.Config.Cluster: with the shared log only (nil on
// an embedded node, and on a cluster's data node, which serves everything).
func (s *Server) kafkaCluster() kafka.Cluster {
	if s.cluster == nil || s.cluster.objects == nil {
		return nil
	}
	return kafkaNodes{name: s.cfg.NodeID, id: s.cluster.member.KafkaID, dir: s.directory()}
}

// groupPeers is broker.Config.GroupPeers: GroupService calls about a
// group another node coordinates are forwarded there (nil on an embedded
// node).
func (s *Server) groupPeers() broker.GroupPeers {
	if s.cluster == nil || s.cluster.objects == nil {
		return nil
	}
	return httpPeers{self: s.cfg.NodeID, dir: s.directory(), client: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}}
}

// httpPeers finds a node's advertised HTTP base URL.
type httpPeers struct {
	self   string
	dir    *metastore.NodeDirectory
	client *http.Client
}

func (p httpPeers) PeerURL(ctx context.Context, node string) (string, bool) {
	nodes, _ := p.dir.Alive(ctx)
	for _, n := range nodes {
		if n.ID == node && (strings.HasPrefix(n.HTTPAddr, "http://") || strings.HasPrefix(n.HTTPAddr, "https://")) {
			return n.HTTPAddr, true
		}
	}
	return "", false
}

func (p httpPeers) PeerURLs(ctx context.Context) []string {
	nodes, _ := p.dir.Alive(ctx)
	var out []string
	for _, n := range nodes {
		if n.ID != p.self && (strings.HasPrefix(n.HTTPAddr, "http://") || strings.HasPrefix(n.HTTPAddr, "https://")) {
			out = append(out, n.HTTPAddr)
		}
	}
	return out
}

func (p httpPeers) PeerClient() connect.HTTPClient { return p.client }

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
