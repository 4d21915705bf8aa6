package kafka_test

import (
	"fmt"
	"net"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/server"
)

// createTopicCore creates a topic through the broker core.
func createTopicCore(t testing.TB, srv *server.Server, name string, partitions int, configs map[string]string) broker.TopicInfo {
	t.Helper()
	ti, err := srv.Broker.CreateTopic(testCtx(t), name, partitions, configs)
	if err != nil {
		t.Fatal(err)
	}
	return ti
}

func TestMetadataThroughKadm(t *testing.T) {
	addr, _, srv := startServer(t)
	created := createTopicCore(t, srv, "orders", 3, nil)
	adm := newAdmin(t, addr)
	md, err := adm.Metadata(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(addr)
	if len(md.Brokers) != 1 || md.Brokers[0].NodeID != 0 || md.Brokers[0].Host != host || strconv.Itoa(int(md.Brokers[0].Port)) != port {
		t.Fatalf("brokers %+v, want node 0 at %s", md.Brokers, addr)
	}
	if md.Controller != 0 || md.Cluster != srv.Broker.ClusterID() || len(md.Cluster) != 22 {
		t.Fatalf("controller %d cluster %q, want 0 and %q", md.Controller, md.Cluster, srv.Broker.ClusterID())
	}
	td, ok := md.Topics["orders"]
	if !ok || td.Err != nil {
		t.Fatalf("topic orders: %+v", td)
	}
	if td.ID != [16]byte(created.ID) || td.IsInternal || len(td.Partitions) != 3 {
		t.Fatalf("topic %+v, want id %s and 3 partitions", td, created.ID)
	}
	for p, pd := range td.Partitions {
		if pd.Leader != 0 || pd.LeaderEpoch != 0 || fmt.Sprint(pd.Replicas) != "[0]" || fmt.Sprint(pd.ISR) != "[0]" || pd.Err != nil {
			t.Fatalf("partition %d: %+v", p, pd)
		}
	}
}

// TestMetadataAutoCreate: off by default, a missing topic is
// UNKNOWN_TOPIC_OR_PARTITION even when the client allows auto-creation; with
// --kafka-auto-create-topics it is created when the client allows it.
func TestMetadataAutoCreate(t *testing.T) {
	for _, tc := range []struct {
		server, client bool
		want           int16
	}{
		{false, true, kerr.UnknownTopicOrPartition.Code},
		{true, false, kerr.UnknownTopicOrPartition.Code},
		{true, true, 0},
	} {
		t.Run(fmt.Sprintf("server=%v,client=%v", tc.server, tc.client), func(t *testing.T) {
			var opts []nodeOption
			if tc.server {
				opts = append(opts, withAutoCreate())
			}
			addr, _, srv := startServer(t, opts...)
			cl := newClient(t, addr)
			req := kmsg.NewPtrMetadataRequest()
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr("auto")
			req.Topics = append(req.Topics, rt)
			req.AllowAutoTopicCreation = tc.client
			resp, err := req.RequestWith(testCtx(t), cl)
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != tc.want {
				t.Fatalf("topics %+v, want error %d", resp.Topics, tc.want)
			}
			_, err = srv.Broker.DescribeTopic("auto")
			if exists := err == nil; exists != (tc.want == 0) {
				t.Fatalf("topic exists = %v", exists)
			}
			if tc.want == 0 && len(resp.Topics[0].Partitions) != 1 {
				t.Fatalf("auto-created topic has %d partitions, want 1", len(resp.Topics[0].Partitions))
			}
		})
	}
}

func TestFindCoordinatorAndDescribeCluster(t *testing.T) {
	addr, _, srv := startServer(t)
	adm := newAdmin(t, addr)
	host, port, _ := net.SplitHostPort(addr)
	gc := adm.FindGroupCoordinators(testCtx(t), "g1", "g2")
	for _, g := range []string{"g1", "g2"} {
		c := gc[g]
		if c.Err != nil || c.NodeID != 0 || c.Host != host || strconv.Itoa(int(c.Port)) != port {
			t.Fatalf("coordinator of %s: %+v", g, c)
		}
	}
	tc := adm.FindTxnCoordinators(testCtx(t), "tx")
	if tc["tx"].Err != nil || tc["tx"].NodeID != 0 {
		t.Fatalf("transaction coordinator: %+v", tc)
	}

	cl := newClient(t, addr)
	req := kmsg.NewPtrDescribeClusterRequest()
	req.IncludeClusterAuthorizedOperations = true
	resp, err := req.RequestWith(testCtx(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != 0 || resp.ClusterID != srv.Broker.ClusterID() || resp.ControllerID != 0 || len(resp.Brokers) != 1 ||
		resp.Brokers[0].Host != host || strconv.Itoa(int(resp.Brokers[0].Port)) != port || resp.EndpointType != 1 {
		t.Fatalf("DescribeCluster: %+v", resp)
	}
	if resp.ClusterAuthorizedOperations <= 0 {
		t.Fatalf("authorized operations %d", resp.ClusterAuthorizedOperations)
	}
}
