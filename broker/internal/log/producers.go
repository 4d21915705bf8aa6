package log

// Idempotent producers (KIP-98): per partition, each producer id's epoch
// and its last five batches' sequence ranges. A retry of one of those
// batches is answered with the original's offsets instead of being
// appended again; a sequence that does not follow the last one is refused;
// an epoch older than the one seen is refused. The state lives in memory
// and is rebuilt on Open from the batch headers of the log's tail (the
// last 64 MiB), so it survives a restart and kill -9 (a batch is in the
// state exactly when it is in the log). A producer with no state here (new,
// or its batches are older than that tail, or the state was dropped)
// is accepted at any sequence and tracked from there: a wrong refusal
// would stall a healthy producer, while the cost of leniency is only that
// a retry older than the state may be appended twice.

import (
	"errors"
	"math"
)

// ErrOutOfOrderSequence is returned by EnqueueBatch for an idempotent
// producer's batch whose base sequence does not follow the last batch of
// that producer and epoch.
var ErrOutOfOrderSequence = errors.New("out of order sequence number")

// ErrInvalidProducerEpoch is returned by EnqueueBatch for a batch whose
// producer epoch is older than the latest seen for its producer id.
var ErrInvalidProducerEpoch = errors.New("producer epoch is older than the latest one seen")

const (
	// producerBatchesKept is how many recent batches per producer are
	// remembered for duplicate detection (Kafka's 5, matching the 5
	// requests in flight an idempotent client may have).
	producerBatchesKept = 5
	// maxProducers bounds the producers tracked per partition; past it an
	// arbitrary one is forgotten (and then accepted leniently).
	maxProducers = 10000
	// producerSegments is how many of the newest segments Open reads
	// batch headers from to rebuild producer state.
	producerSegments = 2
)

// seqEntry is one remembered batch of a producer.
type seqEntry struct {
	first, last int32
	req         *appendReq
}

// producerState is one producer id's state in a partition.
type producerState struct {
	epoch   int16
	entries []seqEntry // oldest first, at most producerBatchesKept
}

// lastSequence is the sequence of the batch's last record; sequences wrap
// from MaxInt32 to 0.
func lastSequence(first, lastOffsetDelta int32) int32 {
	if int64(first)+int64(lastOffsetDelta) > math.MaxInt32 {
		return int32(int64(first) + int64(lastOffsetDelta) - math.MaxInt32 - 1)
	}
	return first + lastOffsetDelta
}

func nextSequence(last int32) int32 {
	if last == math.MaxInt32 {
		return 0
	}
	return last + 1
}

// checkSequenceLocked checks h against its producer's state: a duplicate
// returns the original's request, an error refuses the batch, and (nil,
// nil) accepts it. Caller holds p.mu.
func (p *Partition) checkSequenceLocked(h *batchHeader) (*appendReq, error) {
	if h.ProducerID < 0 || h.BaseSequence < 0 {
		return nil, nil
	}
	st := p.producers[h.ProducerID]
	if st == nil {
		return nil, nil
	}
	switch {
	case h.ProducerEpoch < st.epoch:
		return nil, ErrInvalidProducerEpoch
	case h.ProducerEpoch > st.epoch:
		if h.BaseSequence != 0 {
			return nil, ErrOutOfOrderSequence
		}
		return nil, nil
	}
	last := lastSequence(h.BaseSequence, h.LastOffsetDelta)
	for _, e := range st.entries {
		if e.first == h.BaseSequence && e.last == last {
			return e.req, nil
		}
	}
	if n := len(st.entries); n > 0 && h.BaseSequence != nextSequence(st.entries[n-1].last) {
		return nil, ErrOutOfOrderSequence
	}
	return nil, nil
}

// recordSequenceLocked remembers an accepted batch. Caller holds p.mu.
func (p *Partition) recordSequenceLocked(h *batchHeader, req *appendReq) {
	if h.ProducerID < 0 || h.BaseSequence < 0 {
		return
	}
	if p.producers == nil {
		p.producers = map[int64]*producerState{}
	}
	st := p.producers[h.ProducerID]
	if st == nil {
		if len(p.producers) >= maxProducers {
			for id := range p.producers {
				delete(p.producers, id)
				break
			}
		}
		st = &producerState{epoch: h.ProducerEpoch}
		p.producers[h.ProducerID] = st
	}
	if h.ProducerEpoch != st.epoch {
		st.epoch, st.entries = h.ProducerEpoch, st.entries[:0]
	}
	if len(st.entries) == producerBatchesKept {
		copy(st.entries, st.entries[1:])
		st.entries = st.entries[:producerBatchesKept-1]
	}
	st.entries = append(st.entries, seqEntry{first: h.BaseSequence, last: lastSequence(h.BaseSequence, h.LastOffsetDelta), req: req})
}

// closedDone is the done channel of requests rebuilt from the log.
var closedDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// producerScanBytes bounds how much of the log's tail Open reads to
// rebuild producer state: batch headers in the last 64 MiB. A producer
// whose recent batches are older than that is tracked afresh (accepted at
// any sequence), which keeps Open's cost independent of the log's size.
const producerScanBytes = 64 << 20

// rebuildProducers reads the batch headers of the log's tail (at most
// producerScanBytes, over the newest producerSegments segments) into the
// producer state, oldest first. It starts at an index entry, so at a batch
// boundary. A damaged header ends the walk of its segment (Open has
// already validated the active segment; closed ones are trusted).
func (p *Partition) rebuildProducers(segs []*segment) {
	from := max(len(segs)-producerSegments, 0)
	budget := int64(producerScanBytes)
	if n := p.cfg.Load().producerScanBytes; n > 0 {
		budget = n
	}
	starts := make([]int64, len(segs))
	for i := len(segs) - 1; i >= from; i-- {
		s := segs[i]
		end := s.size.Load()
		starts[i] = 0
		if end > budget {
			// The first indexed batch at or after end-budget.
			want := end - budget
			starts[i] = end
			for _, e := range *s.idx.Load() {
				if int64(e.pos) >= want {
					starts[i] = int64(e.pos)
					break
				}
			}
		}
		budget -= end - starts[i]
		if budget <= 0 {
			from = i
			break
		}
	}
	for i := from; i < len(segs); i++ {
		s := segs[i]
		end := s.size.Load()
		c := chunkReader{f: s.f, end: end, chunk: 1 << 20}
		for pos := starts[i]; pos < end; {
			h, err := c.header(pos, maxScanBatch)
			if err != nil {
				p.log.Warn("producer state: could not read batch header; later batches of this segment are not tracked", "segment", s.path, "position", pos, "err", err)
				break
			}
			if !h.control() {
				req := &appendReq{base: h.BaseOffset, info: batchInfo{count: int(h.LastOffsetDelta) + 1, lastDelt: h.LastOffsetDelta}, done: closedDone}
				p.recordSequenceLocked(&h, req)
			}
			pos += h.size()
		}
	}
}
