package server

// Cluster mode (Config.Meta): the registry, topic metadata and group
// offsets live in the cluster's PostgreSQL database, shared by every node.
//
// With an object store (Config.Objects) every node keeps its partitions in
// the shared log (broker.Config.Shared: record bytes in the object store,
// offsets in PostgreSQL), so every node serves every topic: create,
// produce, fetch and consume over Connect and the Kafka listener. Each
// node's Kafka Metadata names the node itself as the leader of every
// partition (any node serves any partition; a client stays on the node it
// bootstrapped from).
//
// Without one, record bytes stay on a node's local disk, so one node of
// the cluster keeps all topic data: the data node, fixed by the first node
// to join (metastore.Join). The other nodes keep no topic data: they list
// no topics and refuse to create or use one with a message naming the data
// node. Either way every node serves the registry for the whole cluster
// (Confluent REST and Connect: a schema registered on one node is usable
// on all at once).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/clusterstatus"
	"github.com/sluicehq/sluice/internal/metastore"
	"github.com/sluicehq/sluice/internal/pgmeta"
	"github.com/sluicehq/sluice/internal/pgnotify"
	"github.com/sluicehq/sluice/objstore"
	"github.com/sluicehq/sluice/registry"
)

// clusterNode holds a node's cluster-mode resources.
type clusterNode struct {
	pool *pgxpool.Pool
	// notify is the node's one listening connection (LISTEN/NOTIFY), shared
	// by the registry, the ACL store and the shared log: PostgreSQL wakes
	// every listening connection at each NOTIFY.
	notify *pgnotify.Hub
	member *metastore.Membership
	meta   metastore.Store
	// objects is the object store (Config.Objects, cluster_status.go),
	// opened and probed at start; nil without one. objectsURL is its URL
	// without credentials.
	objects    objstore.Store
	objectsURL string
	// sharedLog, when set, reports the shared log's partitions to the
	// ClusterService (set by the shared log's wiring).
	sharedLog clusterstatus.SharedLog
	// dir lists the live nodes for group coordination (cluster_group.go).
	dir     *metastore.NodeDirectory
	dirOnce sync.Once
}

