package log

// Transactions (KIP-98) as a partition sees them: which producers have a
// transaction open here (from their first transactional batch to the
// control batch, the marker, that ends it), the last stable offset (LSO)
// that this pins, and the aborted-transaction index that read_committed
// readers use to drop aborted records (Kafka's TransactionIndex).
//
// The state lives in memory. Open rebuilds it from the batch headers of
// every segment (and the key of each control record): a transactional
// batch opens its producer's transaction unless one is open, a marker
// closes it, and an abort marker adds (producer, first offset, marker
// offset) to the index. Nothing is persisted beside the log, so the state
// is exactly what the log holds, after a restart or a kill -9 alike. The
// scan walks every batch header (BenchmarkOpenTxnScan: about 1-5 s per GiB
// of 1 KiB batches on the 2-core test machine), so it runs only for a
// partition that has ever held a transactional batch: the first one
// creates the file TxnSentinel in the partition directory, durably, before
// it is queued. A persistent per-segment index (Kafka's .txnindex) would
// make Open cheap for those too.
//
// Readers: ReadBatches (Kafka) returns everything and its caller stops at
// LastStableOffset and sends AbortedTxns; Read and ReadFunc (the Connect
// readers, read_committed by design) stop at the LSO themselves and skip
// control batches and the batches of aborted transactions.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
)

// AbortedTxn is one entry of the aborted-transaction index: producer
// ProducerID's transaction that started at FirstOffset was aborted by the
// marker at LastOffset.
type AbortedTxn struct {
	ProducerID  int64
	FirstOffset int64
	LastOffset  int64
}

// OpenTxn is a transaction open in a partition: its producer and the
// offset of its first batch here.
type OpenTxn struct {
	ProducerID  int64
	FirstOffset int64
}

// txnState is a partition's transaction state. Lock order: Partition.mu,
// then txnState.mu.
type txnState struct {
	mu      sync.Mutex
	open    map[int64]int64 // producer id -> first offset of its open transaction
	aborted []AbortedTxn    // sorted by LastOffset

	marked   atomic.Bool // TxnSentinel exists (durably)
	markedMu sync.Mutex  // serialises its creation
}

// TxnSentinel is the file whose presence in a partition directory says the
// partition has held transactional batches, so Open must rebuild its
// transaction state from the log.
const TxnSentinel = "transactional"

// markTransactional makes sure TxnSentinel exists durably; it is cheap
// after the first call.
func (p *Partition) markTransactional() error {
	t := &p.txn
	if t.marked.Load() {
		return nil
	}
	t.markedMu.Lock()
	defer t.markedMu.Unlock()
	if t.marked.Load() {
		return nil
	}
	f, err := p.fs.Create(p.path(TxnSentinel))
	if err == nil {
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = p.fs.SyncDir(p.dir)
	}
	if err != nil {
		return fmt.Errorf("log: mark %s as transactional: %w", p.dir, err)
	}
	t.marked.Store(true)
	return nil
}

// Control record types (the int16 after the version in a marker's key).
const (
	ControlAbort  int16 = 0
	ControlCommit int16 = 1
)

// beginTxnLocked notes a transactional batch queued at base: it opens its
// producer's transaction here unless one is open. Caller holds p.mu, so
// base is in offset order with every other queued batch.
func (p *Partition) beginTxnLocked(h *batchHeader, base int64) {
	if h.Attributes&attrTransactional == 0 || h.control() || h.ProducerID < 0 {
		return
	}
	t := &p.txn
	t.mu.Lock()
	if t.open == nil {
		t.open = map[int64]int64{}
	}
	if _, ok := t.open[h.ProducerID]; !ok {
		t.open[h.ProducerID] = base
	}
	t.mu.Unlock()
}

// endTxn closes pid's open transaction here with the marker at
// markerOffset, adding it to the aborted index when it aborts. It reports
// whether a transaction was open.
func (p *Partition) endTxn(pid int64, commit bool, markerOffset int64) bool {
	t := &p.txn
	t.mu.Lock()
	defer t.mu.Unlock()
	first, ok := t.open[pid]
	if !ok {
		return false
	}
	delete(t.open, pid)
	if !commit {
		e := AbortedTxn{ProducerID: pid, FirstOffset: first, LastOffset: markerOffset}
		i := sort.Search(len(t.aborted), func(i int) bool { return t.aborted[i].LastOffset > markerOffset })
		t.aborted = slices.Insert(t.aborted, i, e)
	}
	return true
}

// LastStableOffset is the first offset of the oldest transaction open in
// the partition, or the high watermark when none is (or when it starts
// at or after the high watermark). Records below it are decided: committed,
// aborted or not transactional. It never decreases.
func (p *Partition) LastStableOffset() int64 {
	return p.lastStable(p.hw.Load())
}

// lastStable is LastStableOffset with hw already loaded; hw must be loaded
// before the open set is looked at (a transaction opened later starts at
// or after it).
func (p *Partition) lastStable(hw int64) int64 {
	t := &p.txn
	t.mu.Lock()
	defer t.mu.Unlock()
	lso := hw
	for _, first := range t.open {
		lso = min(lso, first)
	}
	return lso
}

