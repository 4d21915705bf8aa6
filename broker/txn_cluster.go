package broker

// The transaction coordinator of a cluster node (shared log): every
// transactional id's state is a row of broker_txns in PostgreSQL, and any
// node serves any id. A request locks the id's row (SELECT … FOR UPDATE),
// applies the state machine of broker/internal/txn to it, and stores the
// new state with the shared log's gate (shared.SetTxnGate, AddTxnMembers)
// in the same transaction. So two nodes never hand one transactional id
// different producer ids or epochs, and the gate, which sharedlog_commit
// checks under each partition's lock, admits exactly what the stored
// state allows: a transactional batch while its transaction is Ongoing
// with the partition added, a marker while it is prepared with that
// outcome. No lease is needed: the row lock is the coordinator.
//
// Completion: the node that moved a transaction to PrepareCommit or
// PrepareAbort writes its markers and completes it. A node that dies in
// between leaves the Prepare state stored; every node's ticker completes a
// Prepare state left unchanged for clusterTxnTakeOver. Two completers at
// once are harmless: their markers are both admitted while the state is
// prepared (a second marker finds no open transaction to end), and only
// the completion of that same prepared transaction is stored
// (samePrepared); once it is complete the gate refuses late markers.
// Timed-out Ongoing transactions are aborted by whichever ticker locks the
// row first.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicehq/sluice/broker/internal/log"
	"github.com/sluicehq/sluice/broker/internal/shared"
	"github.com/sluicehq/sluice/broker/internal/txn"
)

// clusterTxnMigrations are the coordinator's tables in PostgreSQL
// (component "broker_txn" of pgmeta.Migrate). A released migration never
// changes.
var clusterTxnMigrations = []string{
	// 1: one row per transactional id: its producer id and state (the
	// txn.State number, for the ticker's scan), the JSON of txn.Txn, and
	// when the row last changed.
	`CREATE TABLE broker_txns (
		id          TEXT        PRIMARY KEY,
		producer_id BIGINT      NOT NULL,
		state       SMALLINT    NOT NULL,
		body        TEXT        NOT NULL,
		updated     TIMESTAMPTZ NOT NULL DEFAULT now()
	);
	CREATE INDEX broker_txns_active ON broker_txns (state) WHERE state BETWEEN 1 AND 3`,
}

// clusterTxnTakeOver is how long a Prepare state stays unchanged before
// any node's ticker completes it: long enough for the node that prepared
// it to write its markers, short enough that a client retrying EndTxn
// after that node died is answered soon.
const clusterTxnTakeOver = 5 * time.Second

// clusterTxnUpdate is txnUpdate on a cluster node.
func (b *Broker) clusterTxnUpdate(ctx context.Context, id string, fn func(*txn.Coordinator, txn.Persist) error) error {
	pool := b.shared.cfg.Pool
	for attempt := 0; ; attempt++ {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			var body string
			var cur *txn.Txn
			err := tx.QueryRow(ctx, `SELECT body FROM broker_txns WHERE id = $1 FOR UPDATE`, id).Scan(&body)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
			case err != nil:
				return txnStoreErr(err)
			default:
				if cur, err = parseTxn(id, body); err != nil {
					return err
				}
			}
			var loaded []*txn.Txn
			if cur != nil {
				loaded = []*txn.Txn{cur}
			}
			persist := func(n *txn.Txn) error {
				js, err := json.Marshal(n)
				if err != nil {
					return fmt.Errorf("transactions: %s: %w", n.ID, err)
				}
				if cur == nil {
					if b.txnInsertHook != nil {
						b.txnInsertHook(n.ID)
					}
					_, err = tx.Exec(ctx, `INSERT INTO broker_txns (id, producer_id, state, body) VALUES ($1, $2, $3, $4)`,
						n.ID, n.ProducerID, int16(n.State), string(js))
				} else {
					_, err = tx.Exec(ctx, `UPDATE broker_txns SET producer_id = $2, state = $3, body = $4, updated = now() WHERE id = $1`,
						n.ID, n.ProducerID, int16(n.State), string(js))
				}
				if err != nil {
					return txnStoreErr(err)
				}
				if err := b.setTxnGate(ctx, tx, cur, n); err != nil {
					return txnStoreErr(err)
				}
				cur = n.Clone()
				return nil
			}
			return fn(txn.New(loaded, 0, b.cfg.Now), persist)
		})
		var pe *pgconn.PgError
		if attempt < 3 && errors.As(err, &pe) && pe.Code == "23505" {
			continue // two nodes stored a new id's first state at once: this one sees the other's now
		}
		return err
	}
}

