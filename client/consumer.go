package client

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
	"github.com/sluicehq/sluice/serde"
)

// Message is one record read by a Consumer, decoded.
type Message[K, V any] struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp time.Time
	Key       K
	Value     V
	Headers   []Header
	// SchemaID is the id of the schema the value was written with, 0 for a
	// null value or a schemaless codec. A header-mode record that names its
	// schema by GUID reports the id the GUID resolved to.
	SchemaID int32
	// Version is the version of the value subject that holds SchemaID, 0
	// when the subject does not hold it (or SchemaID is 0).
	Version int32
	// KeySchemaID is the id of the schema the key was written with.
	KeySchemaID int32
	// RawKey and RawValue are the record's bytes as stored (envelope
	// included); nil for a null key or value. For a consumer outside a
	// group, the bytes of the records of one broker response (up to
	// MaxBytes), header values included, share one allocation: keeping a
	// record's bytes keeps that response's. Copy them to keep a few.
	RawKey, RawValue []byte
	// Err is the decoding error of a record handed over raw (DecodeRaw);
	// Key and Value are then zero or partly decoded.
	Err error
}

// DecodePolicy says what a Consumer does with a record it cannot decode.
type DecodePolicy int

// The decode policies.
const (
	// DecodeFail stops the consumer with a *DecodeError (the default).
	DecodeFail DecodePolicy = iota
	// DecodeSkip drops the record and goes on; a group member commits past it.
	DecodeSkip
	// DecodeRaw hands the record over with Message.Err set and the raw bytes.
	DecodeRaw
	// DecodeDeadLetter appends the record's raw bytes to the dead-letter topic
	// (see DeadLetterTopic), with headers saying where it came from and why,
	// and goes on.
	DecodeDeadLetter
)

// Header keys of a record sent to a dead-letter topic.
const (
	DeadLetterErrorHeader     = "sluice.dlq.error"
	DeadLetterTopicHeader     = "sluice.dlq.topic"
	DeadLetterPartitionHeader = "sluice.dlq.partition"
	DeadLetterOffsetHeader    = "sluice.dlq.offset"
)

// DecodeError is a record that could not be decoded.
type DecodeError struct {
	Topic     string
	Partition int32
	Offset    int64
	// Side is "key" or "value".
	Side     string
	SchemaID int32
	Err      error
}

// Error names the record, the side and the schema id.
func (e *DecodeError) Error() string {
	id := ""
	if e.SchemaID != 0 {
		id = fmt.Sprintf(" (schema id %d)", e.SchemaID)
	}
	return fmt.Sprintf("decode %s partition %d offset %d: %s%s: %v", e.Topic, e.Partition, e.Offset, e.Side, id, e.Err)
}

// Unwrap returns the codec's or the envelope's error.
func (e *DecodeError) Unwrap() error { return e.Err }

// ConsumerOption configures a Consumer.
type ConsumerOption func(*consumerOptions)

type start int

const (
	startDefault start = iota
	startEarliest
	startLatest
	startOffset
)

type consumerOptions struct {
	group          string
	keyStrategy    serde.Strategy
	valueStrategy  serde.Strategy
	partitions     []int32
	start          start
	offset         int64
	manual         bool
	policy         DecodePolicy
	deadLetter     string
	maxBytes       int32
	instanceID     string
	sessionTimeout time.Duration
	lookupLimit    time.Duration // LookupRetry
}

// Group makes the consumer a member of a consumer group: the broker assigns
// it partitions and it commits offsets. "" keeps it standalone.
func Group(name string) ConsumerOption { return func(o *consumerOptions) { o.group = name } }

// InstanceID makes a group member static: restarted with the same id, it
// takes its partitions back without a rebalance.
func InstanceID(id string) ConsumerOption { return func(o *consumerOptions) { o.instanceID = id } }

// SessionTimeout is how long the group keeps a silent member (broker
// default 45s).
func SessionTimeout(d time.Duration) ConsumerOption {
	return func(o *consumerOptions) { o.sessionTimeout = d }
}

// Partitions restricts a standalone consumer to these partitions (all by
// default). Group members get theirs from the group.
func Partitions(ps ...int32) ConsumerOption {
	return func(o *consumerOptions) { o.partitions = append([]int32(nil), ps...) }
}

// FromEarliest starts at the log start offset: of every partition for a
// standalone consumer, of partitions without a committed offset for a group.
func FromEarliest() ConsumerOption { return func(o *consumerOptions) { o.start = startEarliest } }

