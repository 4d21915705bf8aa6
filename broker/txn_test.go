package broker_test

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// txnBatch encodes values as producer pid's transactional batch.
func txnBatch(pid int64, epoch int16, seq int32, vals ...string) []byte {
	var body []byte
	for i, v := range vals {
		r := kmsg.Record{TimestampDelta64: int64(i), OffsetDelta: int32(i), Value: []byte(v)}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		body = r.AppendTo(body)
	}
	b := kmsg.RecordBatch{
		Length: int32(49 + len(body)), Magic: 2, Attributes: 0x10, LastOffsetDelta: int32(len(vals) - 1),
		FirstTimestamp: 1_700_000_000_000, MaxTimestamp: 1_700_000_000_000 + int64(len(vals)-1),
		ProducerID: pid, ProducerEpoch: epoch, FirstSequence: seq, NumRecords: int32(len(vals)), Records: body,
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

// fakeNow is a settable clock.
type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeNow) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeNow) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// openTxn starts transaction id on topic/0 with one batch of vals and
// returns its producer id and epoch.
func openTxn(t *testing.T, b *broker.Broker, id, topic string, timeout time.Duration, vals ...string) (int64, int16) {
	t.Helper()
	ctx := context.Background()
	pid, epoch, err := b.InitTxnProducer(ctx, id, timeout, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	errs, err := b.AddPartitionsToTxn(ctx, id, pid, epoch, []broker.TopicPartition{{Topic: topic, Partition: 0}})
	if err != nil || errs[0] != nil {
		t.Fatalf("add partitions: %v %v", err, errs)
	}
	if _, perrs := produceBatches(t, b, topic, broker.PartitionBatch{Partition: 0, Raw: txnBatch(pid, epoch, 0, vals...)}); perrs[0] != nil {
		t.Fatal(perrs[0])
	}
	return pid, epoch
}

func visibleValues(t *testing.T, b *broker.Broker, topic string) []string {
	t.Helper()
	fr, err := b.Fetch(context.Background(), broker.FetchRequest{Topic: topic, Partition: 0, Offset: 0, MaxRecords: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range fr.Records {
		out = append(out, string(r.Value))
	}
	return out
}

func lsoHWM(t *testing.T, b *broker.Broker, topic string) (int64, int64) {
	t.Helper()
	lso, err := b.ListOffsets(topic, []int32{0}, broker.OffsetLastStable, 0)
	if err != nil {
		t.Fatal(err)
	}
	hwm, err := b.ListOffsets(topic, []int32{0}, broker.OffsetLatest, 0)
	if err != nil {
		t.Fatal(err)
	}
	return lso[0].Offset, hwm[0].Offset
}

// TestTransactionTimeout: an open transaction past its timeout is aborted
// by the tick (fake clock), its producer fenced and its data hidden.
func TestTransactionTimeout(t *testing.T) {
	t.Parallel()
	clock := &fakeNow{t: time.UnixMilli(1_700_000_000_000)}
	e := newEnv(t, func(c *broker.Config) { c.Now, c.GroupTickInterval = clock.Now, -1 })
	e.createTopic("t", 1, nil)
	pid, epoch := openTxn(t, e.b, "slow", "t", 10*time.Second, "x1", "x2")
	if lso, hwm := lsoHWM(t, e.b, "t"); lso != 0 || hwm != 2 {
		t.Fatalf("open: LSO %d HWM %d, want 0 and 2", lso, hwm)
	}
	clock.Add(9 * time.Second)
	e.b.TickTransactions()
	if st, _ := e.b.DescribeTransaction("slow"); st.State != "Ongoing" {
		t.Fatalf("before the timeout: %s", st.State)
	}
	clock.Add(2 * time.Second)
	e.b.TickTransactions()
	st, _ := e.b.DescribeTransaction("slow")
	if st.State != "CompleteAbort" || st.Epoch != epoch+1 {
		t.Fatalf("after the timeout: %+v, want CompleteAbort at epoch %d", st, epoch+1)
	}
	if lso, hwm := lsoHWM(t, e.b, "t"); lso != 3 || hwm != 3 {
		t.Fatalf("aborted: LSO %d HWM %d, want 3 and 3", lso, hwm)
	}
	if got := visibleValues(t, e.b, "t"); len(got) != 0 {
		t.Fatalf("aborted data visible: %q", got)
	}
	// The zombie producer is fenced.
	if err := e.b.EndTxn(context.Background(), "slow", pid, epoch, true); !errors.Is(err, broker.ErrProducerFenced) {
		t.Fatalf("EndTxn at the old epoch: %v", err)
	}
	if _, errs := produceBatches(t, e.b, "t", broker.PartitionBatch{Partition: 0, Raw: txnBatch(pid, epoch, 2, "late")}); !errors.Is(errs[0], broker.ErrInvalidProducerEpoch) {
		t.Fatalf("produce at the old epoch: %v", errs[0])
	}
}

// TestTransactionRecovery: at Open, a transaction stored as PrepareCommit
// (a crash between the decision and the markers) is completed, and a
// partition transaction that no stored state explains is aborted.
func TestTransactionRecovery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *broker.Config) { c.GroupTickInterval = -1 })
	e.createTopic("prep", 1, nil)
	e.createTopic("orphan", 1, nil)
	e.createTopic("open", 1, nil)
	openTxn(t, e.b, "prep", "prep", time.Minute, "p1")
	openTxn(t, e.b, "orphan", "orphan", time.Minute, "o1")
	openTxn(t, e.b, "open", "open", time.Minute, "k1")
	e.stop()
	db := openDB(t, e.dir)
	// Crash just after EndTxn(commit) made PrepareCommit durable.
	if _, err := db.Exec(`UPDATE broker_txns SET state = json_set(state, '$.state', 2) WHERE id = 'prep'`); err != nil {
		t.Fatal(err)
	}
	// Lose the coordinator's record of another.
	if _, err := db.Exec(`DELETE FROM broker_txns WHERE id = 'orphan'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	e.start()
	if got := visibleValues(t, e.b, "prep"); len(got) != 1 || got[0] != "p1" {
		t.Fatalf("prepared commit after restart: %q, want [p1]", got)
	}
	if st, _ := e.b.DescribeTransaction("prep"); st.State != "CompleteCommit" {
		t.Fatalf("prepared commit after restart: %s", st.State)
	}
	if lso, hwm := lsoHWM(t, e.b, "orphan"); lso != hwm || len(visibleValues(t, e.b, "orphan")) != 0 {
		t.Fatalf("orphan after restart: LSO %d HWM %d, values %q", lso, hwm, visibleValues(t, e.b, "orphan"))
	}
	// An Ongoing transaction stays open for its producer to finish.
	st, _ := e.b.DescribeTransaction("open")
	if lso, _ := lsoHWM(t, e.b, "open"); st.State != "Ongoing" || lso != 0 {
		t.Fatalf("ongoing after restart: %s, LSO %d", st.State, lso)
	}
	if err := e.b.EndTxn(context.Background(), "open", st.ProducerID, st.Epoch, true); err != nil {
		t.Fatal(err)
	}
	if got := visibleValues(t, e.b, "open"); len(got) != 1 {
		t.Fatalf("ongoing committed after restart: %q", got)
	}
}

// TestTransactionConnectReaders: a Connect subscriber started at "latest"
// while a transaction is open starts at the last stable offset, so it sees
// the transaction's records once they are committed, and never an aborted
// transaction's.
func TestTransactionConnectReaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *broker.Config) { c.GroupTickInterval = -1 })
	e.createTopic("s", 1, nil)
	pid, epoch := openTxn(t, e.b, "sub", "s", time.Minute, "t1", "t2")
	sub := subscribe(t, e.client, &brokerv1.SubscribeRequest{Topic: "s", Start: &brokerv1.SubscribeRequest_Position{Position: brokerv1.StartPosition_START_POSITION_LATEST}})
	if err := e.b.EndTxn(context.Background(), "sub", pid, epoch, true); err != nil {
		t.Fatal(err)
	}
	pid, epoch = openTxn(t, e.b, "sub", "s", time.Minute, "gone")
	if err := e.b.EndTxn(context.Background(), "sub", pid, epoch, false); err != nil {
		t.Fatal(err)
	}
	e.produce("s", val("plain"))
	if got := values(sub.next(3)); !slices.Equal(got, []string{"t1", "t2", "plain"}) {
		t.Fatalf("subscriber saw %q, want [t1 t2 plain]", got)
	}
}

// TestTransactionLongPollWaitsForCommit: a read_committed long poll at the
// start of an open transaction counts no bytes (they are not stable), so
// it waits, and the commit's marker wakes it with the data.
func TestTransactionLongPollWaitsForCommit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *broker.Config) { c.GroupTickInterval = -1 })
	e.createTopic("lp", 1, nil)
	pid, epoch := openTxn(t, e.b, "lp", "lp", time.Minute, "v1", "v2")
	parked := make(chan struct{}, 16)
	broker.SetWaitHook(e.b, func() { parked <- struct{}{} })
	done := make(chan broker.FetchBatchesResult, 1)
	go func() {
		res := e.b.FetchBatches(context.Background(), broker.FetchBatchesRequest{
			Partitions: []broker.FetchBatchesPartition{{Topic: "lp", Offset: 0}}, MinBytes: 1, MaxWait: time.Minute, ReadCommitted: true,
		})
		done <- res[0]
	}()
	<-parked // the poll found no stable bytes and waits
	select {
	case r := <-done:
		t.Fatalf("the poll answered before the commit: %d bytes", len(r.Batches))
	default:
	}
	if err := e.b.EndTxn(context.Background(), "lp", pid, epoch, true); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.Err != nil || len(r.Batches) == 0 || r.LastStable != 3 || r.HighWatermark != 3 || len(r.Aborted) != 0 {
		t.Fatalf("after the commit: %v, %d bytes, LSO %d, HWM %d, aborted %v", r.Err, len(r.Batches), r.LastStable, r.HighWatermark, r.Aborted)
	}
}

// TestTransactionalIDExpiry: a transactional id whose transaction is
// complete and unused for the expiration is forgotten by the tick (fake
// clock), for good (a restart does not bring it back), and its producer
// starts again with a new producer id; an id in use is kept, and one whose
// open transaction timed out counts from its abort.
func TestTransactionalIDExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := &fakeNow{t: time.UnixMilli(1_700_000_000_000)}
	const expiration = 24 * time.Hour
	e := newEnv(t, func(c *broker.Config) {
		c.Now, c.GroupTickInterval, c.TransactionalIDExpiration = clock.Now, -1, expiration
	})
	e.createTopic("t", 1, nil)
	pid, epoch := openTxn(t, e.b, "done", "t", time.Minute, "a")
	if err := e.b.EndTxn(ctx, "done", pid, epoch, true); err != nil {
		t.Fatal(err)
	}
	openTxn(t, e.b, "open", "t", 10*time.Second, "b")
	busyPID, busyEpoch, err := e.b.InitTxnProducer(ctx, "busy", time.Minute, -1, -1)
	if err != nil {
		t.Fatal(err)
	}

	clock.Add(expiration - time.Minute)
	e.b.TickTransactions() // "open" times out: aborted now
	if st, _ := e.b.DescribeTransaction("open"); st.State != "CompleteAbort" {
		t.Fatalf("open after its timeout: %s", st.State)
	}
	// "busy" is used again before the expiration.
	if _, _, err := e.b.InitTxnProducer(ctx, "busy", time.Minute, busyPID, busyEpoch); err != nil {
		t.Fatal(err)
	}
	clock.Add(2 * time.Minute)
	e.b.TickTransactions()
	if _, ok := e.b.DescribeTransaction("done"); ok {
		t.Fatal("done is still known a day after its commit")
	}
	for _, id := range []string{"open", "busy"} {
		if _, ok := e.b.DescribeTransaction(id); !ok {
			t.Fatalf("%s was forgotten, though changed within the expiration", id)
		}
	}
	var ids []string
	for _, st := range e.b.ListTransactions(-1) {
		ids = append(ids, st.ID)
	}
	if !slices.Equal(ids, []string{"busy", "open"}) {
		t.Fatalf("listed %v, want [busy open]", ids)
	}

	e.stop()
	e.start()
	if _, ok := e.b.DescribeTransaction("done"); ok {
		t.Fatal("done is back after a restart")
	}
	newPID, newEpoch, err := e.b.InitTxnProducer(ctx, "done", time.Minute, -1, -1)
	if err != nil || newPID == pid || newEpoch != 0 {
		t.Fatalf("init after expiry: producer %d epoch %d (%v); want a new producer id at epoch 0 (old %d)", newPID, newEpoch, err, pid)
	}
	// The tick looks at most once a minute, and "open" expires a day after
	// its abort.
	clock.Add(expiration)
	e.b.TickTransactions()
	if _, ok := e.b.DescribeTransaction("open"); ok {
		t.Fatal("open is still known a day after its abort")
	}
}
