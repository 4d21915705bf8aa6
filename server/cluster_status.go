package server

// The object store of a cluster node (Config.Objects, --objects), the
// node's heartbeats, and the ClusterService (`sluice cluster status`).

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/clusterstatus"
	"github.com/sluicehq/sluice/internal/metastore"
	"github.com/sluicehq/sluice/internal/pgmeta"
	"github.com/sluicehq/sluice/objstore"
	clusterv1 "github.com/sluicehq/sluice/proto/gen/sluice/cluster/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/cluster/v1/clusterv1connect"
)

// CheckObjects checks an object store URL (Config.Objects, the flag
// --objects) before anything starts: it needs a metadata database (the
// offsets of what the store holds live there), and it must parse.
func CheckObjects(meta, objects string) error {
	if objects == "" {
		return nil
	}
	if meta == "" {
		return errors.New("an object store without a metadata database: --objects needs --meta and --node-id (the offsets of the records in the store live in the cluster's PostgreSQL database)")
	}
	if _, err := objstore.Open(objects); err != nil {
		return fmt.Errorf("--objects: %w", err)
	}
	return nil
}

// openObjects opens and probes the node's object store (nil without
// Config.Objects): a store that cannot take a small object is refused
// before the node serves anything.
func (s *Server) openObjects(ctx context.Context) (objstore.Store, string, error) {
	if s.cfg.Objects == "" {
		return nil, "", nil
	}
	store, err := objstore.Open(s.cfg.Objects)
	if err != nil {
		return nil, "", fmt.Errorf("server: --objects: %w", err)
	}
	desc := fmt.Sprint(store)
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	took, err := objstore.Probe(pctx, store, s.cfg.NodeID)
	if err != nil {
		return nil, "", fmt.Errorf("server: object store %s does not work: %w", desc, err)
	}
	s.cfg.Logger.Info("object store ready", "objects", desc, "probe", took.Round(time.Microsecond))
	return store, desc, nil
}

// ClusterObjects returns the node's object store (Config.Objects), opened
// and probed at start; nil without one. The shared log keeps record bytes
// there.
func (s *Server) ClusterObjects() objstore.Store {
	if s.cluster == nil {
		return nil
	}
	return s.cluster.objects
}

// startHeartbeats advertises the node's addresses in the cluster and
// starts its heartbeats (cluster mode only).
func (s *Server) startHeartbeats(ctx context.Context) error {
	if s.cluster == nil {
		return nil
	}
	if err := s.cluster.member.Advertise(ctx, s.advertisedHTTP(), s.KafkaAdvertisedAddr()); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.cluster.member.StartHeartbeats(metastore.DefaultHeartbeatInterval, s.cfg.Logger.With("component", "cluster"))
	return nil
}

// advertisedHTTP is the node's HTTP base URL for other nodes and tools:
// the listener's address (the last of Config.Addrs), with this machine's
// host name for an unspecified host.
func (s *Server) advertisedHTTP() string {
	if len(s.cfg.Addrs) == 0 {
		return ""
	}
	addr := s.cfg.Addrs[len(s.cfg.Addrs)-1]
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			if h, err := os.Hostname(); err == nil {
				addr = net.JoinHostPort(h, port)
			}
		}
	}
	if s.cfg.TLS != nil {
		return "https://" + addr
	}
	return "http://" + addr
}

// ClusterStatus gathers the cluster's status as this node sees it (the
// ClusterService's answer); on an embedded node, the node's own.
func (s *Server) ClusterStatus(ctx context.Context) (*clusterstatus.Status, error) {
	src := clusterstatus.Sources{ClusterID: s.Broker.ClusterID()}
	local := func() []clusterstatus.Partition {
		stats := s.Broker.Stats(nil)
		out := make([]clusterstatus.Partition, len(stats))
		for i, p := range stats {
			out[i] = localPartition(p)
		}
		return out
	}
	if c := s.cluster; c != nil {
		src.NodeID, src.Pool, src.DatabaseURL, src.DataNode = s.cfg.NodeID, c.pool, pgmeta.Redact(s.cfg.Meta), c.member.DataNode
		src.Objects, src.ObjectsURL = c.objects, c.objectsURL
		src.Topics = c.meta.Topics
		src.SharedLog = c.sharedLog
		if c.sharedLog == nil && c.member.IsDataNode() {
			src.Local = local
		}
	} else {
		src.Local = local
	}
	return clusterstatus.Collect(ctx, src)
}