// FromLatest starts at the high watermark, reading only new records (the
// default).
func FromLatest() ConsumerOption { return func(o *consumerOptions) { o.start = startLatest } }

// FromOffset starts a standalone consumer at offset in every partition it
// reads.
func FromOffset(offset int64) ConsumerOption {
	return func(o *consumerOptions) { o.start, o.offset = startOffset, offset }
}

// ManualCommit turns off committing after each record is handled; call
// Consumer.Commit instead.
func ManualCommit() ConsumerOption { return func(o *consumerOptions) { o.manual = true } }

// OnDecodeError sets the decode policy.
func OnDecodeError(p DecodePolicy) ConsumerOption { return func(o *consumerOptions) { o.policy = p } }

// DeadLetterTopic sends records that cannot be decoded to topic (which must
// accept them: a topic without schema validation) and goes on.
func DeadLetterTopic(topic string) ConsumerOption {
	return func(o *consumerOptions) { o.policy, o.deadLetter = DecodeDeadLetter, topic }
}

// ConsumerKeyStrategy sets the key subject-name strategy, used to tell the
// version a record's key was written with. The default is serde.TopicName.
func ConsumerKeyStrategy(s serde.Strategy) ConsumerOption {
	return func(o *consumerOptions) { o.keyStrategy = s }
}

// ConsumerValueStrategy sets the value subject-name strategy, used to tell
// the version a record was written with. The default is serde.TopicName.
func ConsumerValueStrategy(s serde.Strategy) ConsumerOption {
	return func(o *consumerOptions) { o.valueStrategy = s }
}

// MaxBytes caps one streamed message from the broker (default 1 MiB).
func MaxBytes(n int32) ConsumerOption { return func(o *consumerOptions) { o.maxBytes = n } }

// Consumer reads typed records of one topic: standalone (partitions and a
// start position, no commits) or as a group member (Group option). Records
// written with any registered version of the subject are read: each writer
// schema is fetched by id once and the codec resolves it to the local type
// (Avro schema resolution; Protobuf keeps unknown fields; JSON ignores
// them).
//
// Consume with All, Run or RunBatches, one at a time. Commit is safe to
// call from any goroutine.
type Consumer[K, V any] struct {
	conn  *Conn
	topic string
	opts  consumerOptions
	key   *sideDecoder[K]
	value *sideDecoder[V]
	// subscriber makes the Subscribe calls: through wireCodec, whose
	// responses the consumer decodes itself (subscribe_decode.go).
	subscriber brokerv1connect.BrokerServiceClient

	mu       sync.Mutex
	memberID string
	epoch    int32
	marked   map[int32]int64 // partition -> next offset to commit
}

// NewConsumer returns a consumer of topic with the key and value codecs.
// Nothing is sent until All, Run or RunBatches.
func NewConsumer[K, V any](conn *Conn, topic string, key Codec[K], value Codec[V], opts ...ConsumerOption) (*Consumer[K, V], error) {
	o := consumerOptions{keyStrategy: serde.TopicName, valueStrategy: serde.TopicName, lookupLimit: DefaultLookupRetry}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case topic == "":
		return nil, errors.New("consumer: no topic")
	case key == nil || value == nil:
		return nil, fmt.Errorf("consumer %s: key and value codecs are required", topic)
	case o.policy == DecodeDeadLetter && o.deadLetter == "":
		return nil, fmt.Errorf("consumer %s: DecodeDeadLetter needs DeadLetterTopic", topic)
	case o.group != "" && len(o.partitions) > 0:
		return nil, fmt.Errorf("consumer %s: group %s: a group member gets its partitions from the group; drop Partitions", topic, o.group)
	case o.group != "" && o.start == startOffset:
		return nil, fmt.Errorf("consumer %s: group %s: FromOffset is for standalone consumers; reset the group's offsets instead", topic, o.group)
	case o.lookupLimit < 0:
		return nil, fmt.Errorf("consumer %s: LookupRetry %v: want 0 (no retry) or a positive duration", topic, o.lookupLimit)
	}
	c := &Consumer[K, V]{conn: conn, topic: topic, opts: o, marked: map[int32]int64{}}
	c.key = newSideDecoder(conn, topic, serde.Key, o.keyStrategy, key)
	c.value = newSideDecoder(conn, topic, serde.Value, o.valueStrategy, value)
	if conn != nil {
		c.subscriber = brokerv1connect.NewBrokerServiceClient(conn.hc, conn.baseURL,
			slices.Concat(conn.brokerOpts, []connect.ClientOption{connect.WithCodec(wireCodec{})})...)
	}
	return c, nil
}

