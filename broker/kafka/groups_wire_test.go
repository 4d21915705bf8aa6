package kafka

import (
	"context"
	"net"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/internal/metadb"
)

// Consumer-group APIs on the wire, version by version, with a fake clock:
// the error codes each client sees.

// groupTestNode is a listener over a broker with a fake clock, no group
// ticker and no initial rebalance delay.
type groupTestNode struct {
	b    *broker.Broker
	addr string
	ns   atomic.Int64
}

func (n *groupTestNode) now() time.Time { return time.Unix(0, n.ns.Load()) }

// advance moves the clock and runs the group ticker once.
func (n *groupTestNode) advance(d time.Duration) {
	n.ns.Add(int64(d))
	n.b.TickGroups()
}

func newGroupTestNode(t testing.TB) *groupTestNode {
	t.Helper()
	n := &groupTestNode{}
	n.ns.Store(time.Unix(1_000_000, 0).UnixNano())
	dir := t.TempDir()
	db, err := metadb.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.Open(context.Background(), broker.Config{
		DB: db, DataDir: dir, Fsync: mustFsync(t, "never"), GroupTickInterval: -1, MaintenanceInterval: -1,
		GroupInitialRebalanceDelay: -1, Now: n.now, GroupHeartbeatInterval: 250 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Broker: b})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		<-served
		b.Close()
		db.Close()
	})
	n.b, n.addr = b, ln.Addr().String()
	return n
}

// wire is a raw connection with a correlation counter.
type wire struct {
	*rawConn
	corr int32
}

func (n *groupTestNode) dial(t *testing.T) *wire { return &wire{rawConn: dialRaw(t, n.addr)} }

// do sends req at version v and returns the response.
func (w *wire) do(v int16, req kmsg.Request) kmsg.Response {
	req.SetVersion(v)
	w.corr++
	return w.roundTrip(req, w.corr)
}

func joinReq(group, member, instance, protocolType string, protocols ...string) *kmsg.JoinGroupRequest {
	r := kmsg.NewPtrJoinGroupRequest()
	r.Group, r.MemberID, r.ProtocolType = group, member, protocolType
	if instance != "" {
		r.InstanceID = &instance
	}
	r.SessionTimeoutMillis, r.RebalanceTimeoutMillis = 10_000, 10_000
	for _, p := range protocols {
		jp := kmsg.NewJoinGroupRequestProtocol()
		jp.Name, jp.Metadata = p, []byte("meta-"+p)
		r.Protocols = append(r.Protocols, jp)
	}
	return r
}

func wantCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	var code int16
	if want != nil {
		code = want.Code
	}
	if got != code {
		t.Fatalf("%s: error %v, want %v", what, kerr.ErrorForCode(got), want)
	}
}

