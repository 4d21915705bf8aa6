package shared

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/broker/internal/log"
	"github.com/sluicehq/sluice/objstore"
)

// coord is where one committed batch lives.
type coord struct {
	base, last int64
	key        string
	objSize    int64
	off, len   int64
	maxTs      int64
}

// maxCoords bounds the coordinates a partition keeps in memory (about
// 100 bytes each): the recent tail that most reads want.
const maxCoords = 2048

// queryLimit is how many coordinates one query fetches.
const queryLimit = 1000

// learnCoords merges cs (ascending, contiguous) into the partition's run
// of recent coordinates when they extend it; a run that cs cannot extend
// is replaced when cs is newer (another node's commits came in between).
func (p *Partition) learnCoords(cs []coord) {
	if len(cs) == 0 {
		return
	}
	p.cmu.Lock()
	defer p.cmu.Unlock()
	w := p.coords
	switch {
	case len(w) == 0 || cs[0].base > w[len(w)-1].last+1:
		if len(w) > 0 && cs[0].base < w[0].base {
			return
		}
		p.coords = append([]coord(nil), cs...)
	default:
		end := w[len(w)-1].last
		for _, c := range cs {
			if c.base == end+1 {
				w = append(w, c)
				end = c.last
			}
		}
		if len(w) > maxCoords {
			w = append([]coord(nil), w[len(w)-maxCoords/2:]...)
		}
		p.coords = w
	}
}

// trimCoords drops coordinates wholly below start. Caller holds p.mu.
func (p *Partition) trimCoords(start int64) {
	p.cmu.Lock()
	defer p.cmu.Unlock()
	i := sort.Search(len(p.coords), func(i int) bool { return p.coords[i].last >= start })
	if i > 0 {
		p.coords = append([]coord(nil), p.coords[i:]...)
	}
}

// forgetCoords drops the in-memory coordinates (a read met a deleted
// object: plan again from PostgreSQL).
func (p *Partition) forgetCoords() {
	p.cmu.Lock()
	p.coords = nil
	p.cmu.Unlock()
}

// plan returns the coordinates of the batches from the one holding offset
// up to hw, about maxBytes of them (at least one).
func (p *Partition) plan(ctx context.Context, offset, hw int64, maxBytes int) ([]coord, error) {
	var out []coord
	budget := int64(max(maxBytes, 1))
	total := int64(0)
	take := func(cs []coord) bool {
		for _, c := range cs {
			if c.last < offset {
				continue
			}
			// The run that crosses the budget is included: the reader
			// keeps what fits of it batch by batch.
			if c.base >= hw || (len(out) > 0 && total >= budget) {
				return false
			}
			out = append(out, c)
			total += c.len
		}
		return true
	}
	p.cmu.Lock()
	if w := p.coords; len(w) > 0 && w[0].base <= offset && offset <= w[len(w)-1].last {
		i := sort.Search(len(w), func(i int) bool { return w[i].last >= offset })
		take(w[i:])
	}
	p.cmu.Unlock()
	for {
		next := offset
		if len(out) > 0 {
			next = out[len(out)-1].last + 1
		}
		if next >= hw || total >= budget {
			return out, nil
		}
		rows, err := p.l.pool.Query(ctx, `SELECT b.base_offset, b.last_offset, o.key, o.size, b.byte_off, b.byte_len, b.max_ts
			FROM sharedlog_batches b JOIN sharedlog_objects o USING (object_id)
			WHERE b.topic_id = $1 AND b.partition = $2 AND b.last_offset >= $3 AND b.base_offset < $4
			ORDER BY b.last_offset LIMIT $5`, p.key.topic, p.key.part, next, hw, queryLimit)
		if err != nil {
			return out, fmt.Errorf("%w: partition %s: find batches from offset %d: %w", ErrUnavailable, p.key, next, err)
		}
		cs, err := scanCoords(rows)
		if err != nil {
			return out, fmt.Errorf("%w: partition %s: find batches from offset %d: %w", ErrUnavailable, p.key, next, err)
		}
		if len(cs) == 0 {
			return out, nil // retention moved the start past them
		}
		p.learnCoords(cs)
		if !take(cs) || len(cs) < queryLimit {
			return out, nil
		}
	}
}

