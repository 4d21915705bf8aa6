// Package pgsink is the PostgreSQL sink connector: it reads a typed topic
// (Avro, Protobuf or JSON Schema values, decoded through the registry with
// the typed client) and writes its records as rows of a table.
//
// # Rows
//
// Columns come from the value's writer schema (see the rule in shape.go and
// docs/connectors.md), plus the key's columns, which form the primary key:
// the fields of a record key, or Config.KeyColumn for a key that is not a
// record. The table is created when missing; a record written with a new
// schema version adds the columns the table lacks, nullable. In upsert
// mode a record inserts or updates the row of its key; a tombstone (null
// value) deletes it.
//
// # Exactly once
//
// Each batch of records is written in one PostgreSQL transaction together
// with the next offset of every partition it read, in the table
// sluice_connect_offsets(connector, topic, partition, next_offset). On
// start the sink reads those offsets and consumes from them, so a crash
// (kill -9 included) at any point neither loses nor duplicates a row: the
// rows and the offsets commit together or not at all.
//
// # Bad records
//
// A record the sink cannot decode or write (a value the schema cannot
// describe, a constraint the row breaks, an upsert without a key) stops the
// connector with an error naming its topic, partition and offset, or with
// OnErrorDLQ is appended as it was read to the dead-letter topic with the
// reason in the header sluice.dlq.error (and the record's topic, partition
// and offset in sluice.dlq.topic, .partition and .offset). A dead-letter
// record is produced before the batch's transaction commits: after a crash
// it may be produced again (at least once).
package pgsink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/primitive"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// Sink is one running sink connector.
type Sink struct {
	cfg  Config
	conn *client.Conn
	log  *slog.Logger
	pg   *pgx.Conn
	dlq  *client.Producer[[]byte, []byte]

	table tableState

	// The planner's memory, reused from batch to batch: the op of each
	// key, the batch's key identities (keyid.go) and the ops they are
	// of, the offsets of a key's fields, and the form of each key column
	// list met (the last one at hand).
	byKey      map[string]int
	idBuf      []byte
	keyed      []keyedOp
	idOffs     []int
	keyForms   map[*column]*keyForm
	lastFormID *column
	lastForm   *keyForm

	lastStatus time.Time
}

// idleGap ends a batch early when no record arrived for that long.
const idleGap = 5 * time.Millisecond

// HeartbeatInterval is how often a running sink refreshes its status row
// (busy or idle); ReadStatus reports a "running" sink whose row is older
// than three intervals as not responding (killed, or cut off).
const HeartbeatInterval = 5 * time.Second

// message is a record as the sink's consumers deliver it.
type message = client.Message[*datum, *datum]

