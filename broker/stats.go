package broker

// Operational counters read by the metrics collector (package metrics) at
// scrape time.
//
// The hot paths pay one or two atomic adds per partition batch, never per
// record and never an allocation: each topic holds one partStats per
// partition (topic.stats, index = partition), and Produce, ProduceBatches,
// the Connect reads and FetchBatches add to them once per partition and
// request. Everything else a scrape shows (log size, offsets, group lag)
// is read from the live state when the scrape asks. Counters start at zero
// when a topic is opened (a restart, a re-created topic): Prometheus
// treats that as a counter reset.

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/sluicehq/sluice/broker/internal/log"
	"github.com/sluicehq/sluice/internal/reqid"
)

// partStats are one partition's counters. Padded to a cache line so that
// partitions appended to by different cores do not share one.
type partStats struct {
	producedRecords, producedBytes atomic.Int64
	fetchedRecords, fetchedBytes   atomic.Int64
	_                              [32]byte
}

// newPartStats returns n fresh counters.
func newPartStats(n int) []*partStats {
	out := make([]*partStats, n)
	for i := range out {
		out[i] = new(partStats)
	}
	return out
}

// stat returns partition p's counters, or nil.
func (t *topic) stat(p int32) *partStats {
	if p < 0 || int(p) >= len(t.stats) {
		return nil
	}
	return t.stats[p]
}

// recordBytes is what the byte counters count of a record: its key, value
// and header bytes (what max.message.bytes counts).
func recordBytes(r *log.Record) int64 {
	n := len(r.Key) + len(r.Value)
	for i := range r.Headers {
		n += len(r.Headers[i].Key) + len(r.Headers[i].Value)
	}
	return int64(n)
}

// noteAppended counts the batches a Connect Produce appended: recs is
// ordered by partition, partition p's records at recs[starts[p]:starts[p+1]].
func (t *topic) noteAppended(recs []log.Record, starts []int) {
	for p := range len(starts) - 1 {
		t.notePartitionAppended(int32(p), recs[starts[p]:starts[p+1]])
	}
}

// notePartitionAppended counts records appended to partition p.
func (t *topic) notePartitionAppended(p int32, recs []log.Record) {
	s := t.stat(p)
	if s == nil || len(recs) == 0 {
		return
	}
	var n int64
	for i := range recs {
		n += recordBytes(&recs[i])
	}
	s.producedRecords.Add(int64(len(recs)))
	s.producedBytes.Add(n)
}

// noteQueued counts one Kafka batch queued to partition p; recs are its
// records as the validator saw them.
func (t *topic) noteQueued(p int32, recs []ProduceRecord) {
	s := t.stat(p)
	if s == nil {
		return
	}
	var n int
	for i := range recs {
		n += recs[i].size()
	}
	s.producedRecords.Add(int64(len(recs)))
	s.producedBytes.Add(int64(n))
}

// noteRead counts records a Connect read (Fetch, Subscribe, Consume)
// returned from partition p.
func (t *topic) noteRead(p int32, recs []log.Record) {
	s := t.stat(p)
	if s == nil || len(recs) == 0 {
		return
	}
	var n int64
	for i := range recs {
		n += recordBytes(&recs[i])
	}
	s.fetchedRecords.Add(int64(len(recs)))
	s.fetchedBytes.Add(n)
}

// noteWireRead counts a Connect read encoded straight into a message:
// records records whose keys, values and headers hold bytes bytes.
func (t *topic) noteWireRead(p int32, records int, bytes int64) {
	s := t.stat(p)
	if s == nil || records == 0 {
		return
	}
	s.fetchedRecords.Add(int64(records))
	s.fetchedBytes.Add(bytes)
}

// noteFetched counts the answer of a Kafka FetchBatches as it is returned
// (a long poll's earlier passes are not counted): per partition the batch
// bytes sent and the records past the fetch offset (the offsets from the
// fetch offset to the last one sent; a client skips the first batch's
// records before its offset). It returns res.
func (b *Broker) noteFetched(req FetchBatchesRequest, res []FetchBatchesResult) []FetchBatchesResult {
	for i := range res {
		r := &res[i]
		if r.Err != nil {
			continue
		}
		fp := &req.Partitions[i]
		var bytes, last int64 = int64(len(r.Batches)), -1
		if r.Files != nil {
			bytes += r.Files.Size
			last = r.Files.LastOffset
		}
		if len(r.Batches) > 0 {
			last = max(last, lastOffsetOf(r.Batches))
		}
		if bytes == 0 {
			continue
		}
		t, err := b.lookup(fp.Topic)
		if err != nil {
			continue
		}
		s := t.stat(fp.Partition)
		if s == nil {
			continue
		}
		if last >= fp.Offset {
			s.fetchedRecords.Add(last + 1 - fp.Offset)
		}
		s.fetchedBytes.Add(bytes)
	}
	return res
}

