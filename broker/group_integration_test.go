package broker_test

import (
	"context"

	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sluicehq/sluice/broker"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
func (e *groupEnv) advance(d time.Duration)  { e.clock.Advance(d); e.b.TickGroups() }
func (e *groupEnv) gc() groupClient          { return groupClient{e.t, e.groups()} }
func (e *groupEnv) groups() brokerv1connect.GroupServiceClient {
	return brokerv1connect.NewGroupServiceClient(h2cClient(), e.srv.URL)
}

// groupEnv is a broker with a fake clock and no background ticker: time
// moves only when a test says so.
type groupEnv struct {
	*testEnv
	clock *fakeClock
}

func newGroupEnv(t *testing.T) *groupEnv {
	t.Helper()
	clock := newFakeClock()
	e := newEnv(t, func(c *broker.Config) {
		c.Now = clock.Now
		c.GroupTickInterval = -1
	})
	return &groupEnv{testEnv: e, clock: clock}
}

// groupClient wraps the GroupService client with test helpers.
type groupClient struct {
	t testing.TB
	c brokerv1connect.GroupServiceClient
}

// member is a test's view of one group member.
type member struct {
	group string
	id    string
	epoch int32
	// owned is what the member consumes: what it was last told.
	owned []*brokerv1.TopicPartitions
}

func (m *member) partitions() []string {
	var out []string
	for _, tp := range m.owned {
		for _, p := range tp.GetPartitions() {
			out = append(out, fmt.Sprintf("%s/%d", tp.GetTopic(), p))
		}
	}
	slices.Sort(out)
	return out
}

func sub(topics ...string) *brokerv1.Subscription {
	return &brokerv1.Subscription{Topics: topics, SessionTimeout: durationpb.New(10 * time.Second)}
}

func (g groupClient) join(group string, s *brokerv1.Subscription) *member {
	g.t.Helper()
	res, err := g.c.Heartbeat(ctxT(g.t), connect.NewRequest(&brokerv1.HeartbeatRequest{Group: group, Subscription: s}))
	if err != nil {
		g.t.Fatalf("join %s: %v", group, err)
	}
	return &member{group: group, id: res.Msg.GetMemberId(), epoch: res.Msg.GetMemberEpoch(), owned: res.Msg.GetAssignment()}
}

// heartbeat reports what m owns and takes the new assignment.
func (g groupClient) heartbeat(m *member) error {
	res, err := g.c.Heartbeat(ctxT(g.t), connect.NewRequest(&brokerv1.HeartbeatRequest{
		Group: m.group, MemberId: m.id, MemberEpoch: m.epoch, Owned: m.owned, OwnedReported: true,
	}))
	if err != nil {
		return err
	}
	m.epoch, m.owned = res.Msg.GetMemberEpoch(), res.Msg.GetAssignment()
	return nil
}

// settle heartbeats every member until nothing changes for two rounds,
// checking after each heartbeat that no two members own one partition.
func (g groupClient) settle(ms ...*member) {
	g.t.Helper()
	quiet := 0
	for round := 0; quiet < 2; round++ {
		if round > 20 {
			g.t.Fatal("the group did not settle in 20 rounds")
		}
		changed := false
		for _, m := range ms {
			before := m.partitions()
			if err := g.heartbeat(m); err != nil {
				g.t.Fatalf("heartbeat %s: %v", m.id, err)
			}
			if !slices.Equal(before, m.partitions()) {
				changed = true
			}
			checkDisjoint(g.t, ms)
		}
		if changed {
			quiet = 0
		} else {
			quiet++
		}
	}
}

func checkDisjoint(t testing.TB, ms []*member) {
	t.Helper()
	owner := map[string]string{}
	for _, m := range ms {
		for _, p := range m.partitions() {
			if o, ok := owner[p]; ok {
				t.Fatalf("%s owned by both %s and %s", p, o, m.id)
			}
			owner[p] = m.id
		}
	}
}

func (g groupClient) describe(group string) *brokerv1.DescribeGroupResponse {
	g.t.Helper()
	res, err := g.c.DescribeGroup(ctxT(g.t), connect.NewRequest(&brokerv1.DescribeGroupRequest{Group: group}))
	if err != nil {
		g.t.Fatalf("describe %s: %v", group, err)
	}
	return res.Msg
}

func (g groupClient) commit(group string, m *member, offs ...*brokerv1.OffsetCommit) error {
	req := &brokerv1.CommitOffsetsRequest{Group: group, Offsets: offs}
	if m != nil {
		req.MemberId, req.MemberEpoch = m.id, m.epoch
	}
	_, err := g.c.CommitOffsets(ctxT(g.t), connect.NewRequest(req))
	return err
}

func (g groupClient) fetchOffsets(group string) map[string]int64 {
	g.t.Helper()
	res, err := g.c.FetchOffsets(ctxT(g.t), connect.NewRequest(&brokerv1.FetchOffsetsRequest{Group: group}))
	if err != nil {
		g.t.Fatalf("fetch offsets %s: %v", group, err)
	}
	out := map[string]int64{}
	for _, oc := range res.Msg.GetOffsets() {
		out[fmt.Sprintf("%s/%d", oc.GetTopic(), oc.GetPartition())] = oc.GetOffset()
	}
	return out
}

func oc(topic string, p int32, off int64) *brokerv1.OffsetCommit {
	return &brokerv1.OffsetCommit{Topic: topic, Partition: p, Offset: off}
}

// wantCode fails unless err is a Connect error with code and a message
// containing every one of parts.
func wantCode(t testing.TB, err error, code connect.Code, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", code)
	}
	if connect.CodeOf(err) != code {
		t.Fatalf("got %v (%v), want %v", connect.CodeOf(err), err, code)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not mention %q", err, p)
		}
	}
}