// checkClusterConfig refuses a half-given cluster configuration.
func checkClusterConfig(cfg Config) error {
	if err := CheckCluster(cfg.Meta, cfg.NodeID); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if err := CheckObjects(cfg.Meta, cfg.Objects); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

// CheckCluster checks a cluster configuration (Config.Meta and NodeID, the
// flags --meta and --node-id) before anything starts: both or neither, a
// postgres:// URL, a valid node id.
func CheckCluster(meta, nodeID string) error {
	switch {
	case meta == "" && nodeID == "":
		return nil
	case meta == "":
		return fmt.Errorf("node id %q without a metadata database: --meta and --node-id go together (a cluster node needs both, an embedded node neither)", nodeID)
	case nodeID == "":
		return errors.New("a metadata database without a node id: --meta and --node-id go together (a cluster node needs both, an embedded node neither)")
	}
	if err := pgmeta.CheckURL(meta); err != nil {
		return err
	}
	return metastore.CheckNodeID(nodeID)
}

// openRegistry opens the registry: on meta.db, or in cluster mode on
// PostgreSQL after joining the cluster (s.cluster is then set, and released
// by closeCluster).
func (s *Server) openRegistry(ctx context.Context, db *sql.DB) (*registry.Registry, error) {
	rcfg := registry.Config{DB: db, Logger: s.cfg.Logger.With("component", "registry")}
	if s.cfg.Meta == "" {
		return registry.Open(ctx, rcfg)
	}
	c := &clusterNode{}
	var err error
	if c.pool, err = pgmeta.Open(ctx, s.cfg.Meta); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if c.notify, err = pgnotify.New(pgnotify.Config{ConnConfig: c.pool.Config().ConnConfig, Logger: s.cfg.Logger.With("component", "pgnotify")}); err != nil {
		c.pool.Close()
		return nil, fmt.Errorf("server: %w", err)
	}
	// With the shared log no node is the data node.
	claimData := s.cfg.Objects == ""
	if c.member, err = metastore.Join(ctx, c.pool, s.cfg.NodeID, strings.Join(s.cfg.Addrs, ","), claimData); err != nil {
		c.notify.Close()
		c.pool.Close()
		return nil, fmt.Errorf("server: %w", err)
	}
	if c.meta, err = metastore.NewPostgres(ctx, c.pool); err != nil {
		c.close()
		return nil, fmt.Errorf("server: %w", err)
	}
	if c.objects, c.objectsURL, err = s.openObjects(ctx); err != nil {
		c.close()
		return nil, err
	}
	if c.objects != nil {
		c.sharedLog = sharedLogStatus{s}
		if c.member.DataNode != "" {
			s.cfg.Logger.Warn("this cluster had a data node (topics on one node's disk) before the shared log; those topics' records are not in the object store",
				"data_node", c.member.DataNode)
		}
	}
	reg, err := registry.OpenCluster(ctx, rcfg, registry.Cluster{Pool: c.pool, Notify: c.notify, Node: s.cfg.NodeID})
	if err != nil {
		c.close()
		return nil, err
	}
	s.cluster = c
	s.cfg.Logger.Info("joined the cluster", "node_id", s.cfg.NodeID, "meta", pgmeta.Redact(s.cfg.Meta),
		"data_node", c.member.DataNode, "keeps_topic_data", c.objects != nil || c.member.IsDataNode(), "shared_log", c.objects != nil)
	return reg, nil
}

// brokerMeta is the broker's metadata store: nil (meta.db) unless in
// cluster mode.
func (s *Server) brokerMeta() metastore.Store {
	if s.cluster == nil {
		return nil
	}
	return s.cluster.meta
}

// noTopicData is broker.Config.NoTopicData: why this node keeps no topic
// data, or "".
func (s *Server) noTopicData() string {
	if s.cluster == nil || s.cluster.objects != nil || s.cluster.member.IsDataNode() {
		return ""
	}
	return fmt.Sprintf("node %q keeps no topic data: this cluster has no shared log yet, so its topics live on node %q only; send topic requests there",
		s.cfg.NodeID, s.cluster.member.DataNode)
}

// brokerShared is broker.Config.Shared: the shared log on the cluster's
// PostgreSQL and object store, when the node has one (Config.Objects).
func (s *Server) brokerShared() *broker.SharedConfig {
	if s.cluster == nil || s.cluster.objects == nil {
		return nil
	}
	return &broker.SharedConfig{Pool: s.cluster.pool, Notify: s.cluster.notify, Objects: s.cluster.objects, Node: s.cfg.NodeID, Window: s.cfg.SharedWindow, MergeRate: s.cfg.SharedMergeRate,
		// The PUT and commit histograms (metrics/shared_log.go).
		ObservePut: s.Metrics.ObserveSharedPut, ObserveCommit: s.Metrics.ObserveSharedCommit}
}

// sharedLogStatus reports the shared log's partitions to the
// ClusterService (cluster_status.go) through the broker.
type sharedLogStatus struct{ s *Server }

func (h sharedLogStatus) PartitionStatus(ctx context.Context) ([]clusterstatus.Partition, error) {
	if h.s.Broker == nil {
		return nil, errors.New("the broker is not open yet")
	}
	ps, err := h.s.Broker.SharedPartitions(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]clusterstatus.Partition, len(ps))
	for i, p := range ps {
		out[i] = clusterstatus.Partition{Topic: p.Topic, Partition: p.Partition,
			HasOffsets: true, HighWatermark: p.HighWatermark, LogStartOffset: p.LogStartOffset,
			HasObjectCount: true, ObjectCount: p.Objects}
	}
	return out, nil
}

// closeCluster releases the cluster resources (after the registry and the
// broker are closed); a no-op outside cluster mode.
func (s *Server) closeCluster() error {
	if s.cluster == nil {
		return nil
	}
	err := s.cluster.close()
	s.cluster = nil
	return err
}

func (c *clusterNode) close() error {
	var err error
	if c.member != nil {
		err = c.member.Close()
	}
	if c.notify != nil {
		c.notify.Close()
	}
	c.pool.Close()
	return err
}

// ClusterDataNode reports, in cluster mode without the shared log, the id
// of the node that keeps the cluster's topic data; "" outside cluster mode
// or with the shared log (every node keeps every topic).
func (s *Server) ClusterDataNode() string {
	if s.cluster == nil || s.cluster.objects != nil {
		return ""
	}
	return s.cluster.member.DataNode
}
