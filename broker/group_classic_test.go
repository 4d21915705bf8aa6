package broker_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// consumerMeta encodes a consumer-protocol subscription.
func consumerMeta(topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Topics = topics
	return m.AppendTo(nil)
}

// consumerAssign encodes a consumer-protocol assignment of one topic.
func consumerAssign(topic string, parts ...int32) []byte {
	a := kmsg.NewConsumerMemberAssignment()
	t := kmsg.NewConsumerMemberAssignmentTopic()
	t.Topic, t.Partitions = topic, parts
	a.Topics = append(a.Topics, t)
	return a.AppendTo(nil)
}

// joinClassic joins (v4 style: first MEMBER_ID_REQUIRED, then with the id)
// without waiting for the rebalance; the returned wait answers it.
func joinClassic(t *testing.T, b *broker.Broker, groupID, instance string, topics ...string) func() broker.JoinGroupResult {
	t.Helper()
	ctx := ctxT(t)
	req := broker.JoinGroupRequest{
		Group: groupID, InstanceID: instance, ProtocolType: "consumer", SessionTimeout: 10 * time.Second,
		RebalanceTimeout: 10 * time.Second, RequireKnownMemberID: true, ClientID: "test",
		Protocols: []broker.GroupProtocol{{Name: "range", Metadata: consumerMeta(topics...)}},
	}
	if instance == "" {
		r := b.JoinGroup(ctx, req)(ctx)
		if !errors.Is(r.Err, broker.ErrMemberIDRequired) || r.MemberID == "" {
			t.Fatalf("first join: %+v, want ErrMemberIDRequired with an id", r)
		}
		req.MemberID = r.MemberID
	}
	wait := b.JoinGroup(ctx, req)
	return func() broker.JoinGroupResult { return wait(ctx) }
}