// produceTo appends n records to one partition.
func (e *groupEnv) produceTo(topic string, p int32, n int) {
	e.t.Helper()
	recs := make([]*brokerv1.ProduceRecord, n)
	for i := range recs {
		recs[i] = &brokerv1.ProduceRecord{Value: []byte(fmt.Sprintf("%s-%d-%d", topic, p, i)), Partition: ptr(p)}
	}
	e.produce(topic, recs...)
}

func TestGroupThreeMembersShareSixPartitions(t *testing.T) {
	e := newGroupEnv(t)
	e.createTopic("orders", 6, nil)
	g := e.gc()
	ms := []*member{g.join("g", sub("orders")), g.join("g", sub("orders")), g.join("g", sub("orders"))}
	g.settle(ms...)
	all := map[string]bool{}
	for _, m := range ms {
		if n := len(m.partitions()); n != 2 {
			t.Fatalf("member %s owns %v, want 2 partitions", m.id, m.partitions())
		}
		for _, p := range m.partitions() {
			all[p] = true
		}
	}
	if len(all) != 6 {
		t.Fatalf("owned partitions %v, want all 6", all)
	}
	d := g.describe("g")
	if d.GetState() != "stable" || len(d.GetMembers()) != 3 || d.GetAssignor() != "uniform" {
		t.Fatalf("describe: state %q, %d members, assignor %q", d.GetState(), len(d.GetMembers()), d.GetAssignor())
	}
}

func TestGroupSessionTimeoutRedistributes(t *testing.T) {
	e := newGroupEnv(t)
	e.createTopic("orders", 6, nil)
	g := e.gc()
	ms := []*member{g.join("g", sub("orders")), g.join("g", sub("orders")), g.join("g", sub("orders"))}
	g.settle(ms...)
	silent := ms[2]
	live := ms[:2]
	// Within the session timeout (10s) nothing moves.
	e.advance(6 * time.Second)
	g.settle(live...)
	if len(g.describe("g").GetMembers()) != 3 {
		t.Fatal("a member was removed before its session timed out")
	}
	e.advance(4 * time.Second) // the silent member's last heartbeat is 10s old
	if n := len(g.describe("g").GetMembers()); n != 2 {
		t.Fatalf("after the session timeout the group has %d members, want 2", n)
	}
	g.settle(live...)
	if a, b := len(live[0].partitions()), len(live[1].partitions()); a != 3 || b != 3 {
		t.Fatalf("after redistribution members own %d and %d partitions, want 3 and 3", a, b)
	}
	wantCode(t, g.heartbeat(silent), connect.CodeNotFound, "unknown member", silent.id, "group g")
	wantCode(t, g.commit("g", silent, oc("orders", 0, 0)), connect.CodeNotFound, "unknown member")
}

func TestGroupLeaveHandsOverAtOnce(t *testing.T) {
	e := newGroupEnv(t)
	e.createTopic("orders", 6, nil)
	g := e.gc()
	a, b := g.join("g", sub("orders")), g.join("g", sub("orders"))
	g.settle(a, b)
	if _, err := g.c.LeaveGroup(ctxT(t), connect.NewRequest(&brokerv1.LeaveGroupRequest{Group: "g", MemberId: b.id})); err != nil {
		t.Fatal(err)
	}
	if err := g.heartbeat(a); err != nil {
		t.Fatal(err)
	}
	if n := len(a.partitions()); n != 6 {
		t.Fatalf("one heartbeat after the other member left, the survivor owns %v, want all 6", a.partitions())
	}
	_, err := g.c.LeaveGroup(ctxT(t), connect.NewRequest(&brokerv1.LeaveGroupRequest{Group: "g", MemberId: b.id}))
	wantCode(t, err, connect.CodeNotFound, "unknown member", b.id)
}

