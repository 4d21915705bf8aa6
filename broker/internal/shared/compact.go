package shared

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/broker/internal/log"
	"github.com/sluicehq/sluice/internal/pgmeta"
	"github.com/sluicehq/sluice/objstore"
)

// This file is the merge compactor: it moves a partition's batches out of
// intake objects (one per flush, holding every partition a node wrote in
// that window) into segment objects of that partition alone,
// seg/<hash of topic id>/<partition>/<base offset>-<random>, in the same
// object format. The batches' bytes are copied unchanged (offsets are
// not); the coordinates shrink to one row per run of MergeRunBytes, which
// keeps sharedlog_batches from growing by a row per batch. Intake objects
// whose every partition was merged (or expired) die and are collected.

// segPrefix starts the keys of segment objects.
const segPrefix = "seg/"

// mergeRow is one planned source batch.
type mergeRow struct {
	base, last int64
	objectID   int64
	key        string
	off, len   int64
	maxTs      int64
	overdue    bool // its object is older than mergeOverdue x MergeAge
}

// mergeOverdue is how many times MergeAge a partition's oldest unmerged
// batch may wait before its merges stop being paced (merge_pace.go): the
// pace spreads the merges out, and this bounds the backlog it may leave
// when a node takes in more than its merges' budget for long.
const mergeOverdue = 10

