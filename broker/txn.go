package broker

// Kafka transactions (KIP-98; kafka-listener.md §5): the transaction
// coordinator (broker/internal/txn) with its state in meta.db, table
// broker_txns (component "broker_txn"), and what completing a transaction
// does: a control batch (marker) on every partition it touched, then, on
// commit, its pending offsets into the group offset store. Per-partition
// state (open transactions, last stable offset, aborted index) is in the
// log (broker/internal/log txn.go). A cluster node keeps both in
// PostgreSQL instead, and its partitions check transactional batches and
// markers themselves (txn_cluster.go); the rules below are an embedded
// node's.
//
// Ordering rules that keep the log and the coordinator consistent:
//   - AddPartitionsToTxn is durable in meta.db before it is answered, so a
//     partition holding a transaction's data is always in its stored state.
//   - A transactional batch is checked against the coordinator and queued
//     under txnRuntime.gate's read lock; leaving Ongoing takes its write
//     lock, so no batch of a transaction is queued after its markers.
//   - The Prepare state is durable before the first marker is written; a
//     crash in between is completed at the next Open (recoverTxns), and
//     markers are idempotent for readers.
//   - At Open, a partition with an open transaction that no active
//     coordinator state explains gets an abort marker: nothing pins the
//     last stable offset forever.
//
// Timeouts: Ongoing transactions older than their timeout are aborted by
// the ticker (every Config.GroupTickInterval, 1s by default; < 0 none, and
// tests call TickTransactions), with the epoch bumped to fence the
// producer, as in Kafka.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/broker/internal/log"
	"github.com/sluicehq/sluice/broker/internal/txn"
	"github.com/sluicehq/sluice/internal/metadb"
	"github.com/sluicehq/sluice/internal/pgmeta"
)

// Transaction errors; the Kafka transport maps each to its code.
var (
	// ErrConcurrentTransactions: the transaction is completing; retry
	// (CONCURRENT_TRANSACTIONS).
	ErrConcurrentTransactions = txn.ErrConcurrent
	// ErrInvalidTxnState: the request does not fit the transaction's
	// state, e.g. a transactional batch for a partition not added
	// (INVALID_TXN_STATE).
	ErrInvalidTxnState = txn.ErrInvalidState
	// ErrProducerFenced: a newer epoch of the transactional producer exists
	// (PRODUCER_FENCED or INVALID_PRODUCER_EPOCH).
	ErrProducerFenced = txn.ErrFenced
	// ErrInvalidProducerIDMapping: the producer id is not the
	// transactional id's (INVALID_PRODUCER_ID_MAPPING).
	ErrInvalidProducerIDMapping = txn.ErrUnknownProducer
	// ErrInvalidTxnTimeout: the transaction timeout is not in (0, 15m]
	// (INVALID_TRANSACTION_TIMEOUT).
	ErrInvalidTxnTimeout = txn.ErrInvalidTimeout
)

// txnMigrations are the coordinator's tables. A released migration never
// changes.
var txnMigrations = []string{
	// 1: one row per transactional id; state is the JSON of txn.Txn.
	`CREATE TABLE broker_txns (
		id    TEXT PRIMARY KEY,
		state TEXT NOT NULL
	)`,
}

// txnRuntime is the broker's transaction coordinator.
type txnRuntime struct {
	// coord holds every transactional id's state on an embedded node
	// (stored in meta.db). It is nil on a cluster node, whose state is in
	// PostgreSQL, one row per id, changed under the row's lock
	// (txn_cluster.go).
	coord *txn.Coordinator
	// gate (an embedded node): produce of transactional batches holds it
	// shared from the coordinator check until the batch is queued; a
	// transition out of Ongoing holds it exclusively. A cluster node's
	// shared log checks each batch in its commit instead.
	gate sync.RWMutex

	mu         sync.Mutex
	completing map[string]bool // ids whose completion is under way
	swept      time.Time       // the last look for idle transactional ids

	ids txnLocks // serialise ProduceAndCommit per id (txn_rpc.go)

	// scanFailing is set while the ticker cannot read a cluster node's
	// transactions (PostgreSQL down): logged once, not every tick.
	scanFailing atomic.Bool

	quit chan struct{}
	done chan struct{}
}

