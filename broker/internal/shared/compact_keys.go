package shared

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/broker/internal/log"
	"github.com/sluicehq/sluice/internal/pgmeta"
)

// This file is key compaction (cleanup.policy=compact) of shared
// partitions, with the local log's semantics (broker/internal/log,
// maintenance.go): in the partition's closed part, only the latest record
// of each key survives, with every keyless record; a tombstone (a keyed
// record with a null value) that is the latest of its key survives until
// its timestamp is DeleteRetention old; offsets are preserved; a batch
// left without records is dropped. A compacted partition has no age or
// size retention (DeleteRecordsBefore still applies).
//
// The closed part is the prefix of the partition, from the log start, of
// batches that the merge compactor has moved into segment objects or that
// sit in intake objects older than MergeAge as of the maintenance time:
// the tail, still being written and served from fresh objects, is never
// compacted (the local log's active segment, rolled by age as of the
// maintenance time too). Uncommitted batches are in no row, so no pass
// can see them. Transactions as on the local log: the closed part ends at
// the oldest open transaction's first offset (the last stable offset), an
// aborted transaction's batches go, and markers stay as they are (their
// records are no keys).
//
// A pass holds the partition's maintenance lock (the advisory lock the
// merge compactor takes, so one node at a time works on a partition). It
// reads the closed part twice, first for the latest offset of each key,
// then to rewrite the coordinate rows that lose a record, or still sit in
// an intake object: their surviving batches go to new segment objects (at
// most MergeMaxBytes each), one row per run of consecutive batches of at
// most MergeRunBytes. One PostgreSQL transaction then swaps the rows: it refuses a plan whose
// rows changed meanwhile (retention, a merge, a deleted topic), deletes
// the old rows, takes their bytes off their objects' live bytes (an
// object left with none dies and is collected after GCGrace, longer than
// any read planned against the old rows) and inserts the new rows.
// Readers see the old rows or the new ones, each a consistent log.

// keyCompaction is what a node remembers of a partition's last key
// compaction, to skip passes with nothing to do (as the local log's
// cleanedTo and tombstoneDue). The zero value runs the first pass.
type keyCompaction struct {
	mu        sync.Mutex
	cleanedTo int64 // end of the closed part the last pass cleaned
	due       int64 // Unix ms a kept tombstone expires; 0 unknown
	passes    int64 // passes that read the closed part on this node
}

// compactedNotice starts the notification line of a key compaction pass,
// "compacted <partition> <end> <due> <topic_id>": the end of the closed
// part it cleaned and when its first kept tombstone expires. Nodes forget
// the partition's coordinates kept in memory and skip passes of their own
// until the closed part grows past end or due comes (listen.go), so that
// one node, not every node, reads the closed part after it grows.
const compactedNotice = "compacted "

// noticeCompacted is the compactedNotice line of a pass.
func (p *Partition) noticeCompacted(end, due int64) string {
	return fmt.Sprintf("%s%d %d %d %s", compactedNotice, p.key.part, end, due, p.key.topic)
}

// forgetCompacted applies a compactedNotice line's rest.
func (l *Log) forgetCompacted(what string) {
	f := strings.SplitN(what, " ", 4)
	if len(f) != 4 {
		return
	}
	part, err1 := strconv.ParseInt(f[0], 10, 32)
	end, err2 := strconv.ParseInt(f[1], 10, 64)
	due, err3 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return
	}
	l.mu.Lock()
	p := l.parts[pkey{f[3], int32(part)}]
	l.mu.Unlock()
	if p == nil {
		return
	}
	p.forgetCoords()
	p.kc.mu.Lock()
	if end >= p.kc.cleanedTo {
		p.kc.cleanedTo, p.kc.due = end, due
	}
	p.kc.mu.Unlock()
}

// compactRow is one coordinate row of the closed part.
type compactRow struct {
	coord
	objectID int64
}

// newRow is a coordinate row of the output: in output object obj.
type newRow struct {
	obj                  int
	base, last, off, len int64
	maxTs                int64
}