// gateOf is the shared log's gate for a transaction in state s.
func gateOf(s txn.State) shared.TxnGate {
	switch s {
	case txn.Ongoing:
		return shared.GateOngoing
	case txn.PrepareCommit:
		return shared.GatePrepareCommit
	case txn.PrepareAbort:
		return shared.GatePrepareAbort
	}
	return shared.GateClosed
}

// setTxnGate changes the shared log's gate from what old (nil for a new
// id) set to what n sets, within tx.
func (b *Broker) setTxnGate(ctx context.Context, tx pgx.Tx, old, n *txn.Txn) error {
	g := gateOf(n.State)
	same := old != nil && old.ProducerID == n.ProducerID
	if old != nil && !same && gateOf(old.State) != shared.GateClosed {
		if err := shared.SetTxnGate(ctx, tx, old.ProducerID, old.Epoch, shared.GateClosed); err != nil {
			return err
		}
	}
	if !same || old.Epoch != n.Epoch || gateOf(old.State) != g {
		if err := shared.SetTxnGate(ctx, tx, n.ProducerID, n.Epoch, g); err != nil {
			return err
		}
	}
	if g != shared.GateOngoing {
		return nil
	}
	wasOngoing := same && gateOf(old.State) == shared.GateOngoing
	var add []*shared.Partition
	for _, tp := range n.Partitions {
		if wasOngoing && old.HasPartition(tp) {
			continue
		}
		if p := b.sharedPartition(tp.Topic, tp.Partition); p != nil {
			add = append(add, p)
		}
	}
	return shared.AddTxnMembers(ctx, tx, n.ProducerID, add)
}

// sharedPartition is topic's shared partition, nil when the topic or the
// partition does not exist (then nothing of a transaction can be there).
func (b *Broker) sharedPartition(topicName string, partition int32) *shared.Partition {
	t, err := b.lookup(topicName)
	if err != nil || partition < 0 || int(partition) >= len(t.parts) {
		return nil
	}
	if sp, ok := t.parts[partition].(*sharedPart); ok {
		return sp.Partition
	}
	return nil
}

// parseTxn parses a stored state.
func parseTxn(id, body string) (*txn.Txn, error) {
	t := new(txn.Txn)
	if err := json.Unmarshal([]byte(body), t); err != nil || t.ID != id {
		return nil, fmt.Errorf("transactions: transactional id %q: stored state does not parse (%v)", id, err)
	}
	return t, nil
}

// txnStoreErr marks a failure of the cluster's database as one a client
// retries (COORDINATOR_NOT_AVAILABLE on the Kafka listener).
func txnStoreErr(err error) error {
	if err == nil {
		return nil
	}
	return &sharedError{fmt.Errorf("transactions: the cluster's database: %w", err), errors.Join(log.ErrClosed, ErrStorage)}
}

// clusterTxnGet is txnGet on a cluster node.
func (b *Broker) clusterTxnGet(ctx context.Context, id string) (*txn.Txn, bool, error) {
	var body string
	err := b.shared.cfg.Pool.QueryRow(ctx, `SELECT body FROM broker_txns WHERE id = $1`, id).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, txnStoreErr(err)
	}
	t, err := parseTxn(id, body)
	return t, err == nil, err
}