// TestClassicGroupLifecycle runs two classic members through a rebalance,
// commits, describe, offset delete and leave, on the broker core.
func TestClassicGroupLifecycle(t *testing.T) {
	clk := newFakeClock()
	e := newEnv(t, func(c *broker.Config) {
		c.Now, c.GroupTickInterval, c.GroupInitialRebalanceDelay = clk.Now, -1, -1
	})
	e.createTopic("orders", 4, nil)
	e.createTopic("other", 1, nil)
	for p := range int32(4) {
		recs := make([]*brokerv1.ProduceRecord, 6)
		for i := range recs {
			recs[i] = &brokerv1.ProduceRecord{Value: []byte("v"), Partition: ptr(p)}
		}
		e.produce("orders", recs...)
	}
	b, ctx := e.b, ctxT(t)

	// The first member forms generation 1 alone; the second's join starts
	// a rebalance that completes once the first rejoins.
	r1 := joinClassic(t, b, "g", "", "orders")()
	if r1.Err != nil || r1.Generation != 1 || r1.Leader != r1.MemberID || len(r1.Members) != 1 {
		t.Fatalf("first member: %+v", r1)
	}
	wait2 := joinClassic(t, b, "g", "", "orders")
	if err := b.ClassicHeartbeat(ctx, "g", r1.MemberID, "", 1); !errors.Is(err, broker.ErrRebalanceInProgress) {
		t.Fatalf("heartbeat during rebalance: %v, want ErrRebalanceInProgress", err)
	}
	// A member of the old generation may still commit while the group
	// prepares the rebalance (before its partitions are revoked).
	if _, err := b.CommitGroupOffsets(ctx, "g", broker.GroupCommitter{MemberID: r1.MemberID, Generation: 1}, []broker.OffsetCommit{{Topic: "orders", Partition: 0, Offset: 1}}); err != nil {
		t.Fatalf("commit during PreparingRebalance: %v", err)
	}
	var wg sync.WaitGroup
	var r2 broker.JoinGroupResult
	wg.Add(1)
	go func() { defer wg.Done(); r2 = wait2() }()
	r1 = b.JoinGroup(ctx, broker.JoinGroupRequest{
		Group: "g", MemberID: r1.MemberID, ProtocolType: "consumer", SessionTimeout: 10 * time.Second, ClientID: "test",
		Protocols: []broker.GroupProtocol{{Name: "range", Metadata: consumerMeta("orders")}},
	})(ctx)
	wg.Wait()
	if r1.Err != nil || r2.Err != nil || r1.Generation != 2 || r2.Generation != 2 || len(r1.Members) != 2 || len(r2.Members) != 0 {
		t.Fatalf("generation 2: leader %+v, follower %+v", r1, r2)
	}

	// The follower's SyncGroup waits for the leader's.
	syncWait := b.SyncGroup(ctx, broker.SyncGroupRequest{Group: "g", MemberID: r2.MemberID, Generation: 2})
	if _, err := b.CommitGroupOffsets(ctx, "g", broker.GroupCommitter{MemberID: r2.MemberID, Generation: 2}, []broker.OffsetCommit{{Topic: "orders", Partition: 2, Offset: 1}}); !errors.Is(err, broker.ErrRebalanceInProgress) {
		t.Fatalf("commit before the assignment: %v, want ErrRebalanceInProgress", err)
	}
	ls := b.SyncGroup(ctx, broker.SyncGroupRequest{Group: "g", MemberID: r1.MemberID, Generation: 2, Assignments: map[string][]byte{
		r1.MemberID: consumerAssign("orders", 0, 1),
		r2.MemberID: consumerAssign("orders", 2, 3),
	}})(ctx)
	fs := syncWait(ctx)
	if ls.Err != nil || fs.Err != nil || string(fs.Assignment) != string(consumerAssign("orders", 2, 3)) || fs.Protocol != "range" {
		t.Fatalf("sync: leader %+v, follower %+v", ls, fs)
	}

	// Commits: the member at its generation; others refused.
	for _, tc := range []struct {
		who  broker.GroupCommitter
		want error
	}{
		{broker.GroupCommitter{MemberID: r2.MemberID, Generation: 2}, nil},
		{broker.GroupCommitter{MemberID: r2.MemberID, Generation: 1}, broker.ErrIllegalGeneration},
		{broker.GroupCommitter{MemberID: "nobody", Generation: 2}, broker.ErrUnknownMember},
		{broker.GroupCommitter{Generation: -1}, broker.ErrGroupNotEmpty},
	} {
		errs, err := b.CommitGroupOffsets(ctx, "g", tc.who, []broker.OffsetCommit{{Topic: "orders", Partition: 2, Offset: 2}})
		if !errors.Is(err, tc.want) || (tc.want == nil && (err != nil || errs[0] != nil)) {
			t.Errorf("commit by %+v: %v, want %v", tc.who, err, tc.want)
		}
	}
	errs, err := b.CommitGroupOffsets(ctx, "g", broker.GroupCommitter{MemberID: r1.MemberID, Generation: 2}, []broker.OffsetCommit{
		{Topic: "orders", Partition: 1, Offset: 1}, {Topic: "orders", Partition: 9, Offset: 1},
		{Topic: "nope", Partition: 0}, {Topic: "orders", Partition: 0, Offset: 99},
	})
	if err != nil || errs[0] != nil || !errors.Is(errs[1], broker.ErrTopicNotFound) || !errors.Is(errs[2], broker.ErrTopicNotFound) || !errors.Is(errs[3], broker.ErrOffsetOutOfRange) {
		t.Fatalf("partition errors: %v, %v", errs, err)
	}

	// The Connect view: members, owners and lag.
	d, err := b.DescribeGroup(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if d.State != "stable" || d.Epoch != 2 || d.Assignor != "range" || len(d.Members) != 2 {
		t.Fatalf("describe: %+v", d)
	}
	owners := map[int32]string{}
	for _, p := range d.Partitions {
		if p.Topic == "orders" {
			owners[p.Partition] = p.Owner
		}
	}
	if owners[0] != r1.MemberID || owners[1] != r1.MemberID || owners[2] != r2.MemberID || owners[3] != r2.MemberID {
		t.Fatalf("owners %v", owners)
	}
	ci, err := b.DescribeClassicGroup(ctx, "g")
	if err != nil || ci.State.String() != "Stable" || ci.Protocol != "range" || len(ci.Members) != 2 || ci.Members[0].ClientID != "test" {
		t.Fatalf("classic describe: %+v, %v", ci, err)
	}
	if _, err := b.GroupHeartbeat(ctx, broker.GroupHeartbeatRequest{Group: "g", Sub: &broker.GroupSubscription{Topics: []string{"orders"}}}); !errors.Is(err, broker.ErrInconsistentGroupProtocol) {
		t.Fatalf("KIP-848 join of a classic group: %v, want ErrInconsistentGroupProtocol", err)
	}
	gc := brokerv1connect.NewGroupServiceClient(h2cClient(), e.srv.URL)
	_, err = gc.Heartbeat(ctx, connect.NewRequest(&brokerv1.HeartbeatRequest{Group: "g", Subscription: &brokerv1.Subscription{Topics: []string{"orders"}}}))
	if connect.CodeOf(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "classic group") {
		t.Fatalf("Connect join of a classic group: %v, want FailedPrecondition naming the classic group", err)
	}
	gl, err := b.ListGroups(ctx)
	if err != nil || len(gl) != 1 || gl[0].Type != "classic" || gl[0].ProtocolType != "consumer" || gl[0].Members != 2 {
		t.Fatalf("list: %+v, %v", gl, err)
	}

	// OffsetDelete: subscribed topics are refused, others deleted.
	if _, err := b.CommitGroupOffsets(ctx, "other-g", broker.GroupCommitter{Generation: -1}, []broker.OffsetCommit{{Topic: "other", Partition: 0}}); err != nil {
		t.Fatal(err)
	}
	errs, err = b.DeleteGroupOffsets(ctx, "g", []broker.TopicPartition{{Topic: "orders", Partition: 2}, {Topic: "other", Partition: 0}})
	if err != nil || !errors.Is(errs[0], broker.ErrGroupSubscribedToTopic) || errs[1] != nil {
		t.Fatalf("offset delete: %v, %v", errs, err)
	}

	// Leaving: the leader leaves, the follower must rejoin and becomes
	// leader; after it times out the group is empty and accepts an admin
	// commit.
	if errs, err := b.LeaveClassicGroup(ctx, "g", []broker.LeavingMember{{MemberID: r1.MemberID}}); err != nil || errs[0] != nil {
		t.Fatalf("leave: %v %v", errs, err)
	}
	if err := b.ClassicHeartbeat(ctx, "g", r2.MemberID, "", 2); !errors.Is(err, broker.ErrRebalanceInProgress) {
		t.Fatalf("heartbeat after a leave: %v", err)
	}
	clk.Advance(11 * time.Second)
	b.TickGroups()
	ci, _ = b.DescribeClassicGroup(ctx, "g")
	if ci.State.String() != "Empty" || len(ci.Members) != 0 {
		t.Fatalf("after the session timeout: %+v", ci)
	}
	if errs, err := b.CommitGroupOffsets(ctx, "g", broker.GroupCommitter{Generation: -1}, []broker.OffsetCommit{{Topic: "orders", Partition: 3, Offset: 6}}); err != nil || errs[0] != nil {
		t.Fatalf("admin commit on the empty group: %v", err)
	}
	offs, err := b.FetchOffsets(ctx, "g", nil)
	if err != nil || len(offs) != 4 || offs[2].Offset != 2 || offs[3].Offset != 6 {
		t.Fatalf("offsets: %+v, %v", offs, err)
	}
	if err := b.DeleteGroup(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	if ci, _ := b.DescribeClassicGroup(ctx, "g"); ci.State.String() != "Dead" {
		t.Fatalf("after delete: %+v", ci)
	}
}

// TestClassicJoinWaitEnds checks that a parked JoinGroup's wait returns
// when its context ends, and that the broker's drain ends it too.
func TestClassicJoinWaitEnds(t *testing.T) {
	e := newEnv(t, func(c *broker.Config) { c.GroupInitialRebalanceDelay = time.Hour })
	req := broker.JoinGroupRequest{
		Group: "g", ProtocolType: "connect", SessionTimeout: 10 * time.Second, RebalanceTimeout: time.Minute,
		Protocols: []broker.GroupProtocol{{Name: "sessioned", Metadata: []byte("x")}},
	}
	ctx, cancel := context.WithCancel(context.Background())
	wait := e.b.JoinGroup(ctx, req)
	cancel()
	if r := wait(ctx); !errors.Is(r.Err, context.Canceled) {
		t.Fatalf("cancelled wait: %+v", r)
	}
	wait = e.b.JoinGroup(context.Background(), req)
	e.b.Drain()
	if r := wait(context.Background()); !errors.Is(r.Err, broker.ErrClosed) {
		t.Fatalf("drained wait: %+v", r)
	}
}

// TestClassicInitialRebalanceDelay: with Config.GroupInitialRebalanceDelay,
// members that join an empty group within the delay settle in one
// generation.
func TestClassicInitialRebalanceDelay(t *testing.T) {
	clk := newFakeClock()
	e := newEnv(t, func(c *broker.Config) {
		c.Now, c.GroupTickInterval, c.GroupInitialRebalanceDelay = clk.Now, -1, 3*time.Second
	})
	var waits []func() broker.JoinGroupResult
	for range 3 {
		waits = append(waits, joinClassic(t, e.b, "g", "", "orders"))
		clk.Advance(time.Second)
		e.b.TickGroups()
	}
	ci, _ := e.b.DescribeClassicGroup(ctxT(t), "g")
	if ci.State.String() != "PreparingRebalance" || len(ci.Members) != 3 {
		t.Fatalf("within the delay: %+v", ci)
	}
	clk.Advance(3 * time.Second)
	e.b.TickGroups()
	for i, w := range waits {
		if r := w(); r.Err != nil || r.Generation != 1 {
			t.Fatalf("member %d: %+v, want generation 1", i, r)
		}
	}
}

// TestClassicRebalanceEndsOnTime: the end of an initial delay does not wait
// for the group ticker (an hour here): the broker arms a timer for it.
func TestClassicRebalanceEndsOnTime(t *testing.T) {
	e := newEnv(t, func(c *broker.Config) {
		c.GroupTickInterval, c.GroupInitialRebalanceDelay = time.Hour, 50*time.Millisecond
	})
	wait := joinClassic(t, e.b, "g", "", "orders")
	got := make(chan broker.JoinGroupResult, 1)
	go func() { got <- wait() }()
	select {
	case r := <-got:
		if r.Err != nil || r.Generation != 1 {
			t.Fatalf("join: %+v", r)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the initial delay did not end before the next tick")
	}
}
