package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/serde"
)

// Ack is where the broker stored a record.
type Ack struct {
	Partition int32
	Offset    int64
}

// Header is a record header. Keys may repeat.
type Header struct {
	Key   string
	Value []byte
}

// ProducerOption configures a Producer.
type ProducerOption func(*producerOptions)

type producerOptions struct {
	register      bool
	normalize     bool
	keyStrategy   serde.Strategy
	valueStrategy serde.Strategy
	linger        time.Duration
	maxBatchBytes int
	maxInFlight   int
	retries       int
	pipelined     bool // pipeline.go
}

// AutoRegister lets the producer register its schemas (and their references
// that carry their text) when the subject does not hold them yet, after the
// subject's compatibility check. Without it the schemas must already be
// registered, as `sluice apply` does.
func AutoRegister() ProducerOption { return func(o *producerOptions) { o.register = true } }

// Normalize asks the registry to normalise the schemas before lookup or
// registration.
func Normalize() ProducerOption { return func(o *producerOptions) { o.normalize = true } }

// KeyStrategy sets the key's subject-name strategy; it must match the
// topic's key.subject.name.strategy. The default is serde.TopicName.
func KeyStrategy(s serde.Strategy) ProducerOption {
	return func(o *producerOptions) { o.keyStrategy = s }
}

// ValueStrategy sets the value's subject-name strategy; it must match the
// topic's value.subject.name.strategy. The default is serde.TopicName.
func ValueStrategy(s serde.Strategy) ProducerOption {
	return func(o *producerOptions) { o.valueStrategy = s }
}

// Linger is how long ProduceAsync waits for more records before sending a
// batch that is not full; the default is 5ms. 0 sends at once.
func Linger(d time.Duration) ProducerOption { return func(o *producerOptions) { o.linger = d } }

// MaxBatchBytes sends an async batch as soon as its encoded records reach
// this size; the default is 1 MiB (the broker refuses requests over 16 MiB).
func MaxBatchBytes(n int) ProducerOption { return func(o *producerOptions) { o.maxBatchBytes = n } }

// MaxInFlight bounds the async batches sent and not yet answered; the
// default is 1, which keeps records in ProduceAsync call order. With more,
// batches may be appended in any order relative to each other (records
// within a batch keep theirs), unless they are Pipelined.
func MaxInFlight(n int) ProducerOption { return func(o *producerOptions) { o.maxInFlight = n } }

// Retries is how many times a request is retried when it certainly did not
// reach the broker (the connection could not be established); the default
// is 5. See Producer for why no other failure is retried.
func Retries(n int) ProducerOption { return func(o *producerOptions) { o.retries = n } }

// RecordOption sets per-record fields of a Produce.
type RecordOption struct {
	apply func(*brokerv1.ProduceRecord)
}

// ToPartition sends the record to partition p instead of the partitioner's
// choice.
func ToPartition(p int32) RecordOption {
	return RecordOption{func(r *brokerv1.ProduceRecord) { r.Partition = &p }}
}

// WithHeaders adds headers to the record.
func WithHeaders(hs ...Header) RecordOption {
	return RecordOption{func(r *brokerv1.ProduceRecord) {
		for _, h := range hs {
			r.Headers = append(r.Headers, &brokerv1.Header{Key: h.Key, Value: h.Value})
		}
	}}
}

// WithTimestamp sets the record's timestamp (the broker's clock otherwise).
func WithTimestamp(t time.Time) RecordOption {
	return RecordOption{func(r *brokerv1.ProduceRecord) { r.Timestamp = timestamppb.New(t) }}
}

