package shared

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/broker/internal/log"
)

// Partition is one partition of the shared log as seen by one node. Its
// methods mirror *log.Partition's. Safe for concurrent use.
type Partition struct {
	l   *Log
	key pkey
	cfg atomic.Pointer[log.Config]

	hw    atomic.Int64 // committed next_offset, as far as this node knows
	start atomic.Int64 // log start offset
	size  atomic.Int64 // stored bytes at or above the start

	mu sync.Mutex
	// sizeNext and sizeStart are the next_offset and log_start_offset of
	// the row that size was read from: both only grow, so a row read
	// earlier than the one size came from has a smaller one and is not
	// taken (a poll that read the row before this node's commit or
	// retention, applied after it).
	sizeNext, sizeStart int64

	notify chan struct{}
	closed bool

	cmu    sync.Mutex
	coords []coord // a contiguous run of recent batches (read.go)

	txn txnState // transactions (txn.go)

	kc keyCompaction // compact_keys.go
}

// Partition opens partition part of the topic with id topicID on this
// node, creating its row (offset 0) when it is new. Only the fields of cfg
// that concern a shared partition are used: RetentionAge, RetentionBytes,
// MaxRecordBytes, MaxBatchBytes, Compact, DeleteRetention and Now (a
// compacted partition keeps no retention by age or size, as the local
// log; compact_keys.go). A partition is open at most once per Log.
func (l *Log) Partition(ctx context.Context, topicID string, part int32, cfg log.Config) (*Partition, error) {
	if topicID == "" || len(topicID) > 255 || part < 0 {
		return nil, fmt.Errorf("shared log: partition %q/%d: want a topic id of 1 to 255 bytes and a partition >= 0", topicID, part)
	}
	c, err := partitionConfig(cfg)
	if err != nil {
		return nil, err
	}
	k := pkey{topicID, part}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, ErrClosed
	}
	if _, ok := l.parts[k]; ok {
		l.mu.Unlock()
		return nil, fmt.Errorf("shared log: partition %s is already open on this node", k)
	}
	p := &Partition{l: l, key: k, notify: make(chan struct{})}
	p.txn.init()
	p.cfg.Store(&c)
	l.parts[k] = p
	l.mu.Unlock()
	var next, start, size int64
	var openFirst, abortMax *int64
	err = l.pool.QueryRow(ctx, `INSERT INTO sharedlog_partitions AS p (topic_id, partition) VALUES ($1, $2)
		ON CONFLICT (topic_id, partition) DO UPDATE SET next_offset = p.next_offset
		RETURNING next_offset, log_start_offset, bytes, open_first, abort_max`, topicID, part).Scan(&next, &start, &size, &openFirst, &abortMax)
	if err != nil {
		l.mu.Lock()
		delete(l.parts, k)
		l.mu.Unlock()
		return nil, fmt.Errorf("%w: open partition %s: %w", ErrUnavailable, k, err)
	}
	p.advanceTxn(next, orNone(openFirst), orNone(abortMax))
	p.advance(next, start, size)
	return p, nil
}