// lastOffsetOf walks the batch headers of bs (stored batches, back to
// back) and returns the last offset of the last whole batch, or -1.
func lastOffsetOf(bs []byte) int64 {
	const (
		lengthOff = 8  // int32 batchLength, after the int64 base offset
		deltaOff  = 23 // int32 lastOffsetDelta
		overhead  = 12 // base offset and length, not counted in the length
	)
	last := int64(-1)
	for len(bs) >= deltaOff+4 {
		size := int64(int32(binary.BigEndian.Uint32(bs[lengthOff:]))) + overhead
		if size < deltaOff+4 || size > int64(len(bs)) {
			break
		}
		base := int64(binary.BigEndian.Uint64(bs))
		last = base + int64(int32(binary.BigEndian.Uint32(bs[deltaOff:])))
		bs = bs[size:]
	}
	return last
}

// PartitionStats is the state and the counters of one partition, as
// Stats reports them.
type PartitionStats struct {
	Topic     string
	Partition int32
	// ProducedRecords and ProducedBytes count records appended since the
	// topic was opened; bytes are key, value and header bytes.
	ProducedRecords, ProducedBytes int64
	// FetchedRecords and FetchedBytes count records sent to consumers
	// since the topic was opened: over Connect the records returned and
	// their key, value and header bytes; over Kafka the offsets past the
	// fetch offset and the record-batch bytes sent (records are never
	// decoded there).
	FetchedRecords, FetchedBytes int64
	// LogStartOffset, HighWatermark and SizeBytes describe the log now.
	LogStartOffset, HighWatermark, SizeBytes int64
}

// Stats appends the state of every partition of every live topic to dst,
// sorted by topic then partition, and returns it. It takes the topic map's
// read lock once and reads each partition's atomics; no I/O.
func (b *Broker) Stats(dst []PartitionStats) []PartitionStats {
	b.mu.RLock()
	ts := make([]*topic, 0, len(b.topics))
	for _, t := range b.topics {
		ts = append(ts, t)
	}
	b.mu.RUnlock()
	slices.SortFunc(ts, func(x, y *topic) int { return strings.Compare(x.name, y.name) })
	for _, t := range ts {
		for i, p := range t.parts {
			ps := PartitionStats{
				Topic: t.name, Partition: int32(i),
				LogStartOffset: p.LogStartOffset(), HighWatermark: p.HighWatermark(), SizeBytes: p.Size(),
			}
			if s := t.stat(int32(i)); s != nil {
				ps.ProducedRecords, ps.ProducedBytes = s.producedRecords.Load(), s.producedBytes.Load()
				ps.FetchedRecords, ps.FetchedBytes = s.fetchedRecords.Load(), s.fetchedBytes.Load()
			}
			dst = append(dst, ps)
		}
	}
	return dst
}

// Transport names the protocol a request came in by, for the refusal
// counters.
type Transport uint8

// Transports.
const (
	TransportConnect Transport = iota // Connect, gRPC or gRPC-Web
	TransportKafka                    // the Kafka listener
	numTransports
)

// String is the transport's metric label value.
func (t Transport) String() string {
	switch t {
	case TransportConnect:
		return "connect"
	case TransportKafka:
		return "kafka"
	}
	return "unknown"
}

// RefusalReason classifies why produced records were refused; it is the
// reason label of sluice_produce_refusals_total.
type RefusalReason uint8

// Refusal reasons. Schema enforcement sets its kinds on its *SchemaError
// (Kind); the rest come from the broker's own checks.
const (
	// RefusalInvalidRecord: the broker's own record checks (an unknown
	// partition, max.message.bytes, a keyless record on a compacted topic).
	RefusalInvalidRecord RefusalReason = iota
	// RefusalMissingEnvelope: a null or empty key or value where the
	// topic checks schemas.
	RefusalMissingEnvelope
	// RefusalBadEnvelope: the schema envelope (magic byte, id, header,
	// Protobuf message-index path) does not parse or resolve.
	RefusalBadEnvelope
	// RefusalUnknownSchema: the schema id or GUID names no schema.
	RefusalUnknownSchema
	// RefusalWrongSubject: the id is not a live version of the subject the
	// strategy names.
	RefusalWrongSubject
	// RefusalPayloadMismatch: the bytes do not decode under the schema.
	RefusalPayloadMismatch
	// RefusalRuleViolation: a data-contract rule refused the record
	// (DESIGN.md §11).
	RefusalRuleViolation
	// RefusalInvalidBatch: a Kafka batch that is corrupt, malformed or too
	// large.
	RefusalInvalidBatch
	// RefusalUnknownTopic: the topic or partition does not exist.
	RefusalUnknownTopic
	// RefusalInvalidRequest: a refusal not about one record (the request
	// over its byte limit, a fenced or out-of-sequence producer, a
	// transactional batch outside its transaction, ...).
	RefusalInvalidRequest
	numRefusalReasons
)

