package broker_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker"
)

// TestClusterTransactionalIDExpiry: on a cluster node, a transactional id
// whose transaction is complete and unchanged for the expiration (by its
// row's time in PostgreSQL) is forgotten by the tick, for every node; an
// open one is kept.
func TestClusterTransactionalIDExpiry(t *testing.T) {
	c := newSharedCluster(t)
	clock := &fakeNow{t: time.Now()}
	const expiration = 300 * time.Millisecond
	a := c.node(t, "a", func(cfg *broker.Config) {
		cfg.Now, cfg.GroupTickInterval, cfg.TransactionalIDExpiration = clock.Now, -1, expiration
	})
	b := c.node(t, "b")
	ctx := context.Background()
	a.createTopic("t", 1, nil)
	pid, epoch := openTxn(t, a.b, "done", "t", time.Minute, "x")
	if err := a.b.EndTxn(ctx, "done", pid, epoch, true); err != nil {
		t.Fatal(err)
	}
	openTxn(t, a.b, "open", "t", time.Minute, "y")
	if _, ok := b.b.DescribeTransaction("done"); !ok {
		t.Fatal("node b does not see done")
	}
	time.Sleep(2 * expiration) // PostgreSQL's clock: the row must be older than the expiration
	a.b.TickTransactions()
	if _, ok := b.b.DescribeTransaction("done"); ok {
		t.Fatal("done is still stored after the expiration")
	}
	var gates int
	if err := c.pool.QueryRow(ctx, `SELECT count(*) FROM sharedlog_txn_producers WHERE producer_id = $1`, pid).Scan(&gates); err != nil || gates != 0 {
		t.Fatalf("done's producer %d still has %d gate rows (%v)", pid, gates, err)
	}
	if st, ok := b.b.DescribeTransaction("open"); !ok || st.State != "Ongoing" {
		t.Fatalf("open: %+v %v; want it kept, Ongoing", st, ok)
	}
	newPID, newEpoch, err := b.b.InitTxnProducer(ctx, "done", time.Minute, -1, -1)
	if err != nil || newPID == pid || newEpoch != 0 {
		t.Fatalf("init after expiry: producer %d epoch %d (%v); want a new producer id at epoch 0 (old %d)", newPID, newEpoch, err, pid)
	}
}

// TestClusterTxnFirstInitRace: two nodes initialising one new
// transactional id at once both find no row and both insert one; the
// second insert fails on the key (23505) once the first commits, and its
// node retries, now finding the row: both succeed, with one producer id,
// the later at the next epoch (fencing the earlier), as on one node.
func TestClusterTxnFirstInitRace(t *testing.T) {
	c := newSharedCluster(t)
	nodes := []*testEnv{c.node(t, "a"), c.node(t, "b")}
	// Both inserts wait until both have found no row.
	var arrived sync.WaitGroup
	arrived.Add(2)
	var once [2]sync.Once
	for i, n := range nodes {
		broker.SetTxnInsertHook(n.b, func(id string) {
			once[i].Do(func() {
				arrived.Done()
				arrived.Wait()
			})
		})
	}
	type result struct {
		pid   int64
		epoch int16
		err   error
	}
	results := make(chan result, 2)
	for _, n := range nodes {
		go func() {
			pid, epoch, err := n.b.InitTxnProducer(context.Background(), "race", time.Minute, -1, -1)
			results <- result{pid, epoch, err}
		}()
	}
	r1, r2 := <-results, <-results
	if r1.err != nil || r2.err != nil {
		t.Fatalf("concurrent first inits: %v, %v; want both to succeed (the loser retries)", r1.err, r2.err)
	}
	if r1.pid != r2.pid {
		t.Fatalf("one transactional id got producer ids %d and %d", r1.pid, r2.pid)
	}
	if got := []int16{min(r1.epoch, r2.epoch), max(r1.epoch, r2.epoch)}; got[0] != 0 || got[1] != 1 {
		t.Fatalf("epochs %v, want 0 and 1 (the later init fences the earlier)", got)
	}
}
