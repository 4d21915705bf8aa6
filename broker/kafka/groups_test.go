package kafka_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/broker"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
	"github.com/sluicehq/sluice/server"
)

// Consumer groups over the Kafka listener with franz-go: classic groups
// (client-side cooperative-sticky and range balancers, static members) and
// KIP-848 groups (server-side assignors), plus the admin calls. Timeouts are
// never asserted: the tests poll with generous deadlines.

// groupDeadline bounds how long a test waits for a group to settle or for
// records to arrive.
const groupDeadline = 60 * time.Second

// produceValues produces values v<from>..v<from+n-1> spread round-robin
// over the topic's partitions, and waits for them.
func produceValues(t *testing.T, addr, topic string, from, n int) {
	t.Helper()
	cl := newClient(t, addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	var recs []*kgo.Record
	for i := from; i < from+n; i++ {
		recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, "v%05d", i)})
	}
	if err := cl.ProduceSync(testCtx(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	cl.Close()
}

// tally counts what every member of a test group consumed.
type tally struct {
	mu   sync.Mutex
	seen map[string][]string // value -> members that consumed it
}

func newTally() *tally { return &tally{seen: map[string][]string{}} }

func (ty *tally) add(member string, fs kgo.Fetches) {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	fs.EachRecord(func(r *kgo.Record) { ty.seen[string(r.Value)] = append(ty.seen[string(r.Value)], member) })
}

// waitFor polls until the tally holds n distinct values, then checks that
// each was consumed once.
func (ty *tally) waitFor(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(groupDeadline)
	for {
		ty.mu.Lock()
		got := len(ty.seen)
		var dup []string
		for v, ms := range ty.seen {
			if len(ms) > 1 {
				dup = append(dup, fmt.Sprintf("%s by %v", v, ms))
			}
		}
		ty.mu.Unlock()
		if len(dup) > 0 {
			sort.Strings(dup)
			t.Fatalf("%d records consumed more than once, e.g. %s", len(dup), dup[0])
		}
		if got == n {
			return
		}
		if got > n || time.Now().After(deadline) {
			t.Fatalf("consumed %d distinct records, want %d", got, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// member is one kgo consumer of a test group. It commits synchronously
// after every poll, before it lets a rebalance proceed, so that every
// record is consumed exactly once across rebalances.
type member struct {
	name   string
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}
}

// startMember starts a group consumer of topic.
func startMember(t *testing.T, addr, group, topic, name string, ty *tally, opts ...kgo.Opt) *member {
	t.Helper()
	base := []kgo.Opt{
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.ClientID(name),
		kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.SessionTimeout(10 * time.Second), kgo.HeartbeatInterval(300 * time.Millisecond),
	}
	cl := newClient(t, addr, append(base, opts...)...)
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{name: name, cl: cl, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				cl.AllowRebalance()
				return
			}
			ty.add(name, fs)
			if err := cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
				t.Logf("%s: commit: %v", name, err)
			}
			cl.AllowRebalance()
		}
	}()
	t.Cleanup(m.stop)
	return m
}

// stop ends the poll loop and closes the client (a dynamic member leaves
// the group; a static one does not).
func (m *member) stop() {
	if m.cancel == nil {
		return
	}
	m.cancel()
	<-m.done
	m.cl.Close()
	m.cancel = nil
}

// groupView is the group as the broker core describes it.
func groupView(t *testing.T, srv *server.Server, group string) broker.GroupDescription {
	t.Helper()
	d, err := srv.Broker.DescribeGroup(testCtx(t), group)
	if err != nil {
		t.Fatalf("describe group %s: %v", group, err)
	}
	return d
}

// waitSettled polls the broker until the group has members members, each
// owning partitions, disjoint and covering all partitions of the topic,
// and (when lag0) no lag; it returns the owner of each partition.
func waitSettled(t *testing.T, srv *server.Server, group string, members, partitions int, lag0 bool) map[int32]string {
	t.Helper()
	deadline := time.Now().Add(groupDeadline)
	var last string
	for {
		d, err := srv.Broker.DescribeGroup(testCtx(t), group)
		if err == nil {
			owners := map[int32]string{}
			disjoint := true
			for _, m := range d.Members {
				for _, tp := range m.Held {
					if _, dup := owners[tp.Partition]; dup {
						disjoint = false
					}
					owners[tp.Partition] = m.ID
				}
			}
			if !disjoint {
				t.Fatalf("group %s: a partition has two owners: %+v", group, d.Members)
			}
			busy := 0
			for _, m := range d.Members {
				if len(m.Held) > 0 {
					busy++
				}
			}
			last = fmt.Sprintf("state %s, %d members (%d owning), %d partitions owned, lag %d", d.State, len(d.Members), busy, len(owners), d.TotalLag)
			if d.State == "stable" && len(d.Members) == members && busy == min(members, partitions) && len(owners) == partitions && (!lag0 || d.TotalLag == 0) {
				return owners
			}
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s did not settle: %s", group, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runGroup is the shared scenario: three members share six partitions,
// consume everything exactly once with lag 0; one leaves and the others
// take over its partitions.
func runGroup(t *testing.T, addr string, srv *server.Server, group string, opts ...kgo.Opt) {
	topic := "t-" + group
	createTopicCore(t, srv, topic, 6, nil)
	ty := newTally()
	var ms []*member
	for i := range 3 {
		ms = append(ms, startMember(t, addr, group, topic, fmt.Sprintf("c%d", i), ty, opts...))
	}
	waitSettled(t, srv, group, 3, 6, false)
	produceValues(t, addr, topic, 0, 600)
	ty.waitFor(t, 600)
	waitSettled(t, srv, group, 3, 6, true)

	ms[2].stop()
	owners := waitSettled(t, srv, group, 2, 6, false)
	d := groupView(t, srv, group)
	for p, o := range owners {
		if !slices.ContainsFunc(d.Members, func(m broker.GroupMember) bool { return m.ID == o }) {
			t.Fatalf("partition %d owned by %s, not a member", p, o)
		}
	}
	produceValues(t, addr, topic, 600, 300)
	ty.waitFor(t, 900)
	waitSettled(t, srv, group, 2, 6, true)
	ty.mu.Lock()
	defer ty.mu.Unlock()
	for v, who := range ty.seen {
		if v >= "v00600" && who[0] == ms[2].name {
			t.Fatalf("%s consumed by the member that left", v)
		}
	}
}

func TestGroupClassicCooperativeSticky(t *testing.T) {
	addr, _, srv := startServer(t)
	runGroup(t, addr, srv, "coop", kgo.Balancers(kgo.CooperativeStickyBalancer()))
	d := groupView(t, srv, "coop")
	if d.Assignor != "cooperative-sticky" {
		t.Fatalf("assignor %q", d.Assignor)
	}
}

func TestGroupClassicRange(t *testing.T) {
	addr, url, srv := startServer(t)
	runGroup(t, addr, srv, "ranged", kgo.Balancers(kgo.RangeBalancer()))
	if d := groupView(t, srv, "ranged"); d.Assignor != "range" {
		t.Fatalf("assignor %q", d.Assignor)
	}
	// What `sluice group describe` shows: the Connect API's DescribeGroup.
	gc := brokerv1connect.NewGroupServiceClient(http.DefaultClient, url)
	resp, err := gc.DescribeGroup(testCtx(t), connect.NewRequest(&brokerv1.DescribeGroupRequest{Group: "ranged"}))
	if err != nil {
		t.Fatal(err)
	}
	d := resp.Msg
	if d.GetState() != "stable" || d.GetAssignor() != "range" || len(d.GetMembers()) != 2 || d.GetTotalLag() != 0 || len(d.GetPartitions()) != 6 {
		t.Fatalf("DescribeGroup over Connect: %v", d)
	}
	for _, m := range d.GetMembers() {
		if len(m.GetAssignment()) != 1 || len(m.GetAssignment()[0].GetPartitions()) != 3 || !slices.Equal(m.GetTopics(), []string{"t-ranged"}) {
			t.Fatalf("member %v", m)
		}
	}
	for _, p := range d.GetPartitions() {
		if p.GetCommittedOffset() != p.GetHighWatermark() || p.GetOwner() == "" {
			t.Fatalf("partition %v", p)
		}
	}
}

func TestGroupClassicRoundRobin(t *testing.T) {
	addr, _, srv := startServer(t)
	runGroup(t, addr, srv, "rr", kgo.Balancers(kgo.RoundRobinBalancer()))
	if d := groupView(t, srv, "rr"); d.Assignor != "roundrobin" {
		t.Fatalf("assignor %q", d.Assignor)
	}
}

func TestGroupKIP848(t *testing.T) {
	addr, _, srv := startServer(t)
	ctx := context.WithValue(context.Background(), "opt_in_kafka_next_gen_balancer_beta", true) //nolint:staticcheck // franz-go's documented opt-in key
	runGroup(t, addr, srv, "next", kgo.WithContext(ctx), kgo.Balancers(kgo.CooperativeStickyBalancer()))
	d := groupView(t, srv, "next")
	if d.Assignor != "uniform" {
		t.Fatalf("assignor %q, want the server-side uniform", d.Assignor)
	}
	adm := newAdmin(t, addr)
	described, err := adm.DescribeConsumerGroups(testCtx(t), "next")
	if err != nil {
		t.Fatalf("ConsumerGroupDescribe: %v", err)
	}
	g := described["next"]
	if g.Err != nil || g.State != "Stable" || len(g.Members) != 2 {
		t.Fatalf("ConsumerGroupDescribe: %+v", g)
	}
	// DescribeGroups answers a KIP-848 group as Kafka does: Dead.
	dg, err := adm.DescribeGroups(testCtx(t), "next")
	if err != nil {
		t.Fatal(err)
	}
	if s := dg["next"].State; s != "Dead" {
		t.Fatalf("DescribeGroups of a KIP-848 group: state %q, want Dead", s)
	}
}

// TestGroupStaticRejoin: a static member that restarts within the session
// timeout gets its partitions back without a rebalance.
func TestGroupStaticRejoin(t *testing.T) {
	t.Run("classic", func(t *testing.T) { testStaticRejoin(t, false) })
	t.Run("KIP-848", func(t *testing.T) { testStaticRejoin(t, true) })
}

func testStaticRejoin(t *testing.T, next bool) {
	addr, _, srv := startServer(t)
	createTopicCore(t, srv, "st", 6, nil)
	ty := newTally()
	ctx := context.Background()
	if next {
		ctx = context.WithValue(ctx, "opt_in_kafka_next_gen_balancer_beta", true) //nolint:staticcheck // franz-go's documented opt-in key
	}
	opts := func(i int) []kgo.Opt {
		return []kgo.Opt{kgo.InstanceID(fmt.Sprintf("inst-%d", i)), kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.WithContext(ctx)}
	}
	var ms []*member
	for i := range 3 {
		ms = append(ms, startMember(t, addr, "static", "st", fmt.Sprintf("s%d", i), ty, opts(i)...))
	}
	waitSettled(t, srv, "static", 3, 6, false)
	before := groupView(t, srv, "static")
	held := map[string][]broker.TopicPartition{}
	for _, m := range before.Members {
		held[m.InstanceID] = m.Held
	}
	ms[1].stop()
	ms[1] = startMember(t, addr, "static", "st", "s1-again", ty, opts(1)...)
	deadline := time.Now().Add(groupDeadline)
	for {
		after := groupView(t, srv, "static")
		var again *broker.GroupMember
		for i, m := range after.Members {
			if m.InstanceID == "inst-1" && (next || strings.HasPrefix(m.ID, "inst-1-")) && !slices.ContainsFunc(before.Members, func(b broker.GroupMember) bool { return b.ID == m.ID }) {
				again = &after.Members[i]
			}
		}
		if again != nil && after.State == "stable" {
			if after.Epoch != before.Epoch {
				t.Fatalf("generation %d after the static rejoin, was %d: the group rebalanced", after.Epoch, before.Epoch)
			}
			for _, m := range after.Members {
				if !slices.Equal(m.Held, held[m.InstanceID]) {
					t.Fatalf("%s holds %v, held %v before", m.InstanceID, m.Held, held[m.InstanceID])
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restarted static member did not rejoin: %+v", after)
		}
		time.Sleep(50 * time.Millisecond)
	}
	produceValues(t, addr, "st", 0, 120)
	ty.waitFor(t, 120)
	waitSettled(t, srv, "static", 3, 6, true)
}

// TestGroupAdmin drives kadm's group calls: list, describe, offsets commit,
// fetch and delete, group delete, with the errors Kafka answers.
func TestGroupAdmin(t *testing.T) {
	addr, _, srv := startServer(t)
	createTopicCore(t, srv, "adm", 3, nil)
	createTopicCore(t, srv, "other", 2, nil)
	produceValues(t, addr, "adm", 0, 30)
	produceValues(t, addr, "other", 0, 10)
	adm := newAdmin(t, addr)
	ctx := testCtx(t)

	// Admin commits on an empty group, then fetch.
	var offs kadm.Offsets
	offs.AddOffset("adm", 0, 4, -1)
	offs.AddOffset("adm", 1, 7, -1)
	offs.AddOffset("other", 0, 2, -1)
	cr, err := adm.CommitOffsets(ctx, "admin-g", offs)
	if err != nil || cr.Error() != nil {
		t.Fatalf("commit: %v %v", err, cr.Error())
	}
	fr, err := adm.FetchOffsets(ctx, "admin-g")
	if err != nil || fr.Error() != nil {
		t.Fatalf("fetch: %v %v", err, fr.Error())
	}
	if o, _ := fr.Lookup("adm", 1); o.At != 7 {
		t.Fatalf("fetched adm/1 at %d, want 7", o.At)
	}
	if o, _ := fr.Lookup("other", 0); o.At != 2 {
		t.Fatalf("fetched other/0 at %d, want 2", o.At)
	}
	// An offset beyond the end is refused per partition.
	var bad kadm.Offsets
	bad.AddOffset("adm", 2, 1000, -1)
	if cr, err := adm.CommitOffsets(ctx, "admin-g", bad); err != nil || cr.Error() == nil {
		t.Fatalf("commit beyond the high watermark: %v %v, want a partition error", err, cr.Error())
	}

	// A live classic group next to it.
	ty := newTally()
	m := startMember(t, addr, "live-g", "adm", "live", ty)
	waitSettled(t, srv, "live-g", 1, 3, false)
	ty.waitFor(t, 30)

	listed, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if lg, ok := listed["live-g"]; !ok || lg.ProtocolType != "consumer" || lg.State != "Stable" {
		t.Fatalf("ListGroups live-g: %+v", listed)
	}
	if lg, ok := listed["admin-g"]; !ok || lg.State != "Empty" {
		t.Fatalf("ListGroups admin-g: %+v", listed)
	}
	if only, err := adm.ListGroups(ctx, "Empty"); err != nil || len(only) != 1 {
		t.Fatalf("ListGroups filtered to Empty: %+v %v", only, err)
	}
	dg, err := adm.DescribeGroups(ctx, "live-g", "admin-g", "nope")
	if err != nil {
		t.Fatal(err)
	}
	live := dg["live-g"]
	if live.State != "Stable" || live.Protocol != "cooperative-sticky" || len(live.Members) != 1 || live.Members[0].ClientID != "live" {
		t.Fatalf("DescribeGroups live-g: %+v", live)
	}
	if ma, ok := live.Members[0].Assigned.AsConsumer(); !ok || len(ma.Topics) != 1 || len(ma.Topics[0].Partitions) != 3 {
		t.Fatalf("live-g assignment: %+v", live.Members[0].Assigned)
	}
	if dg["admin-g"].State != "Empty" || dg["nope"].State != "Dead" {
		t.Fatalf("DescribeGroups admin-g %q nope %q", dg["admin-g"].State, dg["nope"].State)
	}
	lags, err := adm.Lag(ctx, "live-g")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(groupDeadline)
	for lags["live-g"].Lag.Total() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("lag %d", lags["live-g"].Lag.Total())
		}
		time.Sleep(50 * time.Millisecond)
		lags, _ = adm.Lag(ctx, "live-g")
	}

	// Admin commits and deletes on a group with members are refused.
	if cr, err := adm.CommitOffsets(ctx, "live-g", offs); err == nil && cr.Error() == nil {
		t.Fatal("admin commit to a group with members succeeded")
	}
	dr, err := adm.DeleteGroups(ctx, "live-g", "admin-g", "nope")
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(dr["live-g"].Err, kerr.NonEmptyGroup) || dr["admin-g"].Err != nil || !errors.Is(dr["nope"].Err, kerr.GroupIDNotFound) {
		t.Fatalf("DeleteGroups: live %v, admin %v, nope %v", dr["live-g"].Err, dr["admin-g"].Err, dr["nope"].Err)
	}

	// OffsetDelete: the live group's subscribed topic is refused.
	var del kadm.TopicsSet
	del.Add("adm", 0)
	odr, err := adm.DeleteOffsets(ctx, "live-g", del)
	if err != nil {
		t.Fatal(err)
	}
	if err := odr["adm"][0]; !errors.Is(err, kerr.GroupSubscribedToTopic) {
		t.Fatalf("OffsetDelete of a subscribed topic: %v", err)
	}
	m.stop()
	deadline = time.Now().Add(groupDeadline)
	for {
		dg, _ := adm.DescribeGroups(ctx, "live-g")
		if dg["live-g"].State == "Empty" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("live-g did not empty: %+v", dg["live-g"])
		}
		time.Sleep(50 * time.Millisecond)
	}
	odr, err = adm.DeleteOffsets(ctx, "live-g", del)
	if err != nil || odr["adm"][0] != nil {
		t.Fatalf("OffsetDelete once empty: %v %v", err, odr)
	}
	fr, _ = adm.FetchOffsets(ctx, "live-g")
	if o, ok := fr.Lookup("adm", 0); ok && o.At >= 0 {
		t.Fatalf("adm/0 still committed at %d", o.At)
	}
	if dr, err := adm.DeleteGroups(ctx, "live-g"); err != nil || dr["live-g"].Err != nil {
		t.Fatalf("delete the emptied group: %v %v", err, dr["live-g"].Err)
	}
}

// kcatMember is one `kcat -G` balanced consumer (librdkafka) printing
// "partition value" lines.
type kcatMember struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	seen []string
	done chan struct{}
}

// startKcatMember starts `kcat -G group topic`; the test is skipped when
// kcat is not installed.
func startKcatMember(t *testing.T, addr, group, topic string, extra ...string) *kcatMember {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		missingClient(t, "kcat is not installed (apt-get install kcat)")
	}
	args := []string{"-b", addr, "-G", group, "-q", "-u", "-f", "%p %s\n",
		"-X", "auto.offset.reset=earliest", "-X", "auto.commit.interval.ms=100",
		"-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=300"}
	cmd := exec.Command(path, append(append(args, extra...), topic)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m := &kcatMember{cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			m.mu.Lock()
			m.seen = append(m.seen, sc.Text())
			m.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		m.stop()
		if t.Failed() {
			t.Logf("kcat stderr:\n%s", stderr.String())
		}
	})
	return m
}

// stop ends kcat with SIGTERM: it commits and leaves the group.
func (m *kcatMember) stop() {
	if m.cmd.ProcessState != nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(20 * time.Second):
		m.cmd.Process.Kill()
		<-m.done
	}
	m.cmd.Wait()
}