// New checks cfg and returns a sink that reads through conn. logger may be
// nil (no logs).
func New(cfg Config, conn *client.Conn, logger *slog.Logger) (*Sink, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("pgsink %s: %w", cfg.Name, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Sink{cfg: cfg, conn: conn, log: logger.With("connector", cfg.Name)}, nil
}

// Run runs the sink until ctx is done (it then returns nil) or it fails.
// Every batch it wrote before is committed; the one being written when ctx
// ends is rolled back and read again at the next start.
func (s *Sink) Run(ctx context.Context) (err error) {
	defer func() {
		if err != nil && ctx.Err() != nil {
			err = nil
		}
		if err != nil {
			err = fmt.Errorf("pgsink %s: %w", s.cfg.Name, err)
		}
		s.finish(err)
	}()
	if s.pg, err = pgx.Connect(ctx, s.cfg.Postgres); err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	if err := ensureStateTables(ctx, s.pg); err != nil {
		return err
	}
	s.table = tableState{schema: s.cfg.Schema, name: s.cfg.Table, nested: s.cfg.Nested}
	if err := s.table.load(ctx, s.pg); err != nil {
		return err
	}
	desc, err := s.conn.Topics().DescribeTopic(ctx, connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: s.cfg.Topic}))
	if err != nil {
		return fmt.Errorf("topic %s: %w", s.cfg.Topic, err)
	}
	offsets, err := storedOffsets(ctx, s.pg, s.cfg.Name, s.cfg.Topic)
	if err != nil {
		return err
	}
	if s.cfg.OnError == OnErrorDLQ {
		if s.dlq, err = client.NewProducer(ctx, s.conn, s.cfg.DLQTopic, primitive.RawBytes(), primitive.RawBytes()); err != nil {
			return fmt.Errorf("dead-letter topic %s: %w", s.cfg.DLQTopic, err)
		}
	}
	if err := s.setStatus(ctx, s.pg, "running", ""); err != nil {
		return err
	}
	s.log.Info("sink started", "topic", s.cfg.Topic, "table", s.cfg.Schema+"."+s.cfg.Table, "partitions", len(desc.Msg.GetTopic().GetPartitions()))

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in := newIntake(s.cfg.BatchRecords)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for _, p := range desc.Msg.GetTopic().GetPartitions() {
		part := p.GetPartition()
		opts := []client.ConsumerOption{client.Partitions(part), client.OnDecodeError(client.DecodeRaw)}
		if off, ok := offsets[part]; ok {
			opts = append(opts, client.FromOffset(off))
		} else {
			opts = append(opts, client.FromEarliest())
		}
		keyCodec := &codec{nested: s.cfg.Nested, single: s.cfg.KeyColumn, raw: s.cfg.KeyFormat == "string"}
		valCodec := &codec{nested: s.cfg.Nested, single: "value"}
		c, err := client.NewConsumer[*datum, *datum](s.conn, s.cfg.Topic, keyCodec, valCodec, opts...)
		if err != nil {
			return err
		}
		res := newResolver(in)
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.RunBatches(cctx, res.put)
			if err != nil && cctx.Err() == nil {
				select {
				case errc <- fmt.Errorf("partition %d: %w", part, err):
				default:
				}
			}
		}()
	}

	// Batches are planned here (last op per key; the consumers' resolvers
	// converted the bytes) while the writer goroutine writes the previous
	// one: PostgreSQL works on batch N while this process prepares N+1.
	heartbeat := time.NewTicker(HeartbeatInterval)
	defer heartbeat.Stop()
	work := make(chan planned, 1)
	werr := make(chan error, 1)
	// writerIdle is set while the writer waits for a batch: the planner
	// then ends the batch it fills early (see below).
	var writerIdle atomic.Bool
	go func() {
		defer close(werr)
		for {
			writerIdle.Store(true)
			p, ok := <-work
			writerIdle.Store(false)
			if !ok {
				return
			}
			if p.batch == nil { // a heartbeat of an idle sink
				if time.Since(s.lastStatus) < HeartbeatInterval/2 {
					continue
				}
				if err := s.setStatus(ctx, s.pg, "running", ""); err != nil && ctx.Err() == nil {
					werr <- err
					for range work {
					}
					return
				}
				continue
			}
			start := time.Now()
			if err := s.write(ctx, p); err != nil {
				werr <- err
				for range work { // let the planner stop
				}
				return
			}
			if s.log.Enabled(ctx, slog.LevelDebug) {
				s.log.Debug("batch written", "records", len(p.batch), "fill", p.filled, "write", time.Since(start))
			}
			in.recycle(p.bufs)
		}
	}()
	defer func() {
		close(work)
		if e := <-werr; e != nil && err == nil {
			err = e
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return err
		case err := <-werr:
			return err
		case <-heartbeat.C:
			select {
			case work <- planned{}:
			default: // the writer is busy: it refreshes the status itself
			}
			continue
		case <-in.ready:
		}
		n := in.len()
		if n == 0 {
			continue // the wake-up of a batch already taken
		}
		filling := time.Now()
		timer := time.NewTimer(s.cfg.BatchInterval)
		// A batch also ends when the stream pauses (no record for
		// idleGap, give or take readyEvery records): the tail of a burst
		// is not held for BatchInterval.
		idle := time.NewTimer(idleGap)
		seen := n // the batch's length at the last idle check
	fill:
		for n < s.cfg.BatchRecords {
			select {
			case <-in.ready:
				n = in.len()
				// PostgreSQL waits for work: a batch of an eighth of
				// BatchRecords goes now (the next ones grow while it is
				// written), rather than leaving the writer idle.
				if n >= s.cfg.BatchRecords/8 && writerIdle.Load() && len(work) == 0 {
					break fill
				}
			case <-idle.C:
				if n = in.len(); n > seen {
					seen = n
					idle.Reset(idleGap)
					continue
				}
				break fill
			case <-timer.C:
				break fill
			case <-ctx.Done():
				break fill
			}
		}
		timer.Stop()
		idle.Stop()
		bufs := in.take()
		p := planned{batch: bufs.msgs, bufs: bufs, filled: time.Since(filling)}
		p.ops, p.bad = s.plan(bufs)
		select {
		case work <- p:
		case err := <-werr:
			return err
		case <-ctx.Done():
			return nil
		}
	}
}

