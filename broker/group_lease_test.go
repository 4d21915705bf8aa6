package broker_test

import (
	"context"
	"errors"
	neturl "net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/internal/metastore"
	"github.com/sluicehq/sluice/internal/pgmeta"
	"github.com/sluicehq/sluice/internal/pgtest"
)

// leaseEnv is a broker coordinating groups under PostgreSQL leases as
// node "a", with topic "orders" (2 partitions), and the pool to meddle
// with its leases.
func leaseEnv(t *testing.T, ttl time.Duration) (*testEnv, *metastore.Postgres, *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	pool, err := pgmeta.Open(ctx, pgtest.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	meta, err := metastore.NewPostgres(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *broker.Config) {
		c.Meta, c.GroupLeases, c.NodeID, c.GroupLeaseTTL = meta, meta, "a", ttl
	})
	if _, err := e.b.CreateTopic(ctx, "orders", 2, nil); err != nil {
		t.Fatal(err)
	}
	return e, meta, pool
}

// takeOver makes node b the holder of group's lease at the next epoch, as
// b would after a's lease expired (a paused, or cut from PostgreSQL).
func takeOver(t *testing.T, pool *pgxpool.Pool, group string) int64 {
	t.Helper()
	var epoch int64
	if err := pool.QueryRow(context.Background(), `UPDATE group_leases SET node_id = 'b', epoch = epoch + 1, expires_at = now() + interval '1 hour'
		WHERE group_id = $1 RETURNING epoch`, group).Scan(&epoch); err != nil {
		t.Fatal(err)
	}
	return epoch
}

