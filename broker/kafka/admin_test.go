package kafka_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

func sp(s string) *string { return &s }

func TestCreateTopics(t *testing.T) {
	addr, _, srv := startServer(t)
	adm := newAdmin(t, addr)
	ctx := testCtx(t)

	res, err := adm.CreateTopics(ctx, 3, -1, map[string]*string{
		"cleanup.policy":      sp("compact"),
		"min.insync.replicas": sp("2"), // meaningless on one node: echoed and ignored
	}, "connect-configs")
	if err != nil {
		t.Fatal(err)
	}
	r := res["connect-configs"]
	ti, derr := srv.Broker.DescribeTopic("connect-configs")
	if r.Err != nil || derr != nil {
		t.Fatalf("create: %v (%s); describe: %v", r.Err, r.ErrMessage, derr)
	}
	if r.ID != kadm.TopicID(ti.ID) || r.NumPartitions != 3 || r.ReplicationFactor != 1 || len(ti.Partitions) != 3 {
		t.Fatalf("response %+v; topic %+v", r, ti)
	}
	if v := r.Configs["cleanup.policy"]; v.Value == nil || *v.Value != "compact" || v.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Fatalf("returned cleanup.policy %+v", v)
	}
	if _, ok := ti.Config.Overrides["min.insync.replicas"]; ok || !ti.Config.Compact {
		t.Fatalf("overrides %v", ti.Config.Overrides)
	}

	for _, tc := range []struct {
		name       string
		partitions int32
		rf         int16
		configs    map[string]*string
		topic      string
		want       *kerr.Error
		msg        string
	}{
		{"exists", 1, 1, nil, "connect-configs", kerr.TopicAlreadyExists, "already exists"},
		{"replication factor", 1, 3, nil, "rf3", kerr.InvalidReplicationFactor, "Sluice is one node"},
		{"zero partitions", 0, 1, nil, "p0", kerr.InvalidPartitions, "want 1 to 1024"},
		{"too many partitions", 5000, 1, nil, "p5000", kerr.InvalidPartitions, "want 1 to 1024"},
		{"bad name", 1, 1, nil, "bad/name", kerr.InvalidTopicException, "not allowed"},
		{"unknown key", 1, 1, map[string]*string{"no.such.key": sp("1")}, "k1", kerr.InvalidConfig, `"no.such.key": unknown key`},
		{"bad value", 1, 1, map[string]*string{"retention.ms": sp("soon")}, "k2", kerr.InvalidConfig, "retention.ms"},
		{"null value", 1, 1, map[string]*string{"retention.ms": nil}, "k3", kerr.InvalidConfig, "null value"},
		{"compression", 1, 1, map[string]*string{"compression.type": sp("gzip")}, "k4", kerr.InvalidConfig, "uncompressed"},
		{"bad ignored value", 1, 1, map[string]*string{"min.insync.replicas": sp("0")}, "k5", kerr.InvalidConfig, "min.insync.replicas"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := adm.CreateTopics(ctx, tc.partitions, tc.rf, tc.configs, tc.topic)
			if err != nil {
				t.Fatal(err)
			}
			r := res[tc.topic]
			if !errors.Is(r.Err, tc.want) || !strings.Contains(r.ErrMessage, tc.msg) {
				t.Fatalf("got %v %q; want %v with %q", r.Err, r.ErrMessage, tc.want, tc.msg)
			}
			if tc.name != "exists" {
				if _, err := srv.Broker.DescribeTopic(tc.topic); err == nil {
					t.Fatal("the refused topic exists")
				}
			}
		})
	}

	// validate_only checks without creating.
	vres, err := adm.ValidateCreateTopics(ctx, 2, 1, map[string]*string{"retention.ms": sp("60000")}, "dry")
	if err != nil || vres["dry"].Err != nil {
		t.Fatalf("validate: %v %+v", err, vres["dry"])
	}
	if v := vres["dry"].Configs["retention.ms"]; v.Value == nil || *v.Value != "60000" {
		t.Fatalf("validate_only configs: %+v", v)
	}
	if _, err := srv.Broker.DescribeTopic("dry"); err == nil {
		t.Fatal("validate_only created the topic")
	}
	vres, _ = adm.ValidateCreateTopics(ctx, 2, 1, map[string]*string{"retention.ms": sp("x")}, "dry")
	if !errors.Is(vres["dry"].Err, kerr.InvalidConfig) {
		t.Fatalf("validate_only bad config: %+v", vres["dry"])
	}
}