// planned is a batch ready to write.
type planned struct {
	batch  []message
	bufs   *batchBufs // batch's buffers, recycled once it is written
	ops    []op
	bad    []*badRecordError
	filled time.Duration
}

// finish records the connector's end in its status row.
func (s *Sink) finish(err error) {
	if s.pg == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	state, detail := "stopped", ""
	if err != nil {
		state, detail = "failed", err.Error()
	}
	if e := s.setStatus(ctx, s.pg, state, detail); e != nil {
		s.log.Warn("could not record the connector's status", "err", e)
	}
	s.pg.Close(ctx)
}

func (s *Sink) setStatus(ctx context.Context, q querier, state, detail string) error {
	s.lastStatus = time.Now()
	return setStatus(ctx, q, s.cfg.Name, "postgres-sink", state, detail)
}

// op is what one record does to the table.
type op struct {
	m      *message
	delete bool
}

// badRecordError is a record the sink cannot write.
type badRecordError struct {
	m      *message
	reason string
}

func (e *badRecordError) Error() string {
	return fmt.Sprintf("topic %s partition %d offset %d: %s", e.m.Topic, e.m.Partition, e.m.Offset, e.reason)
}

// write writes one batch and its offsets in one transaction. A batch whose
// transaction fails for a reason of the data is written again record by
// record (each under a savepoint) to single out the bad records.
func (s *Sink) write(ctx context.Context, p planned) error {
	ops, bad, batch := p.ops, p.bad, p.batch
	if len(bad) == 0 {
		err := s.writeTx(ctx, ops, batch)
		if err == nil || ctx.Err() != nil || s.isConnError(err) {
			return err
		}
		s.log.Debug("batch failed; writing record by record", "err", err)
	}
	if err := s.writeTxSlow(ctx, ops, bad, batch); err != nil {
		return err
	}
	return nil
}

// plan turns a batch into ops, last op per key wins (upsert mode), and
// lists records that cannot be written at all (the consumers' resolvers
// converted the records, and set Message.Err of those that failed). The
// ops use b's buffers.
func (s *Sink) plan(b *batchBufs) (ops []op, bad []*badRecordError) {
	batch := b.msgs
	ops = b.ops[:0]
	if cap(ops) < len(batch) {
		ops = make([]op, 0, len(batch))
	}
	defer func() { b.ops = ops }()
	// The identities of the keyed ops (upsert mode, deletes) go end to
	// end into ids; keyed[k] is the k-th keyed op and where its identity
	// ends.
	ids, keyed := s.idBuf[:0], s.keyed[:0]
	for i := range batch {
		m := &batch[i]
		if m.Err != nil {
			bad = append(bad, &badRecordError{m: m, reason: m.Err.Error()})
			continue
		}
		o := op{m: m, delete: m.Value == nil}
		switch {
		case o.delete && m.Key == nil:
			continue // a tombstone without a key deletes nothing
		case s.cfg.Mode == ModeUpsert && m.Key == nil:
			bad = append(bad, &badRecordError{m: m, reason: "upsert mode needs a record key; the record has none"})
			continue
		}
		if s.cfg.Mode == ModeUpsert || o.delete {
			at := len(ids)
			var err error
			if ids, err = s.appendKeyIdentity(ids, m.Key); err != nil {
				ids = ids[:at]
				bad = append(bad, &badRecordError{m: m, reason: "key: " + err.Error()})
				continue
			}
			keyed = append(keyed, keyedOp{op: len(ops), end: len(ids)})
		}
		ops = append(ops, o)
	}
	s.idBuf, s.keyed = ids, keyed
	if len(keyed) < 2 {
		return ops, bad
	}
	// Last op per key: each keyed op's identity is put in a map, one
	// operation per op (the keys are substrings of one string: no
	// allocation each); a map with fewer keys than ops met a key twice,
	// and only then are the ops looked up again to drop the superseded.
	if s.byKey == nil {
		s.byKey = map[string]int{}
	}
	byKey := s.byKey
	defer clear(byKey)
	all := string(ids)
	start := 0
	for _, k := range keyed {
		byKey[all[start:k.end]] = k.op
		start = k.end
	}
	if len(byKey) == len(keyed) {
		return ops, bad
	}
	start = 0
	for _, k := range keyed {
		if byKey[all[start:k.end]] != k.op {
			ops[k.op].m = nil // superseded
		}
		start = k.end
	}
	out := ops[:0]
	for _, o := range ops {
		if o.m != nil {
			out = append(out, o)
		}
	}
	return out, bad
}

