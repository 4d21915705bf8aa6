package broker_test

import (
	"context"
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