// clusterTxnsScan returns the stored states matching where (an SQL
// condition on broker_txns), each with whether it has been unchanged for
// clusterTxnTakeOver.
func (b *Broker) clusterTxnsScan(ctx context.Context, where string) ([]*txn.Txn, []bool, error) {
	rows, err := b.shared.cfg.Pool.Query(ctx, `SELECT id, body, updated < now() - $1::interval FROM broker_txns WHERE `+where+` ORDER BY id`,
		clusterTxnTakeOver.String())
	if err != nil {
		return nil, nil, txnStoreErr(err)
	}
	defer rows.Close()
	var out []*txn.Txn
	var idle []bool
	for rows.Next() {
		var id, body string
		var old bool
		if err := rows.Scan(&id, &body, &old); err != nil {
			return nil, nil, txnStoreErr(err)
		}
		t, err := parseTxn(id, body)
		if err != nil {
			return nil, nil, err
		}
		out, idle = append(out, t), append(idle, old)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, txnStoreErr(err)
	}
	return out, idle, nil
}

// activeTxnStates is the SQL condition of the Ongoing and Prepare states.
var activeTxnStates = fmt.Sprintf("state IN (%d, %d, %d)", txn.Ongoing, txn.PrepareCommit, txn.PrepareAbort)

// clusterTxnsActive returns the open or completing transactions.
func (b *Broker) clusterTxnsActive(ctx context.Context) ([]*txn.Txn, error) {
	ts, _, err := b.clusterTxnsScan(ctx, activeTxnStates)
	return ts, err
}

// clusterTxnsAll returns every transactional id's state.
func (b *Broker) clusterTxnsAll(ctx context.Context) ([]*txn.Txn, error) {
	ts, _, err := b.clusterTxnsScan(ctx, "true")
	return ts, err
}

// clusterForgetIdleTxns deletes the rows of the transactional ids neither
// open nor completing and unchanged for expiration (by the row's own
// time, PostgreSQL's clock), with their producers' closed gates, in one
// transaction, and returns their ids. A row locked by an update waits for
// it, and once changed no longer matches.
func (b *Broker) clusterForgetIdleTxns(ctx context.Context, expiration time.Duration) ([]string, error) {
	var ids []string
	err := pgx.BeginFunc(ctx, b.shared.cfg.Pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `DELETE FROM broker_txns WHERE NOT (`+activeTxnStates+`)
			AND updated < now() - make_interval(secs => $1) RETURNING id, producer_id`, expiration.Seconds())
		if err != nil {
			return err
		}
		var pids []int64
		var id string
		var pid int64
		if _, err := pgx.ForEachRow(rows, []any{&id, &pid}, func() error {
			ids, pids = append(ids, id), append(pids, pid)
			return nil
		}); err != nil {
			return err
		}
		return shared.ForgetTxnGates(ctx, tx, pids)
	})
	if err != nil {
		return nil, txnStoreErr(err)
	}
	return ids, nil
}

// clusterTxnsDue returns the ids of Ongoing transactions whose timeout has
// passed at now, and the Prepare states left unchanged for
// clusterTxnTakeOver (their completer died, or failed).
func (b *Broker) clusterTxnsDue(ctx context.Context, now time.Time) (expired []string, prepared []*txn.Txn, err error) {
	ts, idle, err := b.clusterTxnsScan(ctx, activeTxnStates)
	if err != nil {
		return nil, nil, err
	}
	for i, t := range ts {
		switch {
		case t.State == txn.Ongoing && !now.Before(t.Start.Add(t.Timeout)):
			expired = append(expired, t.ID)
		case (t.State == txn.PrepareCommit || t.State == txn.PrepareAbort) && idle[i]:
			prepared = append(prepared, t)
		}
	}
	return expired, prepared, nil
}