// lines returns what the member printed so far.
func (m *kcatMember) lines() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.seen)
}

// TestKcatGroup: three `kcat -G` members (librdkafka's classic protocol,
// JoinGroup v5 with MEMBER_ID_REQUIRED) share six partitions: disjoint
// ownership, every record once, lag 0; one dies and the other two take
// its partitions (after its session times out: it is killed).
func TestKcatGroup(t *testing.T) {
	if _, err := exec.LookPath("kcat"); err != nil {
		missingClient(t, "kcat is not installed (apt-get install kcat)")
	}
	addr, _, srv := startServer(t)
	createTopicCore(t, srv, "kg", 6, nil)
	var ms []*kcatMember
	for range 3 {
		ms = append(ms, startKcatMember(t, addr, "kcat-g", "kg"))
	}
	waitSettled(t, srv, "kcat-g", 3, 6, false)
	check := func(n int, members []*kcatMember) {
		t.Helper()
		deadline := time.Now().Add(groupDeadline)
		for {
			seen := map[string]int{}
			parts := map[string]int{} // partition -> member index
			total := 0
			for i, m := range members {
				for _, l := range m.lines() {
					p, v, _ := strings.Cut(l, " ")
					seen[v]++
					total++
					if o, ok := parts[p]; ok && o != i && n == 600 {
						t.Fatalf("partition %s consumed by members %d and %d in a stable group", p, o, i)
					}
					parts[p] = i
				}
			}
			for v, c := range seen {
				if c > 1 {
					t.Fatalf("%s consumed %d times", v, c)
				}
			}
			if total == n && len(seen) == n {
				return
			}
			if total > n || time.Now().After(deadline) {
				t.Fatalf("kcat members consumed %d records (%d distinct), want %d", total, len(seen), n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	produceValues(t, addr, "kg", 0, 600)
	check(600, ms)
	waitSettled(t, srv, "kcat-g", 3, 6, true)

	// One member dies without leaving: its partitions move once its
	// session times out.
	ms[0].cmd.Process.Kill()
	<-ms[0].done
	ms[0].cmd.Wait()
	waitSettled(t, srv, "kcat-g", 2, 6, false)
	produceValues(t, addr, "kg", 600, 300)
	check(900, ms)
	waitSettled(t, srv, "kcat-g", 2, 6, true)
}

// TestGroupKIP848SharedWithConnect: two kgo KIP-848 members and one Connect
// API Consume stream share a group: ownership stays disjoint across both
// kinds of member, and together they read every record once.
func TestGroupKIP848SharedWithConnect(t *testing.T) {
	addr, url, srv := startServer(t)
	createTopicCore(t, srv, "shared", 6, nil)
	ty := newTally()
	ctx848 := context.WithValue(context.Background(), "opt_in_kafka_next_gen_balancer_beta", true) //nolint:staticcheck // franz-go's documented opt-in key
	for i := range 2 {
		startMember(t, addr, "mixed", "shared", fmt.Sprintf("k%d", i), ty, kgo.WithContext(ctx848), kgo.Balancers(kgo.CooperativeStickyBalancer()))
	}
	waitSettled(t, srv, "mixed", 2, 6, false)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gc := brokerv1connect.NewGroupServiceClient(http.DefaultClient, url)
	stream, err := gc.Consume(ctx, connect.NewRequest(&brokerv1.ConsumeRequest{
		Group:           "mixed",
		Subscription:    &brokerv1.Subscription{Topics: []string{"shared"}},
		AutoOffsetReset: brokerv1.OffsetReset_OFFSET_RESET_EARLIEST,
	}))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for stream.Receive() {
			if recs := stream.Msg().GetRecords(); recs != nil {
				ty.mu.Lock()
				for _, r := range recs.GetRecords() {
					ty.seen[string(r.GetValue())] = append(ty.seen[string(r.GetValue())], "connect")
				}
				ty.mu.Unlock()
			}
		}
	}()
	defer func() { cancel(); wg.Wait() }()
	waitSettled(t, srv, "mixed", 3, 6, false)
	produceValues(t, addr, "shared", 0, 600)
	ty.waitFor(t, 600)
	ty.mu.Lock()
	byConnect := 0
	for _, who := range ty.seen {
		if who[0] == "connect" {
			byConnect++
		}
	}
	ty.mu.Unlock()
	if byConnect == 0 || byConnect == 600 {
		t.Fatalf("the Connect stream read %d of 600 records; want a share", byConnect)
	}
}

// lineConsumer is a group consumer in another language, run as a
// subprocess printing "assign P,P,..." and "record P VALUE" lines.
type lineConsumer struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []string
	stderr bytes.Buffer
	done   chan struct{}
}

// startLineConsumer starts name with args; SIGTERM ends it when the test
// does.
func startLineConsumer(t *testing.T, name string, args ...string) *lineConsumer {
	t.Helper()
	p := &lineConsumer{done: make(chan struct{})}
	p.cmd = exec.Command(name, args...)
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			p.cmd.Process.Kill()
		}
		p.cmd.Wait()
		if t.Failed() {
			t.Logf("%s stderr:\n%s", filepath.Base(name), p.stderr.String())
		}
	})
	return p
}

