package broker

// Produce appends records to a topic.
//
// Supported: records with null or non-null keys and values, headers,
// timestamps (absent means the broker's clock at append), explicit
// partitions. Without an explicit partition a keyed record goes to Kafka's
// murmur2 partition of its key. A request's keyless records go together to
// one partition, in their order, and the next request's to the next one
// (round-robin per request, as Kafka's sticky partitioner moves on per
// batch): each request then costs one partition's batch, not one per
// partition.
//
// Refused, with nothing appended (InvalidArgument, every bad record named as
// "record N:"): a partition the topic does not have, a record larger than the
// topic's max.message.bytes, a request whose records exceed
// Config.MaxRequestBytes (counting each record's worst-case encoding
// overhead), and whatever Config.Validator refuses. An unknown
// topic is NotFound.
//
// Each partition's records are appended as one batch; partitions are
// appended concurrently. A request is atomic against refusal, not against a
// disk failure in the middle: then some partitions may hold their records
// and the request fails with Internal, as with Kafka.

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sluicehq/sluice/broker/internal/log"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/registry"
)

// Header is a record header; keys may repeat.
type Header = log.Header

// Record is a stored record as read back: Offset and Timestamp (Unix ms) are
// set; a nil Key or Value is null.
type Record = log.Record

// ProduceRecord is one record of a Produce request.
type ProduceRecord struct {
	// Key and Value: nil is null, distinct from empty.
	Key, Value []byte
	Headers    []Header
	// Timestamp is Unix milliseconds; 0 means the broker's clock at append.
	Timestamp int64
	// Partition, when non-nil, overrides the partitioner.
	Partition *int32
}

// size is what max.message.bytes and the request limit count: key, value
// and header bytes.
func (r *ProduceRecord) size() int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// encodedSize bounds the record's size in a stored batch: its bytes plus
// the worst case of the varints around them. The request limit counts this,
// so that one partition's batch always fits the log's batch limit.
func (r *ProduceRecord) encodedSize() int {
	return r.size() + recordOverhead + headerOverhead*len(r.Headers)
}

// Worst-case encoding overheads of Kafka's record v2 format: length,
// attributes, timestamp delta, offset delta, key and value lengths, header
// count; and per header the key and value lengths.
const (
	recordOverhead = 5 + 1 + 10 + 5 + 5 + 5 + 5
	headerOverhead = 5 + 5
)

// ProduceResult is where one record was written.
type ProduceResult struct {
	Partition int32
	Offset    int64
}

// RecordValidator checks a Produce request before anything is appended.
// Schema enforcement implements it. ValidateProduce returns nil to accept,
// or an error that refuses the whole request: a *ProduceError listing every
// bad record maps to InvalidArgument; other errors map as connectError says
// (so a registry outage can answer Unavailable). It must not retain recs.
type RecordValidator interface {
	ValidateProduce(ctx context.Context, topic string, cfg *TopicConfig, recs []ProduceRecord) error
}

// PartitionKeyer is an optional interface of a RecordValidator. When the
// validator implements it, the partitioner hashes PartitionKey's answer
// instead of the raw key: schema enforcement returns the key's payload
// without its schema envelope, so that evolving the key schema (a new schema
// id) keeps every key on its partition (DESIGN.md §3.5). It is called only
// for records that passed ValidateProduce and must not retain key.
type PartitionKeyer interface {
	PartitionKey(topic string, cfg *TopicConfig, key []byte) []byte
}

// Produce validates recs as a whole, then appends them and returns each
// record's partition and offset in request order, once durable under the
// fsync policy. ctx cancels waiting for the ack, not the write itself.
func (b *Broker) Produce(ctx context.Context, topicName string, recs []ProduceRecord) ([]ProduceResult, error) {
	return b.queueProduce(ctx, topicName, recs).wait(ctx)
}

// queuedProduce is a produce request queued on its partitions' writers
// (or already answered: an error, or a request that had to finish before
// returning, such as one diverting records to a DLQ).
type queuedProduce struct {
	topicName string
	t         *topic
	slab      []log.Record
	starts    []int
	results   []ProduceResult
	pending   []appendWait // per partition; nil where the request has none
	err       error        // the answer when pending is nil
}

// answered is a queuedProduce that already has its answer.
func answered(results []ProduceResult, err error) *queuedProduce {
	return &queuedProduce{results: results, err: err}
}

