package kafka_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

// consumeValues reads topic from the start until it has want records (or the
// context ends) and returns their values, sorted.
func consumeValues(t *testing.T, addr, topic string, want int, opts ...kgo.Opt) []string {
	t.Helper()
	cl := newClient(t, addr, append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	defer cl.Close()
	// A bound, not a speed: under -race on two busy cores a client's
	// transactions take seconds to read back.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var got []string
	for len(got) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
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

// noMore reads the topic again with a fresh consumer and checks that it
// sees exactly have records: it waits (up to a minute, a bound and not a
// speed) for the have records consumeValues saw, then polls two seconds
// more for anything beyond them.
func noMore(t *testing.T, addr, topic string, have int, opts ...kgo.Opt) {
	t.Helper()
	cl := newClient(t, addr, append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	defer cl.Close()
	bound, cancelBound := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancelBound()
	n := 0
	for n < have && bound.Err() == nil {
		n += cl.PollFetches(bound).NumRecords()
	}
	extra, cancelExtra := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancelExtra()
	for extra.Err() == nil {
		n += cl.PollFetches(extra).NumRecords()
	}
	if n != have {
		t.Fatalf("%s: %d records visible, want %d", topic, n, have)
	}
}

// TestTransactionsKgo: franz-go's transactional producer commits and
// aborts; a read_committed consumer (kgo and the Connect Fetch path) sees
// exactly the committed records, a read_uncommitted one sees all.
func TestTransactionsKgo(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	b := n.Server.Broker
	if _, err := b.CreateTopic(context.Background(), "out", 2, nil); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	pr := newClient(t, n.Addr, kgo.TransactionalID("kgo-tx"), kgo.DefaultProduceTopic("out"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	round := func(commit bool, vals ...string) {
		t.Helper()
		if err := pr.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if err := pr.ProduceSync(ctx, &kgo.Record{Value: []byte(v), Partition: int32(i % 2)}).FirstErr(); err != nil {
				t.Fatalf("produce %s: %v", v, err)
			}
		}
		if err := pr.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("end (commit %v): %v", commit, err)
		}
	}
	round(true, "c1", "c2")
	round(false, "a1", "a2", "a3")
	round(true, "c3")

	// An open transaction pins the LSO below the HWM.
	if err := pr.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := pr.ProduceSync(ctx, &kgo.Record{Value: []byte("c4"), Partition: 0}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	adm := newAdmin(t, n.Addr)
	ends, err := adm.ListEndOffsets(ctx, "out")
	if err != nil {
		t.Fatal(err)
	}
	stable, err := adm.ListCommittedOffsets(ctx, "out")
	if err != nil {
		t.Fatal(err)
	}
	e, eok := ends.Lookup("out", 0)
	s, sok := stable.Lookup("out", 0)
	if !eok || !sok || e.Err != nil || s.Err != nil || s.Offset >= e.Offset {
		t.Fatalf("open transaction: LSO %d (%v, listed %v), HWM %d (%v, listed %v); want LSO < HWM", s.Offset, s.Err, sok, e.Offset, e.Err, eok)
	}
	// Admin tools see it (DescribeTransactions, ListTransactions).
	dt, err := adm.DescribeTransactions(ctx, "kgo-tx", "no-such-id")
	if err != nil {
		t.Fatal(err)
	}
	if d := dt["kgo-tx"]; d.Err != nil || d.State != "Ongoing" || d.ProducerID < 0 || d.StartTimestamp <= 0 || !slices.Equal(d.Topics.Sorted()[0].Partitions, []int32{0}) {
		t.Fatalf("DescribeTransactions(kgo-tx) = %+v", d)
	}
	if d := dt["no-such-id"]; d.Err == nil {
		t.Fatalf("DescribeTransactions(no-such-id) = %+v, want TRANSACTIONAL_ID_NOT_FOUND", d)
	}
	lt, err := adm.ListTransactions(ctx, nil, []string{"Ongoing"})
	if err != nil {
		t.Fatal(err)
	}
	if ids := lt.TransactionalIDs(); !slices.Equal(ids, []string{"kgo-tx"}) {
		t.Fatalf("ListTransactions(Ongoing) = %v", ids)
	}
	// The Connect Fetch path stops at the LSO too.
	fr, err := b.Fetch(ctx, broker.FetchRequest{Topic: "out", Partition: 0, Offset: s.Offset})
	if err != nil || len(fr.Records) != 0 {
		t.Fatalf("Connect fetch at the LSO while open: %d records, %v", len(fr.Records), err)
	}
	if err := pr.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}

	committed := []string{"c1", "c2", "c3", "c4"}
	if got := consumeValues(t, n.Addr, "out", 4, kgo.FetchIsolationLevel(kgo.ReadCommitted())); !slices.Equal(got, committed) {
		t.Fatalf("read_committed: %q, want %q", got, committed)
	}
	noMore(t, n.Addr, "out", 4, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	all := []string{"a1", "a2", "a3", "c1", "c2", "c3", "c4"}
	if got := consumeValues(t, n.Addr, "out", 7); !slices.Equal(got, all) {
		t.Fatalf("read_uncommitted: %q, want %q", got, all)
	}
	// Connect readers are read_committed.
	var viaConnect []string
	for p := int32(0); p < 2; p++ {
		fr, err := b.Fetch(ctx, broker.FetchRequest{Topic: "out", Partition: p, Offset: 0, MaxRecords: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range fr.Records {
			viaConnect = append(viaConnect, string(r.Value))
		}
	}
	sort.Strings(viaConnect)
	if !slices.Equal(viaConnect, committed) {
		t.Fatalf("Connect fetch: %q, want %q", viaConnect, committed)
	}
}

// TestTransactionsGroupTransactSession: consume-transform-produce with
// kgo's GroupTransactSession, with one round aborted: the output holds
// each input exactly once under read_committed and the group's committed
// offsets are the input's end.
func TestTransactionsGroupTransactSession(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	b := n.Server.Broker
	for _, tp := range []string{"in", "out"} {
		if _, err := b.CreateTopic(context.Background(), tp, 3, nil); err != nil {
			t.Fatal(err)
		}
	}
	ctx := testCtx(t)
	const total = 60
	plain := newClient(t, n.Addr, kgo.DefaultProduceTopic("in"))
	for i := range total {
		if err := plain.ProduceSync(ctx, &kgo.Record{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(n.Addr),
		kgo.WithLogger(kgo.BasicLogger(testWriter{t}, kgo.LogLevelWarn, nil)),
		kgo.TransactionalID("eos"),
		kgo.ConsumerGroup("eos-group"),
		kgo.ConsumeTopics("in"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DefaultProduceTopic("out"),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	seen := 0
	aborted := false
	for seen < total && ctx.Err() == nil {
		fs := sess.PollFetches(ctx)
		for _, e := range fs.Errors() {
			t.Fatalf("poll: %v", e.Err)
		}
		if fs.NumRecords() == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			t.Fatal(err)
		}
		commit := aborted // the first round is aborted, the rest commit
		aborted = true
		fs.EachRecord(func(r *kgo.Record) {
			sess.Produce(ctx, &kgo.Record{Key: r.Key, Value: append([]byte("out-"), r.Value...)}, func(_ *kgo.Record, err error) {
				if err != nil && commit {
					t.Errorf("produce: %v", err)
				}
			})
		})
		committed, err := sess.End(ctx, kgo.TransactionEndTry(commit))
		if err != nil {
			t.Fatalf("end: %v", err)
		}
		if committed {
			seen += fs.NumRecords()
		}
	}
	if seen != total {
		t.Fatalf("committed %d of %d inputs", seen, total)
	}
	got := consumeValues(t, n.Addr, "out", total, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	var want []string
	for i := range total {
		want = append(want, fmt.Sprintf("out-v%d", i))
	}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("output under read_committed: %d records, want each of %d inputs once; got %q", len(got), total, got)
	}
	noMore(t, n.Addr, "out", total, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	offs, err := newAdmin(t, n.Addr).FetchOffsets(ctx, "eos-group")
	if err != nil {
		t.Fatal(err)
	}
	ends, err := newAdmin(t, n.Addr).ListEndOffsets(ctx, "in")
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(e kadm.ListedOffset) {
		o, ok := offs.Lookup("in", e.Partition)
		if !ok || o.At != e.Offset {
			t.Errorf("group offset of in/%d = %v, want the end %d", e.Partition, o.At, e.Offset)
		}
	})
}

// TestTransactionsRestart: transactions open when the node stops are not
// left hanging: a producer that comes back commits its transaction, and a
// new producer with another's transactional id aborts it at once.
func TestTransactionsRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := startNode(t, withDataDir(dir), withDurable())
	if _, err := n.Server.Broker.CreateTopic(context.Background(), "r", 1, nil); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	open := func(id, val string) *kgo.Client {
		cl := newClient(t, n.Addr, kgo.TransactionalID(id), kgo.DefaultProduceTopic("r"))
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(val)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		return cl
	}
	keep := open("keep", "kept")
	pid, epoch, err := keep.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	open("lost", "dropped")
	n.Stop()
	n = startNode(t, withDataDir(dir), withDurable())
	st, ok := n.Server.Broker.DescribeTransaction("keep")
	if !ok || st.State != "Ongoing" || len(st.Partitions) != 1 || st.ProducerID != pid || st.Epoch != epoch {
		t.Fatalf("after restart, transaction keep: %+v %v (producer %d epoch %d before)", st, ok, pid, epoch)
	}
	// The listener's address changed, so the old client cannot follow;
	// the producer resumes over a new connection with its id and epoch
	// and commits what it wrote before the restart.
	end := kmsg.NewPtrEndTxnRequest()
	end.Version, end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = 3, "keep", pid, epoch, true
	resp, err := end.RequestWith(ctx, newClient(t, n.Addr))
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("EndTxn after restart: %v, code %d", err, resp.ErrorCode)
	}
	// A new producer for "lost" fences the old one and aborts its data.
	fresh := newClient(t, n.Addr, kgo.TransactionalID("lost"), kgo.DefaultProduceTopic("r"))
	if err := fresh.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := fresh.ProduceSync(ctx, &kgo.Record{Value: []byte("fresh")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := fresh.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	want := []string{"fresh", "kept"}
	if got := consumeValues(t, n.Addr, "r", 2, kgo.FetchIsolationLevel(kgo.ReadCommitted())); !slices.Equal(got, want) {
		t.Fatalf("after restart: %q, want %q", got, want)
	}
	noMore(t, n.Addr, "r", 2, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
}