// A coordinator whose lease another node took over while it still thought
// it held it (a pause) has its member's commit refused by the database:
// the committed offset stays the new holder's, the caller is told
// NOT_COORDINATOR naming the holder, and the group's state is dropped.
func TestGroupLeaseFencedCommit(t *testing.T) {
	ctx := context.Background()
	e, meta, pool := leaseEnv(t, time.Hour) // a never notices by itself
	hb, err := e.b.GroupHeartbeat(ctx, broker.GroupHeartbeatRequest{Group: "g", Sub: &broker.GroupSubscription{Topics: []string{"orders"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(hb.Assignment) != 2 {
		t.Fatalf("assignment %v, want both partitions", hb.Assignment)
	}
	commit := func(off int64) error {
		return e.b.CommitOffsets(ctx, "g", hb.MemberID, hb.Epoch, []broker.OffsetCommit{{Topic: "orders", Partition: 0, Offset: off}})
	}
	if err := commit(0); err != nil {
		t.Fatal(err)
	}
	if who, err := e.b.GroupCoordinator(ctx, "g"); err != nil || who != "a" {
		t.Fatalf("GroupCoordinator = %q, %v; want a", who, err)
	}
	epoch := takeOver(t, pool, "g")
	// b's own commit, fenced by its epoch, lands.
	if err := meta.CommitOffsets(ctx, "g", metastore.Fence{Node: "b", Epoch: epoch}, []metastore.Offset{{Topic: "orders", Partition: 0, Offset: 0, Metadata: "b's"}}, 1); err != nil {
		t.Fatal(err)
	}
	err = commit(0)
	var nc *broker.NotCoordinatorError
	if !errors.Is(err, broker.ErrNotCoordinator) {
		t.Fatalf("old holder's commit = %v, want ErrNotCoordinator", err)
	}
	rows, err := meta.GroupOffsets(ctx, "g")
	if err != nil || len(rows) != 1 || rows[0].Metadata != "b's" {
		t.Errorf("offsets after the refused commit = %+v, %v; want b's row only", rows, err)
	}
	// The group's state is gone from a; a points at b.
	_, err = e.b.GroupHeartbeat(ctx, broker.GroupHeartbeatRequest{Group: "g", MemberID: hb.MemberID, Epoch: hb.Epoch})
	if !errors.As(err, &nc) || nc.Holder != "b" {
		t.Errorf("heartbeat on the old holder = %v, want NotCoordinatorError naming b", err)
	}
	if _, err := e.b.DescribeGroup(ctx, "g"); !errors.Is(err, broker.ErrNotCoordinator) {
		t.Errorf("describe on the old holder = %v, want ErrNotCoordinator", err)
	}
	if who, err := e.b.GroupCoordinator(ctx, "g"); err != nil || who != "b" {
		t.Errorf("GroupCoordinator on a = %q, %v; want b", who, err)
	}
}

// consumeSink discards a Consume stream's events.
type consumeSink struct{ assigned chan struct{} }

func (c consumeSink) Assigned(string, int32, []broker.TopicPartition) error {
	select {
	case c.assigned <- struct{}{}:
	default:
	}
	return nil
}

func (consumeSink) Records(broker.TopicPartition, int64, []broker.Record) error { return nil }

// A holder whose renewal finds the lease taken over drops the group: its
// Consume stream ends with ErrNotCoordinator (the client then reaches the
// new holder), and every later request is told the holder.
func TestGroupLeaseLostOnRenewal(t *testing.T) {
	ctx := context.Background()
	e, _, pool := leaseEnv(t, 600*time.Millisecond)
	sink := consumeSink{assigned: make(chan struct{}, 1)}
	done := make(chan error, 1)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		done <- e.b.Consume(cctx, broker.ConsumeRequest{Group: "g", Sub: broker.GroupSubscription{Topics: []string{"orders"}}}, sink)
	}()
	select {
	case <-sink.assigned:
	case err := <-done:
		t.Fatalf("Consume ended before its assignment: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no assignment")
	}
	// Renewals keep the lease well past its TTL.
	time.Sleep(1500 * time.Millisecond)
	if who, err := e.b.GroupCoordinator(ctx, "g"); err != nil || who != "a" {
		t.Fatalf("after several TTLs GroupCoordinator = %q, %v; want a still", who, err)
	}
	takeOver(t, pool, "g")
	select {
	case err := <-done:
		if !errors.Is(err, broker.ErrNotCoordinator) {
			t.Errorf("Consume ended with %v, want ErrNotCoordinator", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the Consume stream outlived its coordinator's lease")
	}
	var nc *broker.NotCoordinatorError
	if _, err := e.b.DescribeGroup(ctx, "g"); !errors.As(err, &nc) || nc.Holder != "b" {
		t.Errorf("describe after losing the lease = %v, want NotCoordinatorError naming b", err)
	}
}

// A holder cut off from PostgreSQL stops coordinating once its lease may
// have expired (its Consume stream ends, it answers no group request as
// coordinator), another node takes the group over at the next epoch after
// the expiry, and once reconnected the old holder points at the new one.
func TestGroupLeaseHolderCutFromPostgres(t *testing.T) {
	ctx := context.Background()
	url := pgtest.DB(t)
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	proxy := pgtest.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	open := func(url string) *metastore.Postgres {
		pool, err := pgmeta.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		m, err := metastore.NewPostgres(ctx, pool)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	metaA, metaB := open(u.String()), open(url)
	const ttl = time.Second
	a := newEnv(t, func(c *broker.Config) { c.Meta, c.GroupLeases, c.NodeID, c.GroupLeaseTTL = metaA, metaA, "a", ttl })
	b := newEnv(t, func(c *broker.Config) {
		c.Meta, c.GroupLeases, c.NodeID, c.GroupLeaseTTL, c.NoTopicData = metaB, metaB, "b", ttl, "node a keeps the topics"
	})
	if _, err := a.b.CreateTopic(ctx, "orders", 2, nil); err != nil {
		t.Fatal(err)
	}
	sink := consumeSink{assigned: make(chan struct{}, 1)}
	done := make(chan error, 1)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		done <- a.b.Consume(cctx, broker.ConsumeRequest{Group: "g", Sub: broker.GroupSubscription{Topics: []string{"orders"}}}, sink)
	}()
	select {
	case <-sink.assigned:
	case err := <-done:
		t.Fatalf("Consume ended before its assignment: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no assignment")
	}
	if who, err := b.b.GroupCoordinator(ctx, "g"); err != nil || who != "a" {
		t.Fatalf("GroupCoordinator on b = %q, %v; want a", who, err)
	}
	first, _, err := metaB.GroupLeaseOf(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}

	proxy.SetCut(true)
	select {
	case err := <-done:
		if !errors.Is(err, broker.ErrCoordinatorNotAvailable) && !errors.Is(err, broker.ErrNotCoordinator) {
			t.Errorf("Consume on the cut-off holder ended with %v, want coordinator not available", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the cut-off holder kept its Consume stream")
	}
	// b takes the group once the lease expired.
	deadline := time.Now().Add(30 * time.Second)
	for {
		who, err := b.b.GroupCoordinator(ctx, "g")
		if err == nil && who == "b" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b never took the group over: last answer %q, %v", who, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if l, _, err := metaB.GroupLeaseOf(ctx, "g"); err != nil || l.Holder != "b" || l.Epoch != first.Epoch+1 {
		t.Errorf("lease after the takeover = %+v, %v; want b at epoch %d", l, err, first.Epoch+1)
	}

	proxy.SetCut(false)
	var nc *broker.NotCoordinatorError
	deadline = time.Now().Add(30 * time.Second)
	for {
		_, err := a.b.DescribeGroup(ctx, "g")
		if errors.As(err, &nc) && nc.Holder == "b" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reconnected old holder answers %v, want NotCoordinatorError naming b", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
