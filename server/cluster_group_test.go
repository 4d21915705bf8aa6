package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/pgtest"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// groupNode is a shared-log cluster node with a short group lease, and a
// way to stop it before the test ends.
type groupNode struct {
	*sharedNode
	groups brokerv1connect.GroupServiceClient
	stop   func() error
	once   sync.Once
}

// groupLeaseTTL keeps failovers short in tests.
const groupLeaseTTL = 2 * time.Second

func startGroupNode(t *testing.T, meta, objects, id string) *groupNode {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})).With("node", id)
	s, url, stop, err := Start(context.Background(), Config{DataDir: t.TempDir(), Meta: meta, NodeID: id, Objects: objects,
		KafkaAddr: "127.0.0.1:0", Fsync: neverFsync(t), Logger: logger, GroupLeaseTTL: groupLeaseTTL}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &groupNode{sharedNode: &sharedNode{s: s, url: url,
		topics: brokerv1connect.NewTopicServiceClient(http.DefaultClient, url),
		broker: brokerv1connect.NewBrokerServiceClient(http.DefaultClient, url)},
		groups: brokerv1connect.NewGroupServiceClient(http.DefaultClient, url)}
	n.stop = func() error {
		var err error
		n.once.Do(func() { err = stop() })
		return err
	}
	t.Cleanup(func() {
		if err := n.stop(); err != nil {
			t.Errorf("stop node %s: %v", id, err)
		}
	})
	return n
}

// lease reads group's lease row straight from PostgreSQL.
func lease(t *testing.T, meta, group string) (holder string, epoch int64) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), meta)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(context.Background(), `SELECT node_id, epoch FROM group_leases WHERE group_id = $1`, group).Scan(&holder, &epoch); err != nil && err != pgx.ErrNoRows {
		t.Fatal(err)
	}
	return holder, epoch
}

// offsetWatch polls a group's committed offsets in PostgreSQL and records
// any that went backwards.
type offsetWatch struct {
	mu        sync.Mutex
	last      map[int32]int64
	backwards []string
	stop      chan struct{}
	done      chan struct{}
}

func watchOffsets(t *testing.T, meta, group string) *offsetWatch {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), meta)
	if err != nil {
		t.Fatal(err)
	}
	w := &offsetWatch{last: map[int32]int64{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		defer conn.Close(context.Background())
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			rows, err := conn.Query(context.Background(), `SELECT partition, "offset" FROM group_offsets WHERE group_id = $1`, group)
			if err != nil {
				continue
			}
			w.mu.Lock()
			for rows.Next() {
				var p int32
				var o int64
				if rows.Scan(&p, &o) != nil {
					continue
				}
				if prev, ok := w.last[p]; ok && o < prev {
					w.backwards = append(w.backwards, fmt.Sprintf("partition %d: %d after %d", p, o, prev))
				}
				w.last[p] = o
			}
			w.mu.Unlock()
			rows.Close()
		}
	}()
	t.Cleanup(w.close)
	return w
}

func (w *offsetWatch) close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// tally counts deliveries per partition and offset, per consumer.
type tally struct {
	mu   sync.Mutex
	seen map[[2]int64][]string // (partition, offset) -> consumers
}

func (ta *tally) add(who string, r *kgo.Record) {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	k := [2]int64{int64(r.Partition), r.Offset}
	ta.seen[k] = append(ta.seen[k], who)
}

func (ta *tally) distinct() int {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	return len(ta.seen)
}

// twice lists the records delivered more than once.
func (ta *tally) twice() []string {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	var out []string
	for k, who := range ta.seen {
		if len(who) > 1 {
			out = append(out, fmt.Sprintf("%d/%d by %v", k[0], k[1], who))
		}
	}
	return out
}

// groupConsumer is a kgo member of a group that commits what it polled
// before it lets a rebalance go on, so that a partition moves only at a
// committed position.
type groupConsumer struct {
	name string
	cl   *kgo.Client
	done chan struct{}
}