// TestGroupChurnNeverDoubleOwns runs members concurrently that join,
// heartbeat and leave at random, while a checker verifies, continuously,
// that no partition is owned by two members: in what the members believe
// (each stops consuming a partition as soon as an answer leaves it out) and
// in what the broker describes.
func TestGroupChurnNeverDoubleOwns(t *testing.T) {
	e := newGroupEnv(t)
	e.createTopic("a", 7, nil)
	e.createTopic("b", 5, nil)
	g := e.gc()
	var mu sync.Mutex
	belief := map[string][]string{} // member id -> partitions it consumes
	check := func() error {
		owner := map[string]string{}
		for id, ps := range belief {
			for _, p := range ps {
				if o, ok := owner[p]; ok {
					return fmt.Errorf("%s consumed by both %s and %s", p, o, id)
				}
				owner[p] = id
			}
		}
		return nil
	}
	var failed atomic.Value
	fail := func(err error) { failed.CompareAndSwap(nil, err) }
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range 6 {
				res, err := g.c.Heartbeat(context.Background(), connect.NewRequest(&brokerv1.HeartbeatRequest{Group: "churn", Subscription: sub("a", "b")}))
				if err != nil {
					fail(err)
					return
				}
				m := &member{group: "churn", id: res.Msg.GetMemberId(), epoch: res.Msg.GetMemberEpoch(), owned: res.Msg.GetAssignment()}
				mu.Lock()
				belief[m.id] = m.partitions()
				err = check()
				mu.Unlock()
				if err != nil {
					fail(err)
					return
				}
				for range 3 + rng.IntN(10) {
					// Report what we consume; the answer tells what to
					// keep. Revoked partitions stop before we report again.
					res, err := g.c.Heartbeat(context.Background(), connect.NewRequest(&brokerv1.HeartbeatRequest{
						Group: "churn", MemberId: m.id, MemberEpoch: m.epoch, Owned: m.owned, OwnedReported: true,
					}))
					if err != nil {
						fail(err)
						return
					}
					m.epoch, m.owned = res.Msg.GetMemberEpoch(), res.Msg.GetAssignment()
					mu.Lock()
					belief[m.id] = m.partitions()
					err = check()
					mu.Unlock()
					if err != nil {
						fail(err)
						return
					}
				}
				mu.Lock()
				delete(belief, m.id) // stops consuming, then leaves
				mu.Unlock()
				if _, err := g.c.LeaveGroup(context.Background(), connect.NewRequest(&brokerv1.LeaveGroupRequest{Group: "churn", MemberId: m.id})); err != nil {
					fail(err)
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	checks := 0
	for loop := true; loop; {
		select {
		case <-done:
			loop = false
		default:
		}
		res, err := g.c.DescribeGroup(context.Background(), connect.NewRequest(&brokerv1.DescribeGroupRequest{Group: "churn"}))
		if err != nil {
			if connect.CodeOf(err) == connect.CodeNotFound {
				continue // between a leave and a join
			}
			t.Fatal(err)
		}
		held := map[string]string{}
		for _, m := range res.Msg.GetMembers() {
			for _, tp := range m.GetAssignment() {
				for _, p := range tp.GetPartitions() {
					k := fmt.Sprintf("%s/%d", tp.GetTopic(), p)
					if o, ok := held[k]; ok {
						t.Fatalf("broker: %s held by both %s and %s", k, o, m.GetMemberId())
					}
					held[k] = m.GetMemberId()
				}
			}
		}
		checks++
	}
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d describe checks", checks)
}

func TestGroupCommitsSurviveRestart(t *testing.T) {
	e := newGroupEnv(t)
	e.createTopic("orders", 2, nil)
	e.produceTo("orders", 0, 5)
	e.produceTo("orders", 1, 3)
	g := e.gc()
	m := g.join("g", sub("orders"))
	g.settle(m)
	if err := g.commit("g", m, &brokerv1.OffsetCommit{Topic: "orders", Partition: 0, Offset: 4, Metadata: "meta"}, oc("orders", 1, 2)); err != nil {
		t.Fatal(err)
	}
	e.restart()
	g = e.gc()
	got := g.fetchOffsets("g")
	if got["orders/0"] != 4 || got["orders/1"] != 2 || len(got) != 2 {
		t.Fatalf("after restart: offsets %v, want orders/0=4 orders/1=2", got)
	}
	d := g.describe("g")
	if d.GetState() != "empty" || d.GetPartitions()[0].GetMetadata() != "meta" {
		t.Fatalf("after restart: %v", d)
	}
}

func TestGroupStaleEpochCommitRefused(t *testing.T) {
	e := newGroupEnv(t)
	e.createTopic("orders", 2, nil)
	e.produceTo("orders", 0, 5)
	g := e.gc()
	a := g.join("g", sub("orders"))
	g.settle(a)
	old := *a
	b := g.join("g", sub("orders"))
	g.settle(a, b) // a gives one partition to b: its epoch moves on
	if old.epoch == a.epoch {
		t.Fatalf("epoch did not change on revocation: %d", a.epoch)
	}
	mine := a.owned[0].GetPartitions()[0]
	err := g.commit("g", &old, oc("orders", mine, 1))
	wantCode(t, err, connect.CodeFailedPrecondition, "stale member epoch", "group g", old.id, fmt.Sprint(old.epoch))
	if err := g.commit("g", a, oc("orders", mine, 1)); err != nil {
		t.Fatalf("commit at the current epoch: %v", err)
	}
	theirs := b.owned[0].GetPartitions()[0]
	wantCode(t, g.commit("g", a, oc("orders", theirs, 0)), connect.CodeFailedPrecondition, "does not own", fmt.Sprintf("orders/%d", theirs))
	wantCode(t, g.commit("g", nil, oc("orders", 0, 0)), connect.CodeFailedPrecondition, "group g", "2 members")
}

func TestGroupLagExact(t *testing.T) {
	e := newGroupEnv(t)
	e.createTopic("orders", 3, nil)
	e.produceTo("orders", 0, 10)
	e.produceTo("orders", 1, 7)
	g := e.gc()
	if err := g.commit("g", nil, oc("orders", 0, 4), oc("orders", 1, 7)); err != nil {
		t.Fatal(err)
	}
	e.produceTo("orders", 2, 2) // uncommitted: lag from the log start
	d := g.describe("g")
	var sb strings.Builder
	for _, p := range d.GetPartitions() {
		fmt.Fprintf(&sb, "%s/%d committed=%d lso=%d hwm=%d lag=%d\n", p.GetTopic(), p.GetPartition(), p.GetCommittedOffset(), p.GetLogStartOffset(), p.GetHighWatermark(), p.GetLag())
	}
	fmt.Fprintf(&sb, "total=%d\n", d.GetTotalLag())
	want := "orders/0 committed=4 lso=0 hwm=10 lag=6\norders/1 committed=7 lso=0 hwm=7 lag=0\norders/2 committed=-1 lso=0 hwm=2 lag=2\ntotal=8\n"
	if sb.String() != want {
		t.Fatalf("lag:\n%s\nwant:\n%s", sb.String(), want)
	}
}

func TestGroupDeleteAndDeletedTopic(t *testing.T) {
	e := newGroupEnv(t)
	e.createTopic("orders", 2, nil)
	e.createTopic("other", 1, nil)
	e.produceTo("orders", 0, 3)
	g := e.gc()
	if err := g.commit("g", nil, oc("orders", 0, 3), oc("other", 0, 0)); err != nil {
		t.Fatal(err)
	}
	m := g.join("g", sub("orders"))
	_, err := g.c.DeleteGroup(ctxT(t), connect.NewRequest(&brokerv1.DeleteGroupRequest{Group: "g"}))
	wantCode(t, err, connect.CodeFailedPrecondition, "group g has 1 members")
	if _, err := g.c.LeaveGroup(ctxT(t), connect.NewRequest(&brokerv1.LeaveGroupRequest{Group: "g", MemberId: m.id})); err != nil {
		t.Fatal(err)
	}
	// Deleting a topic takes its offsets with it, also across a new topic
	// of the same name.
	if _, err := e.topics.DeleteTopic(ctxT(t), connect.NewRequest(&brokerv1.DeleteTopicRequest{Name: "orders"})); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Millisecond) // topics are told apart by creation time (ms)
	e.createTopic("orders", 2, nil)
	if got := g.fetchOffsets("g"); len(got) != 1 || got["other/0"] != 0 {
		t.Fatalf("after deleting topic orders: offsets %v, want only other/0", got)
	}
	e.b.TickGroups()
	var rows int
	if err := e.db.QueryRow(`SELECT COUNT(*) FROM group_offsets WHERE topic = 'orders'`).Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("rows of the deleted topic left in meta.db: %d (%v)", rows, err)
	}
	if _, err := g.c.DeleteGroup(ctxT(t), connect.NewRequest(&brokerv1.DeleteGroupRequest{Group: "g"})); err != nil {
		t.Fatal(err)
	}
	if got := g.fetchOffsets("g"); len(got) != 0 {
		t.Fatalf("after DeleteGroup: offsets %v", got)
	}
	_, err = g.c.DescribeGroup(ctxT(t), connect.NewRequest(&brokerv1.DescribeGroupRequest{Group: "g"}))
	wantCode(t, err, connect.CodeNotFound, "group g", "group not found")
	_, err = g.c.DeleteGroup(ctxT(t), connect.NewRequest(&brokerv1.DeleteGroupRequest{Group: "g"}))
	wantCode(t, err, connect.CodeNotFound, "group g")
	res, err := g.c.ListGroups(ctxT(t), connect.NewRequest(&brokerv1.ListGroupsRequest{}))
	if err != nil || len(res.Msg.GetGroups()) != 0 {
		t.Fatalf("list after delete: %v %v", res, err)
	}
}