// sideDecoder decodes one side of records, with one decoder per writer
// schema id.
type sideDecoder[T any] struct {
	conn     *Conn
	topic    string
	side     serde.Side
	strategy serde.Strategy
	codec    Codec[T]
	raw      Decoder[T] // the decoder of a schemaless codec (no envelope)
	rawErr   error

	mu  sync.Mutex
	ids map[int32]*decoderEntry[T]
	// last is the entry entry returned last: the records of a topic
	// mostly share one writer schema, found then without the lock.
	last atomic.Pointer[decoderEntry[T]]
}

type decoderEntry[T any] struct {
	id      int32
	dec     Decoder[T]
	format  serde.Format
	version int32
	// With a record strategy and a writer schema that holds several
	// records (Protobuf: the message-index path picks one per datum),
	// names names each datum's record and versions caches the version of
	// each record's subject (guarded by the sideDecoder's mu).
	ws       *WriterSchema
	names    func([]byte) (string, error)
	versions map[string]int32
}

func newSideDecoder[T any](conn *Conn, topic string, side serde.Side, st serde.Strategy, c Codec[T]) *sideDecoder[T] {
	d := &sideDecoder[T]{conn: conn, topic: topic, side: side, strategy: st, codec: c, ids: map[int32]*decoderEntry[T]{}}
	if s := c.Schema(); s == nil || s.Format == "" {
		d.raw, d.rawErr = c.Decoder(nil)
		if d.raw == nil && d.rawErr == nil {
			d.rawErr = fmt.Errorf("schemaless %s codec has no decoder", side)
		}
	}
	return d
}

// decode decodes b, with the record's headers, into *v and returns the
// writer schema id and version. The identity is read as wire-format.md §6
// says: from the side's header (__key_schema_id / __value_schema_id, the
// last one) when it is present and not empty, and then the whole payload is
// the datum; from the payload prefix otherwise. Either place may hold an
// integer id (magic 0) or a GUID (magic 1).
func (d *sideDecoder[T]) decode(ctx context.Context, b []byte, headers []Header, v *T) (id, version int32, err error) {
	schemaless := d.raw != nil || d.rawErr != nil
	if b == nil || len(b) == 0 && !schemaless {
		return 0, 0, nil // null (§5: an empty enveloped payload too): the zero T
	}
	if schemaless {
		if d.rawErr != nil {
			return 0, 0, d.rawErr
		}
		return 0, 0, d.raw(b, v)
	}
	var (
		ident  serde.Identity
		datum  []byte
		path   []byte // header mode: the Protobuf message-index path after the identity
		header = d.side.SchemaIDHeader()
	)
	if hv := lastHeader(headers, header); len(hv) > 0 {
		if ident, path, err = serde.ParseIdentity(hv); err != nil {
			return 0, 0, fmt.Errorf("schema id header %s: %w", header, err)
		}
		datum = b
	} else if ident, datum, err = serde.ParseIdentity(b); err != nil {
		return 0, 0, err
	}
	id = ident.ID
	if ident.Magic == serde.MagicGUID {
		if id, err = d.conn.schemaIDByGUID(ctx, ident.GUID, d.subjects()); err != nil {
			return 0, 0, err
		}
	}
	e, err := d.entry(ctx, id)
	if err != nil {
		return id, 0, err
	}
	if len(path) > 0 {
		// The decoders take the Protobuf path in front of the message.
		if e.format != serde.Protobuf {
			return id, 0, fmt.Errorf("schema id header %s: %d bytes after the schema identity, but schema %d is %s, not Protobuf (only a Protobuf message-index path may follow)", header, len(path), id, e.format)
		}
		datum = append(path[:len(path):len(path)], datum...)
	}
	version = e.version
	if e.names != nil {
		if version, err = d.recordVersion(ctx, e, datum); err != nil {
			return id, 0, err
		}
	}
	return id, version, e.dec(datum, v)
}

// lastHeader returns the value of the last header with key, nil if none.
func lastHeader(hs []Header, key string) []byte {
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i].Key == key {
			return hs[i].Value
		}
	}
	return nil
}