// compactTimeout bounds one key compaction pass (it reads the closed part
// twice).
func (l *Log) compactTimeout() time.Duration { return 10 * l.cfg.ReadTimeout }

// compactKeys runs one key compaction pass as of now if the closed part
// grew since the last one on this node, or a kept tombstone expired.
func (p *Partition) compactKeys(cfg *log.Config, now time.Time) error {
	l := p.l
	ctx, cancel := context.WithTimeout(context.Background(), l.compactTimeout())
	defer cancel()
	conn, err := l.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("%w: compact %s: %w", ErrUnavailable, p.key, err)
	}
	defer conn.Release()
	lock := pgmeta.LockKey("sharedlog-merge:" + p.key.String())
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, lock).Scan(&locked); err != nil {
		return fmt.Errorf("%w: compact %s: %w", ErrUnavailable, p.key, err)
	}
	if !locked {
		return nil // another node is at it
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, lock) //nolint:errcheck // the session ends the lock anyway

	// The end of the closed part: the first batch still in a young intake
	// object, or the high watermark; no further than the oldest open
	// transaction's first offset.
	var end, openFirst *int64
	var next, start int64
	if err := conn.QueryRow(ctx, `SELECT (SELECT min(b.base_offset) FROM sharedlog_batches b JOIN sharedlog_objects o USING (object_id)
			WHERE b.topic_id = $1 AND b.partition = $2 AND o.key NOT LIKE 'seg/%'
			AND ($3::FLOAT8 < 0 OR o.created_at >= $4::TIMESTAMPTZ - make_interval(secs => $3::FLOAT8))),
			p.next_offset, p.log_start_offset, p.open_first
		FROM sharedlog_partitions p WHERE p.topic_id = $1 AND p.partition = $2`,
		p.key.topic, p.key.part, l.cfg.MergeAge.Seconds(), now).Scan(&end, &next, &start, &openFirst); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // deleted
		}
		return fmt.Errorf("%w: compact %s: %w", ErrUnavailable, p.key, err)
	}
	if end == nil {
		end = &next
	}
	if openFirst != nil && *openFirst < *end {
		end = openFirst
	}
	nowMs := now.UnixMilli()
	kc := &p.kc
	kc.mu.Lock()
	idle := *end <= kc.cleanedTo && (kc.due == 0 || nowMs < kc.due)
	kc.mu.Unlock()
	if idle || *end <= start {
		return nil
	}
	kc.mu.Lock()
	kc.passes++
	kc.mu.Unlock()

	// The rows wholly below the end: a row of a segment may run past an
	// open transaction's first offset, and then waits for it to end (as a
	// local segment holding one does).
	rows, err := conn.Query(ctx, `SELECT b.base_offset, b.last_offset, o.key, o.size, b.byte_off, b.byte_len, b.max_ts, o.object_id
		FROM sharedlog_batches b JOIN sharedlog_objects o USING (object_id)
		WHERE b.topic_id = $1 AND b.partition = $2 AND b.last_offset < $3
		ORDER BY b.base_offset`, p.key.topic, p.key.part, *end)
	if err != nil {
		return fmt.Errorf("%w: compact %s: %w", ErrUnavailable, p.key, err)
	}
	closed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (compactRow, error) {
		var c compactRow
		err := r.Scan(&c.base, &c.last, &c.key, &c.objSize, &c.off, &c.len, &c.maxTs, &c.objectID)
		return c, err
	})
	if err != nil {
		return fmt.Errorf("%w: compact %s: %w", ErrUnavailable, p.key, err)
	}
	// The aborted transactions with batches in the closed part (their
	// markers may lie after it).
	rows, err = conn.Query(ctx, `SELECT producer_id, first_offset, last_offset FROM sharedlog_txn_aborted
		WHERE topic_id = $1 AND partition = $2 AND last_offset >= $3 AND first_offset < $4 ORDER BY last_offset`,
		p.key.topic, p.key.part, start, *end)
	if err != nil {
		return fmt.Errorf("%w: compact %s: %w", ErrUnavailable, p.key, err)
	}
	aborted, err := scanAborted(rows)
	if err != nil {
		return fmt.Errorf("%w: compact %s: %w", ErrUnavailable, p.key, err)
	}
	// txnBatch says what a batch is to compaction: a marker (kept as it
	// is, its record no key), an aborted transaction's (dropped), or data.
	txnBatch := func(raw []byte) (marker, abortedData bool) {
		h, _ := log.PeekBatch(raw)
		return h.Control, !h.Control && h.HiddenFromReaders(aborted)
	}

	// Pass 1: the latest offset of each key.
	latest := map[string]int64{}
	var recs []log.Record
	for _, c := range closed {
		err := p.eachBatch(ctx, c.coord, &recs, func(raw []byte, recs []log.Record) error {
			if marker, abortedData := txnBatch(raw); marker || abortedData {
				return nil
			}
			for i := range recs {
				if recs[i].Key != nil {
					latest[string(recs[i].Key)] = recs[i].Offset
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	horizon := nowMs - cfg.DeleteRetention.Milliseconds()
	due := int64(math.MaxInt64)
	keep := func(r *log.Record) bool {
		if r.Key == nil {
			return true
		}
		if latest[string(r.Key)] != r.Offset {
			return false
		}
		if r.Value == nil {
			if r.Timestamp <= horizon {
				return false
			}
			due = min(due, r.Timestamp+cfg.DeleteRetention.Milliseconds())
		}
		return true
	}

	// Pass 2: rewrite the rows that lose a record.
	out := &compactOutput{p: p, ctx: ctx}
	defer out.abandon()
	var old []compactRow
	var drop []int
	for _, c := range closed {
		type kept struct {
			raw        []byte
			base, last int64
			maxTs      int64
		}
		var batches []kept
		changed := false
		err := p.eachBatch(ctx, c.coord, &recs, func(raw []byte, recs []log.Record) error {
			base := int64(binary.BigEndian.Uint64(raw))
			last := base + int64(lastOffsetDelta(raw))
			switch marker, abortedData := txnBatch(raw); {
			case marker:
				batches = append(batches, kept{raw, base, last, int64(binary.BigEndian.Uint64(raw[35:]))})
				return nil
			case abortedData:
				changed = true
				return nil // an aborted transaction's batch goes
			}
			drop = drop[:0]
			for i := range recs {
				if !keep(&recs[i]) {
					drop = append(drop, i)
				}
			}
			if len(recs) == 0 {
				// An empty batch (every record left out by the Kafka
				// listener's DLQ diversion) goes, as the local log's
				// compaction drops it.
				changed = true
				return nil
			}
			if len(drop) == 0 {
				batches = append(batches, kept{raw, base, last, int64(binary.BigEndian.Uint64(raw[35:]))})
				return nil
			}
			changed = true
			if len(drop) == len(recs) {
				return nil // nothing left: the batch goes
			}
			thin, err := thinBatch(raw, recs, drop)
			if err != nil {
				return fmt.Errorf("compact %s: batch at offset %d in %s: %w", p.key, base, c.key, err)
			}
			batches = append(batches, kept{thin, base, last, int64(binary.BigEndian.Uint64(thin[35:]))})
			return nil
		})
		if err != nil {
			return err
		}
		// A row still in an intake object moves to the segment too, as
		// the merge compactor would move it: the gaps compaction leaves
		// stop merges (they take runs of consecutive rows), and a row
		// left behind would keep its whole intake object alive.
		if !changed && strings.HasPrefix(c.key, segPrefix) {
			continue
		}
		old = append(old, c)
		for i, b := range batches {
			if err := out.add(b.raw, b.base, b.last, b.maxTs, i > 0 && batches[i-1].last+1 == b.base); err != nil {
				return err
			}
		}
	}
	if len(old) > 0 {
		if err := out.finish(); err != nil {
			return err
		}
		ok, err := p.swapCompacted(ctx, old, out, p.noticeCompacted(*end, due))
		if err != nil {
			return err
		}
		if !ok {
			return nil // lost a race; the next pass plans again
		}
		out.committed = true
		l.cfg.Logger.Info("compacted shared partition", "partition", p.key.String(), "rows", len(old), "new_rows", len(out.rows), "keys", len(latest))
		p.forgetCoords()
	} else {
		// Nothing changed; the other nodes need not read it again either
		// (best effort: a node that misses this runs a pass of its own).
		_, _ = l.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, notifyChannel, p.noticeCompacted(*end, due))
	}
	kc.mu.Lock()
	kc.cleanedTo, kc.due = *end, due
	kc.mu.Unlock()
	return nil
}

// eachBatch reads coordinate row c (its batches' base offsets written in)
// and calls fn with each batch's bytes and its records.
func (p *Partition) eachBatch(ctx context.Context, c coord, recs *[]log.Record, fn func(raw []byte, recs []log.Record) error) error {
	data, err := p.l.readCoord(ctx, nil, c)
	if err != nil {
		return fmt.Errorf("compact %s: %w", p.key, err)
	}
	for len(data) > 0 {
		h, _ := log.PeekBatch(data) // readCoord checked the framing
		raw := data[:h.Size]
		data = data[h.Size:]
		if h.Codec != 0 {
			return fmt.Errorf("compact %s: a compressed batch in %s (the shared log stores batches uncompressed): %w", p.key, c.key, ErrCorruptObject)
		}
		if *recs, err = log.DecodeStoredBatch(raw, (*recs)[:0]); err != nil {
			return fmt.Errorf("compact %s: batch in %s: %w: %w", p.key, c.key, ErrCorruptObject, err)
		}
		if err := fn(raw, *recs); err != nil {
			return err
		}
	}
	return nil
}

// thinBatch returns a copy of raw, one uncompressed stored batch whose
// records are recs, without the records at the (ascending) indexes in
// drop, leaving some: the kept records keep their bytes and offset deltas;
// the header keeps baseOffset, baseTimestamp, lastOffsetDelta and the
// producer fields, with batchLength, recordCount, maxTimestamp (the kept
// records' largest, unless the batch is LogAppendTime) and the CRC
// rewritten (log.Batch.Without does the same to a client's batch).
func thinBatch(raw []byte, recs []log.Record, drop []int) ([]byte, error) {
	const header = log.BatchHeaderSize
	be := binary.BigEndian
	out := make([]byte, header, len(raw))
	copy(out, raw[:header])
	pos, next := header, 0
	maxTs := int64(math.MinInt64)
	for i := range recs {
		n, w := binary.Varint(raw[pos:])
		if w <= 0 || n < 1 || n > int64(len(raw)-pos-w) {
			return nil, fmt.Errorf("record %d does not frame", i)
		}
		end := pos + w + int(n)
		if next < len(drop) && drop[next] == i {
			next++
		} else {
			out = append(out, raw[pos:end]...)
			maxTs = max(maxTs, recs[i].Timestamp)
		}
		pos = end
	}
	if pos != len(raw) || next != len(drop) {
		return nil, fmt.Errorf("the records do not fill the batch")
	}
	be.PutUint32(out[8:], uint32(len(out)-12))
	be.PutUint32(out[57:], uint32(len(recs)-len(drop)))
	if be.Uint16(out[21:])&0x8 == 0 { // not LogAppendTime
		be.PutUint64(out[35:], uint64(maxTs))
	}
	be.PutUint32(out[17:], crc32.Checksum(out[21:], castagnoli))
	return out, nil
}

// compactOutput collects the surviving batches of a pass into segment
// objects, PUT as each fills.
type compactOutput struct {
	p         *Partition
	ctx       context.Context
	w         *objectWriter
	keys      []string // announced and PUT, in order
	sizes     []int64
	rows      []newRow
	committed bool
}

// add appends one batch (its baseOffset written in) holding offsets
// base..last; follows says it continues the previous batch's offsets.
func (o *compactOutput) add(raw []byte, base, last, maxTs int64, follows bool) error {
	l := o.p.l
	if o.w != nil && len(o.w.buf)+len(raw) > l.cfg.MergeMaxBytes && len(o.w.batches) > 0 {
		if err := o.finish(); err != nil {
			return err
		}
	}
	if o.w == nil {
		o.w = newObjectWriter(min(l.cfg.MergeMaxBytes, 1<<20))
	}
	at := int64(len(o.w.buf))
	o.w.addRaw(o.p.key.topic, o.p.key.part, raw, int32(last-base+1))
	obj := len(o.keys)
	if n := len(o.rows); n > 0 && follows && o.rows[n-1].obj == obj && o.rows[n-1].last+1 == base &&
		o.rows[n-1].len+int64(len(raw)) <= int64(l.cfg.MergeRunBytes) {
		r := &o.rows[n-1]
		r.last, r.len, r.maxTs = last, r.len+int64(len(raw)), max(r.maxTs, maxTs)
		return nil
	}
	o.rows = append(o.rows, newRow{obj: obj, base: base, last: last, off: at, len: int64(len(raw)), maxTs: maxTs})
	return nil
}

// finish announces and PUTs the object being filled, if any.
func (o *compactOutput) finish() error {
	if o.w == nil {
		return nil
	}
	l, p := o.p.l, o.p
	data := o.w.finish()
	o.w = nil
	sum := sha256.Sum256([]byte(p.key.topic))
	first := int64(0)
	for _, r := range o.rows {
		if r.obj == len(o.keys) {
			first = r.base
			break
		}
	}
	key := fmt.Sprintf(segPrefix+"%s/%d/%020d-%s", hex.EncodeToString(sum[:8]), p.key.part, first, strings.TrimPrefix(l.newObjectKey(), "wal/"+l.cfg.Node+"/"))
	if _, err := l.pool.Exec(o.ctx, `INSERT INTO sharedlog_uploads (key, node) VALUES ($1, $2)`, key, l.cfg.Node); err != nil {
		return fmt.Errorf("%w: compact %s: announce %s: %w", ErrUnavailable, p.key, key, err)
	}
	o.keys = append(o.keys, key)
	o.sizes = append(o.sizes, int64(len(data)))
	if err := l.objs.Put(o.ctx, key, data); err != nil {
		return fmt.Errorf("%w: compact %s: put %s: %w", ErrUnavailable, p.key, key, err)
	}
	return nil
}

// abandon deletes the objects of a pass that did not commit, when their
// upload rows are still there (else the orphan collector, or a commit
// whose answer was lost, owns them).
func (o *compactOutput) abandon() {
	if o.committed {
		return
	}
	l := o.p.l
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.ReadTimeout)
	defer cancel()
	for _, k := range o.keys {
		if tag, err := l.pool.Exec(ctx, `DELETE FROM sharedlog_uploads WHERE key = $1`, k); err == nil && tag.RowsAffected() == 1 {
			_ = l.objs.Delete(ctx, k)
		}
	}
}

// swapCompacted replaces rows old with out's rows in one transaction. It
// returns false, changing nothing, when the old rows are not all there
// any more, or the partition is gone.
func (p *Partition) swapCompacted(ctx context.Context, old []compactRow, out *compactOutput, notice string) (bool, error) {
	l := p.l
	fail := func(what string, err error) (bool, error) {
		return false, fmt.Errorf("%w: compact %s: %s: %w", ErrUnavailable, p.key, what, err)
	}
	tx, err := l.pool.Begin(ctx)
	if err != nil {
		return fail("begin", err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // after Commit it does nothing
	var start int64
	err = tx.QueryRow(ctx, `SELECT log_start_offset FROM sharedlog_partitions WHERE topic_id = $1 AND partition = $2 FOR UPDATE`,
		p.key.topic, p.key.part).Scan(&start)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return fail("lock the partition", err)
	}
	oldBase, oldObj := make([]int64, len(old)), make([]int64, len(old))
	for i, r := range old {
		oldBase[i], oldObj[i] = r.base, r.objectID
	}
	var found int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM sharedlog_batches b
		JOIN unnest($3::BIGINT[], $4::BIGINT[]) AS x(base, obj) ON b.base_offset = x.base AND b.object_id = x.obj
		WHERE b.topic_id = $1 AND b.partition = $2`, p.key.topic, p.key.part, oldBase, oldObj).Scan(&found); err != nil {
		return fail("check the plan", err)
	}
	if found != len(old) {
		return false, nil
	}
	tag, err := tx.Exec(ctx, `DELETE FROM sharedlog_uploads WHERE key = ANY($1)`, out.keys)
	if err != nil {
		return fail("claim the uploads", err)
	}
	if int(tag.RowsAffected()) != len(out.keys) {
		return false, nil // collected as orphans meanwhile
	}
	// Rows wholly below the log start (DeleteRecordsBefore meanwhile) are
	// not inserted.
	live := make([]int64, len(out.keys))
	var rows []newRow
	for _, r := range out.rows {
		if r.last >= start {
			rows = append(rows, r)
			live[r.obj] += r.len
		}
	}
	ids := make([]int64, len(out.keys))
	for i, k := range out.keys {
		if err := tx.QueryRow(ctx, `INSERT INTO sharedlog_objects (key, node, size, live_bytes, dead_since)
			VALUES ($1, $2, $3, $4::BIGINT, CASE WHEN $4::BIGINT = 0 THEN now() END) RETURNING object_id`,
			k, l.cfg.Node, out.sizes[i], live[i]).Scan(&ids[i]); err != nil {
			return fail("record "+k, err)
		}
	}
	var removed int64
	if err := tx.QueryRow(ctx, `WITH gone AS (
			DELETE FROM sharedlog_batches b USING unnest($3::BIGINT[]) AS x(base)
			WHERE b.topic_id = $1 AND b.partition = $2 AND b.base_offset = x.base
			RETURNING b.object_id, b.byte_len
		), per AS (
			SELECT g.object_id, sum(g.byte_len) AS len FROM gone g GROUP BY g.object_id
		), upd AS (
			UPDATE sharedlog_objects o SET live_bytes = o.live_bytes - per.len,
				dead_since = CASE WHEN o.live_bytes - per.len <= 0 THEN now() ELSE NULL END
			FROM per WHERE o.object_id = per.object_id
			RETURNING per.len
		)
		SELECT COALESCE(sum(upd.len), 0) FROM upd`, p.key.topic, p.key.part, oldBase).Scan(&removed); err != nil {
		return fail("delete the old rows", err)
	}
	n := len(rows)
	rb, rl, ro, ri, rn, rm := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	var added int64
	for i, r := range rows {
		rb[i], rl[i], ro[i], ri[i], rn[i], rm[i] = r.base, r.last, r.off, ids[r.obj], r.len, r.maxTs
		added += r.len
	}
	if _, err := tx.Exec(ctx, `INSERT INTO sharedlog_batches (topic_id, partition, base_offset, last_offset, object_id, byte_off, byte_len, max_ts)
		SELECT $1, $2, r.b, r.l, r.i, r.o, r.n, r.m FROM unnest($3::BIGINT[], $4::BIGINT[], $5::BIGINT[], $6::BIGINT[], $7::BIGINT[], $8::BIGINT[]) AS r(b, l, i, o, n, m)`,
		p.key.topic, p.key.part, rb, rl, ri, ro, rn, rm); err != nil {
		return fail("insert the new rows", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE sharedlog_partitions SET bytes = greatest(bytes - $3 + $4, 0) WHERE topic_id = $1 AND partition = $2`,
		p.key.topic, p.key.part, removed, added); err != nil {
		return fail("update the partition", err)
	}
	// Other nodes forget the coordinates they keep in memory (the old
	// rows') at once; they would otherwise serve the old objects until GC.
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, notifyChannel, notice); err != nil {
		return fail("notify", err)
	}
	if err := tx.Commit(ctx); err != nil {
		// The outcome may be unknown: abandon deletes the objects only if
		// their upload rows are still there (the commit did not happen).
		return fail("commit", err)
	}
	return true, nil
}