func TestGroupResetOffsets(t *testing.T) {
	e := newGroupEnv(t)
	e.createTopic("orders", 2, nil)
	base := e.clock.Now()
	e.produceTo("orders", 0, 4)
	e.clock.Advance(time.Minute)
	e.produceTo("orders", 0, 4)
	e.produceTo("orders", 1, 2)
	g := e.gc()
	reset := func(req *brokerv1.ResetOffsetsRequest) (map[int32]int64, error) {
		req.Group, req.Topic = "g", "orders"
		res, err := g.c.ResetOffsets(ctxT(t), connect.NewRequest(req))
		if err != nil {
			return nil, err
		}
		out := map[int32]int64{}
		for _, o := range res.Msg.GetOffsets() {
			out[o.GetPartition()] = o.GetOffset()
		}
		return out, nil
	}
	for _, tc := range []struct {
		name string
		req  *brokerv1.ResetOffsetsRequest
		want map[int32]int64
	}{
		{"latest", &brokerv1.ResetOffsetsRequest{To: &brokerv1.ResetOffsetsRequest_Spec{Spec: brokerv1.OffsetSpec_OFFSET_SPEC_LATEST}}, map[int32]int64{0: 8, 1: 2}},
		{"earliest", &brokerv1.ResetOffsetsRequest{To: &brokerv1.ResetOffsetsRequest_Spec{Spec: brokerv1.OffsetSpec_OFFSET_SPEC_EARLIEST}}, map[int32]int64{0: 0, 1: 0}},
		{"timestamp", &brokerv1.ResetOffsetsRequest{Partitions: []int32{0}, To: &brokerv1.ResetOffsetsRequest_Timestamp{Timestamp: timestamppb.New(base.Add(30 * time.Second))}}, map[int32]int64{0: 4}},
		{"offset", &brokerv1.ResetOffsetsRequest{Partitions: []int32{1}, To: &brokerv1.ResetOffsetsRequest_Offset{Offset: 1}}, map[int32]int64{1: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := reset(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("reset %s: %v, want %v", tc.name, got, tc.want)
			}
		})
	}
	if got := g.fetchOffsets("g"); got["orders/0"] != 4 || got["orders/1"] != 1 {
		t.Fatalf("stored offsets %v", got)
	}
	_, err := reset(&brokerv1.ResetOffsetsRequest{Partitions: []int32{1}, To: &brokerv1.ResetOffsetsRequest_Offset{Offset: 3}})
	wantCode(t, err, connect.CodeOutOfRange, "orders/1", "offset 3", "0 to 2")
	_, err = reset(&brokerv1.ResetOffsetsRequest{})
	wantCode(t, err, connect.CodeInvalidArgument, "group g", "spec, timestamp or offset")
	g.join("g", sub("orders"))
	_, err = reset(&brokerv1.ResetOffsetsRequest{To: &brokerv1.ResetOffsetsRequest_Spec{Spec: brokerv1.OffsetSpec_OFFSET_SPEC_LATEST}})
	wantCode(t, err, connect.CodeFailedPrecondition, "group g", "1 members", "force")
	if _, err := reset(&brokerv1.ResetOffsetsRequest{Force: true, To: &brokerv1.ResetOffsetsRequest_Spec{Spec: brokerv1.OffsetSpec_OFFSET_SPEC_LATEST}}); err != nil {
		t.Fatalf("forced reset: %v", err)
	}
}