// queueProduce is Produce up to the queueing: the records are checked,
// partitioned and handed to the partition writers in the order of the
// calls, so the calls of one goroutine keep their order on each partition
// (ProduceStream pipelines on this); wait gives the answer.
func (b *Broker) queueProduce(ctx context.Context, topicName string, recs []ProduceRecord) *queuedProduce {
	t, err := b.lookup(topicName)
	if err != nil {
		return answered(nil, fmt.Errorf("produce: %w", err))
	}
	cfg := t.cfg.Load()
	nparts := len(t.parts)

	// Check every record before touching the log; report all bad ones.
	var bad []*RecordError
	total := 0
	for i := range recs {
		r := &recs[i]
		if r.Partition != nil && (*r.Partition < 0 || int(*r.Partition) >= nparts) {
			bad = append(bad, &RecordError{Index: i, Err: invalidf("partition %d does not exist (the topic has partitions 0..%d)", *r.Partition, nparts-1)})
			continue
		}
		n := r.size()
		total += r.encodedSize()
		if n > cfg.MaxMessageBytes {
			bad = append(bad, &RecordError{Index: i, Err: invalidf("%d bytes exceeds max.message.bytes %d", n, cfg.MaxMessageBytes)})
		}
	}
	if len(bad) > 0 {
		return answered(nil, &ProduceError{Topic: topicName, Records: bad})
	}
	if total > b.cfg.MaxRequestBytes {
		return answered(nil, invalidf("produce %s: the %d records take %d bytes encoded; the limit per request is %d", topicName, len(recs), total, b.cfg.MaxRequestBytes))
	}
	if len(recs) == 0 {
		return answered(nil, nil)
	}
	if b.cfg.Validator != nil {
		if err := b.cfg.Validator.ValidateProduce(ctx, topicName, cfg, recs); err != nil {
			// Records a data-contract rule diverts to a DLQ are written
			// there and the rest here (enforce_rules.go); else refused.
			return answered(b.produceDiverting(ctx, topicName, recs, err))
		}
	}

	// Partition: explicit wins, then the key's murmur2, then the request's
	// keyless partition, which the round-robin cursor gives per request.
	results := make([]ProduceResult, len(recs))
	keyless := -1
	for i := range recs {
		if recs[i].Partition == nil && recs[i].Key == nil {
			keyless = int((t.rr.Add(1) - 1) % uint32(nparts))
			break
		}
	}
	keyer, _ := b.cfg.Validator.(PartitionKeyer)
	// starts[p] is where partition p's records begin in one slab ordered
	// by partition (request order within each): one allocation for the
	// whole request rather than one slice per partition.
	starts := make([]int, nparts+1)
	for i := range recs {
		r := &recs[i]
		var p int32
		switch {
		case r.Partition != nil:
			p = *r.Partition
		case r.Key != nil && keyer != nil:
			p = keyPartition(keyer.PartitionKey(topicName, cfg, r.Key), nparts)
		case r.Key != nil:
			p = keyPartition(r.Key, nparts)
		default:
			p = int32(keyless)
		}
		results[i].Partition = p
		starts[p+1]++
	}
	for p := range nparts {
		starts[p+1] += starts[p]
	}
	// message.timestamp.type=LogAppendTime: every record takes the broker's
	// clock, whatever the producer sent.
	var appendTime int64
	if cfg.LogAppendTime {
		appendTime = b.cfg.Now().UnixMilli()
	}
	slab := make([]log.Record, len(recs))
	fill := append([]int(nil), starts[:nparts]...)
	for i := range recs {
		r := &recs[i]
		p := results[i].Partition
		ts := r.Timestamp
		if cfg.LogAppendTime {
			ts = appendTime
		}
		slab[fill[p]] = log.Record{Timestamp: ts, Key: r.Key, Value: r.Value, Headers: r.Headers}
		fill[p]++
	}

	// Queue every partition's batch, then wait for them all: the writers
	// work on them concurrently, with no goroutine per partition here.
	if err := ctx.Err(); err != nil {
		return answered(nil, fmt.Errorf("produce %s: %w", topicName, err)) // nothing queued
	}
	q := &queuedProduce{topicName: topicName, t: t, slab: slab, starts: starts, results: results, pending: make([]appendWait, nparts)}
	for p := range nparts {
		if starts[p] == starts[p+1] {
			continue
		}
		a, err := t.parts[p].Enqueue(slab[starts[p]:starts[p+1]])
		if err != nil {
			q.err = fmt.Errorf("produce %s/%d: %w", topicName, p, err)
			break
		}
		q.pending[p] = a
	}
	return q
}