// startTxns loads the coordinator, completes the transactions a crash left
// in a Prepare state, aborts partition transactions nothing explains (on a
// cluster node: creates its PostgreSQL table, and leaves both to the
// ticker and the gate), and starts the timeout ticker.
func (b *Broker) startTxns(ctx context.Context) error {
	tr := &txnRuntime{completing: map[string]bool{}, quit: make(chan struct{}), done: make(chan struct{})}
	if b.shared != nil {
		// A cluster node: any node serves any transactional id; a Prepare
		// state a node left is completed by the ticker of any node.
		if err := pgmeta.Migrate(ctx, b.shared.cfg.Pool, "broker_txn", clusterTxnMigrations); err != nil {
			return fmt.Errorf("transactions: %w", err)
		}
		b.txns = tr
	} else {
		if err := metadb.Migrate(ctx, b.db, "broker_txn", txnMigrations); err != nil {
			return fmt.Errorf("transactions: %w", err)
		}
		txns, err := b.loadTxns(ctx)
		if err != nil {
			return err
		}
		tr.coord = txn.New(txns, 0, b.cfg.Now)
		b.txns = tr
		if err := b.recoverTxns(ctx); err != nil {
			return err
		}
	}
	interval := b.cfg.GroupTickInterval
	if interval == 0 {
		interval = DefaultGroupTickInterval
	}
	if interval < 0 {
		close(tr.done)
		return nil
	}
	go func() {
		defer close(tr.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-tr.quit:
				return
			case <-tick.C:
				b.TickTransactions()
			}
		}
	}()
	return nil
}

// stopTxns stops the ticker.
func (b *Broker) stopTxns() {
	if tr := b.txns; tr != nil {
		close(tr.quit)
		<-tr.done
	}
}