func partitionConfig(cfg log.Config) (log.Config, error) {
	if cfg.DeleteRetention == 0 {
		cfg.DeleteRetention = log.DefaultDeleteRetention
	}
	if cfg.RetentionAge == 0 {
		cfg.RetentionAge = log.DefaultRetentionAge
	}
	if cfg.MaxRecordBytes == 0 {
		cfg.MaxRecordBytes = log.DefaultMaxRecordBytes
	}
	if cfg.MaxBatchBytes == 0 {
		cfg.MaxBatchBytes = log.DefaultMaxBatchBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxBatchBytes < 0 || cfg.MaxRecordBytes < 0 || cfg.MaxRecordBytes > cfg.MaxBatchBytes {
		return cfg, fmt.Errorf("shared log: invalid config: MaxRecordBytes %d must be in [1, MaxBatchBytes %d]", cfg.MaxRecordBytes, cfg.MaxBatchBytes)
	}
	return cfg, nil
}

// Reconfigure applies new retention and size limits.
func (p *Partition) Reconfigure(cfg log.Config) error {
	c, err := partitionConfig(cfg)
	if err != nil {
		return err
	}
	p.cfg.Store(&c)
	return nil
}

// advance raises what the node knows of the partition (a negative value
// is unknown) and wakes Notify's waiters when the high watermark moved.
// size is taken only with the next and start of the row it was read from.
func (p *Partition) advance(next, start, size int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// A row read before a commit or a retention this node has already
	// applied still lacks the commit's bytes or counts the deleted ones:
	// its size is older than the one stored, so it is not taken.
	if size >= 0 && next >= 0 && start >= 0 && start >= p.start.Load() && next >= p.sizeNext && start >= p.sizeStart {
		p.size.Store(size)
		p.sizeNext, p.sizeStart = next, start
	}
	if start > p.start.Load() {
		p.start.Store(start)
		p.trimCoords(start)
	}
	if next > p.hw.Load() {
		p.hw.Store(next)
		if !p.closed {
			close(p.notify)
			p.notify = make(chan struct{})
		}
	}
}

// HighWatermark is the offset the next committed record gets, as far as
// this node knows: its own commits at once, other nodes' within a
// notification or a poll.
func (p *Partition) HighWatermark() int64 { return p.hw.Load() }

// LogStartOffset is the first offset a read may ask for.
func (p *Partition) LogStartOffset() int64 { return p.start.Load() }

// Size is the bytes of the partition's stored batches at or above the log
// start offset, as of the last poll or commit.
func (p *Partition) Size() int64 { return p.size.Load() }

// MaxBatchBytes is the largest batch the partition accepts.
func (p *Partition) MaxBatchBytes() int { return p.cfg.Load().MaxBatchBytes }

// Notify returns a channel closed when the high watermark next advances or
// the partition closes.
func (p *Partition) Notify() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.notify
}

// EnqueueBatch queues b in the node's intake buffer and returns at once,
// or after waiting for room when the buffer is full (back-pressure). Its
// offsets are known once its object is committed: Pending.Wait. A batch
// larger than MaxBatchBytes is refused with log.ErrBatchTooLarge; a
// control batch is refused (only WriteTxnMarker writes markers). A
// transactional batch opens its producer's transaction in the partition
// unless one is open (txn.go). b must not be used after it is queued.
func (p *Partition) EnqueueBatch(b *log.Batch) (*Pending, error) {
	if b == nil || b.Len() == 0 {
		return nil, log.ErrNoRecords
	}
	if limit := p.cfg.Load().MaxBatchBytes; b.Len() > limit {
		return nil, fmt.Errorf("shared log: batch of %d bytes exceeds the limit of %d: %w", b.Len(), limit, log.ErrBatchTooLarge)
	}
	if b.Control() {
		return nil, fmt.Errorf("partition %s: %w", p.key, ErrControlBatch)
	}
	kind := int16(kindPlain)
	if b.Transactional() {
		kind = kindTxn
	}
	return p.enqueue(b, kind)
}

// enqueue queues b, of kind, in the node's intake buffer.
func (p *Partition) enqueue(b *log.Batch, kind int16) (*Pending, error) {
	if p.isClosed() {
		return nil, ErrClosed
	}
	r := &request{p: p, batch: b, kind: kind, done: make(chan struct{})}
	if err := p.l.in.enqueue(r); err != nil {
		return nil, err
	}
	return &Pending{req: r}, nil
}

// AppendBatch is EnqueueBatch then Wait.
func (p *Partition) AppendBatch(ctx context.Context, b *log.Batch) (int64, error) {
	w, err := p.EnqueueBatch(b)
	if err != nil {
		return 0, err
	}
	return w.Wait(ctx)
}

// Append encodes recs as one batch and appends it, returning the first
// record's offset once committed. A zero Timestamp is the clock's now.
func (p *Partition) Append(ctx context.Context, recs []log.Record) (int64, error) {
	c := p.cfg.Load()
	b, err := log.EncodeBatch(recs, c.Now().UnixMilli(), c.MaxRecordBytes, c.MaxBatchBytes)
	if err != nil {
		return 0, err
	}
	return p.AppendBatch(ctx, b)
}

func (p *Partition) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// Close detaches the partition from the node: later calls fail with
// ErrClosed, Notify's channel is closed. Batches already queued are still
// committed. The partition's data stays in the cluster.
func (p *Partition) Close() error {
	p.l.mu.Lock()
	if p.l.parts[p.key] == p {
		delete(p.l.parts, p.key)
	}
	p.l.mu.Unlock()
	p.closeLocal()
	return nil
}

