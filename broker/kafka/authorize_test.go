package kafka

import (
	"context"
	"fmt"
	"net"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/acl"
	"github.com/sluicehq/sluice/auth"
)

// TestEveryAPIHasAnACLGuard: a new API cannot slip past the checks: each
// registered key has a guard or is listed open (guarded refuses the rest).
func TestEveryAPIHasAnACLGuard(t *testing.T) {
	for key := range handlers {
		k := kmsg.Key(key)
		if k == kmsg.DescribeQuorum { // registered by stage_test.go only
			continue
		}
		if !aclOpen[k] && aclGuards[k] == nil {
			t.Errorf("%s has no ACL guard and is not listed open (authorize.go)", k.Name())
		}
	}
}

// aclNode is a listener whose ACLs are enforced, and connections to it as
// a principal (the context an authenticated connection carries).
type aclNode struct {
	t    *testing.T
	s    *Server
	addr string
	a    *acl.Authorizer
}

func newACLNode(t *testing.T, enforce bool) *aclNode {
	t.Helper()
	a, err := acl.New(context.Background(), acl.Config{Store: &acl.MemoryStore{}, Enforce: enforce})
	if err != nil {
		t.Fatal(err)
	}
	s, addr := newTestServer(t, Config{ACL: a})
	return &aclNode{t: t, s: s, addr: addr, a: a}
}

func (n *aclNode) allow(principal string, rt acl.ResourceType, name string, ops ...acl.Operation) {
	n.t.Helper()
	for _, op := range ops {
		if err := n.a.Create(context.Background(), []acl.Rule{{Principal: principal, Resource: rt, Name: name, Pattern: acl.Literal, Operation: op, Permission: acl.Allow}}); err != nil {
			n.t.Fatal(err)
		}
	}
}

// as returns a connection authenticated as name (not over the network: its
// requests go straight to the registered handlers).
func (n *aclNode) as(name string) *Conn { return n.asTB(n.t, name) }

func (n *aclNode) asTB(tb testing.TB, name string) *Conn {
	tb.Helper()
	local, remote := net.Pipe()
	tb.Cleanup(func() { local.Close(); remote.Close() })
	c := newConn(n.s, local)
	c.ctx = auth.NewContext(c.ctx, auth.Principal{Name: name, Method: "sasl-plain"})
	return c
}

// call runs req through key's registration (guard and handler) on c and
// waits for its response.
func call(t *testing.T, c *Conn, req kmsg.Request) kmsg.Response {
	t.Helper()
	reg, ok := lookup(req.Key(), req.GetVersion())
	if !ok {
		t.Fatalf("%s v%d not registered", kmsg.NameForKey(req.Key()), req.GetVersion())
	}
	c.cur = &pending{}
	resp, wait, err := reg.h(c, req)
	if err != nil {
		t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	if wait != nil {
		resp = wait()
	}
	return resp
}

func TestACLProduce(t *testing.T) {
	n := newACLNode(t, true)
	createTopic(t, n.s, "orders", 1, nil)
	createTopic(t, n.s, "secret", 1, nil)
	n.allow("alice", acl.Topic, "orders", acl.Write)
	alice := n.as("alice")
	batch := testBatch(t, numberedRecords(3), batchOpts{})

	// One request, two topics: the permitted one is written, the other
	// answers TOPIC_AUTHORIZATION_FAILED and writes nothing.
	req := produceReq(9, -1, "orders", map[int32][]byte{0: batch})
	req.Topics = append(req.Topics, produceReq(9, -1, "secret", map[int32][]byte{0: batch}).Topics...)
	resp := call(t, alice, req).(*kmsg.ProduceResponse)
	codes := map[string]int16{}
	for _, rt := range resp.Topics {
		codes[rt.Topic] = rt.Partitions[0].ErrorCode
	}
	if codes["orders"] != 0 || codes["secret"] != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("codes %v, want orders 0 and secret 29", codes)
	}
	if hwm(t, n.s, "orders", 0) != 3 || hwm(t, n.s, "secret", 0) != 0 {
		t.Fatalf("hwm orders %d secret %d, want 3 and 0", hwm(t, n.s, "orders", 0), hwm(t, n.s, "secret", 0))
	}

	// bob has nothing; anonymous neither.
	for _, c := range []*Conn{n.as("bob"), newConn(n.s, alice.nc)} {
		resp = call(t, c, produceReq(9, -1, "orders", map[int32][]byte{0: testBatch(t, numberedRecords(1), batchOpts{})})).(*kmsg.ProduceResponse)
		if len(resp.Topics) != 1 || resp.Topics[0].Partitions[0].ErrorCode != kerr.TopicAuthorizationFailed.Code {
			t.Fatalf("refused produce answered %+v", resp.Topics)
		}
	}
	if got := hwm(t, n.s, "orders", 0); got != 3 {
		t.Fatalf("hwm after refusals %d, want 3", got)
	}

	// A transactional produce needs write on the id too.
	req = produceReq(9, -1, "orders", map[int32][]byte{0: batch})
	id := "tx-1"
	req.TransactionID = &id
	resp = call(t, alice, req).(*kmsg.ProduceResponse)
	if c := resp.Topics[0].Partitions[0].ErrorCode; c != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("transactional produce without the id: code %d, want 53", c)
	}
	// acks=0 refused: the connection is closed (error from the guard).
	req = produceReq(9, 0, "secret", map[int32][]byte{0: batch})
	reg, _ := lookup(req.Key(), req.Version)
	if _, _, err := reg.h(alice, req); err == nil {
		t.Fatal("acks=0 refused produce did not close the connection")
	}
}