func scanCoords(rows pgx.Rows) ([]coord, error) {
	defer rows.Close()
	var cs []coord
	for rows.Next() {
		var c coord
		if err := rows.Scan(&c.base, &c.last, &c.key, &c.objSize, &c.off, &c.len, &c.maxTs); err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, rows.Err()
}

// readCoord appends the bytes at c to dst, one batch or (in a merged
// segment) a run of batches with consecutive offsets, each batch's
// baseOffset written in.
func (l *Log) readCoord(ctx context.Context, dst []byte, c coord) ([]byte, error) {
	at := len(dst)
	var err error
	if strings.HasPrefix(c.key, segPrefix) {
		// Merged data is older than MergeAge: lagging consumers read it
		// with one GET per run, around the cache, so that they do not
		// evict the tail that current consumers share.
		dst, err = l.readCold(ctx, dst, c)
	} else {
		dst, err = l.cache.read(ctx, l, dst, c.key, c.objSize, c.off, c.len)
	}
	if err != nil {
		return dst[:at], err
	}
	bad := func(why string) error {
		return fmt.Errorf("shared log: object %s bytes [%d, +%d) (offsets %d-%d): %s: %w", c.key, c.off, c.len, c.base, c.last, why, ErrCorruptObject)
	}
	// The framing is checked, not the CRCs: the batches were checked when
	// they were produced, and the object store keeps them whole (as the
	// local log's ReadBatches trusts its segments). Consumers check CRCs.
	run := dst[at:]
	base := c.base
	for pos := 0; pos < len(run); {
		if len(run)-pos < log.BatchHeaderSize {
			return dst[:at], bad(fmt.Sprintf("%d bytes at byte %d of the range are not a batch header", len(run)-pos, pos))
		}
		size := int64(int32(binary.BigEndian.Uint32(run[pos+8:]))) + 12
		if run[pos+16] != 2 || size < log.BatchHeaderSize || size > int64(len(run)-pos) {
			return dst[:at], bad(fmt.Sprintf("no record batch at byte %d of the range (magic %d, size %d)", pos, run[pos+16], size))
		}
		putBase(run[pos:], base)
		base += int64(lastOffsetDelta(run[pos:])) + 1
		pos += int(size)
	}
	if base != c.last+1 {
		return dst[:at], bad(fmt.Sprintf("its batches end at offset %d", base-1))
	}
	return dst, nil
}

// readCold appends bytes [c.off, c.off+c.len) of c's object to dst, read
// from the store (retried twice) without the cache.
func (l *Log) readCold(ctx context.Context, dst []byte, c coord) ([]byte, error) {
	l.stats.ColdReads.Add(1)
	var b []byte
	var err error
	for attempt := 0; ; attempt++ {
		b, err = l.objs.GetRange(ctx, c.key, c.off, c.len)
		if err == nil && int64(len(b)) != c.len {
			err = fmt.Errorf("object %s: read %d bytes at %d, want %d", c.key, len(b), c.off, c.len)
		}
		if err == nil || attempt == 2 || isNotFound(err) || backoff(ctx, attempt) != nil {
			break
		}
	}
	if err != nil {
		return dst, fmt.Errorf("%w: read object %s: %w", ErrUnavailable, c.key, err)
	}
	return append(dst, b...), nil
}

// lastOffsetDelta reads a batch header's lastOffsetDelta (format.go of
// the log: bytes 23-26).
func lastOffsetDelta(b []byte) int32 { return int32(binary.BigEndian.Uint32(b[23:])) }

// putBase writes a batch's baseOffset; the CRC does not cover it.
func putBase(b []byte, base int64) { binary.BigEndian.PutUint64(b, uint64(base)) }

// ReadBatches appends to dst the bytes of whole batches, starting with the
// batch that contains offset, and returns dst and the high watermark the
// read saw: what log.Partition.ReadBatches does. It adds batches while the
// bytes appended stay within maxBytes; when always is set the first batch
// is appended even if it alone exceeds maxBytes. Reading at the high
// watermark appends nothing; outside [LogStartOffset, HighWatermark] the
// error is a *log.OffsetRangeError.
func (p *Partition) ReadBatches(dst []byte, offset int64, maxBytes int, always bool) ([]byte, int64, error) {
	return p.ReadBatchesBelow(dst, offset, maxBytes, always, math.MaxInt64)
}

// ReadBatchesBelow is ReadBatches that stops before the first batch whose
// base offset is end or more (log.Partition.ReadBatchesBelow: a
// read_committed fetch passes the last stable offset).
func (p *Partition) ReadBatchesBelow(dst []byte, offset int64, maxBytes int, always bool, end int64) ([]byte, int64, error) {
	if p.isClosed() {
		return dst, 0, ErrClosed
	}
	hw, start := p.hw.Load(), p.start.Load()
	if offset < start || offset > hw {
		return dst, hw, &log.OffsetRangeError{Offset: offset, Start: start, End: hw}
	}
	if offset == hw || offset >= end {
		return dst, hw, nil
	}
	hwRead := hw
	hw = min(hw, end) // batches at or past end are not read
	ctx, cancel := context.WithTimeout(context.Background(), p.l.cfg.ReadTimeout)
	defer cancel()
	n0 := len(dst)
	cur := offset // the next offset wanted
	replanned := false
	for {
		cs, err := p.plan(ctx, cur, hw, max(maxBytes-(len(dst)-n0), 1))
		if err != nil && len(cs) == 0 {
			if len(dst) > n0 {
				return dst, hwRead, nil
			}
			return dst, hwRead, err
		}
		if len(cs) == 0 {
			if len(dst) == n0 {
				// Retention moved the start past offset since we looked?
				if err := p.refresh(ctx); err == nil {
					if s := p.start.Load(); offset < s {
						return dst, hwRead, &log.OffsetRangeError{Offset: offset, Start: s, End: hwRead}
					}
				}
			}
			return dst, hwRead, nil
		}
		var want int64
		for _, c := range cs {
			want += c.len
		}
		dst = slices.Grow(dst, int(min(want, int64(max(maxBytes, 0))+cs[0].len)))
		var rerr error
		full := false
		for _, c := range cs {
			at := len(dst)
			if dst, rerr = p.l.readCoord(ctx, dst, c); rerr != nil {
				break
			}
			// Keep the batches from the one holding cur on, within the
			// budget: a contiguous part of the run.
			run := dst[at:]
			from, to := -1, -1
			for pos := 0; pos < len(run); {
				size := int(binary.BigEndian.Uint32(run[pos+8:])) + 12
				base := int64(binary.BigEndian.Uint64(run[pos:]))
				if base >= hw {
					full = true // the end asked for, or the high watermark this node knows
					break
				}
				last := base + int64(lastOffsetDelta(run[pos:]))
				if last >= cur {
					if from < 0 {
						from = pos
					}
					first := at == n0 && pos == from
					if at-n0+pos+size-from > maxBytes && !(first && always) {
						full = true
						break
					}
					to = pos + size
				}
				pos += size
			}
			if to < 0 {
				dst = dst[:at]
			} else {
				copy(dst[at:], run[from:to])
				dst = dst[:at+to-from]
			}
			if full {
				break
			}
			cur = c.last + 1
		}
		if rerr != nil {
			if len(dst) > n0 {
				return dst, hwRead, nil // serve what is good; the next read reports it
			}
			if errors.Is(rerr, objstore.ErrNotFound) && !replanned {
				// The object was collected (after retention or a merge):
				// plan again from PostgreSQL.
				replanned = true
				p.forgetCoords()
				if err := p.refresh(ctx); err != nil {
					return dst, hwRead, err
				}
				if s := p.start.Load(); offset < s {
					return dst, hwRead, &log.OffsetRangeError{Offset: offset, Start: s, End: hwRead}
				}
				continue
			}
			return dst, hwRead, rerr
		}
		if full || cur >= hw {
			return dst, hwRead, nil
		}
	}
}

// Read returns records from offset on, at most maxRecords and about
// maxBytes (at least one record if any is there); a limit <= 0 is no
// limit. The records belong to the caller. Budgets count as
// log.Partition.Read counts them, so both logs answer alike.
func (p *Partition) Read(offset int64, maxRecords, maxBytes int) ([]log.Record, error) {
	var out []log.Record
	_, err := p.ReadFunc(offset, maxRecords, maxBytes, nil, func(r *log.Record) error {
		out = append(out, *r)
		return nil
	})
	return out, err
}

// recordSize is a record's share of a read's byte budget (the local log's
// formula).
func recordSize(r *log.Record) int {
	n := len(r.Key) + len(r.Value) + 16
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value) + 2
	}
	return n
}