// OpenTxns lists the transactions open in the partition, oldest first.
func (p *Partition) OpenTxns() []OpenTxn {
	t := &p.txn
	t.mu.Lock()
	out := make([]OpenTxn, 0, len(t.open))
	for pid, first := range t.open {
		out = append(out, OpenTxn{ProducerID: pid, FirstOffset: first})
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b OpenTxn) int { return int(a.FirstOffset - b.FirstOffset) })
	return out
}

// AbortedTxns returns the index entries of aborted transactions that
// overlap offsets [from, to): those whose marker is at or after from and
// whose first offset is before to. This is what a read_committed Fetch
// answers with the batches it returns from from up to to.
func (p *Partition) AbortedTxns(from, to int64) []AbortedTxn {
	t := &p.txn
	t.mu.Lock()
	defer t.mu.Unlock()
	i := sort.Search(len(t.aborted), func(i int) bool { return t.aborted[i].LastOffset >= from })
	var out []AbortedTxn
	for _, e := range t.aborted[i:] {
		if e.FirstOffset < to {
			out = append(out, e)
		}
	}
	return out
}

// WriteTxnMarker appends a control batch ending producer pid's transaction
// in this partition (commit or abort), waits until it is durable, and then
// closes the transaction here: the last stable offset moves past it, and
// an abort enters the aborted-transaction index. The batch has attributes
// transactional|control, the producer's id and epoch, base sequence -1,
// and one record: key = int16 version 0 + int16 type (0 abort, 1 commit),
// value = int16 version 0 + int32 coordinatorEpoch. It returns the
// marker's offset. Writing a marker for a producer with no transaction
// open here is allowed (a repeated EndTxn); it changes nothing but the log.
func (p *Partition) WriteTxnMarker(ctx context.Context, pid int64, epoch int16, commit bool, coordinatorEpoch int32) (int64, error) {
	batch, info, err := encodeTxnMarker(pid, epoch, commit, coordinatorEpoch, p.now().UnixMilli())
	if err != nil {
		return -1, err
	}
	req := &appendReq{batch: batch, info: info, done: make(chan struct{})}
	if err := p.enqueue(req); err != nil {
		return -1, err
	}
	off, err := req.wait(ctx)
	if err != nil {
		return -1, err
	}
	if p.endTxn(pid, commit, off) {
		p.wake() // readers waiting at the LSO
	}
	return off, nil
}

// encodeTxnMarker encodes the control batch ending producer pid's
// transaction (WriteTxnMarker has its layout), with base offset 0.
func encodeTxnMarker(pid int64, epoch int16, commit bool, coordinatorEpoch int32, nowMs int64) ([]byte, batchInfo, error) {
	typ := ControlAbort
	if commit {
		typ = ControlCommit
	}
	var key [4]byte
	binary.BigEndian.PutUint16(key[2:], uint16(typ))
	var val [6]byte
	binary.BigEndian.PutUint32(val[2:], uint32(coordinatorEpoch))
	like := batchHeader{Attributes: attrTransactional | attrControl, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: -1}
	return appendBatchAs(nil, 0, []Record{{Key: key[:], Value: val[:]}}, true, 0, nowMs, limits{}, &like)
}

// EncodeTxnMarker returns the control batch that ends producer pid's
// transaction (commit or abort), as Partition.WriteTxnMarker writes it,
// ready for a log that stores batches as given (the shared log).
func EncodeTxnMarker(pid int64, epoch int16, commit bool, coordinatorEpoch int32, nowMs int64) (*Batch, error) {
	raw, _, err := encodeTxnMarker(pid, epoch, commit, coordinatorEpoch, nowMs)
	if err != nil {
		return nil, err
	}
	return batchOf(raw)
}

// ParseControlKey reads a control record's key: its type (ControlAbort or
// ControlCommit).
func ParseControlKey(key []byte) (int16, error) {
	if len(key) < 4 {
		return 0, fmt.Errorf("control record key of %d bytes, want 4", len(key))
	}
	if v := int16(binary.BigEndian.Uint16(key)); v != 0 {
		return 0, fmt.Errorf("control record key version %d, want 0", v)
	}
	return int16(binary.BigEndian.Uint16(key[2:])), nil
}