func TestACLFetchAndMetadata(t *testing.T) {
	n := newACLNode(t, true)
	createTopic(t, n.s, "orders", 1, nil)
	createTopic(t, n.s, "secret", 1, nil)
	createTopic(t, n.s, "listed", 1, nil)
	root := n.as("root")
	root.ctx = auth.NewContext(context.Background(), auth.Principal{Name: "root", Superuser: true})
	call(t, root, produceReq(9, -1, "secret", map[int32][]byte{0: testBatch(t, numberedRecords(2), batchOpts{})}))
	call(t, root, produceReq(9, -1, "orders", map[int32][]byte{0: testBatch(t, numberedRecords(2), batchOpts{})}))
	n.allow("alice", acl.Topic, "orders", acl.Read)
	n.allow("alice", acl.Topic, "listed", acl.Describe)
	alice := n.as("alice")

	for _, v := range []int16{12, 13} {
		req := fetchReq(v, "orders", map[int32]int64{0: 0}, 1<<20, 1<<20)
		req.Topics = append(req.Topics, fetchReq(v, "secret", map[int32]int64{0: 0}, 1<<20, 1<<20).Topics...)
		if v >= 13 {
			ids := n.s.Broker().TopicIDs()
			req.Topics[0].TopicID, req.Topics[1].TopicID = ids["orders"], ids["secret"]
		}
		resp := fetchResponse(call(t, alice, req))
		if len(resp.Topics) != 2 {
			t.Fatalf("v%d: %d topics answered", v, len(resp.Topics))
		}
		for _, rt := range resp.Topics {
			p := rt.Partitions[0]
			secret := rt.Topic == "secret" || rt.TopicID == n.s.Broker().TopicIDs()["secret"]
			switch {
			case secret && (p.ErrorCode != kerr.TopicAuthorizationFailed.Code || len(p.RecordBatches) != 0):
				t.Fatalf("v%d secret: code %d, %d bytes", v, p.ErrorCode, len(p.RecordBatches))
			case !secret && (p.ErrorCode != 0 || len(p.RecordBatches) == 0):
				t.Fatalf("v%d orders: code %d, %d bytes", v, p.ErrorCode, len(p.RecordBatches))
			}
		}
	}

	// Metadata for all topics lists only the describable ones.
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	resp := call(t, alice, md).(*kmsg.MetadataResponse)
	var names []string
	for _, t := range resp.Topics {
		names = append(names, *t.Topic)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"listed", "orders"}) {
		t.Fatalf("metadata for all topics lists %v, want [listed orders]", names)
	}
	// The authorized operations are alice's: describe on listed (and
	// describe_configs), read and describe on orders.
	md.IncludeTopicAuthorizedOperations = true
	resp = call(t, alice, md).(*kmsg.MetadataResponse)
	for _, rt := range resp.Topics {
		want := opBits(kmsg.ACLOperationDescribe, kmsg.ACLOperationDescribeConfigs)
		if *rt.Topic == "orders" {
			want |= opBits(kmsg.ACLOperationRead)
		}
		if rt.AuthorizedOperations != want {
			t.Fatalf("%s: authorized operations %b, want %b", *rt.Topic, rt.AuthorizedOperations, want)
		}
	}
	md.IncludeTopicAuthorizedOperations = false
	// Asked by name, a refused topic answers 29 with no partitions.
	md.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("secret")}, {Topic: kmsg.StringPtr("orders")}}
	resp = call(t, alice, md).(*kmsg.MetadataResponse)
	for _, rt := range resp.Topics {
		switch *rt.Topic {
		case "secret":
			if rt.ErrorCode != kerr.TopicAuthorizationFailed.Code || len(rt.Partitions) != 0 || rt.TopicID != [16]byte{} {
				t.Fatalf("secret by name: %+v", rt)
			}
		case "orders":
			if rt.ErrorCode != 0 || len(rt.Partitions) != 1 {
				t.Fatalf("orders by name: %+v", rt)
			}
		}
	}
}