// subjects are the subjects a GUID is looked for in: the strategy's
// subject of each record name the codec reads (a Union's event types).
func (d *sideDecoder[T]) subjects() []string {
	names := []string{""}
	if u, ok := any(d.codec).(*Union); ok {
		names = u.recordNames()
	} else if s := d.codec.Schema(); s != nil {
		names = []string{s.RecordName}
	}
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		s, err := d.strategy.Subject(d.topic, d.side, n)
		if err == nil && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// recordVersion is the version of the subject of the record datum holds,
// for writer schemas whose record depends on the datum; 0 when the datum
// names no record or the subject does not hold the schema. A failed
// registry lookup is an error, and nothing is cached.
func (d *sideDecoder[T]) recordVersion(ctx context.Context, e *decoderEntry[T], datum []byte) (int32, error) {
	name, err := e.names(datum)
	if err != nil {
		return 0, nil
	}
	d.mu.Lock()
	v, ok := e.versions[name]
	d.mu.Unlock()
	if ok {
		return v, nil
	}
	if subject, err := d.strategy.Subject(d.topic, d.side, name); err == nil {
		if v, err = d.conn.versionOf(ctx, subject, e.ws); err != nil {
			return 0, err
		}
	}
	d.mu.Lock()
	e.versions[name] = v
	d.mu.Unlock()
	return v, nil
}

func (d *sideDecoder[T]) entry(ctx context.Context, id int32) (*decoderEntry[T], error) {
	if e := d.last.Load(); e != nil && e.id == id {
		return e, nil
	}
	d.mu.Lock()
	e, ok := d.ids[id]
	d.mu.Unlock()
	if ok {
		d.last.Store(e)
		return e, nil
	}
	ws, err := d.conn.writerSchema(ctx, id)
	if err != nil {
		return nil, err
	}
	dec, err := d.codec.Decoder(ws)
	if err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	e = &decoderEntry[T]{id: id, dec: dec, format: ws.Format}
	recordName := d.codec.Schema().RecordName
	if namer, ok := d.codec.(RecordNamer); ok && d.strategy.NeedsRecordName() {
		// The writer's record (a union reads several); Avro and JSON Schema
		// name it without a datum, Protobuf only from each datum's
		// message-index path, so the version is then found per record.
		if names, err := namer.RecordNames(ws); err == nil {
			if n, err := names(nil); err == nil {
				recordName = n
			} else {
				e.ws, e.names, e.versions = ws, names, map[string]int32{}
			}
		}
	}
	if e.names == nil {
		if subject, err := d.strategy.Subject(d.topic, d.side, recordName); err == nil {
			if e.version, err = d.conn.versionOf(ctx, subject, ws); err != nil {
				return nil, err
			}
		}
	}
	d.mu.Lock()
	d.ids[id] = e
	d.mu.Unlock()
	d.last.Store(e)
	return e, nil
}

// Topic is the topic the consumer reads.
func (c *Consumer[K, V]) Topic() string { return c.topic }

// batch is records of one partition, or the end of a stream.
type batch struct {
	partition  int32
	records    []wireRecord
	assignment *brokerv1.ConsumeAssignment
	err        error
}

// All returns an iterator over the records, decoded. It ends when ctx is
// done (without an error) or the stream fails (a last pair with the error).
// A record that cannot be decoded is yielded with a *DecodeError: under
// DecodeFail the iteration ends after it, under DecodeRaw it goes on (the
// message carries the raw bytes); DecodeSkip and DecodeDeadLetter never
// yield it. A registry that keeps failing to give a record's schema ends
// the iteration with a *LookupError, as Run does.
//
// A group member without ManualCommit commits each record once the loop
// body has returned for it and asked for the next one; a record whose body
// ends the loop (break, return) is not committed.
func (c *Consumer[K, V]) All(ctx context.Context) iter.Seq2[Message[K, V], error] {
	return func(yield func(Message[K, V], error) bool) {
		err := c.consume(ctx, func(m Message[K, V]) (bool, error) {
			if !yield(m, m.Err) {
				return false, nil
			}
			if m.Err != nil && c.opts.policy == DecodeFail {
				return false, nil
			}
			return true, nil
		}, nil)
		if err != nil && ctx.Err() == nil {
			yield(Message[K, V]{}, err)
		}
	}
}

// Run calls handler for every record until ctx is done (Run then returns
// nil), the stream fails or handler returns an error (Run returns it). A
// group member without ManualCommit commits each record after handler
// returns nil for it. Under DecodeFail a record that cannot be decoded ends
// Run with its *DecodeError; under DecodeRaw handler gets it with
// Message.Err set. A registry that fails the lookup of a record's schema
// (unreachable, 5xx, timeouts) is retried (LookupRetry) and, if it keeps
// failing, ends Run with a *LookupError whatever the decode policy.
func (c *Consumer[K, V]) Run(ctx context.Context, handler func(context.Context, Message[K, V]) error) error {
	var herr error
	err := c.consume(ctx, func(m Message[K, V]) (bool, error) {
		if m.Err != nil && c.opts.policy == DecodeFail {
			herr = m.Err
			return false, nil
		}
		if err := handler(ctx, m); err != nil {
			herr = err
			return false, nil
		}
		return true, nil
	}, nil)
	if herr != nil {
		return herr
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// RunBatches is Run for a handler that takes records a batch at a time:
// handler gets decoded records of one partition in offset order (from one
// message of the stream, up to 1,024 at a time), which costs
// less per record than a call each. The slice is reused once handler
// returns: keep the Messages (copies of them), not the slice.
//
// Decode policies apply as in Run: under DecodeFail the records before the
// one that cannot be decoded are handed over, then RunBatches returns its
// *DecodeError; under DecodeRaw it is in the slice with Message.Err set;
// DecodeSkip leaves it out; DecodeDeadLetter sends it to the dead-letter
// topic as it is met, before handler gets the records around it. A group
// member without ManualCommit commits a batch's records (skipped ones
// included) after handler returns nil for it. A registry that keeps failing
// ends RunBatches with a *LookupError, after handler got the records
// before the one whose lookup failed.
func (c *Consumer[K, V]) RunBatches(ctx context.Context, handler func(context.Context, []Message[K, V]) error) error {
	var herr error
	err := c.consume(ctx, nil, func(ms []Message[K, V]) bool {
		if err := handler(ctx, ms); err != nil {
			herr = err
			return false
		}
		return true
	})
	if herr != nil {
		return herr
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// maxBatchMessages is the most records RunBatches hands over at once: a
// response of the broker (up to 10,000 records) goes in slices of this
// many, so that the handler gets the first ones while they are still in
// the CPU's caches, and sooner.
const maxBatchMessages = 1024

// consume streams records into handle, which reports whether the record
// was handled and the consumer should go on, or, when handle is nil, into
// handleBatch a response at a time (RunBatches), which reports whether the
// consumer should go on. It commits as configured.
//
// The streams run on a context of their own, not ctx: when ctx is done the
// consumer first commits what was handled, as the member it still is, and
// only then closes the streams (which, for a group member, leaves the
// group).
func (c *Consumer[K, V]) consume(ctx context.Context, handle func(Message[K, V]) (bool, error), handleBatch func([]Message[K, V]) bool) (err error) {
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	batches := make(chan batch)
	// free takes back the record slices of handled batches, for the
	// streams to decode the next responses into.
	free := make(chan []wireRecord, 2)
	var wg sync.WaitGroup
	c.open(sctx, batches, free, &wg)
	auto := c.opts.group != "" && !c.opts.manual
	defer func() {
		if auto {
			cctx, cancel := context.WithTimeout(sctx, 10*time.Second)
			if cerr := c.commitMarked(cctx); cerr != nil && err == nil && ctx.Err() == nil {
				err = cerr
			}
			cancel()
		}
		stop()
		wg.Wait()
	}()
	var (
		actx = &attemptContext{parent: ctx} // each record's lookups, renewed
		one  = new(Message[K, V])
		msgs []Message[K, V] // the batch for handleBatch
	)
	// flush hands msgs over and marks recs, the records they come from
	// (and the ones left out), as handled.
	flush := func(recs []wireRecord) bool {
		if len(msgs) > 0 && !handleBatch(msgs) {
			return false
		}
		clear(msgs)
		msgs = msgs[:0]
		if auto {
			c.markAll(recs)
		}
		return true
	}
	for {
		var b batch
		select {
		case b = <-batches:
		case <-ctx.Done():
			return nil
		}
		if b.err != nil {
			return b.err
		}
		if b.assignment != nil {
			c.mu.Lock()
			c.memberID, c.epoch = b.assignment.GetMemberId(), b.assignment.GetMemberEpoch()
			c.mu.Unlock()
			continue
		}
		from := 0 // b.records[from:] are not handed over (batch mode)
		for i := range b.records {
			r := &b.records[i]
			if ctx.Err() != nil {
				return nil
			}
			m := one
			if handleBatch != nil {
				if len(msgs) == maxBatchMessages {
					if !flush(b.records[from:i]) {
						return nil
					}
					from = i
				}
				msgs = append(msgs, Message[K, V]{})
				m = &msgs[len(msgs)-1]
			} else {
				*m = Message[K, V]{}
			}
			derr := c.decodeRetrying(ctx, &actx, r, m)
			if derr != nil && ctx.Err() != nil {
				// The writer schema's lookup was cut short by the end of
				// Run, not by the record: stop without applying the policy.
				return nil
			}
			if le := (*LookupError)(nil); errors.As(derr, &le) {
				// The registry failed, not the record: the decode policy
				// does not apply, and the record stays unhandled (and,
				// for a group member, uncommitted).
				if handleBatch != nil {
					msgs = msgs[:len(msgs)-1]
					if !flush(b.records[from:i]) {
						return nil
					}
				}
				return le
			}
			if derr != nil {
				switch c.opts.policy {
				case DecodeSkip, DecodeDeadLetter:
					if c.opts.policy == DecodeDeadLetter {
						if err := c.deadLetter(ctx, r, derr); err != nil {
							return err
						}
					}
					if handleBatch != nil {
						msgs = msgs[:len(msgs)-1] // marked with the batch
					} else if auto {
						c.mark(r.partition, r.offset)
					}
					continue
				case DecodeFail:
					if handleBatch != nil {
						msgs = msgs[:len(msgs)-1]
						if !flush(b.records[from:i]) {
							return nil
						}
						return derr
					}
				}
				m.Err = derr
			}
			if handleBatch != nil {
				continue
			}
			more, err := handle(*m)
			if err != nil {
				return err
			}
			if !more {
				return nil
			}
			if auto {
				c.mark(r.partition, r.offset)
			}
		}
		if handleBatch != nil && !flush(b.records[from:]) {
			return nil
		}
		clear(b.records)
		select {
		case free <- b.records[:0]:
		default:
		}
		if auto {
			if err := c.commitMarked(ctx); err != nil {
				if ctx.Err() != nil {
					return nil // the deferred commit retries on the stream's context
				}
				return err
			}
		}
	}
}

// decode decodes r (a record decoded by the generated code: RecordDecoder).
func (c *Consumer[K, V]) decode(ctx context.Context, r *brokerv1.Record) (Message[K, V], error) {
	var m Message[K, V]
	w := wireFromProto(r)
	err := c.decodeInto(ctx, &w, &m)
	return m, err
}

// decodeInto decodes r into m, which is zero.
func (c *Consumer[K, V]) decodeInto(ctx context.Context, r *wireRecord, m *Message[K, V]) error {
	m.Topic, m.Partition, m.Offset = c.topic, r.partition, r.offset
	m.Timestamp, m.Headers = r.timestamp, r.headers
	m.RawKey, m.RawValue = r.key, r.value
	var err error
	m.KeySchemaID, _, err = c.key.decode(ctx, r.key, r.headers, &m.Key)
	if err != nil {
		return &DecodeError{Topic: c.topic, Partition: m.Partition, Offset: m.Offset, Side: "key", SchemaID: m.KeySchemaID, Err: err}
	}
	m.SchemaID, m.Version, err = c.value.decode(ctx, r.value, r.headers, &m.Value)
	if err != nil {
		return &DecodeError{Topic: c.topic, Partition: m.Partition, Offset: m.Offset, Side: "value", SchemaID: m.SchemaID, Err: err}
	}
	return nil
}

func (c *Consumer[K, V]) deadLetter(ctx context.Context, r *wireRecord, derr error) error {
	rec := &brokerv1.ProduceRecord{Key: r.key, Value: r.value}
	for _, h := range r.headers {
		rec.Headers = append(rec.Headers, &brokerv1.Header{Key: h.Key, Value: h.Value})
	}
	rec.Headers = append(rec.Headers,
		&brokerv1.Header{Key: DeadLetterErrorHeader, Value: []byte(derr.Error())},
		&brokerv1.Header{Key: DeadLetterTopicHeader, Value: []byte(c.topic)},
		&brokerv1.Header{Key: DeadLetterPartitionHeader, Value: []byte(strconv.Itoa(int(r.partition)))},
		&brokerv1.Header{Key: DeadLetterOffsetHeader, Value: []byte(strconv.FormatInt(r.offset, 10))},
	)
	_, err := c.conn.broker.Produce(ctx, connect.NewRequest(&brokerv1.ProduceRequest{Topic: c.opts.deadLetter, Records: []*brokerv1.ProduceRecord{rec}}))
	if err != nil {
		return fmt.Errorf("consumer %s: dead-letter topic %s: %w (record: %v)", c.topic, c.opts.deadLetter, produceError(c.opts.deadLetter, err), derr)
	}
	return nil
}

// open starts the streams feeding batches: one Consume stream for a group
// member; for a standalone consumer one Subscribe stream for all
// partitions, or one per listed partition.
func (c *Consumer[K, V]) open(ctx context.Context, out chan<- batch, free <-chan []wireRecord, wg *sync.WaitGroup) {
	send := func(b batch) bool {
		select {
		case out <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if c.opts.group != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.streamGroup(ctx, send, free)
		}()
		return
	}
	parts := []*int32{nil}
	if len(c.opts.partitions) > 0 {
		parts = parts[:0]
		for _, p := range c.opts.partitions {
			parts = append(parts, &p)
		}
	}
	for _, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.streamPartitions(ctx, p, send, free)
		}()
	}
}

func (c *Consumer[K, V]) streamPartitions(ctx context.Context, partition *int32, send func(batch) bool, free <-chan []wireRecord) {
	req := &brokerv1.SubscribeRequest{Topic: c.topic, Partition: partition, MaxBytes: c.opts.maxBytes}
	switch c.opts.start {
	case startEarliest:
		req.Start = &brokerv1.SubscribeRequest_Position{Position: brokerv1.StartPosition_START_POSITION_EARLIEST}
	case startOffset:
		req.Start = &brokerv1.SubscribeRequest_Offset{Offset: c.opts.offset}
	default:
		req.Start = &brokerv1.SubscribeRequest_Position{Position: brokerv1.StartPosition_START_POSITION_LATEST}
	}
	stream, err := c.subscriber.Subscribe(ctx, connect.NewRequest(req))
	if err != nil {
		send(batch{err: fmt.Errorf("consumer %s: subscribe: %w", c.topic, err)})
		return
	}
	defer stream.Close()
	for stream.Receive() {
		res, err := decodeSubscribeMessage(stream.Msg(), reuse(free))
		if err != nil {
			send(batch{err: fmt.Errorf("consumer %s: subscribe: a response the consumer cannot read: %w", c.topic, err)})
			return
		}
		if !send(batch{partition: res.partition, records: res.records}) {
			return
		}
	}
	err = stream.Err()
	if err == nil {
		err = errors.New("stream ended")
	}
	send(batch{err: fmt.Errorf("consumer %s: subscribe: %w", c.topic, err)})
}

func (c *Consumer[K, V]) streamGroup(ctx context.Context, send func(batch) bool, free <-chan []wireRecord) {
	sub := &brokerv1.Subscription{Topics: []string{c.topic}, InstanceId: c.opts.instanceID}
	if c.opts.sessionTimeout > 0 {
		sub.SessionTimeout = durationpb.New(c.opts.sessionTimeout)
	}
	req := &brokerv1.ConsumeRequest{Group: c.opts.group, Subscription: sub, MaxBytes: c.opts.maxBytes}
	switch c.opts.start {
	case startEarliest:
		req.AutoOffsetReset = brokerv1.OffsetReset_OFFSET_RESET_EARLIEST
	case startLatest:
		req.AutoOffsetReset = brokerv1.OffsetReset_OFFSET_RESET_LATEST
	}
	stream, err := c.conn.OpenGroupStream(ctx, req)
	if err != nil {
		send(batch{err: fmt.Errorf("consumer %s: group %s: %w", c.topic, c.opts.group, err)})
		return
	}
	defer stream.Close()
	for {
		// Each response's records are decoded into a slice handed back
		// through free, which the batch then takes along.
		stream.ev.records = reuse(free)
		if !stream.Receive() {
			break
		}
		var b batch
		if a := stream.Assignment(); a != nil {
			b.assignment = a
		} else {
			rb := stream.Batch()
			if rb.Topic != c.topic {
				continue
			}
			b.partition, b.records = rb.Partition, rb.recs
			stream.ev.records = nil
		}
		if !send(b) {
			return
		}
	}
	err = stream.Err()
	if err == nil {
		err = errors.New("stream ended")
	}
	send(batch{err: fmt.Errorf("consumer %s: group %s: %w", c.topic, c.opts.group, err)})
}

// reuse returns a record slice handed back through free, or nil.
func reuse(free <-chan []wireRecord) []wireRecord {
	select {
	case recs := <-free:
		return recs
	default:
		return nil
	}
}

// markAll marks recs as handled: the highest offset of each partition's
// run of records.
func (c *Consumer[K, V]) markAll(recs []wireRecord) {
	for i := 0; i < len(recs); {
		p, hi, j := recs[i].partition, recs[i].offset, i+1
		for ; j < len(recs) && recs[j].partition == p; j++ {
			hi = max(hi, recs[j].offset)
		}
		c.mark(p, hi)
		i = j
	}
}

func (c *Consumer[K, V]) mark(partition int32, offset int64) {
	c.mu.Lock()
	if offset+1 > c.marked[partition] {
		c.marked[partition] = offset + 1
	}
	c.mu.Unlock()
}

// commitMarked commits the marked offsets under the current member epoch.
//
// The group bumps a member's epoch on every rebalance, and refuses commits
// under an older one ("stale member epoch"); the stream tells the member its
// new epoch only after the records already in flight. So a stale commit is
// retried once under the epoch and assignment the group describes for this
// member now, keeping only the partitions it still owns: the others belong
// to another member already, which re-reads them from the last commit
// (at-least-once).
func (c *Consumer[K, V]) commitMarked(ctx context.Context) error {
	c.mu.Lock()
	if len(c.marked) == 0 {
		c.mu.Unlock()
		return nil
	}
	req := &brokerv1.CommitOffsetsRequest{Group: c.opts.group, MemberId: c.memberID, MemberEpoch: c.epoch}
	for p, off := range c.marked {
		req.Offsets = append(req.Offsets, &brokerv1.OffsetCommit{Topic: c.topic, Partition: p, Offset: off})
	}
	clear(c.marked)
	c.mu.Unlock()
	_, err := c.conn.groups.CommitOffsets(ctx, connect.NewRequest(req))
	if err != nil && connect.CodeOf(err) == connect.CodeFailedPrecondition && strings.Contains(err.Error(), "stale member epoch") {
		if epoch, owned, ok := c.describeSelf(ctx); ok {
			kept := req.Offsets[:0]
			for _, o := range req.Offsets {
				if owned[o.GetPartition()] {
					kept = append(kept, o)
				}
			}
			req.Offsets, req.MemberEpoch = kept, epoch
			if len(kept) == 0 {
				return nil
			}
			_, err = c.conn.groups.CommitOffsets(ctx, connect.NewRequest(req))
		}
	}
	if err != nil {
		// Keep them for the next commit (a retry after a transient error).
		for _, o := range req.Offsets {
			c.mark(o.GetPartition(), o.GetOffset()-1)
		}
		return fmt.Errorf("consumer %s: group %s: commit: %w", c.topic, c.opts.group, err)
	}
	return nil
}

// describeSelf asks the group for this member's current epoch and the
// partitions of the topic it owns.
func (c *Consumer[K, V]) describeSelf(ctx context.Context) (int32, map[int32]bool, bool) {
	c.mu.Lock()
	id := c.memberID
	c.mu.Unlock()
	res, err := c.conn.groups.DescribeGroup(ctx, connect.NewRequest(&brokerv1.DescribeGroupRequest{Group: c.opts.group}))
	if err != nil {
		return 0, nil, false
	}
	for _, m := range res.Msg.GetMembers() {
		if m.GetMemberId() != id {
			continue
		}
		owned := map[int32]bool{}
		for _, tp := range m.GetAssignment() {
			if tp.GetTopic() == c.topic {
				for _, p := range tp.GetPartitions() {
					owned[p] = true
				}
			}
		}
		return m.GetMemberEpoch(), owned, true
	}
	return 0, nil, false
}

// Commit commits msgs as handled: for each partition, the offset after the
// highest message. Use it with ManualCommit; it needs a group.
func (c *Consumer[K, V]) Commit(ctx context.Context, msgs ...Message[K, V]) error {
	if c.opts.group == "" {
		return fmt.Errorf("consumer %s: commit needs a group (a standalone consumer keeps no offsets)", c.topic)
	}
	for _, m := range msgs {
		c.mark(m.Partition, m.Offset)
	}
	return c.commitMarked(ctx)
}