// TestGroupErrors checks that refusals name what is wrong and where.
func TestGroupErrors(t *testing.T) {
	e := newGroupEnv(t)
	e.createTopic("orders", 2, nil)
	g := e.gc()
	ctx := ctxT(t)
	hb := func(r *brokerv1.HeartbeatRequest) error {
		_, err := g.c.Heartbeat(ctx, connect.NewRequest(r))
		return err
	}
	for _, tc := range []struct {
		name  string
		err   error
		code  connect.Code
		parts []string
	}{
		{"empty group", hb(&brokerv1.HeartbeatRequest{Subscription: sub("orders")}), connect.CodeInvalidArgument, []string{"group id is empty"}},
		{"join without subscription", hb(&brokerv1.HeartbeatRequest{Group: "g"}), connect.CodeInvalidArgument, []string{"group g", "subscription"}},
		{"no topics", hb(&brokerv1.HeartbeatRequest{Group: "g", Subscription: &brokerv1.Subscription{}}), connect.CodeInvalidArgument, []string{"group g", "no topics"}},
		{"bad regex", hb(&brokerv1.HeartbeatRequest{Group: "g", Subscription: &brokerv1.Subscription{TopicRegex: "("}}), connect.CodeInvalidArgument, []string{"group g", "topic regex"}},
		{"session timeout", hb(&brokerv1.HeartbeatRequest{Group: "g", Subscription: &brokerv1.Subscription{Topics: []string{"orders"}, SessionTimeout: durationpb.New(time.Hour)}}), connect.CodeInvalidArgument, []string{"group g", "session timeout 1h0m0s"}},
		{"unknown member", hb(&brokerv1.HeartbeatRequest{Group: "g", MemberId: "nobody", MemberEpoch: 3}), connect.CodeNotFound, []string{"group g", "member nobody", "unknown member"}},
		{"commit unknown topic", g.commit("g", nil, oc("nope", 0, 0)), connect.CodeNotFound, []string{"group g", `"nope"`}},
		{"commit unknown partition", g.commit("g", nil, oc("orders", 5, 0)), connect.CodeInvalidArgument, []string{"group g", "partition 5"}},
		{"commit past the end", g.commit("g", nil, oc("orders", 1, 9)), connect.CodeInvalidArgument, []string{"group g", "orders/1", "offset 9"}},
		{"commit twice", g.commit("g", nil, oc("orders", 1, 0), oc("orders", 1, 0)), connect.CodeInvalidArgument, []string{"orders/1 is listed twice"}},
		{"describe unknown", func() error {
			_, err := g.c.DescribeGroup(ctx, connect.NewRequest(&brokerv1.DescribeGroupRequest{Group: "ghost"}))
			return err
		}(), connect.CodeNotFound, []string{"group ghost"}},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.err, tc.code, tc.parts...) })
	}
}

// consumeStream is a Consume stream read by a goroutine into channels.
type consumeStream struct {
	cancel  context.CancelFunc
	assigns chan *brokerv1.ConsumeAssignment
	records chan *brokerv1.ConsumeRecords
	done    chan error
	// last is the latest assignment nextAssignment returned.
	last *brokerv1.ConsumeAssignment
}

func startConsume(t *testing.T, c brokerv1connect.GroupServiceClient, req *brokerv1.ConsumeRequest) *consumeStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &consumeStream{cancel: cancel, assigns: make(chan *brokerv1.ConsumeAssignment, 100), records: make(chan *brokerv1.ConsumeRecords, 1000), done: make(chan error, 1)}
	stream, err := c.Consume(ctx, connect.NewRequest(req))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		defer stream.Close()
		for stream.Receive() {
			switch ev := stream.Msg().GetEvent().(type) {
			case *brokerv1.ConsumeResponse_Assignment:
				s.assigns <- ev.Assignment
			case *brokerv1.ConsumeResponse_Records:
				s.records <- ev.Records
			}
		}
		s.done <- stream.Err()
	}()
	t.Cleanup(s.stop)
	return s
}

func (s *consumeStream) stop() {
	s.cancel()
	<-s.done
	s.done <- nil // later stops return at once
}