// Producer appends typed records to one topic. Its schema ids were resolved
// when it was built; producing makes no registry call.
//
// Delivery guarantees. A Produce request is all or nothing on the broker. A
// request is retried only when it certainly did not reach the broker: the
// connection could not be established (dial errors). Any other failure (a
// timeout, a connection lost after sending) is returned as it is, because
// the request may have been applied and sending it again could duplicate
// its records. So a record is appended at most once by the producer, and
// is appended when Produce (or the async callback) reports success; after
// an error it may or may not have been appended. Order: Produce calls made
// one after another, and ProduceAsync calls with MaxInFlight 1 (the
// default), are appended in call order per partition; a retry never
// overtakes a later batch because with MaxInFlight 1 nothing later is sent
// before the retried batch is answered.
//
// A Producer is safe for concurrent use.
type Producer[K, V any] struct {
	conn  *Conn
	topic string
	key   sideEncoder[K]
	value sideEncoder[V]
	opts  producerOptions

	mu       sync.Mutex
	batch    []pendingRecord
	bytes    int
	timer    *time.Timer
	closed   bool
	inflight chan struct{}
	wg       sync.WaitGroup
	stream   *produceStream // Pipelined's (pipeline.go); nil until the first batch
}

// sideEncoder frames one side of a record: envelope plus datum.
type sideEncoder[T any] struct {
	codec    Codec[T]
	nullable NullableCodec[T]
	id       int32 // 0: schemaless, no envelope
	subject  string
	version  int32
}

func (e *sideEncoder[T]) append(dst []byte, v T) (out []byte, null bool, err error) {
	if e.nullable != nil && e.nullable.IsNull(v) {
		return dst, true, nil
	}
	if e.id != 0 {
		dst = serde.AppendPrefix(dst, e.id)
	}
	out, err = e.codec.AppendEncode(dst, v)
	return out, false, err
}

type pendingRecord struct {
	rec  *brokerv1.ProduceRecord
	done func(Ack, error)
}