// String is the reason's metric label value.
func (r RefusalReason) String() string {
	switch r {
	case RefusalInvalidRequest:
		return "invalid_request"
	case RefusalMissingEnvelope:
		return "missing_envelope"
	case RefusalBadEnvelope:
		return "bad_envelope"
	case RefusalUnknownSchema:
		return "unknown_schema"
	case RefusalWrongSubject:
		return "wrong_subject"
	case RefusalPayloadMismatch:
		return "payload_mismatch"
	case RefusalRuleViolation:
		return "rule_violation"
	case RefusalInvalidRecord:
		return "invalid_record"
	case RefusalInvalidBatch:
		return "invalid_batch"
	case RefusalUnknownTopic:
		return "unknown_topic"
	}
	return "unknown"
}

// refusals counts refusals per transport and reason.
type refusals [numTransports][numRefusalReasons]atomic.Int64

// RefusalCount is one counter of Refusals.
type RefusalCount struct {
	Transport Transport
	Reason    RefusalReason
	Count     int64
}

// Refusals returns every refusal counter, zeros included (so that a
// dashboard sees each series from the start), by transport then reason.
func (b *Broker) Refusals() []RefusalCount {
	out := make([]RefusalCount, 0, int(numTransports)*int(numRefusalReasons))
	for t := range numTransports {
		for r := range numRefusalReasons {
			out = append(out, RefusalCount{Transport: t, Reason: r, Count: b.refused[t][r].Load()})
		}
	}
	return out
}

// NoteRefusal counts a produce refusal that a transport is about to
// answer: one per refused record (a record whose key and value both fail
// counts twice, once per side), or one per refused batch or request when
// the refusal is not about its records. Errors that are not refusals (a
// storage failure, a closed broker, a cancelled request) are not counted.
// It returns whether err was counted.
func (b *Broker) NoteRefusal(t Transport, err error) bool {
	if err == nil || t >= numTransports {
		return false
	}
	c := &b.refused[t]
	var pe *ProduceError
	var be *BatchError
	switch {
	case errors.As(err, &pe):
		for _, re := range pe.Records {
			c[recordRefusal(re.Err)].Add(1)
		}
	case errors.As(err, &be):
		for _, re := range be.Records {
			c[recordRefusal(re.Err)].Add(1)
		}
	case errors.Is(err, ErrTopicNotFound), errors.Is(err, ErrPartitionNotFound):
		c[RefusalUnknownTopic].Add(1)
	case errors.Is(err, ErrCorruptBatch), errors.Is(err, ErrInvalidBatch),
		errors.Is(err, ErrMessageTooLarge), errors.Is(err, ErrRecordListTooLarge):
		c[RefusalInvalidBatch].Add(1)
	case errors.Is(err, ErrInvalidArgument), errors.Is(err, log.ErrRecordTooLarge), errors.Is(err, log.ErrBatchTooLarge),
		errors.Is(err, ErrOutOfOrderSequence), errors.Is(err, ErrInvalidProducerEpoch), errors.Is(err, ErrInvalidTxnState):
		c[RefusalInvalidRequest].Add(1)
	default:
		return false
	}
	return true
}

// recordRefusal classifies one refused record's reason.
func recordRefusal(err error) RefusalReason {
	var se *SchemaError
	switch {
	case errors.As(err, &se) && se.Rule != nil:
		return RefusalRuleViolation
	case se != nil && se.Kind < numRefusalReasons:
		return se.Kind
	}
	return RefusalInvalidRecord
}

// refusedRPC counts and logs (at Info, without record bytes beyond the
// reason's bounded text) a Connect produce refusal, naming the request of
// ctx (package reqid); the Kafka listener logs its own. It is called by
// the Connect produce handler's error mapping.
func (b *Broker) refusedRPC(ctx context.Context, procedure string, err error) {
	if !b.NoteRefusal(TransportConnect, err) {
		return
	}
	attrs := append(reqid.Attrs(ctx), slog.String("procedure", procedure), slog.String("err", TruncateReason(err.Error())))
	b.log.LogAttrs(ctx, slog.LevelInfo, "produce refused", attrs...)
}
