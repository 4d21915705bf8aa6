package server

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/acl"
	"github.com/sluicehq/sluice/clusterstatus"
	"github.com/sluicehq/sluice/internal/pgtest"
	"github.com/sluicehq/sluice/objstore"
	clusterv1 "github.com/sluicehq/sluice/proto/gen/sluice/cluster/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/cluster/v1/clusterv1connect"
)

func clusterStatus(t *testing.T, hc *http.Client, url string) (*clusterv1.StatusResponse, error) {
	t.Helper()
	resp, err := clusterv1connect.NewClusterServiceClient(hc, url).Status(context.Background(), connect.NewRequest(&clusterv1.StatusRequest{}))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

// An embedded node says it is not a cluster and reports its own
// partitions with their offsets.
func TestClusterStatusEmbedded(t *testing.T) {
	s, url, stop, err := Start(context.Background(), Config{DataDir: t.TempDir(), Logger: testLogger(t)}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx := context.Background()
	if _, err := s.Broker.CreateTopic(ctx, "orders", 2, nil); err != nil {
		t.Fatal(err)
	}
	st, err := clusterStatus(t, http.DefaultClient, url)
	if err != nil {
		t.Fatal(err)
	}
	if st.Cluster || st.NodeId != "" || len(st.Nodes) != 0 || st.Database != nil || st.ObjectStore.GetConfigured() {
		t.Fatalf("embedded status = %v", st)
	}
	if st.ClusterId != s.Broker.ClusterID() || !strings.Contains(st.SharedLog.GetNote(), "embedded node, not a cluster") {
		t.Fatalf("embedded status = %v", st)
	}
	if len(st.Partitions) != 2 || st.Partitions[1].GetPartition() != 1 || st.Partitions[0].HighWatermark == nil || st.Partitions[0].ObjectCount != nil {
		t.Fatalf("partitions = %v, want orders 0 and 1 with offsets, no object counts", st.Partitions)
	}
}

// Two nodes on one PostgreSQL with a shared object store directory: each
// lists both with their addresses and heartbeats, the database and the
// store are healthy, and the partitions are listed on both with their
// offsets and object counts (with --objects every node serves every topic
// from the shared log; there is no data node).
func TestClusterStatusTwoNodes(t *testing.T) {
	meta := pgtest.DB(t)
	objects := t.TempDir()
	start := func(id string) (*Server, string) {
		s, url, stop, err := Start(context.Background(), Config{DataDir: t.TempDir(), Logger: testLogger(t), Meta: meta, NodeID: id,
			Objects: "file://" + objects, KafkaAddr: "127.0.0.1:0"}, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := stop(); err != nil {
				t.Errorf("stop %s: %v", id, err)
			}
		})
		return s, url
	}
	a, urlA := start("a")
	b, urlB := start("b")
	if a.ClusterObjects() == nil || b.ClusterObjects() == nil {
		t.Fatal("no object store on the cluster node")
	}
	if _, err := a.Broker.CreateTopic(context.Background(), "orders", 3, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		self, url string
		offsets   bool
	}{{"a", urlA, true}, {"b", urlB, true}} {
		st, err := clusterStatus(t, http.DefaultClient, c.url)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Cluster || st.NodeId != c.self || st.DataNode != "" || !st.SharedLog.GetEnabled() || !strings.Contains(st.SharedLog.GetNote(), "every node serves every topic") {
			t.Fatalf("status from %s = %v", c.self, st)
		}
		if len(st.Nodes) != 2 {
			t.Fatalf("nodes from %s = %v", c.self, st.Nodes)
		}
		for i, n := range st.Nodes {
			want := []string{"a", "b"}[i]
			srv := map[string]*Server{"a": a, "b": b}[want]
			if n.Id != want || n.State != clusterv1.NodeState_NODE_STATE_ALIVE || !n.Lease || n.Self != (want == c.self) ||
				n.KafkaAddr != srv.KafkaAdvertisedAddr() || !strings.HasPrefix(n.HttpAddr, "http://127.0.0.1:") || n.LastHeartbeat == nil {
				t.Errorf("from %s, node %d = %v", c.self, i, n)
			}
		}
		if d := st.Database; !d.GetReachable() || !strings.HasPrefix(d.GetServerVersion(), "1") || d.GetRoundTrip() == nil || strings.Contains(d.GetUrl(), "password") {
			t.Errorf("database from %s = %v", c.self, d)
		}
		if o := st.ObjectStore; !o.GetConfigured() || !o.GetHealthy() || o.GetUrl() != "file://"+objects || o.GetProbeTime() == nil {
			t.Errorf("object store from %s = %v", c.self, o)
		}
		if len(st.Partitions) != 3 {
			t.Fatalf("partitions from %s = %v", c.self, st.Partitions)
		}
		for _, p := range st.Partitions {
			if p.GetTopic() != "orders" || (p.HighWatermark != nil) != c.offsets || p.ObjectCount == nil {
				t.Errorf("from %s: partition %v (offsets known: want %v)", c.self, p, c.offsets)
			}
		}
	}
	// The probes left nothing in the store.
	if objs, err := a.ClusterObjects().List(context.Background(), ""); err != nil || len(objs) != 0 {
		t.Errorf("objects left by the probes: %v, %v", objs, err)
	}
}

// A failing object store is reported by the status, not as an error.
func TestClusterStatusReportsAFailingStore(t *testing.T) {
	meta := pgtest.DB(t)
	objects := t.TempDir()
	s, url, stop, err := Start(context.Background(), Config{DataDir: t.TempDir(), Logger: testLogger(t), Meta: meta, NodeID: "a",
		Objects: "file://" + objects}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	faulty := objstore.NewFaulty(s.cluster.objects, 1)
	faulty.Set(objstore.OpPut, objstore.Fault{ErrorRate: 1})
	s.cluster.objects = faulty
	st, err := clusterStatus(t, http.DefaultClient, url)
	if err != nil {
		t.Fatal(err)
	}
	if o := st.ObjectStore; o.GetHealthy() || !strings.Contains(o.GetError(), "injected") {
		t.Fatalf("object store = %v, want unhealthy with the error", o)
	}
	if !st.Database.GetReachable() {
		t.Fatalf("database = %v", st.Database)
	}
}

func TestObjectsConfigRefused(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	for _, c := range []struct {
		meta, objects, want string
	}{
		{"", "file:///tmp", "--objects needs --meta"},
		{"postgres://u@127.0.0.1:1/db", "gs://bucket", "unknown scheme"},
		{"postgres://u@127.0.0.1:1/db", "file://" + missing, "does not exist"},
	} {
		_, err := New(context.Background(), Config{DataDir: t.TempDir(), Meta: c.meta, NodeID: "n", Objects: c.objects})
		if c.meta == "" {
			_, err = New(context.Background(), Config{DataDir: t.TempDir(), Objects: c.objects})
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("meta %q objects %q: %v, want %q", c.meta, c.objects, err, c.want)
		}
	}
}

// A store that exists but does not work stops the node at start with an
// error naming the store: here a file named "probe" where the probe needs
// a directory of keys.
func TestObjectsProbedAtStart(t *testing.T) {
	meta := pgtest.DB(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "probe"), []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, _, err := Start(context.Background(), Config{DataDir: t.TempDir(), Meta: meta, NodeID: "a", Objects: "file://" + dir}, "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), "does not work") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("start on a store that fails its probe: %v", err)
	}
}

// Describing the cluster needs describe on the cluster.
func TestClusterStatusNeedsDescribe(t *testing.T) {
	n := startACLNode(t)
	_, err := clusterStatus(t, n.httpClient("bob", "bob-pw"), n.url)
	if connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("bob without describe on the cluster: %v, want PermissionDenied", err)
	}
	if _, err := clusterStatus(t, n.httpClient("alice", "alice-pw"), n.url); err != nil {
		t.Fatalf("alice (superuser): %v", err)
	}
	// Describe on a topic is not enough; describe on the cluster is.
	rule := func(rt acl.ResourceType, name string) acl.Rule {
		return acl.Rule{Principal: "bob", Resource: rt, Name: name, Pattern: acl.Literal, Operation: acl.Describe, Permission: acl.Allow}
	}
	if err := n.s.ACL.Create(context.Background(), []acl.Rule{rule(acl.Topic, "*")}); err != nil {
		t.Fatal(err)
	}
	if _, err := clusterStatus(t, n.httpClient("bob", "bob-pw"), n.url); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("bob with describe on topics only: %v, want PermissionDenied", err)
	}
	if err := n.s.ACL.Create(context.Background(), []acl.Rule{rule(acl.Cluster, acl.ClusterName)}); err != nil {
		t.Fatal(err)
	}
	if _, err := clusterStatus(t, n.httpClient("bob", "bob-pw"), n.url); err != nil {
		t.Fatalf("bob with describe on the cluster: %v", err)
	}
}

