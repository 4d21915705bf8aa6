package shared

// Transactions (KIP-98) as a shared partition sees them, in PostgreSQL
// (migration 5): the producers with a transaction open in the partition
// (sharedlog_txn_open), the aborted index (sharedlog_txn_aborted), and
// their summary on the partition's row, open_first and abort_max, which
// sharedlog_commit keeps under the partition's lock and answers with the
// high watermark; and the gate through which the transaction coordinator
// admits a producer's transactional batches and markers (migration 6,
// TxnGate). See TRANSACTIONS.md.
//
// The rule that keeps read_committed readers correct on every node: the
// node never learns a high watermark without the transaction state of the
// same commit. Each source of a high watermark (a commit's answers, a
// NOTIFY, a poll, the partition's open, refresh) gives both, and
// advanceTxn stores the state before advance stores the high watermark;
// LastStableOffset loads the high watermark first. A state is taken only
// when it is at least as new as the one held (by the next_offset it was
// read with), so a stale poll never forgets an open transaction.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/broker/internal/log"
)

// ErrNotInTransaction: the transaction gate refused a transactional batch
// (its producer has no transaction open with the partition added, at the
// batch's epoch) or a marker (its transaction is not prepared with that
// outcome: completed already, or never prepared).
var ErrNotInTransaction = errors.New("shared log: the transaction gate refused it")

// ErrMarkerRefused is ErrNotInTransaction for a marker.
var ErrMarkerRefused = fmt.Errorf("%w: the transaction is not prepared with this outcome (completed already?)", ErrNotInTransaction)

// ErrBatchNotInTransaction is ErrNotInTransaction for a transactional batch.
var ErrBatchNotInTransaction = fmt.Errorf("%w: no open transaction of this producer and epoch has the partition added", ErrNotInTransaction)

// gateRefusal is the error of an entry of kind k that the gate refused.
func gateRefusal(k int16) error {
	if k == kindTxn {
		return ErrBatchNotInTransaction
	}
	return ErrMarkerRefused
}

// TxnGate is what a producer's transaction admits into shared partitions
// (migration 6): the transaction coordinator sets it, in the PostgreSQL
// transaction that stores its own state, and sharedlog_commit checks each
// transactional batch and marker against it under the partition's row
// lock, which every marker takes too. Since the coordinator stores the
// Prepare state before it writes markers, a batch is appended before its
// transaction's markers or refused.
type TxnGate int16

// The gate's states; their values are sharedlog_commit's entry kinds.
const (
	// GateClosed admits nothing: no transaction open or completing.
	GateClosed TxnGate = 0
	// GateOngoing admits the producer's transactional batches for the
	// member partitions (AddTxnMembers).
	GateOngoing TxnGate = kindTxn
	// GatePrepareCommit admits commit markers on the member partitions.
	GatePrepareCommit TxnGate = kindCommit
	// GatePrepareAbort admits abort markers on the member partitions.
	GatePrepareAbort TxnGate = kindAbort
)

// SetTxnGate sets producer pid's gate to state at epoch, within tx (the
// coordinator's transaction). GateClosed also forgets its members; the
// producer's row stays, with its epoch, so that a fenced producer's batch
// is answered as fenced after its successor's transaction completed too.
func SetTxnGate(ctx context.Context, tx pgx.Tx, pid int64, epoch int16, state TxnGate) error {
	if state == GateClosed {
		if _, err := tx.Exec(ctx, `DELETE FROM sharedlog_txn_members WHERE producer_id = $1`, pid); err != nil {
			return fmt.Errorf("shared log: close the transaction gate of producer %d: %w", pid, err)
		}
	}
	_, err := tx.Exec(ctx, `INSERT INTO sharedlog_txn_producers (producer_id, epoch, state) VALUES ($1, $2, $3)
		ON CONFLICT (producer_id) DO UPDATE SET epoch = excluded.epoch, state = excluded.state`, pid, epoch, int16(state))
	if err != nil {
		return fmt.Errorf("shared log: set the transaction gate of producer %d: %w", pid, err)
	}
	return nil
}