func TestWireClassicGroup(t *testing.T) {
	n := newGroupTestNode(t)
	if _, err := n.b.CreateTopic(context.Background(), "t", 2, nil); err != nil {
		t.Fatal(err)
	}
	w := n.dial(t)

	// v4+: a new member first gets MEMBER_ID_REQUIRED and its id.
	r := w.do(4, joinReq("g", "", "", "consumer", "range")).(*kmsg.JoinGroupResponse)
	wantCode(t, "JoinGroup v4 new member", r.ErrorCode, kerr.MemberIDRequired)
	if r.MemberID == "" {
		t.Fatal("MEMBER_ID_REQUIRED without a member id")
	}
	r = w.do(4, joinReq("g", r.MemberID, "", "consumer", "range")).(*kmsg.JoinGroupResponse)
	wantCode(t, "JoinGroup v4 with the id", r.ErrorCode, nil)
	m1, gen := r.MemberID, r.Generation
	if gen != 1 || r.LeaderID != m1 || len(r.Members) != 1 || r.Protocol == nil || *r.Protocol != "range" {
		t.Fatalf("join: %+v", r)
	}

	// Joins that cannot be: other protocol type, no common protocol, bad
	// session timeout, unknown member, empty group id.
	wantCode(t, "other protocol type", w.do(5, joinReq("g", "", "", "connect", "range")).(*kmsg.JoinGroupResponse).ErrorCode, kerr.InconsistentGroupProtocol)
	wantCode(t, "no common protocol", w.do(5, joinReq("g", "", "", "consumer", "roundrobin")).(*kmsg.JoinGroupResponse).ErrorCode, kerr.InconsistentGroupProtocol)
	short := joinReq("g2", "", "", "consumer", "range")
	short.SessionTimeoutMillis = 10
	wantCode(t, "session timeout 10ms", w.do(5, short).(*kmsg.JoinGroupResponse).ErrorCode, kerr.InvalidSessionTimeout)
	wantCode(t, "unknown member", w.do(5, joinReq("g", "nobody", "", "consumer", "range")).(*kmsg.JoinGroupResponse).ErrorCode, kerr.UnknownMemberID)
	wantCode(t, "empty group id", w.do(5, joinReq("", "", "", "consumer", "range")).(*kmsg.JoinGroupResponse).ErrorCode, kerr.InvalidGroupID)

	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = "g", m1, gen
	other := "roundrobin"
	sync.Protocol = &other
	wantCode(t, "SyncGroup v5 with another protocol", w.do(5, sync).(*kmsg.SyncGroupResponse).ErrorCode, kerr.InconsistentGroupProtocol)
	sync.Protocol = nil
	a := kmsg.NewSyncGroupRequestGroupAssignment()
	a.MemberID, a.MemberAssignment = m1, []byte("mine")
	sync.GroupAssignment = append(sync.GroupAssignment, a)
	sr := w.do(3, sync).(*kmsg.SyncGroupResponse)
	wantCode(t, "SyncGroup", sr.ErrorCode, nil)
	if string(sr.MemberAssignment) != "mine" {
		t.Fatalf("assignment %q", sr.MemberAssignment)
	}

	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = "g", m1, gen
	wantCode(t, "Heartbeat", w.do(4, hb).(*kmsg.HeartbeatResponse).ErrorCode, nil)
	hb.Generation = gen + 5
	wantCode(t, "Heartbeat wrong generation", w.do(0, hb).(*kmsg.HeartbeatResponse).ErrorCode, kerr.IllegalGeneration)
	hb.Generation, hb.MemberID = gen, "nobody"
	wantCode(t, "Heartbeat unknown member", w.do(2, hb).(*kmsg.HeartbeatResponse).ErrorCode, kerr.UnknownMemberID)

	// A JoinGroup v0 member (librdkafka before 2.11) joins: the leader
	// must rejoin, and learns so from its heartbeat.
	w2 := n.dial(t)
	v0join := joinReq("g", "", "", "consumer", "range")
	v0join.SetVersion(0)
	w2.send(v0join, 1)
	hb.MemberID = m1
	deadline := time.Now().Add(10 * time.Second)
	for {
		code := w.do(1, hb).(*kmsg.HeartbeatResponse).ErrorCode
		if code == kerr.RebalanceInProgress.Code {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("heartbeat answered %v, want REBALANCE_IN_PROGRESS", kerr.ErrorForCode(code))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A KIP-848 heartbeat on this classic group is refused.
	cg := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	cg.Group, cg.MemberID, cg.SubscribedTopicNames = "g", "848-member", []string{"t"}
	wantCode(t, "ConsumerGroupHeartbeat on a classic group", w.do(1, cg).(*kmsg.ConsumerGroupHeartbeatResponse).ErrorCode, kerr.InconsistentGroupProtocol)
	// The leader rejoins; both get generation 2.
	r = w.do(2, joinReq("g", m1, "", "consumer", "range")).(*kmsg.JoinGroupResponse)
	wantCode(t, "leader rejoin", r.ErrorCode, nil)
	_, body, err := w2.recv()
	if err != nil {
		t.Fatal(err)
	}
	r2 := kmsg.NewPtrJoinGroupResponse()
	r2.Version = 0
	if err := r2.ReadFrom(body); err != nil {
		t.Fatal(err)
	}
	if r.Generation != 2 || r2.Generation != 2 || r2.ErrorCode != 0 || len(r.Members) != 2 {
		t.Fatalf("generation 2: leader %+v, v0 member %+v", r, r2)
	}

	// Commits: at the generation before the assignment is distributed →
	// REBALANCE_IN_PROGRESS; an admin commit on a live group →
	// UNKNOWN_MEMBER_ID, as Kafka.
	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Group, oc.MemberID, oc.Generation = "g", m1, 2
	ot := kmsg.NewOffsetCommitRequestTopic()
	ot.Topic = "t"
	op := kmsg.NewOffsetCommitRequestTopicPartition()
	ot.Partitions = append(ot.Partitions, op)
	oc.Topics = append(oc.Topics, ot)
	commitCode := func(v int16) int16 {
		return w.do(v, oc).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
	}
	wantCode(t, "commit while CompletingRebalance", commitCode(8), kerr.RebalanceInProgress)
	oc.MemberID, oc.Generation = "", -1
	wantCode(t, "admin commit on a live group", commitCode(2), kerr.UnknownMemberID)

	// LeaveGroup v3 batch: one known, one unknown.
	lv := kmsg.NewPtrLeaveGroupRequest()
	lv.Group = "g"
	for _, id := range []string{r2.MemberID, "nobody"} {
		lm := kmsg.NewLeaveGroupRequestMember()
		lm.MemberID = id
		lv.Members = append(lv.Members, lm)
	}
	lr := w.do(3, lv).(*kmsg.LeaveGroupResponse)
	if lr.ErrorCode != 0 || len(lr.Members) != 2 || lr.Members[0].ErrorCode != 0 || lr.Members[1].ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("LeaveGroup v3: %+v", lr)
	}
	// The last member times out; the group is empty and takes admin
	// commits.
	n.advance(11 * time.Second)
	wantCode(t, "admin commit on the empty group", commitCode(2), nil)
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Groups = []string{"g"}
	if st := w.do(5, dg).(*kmsg.DescribeGroupsResponse).Groups[0].State; st != "Empty" {
		t.Fatalf("state %q after the session timeout, want Empty", st)
	}
}

func TestWireStaticMember(t *testing.T) {
	n := newGroupTestNode(t)
	w := n.dial(t)
	r := w.do(5, joinReq("s", "", "inst", "consumer", "range")).(*kmsg.JoinGroupResponse)
	wantCode(t, "static join", r.ErrorCode, nil) // no MEMBER_ID_REQUIRED for static members
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = "s", r.MemberID, r.Generation
	inst := "inst"
	sync.InstanceID = &inst
	a := kmsg.NewSyncGroupRequestGroupAssignment()
	a.MemberID, a.MemberAssignment = r.MemberID, []byte("kept")
	sync.GroupAssignment = append(sync.GroupAssignment, a)
	wantCode(t, "sync", w.do(5, sync).(*kmsg.SyncGroupResponse).ErrorCode, nil)

	// The process restarts: same instance id, no member id. It gets a new
	// id at the same generation, and the old id is fenced.
	r2 := w.do(9, joinReq("s", "", "inst", "consumer", "range")).(*kmsg.JoinGroupResponse)
	wantCode(t, "static rejoin", r2.ErrorCode, nil)
	if r2.Generation != r.Generation || r2.MemberID == r.MemberID || !r2.SkipAssignment {
		t.Fatalf("static rejoin: %+v (first %+v)", r2, r)
	}
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation, hb.InstanceID = "s", r.MemberID, r.Generation, &inst
	wantCode(t, "old process heartbeat", w.do(4, hb).(*kmsg.HeartbeatResponse).ErrorCode, kerr.FencedInstanceID)
	sync.MemberID, sync.GroupAssignment = r2.MemberID, nil
	sr := w.do(5, sync).(*kmsg.SyncGroupResponse)
	if sr.ErrorCode != 0 || string(sr.MemberAssignment) != "kept" {
		t.Fatalf("rejoined static member's sync: %+v", sr)
	}
}

func TestWireConsumerGroupHeartbeat(t *testing.T) {
	n := newGroupTestNode(t)
	ti, err := n.b.CreateTopic(context.Background(), "t", 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := n.dial(t)
	hb := func(v int16, member string, epoch int32, mod func(*kmsg.ConsumerGroupHeartbeatRequest)) *kmsg.ConsumerGroupHeartbeatResponse {
		r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		r.Group, r.MemberID, r.MemberEpoch, r.RebalanceTimeoutMillis = "c", member, epoch, 10_000
		if epoch == 0 {
			r.SubscribedTopicNames = []string{"t"}
		}
		if mod != nil {
			mod(r)
		}
		return w.do(v, r).(*kmsg.ConsumerGroupHeartbeatResponse)
	}
	bogus := "bogus"
	wantCode(t, "unknown assignor", hb(1, "m-a", 0, func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.ServerAssignor = &bogus }).ErrorCode, kerr.UnsupportedAssignor)
	wantCode(t, "v1 join without a member id", hb(1, "", 0, nil).ErrorCode, kerr.InvalidRequest)
	badRegex := "(("
	wantCode(t, "join with a bad regex", hb(1, "m-r", 0, func(r *kmsg.ConsumerGroupHeartbeatRequest) {
		r.SubscribedTopicNames, r.SubscribedTopicRegex = nil, &badRegex
	}).ErrorCode, kerr.InvalidRequest)

	a := hb(1, "m-a", 0, nil)
	wantCode(t, "join", a.ErrorCode, nil)
	if a.MemberID == nil || *a.MemberID != "m-a" || a.MemberEpoch != 1 || a.Assignment == nil || len(a.Assignment.Topics) != 1 || a.Assignment.Topics[0].TopicID != [16]byte(ti.ID) || len(a.Assignment.Topics[0].Partitions) != 4 {
		t.Fatalf("join: %+v", a)
	}
	if a.HeartbeatIntervalMillis != 250 {
		t.Fatalf("heartbeat interval %d ms, want the configured 250", a.HeartbeatIntervalMillis)
	}
	v0 := hb(0, "", 0, nil)
	wantCode(t, "v0 join", v0.ErrorCode, nil)
	if v0.MemberID == nil || *v0.MemberID == "" {
		t.Fatal("v0 join got no member id from the broker")
	}
	wantCode(t, "stale epoch", hb(1, "m-a", 7, nil).ErrorCode, kerr.FencedMemberEpoch)
	wantCode(t, "unknown member", hb(1, "m-z", 3, nil).ErrorCode, kerr.UnknownMemberID)

	// m-a reports it owns all four (it has not revoked yet): it keeps two.
	owned := func(r *kmsg.ConsumerGroupHeartbeatRequest) {
		t := kmsg.NewConsumerGroupHeartbeatRequestTopic()
		t.TopicID, t.Partitions = [16]byte(ti.ID), []int32{0, 1, 2, 3}
		r.Topics = append(r.Topics, t)
	}
	a = hb(1, "m-a", 1, owned)
	wantCode(t, "heartbeat", a.ErrorCode, nil)
	if a.MemberEpoch != 2 || len(a.Assignment.Topics[0].Partitions) != 2 {
		t.Fatalf("after the second member joined: %+v", a)
	}

	// Commits at the member epoch (v9).
	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Group, oc.MemberID, oc.Generation = "c", "m-a", 1
	ot := kmsg.NewOffsetCommitRequestTopic()
	ot.Topic = "t"
	op := kmsg.NewOffsetCommitRequestTopicPartition()
	op.Partition = a.Assignment.Topics[0].Partitions[0]
	ot.Partitions = append(ot.Partitions, op)
	oc.Topics = append(oc.Topics, ot)
	wantCode(t, "commit at an old epoch", w.do(9, oc).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode, kerr.StaleMemberEpoch)
	oc.Generation = 2
	wantCode(t, "commit at the epoch", w.do(9, oc).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode, nil)

	// OffsetFetch v9 checks the member; v8 fetches several groups.
	of := kmsg.NewPtrOffsetFetchRequest()
	for _, g := range []string{"c", "none"} {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = g
		if g == "c" {
			member := "m-a"
			rg.MemberID, rg.MemberEpoch = &member, 1
		}
		of.Groups = append(of.Groups, rg)
	}
	fr := w.do(9, of).(*kmsg.OffsetFetchResponse)
	if len(fr.Groups) != 2 || fr.Groups[0].ErrorCode != kerr.StaleMemberEpoch.Code || fr.Groups[1].ErrorCode != 0 || len(fr.Groups[1].Topics) != 0 {
		t.Fatalf("OffsetFetch v9 at an old epoch: %+v", fr)
	}
	of.Groups[0].MemberEpoch = 2
	fr = w.do(9, of).(*kmsg.OffsetFetchResponse)
	if fr.Groups[0].ErrorCode != 0 || len(fr.Groups[0].Topics) != 1 || fr.Groups[0].Topics[0].Partitions[0].Offset != 0 {
		t.Fatalf("OffsetFetch v9: %+v", fr)
	}

	// ConsumerGroupDescribe, and the classic view of the same group.
	cd := kmsg.NewPtrConsumerGroupDescribeRequest()
	cd.Groups = []string{"c", "none"}
	cr := w.do(1, cd).(*kmsg.ConsumerGroupDescribeResponse)
	if g := cr.Groups[0]; g.ErrorCode != 0 || g.State != "Reconciling" || g.AssignorName != "uniform" || len(g.Members) != 2 {
		t.Fatalf("ConsumerGroupDescribe: %+v", g)
	}
	wantCode(t, "ConsumerGroupDescribe unknown", cr.Groups[1].ErrorCode, kerr.GroupIDNotFound)
	jr := w.do(5, joinReq("c", "", "", "consumer", "range")).(*kmsg.JoinGroupResponse)
	wantCode(t, "JoinGroup on a KIP-848 group", jr.ErrorCode, kerr.InconsistentGroupProtocol)
	lg := kmsg.NewPtrListGroupsRequest()
	lr := w.do(5, lg).(*kmsg.ListGroupsResponse)
	if len(lr.Groups) != 1 || lr.Groups[0].GroupType != "consumer" || lr.Groups[0].ProtocolType != "consumer" || lr.Groups[0].GroupState != "Reconciling" {
		t.Fatalf("ListGroups: %+v", lr.Groups)
	}
	lg.TypesFilter = []string{"classic"}
	if lr := w.do(5, lg).(*kmsg.ListGroupsResponse); len(lr.Groups) != 0 {
		t.Fatalf("ListGroups of classic groups: %+v", lr.Groups)
	}

	// Leaving: -1 removes m-a at once; the other member gets everything.
	leave := hb(1, "m-a", -1, nil)
	wantCode(t, "leave", leave.ErrorCode, nil)
	if leave.MemberEpoch != -1 {
		t.Fatalf("leave answered epoch %d", leave.MemberEpoch)
	}
	other := hb(0, *v0.MemberID, v0.MemberEpoch, nil)
	if other.ErrorCode != 0 || len(other.Assignment.Topics) != 1 || len(other.Assignment.Topics[0].Partitions) != 4 {
		t.Fatalf("after the leave: %+v", other)
	}
	wantCode(t, "leave again", hb(1, "m-a", -1, nil).ErrorCode, kerr.UnknownMemberID)

	// A static member's temporary leave (-2) keeps its partitions for its
	// restart, which gets them at once under a new member id.
	inst := "pod-1"
	static := func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.InstanceID = &inst }
	s1 := hb(1, "s-1", 0, static)
	wantCode(t, "static join", s1.ErrorCode, nil)
	other = hb(1, *v0.MemberID, other.MemberEpoch, func(r *kmsg.ConsumerGroupHeartbeatRequest) {
		t := kmsg.NewConsumerGroupHeartbeatRequestTopic()
		t.TopicID, t.Partitions = [16]byte(ti.ID), []int32{0, 1, 2, 3}
		r.Topics = append(r.Topics, t)
	})
	// It was told to keep two; it says it let go of the others.
	other = hb(1, *v0.MemberID, other.MemberEpoch, func(r *kmsg.ConsumerGroupHeartbeatRequest) {
		t := kmsg.NewConsumerGroupHeartbeatRequestTopic()
		t.TopicID, t.Partitions = [16]byte(ti.ID), other.Assignment.Topics[0].Partitions
		r.Topics = append(r.Topics, t)
	})
	s1 = hb(1, "s-1", s1.MemberEpoch, func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{} })
	if len(s1.Assignment.Topics) != 1 || len(s1.Assignment.Topics[0].Partitions) != 2 {
		t.Fatalf("static member's share: %+v", s1.Assignment)
	}
	held := s1.Assignment.Topics[0].Partitions
	leave = hb(1, "s-1", s1.MemberEpoch, func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.InstanceID = &inst; r.MemberEpoch = -2 })
	if leave.ErrorCode != 0 || leave.MemberEpoch != -2 {
		t.Fatalf("static leave: %+v", leave)
	}
	s2 := hb(1, "s-2", 0, static)
	if s2.ErrorCode != 0 || len(s2.Assignment.Topics) != 1 || !slices.Equal(s2.Assignment.Topics[0].Partitions, held) {
		t.Fatalf("static restart: %+v, want partitions %v at once", s2, held)
	}
	// Without an instance id, -2 is a plain leave.
	wantCode(t, "dynamic -2", hb(1, *v0.MemberID, -2, nil).ErrorCode, nil)
	wantCode(t, "after dynamic -2", hb(1, *v0.MemberID, other.MemberEpoch, nil).ErrorCode, kerr.UnknownMemberID)
}

// BenchmarkWireHeartbeat measures a classic Heartbeat round trip over one
// connection: framing, dispatch, the coordinator and back.
func BenchmarkWireHeartbeat(b *testing.B) {
	n := newGroupTestNode(b)
	w := &wire{rawConn: dialRaw(b, n.addr)}
	r := w.do(4, joinReq("g", "", "", "consumer", "range")).(*kmsg.JoinGroupResponse)
	r = w.do(4, joinReq("g", r.MemberID, "", "consumer", "range")).(*kmsg.JoinGroupResponse)
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = "g", r.MemberID, r.Generation
	w.do(3, sync)
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = "g", r.MemberID, r.Generation
	for b.Loop() {
		if resp := w.do(4, hb).(*kmsg.HeartbeatResponse); resp.ErrorCode != 0 {
			b.Fatal(kerr.ErrorForCode(resp.ErrorCode))
		}
	}
}