func localPartition(p broker.PartitionStats) clusterstatus.Partition {
	return clusterstatus.Partition{Topic: p.Topic, Partition: p.Partition, HasOffsets: true,
		HighWatermark: p.HighWatermark, LogStartOffset: p.LogStartOffset}
}

// clusterService is the ClusterService handler.
type clusterService struct{ s *Server }

var _ clusterv1connect.ClusterServiceHandler = clusterService{}

// mountCluster serves the ClusterService on mux.
func (s *Server) mountCluster(mux *http.ServeMux, opts ...connect.HandlerOption) {
	mux.Handle(clusterv1connect.NewClusterServiceHandler(clusterService{s}, opts...))
}

// Status implements the ClusterService.
func (h clusterService) Status(ctx context.Context, _ *connect.Request[clusterv1.StatusRequest]) (*connect.Response[clusterv1.StatusResponse], error) {
	st, err := h.s.ClusterStatus(ctx)
	if err != nil {
		return nil, connect.NewError(connect.CodeDeadlineExceeded, err)
	}
	return connect.NewResponse(statusToProto(st)), nil
}

func statusToProto(st *clusterstatus.Status) *clusterv1.StatusResponse {
	out := &clusterv1.StatusResponse{
		Cluster: st.Cluster, NodeId: st.NodeID, ClusterId: st.ClusterID, DataNode: st.DataNode,
		SharedLog: &clusterv1.SharedLog{Enabled: st.SharedLog, Note: st.SharedLogNote},
	}
	for _, n := range st.Nodes {
		out.Nodes = append(out.Nodes, &clusterv1.Node{
			Id: n.ID, HttpAddr: n.HTTPAddr, KafkaAddr: n.KafkaAddr,
			StartedAt: timestamppb.New(n.StartedAt), LastHeartbeat: timestamppb.New(n.Heartbeat),
			HeartbeatAge: durationpb.New(n.HeartbeatAge), State: nodeState(n.State), Lease: n.Lease, Self: n.ID == st.NodeID,
		})
	}
	if d := st.Database; d != nil {
		out.Database = &clusterv1.Database{Url: d.URL, Reachable: d.Reachable, Error: d.Err, ServerVersion: d.ServerVersion}
		if d.Reachable {
			out.Database.RoundTrip = durationpb.New(d.RoundTrip)
		}
		if st.NodesErr != "" && out.Database.Error == "" {
			out.Database.Error = "listing nodes: " + st.NodesErr
		}
	}
	if o := st.Objects; o != nil {
		out.ObjectStore = &clusterv1.ObjectStore{Configured: true, Url: o.URL, Healthy: o.Healthy, Error: o.Err}
		if o.Healthy {
			out.ObjectStore.ProbeTime = durationpb.New(o.ProbeTime)
		}
	} else {
		out.ObjectStore = &clusterv1.ObjectStore{}
	}
	for _, p := range st.Partitions {
		pp := &clusterv1.Partition{Topic: p.Topic, Partition: p.Partition}
		if p.HasOffsets {
			pp.HighWatermark, pp.LogStartOffset = &p.HighWatermark, &p.LogStartOffset
		}
		if p.HasObjectCount {
			pp.ObjectCount = &p.ObjectCount
		}
		out.Partitions = append(out.Partitions, pp)
	}
	if st.PartitionsErr != "" && out.SharedLog.Note != "" {
		out.SharedLog.Note += " (" + strings.TrimSpace(st.PartitionsErr) + ")"
	}
	return out
}

func nodeState(s metastore.NodeState) clusterv1.NodeState {
	switch s {
	case metastore.NodeAlive:
		return clusterv1.NodeState_NODE_STATE_ALIVE
	case metastore.NodeStopped:
		return clusterv1.NodeState_NODE_STATE_STOPPED
	case metastore.NodeNotResponding:
		return clusterv1.NodeState_NODE_STATE_NOT_RESPONDING
	}
	return clusterv1.NodeState_NODE_STATE_UNSPECIFIED
}