// ForgetTxnGates removes the closed gates of producers pids, within tx:
// the coordinator forgot their transactional ids (expired), and a batch
// of theirs is refused as of a producer without a transaction.
func ForgetTxnGates(ctx context.Context, tx pgx.Tx, pids []int64) error {
	if len(pids) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `DELETE FROM sharedlog_txn_producers WHERE producer_id = ANY($1) AND state = $2`, pids, int16(GateClosed))
	if err != nil {
		return fmt.Errorf("shared log: forget the transaction gates of %d producers: %w", len(pids), err)
	}
	return nil
}

// AddTxnMembers adds partitions to producer pid's gate, within tx.
func AddTxnMembers(ctx context.Context, tx pgx.Tx, pid int64, parts []*Partition) error {
	if len(parts) == 0 {
		return nil
	}
	topics, nums := make([]string, len(parts)), make([]int32, len(parts))
	for i, p := range parts {
		topics[i], nums[i] = p.key.topic, p.key.part
	}
	_, err := tx.Exec(ctx, `INSERT INTO sharedlog_txn_members (producer_id, topic_id, partition)
		SELECT $1, t, q FROM unnest($2::TEXT[], $3::INTEGER[]) AS x(t, q) ON CONFLICT DO NOTHING`, pid, topics, nums)
	if err != nil {
		return fmt.Errorf("shared log: add partitions to the transaction gate of producer %d: %w", pid, err)
	}
	return nil
}

// ErrControlBatch refuses a control batch from a client: only the
// transaction coordinator writes markers (WriteTxnMarker).
var ErrControlBatch = errors.New("shared log: control batches are written by the transaction coordinator, not produced")

// txnState is what the node knows of a partition's transactions.
type txnState struct {
	openFirst atomic.Int64 // first offset of the oldest open transaction, -1 when none
	abortMax  atomic.Int64 // offset of the last abort marker, -1 when none
	// next is the next_offset the state was read with (Partition.mu):
	// an older state is not taken.
	next int64

	// The aborted index as loaded: every entry whose marker is below
	// loadedTo, by marker offset. loadedTo only grows (amu).
	amu      sync.Mutex
	aborted  []log.AbortedTxn
	loadedTo atomic.Int64
}

func (t *txnState) init() {
	t.openFirst.Store(-1)
	t.abortMax.Store(-1)
	t.next = -1
}

// advanceTxn takes the transaction state read with next_offset next
// (openFirst and abortMax -1 for none). Call it before advance(next, ...).
func (p *Partition) advanceTxn(next, openFirst, abortMax int64) {
	if next < 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t := &p.txn
	if next < t.next {
		return // read before the state held
	}
	t.next = next
	t.openFirst.Store(openFirst)
	if abortMax > t.abortMax.Load() {
		t.abortMax.Store(abortMax)
	}
}

// LastStableOffset is the first offset of the oldest transaction open in
// the partition, or the high watermark when none is: records below it are
// decided (committed, aborted or not transactional). When an abort marker
// is known whose entry is not loaded yet, it loads the aborted index
// first; should that fail, it answers no more than what the loaded index
// covers, so that a read_committed read never passes an aborted
// transaction it cannot name.
func (p *Partition) LastStableOffset() int64 {
	hw := p.hw.Load() // before the state: see the package comment above
	t := &p.txn
	lso := hw
	if first := t.openFirst.Load(); first >= 0 && first < lso {
		lso = first
	}
	if t.abortMax.Load() >= t.loadedTo.Load() {
		if err := p.loadAborted(); err != nil {
			p.l.log.Warn("shared log: aborted transactions not read; read_committed reads wait", "partition", p.key, "err", err)
			lso = min(lso, t.loadedTo.Load())
		}
	}
	return lso
}