func TestACLGroups(t *testing.T) {
	n := newACLNode(t, true)
	createTopic(t, n.s, "orders", 1, nil)
	alice := n.as("alice")
	join := kmsg.NewPtrJoinGroupRequest()
	join.Version, join.Group, join.SessionTimeoutMillis, join.ProtocolType = 9, "app", 10000, "consumer"
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
	if r := call(t, alice, join).(*kmsg.JoinGroupResponse); r.ErrorCode != kerr.GroupAuthorizationFailed.Code {
		t.Fatalf("join without read on the group: code %d", r.ErrorCode)
	}
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Version, commit.Group, commit.Generation = 8, "app", -1
	commit.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "orders", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 0}}}}
	if r := call(t, alice, commit).(*kmsg.OffsetCommitResponse); r.Topics[0].Partitions[0].ErrorCode != kerr.GroupAuthorizationFailed.Code {
		t.Fatalf("commit without read on the group: %+v", r.Topics)
	}
	n.allow("alice", acl.Group, "app", acl.Read)
	if r := call(t, alice, commit).(*kmsg.OffsetCommitResponse); r.Topics[0].Partitions[0].ErrorCode != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("commit without read on the topic: %+v", r.Topics)
	}
	n.allow("alice", acl.Topic, "orders", acl.Read)
	if r := call(t, alice, commit).(*kmsg.OffsetCommitResponse); r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("commit allowed: %+v", r.Topics)
	}
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Version, del.Groups = 2, []string{"app"}
	if r := call(t, alice, del).(*kmsg.DeleteGroupsResponse); r.Groups[0].ErrorCode != kerr.GroupAuthorizationFailed.Code {
		t.Fatalf("delete without delete on the group: %+v", r.Groups)
	}
	lg := kmsg.NewPtrListGroupsRequest()
	lg.Version = 4
	if r := call(t, n.as("bob"), lg).(*kmsg.ListGroupsResponse); len(r.Groups) != 0 {
		t.Fatalf("bob lists %+v", r.Groups)
	}
	if r := call(t, alice, lg).(*kmsg.ListGroupsResponse); len(r.Groups) != 1 {
		t.Fatalf("alice lists %+v", r.Groups)
	}
}