func TestDeleteTopics(t *testing.T) {
	addr, _, srv := startServer(t)
	adm := newAdmin(t, addr)
	ctx := testCtx(t)
	createTopicCore(t, srv, "a", 1, nil)
	b := createTopicCore(t, srv, "b", 1, nil)
	res, err := adm.DeleteTopics(ctx, "a", "missing")
	if err != nil {
		t.Fatal(err)
	}
	if res["a"].Err != nil || !errors.Is(res["missing"].Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("delete by name: %+v", res)
	}
	if _, err := srv.Broker.DescribeTopic("a"); !errors.Is(err, broker.ErrTopicNotFound) {
		t.Fatalf("a still exists: %v", err)
	}
	// By id (v6).
	cl := newClient(t, addr)
	req := kmsg.NewPtrDeleteTopicsRequest()
	for _, id := range [][16]byte{b.ID, {1, 2, 3}} {
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.TopicID = id
		req.Topics = append(req.Topics, rt)
	}
	resp := rawRequest[*kmsg.DeleteTopicsResponse](t, cl, req)
	if len(resp.Topics) != 2 || resp.Topics[0].ErrorCode != 0 || resp.Topics[0].Topic == nil || *resp.Topics[0].Topic != "b" ||
		resp.Topics[1].ErrorCode != kerr.UnknownTopicID.Code {
		t.Fatalf("delete by id: %+v", resp.Topics)
	}
	if _, err := srv.Broker.DescribeTopic("b"); err == nil {
		t.Fatal("b still exists")
	}
}

func TestCreatePartitionsOverKafka(t *testing.T) {
	addr, _, srv := startServer(t)
	adm := newAdmin(t, addr)
	ctx := testCtx(t)
	createTopicCore(t, srv, "grow", 2, nil)
	res, err := adm.UpdatePartitions(ctx, 4, "grow")
	if err != nil || res["grow"].Err != nil {
		t.Fatalf("grow to 4: %v %+v", err, res)
	}
	md, err := adm.Metadata(ctx, "grow")
	if err != nil || len(md.Topics["grow"].Partitions) != 4 {
		t.Fatalf("metadata after growth: %v %+v", err, md.Topics["grow"])
	}
	res, _ = adm.UpdatePartitions(ctx, 3, "grow")
	if !errors.Is(res["grow"].Err, kerr.InvalidPartitions) || !strings.Contains(res["grow"].ErrMessage, "must be more") {
		t.Fatalf("shrink: %+v", res["grow"])
	}
	res, _ = adm.UpdatePartitions(ctx, 3, "missing")
	if !errors.Is(res["missing"].Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("missing: %+v", res["missing"])
	}
	// validate_only and a bad assignment, raw.
	cl := newClient(t, addr)
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.ValidateOnly = true
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = "grow", 6
	req.Topics = append(req.Topics, rt)
	resp := rawRequest[*kmsg.CreatePartitionsResponse](t, cl, req)
	if resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("validate_only: %+v", resp.Topics[0])
	}
	if ti, _ := srv.Broker.DescribeTopic("grow"); len(ti.Partitions) != 4 {
		t.Fatalf("validate_only changed the count to %d", len(ti.Partitions))
	}
	req.ValidateOnly = false
	req.Topics[0].Assignment = []kmsg.CreatePartitionsRequestTopicAssignment{{Replicas: []int32{0}}, {Replicas: []int32{1}}}
	resp = rawRequest[*kmsg.CreatePartitionsResponse](t, cl, req)
	if resp.Topics[0].ErrorCode != kerr.InvalidReplicaAssignment.Code {
		t.Fatalf("assignment on node 1: %+v", resp.Topics[0])
	}
}

