package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
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

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/internal/pgtest"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
	"github.com/sluicehq/sluice/stream"
)

// threeSharedNodes starts nodes a, b and c of a cluster with the shared
// log, in this process.
func threeSharedNodes(t *testing.T) (a, b, c *sharedNode) {
	meta := pgtest.DB(t)
	objects := "file://" + t.TempDir()
	return startSharedNode(t, meta, objects, "a"), startSharedNode(t, meta, objects, "b"), startSharedNode(t, meta, objects, "c")
}

// createSharedTopics creates topics of parts partitions through n.
func createSharedTopics(t *testing.T, n *sharedNode, parts int32, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := n.topics.CreateTopic(context.Background(), connect.NewRequest(&brokerv1.CreateTopicRequest{Name: name, Partitions: parts})); err != nil {
			t.Fatal(err)
		}
	}
}

// kafkaClient is a franz-go client of addr, closed with the test.
func kafkaClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// readCommittedValues consumes topic from the start through addr with
// isolation read_committed until it has want records, then for another
// settle period (more would be a duplicate or an aborted record), and
// returns the values, sorted.
func readCommittedValues(t *testing.T, ctx context.Context, addr, topic string, want int, settle time.Duration) []string {
	t.Helper()
	cl := kafkaClient(t, addr, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	var until time.Time
	for {
		pctx := ctx
		if len(got) >= want {
			if until.IsZero() {
				until = time.Now().Add(settle)
			}
			var cancel context.CancelFunc
			pctx, cancel = context.WithDeadline(ctx, until)
			defer cancel()
		}
		fs := cl.PollFetches(pctx)
		if pctx.Err() != nil {
			if ctx.Err() != nil {
				t.Fatalf("read %d of %d records of %s under read_committed before the test's deadline", len(got), want, topic)
			}
			break
		}
		for _, e := range fs.Errors() {
			t.Fatalf("consume %s: %v", topic, e.Err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	sort.Strings(got)
	return got
}

// Kafka transactions across three nodes: consume-transform-produce with
// franz-go's GroupTransactSession, one session on node a and one on node
// b in one group (each transactional id served by the node its client
// reached, the group by its lease holder), a third of the rounds aborted.
// A read_committed consumer on node c reads each input exactly once, and
// so does a Connect fetch there.
func TestClusterKafkaTransactions(t *testing.T) {
	a, b, c := threeSharedNodes(t)
	nodes := []*sharedNode{a, b, c}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	createSharedTopics(t, nodes[0], 3, "in", "out")
	const total = 300
	in := kafkaClient(t, nodes[0].s.KafkaAddr(), kgo.DefaultProduceTopic("in"))
	var want []string
	for i := range total {
		if err := in.ProduceSync(ctx, &kgo.Record{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("out-v%d", i))
	}
	sort.Strings(want)

	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i, n := range nodes[:2] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runTransactSession(t, sctx, n.s.KafkaAddr(), fmt.Sprint("eos-", i))
		}()
	}
	got := readCommittedValues(t, ctx, nodes[2].s.KafkaAddr(), "out", total, time.Second)
	stop()
	wg.Wait()
	if !slices.Equal(got, want) {
		t.Fatalf("output under read_committed on node c: %d records, want each of %d inputs once", len(got), total)
	}
	var viaConnect []string
	for p := range int32(3) {
		for off := int64(0); ; {
			res, err := nodes[2].broker.Fetch(ctx, connect.NewRequest(&brokerv1.FetchRequest{Topic: "out", Partition: p, Offset: off, MaxRecords: 1000}))
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res.Msg.GetRecords() {
				viaConnect = append(viaConnect, string(r.GetValue()))
				off = r.GetOffset() + 1
			}
			if len(res.Msg.GetRecords()) == 0 {
				if off >= res.Msg.GetHighWatermark() {
					break
				}
				off = res.Msg.GetHighWatermark() // past markers and aborted records
			}
		}
	}
	sort.Strings(viaConnect)
	if !slices.Equal(viaConnect, want) {
		t.Fatalf("Connect fetch on node c: %d records, want each of %d inputs once", len(viaConnect), total)
	}
}

// runTransactSession copies "in" to "out" in transactions until ctx ends,
// aborting every third round.
func runTransactSession(t *testing.T, ctx context.Context, addr, txnID string) {
	sess, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(addr), kgo.TransactionalID(txnID),
		kgo.ConsumerGroup("eos"), kgo.ConsumeTopics("in"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DefaultProduceTopic("out"), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Error(err)
		return
	}
	defer sess.Close()
	for round := 0; ctx.Err() == nil; round++ {
		fs := sess.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		for _, e := range fs.Errors() {
			t.Logf("%s: poll: %v", txnID, e.Err)
		}
		if fs.NumRecords() == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			t.Errorf("%s: begin: %v", txnID, err)
			return
		}
		fs.EachRecord(func(r *kgo.Record) {
			sess.Produce(ctx, &kgo.Record{Key: r.Key, Value: append([]byte("out-"), r.Value...)}, nil)
		})
		if _, err := sess.End(ctx, kgo.TransactionEndTry(round%3 != 0)); err != nil && ctx.Err() == nil {
			t.Logf("%s: end: %v", txnID, err)
		}
	}
}

// Across nodes, the transactional id is one: a producer initialising it on
// node b fences the one on node a and aborts its open transaction; and a
// transaction left open past its timeout is aborted by a node's ticker, so
// read_committed readers move past it.
func TestClusterKafkaTransactionFencingAndTimeout(t *testing.T) {
	a, b, c := threeSharedNodes(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	createSharedTopics(t, a, 1, "f")
	txnClient := func(n *sharedNode, id string, opts ...kgo.Opt) *kgo.Client {
		cl := kafkaClient(t, n.s.KafkaAddr(), append([]kgo.Opt{kgo.TransactionalID(id), kgo.DefaultProduceTopic("f")}, opts...)...)
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		return cl
	}
	old := txnClient(a, "fence")
	if err := old.ProduceSync(ctx, &kgo.Record{Value: []byte("old")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	newer := txnClient(b, "fence")
	if err := newer.ProduceSync(ctx, &kgo.Record{Value: []byte("new")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := newer.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	err := old.ProduceSync(ctx, &kgo.Record{Value: []byte("zombie")}).FirstErr()
	if !errors.Is(err, kerr.InvalidProducerEpoch) && !errors.Is(err, kerr.ProducerFenced) {
		t.Fatalf("the fenced producer's produce: %v, want INVALID_PRODUCER_EPOCH or PRODUCER_FENCED", err)
	}
	if st, ok := c.s.Broker.DescribeTransaction("fence"); !ok || st.State != "CompleteCommit" {
		t.Fatalf("transaction fence as node c sees it: %+v %v, want CompleteCommit", st, ok)
	}

	stuck := txnClient(a, "stuck", kgo.TransactionTimeout(3*time.Second))
	if err := stuck.ProduceSync(ctx, &kgo.Record{Value: []byte("stuck")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// Node c's admin answers see it open, and its last stable offset stops
	// at it.
	adm := kadm.NewClient(kafkaClient(t, c.s.KafkaAddr()))
	dt, err := adm.DescribeTransactions(ctx, "stuck")
	if err != nil {
		t.Fatal(err)
	}
	if d := dt["stuck"]; d.Err != nil || d.State != "Ongoing" || len(d.Topics.Sorted()) != 1 || !slices.Equal(d.Topics.Sorted()[0].Partitions, []int32{0}) {
		t.Fatalf("DescribeTransactions(stuck) on node c = %+v", d)
	}
	lt, err := adm.ListTransactions(ctx, nil, []string{"Ongoing"})
	if err != nil {
		t.Fatal(err)
	}
	if ids := lt.TransactionalIDs(); !slices.Equal(ids, []string{"stuck"}) {
		t.Fatalf("ListTransactions(Ongoing) on node c = %v", ids)
	}
	ends, err := adm.ListEndOffsets(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	stable, err := adm.ListCommittedOffsets(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := ends.Lookup("f", 0); e.Err != nil || e.Offset != 5 {
		t.Fatalf("node c: the high watermark of f/0 is %d (%v), want 5", e.Offset, e.Err)
	}
	if s, _ := stable.Lookup("f", 0); s.Err != nil || s.Offset != 4 {
		t.Fatalf("node c: the last stable offset of f/0 is %d (%v), want 4 (the open transaction's first)", s.Offset, s.Err)
	}
	plain := kafkaClient(t, b.s.KafkaAddr(), kgo.DefaultProduceTopic("f"))
	if err := plain.ProduceSync(ctx, &kgo.Record{Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	got := readCommittedValues(t, ctx, c.s.KafkaAddr(), "f", 2, 500*time.Millisecond)
	if want := []string{"after", "new"}; !slices.Equal(got, want) {
		t.Fatalf("read_committed on node c: %q, want %q", got, want)
	}
	if st, ok := c.s.Broker.DescribeTransaction("stuck"); !ok || st.State != "CompleteAbort" {
		t.Fatalf("the timed-out transaction: %+v %v, want CompleteAbort", st, ok)
	}

	// librdkafka (kcat) on node b: read_committed skips the aborted
	// transactions through the aborted index; read_uncommitted has all.
	for _, c := range []struct {
		isolation string
		want      string
	}{
		{"read_committed", "new\nafter\n"},
		{"read_uncommitted", "old\nnew\nstuck\nafter\n"},
	} {
		out := kcatConsume(t, b.s.KafkaAddr(), "f", "isolation.level="+c.isolation)
		if out != c.want {
			t.Errorf("kcat with %s on node b read %q, want %q", c.isolation, out, c.want)
		}
	}
}

// kcatConsume reads topic from the start to its end with kcat (librdkafka)
// through addr, one value per line, with the extra librdkafka settings.
// Without kcat the test skips, or fails under SLUICE_REQUIRE_KAFKA_CLIENTS
// (.ci/run sets it).
func kcatConsume(t *testing.T, addr, topic string, settings ...string) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("SLUICE_REQUIRE_KAFKA_CLIENTS") != "" {
			t.Fatal("kcat is not installed (apt-get install kcat); failing, since SLUICE_REQUIRE_KAFKA_CLIENTS is set")
		}
		t.Skip("kcat is not installed (apt-get install kcat); skipping")
	}
	args := []string{"-b", addr, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%s\\n"}
	for _, s := range settings {
		args = append(args, "-X", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).Output()
	if err != nil {
		t.Fatalf("kcat %v: %v", args, err)
	}
	return string(out)
}

// A stream application with exactly-once commits (ProduceAndCommit) on a
// cluster: two instances, on nodes b and c, of a word count (a
// repartition topic and a count table with its compacted, transactional
// changelog), the group coordinated by node a, so that each commit is
// forwarded there. Read on node a, every word's last count is exact.
func TestClusterStreamExactlyOnce(t *testing.T) {
	a, b, c := threeSharedNodes(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	createSharedTopics(t, a, 3, "lines", "counts")
	if holder, err := a.s.Broker.GroupCoordinator(ctx, "wc"); err != nil || holder != "a" {
		t.Fatalf("group wc's coordinator: %q, %v; want node a", holder, err)
	}
	want := produceLines(t, ctx, a.url, 200)
	stop := runWordCounts(t, ctx, b.url, c.url)
	defer stop()
	checkCounts(t, ctx, a.url, want)
}

// produceLines writes n lines of two words to topic lines through url and
// returns how often each word occurs.
func produceLines(t *testing.T, ctx context.Context, url string, n int) map[string]int64 {
	t.Helper()
	p, err := client.NewProducer(ctx, client.New(http.DefaultClient, url), "lines", primitive.Null(), primitive.String(), client.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{}
	words := []string{"ant", "bee", "cat", "dog", "eel", "fox", "gnu"}
	for i := range n {
		line := fmt.Sprintf("%s %s", words[i%len(words)], words[(i*3)%len(words)])
		for _, w := range strings.Fields(line) {
			want[w]++
		}
		if _, err := p.Produce(ctx, struct{}{}, line); err != nil {
			t.Fatal(err)
		}
	}
	return want
}

// runWordCounts runs one instance of word count "wc" (lines to counts,
// through a repartition topic and a count table) per URL until stop.
func runWordCounts(t *testing.T, ctx context.Context, urls ...string) (stop func()) {
	var wg sync.WaitGroup
	rctx, cancel := context.WithCancel(ctx)
	for _, url := range urls {
		app := stream.New(client.New(http.DefaultClient, url), "wc", stream.CommitInterval(50*time.Millisecond), stream.Logger(testLogger(t)))
		lines := stream.From(app, "lines", primitive.Null(), primitive.String())
		ws := stream.FlatMap(lines, func(_ struct{}, line string) []stream.KV[string, string] {
			var out []stream.KV[string, string]
			for _, w := range strings.Fields(line) {
				out = append(out, stream.KV[string, string]{Key: w, Value: w})
			}
			return out
		})
		counts := stream.Count(stream.GroupByKey(stream.Repartition(ws, primitive.String(), primitive.String())))
		stream.To(counts.ToStream(), "counts", primitive.String(), primitive.Int64())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := app.Run(rctx); err != nil {
				t.Errorf("stream through %s: %v", url, err)
			}
		}()
	}
	return func() { cancel(); wg.Wait() }
}

// checkCounts reads topic counts through url until every word's last
// count is want's, failing at once on a count above it (an input counted
// twice).
func checkCounts(t *testing.T, ctx context.Context, url string, want map[string]int64) {
	t.Helper()
	cons, err := client.NewConsumer(client.New(http.DefaultClient, url), "counts", primitive.String(), primitive.Int64(), client.FromEarliest())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for m, err := range cons.All(ctx) {
		if err != nil {
			t.Fatalf("counts so far %v, want %v: %v", got, want, err)
		}
		if m.Value > want[m.Key] {
			t.Fatalf("%s counted %d, more than its %d: an input counted twice", m.Key, m.Value, want[m.Key])
		}
		if got[m.Key] = m.Value; maps.Equal(got, want) {
			return
		}
	}
}

// The node coordinating a stream application's group is killed (kill -9)
// while two instances, on the other nodes, commit through it: the group's
// lease moves to a surviving node, the transactions the dead node left are
// aborted or completed, and every word's count ends exact, none ever
// above it.
func TestClusterStreamCoordinatorKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9: not in -short")
	}
	meta := pgtest.DB(t)
	objects := "file://" + t.TempDir()
	b, c := startSharedNode(t, meta, objects, "b"), startSharedNode(t, meta, objects, "c")
	a, aURL := startSharedHelper(t, meta, objects, "a")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	createSharedTopics(t, b, 3, "lines", "counts")
	groups := brokerv1connect.NewGroupServiceClient(http.DefaultClient, aURL)
	// Asking node a about the group makes it take the group's lease.
	if _, err := groups.DescribeGroup(ctx, connect.NewRequest(&brokerv1.DescribeGroupRequest{Group: "wc"})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("describe group wc on node a: %v, want not found (an empty group)", err)
	}
	if holder, err := b.s.Broker.GroupCoordinator(ctx, "wc"); err != nil || holder != "a" {
		t.Fatalf("group wc's coordinator: %q, %v; want node a", holder, err)
	}
	want := produceLines(t, ctx, c.url, 100)
	stop := runWordCounts(t, ctx, b.url, c.url)
	defer stop()
	// Kill a once the application has committed something through it.
	for {
		res, err := groups.FetchOffsets(ctx, connect.NewRequest(&brokerv1.FetchOffsetsRequest{Group: "wc"}))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Msg.GetOffsets()) > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := a.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.Wait()
	more := produceLines(t, ctx, c.url, 100)
	for w, n := range more {
		want[w] += n
	}
	checkCounts(t, ctx, b.url, want)
}

// Kill -9 of the node coordinating a transaction, 20 rounds. Nodes a and
// b run in processes of their own, c in the test. Each round a
// transactional producer on the victim (a or b, at random) writes ten
// records in a transaction, and the victim is killed before its EndTxn,
// while it is in flight, or after it was answered; then a producer with
// the same transactional id on the other node takes the id over and
// commits a probe (its InitProducerId aborts an open transaction, or
// waits until a node completes a prepared one). Under read_committed on
// node c, each round is all or nothing, a round whose commit was
// answered is all there, and every probe is there once.
func TestClusterKafkaTransactionsKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 rounds: not in -short")
	}
	meta := pgtest.DB(t)
	objects := "file://" + t.TempDir()
	c := startSharedNode(t, meta, objects, "c")
	createSharedTopics(t, c, 2, "tx")
	type helper struct {
		id         string
		cmd        *exec.Cmd
		url, kafka string
	}
	start := func(h *helper) {
		opt := "kafka" // then the same address again
		if h.kafka != "" {
			opt = "kafka=" + h.kafka
		}
		var line string
		h.cmd, line = startSharedHelper(t, meta, objects, h.id, opt)
		h.url, h.kafka, _ = strings.Cut(line, " ")
	}
	helpers := []*helper{{id: "a"}, {id: "b"}}
	for _, h := range helpers {
		start(h)
	}
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 98))
	t.Logf("seed %d", seed)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const rounds, perRound = 20, 10
	answered := map[int]bool{} // rounds whose commit was answered before the kill
	for round := range rounds {
		vi := rng.IntN(2)
		victim, other := helpers[vi], helpers[1-vi]
		cl, err := kgo.NewClient(kgo.SeedBrokers(victim.kafka), kgo.TransactionalID("kill"), kgo.DefaultProduceTopic("tx"),
			kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := range perRound {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "r%02d-%d", round, i)}).FirstErr(); err != nil {
				t.Fatalf("round %d: transactional produce on node %s: %v", round, victim.id, err)
			}
		}
		mode := rng.IntN(3) // 0: kill before EndTxn; 1: while in flight; 2: after its answer
		ended := make(chan error, 1)
		began := time.Now()
		if mode > 0 {
			ectx, ecancel := context.WithTimeout(ctx, 20*time.Second)
			go func() { defer ecancel(); ended <- cl.EndTransaction(ectx, kgo.TryCommit) }()
		}
		switch mode {
		case 1:
			time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
		case 2:
			if err := <-ended; err != nil {
				t.Fatalf("round %d: commit on node %s: %v", round, victim.id, err)
			}
			answered[round] = true
		}
		if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		victim.cmd.Wait()
		if mode == 1 {
			if err := <-ended; err == nil {
				answered[round] = true
			}
		}
		go cl.Close() // its node is gone: do not wait for it
		t.Logf("round %d: node %s killed (mode %d; commit answered %v, after %v)", round, victim.id, mode, answered[round], time.Since(began).Round(time.Millisecond))

		probe := kafkaClient(t, other.kafka, kgo.TransactionalID("kill"), kgo.DefaultProduceTopic("tx"))
		if err := probe.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := probe.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "probe-%02d", round)}).FirstErr(); err != nil {
			t.Fatalf("round %d: the take-over's produce on node %s: %v", round, other.id, err)
		}
		if err := probe.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatalf("round %d: the take-over's commit on node %s: %v", round, other.id, err)
		}
		probe.Close()
		start(victim)
	}

	got := readCommittedValues(t, ctx, c.s.KafkaAddr(), "tx", rounds+perRound*len(answered), 2*time.Second)
	perRoundSeen := map[string]int{}
	seen := map[string]bool{}
	for _, v := range got {
		if seen[v] {
			t.Errorf("%s read twice", v)
		}
		seen[v] = true
		if r, _, ok := strings.Cut(v, "-"); ok && strings.HasPrefix(v, "r") {
			perRoundSeen[r]++
		}
	}
	for round := range rounds {
		r := fmt.Sprintf("r%02d", round)
		switch n := perRoundSeen[r]; {
		case n != 0 && n != perRound:
			t.Errorf("round %d: %d of its %d records read: a transaction is all or nothing", round, n, perRound)
		case n == 0 && answered[round]:
			t.Errorf("round %d: its commit was answered, and none of its records is read", round)
		}
		if p := fmt.Sprintf("probe-%02d", round); !seen[p] {
			t.Errorf("%s, committed, is not read", p)
		}
	}
}
