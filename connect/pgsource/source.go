// Package pgsource is the PostgreSQL source connector: change data capture
// through logical replication (the pgoutput plugin) into typed topics, one
// per table, keyed by the primary key, with an Avro schema per table.
//
// # Start
//
// On its first start the source creates its publication (FOR TABLE the
// configured tables) and its logical replication slot, exporting the slot's
// snapshot; it reads every table in that snapshot (records with header
// sluice.cdc.op = "r"), then streams the changes committed after the
// slot's consistent point: inserts ("c"), updates ("u") and deletes ("d":
// a tombstone, null value). Snapshot and changes meet exactly, so every row
// is read once in the snapshot or as a change. A source that stopped before
// its snapshot finished drops the slot and starts over (the snapshot's
// records may then appear twice).
//
// # Schemas
//
// Each table has an Avro key schema (its primary-key columns) and value
// schema (every column) registered under the topic's subjects (see
// schema.go for the type mapping). When the table changes (ALTER TABLE),
// replication describes it anew before its next change and the source
// registers the new version, a compatible one since every non-key field is
// nullable with a default.
//
// # Position
//
// The slot's confirmed position advances only to the end of transactions
// whose records Sluice has acknowledged, so a restart (or a crash) resumes
// at the first transaction not fully acknowledged: no change is skipped;
// the changes of that transaction may be sent again (at least once).
package pgsource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/client"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

var (
	nonSlot  = regexp.MustCompile(`[^a-z0-9_]`)
	slotName = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)
)

// Header keys of the records the source produces.
const (
	// OpHeader is "r" (snapshot read), "c" (insert), "u" (update) or "d"
	// (delete).
	OpHeader = "sluice.cdc.op"
	// LSNHeader is the commit LSN of a change's transaction ("0/16B3748").
	LSNHeader = "sluice.cdc.lsn"
)

// flushInterval is how often the source waits for Sluice's acks and
// confirms the slot's position.
const flushInterval = 200 * time.Millisecond

// Source is one running source connector.
type Source struct {
	cfg  Config
	conn *client.Conn
	log  *slog.Logger

	// tables by relation id (replication) and by name.
	rel    map[uint32]*tableOut
	byName map[string]*tableOut

	errMu    sync.Mutex
	asyncErr error

	// acked is the end of the last transaction whose records are all
	// acknowledged; pending the end of the last transaction read.
	acked, pending pglogrepl.LSN
}

// tableOut is a table's current schema and producer.
type tableOut struct {
	ts    *tableSchema
	topic string
	prod  *client.Producer[row, row]
}

// New checks cfg and returns a source producing through conn. logger may
// be nil.
func New(cfg Config, conn *client.Conn, logger *slog.Logger) (*Source, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("pgsource %s: %w", cfg.Name, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Source{cfg: cfg, conn: conn, log: logger.With("connector", cfg.Name),
		rel: map[uint32]*tableOut{}, byName: map[string]*tableOut{}}, nil
}

// Run captures changes until ctx is done (then it returns nil after
// confirming what Sluice acknowledged) or a failure.
func (s *Source) Run(ctx context.Context) (err error) {
	var pg *pgx.Conn
	defer func() {
		if err != nil && ctx.Err() != nil {
			err = nil
		}
		if err != nil {
			err = fmt.Errorf("pgsource %s: %w", s.cfg.Name, err)
		}
		if pg != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			state, detail := "stopped", ""
			if err != nil {
				state, detail = "failed", err.Error()
			}
			setStatus(sctx, pg, s.cfg.Name, state, detail)
			pg.Close(sctx)
			cancel()
		}
		for _, t := range s.byName {
			t.prod.Close(context.Background())
		}
	}()
	pg, err = pgx.Connect(ctx, s.cfg.Postgres)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	if err := s.setup(ctx, pg); err != nil {
		return err
	}
	repl, err := s.replicationConn(ctx)
	if err != nil {
		return err
	}
	defer repl.Close(context.Background())

	var done bool
	if err := pg.QueryRow(ctx, `SELECT coalesce((SELECT snapshot_done FROM sluice_connect_source WHERE connector = $1), false)
		AND EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $2)`, s.cfg.Name, s.cfg.Slot).Scan(&done); err != nil {
		return fmt.Errorf("read the source's state: %w", err)
	}
	start := pglogrepl.LSN(0) // the slot's confirmed position
	if done {
		var confirmed string
		if err := pg.QueryRow(ctx, `SELECT coalesce(confirmed_flush_lsn::text, '0/0') FROM pg_replication_slots WHERE slot_name = $1`, s.cfg.Slot).Scan(&confirmed); err == nil {
			s.log.Info("resuming from the slot's confirmed position", "slot", s.cfg.Slot, "lsn", confirmed)
		}
	} else {
		if start, err = s.snapshot(ctx, pg, repl); err != nil {
			return err
		}
	}
	if err := setStatus(ctx, pg, s.cfg.Name, "running", ""); err != nil {
		return err
	}
	if err := pglogrepl.StartReplication(ctx, repl, s.cfg.Slot, start, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", "publication_names '" + s.cfg.Publication + "'"},
	}); err != nil {
		return fmt.Errorf("start replication from slot %s: %w", s.cfg.Slot, err)
	}
	s.acked, s.pending = start, start
	s.log.Info("source streaming", "slot", s.cfg.Slot)
	return s.stream(ctx, repl)
}