func TestDescribeAndAlterConfigs(t *testing.T) {
	addr, _, srv := startServer(t)
	adm := newAdmin(t, addr)
	ctx := testCtx(t)
	createTopicCore(t, srv, "cfg", 1, map[string]string{"retention.ms": "60000"})

	value := func(rc kadm.ResourceConfigs, key string) (kadm.Config, bool) {
		for _, r := range rc {
			for _, c := range r.Configs {
				if c.Key == key {
					return c, true
				}
			}
		}
		return kadm.Config{}, false
	}
	rc, err := adm.DescribeTopicConfigs(ctx, "cfg")
	if err != nil || rc[0].Err != nil {
		t.Fatalf("describe: %v %+v", err, rc)
	}
	if c, ok := value(rc, "retention.ms"); !ok || *c.Value != "60000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig || len(c.Synonyms) != 2 {
		t.Fatalf("retention.ms %+v", c)
	}
	if c, ok := value(rc, "cleanup.policy"); !ok || *c.Value != "delete" || c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("cleanup.policy %+v", c)
	}
	if c, ok := value(rc, "min.insync.replicas"); !ok || *c.Value != "1" {
		t.Fatalf("min.insync.replicas %+v", c)
	}
	bc, err := adm.DescribeBrokerConfigs(ctx, 0)
	if err != nil || bc[0].Err != nil {
		t.Fatalf("broker configs: %v %+v", err, bc)
	}
	if c, ok := value(bc, "auto.create.topics.enable"); !ok || *c.Value != "false" || c.Source != kmsg.ConfigSourceStaticBrokerConfig {
		t.Fatalf("auto.create.topics.enable %+v", c)
	}
	if rc, _ := adm.DescribeTopicConfigs(ctx, "missing"); len(rc) != 1 || !errors.Is(rc[0].Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("missing topic: %+v", rc)
	}

	// Incremental: set, delete; an ignored key passes.
	ar, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "segment.ms", Value: sp("3600000")},
		{Op: kadm.SetConfig, Name: "cleanup.policy", Value: sp("compact")},
		{Op: kadm.DeleteConfig, Name: "retention.ms"},
		{Op: kadm.SetConfig, Name: "unclean.leader.election.enable", Value: sp("true")},
	}, "cfg")
	if err != nil || ar[0].Err != nil {
		t.Fatalf("incremental alter: %v %+v", err, ar)
	}
	ti, _ := srv.Broker.DescribeTopic("cfg")
	want := map[string]string{"segment.ms": "3600000", "cleanup.policy": "compact"}
	if len(ti.Config.Overrides) != 2 || ti.Config.Overrides["segment.ms"] != want["segment.ms"] || !ti.Config.Compact {
		t.Fatalf("overrides after incremental alter: %v, want %v", ti.Config.Overrides, want)
	}
	ar, _ = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.AppendConfig, Name: "segment.ms", Value: sp("1")}}, "cfg")
	if !errors.Is(ar[0].Err, kerr.InvalidConfig) || !strings.Contains(ar[0].ErrMessage, "list configs only") {
		t.Fatalf("append to a non-list: %+v", ar[0])
	}
	// cleanup.policy is a list: appending delete to compact gives
	// compact,delete, subtracting compact from that leaves delete, and
	// subtracting the last policy is refused with the reason.
	for _, step := range []struct {
		op    kadm.IncrementalOp
		value string
		want  string
	}{{kadm.AppendConfig, "delete", "compact,delete"}, {kadm.SubtractConfig, "compact", "delete"}, {kadm.AppendConfig, "compact", "compact,delete"}} {
		ar, _ = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: step.op, Name: "cleanup.policy", Value: sp(step.value)}}, "cfg")
		if ar[0].Err != nil {
			t.Fatalf("%v %s to cleanup.policy: %+v", step.op, step.value, ar[0])
		}
		if ti, _ := srv.Broker.DescribeTopic("cfg"); ti.Config.Effective["cleanup.policy"] != step.want || !ti.Config.Compact != (step.want == "delete") {
			t.Fatalf("%v %s: cleanup.policy %q (compact %v), want %q", step.op, step.value, ti.Config.Effective["cleanup.policy"], ti.Config.Compact, step.want)
		}
	}
	ar, _ = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SubtractConfig, Name: "cleanup.policy", Value: sp("compact,delete")}}, "cfg")
	if !errors.Is(ar[0].Err, kerr.InvalidConfig) || !strings.Contains(ar[0].ErrMessage, "cleanup.policy") {
		t.Fatalf("subtracting every policy: %+v", ar[0])
	}
	ar, _ = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "cleanup.policy", Value: sp("compact")}}, "cfg")
	if ar[0].Err != nil {
		t.Fatalf("set cleanup.policy back to compact: %+v", ar[0])
	}
	ar, _ = adm.ValidateAlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "segment.ms", Value: sp("5000")}}, "cfg")
	if ar[0].Err != nil {
		t.Fatalf("validate-only alter: %+v", ar[0])
	}
	if ti, _ := srv.Broker.DescribeTopic("cfg"); ti.Config.Overrides["segment.ms"] != "3600000" {
		t.Fatal("validate-only alter changed the topic")
	}

	// Legacy AlterConfigs replaces every override.
	ar, err = adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "retention.bytes", Value: sp("1048576")}}, "cfg")
	if err != nil || ar[0].Err != nil {
		t.Fatalf("state alter: %v %+v", err, ar)
	}
	ti, _ = srv.Broker.DescribeTopic("cfg")
	if len(ti.Config.Overrides) != 1 || ti.Config.Overrides["retention.bytes"] != "1048576" {
		t.Fatalf("overrides after state alter: %v", ti.Config.Overrides)
	}
	ar, _ = adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "retention.bytes", Value: sp("zero")}}, "cfg")
	if !errors.Is(ar[0].Err, kerr.InvalidConfig) || !strings.Contains(ar[0].ErrMessage, "retention.bytes") {
		t.Fatalf("state alter bad value: %+v", ar[0])
	}
	// Broker configs are read-only.
	br, _ := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "num.partitions", Value: sp("3")}}, 0)
	if len(br) != 1 || !errors.Is(br[0].Err, kerr.InvalidRequest) {
		t.Fatalf("broker alter: %+v", br)
	}
}

