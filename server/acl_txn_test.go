package server

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	aclv1 "github.com/sluicehq/sluice/proto/gen/sluice/acl/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/acl/v1/aclv1connect"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// TestACLProduceAndCommit: InitProducer needs Write on the transactional
// id; ProduceAndCommit needs it too, Write on each topic written, Read on
// the group and on each topic whose offset it commits. Bob is refused
// until each rule exists, then allowed.
func TestACLProduceAndCommit(t *testing.T) {
	n := startACLNode(t)
	ctx := context.Background()
	alice := n.httpClient("alice", "alice-pw")
	topics := brokerv1connect.NewTopicServiceClient(alice, n.url)
	for _, name := range []string{"in", "out"} {
		if _, err := topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: name, Partitions: 1})); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := brokerv1connect.NewBrokerServiceClient(alice, n.url).Produce(ctx, connect.NewRequest(&brokerv1.ProduceRequest{Topic: "in", Records: []*brokerv1.ProduceRecord{{Value: []byte("a")}}})); err != nil {
		t.Fatal(err)
	}
	acls := aclv1connect.NewAclServiceClient(alice, n.url)
	allow := func(rt aclv1.ResourceType, name string, op aclv1.Operation) {
		t.Helper()
		rule := &aclv1.Acl{Principal: "bob", ResourceType: rt, ResourceName: name, PatternType: aclv1.PatternType_PATTERN_TYPE_LITERAL, Operation: op, Permission: aclv1.Permission_PERMISSION_ALLOW}
		if _, err := acls.CreateAcls(ctx, connect.NewRequest(&aclv1.CreateAclsRequest{Acls: []*aclv1.Acl{rule}})); err != nil {
			t.Fatal(err)
		}
	}
	bob := brokerv1connect.NewGroupServiceClient(n.httpClient("bob", "bob-pw"), n.url)
	initReq := &brokerv1.InitProducerRequest{TransactionalId: "app-0"}
	if _, err := bob.InitProducer(ctx, connect.NewRequest(initReq)); connectOutcome(err) != refused {
		t.Fatalf("init without a rule: %v", err)
	}
	allow(aclv1.ResourceType_RESOURCE_TYPE_TRANSACTIONAL_ID, "app-0", aclv1.Operation_OPERATION_WRITE)
	res, err := bob.InitProducer(ctx, connect.NewRequest(initReq))
	if err != nil {
		t.Fatal(err)
	}
	req := &brokerv1.ProduceAndCommitRequest{
		TransactionalId: "app-0", ProducerId: res.Msg.GetProducerId(), ProducerEpoch: res.Msg.GetProducerEpoch(),
		Topics: []*brokerv1.TopicRecords{{Topic: "out", Records: []*brokerv1.ProduceRecord{{Value: []byte("A")}}}},
		Group:  "app", Offsets: []*brokerv1.OffsetCommit{{Topic: "in", Partition: 0, Offset: 1}},
	}
	for _, rule := range []struct {
		rt   aclv1.ResourceType
		name string
		op   aclv1.Operation
	}{
		{aclv1.ResourceType_RESOURCE_TYPE_TOPIC, "out", aclv1.Operation_OPERATION_WRITE},
		{aclv1.ResourceType_RESOURCE_TYPE_GROUP, "app", aclv1.Operation_OPERATION_READ},
		{aclv1.ResourceType_RESOURCE_TYPE_TOPIC, "in", aclv1.Operation_OPERATION_READ},
	} {
		if _, err := bob.ProduceAndCommit(ctx, connect.NewRequest(req)); connectOutcome(err) != refused {
			t.Fatalf("produce and commit without %v %s %v: %v", rule.rt, rule.name, rule.op, err)
		}
		allow(rule.rt, rule.name, rule.op)
	}
	if _, err := bob.ProduceAndCommit(ctx, connect.NewRequest(req)); err != nil {
		t.Fatalf("produce and commit with every rule: %v", err)
	}
}