func (p *Partition) closeLocal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		close(p.notify)
	}
}

// DeleteRecordsBefore moves the log start offset forward to offset
// (Kafka's DeleteRecords) and returns the log start offset after the
// call. offset may not pass the high watermark (an *log.OffsetRangeError
// says the allowed range); an offset at or below the start changes
// nothing.
func (p *Partition) DeleteRecordsBefore(offset int64) (int64, error) {
	if p.isClosed() {
		return 0, ErrClosed
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.l.cfg.ReadTimeout)
	defer cancel()
	if err := p.refresh(ctx); err != nil {
		return p.start.Load(), err
	}
	start, hw := p.start.Load(), p.hw.Load()
	if offset < 0 || offset > hw {
		return start, &log.OffsetRangeError{Offset: offset, Start: start, End: hw}
	}
	if offset <= start {
		return start, nil
	}
	return p.advanceStart(ctx, offset)
}

// advanceStart calls sharedlog_advance_start.
func (p *Partition) advanceStart(ctx context.Context, offset int64) (int64, error) {
	var start int64
	// Aborted transactions whose markers go below the new start go with
	// them, in the same statement (the local log prunes them likewise).
	if err := p.l.pool.QueryRow(ctx, `WITH s AS (SELECT sharedlog_advance_start($1, $2, $3) AS start),
			a AS (DELETE FROM sharedlog_txn_aborted t USING s WHERE t.topic_id = $1 AND t.partition = $2 AND t.last_offset < s.start)
		SELECT start FROM s`, p.key.topic, p.key.part, offset).Scan(&start); err != nil {
		return p.start.Load(), fmt.Errorf("%w: partition %s: move the log start offset to %d: %w", ErrUnavailable, p.key, offset, err)
	}
	p.advance(-1, start, -1)
	p.pruneAborted(start)
	return start, p.refresh(ctx)
}

// refresh reads the partition's row.
func (p *Partition) refresh(ctx context.Context) error {
	var next, start, size int64
	var openFirst, abortMax *int64
	if err := p.l.pool.QueryRow(ctx, `SELECT next_offset, log_start_offset, bytes, open_first, abort_max FROM sharedlog_partitions WHERE topic_id = $1 AND partition = $2`,
		p.key.topic, p.key.part).Scan(&next, &start, &size, &openFirst, &abortMax); err != nil {
		return fmt.Errorf("%w: partition %s: %w", ErrUnavailable, p.key, err)
	}
	p.advanceTxn(next, orNone(openFirst), orNone(abortMax))
	p.advance(next, start, size)
	return nil
}