// merge runs one merge pass on the partition: the first run of
// consecutive batches that sit in intake objects older than MergeAge, up
// to MergeMaxBytes, becomes one segment object. It returns how many
// batches it moved. A node holding the partition's merge lock (an
// advisory lock) is left alone; a merge that lost a race with retention
// or another node changes nothing.
func (p *Partition) merge(ctx context.Context) (int, error) {
	l := p.l
	if l.cfg.MergeAge < 0 {
		return 0, nil
	}
	conn, err := l.pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("%w: merge %s: %w", ErrUnavailable, p.key, err)
	}
	defer conn.Release()
	lock := pgmeta.LockKey("sharedlog-merge:" + p.key.String())
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, lock).Scan(&locked); err != nil {
		return 0, fmt.Errorf("%w: merge %s: %w", ErrUnavailable, p.key, err)
	}
	if !locked {
		return 0, nil
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, lock) //nolint:errcheck // the session ends the lock anyway

	rows, err := conn.Query(ctx, `SELECT b.base_offset, b.last_offset, o.object_id, o.key, b.byte_off, b.byte_len, b.max_ts,
			o.key LIKE 'wal/%' AND o.created_at < now() - make_interval(secs => $3),
			o.created_at < now() - make_interval(secs => $4)
		FROM sharedlog_batches b JOIN sharedlog_objects o USING (object_id)
		WHERE b.topic_id = $1 AND b.partition = $2
		ORDER BY b.base_offset LIMIT 20000`, p.key.topic, p.key.part, l.cfg.MergeAge.Seconds(), mergeOverdue*l.cfg.MergeAge.Seconds())
	if err != nil {
		return 0, fmt.Errorf("%w: merge %s: %w", ErrUnavailable, p.key, err)
	}
	var plan []mergeRow
	var total int64
	done := false
	for rows.Next() {
		var r mergeRow
		var mergeable bool
		if err := rows.Scan(&r.base, &r.last, &r.objectID, &r.key, &r.off, &r.len, &r.maxTs, &mergeable, &r.overdue); err != nil {
			rows.Close()
			return 0, fmt.Errorf("%w: merge %s: %w", ErrUnavailable, p.key, err)
		}
		if done {
			continue
		}
		switch {
		case mergeable && (len(plan) == 0 || r.base == plan[len(plan)-1].last+1) && total+r.len <= int64(l.cfg.MergeMaxBytes):
			plan = append(plan, r)
			total += r.len
		case len(plan) >= 2:
			done = true
		default:
			plan, total = plan[:0], 0
			if mergeable {
				plan, total = append(plan, r), r.len
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("%w: merge %s: %w", ErrUnavailable, p.key, err)
	}
	if len(plan) < 2 {
		return 0, nil
	}

	// Read the sources: per object, the one range holding this
	// partition's planned batches (they are adjacent in its section).
	// Room for the footer too: a batch's entry is 38 bytes, about 2% of a
	// batch of 2 KiB (finish grows the buffer once if batches are smaller).
	w := newObjectWriter(int(total + total/48 + footerSection + int64(len(p.key.topic))))
	var runs []mergeRow // the new coordinate rows
	var scratch []byte  // the sources found in the read cache, one at a time
	for i := 0; i < len(plan); {
		j := i
		for j < len(plan) && plan[j].key == plan[i].key {
			j++
		}
		from, to := plan[i].off, plan[j-1].off+plan[j-1].len
		// A source still in the read cache (this node wrote it, or read it
		// lately) is copied from there; the rest is read from the store,
		// leaving the cache as it is.
		data, ok := l.cache.readCached(scratch[:0], plan[i].key, from, to-from)
		if ok {
			scratch = data
		} else {
			var err error
			if data, err = l.objs.GetRange(ctx, plan[i].key, from, to-from); err != nil {
				return 0, fmt.Errorf("%w: merge %s: read %s: %w", ErrUnavailable, p.key, plan[i].key, err)
			}
		}
		if int64(len(data)) != to-from {
			return 0, fmt.Errorf("merge %s: read %d bytes of %s at %d, want %d", p.key, len(data), plan[i].key, from, to-from)
		}
		for _, r := range plan[i:j] {
			if r.off < from || r.off-from+r.len > int64(len(data)) || r.len < 61 {
				return 0, fmt.Errorf("merge %s: batch at %d of %s lies outside the range read: %w", p.key, r.off, r.key, ErrCorruptObject)
			}
			b := data[r.off-from : r.off-from+r.len]
			at := int64(len(w.buf))
			// A row is one batch or a run of them (a commit writes one row
			// per run of a partition's batches in its object): the
			// segment's footer lists each batch.
			var count int64
			for pos := 0; pos < len(b); {
				h, ok := log.PeekBatch(b[pos:])
				if !ok || h.Magic != 2 || h.Size < log.BatchHeaderSize || h.Size > int64(len(b)-pos) {
					return 0, fmt.Errorf("merge %s: no record batch at byte %d of the run at %d of %s: %w", p.key, pos, r.off, r.key, ErrCorruptObject)
				}
				n := int32(lastOffsetDelta(b[pos:])) + 1
				w.addRaw(p.key.topic, p.key.part, b[pos:pos+int(h.Size)], n)
				count += int64(n)
				pos += int(h.Size)
			}
			if count != r.last-r.base+1 {
				return 0, fmt.Errorf("merge %s: the run at %d of %s holds %d records, its row says %d: %w", p.key, r.off, r.key, count, r.last-r.base+1, ErrCorruptObject)
			}
			if n := len(runs); n > 0 && runs[n-1].len+r.len <= int64(l.cfg.MergeRunBytes) {
				runs[n-1].last, runs[n-1].len, runs[n-1].maxTs = r.last, runs[n-1].len+r.len, max(runs[n-1].maxTs, r.maxTs)
			} else {
				runs = append(runs, mergeRow{base: r.base, last: r.last, off: at, len: r.len, maxTs: r.maxTs})
			}
		}
		i = j
	}
	data := w.finish()
	sum := sha256.Sum256([]byte(p.key.topic))
	key := fmt.Sprintf(segPrefix+"%s/%d/%020d-%s", hex.EncodeToString(sum[:8]), p.key.part, plan[0].base, strings.TrimPrefix(l.newObjectKey(), "wal/"+l.cfg.Node+"/"))
	if _, err := l.pool.Exec(ctx, `INSERT INTO sharedlog_uploads (key, node) VALUES ($1, $2)`, key, l.cfg.Node); err != nil {
		return 0, fmt.Errorf("%w: merge %s: announce %s: %w", ErrUnavailable, p.key, key, err)
	}
	putCtx := ctx
	if !plan[0].overdue {
		// The segment is written at the node's merge pace (merge_pace.go).
		putCtx = objstore.WithWritePace(ctx, func(n int) error { return l.mergePace.take(ctx, int64(n)) })
	}
	if err := l.objs.Put(putCtx, key, data); err != nil {
		return 0, fmt.Errorf("%w: merge %s: put %s: %w", ErrUnavailable, p.key, key, err) // an orphan, collected later
	}
	n := len(plan)
	oldBase, oldObj := make([]int64, n), make([]int64, n)
	for i, r := range plan {
		oldBase[i], oldObj[i] = r.base, r.objectID
	}
	m := len(runs)
	rb, rl, ro, rn, rm := make([]int64, m), make([]int64, m), make([]int64, m), make([]int64, m), make([]int64, m)
	for i, r := range runs {
		rb[i], rl[i], ro[i], rn[i], rm[i] = r.base, r.last, r.off, r.len, r.maxTs
	}
	var ok bool
	if err := l.pool.QueryRow(ctx, `SELECT sharedlog_merge($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		key, l.cfg.Node, int64(len(data)), p.key.topic, p.key.part, oldBase, oldObj, rb, rl, ro, rn, rm).Scan(&ok); err != nil {
		return 0, fmt.Errorf("%w: merge %s: commit %s: %w", ErrUnavailable, p.key, key, err)
	}
	if !ok {
		// Lost a race: the segment is not referenced; drop it now rather
		// than wait for the orphan collector.
		if tag, err := l.pool.Exec(ctx, `DELETE FROM sharedlog_uploads WHERE key = $1`, key); err == nil && tag.RowsAffected() == 1 {
			_ = l.objs.Delete(ctx, key)
		}
		return 0, nil
	}
	l.stats.Merges.Add(1)
	p.forgetCoords()
	return n, nil
}

// addRaw appends one stored batch (its baseOffset written as 0) whose
// record count is count, reading the footer's fields from its header.
func (w *objectWriter) addRaw(topic string, partition int32, b []byte, count int32) {
	off := len(w.buf)
	w.buf = append(w.buf, b...)
	binary.BigEndian.PutUint64(w.buf[off:], 0)
	be := binary.BigEndian
	w.batches = append(w.batches, objectBatch{
		Topic: topic, Partition: partition, Off: int64(off), Len: int64(len(b)), Count: count,
		MaxTimestamp: int64(be.Uint64(b[35:])), ProducerID: int64(be.Uint64(b[43:])),
		ProducerEpoch: int16(be.Uint16(b[51:])), BaseSequence: int32(be.Uint32(b[53:])),
	})
}