// TestTopicIDsSurviveRestart: ids and the cluster id seen over Kafka are the
// same after a restart on the same data directory.
func TestTopicIDsSurviveRestart(t *testing.T) {
	n := startNode(t)
	adm := newAdmin(t, n.Addr)
	if _, err := adm.CreateTopics(testCtx(t), 2, 1, nil, "keep"); err != nil {
		t.Fatal(err)
	}
	md1, err := adm.Metadata(testCtx(t), "keep")
	if err != nil {
		t.Fatal(err)
	}
	n.Stop()
	n2 := startNode(t, withDataDir(n.Dir))
	md2, err := newAdmin(t, n2.Addr).Metadata(testCtx(t), "keep")
	if err != nil {
		t.Fatal(err)
	}
	if md1.Cluster != md2.Cluster || md1.Topics["keep"].ID != md2.Topics["keep"].ID || md2.Topics["keep"].ID == (kadm.TopicID{}) {
		t.Fatalf("before restart cluster %s topic %s; after %s %s", md1.Cluster, md1.Topics["keep"].ID, md2.Cluster, md2.Topics["keep"].ID)
	}
}

// TestConnectBootstrapAdmin emulates what a Kafka Connect worker asks of the
// cluster before it starts: the cluster id (DescribeCluster), its three
// compacted internal topics with replication factor 1 (config 1 partition,
// offsets 25, status 5; -1 for the defaults as the Java AdminClient sends),
// then DescribeConfigs to verify cleanup.policy=compact only; then a Kafka
// Streams windowed changelog, cleanup.policy=compact,delete.
func TestConnectBootstrapAdmin(t *testing.T) {
	addr, _, srv := startServer(t)
	adm := newAdmin(t, addr)
	ctx := testCtx(t)
	cl := newClient(t, addr)
	dc, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, cl)
	if err != nil || dc.ClusterID != srv.Broker.ClusterID() {
		t.Fatalf("cluster id: %v %+v", err, dc)
	}
	for _, tc := range []struct {
		topic      string
		partitions int32
	}{{"connect-configs", 1}, {"connect-offsets", 25}, {"connect-status", 5}, {"connect-defaults", -1}} {
		res, err := adm.CreateTopics(ctx, tc.partitions, -1, map[string]*string{"cleanup.policy": sp("compact")}, tc.topic)
		if err != nil || res[tc.topic].Err != nil {
			t.Fatalf("create %s: %v %+v", tc.topic, err, res[tc.topic])
		}
		want := max(tc.partitions, 1)
		if got := res[tc.topic].NumPartitions; got != want {
			t.Fatalf("%s: %d partitions, want %d", tc.topic, got, want)
		}
	}
	rc, err := adm.DescribeTopicConfigs(ctx, "connect-configs", "connect-offsets", "connect-status")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rc {
		found := false
		for _, c := range r.Configs {
			if c.Key == "cleanup.policy" {
				found = c.MaybeValue() == "compact"
			}
		}
		if r.Err != nil || !found {
			t.Fatalf("%s: cleanup.policy is not compact: %+v", r.Name, r)
		}
	}
	// A Kafka Streams windowed store's changelog: compacted, with retention.
	res, _ := adm.CreateTopics(ctx, 1, 1, map[string]*string{"cleanup.policy": sp("compact,delete"), "retention.ms": sp("86400000")}, "streams-changelog")
	if r := res["streams-changelog"]; r.Err != nil {
		t.Fatalf("create a compact,delete topic: %+v", r)
	}
	rc, err = adm.DescribeTopicConfigs(ctx, "streams-changelog")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := rc.On("streams-changelog", nil); err != nil || !slices.ContainsFunc(v.Configs, func(c kadm.Config) bool { return c.Key == "cleanup.policy" && c.MaybeValue() == "compact,delete" }) {
		t.Fatalf("streams-changelog configs: %+v, %v", v, err)
	}
}