// RunMaintenance applies retention as of now: the log start offset moves
// past the oldest batches whose largest timestamp is older than
// RetentionAge, and past the oldest batches while what remains is at
// least RetentionBytes (Kafka's rules, per batch instead of per segment).
// Then it runs the merge compactor (compact.go) until nothing is left to
// merge (at most 16 passes), and on a compacted partition (Config.Compact)
// key compaction (compact_keys.go). Retention applies unless the policy is
// compact alone (Config.Retains). Objects left
// without live bytes are deleted later by Log.CollectGarbage.
func (p *Partition) RunMaintenance(now time.Time) error {
	if p.isClosed() {
		return ErrClosed
	}
	cfg := p.cfg.Load()
	ctx, cancel := context.WithTimeout(context.Background(), p.l.cfg.ReadTimeout)
	defer cancel()
	target := int64(-1)
	if cfg.RetentionAge > 0 && cfg.Retains() {
		// The first batch (from the start) that is not expired: everything
		// before it goes.
		limit := now.UnixMilli() - cfg.RetentionAge.Milliseconds()
		var first *int64
		err := p.l.pool.QueryRow(ctx, `SELECT min(base_offset) FROM sharedlog_batches
			WHERE topic_id = $1 AND partition = $2 AND max_ts >= $3`, p.key.topic, p.key.part, limit).Scan(&first)
		if err != nil {
			return fmt.Errorf("%w: partition %s: retention: %w", ErrUnavailable, p.key, err)
		}
		if err := p.refresh(ctx); err != nil {
			return err
		}
		if first == nil {
			target = p.hw.Load()
		} else {
			target = *first
		}
	}
	if cfg.RetentionBytes > 0 && cfg.Retains() {
		// Drop the oldest batches while what remains is at least
		// RetentionBytes.
		var cut *int64
		err := p.l.pool.QueryRow(ctx, `SELECT max(last_offset) + 1 FROM (
				SELECT last_offset, byte_len, sum(byte_len) OVER (ORDER BY base_offset DESC) AS from_here
				FROM sharedlog_batches WHERE topic_id = $1 AND partition = $2) x
			WHERE from_here - byte_len >= $3`,
			p.key.topic, p.key.part, cfg.RetentionBytes).Scan(&cut)
		if err != nil {
			return fmt.Errorf("%w: partition %s: retention: %w", ErrUnavailable, p.key, err)
		}
		if cut != nil && *cut > target {
			target = *cut
		}
	}
	// An open transaction's records stay until it ends (the local log's
	// rule): retention stops at the last stable offset.
	target = min(target, p.LastStableOffset())
	if target > p.start.Load() {
		if _, err := p.advanceStart(ctx, target); err != nil {
			return err
		}
	}
	// Merge passes (compact.go) until nothing is left to merge, or 16
	// passes (256 MiB at the default MergeMaxBytes): the next call goes on.
	// The node's merges share MergeRate (merge_pace.go).
	for range 16 {
		if err := p.l.mergePace.wait(ctx); err != nil {
			return err
		}
		n, err := p.merge(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
	}
	if cfg.Compact {
		return p.compactKeys(cfg, now) // compact_keys.go
	}
	return nil
}

// OffsetForTime returns the first offset whose timestamp is >= ts (Unix
// ms), or the high watermark if none.
func (p *Partition) OffsetForTime(ts int64) (int64, error) {
	if p.isClosed() {
		return 0, ErrClosed
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.l.cfg.ReadTimeout)
	defer cancel()
	start, hw := p.start.Load(), p.hw.Load()
	// Any record with timestamp >= ts is in a batch whose max timestamp is
	// >= ts: the first such batch holds the first such record.
	rows, err := p.l.pool.Query(ctx, `SELECT b.base_offset, b.last_offset, o.key, o.size, b.byte_off, b.byte_len, b.max_ts
		FROM sharedlog_batches b JOIN sharedlog_objects o USING (object_id)
		WHERE b.topic_id = $1 AND b.partition = $2 AND b.max_ts >= $3 AND b.last_offset >= $4 AND b.base_offset < $5
		ORDER BY b.base_offset LIMIT 1`, p.key.topic, p.key.part, ts, start, hw)
	if err != nil {
		return 0, fmt.Errorf("%w: partition %s: %w", ErrUnavailable, p.key, err)
	}
	cs, err := scanCoords(rows)
	if err != nil {
		return 0, fmt.Errorf("%w: partition %s: %w", ErrUnavailable, p.key, err)
	}
	if len(cs) == 0 {
		return hw, nil
	}
	raw, err := p.l.readCoord(ctx, nil, cs[0])
	if err != nil {
		return 0, err
	}
	for len(raw) > 0 {
		h, _ := log.PeekBatch(raw) // readCoord checked the framing; ParseBatch checks the rest
		recs, err := log.DecodeStoredBatch(raw[:h.Size], nil)
		if err != nil {
			return 0, fmt.Errorf("shared log: partition %s: batch in %s: %w", p.key, cs[0].key, err)
		}
		raw = raw[h.Size:]
		for _, r := range recs {
			if r.Timestamp >= ts && r.Offset >= start {
				return r.Offset, nil
			}
		}
	}
	// Only records below the start matched: the next batch decides.
	if cs[0].last+1 < hw {
		return p.offsetForTimeFrom(ts, cs[0].last+1)
	}
	return hw, nil
}

// offsetForTimeFrom scans records from offset from on.
func (p *Partition) offsetForTimeFrom(ts, from int64) (int64, error) {
	for off := from; off < p.hw.Load(); {
		recs, err := p.Read(off, 0, 1<<20)
		if err != nil {
			return 0, err
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			if r.Timestamp >= ts {
				return r.Offset, nil
			}
		}
		off = recs[len(recs)-1].Offset + 1
	}
	return p.hw.Load(), nil
}