// NewProducer builds a producer of topic with the key and value codecs. It
// resolves both schemas' ids under the subjects the strategies name: it
// looks them up, or registers them with AutoRegister. A schema the subject
// refuses fails here with an *IncompatibleError listing every violation the
// registry reported; an unregistered one with a *NotRegisteredError.
func NewProducer[K, V any](ctx context.Context, conn *Conn, topic string, key Codec[K], value Codec[V], opts ...ProducerOption) (*Producer[K, V], error) {
	o := producerOptions{
		keyStrategy: serde.TopicName, valueStrategy: serde.TopicName,
		linger: 5 * time.Millisecond, maxBatchBytes: 1 << 20, maxInFlight: 1, retries: 5,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.maxInFlight < 1 {
		o.maxInFlight = 1
	}
	if o.maxBatchBytes < 1 {
		o.maxBatchBytes = 1
	}
	p := &Producer[K, V]{conn: conn, topic: topic, opts: o, inflight: make(chan struct{}, o.maxInFlight)}
	var err error
	if p.key, err = newSideEncoder(ctx, conn, topic, serde.Key, o.keyStrategy, key, o); err != nil {
		return nil, err
	}
	if p.value, err = newSideEncoder(ctx, conn, topic, serde.Value, o.valueStrategy, value, o); err != nil {
		return nil, err
	}
	return p, nil
}

func newSideEncoder[T any](ctx context.Context, conn *Conn, topic string, side serde.Side, st serde.Strategy, c Codec[T], o producerOptions) (sideEncoder[T], error) {
	e := sideEncoder[T]{codec: c}
	if c == nil {
		return e, fmt.Errorf("producer %s: no %s codec", topic, side)
	}
	e.nullable, _ = c.(NullableCodec[T])
	s := c.Schema()
	if s == nil || s.Format == "" {
		return e, nil
	}
	subject, err := st.Subject(topic, side, s.RecordName)
	if err != nil {
		return e, fmt.Errorf("producer %s: %s subject: %w", topic, side, err)
	}
	res, err := conn.resolve(ctx, subject, s, o.register, o.normalize)
	if err != nil {
		return e, fmt.Errorf("producer %s: %s schema: %w", topic, side, err)
	}
	e.id, e.subject, e.version = res.id, res.subject, res.version
	return e, nil
}

// Topic is the topic the producer appends to.
func (p *Producer[K, V]) Topic() string { return p.topic }

// ValueSchemaID is the registry id of the value schema (0 when schemaless).
func (p *Producer[K, V]) ValueSchemaID() int32 { return p.value.id }

// ValueVersion is the value subject's version that holds the value schema.
func (p *Producer[K, V]) ValueVersion() int32 { return p.value.version }

// KeySchemaID is the registry id of the key schema (0 when schemaless).
func (p *Producer[K, V]) KeySchemaID() int32 { return p.key.id }

// encode builds the wire record of one key and value. Key and value share
// one allocation.
func (p *Producer[K, V]) encode(key K, value V, opts []RecordOption) (*brokerv1.ProduceRecord, int, error) {
	rec := &brokerv1.ProduceRecord{}
	n, err := p.encodeInto(rec, make([]byte, 0, 128), key, value, opts)
	if err != nil {
		return nil, 0, err
	}
	return rec, n, nil
}

// encodeInto fills rec with key and value, encoded into buf (grown if
// needed), and returns the bytes used.
func (p *Producer[K, V]) encodeInto(rec *brokerv1.ProduceRecord, buf []byte, key K, value V, opts []RecordOption) (int, error) {
	buf, knull, err := p.key.append(buf, key)
	if err != nil {
		return 0, fmt.Errorf("produce %s: encode key: %w", p.topic, err)
	}
	kend := len(buf)
	buf, vnull, err := p.value.append(buf, value)
	if err != nil {
		return 0, fmt.Errorf("produce %s: encode value: %w", p.topic, err)
	}
	if !knull {
		rec.Key = buf[:kend:kend]
	}
	if !vnull {
		rec.Value = buf[kend:]
	}
	for _, opt := range opts {
		if opt.apply != nil {
			opt.apply(rec)
		}
	}
	return len(buf), nil
}

// oneRecord is what a synchronous Produce sends, in one allocation: the
// request, its record, the records slice's array and room for the
// encoded key and value (a longer pair grows past it).
type oneRecord struct {
	req  brokerv1.ProduceRequest
	rec  brokerv1.ProduceRecord
	recs [1]*brokerv1.ProduceRecord
	buf  [192]byte
}

// Produce appends one record and returns where it was stored, once the
// broker has made it durable under its fsync policy.
func (p *Producer[K, V]) Produce(ctx context.Context, key K, value V, opts ...RecordOption) (Ack, error) {
	one := &oneRecord{}
	if _, err := p.encodeInto(&one.rec, one.buf[:0], key, value, opts); err != nil {
		return Ack{}, err
	}
	one.recs[0] = &one.rec
	one.req.Topic, one.req.Records = p.topic, one.recs[:]
	res, err := p.sendRequest(ctx, &one.req)
	if err != nil {
		return Ack{}, err
	}
	r := res[0]
	return Ack{Partition: r.GetPartition(), Offset: r.GetOffset()}, nil
}

// ProduceAsync queues one record and returns at once; done (which may be
// nil) is called with its outcome from another goroutine, in queue order
// within a batch. ctx only gates queueing: once queued, the record is sent
// on its batch's own context, so that a batch is never half cancelled. Records are sent in batches of up to MaxBatchBytes after
// at most Linger. When MaxInFlight batches are already being sent,
// ProduceAsync blocks until one is answered (backpressure). An encoding
// error is reported to done before ProduceAsync returns.
func (p *Producer[K, V]) ProduceAsync(ctx context.Context, key K, value V, done func(Ack, error), opts ...RecordOption) {
	if done == nil {
		done = func(Ack, error) {}
	}
	if err := ctx.Err(); err != nil {
		done(Ack{}, fmt.Errorf("produce %s: %w", p.topic, err))
		return
	}
	rec, n, err := p.encode(key, value, opts)
	if err != nil {
		done(Ack{}, err)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		done(Ack{}, fmt.Errorf("produce %s: producer is closed", p.topic))
		return
	}
	p.batch = append(p.batch, pendingRecord{rec: rec, done: done})
	p.bytes += n
	switch {
	case p.bytes >= p.opts.maxBatchBytes || p.opts.linger <= 0:
		p.flushLocked()
	case p.timer == nil:
		p.timer = time.AfterFunc(p.opts.linger, func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.flushLocked()
		})
	}
}