// runLineConsumers has three consumers share six partitions: each is
// assigned two, disjoint; together they read every record once, lag 0.
func runLineConsumers(t *testing.T, addr string, srv *server.Server, group, topic string, start func() *lineConsumer) {
	createTopicCore(t, srv, topic, 6, nil)
	var ps []*lineConsumer
	for range 3 {
		ps = append(ps, start())
	}
	waitSettled(t, srv, group, 3, 6, false)
	produceValues(t, addr, topic, 0, 300)
	deadline := time.Now().Add(groupDeadline)
	for {
		seen := map[string]int{}
		owned := map[string]int{} // partition -> consumer, from the last assign of each
		total := 0
		for i, p := range ps {
			p.mu.Lock()
			var last string
			for _, l := range p.lines {
				kind, rest, _ := strings.Cut(l, " ")
				switch kind {
				case "assign":
					last = rest
				case "record":
					_, v, _ := strings.Cut(rest, " ")
					seen[v]++
					total++
				}
			}
			p.mu.Unlock()
			for _, part := range strings.Split(last, ",") {
				if o, dup := owned[part]; dup && part != "" {
					t.Fatalf("partition %s assigned to consumers %d and %d", part, o, i)
				}
				if part != "" {
					owned[part] = i
				}
			}
		}
		for v, n := range seen {
			if n > 1 {
				t.Fatalf("%s consumed %d times", v, n)
			}
		}
		if total == 300 && len(owned) == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumers read %d records, own %d partitions", total, len(owned))
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitSettled(t, srv, group, 3, 6, true)
	for _, p := range ps {
		p.cmd.Process.Signal(syscall.SIGTERM) // all at once: each may wait out a fetch
	}
}

// TestPythonGroup: three confluent-kafka (Python, librdkafka) consumers with
// rebalance callbacks and synchronous commits share six partitions.
func TestPythonGroup(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import confluent_kafka").Run(); err != nil {
		missingClient(t, "python3-confluent-kafka is not installed (apt-get install python3-confluent-kafka)")
	}
	addr, _, srv := startServer(t)
	runLineConsumers(t, addr, srv, "py-g", "py", func() *lineConsumer {
		return startLineConsumer(t, python, "testdata/python/group_consumer.py", addr, "py-g", "py")
	})
}