// keyedOp is an op of plan that has a key identity: its index, and where
// its identity ends in the batch's identities.
type keyedOp struct{ op, end int }

// resolveMsg converts m's key and value (their encoded columns appended
// to a). The error names the side that failed.
func resolveMsg(m *message, a *arena) error {
	if m.Key != nil {
		if err := m.Key.resolve(a); err != nil {
			return fmt.Errorf("key: %w", err)
		}
	}
	if m.Value != nil {
		if err := m.Value.resolve(a); err != nil {
			return fmt.Errorf("value: %w", err)
		}
	}
	return nil
}

// resolver converts the records one consumer reads, a broker response at
// a time, on the consumer's goroutine, before they join the batch being
// filled: a response's datums and bytes are still in the CPU's caches
// then, where converting whole batches later (as the sink once did) found them in
// memory again. Encoded columns go to arena chunks of the intake, handed
// back to it with the records that use them.
type resolver struct {
	in     *intake
	a      arena
	chunks [][]byte // full chunks, to go with the next put
}

func newResolver(in *intake) *resolver {
	r := &resolver{in: in}
	r.a.chunk = func() []byte {
		// The chunk being replaced is full: it goes with the records
		// of this put (or a later one), the last that use it.
		if cap(r.a.buf) == arenaSize {
			r.chunks = append(r.chunks, r.a.buf)
		}
		return in.chunk()
	}
	return r
}

// convert converts ms; a record that fails gets the error in its Err
// (plan makes it a bad record).
func (r *resolver) convert(ms []message) {
	for i := range ms {
		m := &ms[i]
		if m.Err != nil {
			continue // not decoded: plan reports it
		}
		if err := resolveMsg(m, &r.a); err != nil {
			m.Err = err
		}
	}
}

// put converts ms and puts them into the intake (a Consumer.RunBatches
// handler).
func (r *resolver) put(ctx context.Context, ms []message) error {
	r.convert(ms)
	err := r.in.put(ctx, ms, r.chunks)
	clear(r.chunks)
	r.chunks = r.chunks[:0]
	return err
}

// writeTx writes ops (already planned) and the batch's offsets in one
// transaction; a second one when an upsert's COPY met a key already in the
// table (see copyUpsert).
func (s *Sink) writeTx(ctx context.Context, ops []op, batch []message) error {
	t := &s.table
	t.stageOnly = t.upsertSkip > 0
	t.upsertSkip = max(t.upsertSkip-1, 0)
	defer func() { t.stageOnly = false }()
	err := s.writeTxOnce(ctx, ops, batch)
	if ke := (*keysExistError)(nil); errors.As(err, &ke) {
		s.log.Debug("keys already in the table: upserting through the staging table", "err", ke.err)
		t.stageOnly = true
		err = s.writeTxOnce(ctx, ops, batch)
	}
	return err
}