func (s *consumeStream) nextAssignment(t *testing.T) *brokerv1.ConsumeAssignment {
	t.Helper()
	select {
	case a := <-s.assigns:
		s.last = a
		return a
	case err := <-s.done:
		t.Fatalf("stream ended: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("no assignment within 20s")
	}
	return nil
}

// assignmentOf waits for an assignment of n partitions.
func (s *consumeStream) assignmentOf(t *testing.T, n int) *brokerv1.ConsumeAssignment {
	t.Helper()
	for {
		a := s.nextAssignment(t)
		got := 0
		for _, tp := range a.GetPartitions() {
			got += len(tp.GetPartitions())
		}
		if got == n {
			return a
		}
	}
}

func consumeReq(group string, topics ...string) *brokerv1.ConsumeRequest {
	return &brokerv1.ConsumeRequest{Group: group, Subscription: &brokerv1.Subscription{Topics: topics}, AutoOffsetReset: brokerv1.OffsetReset_OFFSET_RESET_EARLIEST}
}

// TestGroupConsumeResumesFromCommit consumes part of a topic through a
// Consume stream, committing as it prints, closes it, and checks that a new
// stream starts exactly at the commits: no record skipped.
func TestGroupConsumeResumesFromCommit(t *testing.T) {
	e := newGroupEnv(t)
	e.createTopic("orders", 3, nil)
	for p := range int32(3) {
		e.produceTo("orders", p, 20)
	}
	g := e.gc()
	s := startConsume(t, g.c, consumeReq("g", "orders"))
	a := s.assignmentOf(t, 3)
	seen := map[string]bool{}
	next := map[int32]int64{}
	for len(seen) < 30 {
		select {
		case r := <-s.records:
			for _, rec := range r.GetRecords() {
				if rec.GetOffset() != next[r.GetPartition()] {
					t.Fatalf("partition %d: got offset %d, want %d", r.GetPartition(), rec.GetOffset(), next[r.GetPartition()])
				}
				seen[string(rec.GetValue())] = true
				next[r.GetPartition()]++
			}
			m := &member{id: a.GetMemberId(), epoch: a.GetMemberEpoch()}
			if err := g.commit("g", m, oc("orders", r.GetPartition(), next[r.GetPartition()])); err != nil {
				t.Fatal(err)
			}
		case err := <-s.done:
			t.Fatalf("stream ended: %v", err)
		}
	}
	s.stop()
	// The stream left the group (as soon as the server sees it close).
	eventually(t, "the group is empty after the stream closed", func() bool { return g.describe("g").GetState() == "empty" })
	committed := g.fetchOffsets("g")
	for p := range int32(3) {
		e.produceTo("orders", p, 5)
	}
	s2 := startConsume(t, g.c, consumeReq("g", "orders"))
	s2.assignmentOf(t, 3)
	first := map[int32]int64{}
	total := map[int32]int64{}
	for n := 0; n < 3; {
		select {
		case r := <-s2.records:
			p := r.GetPartition()
			if _, ok := first[p]; !ok {
				first[p] = r.GetRecords()[0].GetOffset()
			}
			total[p] = r.GetRecords()[len(r.GetRecords())-1].GetOffset() + 1
			if total[p] == 25 {
				n++
			}
		case err := <-s2.done:
			t.Fatalf("stream ended: %v", err)
		case <-time.After(20 * time.Second):
			t.Fatalf("restarted stream read only %v", total)
		}
	}
	for p := range int32(3) {
		if want := committed[fmt.Sprintf("orders/%d", p)]; first[p] != want {
			t.Fatalf("partition %d: restarted at %d, committed %d", p, first[p], want)
		}
	}
}

// TestGroupConsumeRebalancesCooperatively starts a second stream and checks
// that partitions are split 3/3 and that, once the second stream delivers a
// partition, the first never delivers it again.
func TestGroupConsumeRebalancesCooperatively(t *testing.T) {
	e := newGroupEnv(t)
	e.createTopic("orders", 6, nil)
	g := e.gc()
	a := startConsume(t, g.c, consumeReq("g", "orders"))
	a.assignmentOf(t, 6)
	b := startConsume(t, g.c, consumeReq("g", "orders"))
	aa := a.assignmentOf(t, 3)
	ba := b.assignmentOf(t, 3)
	mine := map[int32]string{}
	for _, tp := range aa.GetPartitions() {
		for _, p := range tp.GetPartitions() {
			mine[p] = "a"
		}
	}
	for _, tp := range ba.GetPartitions() {
		for _, p := range tp.GetPartitions() {
			if mine[p] != "" {
				t.Fatalf("partition %d assigned to both streams", p)
			}
			mine[p] = "b"
		}
	}
	for p := range int32(6) {
		e.produceTo("orders", p, 3)
	}
	got := 0
	for got < 18 {
		select {
		case r := <-a.records:
			if mine[r.GetPartition()] != "a" {
				t.Fatalf("stream a delivered partition %d, which b owns", r.GetPartition())
			}
			got += len(r.GetRecords())
		case r := <-b.records:
			if mine[r.GetPartition()] != "b" {
				t.Fatalf("stream b delivered partition %d, which a owns", r.GetPartition())
			}
			got += len(r.GetRecords())
		case <-time.After(20 * time.Second):
			t.Fatalf("only %d of 18 records delivered", got)
		}
	}
	// Closing b hands its partitions back to a at once.
	b.stop()
	a.assignmentOf(t, 6)
}

func TestGroupConsumeEndsOnDrain(t *testing.T) {
	e := newGroupEnv(t)
	e.createTopic("orders", 1, nil)
	s := startConsume(t, e.gc().c, consumeReq("g", "orders"))
	s.assignmentOf(t, 1)
	e.b.Drain()
	select {
	case err := <-s.done:
		s.done <- nil
		if connect.CodeOf(err) != connect.CodeUnavailable {
			t.Fatalf("after drain: %v, want Unavailable", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("stream still open after drain")
	}
}

// eventually polls cond until it holds, failing after 20s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestGroupConsumeStaticMemberReturns closes a static member's stream and
// starts it again: within the session timeout it takes its partitions back
// without the other member ever getting them.
func TestGroupConsumeStaticMemberReturns(t *testing.T) {
	e := newGroupEnv(t)
	e.createTopic("orders", 4, nil)
	g := e.gc()
	static := func() *brokerv1.ConsumeRequest {
		r := consumeReq("g", "orders")
		r.Subscription.InstanceId = "worker-1"
		r.Subscription.SessionTimeout = durationpb.New(30 * time.Second)
		return r
	}
	a := startConsume(t, g.c, static())
	a.assignmentOf(t, 4)
	b := startConsume(t, g.c, consumeReq("g", "orders"))
	b.assignmentOf(t, 2)
	before := a.assignmentOf(t, 2)
	a.stop()
	// The static member keeps its place (and partitions) while away.
	eventually(t, "the closed static member's session timer runs", func() bool {
		d := g.describe("g")
		return len(d.GetMembers()) == 2
	})
	a2 := startConsume(t, g.c, static())
	after := a2.assignmentOf(t, 2)
	if fmt.Sprint(after.GetPartitions()) != fmt.Sprint(before.GetPartitions()) {
		t.Fatalf("restarted static member got %v, had %v", after.GetPartitions(), before.GetPartitions())
	}
	if d := g.describe("g"); len(d.GetMembers()) != 2 {
		t.Fatalf("%d members after the static restart, want 2", len(d.GetMembers()))
	}
}

// TestGroupConsumeRegexPicksUpNewTopic subscribes by regex and creates a
// matching topic later: the next tick assigns it.
func TestGroupConsumeRegexPicksUpNewTopic(t *testing.T) {
	e := newGroupEnv(t)
	e.createTopic("events.a", 1, nil)
	g := e.gc()
	s := startConsume(t, g.c, &brokerv1.ConsumeRequest{Group: "g", Subscription: &brokerv1.Subscription{TopicRegex: `events\..*`}, AutoOffsetReset: brokerv1.OffsetReset_OFFSET_RESET_EARLIEST})
	s.assignmentOf(t, 1)
	e.createTopic("events.b", 2, nil)
	e.createTopic("other", 2, nil)
	e.b.TickGroups()
	a := s.assignmentOf(t, 3)
	if got := fmt.Sprint(a.GetPartitions()); !strings.Contains(got, "events.b") || strings.Contains(got, "other") {
		t.Fatalf("assignment %s", got)
	}
	e.produceTo("events.b", 1, 2)
	select {
	case r := <-s.records:
		if r.GetTopic() != "events.b" || r.GetPartition() != 1 || len(r.GetRecords()) != 2 {
			t.Fatalf("records of %s/%d: %d", r.GetTopic(), r.GetPartition(), len(r.GetRecords()))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no records from the new topic")
	}
}

func TestGroupHeartbeatInterval(t *testing.T) {
	e := newGroupEnv(t)
	e.createTopic("orders", 1, nil)
	g := e.gc()
	for _, tc := range []struct {
		timeout, want time.Duration
	}{{3 * time.Second, time.Second}, {45 * time.Second, 5 * time.Second}} {
		res, err := g.c.Heartbeat(ctxT(t), connect.NewRequest(&brokerv1.HeartbeatRequest{Group: "g" + tc.timeout.String(), Subscription: &brokerv1.Subscription{Topics: []string{"orders"}, SessionTimeout: durationpb.New(tc.timeout)}}))
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Msg.GetHeartbeatInterval().AsDuration(); got != tc.want {
			t.Errorf("session timeout %v: heartbeat interval %v, want %v", tc.timeout, got, tc.want)
		}
	}
}

// TestGroupConsumeFencesStaticZombie starts a second stream with the same
// instance id while the first is still open: the newer one takes the
// partitions and the older stream ends with NotFound instead of delivering
// them too.
func TestGroupConsumeFencesStaticZombie(t *testing.T) {
	e := newGroupEnv(t)
	e.createTopic("orders", 2, nil)
	g := e.gc()
	req := func() *brokerv1.ConsumeRequest {
		r := consumeReq("g", "orders")
		r.Subscription.InstanceId = "worker-1"
		return r
	}
	old := startConsume(t, g.c, req())
	old.assignmentOf(t, 2)
	cur := startConsume(t, g.c, req())
	cur.assignmentOf(t, 2)
	select {
	case err := <-old.done:
		old.done <- nil
		wantCode(t, err, connect.CodeNotFound, "unknown member")
	case <-time.After(20 * time.Second):
		t.Fatal("the fenced stream is still open")
	}
}

// TestGroupTickerExpiresSessions lets the broker's own ticker (not the
// test) notice an expired session.
func TestGroupTickerExpiresSessions(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, func(c *broker.Config) {
		c.Now = clock.Now
		c.GroupTickInterval = 5 * time.Millisecond
	})
	e.createTopic("orders", 2, nil)
	g := (&groupEnv{testEnv: e, clock: clock}).gc()
	g.join("g", sub("orders"))
	clock.Advance(11 * time.Second)
	eventually(t, "the ticker removes the silent member", func() bool {
		// Without members or offsets the group is gone: NotFound.
		_, err := g.c.DescribeGroup(ctxT(t), connect.NewRequest(&brokerv1.DescribeGroupRequest{Group: "g"}))
		return connect.CodeOf(err) == connect.CodeNotFound
	})
}

// TestGroupConsumeChurn opens and closes Consume streams at random while
// records flow and a checker asks the broker, continuously, that no
// partition is held by two members; at the end every record was delivered
// (at least once) and the survivors share the partitions evenly.
func TestGroupConsumeChurn(t *testing.T) {
	e := newGroupEnv(t)
	e.createTopic("orders", 6, nil)
	g := e.gc()
	stop := make(chan struct{})
	checked := make(chan error, 1)
	go func() {
		n := 0
		defer func() { t.Logf("%d describe checks", n) }()
		for {
			select {
			case <-stop:
				checked <- nil
				return
			default:
			}
			res, err := g.c.DescribeGroup(context.Background(), connect.NewRequest(&brokerv1.DescribeGroupRequest{Group: "g"}))
			if err != nil {
				continue // between streams the group may be gone
			}
			held := map[string]string{}
			for _, m := range res.Msg.GetMembers() {
				for _, p := range tpStrings(m.GetAssignment()) {
					if o, ok := held[p]; ok {
						checked <- fmt.Errorf("%s held by both %s and %s", p, o, m.GetMemberId())
						return
					}
					held[p] = m.GetMemberId()
				}
			}
			n++
		}
	}()
	rng := rand.New(rand.NewPCG(3, 4))
	var open []*consumeStream
	seen := map[string]bool{}
	var seenMu sync.Mutex
	drain := func(s *consumeStream) {
		for {
			select {
			case r := <-s.records:
				seenMu.Lock()
				for _, rec := range r.GetRecords() {
					seen[fmt.Sprintf("%d/%d", r.GetPartition(), rec.GetOffset())] = true
				}
				seenMu.Unlock()
			default:
				return
			}
		}
	}
	for i := range 30 {
		if len(open) == 0 || (len(open) < 4 && rng.IntN(2) == 0) {
			open = append(open, startConsume(t, g.c, consumeReq("g", "orders")))
		} else {
			k := rng.IntN(len(open))
			drain(open[k])
			open[k].stop()
			drain(open[k])
			open = slices.Delete(open, k, k+1)
		}
		e.produceTo("orders", int32(i%6), 5)
		for _, s := range open {
			drain(s)
		}
	}
	// Settle: every survivor gets its share, then everything is read.
	want := 6 / len(open)
	for _, s := range open {
		s.assignmentOfAtLeast(t, want)
	}
	eventually(t, "every record is delivered", func() bool {
		for _, s := range open {
			drain(s)
		}
		seenMu.Lock()
		defer seenMu.Unlock()
		return len(seen) == 150
	})
	close(stop)
	if err := <-checked; err != nil {
		t.Fatal(err)
	}
}

// assignmentOfAtLeast waits until the stream's latest assignment has at
// least n partitions (it may already have been announced).
func (s *consumeStream) assignmentOfAtLeast(t *testing.T, n int) {
	t.Helper()
	if s.last != nil && len(tpStrings(s.last.GetPartitions())) >= n {
		return
	}
	for {
		a := s.nextAssignment(t)
		if len(tpStrings(a.GetPartitions())) >= n {
			return
		}
	}
}

func tpStrings(tps []*brokerv1.TopicPartitions) []string {
	var out []string
	for _, tp := range tps {
		for _, p := range tp.GetPartitions() {
			out = append(out, fmt.Sprintf("%s/%d", tp.GetTopic(), p))
		}
	}
	return out
}

// TestGroupConsumeTopicDeleted deletes a topic under an open stream: the
// stream stays open, its assignment shrinks at the next tick, and it keeps
// delivering the topics that remain.
func TestGroupConsumeTopicDeleted(t *testing.T) {
	e := newGroupEnv(t)
	e.createTopic("a", 2, nil)
	e.createTopic("b", 1, nil)
	g := e.gc()
	s := startConsume(t, g.c, consumeReq("g", "a", "b"))
	s.assignmentOf(t, 3)
	if _, err := e.topics.DeleteTopic(ctxT(t), connect.NewRequest(&brokerv1.DeleteTopicRequest{Name: "a"})); err != nil {
		t.Fatal(err)
	}
	e.b.TickGroups()
	if got := tpStrings(s.assignmentOf(t, 1).GetPartitions()); fmt.Sprint(got) != "[b/0]" {
		t.Fatalf("assignment after deleting a: %v", got)
	}
	e.produceTo("b", 0, 1)
	select {
	case r := <-s.records:
		if r.GetTopic() != "b" {
			t.Fatalf("records of %s", r.GetTopic())
		}
	case err := <-s.done:
		t.Fatalf("stream ended: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("no records after the deletion")
	}
}