type fakeSharedLog []clusterstatus.Partition

func (f fakeSharedLog) PartitionStatus(context.Context) ([]clusterstatus.Partition, error) {
	return f, nil
}

// With the shared log's hook set (as its wiring does), the status carries
// its numbers, object counts included, on a node without topic data too.
func TestClusterStatusSharedLogHook(t *testing.T) {
	meta := pgtest.DB(t)
	a, _ := startClusterNode(t, meta, "a")
	b, urlB := startClusterNode(t, meta, "b")
	if _, err := a.Broker.CreateTopic(context.Background(), "orders", 2, nil); err != nil {
		t.Fatal(err)
	}
	b.cluster.sharedLog = fakeSharedLog{
		{Topic: "orders", Partition: 0, HasOffsets: true, HighWatermark: 120, LogStartOffset: 20, HasObjectCount: true, ObjectCount: 4},
		{Topic: "orders", Partition: 1, HasOffsets: true, HighWatermark: 0, HasObjectCount: true, ObjectCount: 0},
	}
	st, err := clusterStatus(t, http.DefaultClient, urlB)
	if err != nil {
		t.Fatal(err)
	}
	if !st.SharedLog.GetEnabled() || len(st.Partitions) != 2 {
		t.Fatalf("status = %v", st)
	}
	p0, p1 := st.Partitions[0], st.Partitions[1]
	if p0.GetHighWatermark() != 120 || p0.GetLogStartOffset() != 20 || p0.GetObjectCount() != 4 || p1.ObjectCount == nil || p1.GetObjectCount() != 0 {
		t.Fatalf("partitions = %v", st.Partitions)
	}
}