func (s *Sink) writeTxOnce(ctx context.Context, ops []op, batch []message) (err error) {
	defer func() {
		if err != nil {
			s.table.stages = map[string]string{} // rolled back: rebuild them
		}
	}()
	if err := s.ensureColumns(ctx, ops); err != nil {
		return err
	}
	tx, err := s.pg.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := s.table.apply(ctx, tx, ops, s.cfg.Mode, s.cfg.Write); err != nil {
		return err
	}
	if err := s.commitOffsets(ctx, tx, batch); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// writeTxSlow writes the batch record by record, each under a savepoint,
// dead-lettering (or failing on) each record that fails.
func (s *Sink) writeTxSlow(ctx context.Context, ops []op, bad []*badRecordError, batch []message) (err error) {
	defer func() {
		if err != nil {
			s.table.stages = map[string]string{}
		}
	}()
	if len(bad) > 0 && s.cfg.OnError == OnErrorFail {
		return bad[0]
	}
	if err := s.ensureColumns(ctx, ops); err != nil {
		// A schema the table cannot take: every record of it is bad.
		return err
	}
	tx, err := s.pg.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	for _, o := range ops {
		if _, err := tx.Exec(ctx, "SAVEPOINT sluice_record"); err != nil {
			return err
		}
		err := s.table.apply(ctx, tx, []op{o}, s.cfg.Mode, WriteValues)
		if err == nil {
			if _, err := tx.Exec(ctx, "RELEASE SAVEPOINT sluice_record"); err != nil {
				return err
			}
			continue
		}
		if ctx.Err() != nil || s.isConnError(err) {
			return err
		}
		if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT sluice_record"); err != nil {
			return err
		}
		be := &badRecordError{m: o.m, reason: err.Error()}
		if s.cfg.OnError == OnErrorFail {
			return be
		}
		bad = append(bad, be)
	}
	for _, b := range bad {
		if err := s.deadLetter(ctx, b); err != nil {
			return err
		}
	}
	if err := s.commitOffsets(ctx, tx, batch); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// deadLetter appends a bad record to the dead-letter topic as it was read.
func (s *Sink) deadLetter(ctx context.Context, b *badRecordError) error {
	hs := append([]client.Header(nil), b.m.Headers...)
	hs = append(hs,
		client.Header{Key: client.DeadLetterErrorHeader, Value: []byte(b.reason)},
		client.Header{Key: client.DeadLetterTopicHeader, Value: []byte(b.m.Topic)},
		client.Header{Key: client.DeadLetterPartitionHeader, Value: []byte(strconv.Itoa(int(b.m.Partition)))},
		client.Header{Key: client.DeadLetterOffsetHeader, Value: []byte(strconv.FormatInt(b.m.Offset, 10))},
	)
	if _, err := s.dlq.Produce(ctx, b.m.RawKey, b.m.RawValue, client.WithHeaders(hs...)); err != nil {
		return fmt.Errorf("dead-letter %s: %w", b, err)
	}
	s.log.Info("record dead-lettered", "topic", b.m.Topic, "partition", b.m.Partition, "offset", b.m.Offset, "reason", b.reason)
	return nil
}

// commitOffsets stores, in tx, the next offset of every partition of batch.
func (s *Sink) commitOffsets(ctx context.Context, tx pgx.Tx, batch []message) error {
	next := map[int32]int64{}
	for _, m := range batch {
		if m.Offset+1 > next[m.Partition] {
			next[m.Partition] = m.Offset + 1
		}
	}
	for p, off := range next {
		if _, err := tx.Exec(ctx, `INSERT INTO sluice_connect_offsets (connector, topic, partition, next_offset)
			VALUES ($1, $2, $3, $4)
			ON CONFLICT (connector, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset`,
			s.cfg.Name, s.cfg.Topic, p, off); err != nil {
			return fmt.Errorf("store offsets: %w", err)
		}
	}
	if time.Since(s.lastStatus) > HeartbeatInterval {
		if err := s.setStatus(ctx, tx, "running", ""); err != nil {
			return err
		}
	}
	return nil
}

// ensureColumns makes the table hold every column the ops write.
func (s *Sink) ensureColumns(ctx context.Context, ops []op) error {
	for _, o := range ops {
		if err := s.table.ensure(ctx, s.pg, o.m.Key, o.m.Value); err != nil {
			return err
		}
	}
	return nil
}

// isConnError reports an error of the connection or the server rather
// than of the data: the batch is then not retried record by record.
func (s *Sink) isConnError(err error) bool {
	if s.pg.IsClosed() {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		c := pgErr.Code
		return strings.HasPrefix(c, "08") || strings.HasPrefix(c, "57") || strings.HasPrefix(c, "53") || strings.HasPrefix(c, "58")
	}
	var netErr net.Error
	return errors.As(err, &netErr)
}