// setup creates the state tables and the publication.
func (s *Source) setup(ctx context.Context, pg *pgx.Conn) error {
	if _, err := pg.Exec(ctx, `CREATE TABLE IF NOT EXISTS sluice_connect_source (
		connector text PRIMARY KEY,
		slot text NOT NULL,
		snapshot_done boolean NOT NULL DEFAULT false)`); err != nil {
		return fmt.Errorf("create sluice_connect_source: %w", err)
	}
	if err := ensureStatusTable(ctx, pg); err != nil {
		return err
	}
	var tables []string
	for _, t := range s.cfg.Tables {
		schema, table, _ := splitTable(t)
		tables = append(tables, pgx.Identifier{schema, table}.Sanitize())
	}
	var exists bool
	if err := pg.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)`, s.cfg.Publication).Scan(&exists); err != nil {
		return err
	}
	verb := "CREATE PUBLICATION " + pgx.Identifier{s.cfg.Publication}.Sanitize() + " FOR TABLE "
	if exists {
		verb = "ALTER PUBLICATION " + pgx.Identifier{s.cfg.Publication}.Sanitize() + " SET TABLE "
	}
	if _, err := pg.Exec(ctx, verb+strings.Join(tables, ", ")); err != nil {
		return fmt.Errorf("publication %s: %w", s.cfg.Publication, err)
	}
	return nil
}

func (s *Source) replicationConn(ctx context.Context) (*pgconn.PgConn, error) {
	cfg, err := pgconn.ParseConfig(s.cfg.Postgres)
	if err != nil {
		return nil, fmt.Errorf("postgres URL: %w", err)
	}
	cfg.RuntimeParams["replication"] = "database"
	cfg.RuntimeParams["DateStyle"] = "ISO"
	cfg.RuntimeParams["bytea_output"] = "hex"
	c, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("replication connection: %w", err)
	}
	return c, nil
}

// snapshot (re)creates the slot, exporting its snapshot, and produces
// every row of every table as of that snapshot. It returns the slot's
// consistent point, where streaming starts.
func (s *Source) snapshot(ctx context.Context, pg *pgx.Conn, repl *pgconn.PgConn) (pglogrepl.LSN, error) {
	var slotExists bool
	if err := pg.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)`, s.cfg.Slot).Scan(&slotExists); err != nil {
		return 0, err
	}
	if slotExists {
		s.log.Warn("the slot exists but its snapshot was not finished: starting over", "slot", s.cfg.Slot)
		if err := pglogrepl.DropReplicationSlot(ctx, repl, s.cfg.Slot, pglogrepl.DropReplicationSlotOptions{Wait: true}); err != nil {
			return 0, fmt.Errorf("drop slot %s: %w", s.cfg.Slot, err)
		}
	}
	if _, err := pg.Exec(ctx, `INSERT INTO sluice_connect_source (connector, slot, snapshot_done) VALUES ($1, $2, false)
		ON CONFLICT (connector) DO UPDATE SET slot = EXCLUDED.slot, snapshot_done = false`, s.cfg.Name, s.cfg.Slot); err != nil {
		return 0, err
	}
	res, err := pglogrepl.CreateReplicationSlot(ctx, repl, s.cfg.Slot, "pgoutput", pglogrepl.CreateReplicationSlotOptions{
		SnapshotAction: "EXPORT_SNAPSHOT", Mode: pglogrepl.LogicalReplication})
	if err != nil {
		return 0, fmt.Errorf("create replication slot %s: %w", s.cfg.Slot, err)
	}
	start, err := pglogrepl.ParseLSN(res.ConsistentPoint)
	if err != nil {
		return 0, err
	}
	s.log.Info("snapshot started", "slot", s.cfg.Slot, "consistent_point", res.ConsistentPoint)
	tx, err := pg.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+res.SnapshotName+"'"); err != nil {
		return 0, fmt.Errorf("use the slot's snapshot: %w", err)
	}
	if _, err := tx.Exec(ctx, "SET LOCAL DateStyle = ISO; SET LOCAL bytea_output = hex"); err != nil {
		return 0, err
	}
	total := 0
	for _, name := range s.cfg.Tables {
		schema, table, _ := splitTable(name)
		cols, err := catalogColumns(ctx, tx, schema, table)
		if err != nil {
			return 0, err
		}
		out, err := s.table(ctx, schema, table, cols)
		if err != nil {
			return 0, err
		}
		sel := make([]string, len(cols))
		for i, c := range cols {
			sel[i] = pgx.Identifier{c.name}.Sanitize() + "::text"
		}
		rows, err := tx.Query(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+pgx.Identifier{schema, table}.Sanitize(), pgx.QueryResultFormats{pgx.TextFormatCode})
		if err != nil {
			return 0, fmt.Errorf("snapshot %s.%s: %w", schema, table, err)
		}
		hdr := client.WithHeaders(client.Header{Key: OpHeader, Value: []byte("r")})
		for rows.Next() {
			raw := rows.RawValues()
			r := make(row, len(raw))
			for i, v := range raw {
				if v != nil {
					r[i] = append([]byte{}, v...)
				}
			}
			out.prod.ProduceAsync(ctx, r, r, s.onAck, hdr)
			total++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, fmt.Errorf("snapshot %s.%s: %w", schema, table, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	if err := s.flush(ctx); err != nil {
		return 0, err
	}
	if _, err := pg.Exec(ctx, `UPDATE sluice_connect_source SET snapshot_done = true WHERE connector = $1`, s.cfg.Name); err != nil {
		return 0, err
	}
	s.log.Info("snapshot done", "records", total)
	return start, nil
}

// catalogColumns reads a table's columns and primary key as replication
// describes them (name, type, key flag).
func catalogColumns(ctx context.Context, q pgx.Tx, schema, table string) ([]pgColumn, error) {
	rows, err := q.Query(ctx, `SELECT a.attname, a.atttypid,
			coalesce(a.attnum = ANY (i.indkey), false)
		FROM pg_attribute a
		JOIN pg_class c ON c.oid = a.attrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
		WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, schema, table)
	if err != nil {
		return nil, fmt.Errorf("columns of %s.%s: %w", schema, table, err)
	}
	var cols []pgColumn
	for rows.Next() {
		var c pgColumn
		if err := rows.Scan(&c.name, &c.oid, &c.key); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("table %s.%s does not exist", schema, table)
	}
	return cols, nil
}

// table returns the producer of a table with these columns, registering a
// new schema version (and flushing the previous producer, so the order of
// each key holds) when the columns changed.
func (s *Source) table(ctx context.Context, schema, table string, cols []pgColumn) (*tableOut, error) {
	ts, err := newTableSchema(schema, table, cols)
	if err != nil {
		return nil, err
	}
	name := schema + "." + table
	if cur, ok := s.byName[name]; ok {
		if cur.ts.sig == ts.sig {
			return cur, nil
		}
		if err := cur.prod.Flush(ctx); err != nil {
			return nil, err
		}
		if err := s.takeErr(); err != nil {
			return nil, err
		}
		cur.prod.Close(ctx)
		s.log.Info("table changed: registering a new schema version", "table", name)
	}
	topic := s.cfg.TopicPrefix + name
	if err := s.ensureTopic(ctx, topic); err != nil {
		return nil, err
	}
	prod, err := client.NewProducer(ctx, s.conn, topic, client.Codec[row](&rowCodec{ts: ts, key: true}), client.Codec[row](&rowCodec{ts: ts}),
		client.AutoRegister(), client.Linger(5*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("table %s: topic %s: %w", name, topic, err)
	}
	out := &tableOut{ts: ts, topic: topic, prod: prod}
	s.byName[name] = out
	return out, nil
}

// ensureTopic creates a missing topic, compacted.
func (s *Source) ensureTopic(ctx context.Context, topic string) error {
	_, err := s.conn.Topics().CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{
		Name: topic, Partitions: s.cfg.Partitions, Configs: map[string]string{"cleanup.policy": "compact"}}))
	if err != nil && connect.CodeOf(err) != connect.CodeAlreadyExists {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

func (s *Source) onAck(_ client.Ack, err error) {
	if err != nil {
		s.errMu.Lock()
		if s.asyncErr == nil {
			s.asyncErr = err
		}
		s.errMu.Unlock()
	}
}

func (s *Source) takeErr() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.asyncErr
}

// flush waits until Sluice has answered every record produced so far and
// returns the first failure.
func (s *Source) flush(ctx context.Context) error {
	for _, t := range s.byName {
		if err := t.prod.Flush(ctx); err != nil {
			return err
		}
	}
	return s.takeErr()
}

// stream reads the replication stream until ctx ends or it fails.
func (s *Source) stream(ctx context.Context, repl *pgconn.PgConn) error {
	nextFlush := time.Now().Add(flushInterval)
	nextStatus := time.Now().Add(10 * time.Second)
	var inTx pglogrepl.LSN // the commit LSN of the transaction being read
	confirm := func(force bool) error {
		if s.pending > s.acked {
			if err := s.flush(ctx); err != nil {
				return err
			}
			s.acked = s.pending
			force = true
		}
		if force {
			if err := pglogrepl.SendStandbyStatusUpdate(ctx, repl, pglogrepl.StandbyStatusUpdate{
				WALWritePosition: s.acked, WALFlushPosition: s.acked, WALApplyPosition: s.acked}); err != nil {
				return fmt.Errorf("confirm position: %w", err)
			}
			nextStatus = time.Now().Add(10 * time.Second)
		}
		return nil
	}
	defer func() {
		// Confirm what was acknowledged before leaving.
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if s.pending > s.acked && s.flush(cctx) == nil {
			s.acked = s.pending
		}
		pglogrepl.SendStandbyStatusUpdate(cctx, repl, pglogrepl.StandbyStatusUpdate{
			WALWritePosition: s.acked, WALFlushPosition: s.acked, WALApplyPosition: s.acked})
	}()
	for {
		now := time.Now()
		if !now.Before(nextFlush) {
			if err := confirm(!now.Before(nextStatus)); err != nil {
				return err
			}
			nextFlush = now.Add(flushInterval)
		}
		rctx, cancel := context.WithDeadline(ctx, nextFlush)
		raw, err := repl.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if pgconn.Timeout(err) {
				continue
			}
			return fmt.Errorf("replication stream: %w", err)
		}
		switch m := raw.(type) {
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("replication stream: %s (SQLSTATE %s)", m.Message, m.Code)
		case *pgproto3.CopyData:
			if len(m.Data) == 0 {
				continue
			}
			switch m.Data[0] {
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(m.Data[1:])
				if err != nil {
					return err
				}
				if ka.ReplyRequested {
					if err := confirm(true); err != nil {
						return err
					}
				}
			case pglogrepl.XLogDataByteID:
				xld, err := pglogrepl.ParseXLogData(m.Data[1:])
				if err != nil {
					return err
				}
				msg, err := pglogrepl.Parse(xld.WALData)
				if err != nil {
					return fmt.Errorf("pgoutput message: %w", err)
				}
				if err := s.handle(ctx, msg, &inTx); err != nil {
					return err
				}
			}
		}
	}
}

// handle turns one pgoutput message into records.
func (s *Source) handle(ctx context.Context, msg pglogrepl.Message, inTx *pglogrepl.LSN) error {
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		cols := make([]pgColumn, len(m.Columns))
		for i, c := range m.Columns {
			cols[i] = pgColumn{name: c.Name, oid: c.DataType, key: c.Flags&1 != 0}
		}
		out, err := s.table(ctx, m.Namespace, m.RelationName, cols)
		if err != nil {
			return err
		}
		s.rel[m.RelationID] = out
	case *pglogrepl.BeginMessage:
		*inTx = m.FinalLSN
	case *pglogrepl.CommitMessage:
		s.pending = m.TransactionEndLSN
	case *pglogrepl.InsertMessage:
		return s.change(ctx, m.RelationID, "c", *inTx, nil, m.Tuple)
	case *pglogrepl.UpdateMessage:
		return s.change(ctx, m.RelationID, "u", *inTx, m.OldTuple, m.NewTuple)
	case *pglogrepl.DeleteMessage:
		return s.change(ctx, m.RelationID, "d", *inTx, m.OldTuple, nil)
	case *pglogrepl.TruncateMessage:
		s.log.Warn("TRUNCATE is not captured: its rows stay in the topics", "relations", m.RelationNum)
	}
	return nil
}

// change produces the records of one row change: the new row (insert,
// update), a tombstone for a delete, and also a tombstone of the old key
// when an update changed the key.
func (s *Source) change(ctx context.Context, relID uint32, op string, lsn pglogrepl.LSN, oldTuple, newTuple *pglogrepl.TupleData) error {
	out, ok := s.rel[relID]
	if !ok {
		return fmt.Errorf("change of relation %d before its description", relID)
	}
	hdr := client.WithHeaders(client.Header{Key: OpHeader, Value: []byte(op)}, client.Header{Key: LSNHeader, Value: []byte(lsn.String())})
	var oldRow row
	if oldTuple != nil {
		oldRow = tupleRow(out.ts, oldTuple, nil)
	}
	if newTuple == nil { // delete: the old tuple holds the key
		if oldRow == nil {
			return fmt.Errorf("delete in %s.%s without its key", out.ts.schema, out.ts.table)
		}
		out.prod.ProduceAsync(ctx, oldRow, nil, s.onAck, hdr)
		return s.takeErr()
	}
	newRow := tupleRow(out.ts, newTuple, oldRow)
	if oldRow != nil && !sameKey(out.ts, oldRow, newRow) {
		out.prod.ProduceAsync(ctx, oldRow, nil, s.onAck, client.WithHeaders(client.Header{Key: OpHeader, Value: []byte("d")}, client.Header{Key: LSNHeader, Value: []byte(lsn.String())}))
	}
	out.prod.ProduceAsync(ctx, newRow, newRow, s.onAck, hdr)
	return s.takeErr()
}

// tupleRow converts replication tuple data to a row. An unchanged TOASTed
// value ('u') is taken from old when it has it (REPLICA IDENTITY FULL), and
// is null otherwise.
func tupleRow(ts *tableSchema, t *pglogrepl.TupleData, old row) row {
	r := make(row, len(ts.cols))
	for i, c := range t.Columns {
		if i >= len(r) {
			break
		}
		switch c.DataType {
		case 't':
			r[i] = append([]byte{}, c.Data...) // the message buffer is reused
		case 'u':
			if old != nil && i < len(old) {
				r[i] = old[i]
			}
		}
	}
	return r
}

func sameKey(ts *tableSchema, a, b row) bool {
	for _, i := range ts.keyIdx {
		if string(a[i]) != string(b[i]) {
			return false
		}
	}
	return true
}

// ensureStatusTable and setStatus keep the connector's row of
// sluice_connect_status (the same table the sink uses).
func ensureStatusTable(ctx context.Context, pg *pgx.Conn) error {
	_, err := pg.Exec(ctx, `CREATE TABLE IF NOT EXISTS sluice_connect_status (
		connector text PRIMARY KEY,
		kind text NOT NULL,
		state text NOT NULL,
		detail text NOT NULL DEFAULT '',
		updated_at timestamptz NOT NULL DEFAULT now())`)
	if err != nil {
		return fmt.Errorf("create sluice_connect_status: %w", err)
	}
	return nil
}

func setStatus(ctx context.Context, pg *pgx.Conn, name, state, detail string) error {
	_, err := pg.Exec(ctx, `INSERT INTO sluice_connect_status (connector, kind, state, detail, updated_at)
		VALUES ($1, 'postgres-source', $2, $3, now())
		ON CONFLICT (connector) DO UPDATE SET kind = EXCLUDED.kind, state = EXCLUDED.state,
			detail = EXCLUDED.detail, updated_at = EXCLUDED.updated_at`, name, state, detail)
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("record status: %w", err)
	}
	return nil
}