func TestACLTopicAdmin(t *testing.T) {
	n := newACLNode(t, true)
	alice := n.as("alice")
	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.Version = 7
	ct.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "orders", NumPartitions: 1, ReplicationFactor: 1}, {Topic: "other", NumPartitions: 1, ReplicationFactor: 1}}
	n.allow("alice", acl.Topic, "orders", acl.Create)
	r := call(t, alice, ct).(*kmsg.CreateTopicsResponse)
	codes := map[string]int16{}
	for _, rt := range r.Topics {
		codes[rt.Topic] = rt.ErrorCode
	}
	if codes["orders"] != 0 || codes["other"] != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("create codes %v", codes)
	}
	if _, err := n.s.Broker().DescribeTopic("other"); err == nil {
		t.Fatal("refused topic was created")
	}
	dt := kmsg.NewPtrDeleteTopicsRequest()
	dt.Version, dt.TopicNames = 5, []string{"orders"}
	if r := call(t, alice, dt).(*kmsg.DeleteTopicsResponse); r.Topics[0].ErrorCode != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("delete refused: %+v", r.Topics)
	}
	ac := kmsg.NewPtrIncrementalAlterConfigsRequest()
	ac.Version = 1
	ac.Resources = []kmsg.IncrementalAlterConfigsRequestResource{
		{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "orders", Configs: []kmsg.IncrementalAlterConfigsRequestResourceConfig{{Name: "retention.ms", Value: kmsg.StringPtr("1000")}}},
		{ResourceType: kmsg.ConfigResourceTypeBroker, ResourceName: "0"},
	}
	rr := call(t, alice, ac).(*kmsg.IncrementalAlterConfigsResponse)
	for _, res := range rr.Resources {
		want := kerr.TopicAuthorizationFailed.Code
		if res.ResourceType == kmsg.ConfigResourceTypeBroker {
			want = kerr.ClusterAuthorizationFailed.Code
		}
		if res.ErrorCode != want {
			t.Fatalf("alter configs %s: code %d, want %d", res.ResourceName, res.ErrorCode, want)
		}
	}
}

// TestACLAPIs: kadm's CreateACLs, DescribeACLs and DeleteACLs round trip
// (enforcement off: no principal needed), and a non-User principal or a
// host other than * is refused.
func TestACLAPIs(t *testing.T) {
	n := newACLNode(t, false)
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()

	b := kadm.NewACLs().Allow("User:alice").AllowHosts("*").Topics("orders").ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpWrite, kadm.OpRead)
	res, err := adm.CreateACLs(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("create %s: %v", r.Operation, r.Err)
		}
	}
	got := n.a.Rules(acl.Filter{})
	want := []acl.Rule{
		{Principal: "alice", Resource: acl.Topic, Name: "orders", Pattern: acl.Prefixed, Operation: acl.Read, Permission: acl.Allow},
		{Principal: "alice", Resource: acl.Topic, Name: "orders", Pattern: acl.Prefixed, Operation: acl.Write, Permission: acl.Allow},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("stored %v, want %v", got, want)
	}

	d := kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("orders-eu").ResourcePatternType(kadm.ACLPatternMatch).Operations(kadm.OpAny)
	dres, err := adm.DescribeACLs(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(dres) != 1 || dres[0].Err != nil || len(dres[0].Described) != 2 {
		t.Fatalf("describe: %+v", dres)
	}
	for _, e := range dres[0].Described {
		if e.Principal != "User:alice" || e.Host != "*" || e.Pattern != kadm.ACLPatternPrefixed || e.Name != "orders" {
			t.Fatalf("described %+v", e)
		}
	}

	bad := kadm.NewACLs().Allow("Group:x").AllowHosts("*").Topics("t").Operations(kadm.OpRead)
	res, err = adm.CreateACLs(ctx, bad)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Err == nil {
		t.Fatalf("Group principal accepted: %+v", res)
	}
	host := kadm.NewACLs().Allow("User:x").AllowHosts("10.0.0.1").Topics("t").Operations(kadm.OpRead)
	if res, _ = adm.CreateACLs(ctx, host); len(res) != 1 || res[0].Err == nil {
		t.Fatalf("host 10.0.0.1 accepted: %+v", res)
	}

	del := kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("orders").ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpWrite)
	dl, err := adm.DeleteACLs(ctx, del)
	if err != nil {
		t.Fatal(err)
	}
	if len(dl) != 1 || dl[0].Err != nil || len(dl[0].Deleted) != 1 || dl[0].Deleted[0].Operation != kadm.OpWrite {
		t.Fatalf("delete: %+v", dl)
	}
	if got := n.a.Rules(acl.Filter{}); len(got) != 1 || got[0].Operation != acl.Read {
		t.Fatalf("after delete: %v", got)
	}
}