// rebuildTxns reads every segment's batch headers (and markers' keys) into
// the transaction state. A damaged batch ends the walk of its segment,
// logged: Open has validated the active segment and trusts closed ones.
func (p *Partition) rebuildTxns(segs []*segment) {
	t := &p.txn
	t.open, t.aborted = map[int64]int64{}, nil
	if f, err := p.fs.Open(p.path(TxnSentinel)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return // never transactional: nothing to rebuild
		}
		p.log.Warn("transaction state: cannot tell whether the partition is transactional; rebuilding", "err", err)
	} else {
		_ = f.Close()
		t.marked.Store(true)
	}
	for _, s := range segs {
		end := s.size.Load()
		c := chunkReader{f: s.f, end: end, chunk: 64 << 10}
		var recs []Record
		for pos := int64(0); pos < end; {
			h, err := c.header(pos, maxScanBatch)
			if err != nil {
				p.log.Warn("transaction state: could not read batch header; later batches of this segment are not tracked", "segment", s.path, "position", pos, "err", err)
				break
			}
			switch {
			case h.Attributes&attrTransactional == 0 || h.ProducerID < 0:
			case h.control():
				recs, err = c.batch(recs[:0], pos, h, false)
				if err == nil && len(recs) == 0 {
					err = errors.New("control batch without a record")
				}
				var typ int16
				if err == nil {
					typ, err = ParseControlKey(recs[0].Key)
				}
				if err != nil {
					p.log.Warn("transaction state: unreadable control batch skipped", "segment", s.path, "position", pos, "err", err)
					break
				}
				if first, ok := t.open[h.ProducerID]; ok {
					delete(t.open, h.ProducerID)
					if typ == ControlAbort {
						t.aborted = append(t.aborted, AbortedTxn{ProducerID: h.ProducerID, FirstOffset: first, LastOffset: h.BaseOffset})
					}
				}
			default:
				if _, ok := t.open[h.ProducerID]; !ok {
					t.open[h.ProducerID] = h.BaseOffset
				}
			}
			pos += h.size()
		}
	}
}

// txnFilter is what a record read (Read, ReadFunc) needs to be
// read_committed: where to stop, and which transactions were aborted.
type txnFilter struct {
	stopAt  int64        // the last stable offset when the read began
	aborted []AbortedTxn // entries overlapping the read, by LastOffset
}

// filterFor returns the filter of a read from offset with the high
// watermark hw.
func (p *Partition) filterFor(offset, hw int64) txnFilter {
	lso := p.lastStable(hw)
	return txnFilter{stopAt: lso, aborted: p.AbortedTxns(offset, lso)}
}

// skip reports whether a batch with header h is hidden from record
// readers: a control batch, or a batch of an aborted transaction.
func (f *txnFilter) skip(h *batchHeader) bool {
	return hiddenBatch(h.control(), h.Attributes&attrTransactional != 0, h.ProducerID, h.BaseOffset, f.aborted)
}

// hiddenBatch reports whether a record reader skips a batch: a control
// batch, or a transactional batch of producer pid at base that one of the
// aborted transactions covers.
func hiddenBatch(control, transactional bool, pid, base int64, aborted []AbortedTxn) bool {
	if control {
		return true
	}
	if !transactional || len(aborted) == 0 {
		return false
	}
	for _, e := range aborted {
		if e.ProducerID == pid && e.FirstOffset <= base && base <= e.LastOffset {
			return true
		}
	}
	return false
}

// compactTxn is what compaction needs to know of transactions: the batches
// of aborted transactions it drops, as offset ranges in offset order.
type compactTxn struct {
	filter txnFilter
	ranges [][2]int64
}

// compactableLocked trims closed (the closed segments of segs) to those
// wholly below the last stable offset, and returns them with the aborted
// transactions below it. Caller holds maintMu.
func (p *Partition) compactableLocked(closed, segs []*segment) ([]*segment, *compactTxn) {
	lso := p.LastStableOffset()
	for len(closed) > 0 && segs[len(closed)].base > lso {
		closed = closed[:len(closed)-1]
	}
	return closed, &compactTxn{filter: txnFilter{stopAt: lso, aborted: p.AbortedTxns(0, lso)}}
}

// drop reports whether the batch h belongs to an aborted transaction, and
// remembers its offsets for dropped. Batches come in offset order.
func (c *compactTxn) drop(h *batchHeader) bool {
	if h.control() || !c.filter.skip(h) {
		return false
	}
	c.ranges = append(c.ranges, [2]int64{h.BaseOffset, h.lastOffset()})
	return true
}

// dropped reports whether offset is in a batch drop reported.
func (c *compactTxn) dropped(offset int64) bool {
	i := sort.Search(len(c.ranges), func(i int) bool { return c.ranges[i][1] >= offset })
	return i < len(c.ranges) && c.ranges[i][0] <= offset
}

// pruneAborted forgets the aborted transactions whose marker retention
// has deleted (below the log start offset): no read can return them.
func (p *Partition) pruneAborted() {
	start := p.LogStartOffset()
	t := &p.txn
	t.mu.Lock()
	defer t.mu.Unlock()
	i := sort.Search(len(t.aborted), func(i int) bool { return t.aborted[i].LastOffset >= start })
	if i > 0 {
		t.aborted = slices.Delete(t.aborted, 0, i)
	}
}

// retainableLocked bounds n, the number of oldest segments of segs that
// retention would delete, to those wholly below the last stable offset:
// an open transaction's records are kept until it ends. Caller holds
// maintMu.
func (p *Partition) retainableLocked(segs []*segment, n int) int {
	lso := p.LastStableOffset()
	for n > 0 && segs[n].base > lso {
		n--
	}
	return n
}