func (b *Broker) loadTxns(ctx context.Context) ([]*txn.Txn, error) {
	rows, err := b.db.QueryContext(ctx, `SELECT id, state FROM broker_txns`)
	if err != nil {
		return nil, fmt.Errorf("transactions: load: %w", err)
	}
	defer rows.Close()
	var out []*txn.Txn
	for rows.Next() {
		var id, state string
		if err := rows.Scan(&id, &state); err != nil {
			return nil, fmt.Errorf("transactions: load: %w", err)
		}
		t := new(txn.Txn)
		if err := json.Unmarshal([]byte(state), t); err != nil || t.ID != id {
			return nil, fmt.Errorf("transactions: load: transactional id %q: stored state does not parse (%v)", id, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("transactions: load: %w", err)
	}
	return out, nil
}

// persistTxn is the coordinator's txn.Persist: one row per id.
func (b *Broker) persistTxn(t *txn.Txn) error {
	body, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("transactions: %s: %w", t.ID, err)
	}
	_, err = b.db.Exec(`INSERT INTO broker_txns (id, state) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state`, t.ID, string(body))
	if err != nil {
		return fmt.Errorf("transactions: store %s: %w", t.ID, err)
	}
	return nil
}

// recoverTxns runs at an embedded node's Open: Prepare states are
// completed; then every open partition transaction whose producer has no
// active transaction touching that partition is aborted. (A cluster node
// has neither: its ticker completes Prepare states any node left, and the
// shared log's gate admits no transactional batch that its coordinator
// state does not explain.)
func (b *Broker) recoverTxns(ctx context.Context) error {
	tr := b.txns
	_, prepared := tr.coord.Expired(time.Time{})
	for _, id := range prepared {
		t, ok := tr.coord.Get(id)
		if !ok {
			continue
		}
		b.log.Info("completing a transaction interrupted by a restart", "transactional_id", id, "state", t.State.String(), "partitions", len(t.Partitions))
		if err := b.completeTxn(ctx, t); err != nil {
			return fmt.Errorf("transactions: complete %s after a restart: %w", id, err)
		}
	}
	b.mu.RLock()
	topics := make([]*topic, 0, len(b.topics))
	for _, t := range b.topics {
		topics = append(topics, t)
	}
	b.mu.RUnlock()
	for _, t := range topics {
		for i, p := range t.parts {
			for _, o := range p.OpenTxns() {
				owner, ok := tr.coord.Owner(o.ProducerID)
				epoch := int16(0)
				if owner != nil {
					epoch = owner.Epoch
				}
				if ok && owner.HasPartition(txn.Partition{Topic: t.name, Partition: int32(i)}) {
					continue
				}
				b.log.Warn("aborting a transaction that no coordinator state explains", "topic", t.name, "partition", i, "producer_id", o.ProducerID, "first_offset", o.FirstOffset)
				if _, err := p.WriteTxnMarker(ctx, o.ProducerID, epoch, false, 0); err != nil {
					return fmt.Errorf("transactions: abort producer %d in %s/%d: %w", o.ProducerID, t.name, i, err)
				}
			}
		}
	}
	return nil
}

// TickTransactions aborts the transactions whose timeout passed at
// Config.Now() and retries completions that failed. The ticker calls it;
// tests with a fake clock call it directly.
func (b *Broker) TickTransactions() {
	tr := b.txns
	if tr == nil {
		return
	}
	now := b.cfg.Now()
	ctx := context.Background()
	var expired []string
	var prepared []*txn.Txn
	if tr.coord == nil {
		var err error
		expired, prepared, err = b.clusterTxnsDue(ctx, now)
		if failing := err != nil; tr.scanFailing.Swap(failing) != failing {
			if failing {
				b.log.Warn("transactions: cannot look for timed-out and unfinished transactions; trying again every tick", "err", err)
			} else {
				b.log.Info("transactions: looking for timed-out and unfinished transactions again")
			}
		}
		if err != nil {
			return
		}
	} else {
		var ids []string
		expired, ids = tr.coord.Expired(now)
		for _, id := range ids {
			if t, ok := tr.coord.Get(id); ok {
				prepared = append(prepared, t)
			}
		}
	}
	for _, id := range expired {
		var t *txn.Txn
		err := b.txnUpdate(ctx, id, true, func(c *txn.Coordinator, persist txn.Persist) (err error) {
			t, err = c.Abort(id, now, persist)
			return err
		})
		if err != nil {
			b.log.Error("aborting a timed-out transaction", "transactional_id", id, "err", err)
			continue
		}
		if t == nil {
			continue
		}
		b.log.Info("aborting a timed-out transaction", "transactional_id", id, "producer_id", t.ProducerID, "timeout", t.Timeout)
		if err := b.completeTxn(ctx, t); err != nil && !errors.Is(err, ErrConcurrentTransactions) {
			b.log.Error("aborting a timed-out transaction", "transactional_id", id, "err", err)
		}
	}
	for _, t := range prepared {
		// ErrConcurrentTransactions: its EndTxn is completing it.
		if err := b.completeTxn(ctx, t); err != nil && !errors.Is(err, ErrConcurrentTransactions) {
			b.log.Error("completing a transaction", "transactional_id", t.ID, "err", err)
		}
	}
	b.forgetIdleTxns(ctx, now)
}

// txnSweepInterval is how often a node looks for transactional ids to
// forget (a scan of every id, on a cluster node of broker_txns).
const txnSweepInterval = time.Minute

// DefaultTransactionalIDExpiration is how long a transactional id whose
// transaction is complete may go unused before it is forgotten when
// Config.TransactionalIDExpiration is 0: Kafka's default, 7 days.
const DefaultTransactionalIDExpiration = 7 * 24 * time.Hour

// forgetIdleTxns deletes the state of the transactional ids whose
// transaction is complete and that nobody used for the expiration
// (Config.TransactionalIDExpiration), at most once a txnSweepInterval. A
// producer that comes back later starts again with a new producer id.
// Without it the state of every transactional id ever used would stay
// forever: a client that makes up ids (one per task and generation, as
// some stream processors do) would grow it without bound.
func (b *Broker) forgetIdleTxns(ctx context.Context, now time.Time) {
	expiration := b.cfg.TransactionalIDExpiration
	if expiration < 0 {
		return
	}
	if expiration == 0 {
		expiration = DefaultTransactionalIDExpiration
	}
	tr := b.txns
	tr.mu.Lock()
	due := tr.swept.IsZero() || now.Sub(tr.swept) >= txnSweepInterval
	if due {
		tr.swept = now
	}
	tr.mu.Unlock()
	if !due {
		return
	}
	var forgotten []string
	if tr.coord == nil {
		var err error
		if forgotten, err = b.clusterForgetIdleTxns(ctx, expiration); err != nil {
			b.log.Warn("transactions: cannot forget idle transactional ids; trying again later", "err", err)
			return
		}
	} else {
		cutoff := now.Add(-expiration)
		for _, id := range tr.coord.Idle(cutoff) {
			ok, err := tr.coord.Forget(id, cutoff, b.deleteTxn)
			if err != nil {
				b.log.Warn("transactions: cannot forget an idle transactional id; trying again later", "transactional_id", id, "err", err)
				continue
			}
			if ok {
				forgotten = append(forgotten, id)
			}
		}
	}
	if len(forgotten) > 0 {
		slices.Sort(forgotten)
		b.log.Info("transactions: forgot transactional ids unused for the expiration", "count", len(forgotten), "expiration", expiration, "first", forgotten[0])
	}
}

// deleteTxn removes a transactional id's stored state (an embedded node).
func (b *Broker) deleteTxn(id string) error {
	if _, err := b.db.Exec(`DELETE FROM broker_txns WHERE id = ?`, id); err != nil {
		return fmt.Errorf("transactions: forget %s: %w", id, err)
	}
	return nil
}

// completeTxn writes t's markers (its state is PrepareCommit or
// PrepareAbort, durable), applies its offsets on commit and marks it
// complete. A completion already under way elsewhere is left to finish
// (ErrConcurrentTransactions). The work does not stop with ctx: a
// half-written set of markers is worse than a late answer.
func (b *Broker) completeTxn(ctx context.Context, t *txn.Txn) error {
	tr := b.txns
	tr.mu.Lock()
	if tr.completing[t.ID] {
		tr.mu.Unlock()
		return ErrConcurrentTransactions
	}
	tr.completing[t.ID] = true
	tr.mu.Unlock()
	defer func() {
		tr.mu.Lock()
		delete(tr.completing, t.ID)
		tr.mu.Unlock()
	}()
	ctx = context.WithoutCancel(ctx)
	commit := t.State == txn.PrepareCommit
	errs := make([]error, len(t.Partitions))
	var wg sync.WaitGroup
	for i, tp := range t.Partitions {
		tpc, err := b.lookup(tp.Topic)
		if err != nil || int(tp.Partition) >= len(tpc.parts) {
			continue // deleted: nothing to mark
		}
		p := tpc.parts[tp.Partition]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.WriteTxnMarker(ctx, t.ProducerID, t.Epoch, commit, 0); err != nil && !errors.Is(err, log.ErrClosed) {
				errs[i] = fmt.Errorf("marker on %s/%d: %w", tp.Topic, tp.Partition, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("transaction %s: %w", t.ID, err)
	}
	txnStep(txnStepMarked) // txn_rpc.go: tests only
	if commit {
		for group, offs := range t.Groups {
			var live []OffsetCommit
			for _, o := range offs {
				if _, n, ok := b.topicIdentity(o.Topic); ok && o.Partition.Partition < n {
					live = append(live, OffsetCommit{Topic: o.Topic, Partition: o.Partition.Partition, Offset: o.Offset.Offset, Metadata: o.Metadata})
				}
			}
			if len(live) == 0 {
				continue
			}
			if err := b.storeOffsets(ctx, group, live); err != nil {
				return fmt.Errorf("transaction %s: %w", t.ID, err)
			}
		}
	}
	return b.txnUpdate(ctx, t.ID, false, func(c *txn.Coordinator, persist txn.Persist) error {
		// Only the transaction completed here: on a cluster another node
		// may have completed it, and the producer begun the next one.
		if cur, ok := c.Get(t.ID); !ok || !samePrepared(cur, t) {
			return nil
		}
		return c.Complete(t.ID, persist)
	})
}

// samePrepared reports whether cur is the prepared transaction t (same
// producer, epoch, state and start), not a later one of its id.
func samePrepared(cur, t *txn.Txn) bool {
	return cur.ProducerID == t.ProducerID && cur.Epoch == t.Epoch && cur.State == t.State && cur.Start.Equal(t.Start)
}

// txnUpdate runs fn on a coordinator holding id's state; fn stores each
// change through persist. On an embedded node that is the coordinator
// itself (with gate's write lock when exclusive: no transactional batch
// is being queued meanwhile); on a cluster node a coordinator holding only
// id's row, locked in a PostgreSQL transaction that stores the change and
// the shared log's gate (txn_cluster.go).
func (b *Broker) txnUpdate(ctx context.Context, id string, exclusive bool, fn func(*txn.Coordinator, txn.Persist) error) error {
	tr := b.txns
	if tr.coord == nil {
		return b.clusterTxnUpdate(ctx, id, fn)
	}
	if exclusive {
		tr.gate.Lock()
		defer tr.gate.Unlock()
	}
	return fn(tr.coord, b.persistTxn)
}

// txnGet returns id's state.
func (b *Broker) txnGet(ctx context.Context, id string) (*txn.Txn, bool, error) {
	if b.txns.coord == nil {
		return b.clusterTxnGet(ctx, id)
	}
	t, ok := b.txns.coord.Get(id)
	return t, ok, nil
}

// txnCoord returns the coordinator, or an error while the broker has none
// (it is closed or not opened through Open).
func (b *Broker) txnCoord() (*txnRuntime, error) {
	if b.txns == nil {
		return nil, ErrClosed
	}
	return b.txns, nil
}

// InitTxnProducer answers InitProducerId for a transactional id: the
// producer id and epoch to use. An open transaction of the id is aborted
// first (its markers written), fencing the previous producer. pid and
// epoch are the client's current ones (-1, -1 when it has none).
func (b *Broker) InitTxnProducer(ctx context.Context, txnID string, timeout time.Duration, pid int64, epoch int16) (int64, int16, error) {
	tr, err := b.txnCoord()
	if err != nil {
		return -1, -1, err
	}
	if txnID == "" {
		return -1, -1, invalidf("init producer id: the transactional id is empty")
	}
	newPID := func() (int64, error) {
		id, _, err := b.NewProducerID(ctx)
		return id, err
	}
	if tr.coord == nil {
		// Taken before the row is locked, so that the transaction never
		// waits for another connection of the pool; an id not used is
		// never handed out (ids are 63 bits).
		id, err := newPID()
		if err != nil {
			return -1, -1, fmt.Errorf("init producer id %s: %w", txnID, err)
		}
		newPID = func() (int64, error) { return id, nil }
	}
	for range 3 {
		var res txn.InitResult
		err := b.txnUpdate(ctx, txnID, true, func(c *txn.Coordinator, persist txn.Persist) (err error) {
			res, err = c.InitProducerID(txnID, timeout, pid, epoch, newPID, persist)
			return err
		})
		if err != nil {
			return -1, -1, fmt.Errorf("init producer id %s: %w", txnID, err)
		}
		if res.Abort == nil {
			return res.ProducerID, res.Epoch, nil
		}
		if err := b.completeTxn(ctx, res.Abort); err != nil {
			return -1, -1, fmt.Errorf("init producer id %s: abort the open transaction: %w", txnID, err)
		}
		// The abort bumped the epoch; the client's epoch is now the last one.
		if pid >= 0 {
			epoch = res.Abort.Epoch
		}
	}
	return -1, -1, fmt.Errorf("init producer id %s: %w", txnID, ErrConcurrentTransactions)
}

// AddPartitionsToTxn adds partitions to the producer's transaction. The
// result has one error per partition, in order: an unknown topic or
// partition refuses the whole request (the others answer
// ErrOperationNotAttempted). A nil slice with an error refuses all.
func (b *Broker) AddPartitionsToTxn(ctx context.Context, txnID string, pid int64, epoch int16, parts []TopicPartition) ([]error, error) {
	if _, err := b.txnCoord(); err != nil {
		return nil, err
	}
	errs := make([]error, len(parts))
	bad := false
	tps := make([]txn.Partition, len(parts))
	for i, tp := range parts {
		tps[i] = txn.Partition{Topic: tp.Topic, Partition: tp.Partition}
		t, err := b.lookup(tp.Topic)
		switch {
		case err != nil:
		case tp.Partition < 0 || int(tp.Partition) >= len(t.parts):
			err = fmt.Errorf("add partitions to transaction %s: %s: %w", txnID, tp, ErrPartitionNotFound)
		}
		if err != nil {
			errs[i], bad = err, true
		}
	}
	if bad {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = ErrOperationNotAttempted
			}
		}
		return errs, nil
	}
	err := b.txnUpdate(ctx, txnID, false, func(c *txn.Coordinator, persist txn.Persist) error {
		return c.AddPartitions(txnID, pid, epoch, tps, b.cfg.Now(), persist)
	})
	if err != nil {
		return nil, fmt.Errorf("add partitions to transaction %s: %w", txnID, err)
	}
	return errs, nil
}

// ErrOperationNotAttempted: part of a request failed, so this part was not
// tried (OPERATION_NOT_ATTEMPTED).
var ErrOperationNotAttempted = errors.New("operation not attempted: another part of the request failed")

// AddOffsetsToTxn adds a consumer group to the producer's transaction, so
// that TxnOffsetCommit may keep offsets for it.
func (b *Broker) AddOffsetsToTxn(ctx context.Context, txnID string, pid int64, epoch int16, groupID string) error {
	if _, err := b.txnCoord(); err != nil {
		return err
	}
	if err := ValidateGroupID(groupID); err != nil {
		return fmt.Errorf("add offsets to transaction %s: %w", txnID, err)
	}
	err := b.txnUpdate(ctx, txnID, false, func(c *txn.Coordinator, persist txn.Persist) error {
		return c.AddGroup(txnID, pid, epoch, groupID, b.cfg.Now(), persist)
	})
	if err != nil {
		return fmt.Errorf("add offsets to transaction %s: %w", txnID, err)
	}
	return nil
}

// TxnOffsetCommit keeps offsets of a group pending in the producer's
// transaction; they are committed with it. The topics and partitions must
// exist.
func (b *Broker) TxnOffsetCommit(ctx context.Context, txnID, groupID string, pid int64, epoch int16, offs []OffsetCommit) error {
	if _, err := b.txnCoord(); err != nil {
		return err
	}
	pend, err := b.txnGroupOffsets(txnID, offs)
	if err != nil {
		return err
	}
	err = b.txnUpdate(ctx, txnID, false, func(c *txn.Coordinator, persist txn.Persist) error {
		return c.CommitOffsets(txnID, pid, epoch, groupID, pend, persist)
	})
	if err != nil {
		return fmt.Errorf("transactional offset commit %s: %w", txnID, err)
	}
	return nil
}

// txnGroupOffsets checks offsets a transaction commits (their topics and
// partitions exist, their metadata fits) and converts them.
func (b *Broker) txnGroupOffsets(txnID string, offs []OffsetCommit) ([]txn.GroupOffset, error) {
	pend := make([]txn.GroupOffset, len(offs))
	for i, oc := range offs {
		t, err := b.lookup(oc.Topic)
		if err != nil {
			return nil, fmt.Errorf("transactional offset commit %s: %w", txnID, err)
		}
		if _, err := t.partition(oc.Partition); err != nil {
			return nil, fmt.Errorf("transactional offset commit %s: %w: %w", txnID, ErrPartitionNotFound, err)
		}
		if len(oc.Metadata) > MaxOffsetMetadataBytes {
			return nil, fmt.Errorf("transactional offset commit %s: %s/%d: metadata is %d bytes; the limit is %d: %w", txnID, oc.Topic, oc.Partition, len(oc.Metadata), MaxOffsetMetadataBytes, ErrOffsetMetadataTooLarge)
		}
		pend[i] = txn.GroupOffset{Partition: txn.Partition{Topic: oc.Topic, Partition: oc.Partition}, Offset: txn.Offset{Offset: oc.Offset, LeaderEpoch: -1, Metadata: oc.Metadata}}
	}
	return pend, nil
}

// EndTxn commits or aborts the producer's transaction: markers on every
// partition, then (commit) the pending offsets, before it returns. Asking
// again for the outcome completed succeeds; while completing it is
// ErrConcurrentTransactions.
func (b *Broker) EndTxn(ctx context.Context, txnID string, pid int64, epoch int16, commit bool) error {
	if _, err := b.txnCoord(); err != nil {
		return err
	}
	var t *txn.Txn
	err := b.txnUpdate(ctx, txnID, true, func(c *txn.Coordinator, persist txn.Persist) (err error) {
		t, err = c.End(txnID, pid, epoch, commit, persist)
		return err
	})
	if err != nil {
		return fmt.Errorf("end transaction %s: %w", txnID, err)
	}
	if t == nil {
		return nil // already completed with this outcome
	}
	if err := b.completeTxn(ctx, t); err != nil {
		if errors.Is(err, ErrConcurrentTransactions) {
			return fmt.Errorf("end transaction %s: %w", txnID, err)
		}
		// The Prepare state is stored: the ticker retries. The client
		// retries too, and is told to wait meanwhile.
		b.log.Error("completing a transaction", "transactional_id", txnID, "err", err)
		return fmt.Errorf("end transaction %s: %w (%v)", txnID, ErrConcurrentTransactions, err)
	}
	return nil
}

// PendingTxnOffsets returns a test of whether a transaction that is open
// or completing holds an offset of group for a partition, which
// OffsetFetch's require_stable answers with UNSTABLE_OFFSET_COMMIT. It
// reads the coordinator's state once (on a cluster node, one query) for
// all of a request's partitions; when that read fails every partition is
// unstable, and the client asks again.
func (b *Broker) PendingTxnOffsets(ctx context.Context, groupID string) func(TopicPartition) bool {
	if b.txns == nil {
		return func(TopicPartition) bool { return false }
	}
	c := b.txns.coord
	if c == nil {
		active, err := b.clusterTxnsActive(ctx)
		if err != nil {
			b.log.Warn("transactions: looking for pending offsets", "group", groupID, "err", err)
			return func(TopicPartition) bool { return true }
		}
		c = txn.New(active, 0, b.cfg.Now)
	}
	return func(tp TopicPartition) bool {
		return c.Pending(groupID, txn.Partition{Topic: tp.Topic, Partition: tp.Partition})
	}
}

// txnProduceBegin checks a transactional batch of producer pid at epoch
// for topic/partition against the coordinator. On success the caller
// queues the batch and then calls release; no transaction leaves Ongoing
// in between.
func (b *Broker) txnProduceBegin(topicName string, partition int32, pid int64, epoch int16) (release func(), err error) {
	tr := b.txns
	if tr == nil {
		return nil, fmt.Errorf("produce %s/%d: transactional batch: %w", topicName, partition, ErrInvalidTxnState)
	}
	if tr.coord == nil {
		// A cluster node: the shared log's commit checks the batch
		// against the transaction's gate (broker/internal/shared txn.go).
		return func() {}, nil
	}
	tr.gate.RLock()
	if err := tr.coord.CheckProduce(pid, epoch, txn.Partition{Topic: topicName, Partition: partition}); err != nil {
		tr.gate.RUnlock()
		if errors.Is(err, txn.ErrFenced) {
			err = fmt.Errorf("%w: %w", ErrInvalidProducerEpoch, err)
		}
		return nil, fmt.Errorf("produce %s/%d: transactional batch of producer %d epoch %d: %w (the partition must be added to an open transaction first)", topicName, partition, pid, epoch, err)
	}
	return tr.gate.RUnlock, nil
}

// TxnState describes a transactional id, for admin views
// (DescribeTransactions, ListTransactions) and tests.
type TxnState struct {
	ID         string
	ProducerID int64
	Epoch      int16
	// State is Kafka's name of the state: Empty, Ongoing, PrepareCommit,
	// PrepareAbort, CompleteCommit or CompleteAbort.
	State   string
	Timeout time.Duration
	// Start is when the transaction last began (zero if it never did).
	Start      time.Time
	Partitions []TopicPartition
}

func txnState(t *txn.Txn) TxnState {
	st := TxnState{ID: t.ID, ProducerID: t.ProducerID, Epoch: t.Epoch, State: t.State.String(), Timeout: t.Timeout, Start: t.Start}
	for _, p := range t.Partitions {
		st.Partitions = append(st.Partitions, TopicPartition{Topic: p.Topic, Partition: p.Partition})
	}
	return st
}

// DescribeTransaction returns a transactional id's state; ok is false
// for an unknown id.
func (b *Broker) DescribeTransaction(txnID string) (TxnState, bool) {
	if b.txns == nil {
		return TxnState{}, false
	}
	t, ok, err := b.txnGet(context.Background(), txnID)
	if err != nil {
		b.log.Warn("transactions: describing a transaction", "transactional_id", txnID, "err", err)
	}
	if !ok {
		return TxnState{}, false
	}
	return txnState(t), true
}

// ListTransactions returns every transactional id's state, by id; with
// runningFor >= 0 only the open or completing ones that began at least
// that long ago (KIP-994's duration filter).
func (b *Broker) ListTransactions(runningFor time.Duration) []TxnState {
	if b.txns == nil {
		return nil
	}
	now := b.cfg.Now()
	var all []*txn.Txn
	if b.txns.coord == nil {
		var err error
		if all, err = b.clusterTxnsAll(context.Background()); err != nil {
			b.log.Warn("transactions: listing transactions", "err", err)
		}
	} else {
		all = b.txns.coord.All()
	}
	var out []TxnState
	for _, t := range all {
		if runningFor >= 0 && (!t.Active() || now.Sub(t.Start) < runningFor) {
			continue
		}
		out = append(out, txnState(t))
	}
	return out
}

// stableEnd is the end of the partition that a Connect reader (Fetch,
// Subscribe, Consume: read_committed by design) reports after reading n
// records from offset, stable being the last stable offset taken before
// the read: with records, the LSO now (past them); with none, everything
// from offset to stable was hidden (markers, aborted or compacted away),
// so the reader may move there, and no further: an open transaction's
// records wait at the LSO.
func stableEnd(p partLog, offset, stable int64, n int) int64 {
	if n > 0 {
		return p.LastStableOffset()
	}
	return max(offset, stable)
}

// AbortedTxn is an aborted transaction of a partition: the batches of
// ProducerID from FirstOffset to LastOffset (its abort marker) are aborted.
type AbortedTxn = log.AbortedTxn

// readCommitted cuts batches (whole stored batches read from offset) at
// the last stable offset stable, taken before they were read, and returns
// them with the aborted transactions that overlap them.
func readCommitted(p partLog, offset, stable int64, batches []byte) ([]byte, []AbortedTxn) {
	end := offset
	for pos := 0; pos+log.BatchHeaderSize <= len(batches); {
		base := int64(binary.BigEndian.Uint64(batches[pos:]))
		size := 12 + int(int32(binary.BigEndian.Uint32(batches[pos+8:])))
		if base >= stable || size < log.BatchHeaderSize || pos+size > len(batches) {
			batches = batches[:pos]
			break
		}
		end = base + int64(int32(binary.BigEndian.Uint32(batches[pos+23:]))) + 1
		pos += size
	}
	if len(batches) == 0 {
		return batches, nil
	}
	return batches, p.AbortedTxns(offset, end)
}