func startGroupConsumer(t *testing.T, name, seed, group, topic string, ta *tally) *groupConsumer {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seed), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond), kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(500*time.Millisecond),
		kgo.RetryTimeout(60*time.Second), kgo.ClientID(name))
	if err != nil {
		t.Fatal(err)
	}
	gc := &groupConsumer{name: name, cl: cl, done: make(chan struct{})}
	go func() {
		defer close(gc.done)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			fs := cl.PollFetches(ctx)
			cancel()
			if fs.IsClientClosed() {
				return
			}
			var recs []*kgo.Record
			fs.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
			if len(recs) > 0 {
				cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := cl.CommitRecords(cctx, recs...)
				ccancel()
				if err != nil {
					// Not committed: the partition's next owner reads these
					// again; they are not counted here.
					t.Logf("consumer %s: commit: %v", name, err)
				} else {
					for _, r := range recs {
						ta.add(name, r)
					}
				}
			}
			cl.AllowRebalance()
		}
	}()
	t.Cleanup(gc.close)
	return gc
}

func (gc *groupConsumer) close() {
	select {
	case <-gc.done:
		return
	default:
	}
	gc.cl.Close()
	<-gc.done
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Three nodes, one group: kgo consumers bootstrapped from different nodes
// join one group at the node holding its lease and split the partitions:
// every committed record was delivered exactly once. The holder is stopped;
// another node takes the lease at a higher epoch, the members rejoin there,
// the rest is consumed, and no committed offset ever went backwards. Any
// node describes the group as its coordinator sees it.
func TestClusterGroupKafkaConsumers(t *testing.T) {
	meta := pgtest.DB(t)
	objects := "file://" + t.TempDir()
	nodes := []*groupNode{
		startGroupNode(t, meta, objects, "a"),
		startGroupNode(t, meta, objects, "b"),
		startGroupNode(t, meta, objects, "c"),
	}
	ctx := context.Background()
	const topic, group, parts, perPart = "events", "g", 6, 50
	if _, err := nodes[0].topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: topic, Partitions: parts})); err != nil {
		t.Fatal(err)
	}
	produce := func(round int) {
		for p := range int32(parts) {
			var vals []string
			for i := range perPart {
				vals = append(vals, fmt.Sprintf("r%d-p%d-%d", round, p, i))
			}
			nodes[int(p)%len(nodes)].produce(t, topic, p, vals...)
		}
	}
	offs := watchOffsets(t, meta, group)
	ta := &tally{seen: map[[2]int64][]string{}}
	for i, n := range nodes {
		startGroupConsumer(t, fmt.Sprintf("c%d", i), n.s.KafkaAddr(), group, topic, ta)
	}
	// One group of three members, whichever node is asked (a node that
	// does not coordinate it forwards the call), before anything is
	// produced: consumers of separate groups would each read every record.
	waitFor(t, "one group of three members, each with partitions", 90*time.Second, func() bool {
		d, err := nodes[0].groups.DescribeGroup(ctx, connect.NewRequest(&brokerv1.DescribeGroupRequest{Group: group}))
		if err != nil || len(d.Msg.GetMembers()) != 3 {
			return false
		}
		for _, m := range d.Msg.GetMembers() {
			if len(m.GetAssignment()) == 0 {
				return false
			}
		}
		return true
	})
	produce(0)
	waitFor(t, "the first round consumed", 90*time.Second, func() bool { return ta.distinct() == parts*perPart })
	if dup := ta.twice(); len(dup) > 0 {
		t.Errorf("records delivered twice before any failover (two groups?): %d, e.g. %v", len(dup), dup[:min(len(dup), 5)])
	}

	// One coordinator: the lease holder; the others answer NOT_COORDINATOR
	// over Kafka, and over Connect say who coordinates.
	holder, epoch := lease(t, meta, group)
	if holder == "" {
		t.Fatal("no lease row for the group")
	}
	var hn *groupNode
	for _, n := range nodes {
		if n.s.cfg.NodeID == holder {
			hn = n
		}
	}
	for _, n := range nodes {
		d, err := n.groups.DescribeGroup(ctx, connect.NewRequest(&brokerv1.DescribeGroupRequest{Group: group}))
		if err != nil {
			t.Errorf("describe group on %s (holder %s): %v", n.s.cfg.NodeID, holder, err)
			continue
		}
		if got := len(d.Msg.GetMembers()); got != 3 {
			t.Errorf("describe group on %s: %d members, want 3", n.s.cfg.NodeID, got)
		}
	}

	// Stop the holder: another node takes over at a higher epoch.
	t.Logf("stopping the coordinator, node %s (epoch %d)", holder, epoch)
	if err := hn.stop(); err != nil {
		t.Fatalf("stop %s: %v", holder, err)
	}
	var alive []*groupNode
	for _, n := range nodes {
		if n != hn {
			alive = append(alive, n)
		}
	}
	nodes = alive
	produce(1)
	waitFor(t, "the second round consumed after the failover", 120*time.Second, func() bool { return ta.distinct() == 2*parts*perPart })
	holder2, epoch2 := lease(t, meta, group)
	if holder2 == holder || epoch2 <= epoch {
		t.Errorf("after stopping %s the lease is %s at epoch %d; want another node at an epoch above %d", holder, holder2, epoch2, epoch)
	}
	offs.close()
	if len(offs.backwards) > 0 {
		t.Errorf("committed offsets went backwards: %v", offs.backwards)
	}
	for p := range int32(parts) {
		if got := offs.last[p]; got != 2*perPart {
			t.Errorf("partition %d: committed %d, want %d", p, got, 2*perPart)
		}
	}
}