// loadAborted reads the aborted index's entries from loadedTo up to the
// state's next_offset (markers below it never change).
func (p *Partition) loadAborted() error {
	t := &p.txn
	t.amu.Lock()
	defer t.amu.Unlock()
	p.mu.Lock()
	bound := t.next
	p.mu.Unlock()
	from := max(t.loadedTo.Load(), p.start.Load())
	if bound <= from {
		// Retention took every marker below bound: nothing to read, and
		// nothing below bound will be (markers below a known high
		// watermark never change).
		t.loadedTo.Store(max(t.loadedTo.Load(), bound))
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.l.cfg.ReadTimeout)
	defer cancel()
	rows, err := p.l.pool.Query(ctx, `SELECT producer_id, first_offset, last_offset FROM sharedlog_txn_aborted
		WHERE topic_id = $1 AND partition = $2 AND last_offset >= $3 AND last_offset < $4 ORDER BY last_offset`,
		p.key.topic, p.key.part, from, bound)
	if err != nil {
		return fmt.Errorf("%w: partition %s: aborted transactions: %w", ErrUnavailable, p.key, err)
	}
	got, err := scanAborted(rows)
	if err != nil {
		return fmt.Errorf("%w: partition %s: aborted transactions: %w", ErrUnavailable, p.key, err)
	}
	t.aborted = append(t.aborted, got...)
	t.loadedTo.Store(bound)
	return nil
}

// scanAborted collects rows of (producer_id, first_offset, last_offset).
func scanAborted(rows pgx.Rows) ([]log.AbortedTxn, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (log.AbortedTxn, error) {
		var e log.AbortedTxn
		err := r.Scan(&e.ProducerID, &e.FirstOffset, &e.LastOffset)
		return e, err
	})
}

// AbortedTxns returns the aborted index's entries that overlap offsets
// [from, to): those whose marker is at or after from and whose first
// offset is before to, what a read_committed Fetch answers with its
// batches. It loads what the node knows exists and has not loaded; should
// that fail, it answers what it has: to is at most a LastStableOffset
// taken before, which answers no more than the loaded index covers.
func (p *Partition) AbortedTxns(from, to int64) []log.AbortedTxn {
	t := &p.txn
	if t.abortMax.Load() >= t.loadedTo.Load() {
		if err := p.loadAborted(); err != nil {
			p.l.log.Warn("shared log: aborted transactions not read", "partition", p.key, "err", err)
		}
	}
	t.amu.Lock()
	defer t.amu.Unlock()
	var out []log.AbortedTxn
	for _, e := range t.aborted {
		if e.LastOffset >= from && e.FirstOffset < to {
			out = append(out, e)
		}
	}
	return out
}

// OpenTxns lists the transactions open in the partition, oldest first, as
// PostgreSQL has them now (nil when it cannot be read: logged).
func (p *Partition) OpenTxns() []log.OpenTxn {
	ctx, cancel := context.WithTimeout(context.Background(), p.l.cfg.ReadTimeout)
	defer cancel()
	rows, err := p.l.pool.Query(ctx, `SELECT producer_id, first_offset FROM sharedlog_txn_open
		WHERE topic_id = $1 AND partition = $2 ORDER BY first_offset`, p.key.topic, p.key.part)
	if err == nil {
		var out []log.OpenTxn
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (log.OpenTxn, error) {
			var o log.OpenTxn
			err := r.Scan(&o.ProducerID, &o.FirstOffset)
			return o, err
		})
		if err == nil {
			return out
		}
	}
	p.l.log.Warn("shared log: open transactions not read", "partition", p.key, "err", err)
	return nil
}

// WriteTxnMarker appends the control batch that ends producer pid's
// transaction in the partition (commit or abort; log.EncodeTxnMarker has
// its layout), waits until it is committed, and returns its offset. The
// same commit closes the transaction in PostgreSQL and, for an abort,
// adds it to the aborted index. A marker for a producer with no
// transaction open here changes nothing but the log (a repeated EndTxn).
func (p *Partition) WriteTxnMarker(ctx context.Context, pid int64, epoch int16, commit bool, coordinatorEpoch int32) (int64, error) {
	b, err := log.EncodeTxnMarker(pid, epoch, commit, coordinatorEpoch, p.cfg.Load().Now().UnixMilli())
	if err != nil {
		return -1, err
	}
	kind := int16(kindAbort)
	if commit {
		kind = kindCommit
	}
	w, err := p.enqueue(b, kind)
	if err != nil {
		return -1, err
	}
	return w.Wait(ctx)
}

// pruneAborted forgets the loaded aborted entries whose markers are below
// start: no read can return them.
func (p *Partition) pruneAborted(start int64) {
	t := &p.txn
	t.amu.Lock()
	defer t.amu.Unlock()
	i := 0
	for i < len(t.aborted) && t.aborted[i].LastOffset < start {
		i++
	}
	t.aborted = t.aborted[i:]
}