// wait waits for every partition's batch of q to be durable (or failed)
// and gives each record's partition and offset in request order. A
// partition that failed to queue still waits for the others, whose
// batches may be written: the answer is the error either way.
func (q *queuedProduce) wait(ctx context.Context) ([]ProduceResult, error) {
	if q.pending == nil {
		return q.results, q.err
	}
	firstErr := q.err
	// bases[p] is partition p's next offset to hand out.
	bases := make([]int64, len(q.pending))
	for p, a := range q.pending {
		if a == nil {
			continue
		}
		base, err := a.Wait(ctx)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("produce %s/%d: %w", q.topicName, p, err)
		}
		bases[p] = base
	}
	if firstErr != nil {
		return nil, firstErr
	}
	q.t.noteAppended(q.slab, q.starts) // stats.go
	// Offsets are dense within a batch and batches keep request order.
	results := q.results
	for i := range results {
		p := results[i].Partition
		results[i].Offset = bases[p]
		bases[p]++
	}
	return results, nil
}

// Produce is the Connect handler.
func (s brokerService) Produce(ctx context.Context, req *connect.Request[brokerv1.ProduceRequest]) (*connect.Response[brokerv1.ProduceResponse], error) {
	q := s.b.queueProduceProto(ctx, req.Msg)
	if q.err == nil {
		// Queued (the logs copied the records) or answered without an
		// error that could point into the request's bytes. wait reads
		// only the records' lengths from here on (noteAppended).
		releaseProduceRequest(req.Msg)
	}
	results, err := q.wait(ctx)
	if err != nil {
		return nil, s.b.produceRPCErrorFor(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(produceResponse(results)), nil
}

// queueProduceProto converts a Produce request and queues it
// (queueProduceWithSchemas).
func (b *Broker) queueProduceProto(ctx context.Context, msg *brokerv1.ProduceRequest) *queuedProduce {
	in := msg.GetRecords()
	recs := make([]ProduceRecord, len(in))
	for i, r := range in {
		var hs []Header
		if len(r.GetHeaders()) > 0 {
			hs = make([]Header, len(r.GetHeaders()))
			for j, h := range r.GetHeaders() {
				hs[j] = Header{Key: h.GetKey(), Value: h.GetValue()}
			}
		}
		// protobuf-go decodes a present empty optional bytes field as a
		// non-nil empty slice, so null and empty keys stay distinct.
		recs[i] = ProduceRecord{Key: r.Key, Value: r.Value, Headers: hs, Partition: r.Partition}
		if ts := r.GetTimestamp(); ts != nil {
			// protobuf's own error text varies on purpose; say it plainly.
			if ts.CheckValid() != nil {
				return answered(nil, invalidf("produce %s: record %d: timestamp (seconds %d, nanos %d) is not a valid time between years 1 and 9999", msg.GetTopic(), i, ts.GetSeconds(), ts.GetNanos()))
			}
			recs[i].Timestamp = ts.AsTime().UnixMilli()
		}
	}
	var keySchema, valueSchema *registry.Schema
	if ks := msg.GetKeySchema(); ks != nil {
		s := schemaFromProto(ks)
		keySchema = &s
	}
	if vs := msg.GetValueSchema(); vs != nil {
		s := schemaFromProto(vs)
		valueSchema = &s
	}
	return b.queueProduceWithSchemas(ctx, msg.GetTopic(), keySchema, valueSchema, recs)
}

// produceResponse is the Connect answer of results.
func produceResponse(results []ProduceResult) *brokerv1.ProduceResponse {
	out := make([]*brokerv1.ProduceResult, len(results))
	slab := make([]brokerv1.ProduceResult, len(results))
	for i, r := range results {
		slab[i].Partition = r.Partition
		slab[i].Offset = r.Offset
		out[i] = &slab[i]
	}
	return &brokerv1.ProduceResponse{Results: out}
}

// recordsToProto converts records of partition p, allocating the messages
// and their timestamps in two slabs instead of two objects per record.
func recordsToProto(p int32, recs []Record) []*brokerv1.Record {
	slab := make([]brokerv1.Record, len(recs))
	stamps := make([]timestamppb.Timestamp, len(recs))
	out := make([]*brokerv1.Record, len(recs))
	for i := range recs {
		r, dst := &recs[i], &slab[i]
		dst.Partition = p
		dst.Offset = r.Offset
		stamps[i].Seconds = r.Timestamp / 1000
		stamps[i].Nanos = int32(r.Timestamp%1000) * 1e6
		if stamps[i].Nanos < 0 {
			// Before 1970: nanos must be non-negative.
			stamps[i].Seconds--
			stamps[i].Nanos += 1e9
		}
		dst.Timestamp = &stamps[i]
		dst.Key = r.Key
		dst.Value = r.Value
		if len(r.Headers) > 0 {
			dst.Headers = make([]*brokerv1.Header, len(r.Headers))
			for j, h := range r.Headers {
				dst.Headers[j] = &brokerv1.Header{Key: h.Key, Value: h.Value}
			}
		}
		out[i] = dst
	}
	return out
}