// A group coordinated by node a, reached from the others: over Connect a
// Consume stream opened on b is relayed from a (records arrive, the member
// shows in a's description), a commit sent to c lands, and describe on any
// node agrees; over Kafka, b answers group requests NOT_COORDINATOR and
// FindCoordinator on b names a, listed in b's Metadata.
func TestClusterGroupFromAnyNode(t *testing.T) {
	meta := pgtest.DB(t)
	objects := "file://" + t.TempDir()
	a := startGroupNode(t, meta, objects, "a")
	b := startGroupNode(t, meta, objects, "b")
	c := startGroupNode(t, meta, objects, "c")
	ctx := context.Background()
	if _, err := a.topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "t", Partitions: 1})); err != nil {
		t.Fatal(err)
	}
	a.produce(t, "t", 0, "x", "y", "z")
	// a takes the lease: the first member joins there.
	hb, err := a.groups.Heartbeat(ctx, connect.NewRequest(&brokerv1.HeartbeatRequest{Group: "g",
		Subscription: &brokerv1.Subscription{Topics: []string{"other"}}}))
	if err != nil {
		t.Fatal(err)
	}
	if holder, _ := lease(t, meta, "g"); holder != "a" {
		t.Fatalf("lease holder %q, want a", holder)
	}

	// Consume on b, relayed from a.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := b.groups.Consume(sctx, connect.NewRequest(&brokerv1.ConsumeRequest{Group: "g",
		Subscription: &brokerv1.Subscription{Topics: []string{"t"}}, AutoOffsetReset: brokerv1.OffsetReset_OFFSET_RESET_EARLIEST}))
	if err != nil {
		t.Fatal(err)
	}
	var memberID string
	var memberEpoch int32
	var got []string
	for len(got) < 3 && stream.Receive() {
		switch ev := stream.Msg().GetEvent().(type) {
		case *brokerv1.ConsumeResponse_Assignment:
			memberID, memberEpoch = ev.Assignment.GetMemberId(), ev.Assignment.GetMemberEpoch()
		case *brokerv1.ConsumeResponse_Records:
			for _, r := range ev.Records.GetRecords() {
				got = append(got, string(r.GetValue()))
			}
		}
	}
	if len(got) != 3 {
		t.Fatalf("Consume on b got %v (%v), want x y z", got, stream.Err())
	}
	// The commit goes to c, which forwards it to a.
	if _, err := c.groups.CommitOffsets(ctx, connect.NewRequest(&brokerv1.CommitOffsetsRequest{Group: "g", MemberId: memberID, MemberEpoch: memberEpoch,
		Offsets: []*brokerv1.OffsetCommit{{Topic: "t", Partition: 0, Offset: 3}}})); err != nil {
		t.Fatalf("commit on c for a member of a's: %v", err)
	}
	for _, n := range []*groupNode{a, b, c} {
		d, err := n.groups.DescribeGroup(ctx, connect.NewRequest(&brokerv1.DescribeGroupRequest{Group: "g"}))
		if err != nil {
			t.Fatalf("describe on %s: %v", n.s.cfg.NodeID, err)
		}
		ids := map[string]bool{}
		for _, m := range d.Msg.GetMembers() {
			ids[m.GetMemberId()] = true
		}
		if len(ids) != 2 || !ids[memberID] || !ids[hb.Msg.GetMemberId()] {
			t.Errorf("describe on %s: members %v, want %s and %s", n.s.cfg.NodeID, ids, memberID, hb.Msg.GetMemberId())
		}
		var committed int64 = -1
		for _, p := range d.Msg.GetPartitions() {
			if p.GetTopic() == "t" {
				committed = p.GetCommittedOffset()
			}
		}
		if committed != 3 {
			t.Errorf("describe on %s: committed %d, want 3", n.s.cfg.NodeID, committed)
		}
	}

	// b coordinates another group; every node lists both, with the
	// coordinators' member counts (Connect), and so does Kafka's
	// ListGroups asked of every node (kadm).
	if _, err := b.groups.Heartbeat(ctx, connect.NewRequest(&brokerv1.HeartbeatRequest{Group: "h",
		Subscription: &brokerv1.Subscription{Topics: []string{"t"}}})); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*groupNode{a, b, c} {
		lg, err := n.groups.ListGroups(ctx, connect.NewRequest(&brokerv1.ListGroupsRequest{}))
		if err != nil {
			t.Fatalf("list groups on %s: %v", n.s.cfg.NodeID, err)
		}
		got := map[string]int32{}
		for _, g := range lg.Msg.GetGroups() {
			got[g.GetGroup()] = g.GetMembers()
		}
		if len(got) != 2 || got["g"] != 2 || got["h"] != 1 {
			t.Errorf("list groups on %s = %v, want g with 2 members and h with 1", n.s.cfg.NodeID, got)
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.s.KafkaAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	listed, err := kadm.NewClient(cl).ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if names := listed.Groups(); len(names) != 2 || listed["g"].Coordinator != a.s.cluster.member.KafkaID || listed["h"].Coordinator != b.s.cluster.member.KafkaID {
		t.Errorf("kadm ListGroups = %+v; want g from a (node %d) and h from b (node %d)", listed, a.s.cluster.member.KafkaID, b.s.cluster.member.KafkaID)
	}

	// Kafka on b.
	seed := cl.SeedBrokers()[0]
	md, err := seed.Request(ctx, kmsg.NewPtrMetadataRequest())
	if err != nil {
		t.Fatal(err)
	}
	brokers := map[int32]string{}
	for _, br := range md.(*kmsg.MetadataResponse).Brokers {
		brokers[br.NodeID] = fmt.Sprintf("%s:%d", br.Host, br.Port)
	}
	if len(brokers) != 3 {
		t.Errorf("b's Metadata lists brokers %v, want the three nodes", brokers)
	}
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKeys = []string{"g"}
	fr, err := seed.Request(ctx, fc)
	if err != nil {
		t.Fatal(err)
	}
	co := fr.(*kmsg.FindCoordinatorResponse).Coordinators[0]
	if co.ErrorCode != 0 || fmt.Sprintf("%s:%d", co.Host, co.Port) != a.s.KafkaAdvertisedAddr() || brokers[co.NodeID] != a.s.KafkaAdvertisedAddr() {
		t.Errorf("FindCoordinator on b = node %d at %s:%d (code %d); want a's %s, as Metadata lists it", co.NodeID, co.Host, co.Port, co.ErrorCode, a.s.KafkaAdvertisedAddr())
	}
	// A holder that is not alive (its lease not expired yet) is not
	// reachable: COORDINATOR_NOT_AVAILABLE, which clients retry.
	conn, err := pgx.Connect(ctx, meta)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO group_leases (group_id, node_id, epoch, expires_at) VALUES ('ghosted', 'ghost', 1, now() + interval '1 hour')`); err != nil {
		t.Fatal(err)
	}
	fc = kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKeys = []string{"ghosted", "g"}
	fr, err = seed.Request(ctx, fc)
	if err != nil {
		t.Fatal(err)
	}
	if cs := fr.(*kmsg.FindCoordinatorResponse).Coordinators; len(cs) != 2 || cs[0].ErrorCode != kerr.CoordinatorNotAvailable.Code || cs[1].ErrorCode != 0 || cs[1].NodeID != co.NodeID {
		t.Errorf("FindCoordinator of a dead holder's group and of g = %+v; want COORDINATOR_NOT_AVAILABLE, then a", cs)
	}
	of := kmsg.NewPtrOffsetFetchRequest()
	og := kmsg.NewOffsetFetchRequestGroup()
	og.Group = "g"
	of.Group, of.Groups = "g", []kmsg.OffsetFetchRequestGroup{og}
	or, err := seed.Request(ctx, of)
	if err != nil {
		t.Fatal(err)
	}
	ofr := or.(*kmsg.OffsetFetchResponse)
	code := ofr.ErrorCode
	if len(ofr.Groups) > 0 {
		code = ofr.Groups[0].ErrorCode
	}
	if code != kerr.NotCoordinator.Code {
		t.Errorf("OffsetFetch v%d on b: code %d, want NOT_COORDINATOR", of.Version, code)
	}
	jg := kmsg.NewPtrJoinGroupRequest()
	jg.Group, jg.ProtocolType, jg.SessionTimeoutMillis, jg.RebalanceTimeoutMillis = "g", "consumer", 10000, 10000
	jg.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
	jr, err := seed.Request(ctx, jg)
	if err != nil {
		t.Fatal(err)
	}
	if code := jr.(*kmsg.JoinGroupResponse).ErrorCode; code != kerr.NotCoordinator.Code {
		t.Errorf("JoinGroup on b: code %d, want NOT_COORDINATOR", code)
	}
}

// A commit reaching the coordinator right after the records were appended
// through another node is accepted: the coordinator waits for its view of
// the partition's high watermark to catch up rather than refusing an
// offset it has not heard of yet (OFFSET_OUT_OF_RANGE).
func TestClusterGroupCommitAheadOfView(t *testing.T) {
	meta := pgtest.DB(t)
	objects := "file://" + t.TempDir()
	a := startGroupNode(t, meta, objects, "a")
	b := startGroupNode(t, meta, objects, "b")
	ctx := context.Background()
	if _, err := a.topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "t", Partitions: 1})); err != nil {
		t.Fatal(err)
	}
	// b coordinates the group (an admin commit: no members).
	if _, err := b.groups.CommitOffsets(ctx, connect.NewRequest(&brokerv1.CommitOffsetsRequest{Group: "g",
		Offsets: []*brokerv1.OffsetCommit{{Topic: "t", Partition: 0, Offset: 0}}})); err != nil {
		t.Fatal(err)
	}
	if holder, _ := lease(t, meta, "g"); holder != "b" {
		t.Fatalf("holder %q, want b", holder)
	}
	for i := range 30 {
		res := a.produce(t, "t", 0, fmt.Sprint(i))
		next := res[0].GetOffset() + 1
		if _, err := b.groups.CommitOffsets(ctx, connect.NewRequest(&brokerv1.CommitOffsetsRequest{Group: "g",
			Offsets: []*brokerv1.OffsetCommit{{Topic: "t", Partition: 0, Offset: next}}})); err != nil {
			t.Fatalf("round %d: commit of %d on b right after the append on a: %v", i, next, err)
		}
	}
}