// ReadFunc reads what Read would and calls visit with each record in
// offset order, returning how many it visited; an error from visit ends
// the read and is returned as is. As with log.Partition.ReadFunc, the
// batches are read into rb's memory and a record is valid only until visit
// returns; with a nil rb each chunk is read into new memory and records
// stay valid. Like the local log's, it reads committed records only: it
// stops at the last stable offset and skips control batches and the
// batches of aborted transactions.
func (p *Partition) ReadFunc(offset int64, maxRecords, maxBytes int, rb *log.ReadBuffer, visit func(*log.Record) error) (int, error) {
	// With rb, one buffer for every chunk: a chunk's records are visited
	// before the next chunk is read over them. Without (Read, which keeps
	// the records), each chunk is read into new memory.
	var buf []byte
	var recs []log.Record
	if rb != nil {
		buf, recs = rb.Scratch()
		defer func() { rb.Keep(buf, recs) }()
	}
	lso := p.LastStableOffset()
	var aborted []log.AbortedTxn
	if offset < lso {
		aborted = p.AbortedTxns(offset, lso)
	}
	n, used := 0, 0
	full := func() bool {
		return (maxRecords > 0 && n >= maxRecords) || (maxBytes > 0 && used >= maxBytes)
	}
	for off := offset; !full(); {
		chunk := 1 << 20
		if maxBytes > 0 {
			chunk = min(max(maxBytes-used+log.BatchHeaderSize, 16<<10), 1<<20)
		}
		raw, hw, err := p.ReadBatchesBelow(buf[:0], off, chunk, true, lso)
		if rb != nil {
			buf = raw[:0]
		}
		if err != nil {
			if n > 0 && !errors.Is(err, log.ErrOffsetOutOfRange) {
				return n, nil // serve what is good; the next read reports it
			}
			return n, err
		}
		if len(raw) == 0 || off >= min(hw, lso) {
			return n, nil
		}
		for len(raw) > 0 {
			h, ok := log.PeekBatch(raw)
			if !ok || h.Size > int64(len(raw)) {
				return n, fmt.Errorf("shared log: partition %s: a batch read back is cut short: %w", p.key, ErrCorruptObject)
			}
			if h.HiddenFromReaders(aborted) {
				off = max(off, h.BaseOffset+int64(lastOffsetDelta(raw))+1)
				raw = raw[h.Size:]
				continue
			}
			// Checks the CRC, as the local log's Read does; sparse batches
			// (records left out by the Kafka listener's DLQ) decode too.
			recs, err = log.DecodeStoredBatch(raw[:h.Size], recs[:0])
			if err != nil {
				return n, fmt.Errorf("shared log: partition %s: %w: %w", p.key, ErrCorruptObject, err)
			}
			raw = raw[h.Size:]
			for i := range recs {
				r := &recs[i]
				if r.Offset < off {
					continue
				}
				size := recordSize(r)
				if n > 0 && maxBytes > 0 && used+size > maxBytes {
					return n, nil
				}
				if err := visit(r); err != nil {
					return n, err
				}
				n++
				used += size
				if full() {
					return n, nil
				}
			}
			if len(recs) > 0 {
				off = max(off, recs[len(recs)-1].Offset+1)
			}
		}
	}
	return n, nil
}