// TestACLAPIsNeedTheCluster: managing ACLs needs alter on the cluster,
// listing them describe.
func TestACLAPIsNeedTheCluster(t *testing.T) {
	n := newACLNode(t, true)
	alice := n.as("alice")
	create := kmsg.NewPtrCreateACLsRequest()
	create.Version = 3
	create.Creations = []kmsg.CreateACLsRequestCreation{{ResourceType: kmsg.ACLResourceTypeTopic, ResourceName: "t", ResourcePatternType: kmsg.ACLResourcePatternTypeLiteral,
		Principal: "User:alice", Host: "*", Operation: kmsg.ACLOperationAll, PermissionType: kmsg.ACLPermissionTypeAllow}}
	if r := call(t, alice, create).(*kmsg.CreateACLsResponse); r.Results[0].ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("create without alter cluster: %+v", r.Results)
	}
	describe := kmsg.NewPtrDescribeACLsRequest()
	describe.Version, describe.ResourceType, describe.ResourcePatternType, describe.Operation, describe.PermissionType = 3, kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny, kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	if r := call(t, alice, describe).(*kmsg.DescribeACLsResponse); r.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("describe without describe cluster: %d", r.ErrorCode)
	}
	n.allow("alice", acl.Cluster, acl.ClusterName, acl.Alter)
	if r := call(t, alice, create).(*kmsg.CreateACLsResponse); r.Results[0].ErrorCode != 0 {
		t.Fatalf("create with alter cluster: %+v", r.Results)
	}
	if r := call(t, alice, describe).(*kmsg.DescribeACLsResponse); r.ErrorCode != 0 || len(r.Resources) != 2 {
		t.Fatalf("describe with alter cluster (implies describe): %+v", r)
	}
}

func TestSplit(t *testing.T) {
	id := func(s *string) string { return *s }
	for _, tc := range []struct {
		in, keep, denied []string
	}{
		{nil, nil, nil},
		{[]string{"a", "b"}, []string{"a", "b"}, nil},
		{[]string{"x", "a", "y", "b"}, []string{"a", "b"}, []string{"x", "y"}},
		{[]string{"a", "x"}, []string{"a"}, []string{"x"}},
		{[]string{"x"}, nil, []string{"x"}},
	} {
		calls := 0
		keep, denied := split(tc.in, id, func(s string) bool { calls++; return s != "x" && s != "y" })
		if !slices.Equal(keep, tc.keep) || !slices.Equal(denied, tc.denied) || calls != len(tc.in) {
			t.Errorf("split(%v) = %v, %v (%d calls), want %v, %v", tc.in, keep, denied, calls, tc.keep, tc.denied)
		}
	}
}

// TestACLMetadataAutoCreate: with auto-creation on, Metadata creates a
// missing topic only for a principal who may create it, at every version
// (v0-3 always ask for it).
func TestACLMetadataAutoCreate(t *testing.T) {
	a, err := acl.New(context.Background(), acl.Config{Store: &acl.MemoryStore{}, Enforce: true})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := newTestServer(t, Config{ACL: a, AutoCreateTopics: true})
	n := &aclNode{t: t, s: s, a: a}
	createTopic(t, s, "existing", 1, nil) // a v0 request gone empty must not list it
	n.allow("alice", acl.Topic, "*", acl.Describe)
	n.allow("alice", acl.Topic, "made-by-alice", acl.Create)
	alice := n.as("alice")
	for _, v := range []int16{0, 3, 4, 12} {
		name := fmt.Sprintf("nope-v%d", v)
		md := kmsg.NewPtrMetadataRequest()
		md.Version, md.AllowAutoTopicCreation = v, true
		md.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr(name)}}
		resp := call(t, alice, md).(*kmsg.MetadataResponse)
		if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("v%d: %+v, want UNKNOWN_TOPIC_OR_PARTITION", v, resp.Topics)
		}
		if _, err := s.Broker().DescribeTopic(name); err == nil {
			t.Fatalf("v%d: topic %s auto-created without create", v, name)
		}
	}
	md := kmsg.NewPtrMetadataRequest()
	md.Version, md.AllowAutoTopicCreation = 12, true
	md.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("made-by-alice")}}
	if resp := call(t, alice, md).(*kmsg.MetadataResponse); resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("allowed auto-create: code %d", resp.Topics[0].ErrorCode)
	}
}