// flushLocked sends the current batch, waiting for an in-flight slot
// first. p.mu is held, so batches are sent in the order they were cut.
func (p *Producer[K, V]) flushLocked() {
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	if len(p.batch) == 0 {
		return
	}
	batch := p.batch
	p.batch, p.bytes = nil, 0
	p.inflight <- struct{}{}
	p.wg.Add(1)
	if p.opts.pipelined {
		p.sendPipelinedLocked(batch)
		return
	}
	go func() {
		defer p.wg.Done()
		recs := make([]*brokerv1.ProduceRecord, len(batch))
		for i, b := range batch {
			recs[i] = b.rec
		}
		// The batch is sent on its own context: the callers' contexts may
		// be long gone by now.
		acks, err := p.send(context.Background(), recs)
		// The slot is free before the callbacks run, so that a callback may
		// call ProduceAsync without waiting for itself.
		<-p.inflight
		for i, b := range batch {
			if err != nil {
				b.done(Ack{}, err)
			} else {
				b.done(acks[i], nil)
			}
		}
	}()
}

// Flush sends what ProduceAsync has queued and waits until every batch has
// been answered and its callbacks have returned, or ctx is done.
func (p *Producer[K, V]) Flush(ctx context.Context) error {
	p.mu.Lock()
	p.flushLocked()
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close flushes and stops accepting records. Later ProduceAsync calls fail
// through their callback; Produce still works.
func (p *Producer[K, V]) Close(ctx context.Context) error {
	err := p.Flush(ctx)
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.closeStream() // pipeline.go
	return err
}

// send sends recs in one Produce request and returns their acks.
func (p *Producer[K, V]) send(ctx context.Context, recs []*brokerv1.ProduceRecord) ([]Ack, error) {
	out, err := p.sendRequest(ctx, &brokerv1.ProduceRequest{Topic: p.topic, Records: recs})
	if err != nil {
		return nil, err
	}
	acks := make([]Ack, len(out))
	for i, r := range out {
		acks[i] = Ack{Partition: r.GetPartition(), Offset: r.GetOffset()}
	}
	return acks, nil
}

// sendRequest sends req, retrying only while it certainly did not reach
// the broker, and returns one result per record.
func (p *Producer[K, V]) sendRequest(ctx context.Context, req *brokerv1.ProduceRequest) ([]*brokerv1.ProduceResult, error) {
	backoff := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		res, err := p.conn.broker.Produce(ctx, connect.NewRequest(req))
		if err == nil {
			out := res.Msg.GetResults()
			if len(out) != len(req.Records) {
				return nil, fmt.Errorf("produce %s: broker answered %d results for %d records", p.topic, len(out), len(req.Records))
			}
			return out, nil
		}
		if attempt >= p.opts.retries || !notSent(err) {
			return nil, produceError(p.topic, err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, produceError(p.topic, err)
		}
		backoff = min(2*backoff, time.Second)
	}
}

// notSent reports whether err proves the request never reached the
// broker: only a failure to establish the connection does.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// ProduceError is a Produce the broker refused, with every refused record
// when the broker listed them.
type ProduceError struct {
	Topic   string
	Records []RecordRejection
	Err     error
}

// RecordRejection is one record the broker refused.
type RecordRejection struct {
	// Index is the record's position in the request.
	Index    int32
	Side     string
	Subject  string
	SchemaID int32
	Reason   string
	Path     string
}

// Error names the topic and the broker's reason.
func (e *ProduceError) Error() string { return fmt.Sprintf("produce %s: %v", e.Topic, e.Err) }

// Unwrap returns the transport error (a *connect.Error).
func (e *ProduceError) Unwrap() error { return e.Err }

func produceError(topic string, err error) error {
	pe := &ProduceError{Topic: topic, Err: err}
	var ce *connect.Error
	if errors.As(err, &ce) {
		for _, d := range ce.Details() {
			v, derr := d.Value()
			if derr != nil {
				continue
			}
			if rej, ok := v.(*brokerv1.ProduceRejection); ok {
				for _, r := range rej.GetRecords() {
					side := "value"
					if r.GetSide() == brokerv1.RecordSide_RECORD_SIDE_KEY {
						side = "key"
					}
					pe.Records = append(pe.Records, RecordRejection{Index: r.GetIndex(), Side: side, Subject: r.GetSubject(), SchemaID: r.GetSchemaId(), Reason: r.GetReason(), Path: r.GetPath()})
				}
			}
		}
	}
	return withRuleError(pe) // rule_error.go
}