// TestKafkajsGroup: three kafkajs consumers (JoinGroup v5 with
// MEMBER_ID_REQUIRED, commits per record) share six partitions.
func TestKafkajsGroup(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		missingClient(t, "node is not installed (apt-get install nodejs npm; .ci/run does)")
	}
	dir, _ := filepath.Abs(filepath.Join("testdata", "kafkajs"))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "kafkajs")); err != nil {
		missingClient(t, "kafkajs is not installed: run `npm ci` in %s (.ci/run does)", dir)
	}
	addr, _, srv := startServer(t)
	runLineConsumers(t, addr, srv, "js-g", "js", func() *lineConsumer {
		return startLineConsumer(t, node, filepath.Join(dir, "group_consumer.js"), addr, "js-g", "js")
	})
}

// TestKcatGroupCooperative: librdkafka's incremental (cooperative-sticky)
// rebalancing: two kcat members, a third joins mid-stream; every record is
// consumed, none twice while ownership was stable, and the group ends
// settled with lag 0.
func TestKcatGroupCooperative(t *testing.T) {
	if _, err := exec.LookPath("kcat"); err != nil {
		missingClient(t, "kcat is not installed (apt-get install kcat)")
	}
	addr, _, srv := startServer(t)
	createTopicCore(t, srv, "kc", 6, nil)
	coop := []string{"-X", "partition.assignment.strategy=cooperative-sticky"}
	var ms []*kcatMember
	for range 2 {
		ms = append(ms, startKcatMember(t, addr, "kcat-coop", "kc", coop...))
	}
	waitSettled(t, srv, "kcat-coop", 2, 6, false)
	if d := groupView(t, srv, "kcat-coop"); d.Assignor != "cooperative-sticky" {
		t.Fatalf("assignor %q", d.Assignor)
	}
	produceValues(t, addr, "kc", 0, 300)
	count := func() (int, map[string]int) {
		seen := map[string]int{}
		total := 0
		for _, m := range ms {
			for _, l := range m.lines() {
				_, v, _ := strings.Cut(l, " ")
				seen[v]++
				total++
			}
		}
		return total, seen
	}
	deadline := time.Now().Add(groupDeadline)
	for {
		total, seen := count()
		if total == 300 && len(seen) == 300 {
			break
		}
		if total > 300 || time.Now().After(deadline) {
			t.Fatalf("consumed %d records (%d distinct), want 300 once each", total, len(seen))
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitSettled(t, srv, "kcat-coop", 2, 6, true)
	ms = append(ms, startKcatMember(t, addr, "kcat-coop", "kc", coop...))
	waitSettled(t, srv, "kcat-coop", 3, 6, false)
	produceValues(t, addr, "kc", 300, 300)
	deadline = time.Now().Add(groupDeadline)
	for {
		total, seen := count()
		if len(seen) == 600 && total == 600 {
			break
		}
		if total > 600 || time.Now().After(deadline) {
			t.Fatalf("consumed %d records (%d distinct), want 600 once each", total, len(seen))
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitSettled(t, srv, "kcat-coop", 3, 6, true)
}
