package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/client"
)

// App is a stream processing application: a topology and the consumer
// group (its id) its instances join. Build the topology with From,
// TableFrom and the functions of this package, then call Run. An App runs
// once at a time; run several instances (processes, or Apps built alike)
// to scale out.
type App struct {
	conn *client.Conn
	id   string
	opts options

	sources []*source
	sinks   []*sink
	stores  []*storeDef
	closers []*windowNode
	groups  int // input groups (source.group)
	errs    []error
	seq     int

	stats Stats
}

// options are an App's settings.
type options struct {
	commitInterval time.Duration
	maxTaskIdle    time.Duration
	sessionTimeout time.Duration
	maxTxnRecords  int
	caching        bool
	log            *slog.Logger
}

// Option configures an App.
type Option func(*options)

// CommitInterval is how often each task commits (default 100ms). Shorter
// makes outputs visible sooner; longer makes transactions larger and
// cheaper per record.
func CommitInterval(d time.Duration) Option { return func(o *options) { o.commitInterval = d } }

// MaxTaskIdle is how long a task with several inputs waits for an input
// that is behind before it processes the others (default 500ms).
func MaxTaskIdle(d time.Duration) Option { return func(o *options) { o.maxTaskIdle = d } }

// SessionTimeout is the group session timeout of an instance (default 10s):
// how soon the group gives a dead instance's tasks to the others.
func SessionTimeout(d time.Duration) Option { return func(o *options) { o.sessionTimeout = d } }

// MaxTxnRecords commits a task early when its transaction holds this many
// records (default 5000), bounding the request size.
func MaxTxnRecords(n int) Option { return func(o *options) { o.maxTxnRecords = n } }

// Caching turns the record cache of the tables (Count, Aggregate, Reduce)
// on or off (default on). With it on, a table forwards to its stream (and
// so to the topics written from it) the latest value of each key changed
// since the last commit, once, at the commit, instead of every change:
// readers see fewer, later updates (each key's value as of each commit;
// intermediate values between two commits are skipped) and the
// transaction carries fewer records. Off, every change is forwarded as it
// happens. Windowed aggregations emit final results only and are not
// affected; neither are joins, which read the tables' current values.
func Caching(on bool) Option { return func(o *options) { o.caching = on } }

// Logger sets the logger (default: slog.Default()).
func Logger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// New returns an application with id appID: the consumer group, the prefix
// of its transactional ids and of its internal topics. appID must be a
// valid topic name prefix (letters, digits, '.', '_', '-').
func New(conn *client.Conn, appID string, opts ...Option) *App {
	o := options{commitInterval: 100 * time.Millisecond, maxTaskIdle: 500 * time.Millisecond, sessionTimeout: 10 * time.Second, maxTxnRecords: 5000, caching: true, log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	a := &App{conn: conn, id: appID, opts: o}
	if appID == "" {
		a.errs = append(a.errs, errors.New("stream: the application id is empty"))
	}
	for _, c := range appID {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			a.errs = append(a.errs, fmt.Errorf("stream: application id %q: %q is not allowed (letters, digits, '.', '_', '-')", appID, c))
			break
		}
	}
	if o.commitInterval <= 0 || o.maxTaskIdle < 0 || o.sessionTimeout <= 0 || o.maxTxnRecords <= 0 {
		a.errs = append(a.errs, fmt.Errorf("stream %s: CommitInterval, SessionTimeout and MaxTxnRecords must be positive, MaxTaskIdle not negative", appID))
	}
	return a
}

// ID is the application id.
func (a *App) ID() string { return a.id }

// Stats counts what an App did; read it with App.Stats.
type Stats struct {
	// Processed counts input records processed (committed or not).
	Processed atomic.Int64
	// Commits counts committed transactions.
	Commits atomic.Int64
	// Late counts records dropped because their window had closed.
	Late atomic.Int64
	// Restored counts store entries read back from changelogs and tables.
	Restored atomic.Int64
}

// Stats returns the App's counters.
func (a *App) Stats() *Stats { return &a.stats }

func (a *App) name(kind string) string {
	a.seq++
	return fmt.Sprintf("%s-%04d", kind, a.seq)
}

func (a *App) fail(err error) { a.errs = append(a.errs, err) }

// record is a record inside the topology: typed key and value behind any,
// timestamp in Unix milliseconds.
type record struct {
	key, value any
	ts         int64
}

// node is one processor of the topology. Nodes are shared by the tasks;
// per-task state lives in the task.
type node struct {
	process  func(t *task, r record) error
	children []*node
}

func (n *node) forward(t *task, r record) error {
	for _, c := range n.children {
		if err := c.process(t, r); err != nil {
			return err
		}
	}
	return nil
}

func (n *node) child(process func(t *task, r record) error) *node {
	c := &node{process: process}
	n.children = append(n.children, c)
	return c
}

// KV is a key and a value.
type KV[K, V any] struct {
	Key   K
	Value V
}

// Stream is a stream of typed records.
type Stream[K, V any] struct {
	app *App
	n   *node
	// kc and vc are the codecs of K and V when known (nil after a Map).
	kc client.Codec[K]
	vc client.Codec[V]
	// rekeyed: the key may differ from the one the records are
	// partitioned by, so grouping or joining needs Repartition first.
	rekeyed bool
}

// source is an input topic of the topology.
type source struct {
	topic string
	n     *node
	table *storeDef // a table's topic: restored from the topic itself
	// mkDecode builds a decoder: each goroutine that decodes the topic
	// (a member's stream receiver, a table's restore) builds its own.
	mkDecode func(conn *client.Conn) (decodeFunc, error)
	internal bool // a repartition topic, created by Run
	// group numbers the inputs whose records meet in some node (Run sets
	// it): a task takes a group's records in timestamp order.
	group int
}

// decodeFunc decodes a record of a source. It is not safe for concurrent
// use: each goroutine that decodes makes its own with the source's
// mkDecode.
type decodeFunc func(ctx context.Context, b *client.RecordBatch, i int) (record, error)

func (a *App) addSource(topic string, internal bool, mk func(conn *client.Conn) (decodeFunc, error)) *source {
	for _, s := range a.sources {
		if s.topic == topic {
			a.fail(fmt.Errorf("stream %s: topic %s is read twice; read it once and use the stream twice", a.id, topic))
		}
	}
	s := &source{topic: topic, n: &node{}, mkDecode: mk, internal: internal}
	s.n.process = s.n.forward
	a.sources = append(a.sources, s)
	return s
}

// From reads topic as a stream, decoding keys and values with kc and vc
// (any writer schema version the subject holds, as a Consumer does).
func From[K, V any](app *App, topic string, kc client.Codec[K], vc client.Codec[V]) *Stream[K, V] {
	src := app.addSource(topic, false, func(conn *client.Conn) (decodeFunc, error) {
		d, err := client.NewRecordDecoder(conn, topic, kc, vc)
		if err != nil {
			return nil, err
		}
		var m client.Message[K, V] // reused: a decodeFunc serves one goroutine
		return func(ctx context.Context, b *client.RecordBatch, i int) (record, error) {
			if err := d.DecodeAt(ctx, b, i, &m); err != nil {
				return record{}, err
			}
			return record{key: m.Key, value: m.Value, ts: m.Timestamp.UnixMilli()}, nil
		}, nil
	})
	return &Stream[K, V]{app: app, n: src.n, kc: kc, vc: vc}
}

// Filter keeps the records for which keep answers true.
func (s *Stream[K, V]) Filter(keep func(K, V) bool) *Stream[K, V] {
	n := s.n.child(nil)
	n.process = func(t *task, r record) error {
		if keep(r.key.(K), r.value.(V)) {
			return n.forward(t, r)
		}
		return nil
	}
	return &Stream[K, V]{app: s.app, n: n, kc: s.kc, vc: s.vc, rekeyed: s.rekeyed}
}

// Peek calls f for every record and passes it on (for logging; f must not
// have effects that should happen once: a record may be processed again
// after a crash).
func (s *Stream[K, V]) Peek(f func(K, V)) *Stream[K, V] {
	n := s.n.child(nil)
	n.process = func(t *task, r record) error {
		f(r.key.(K), r.value.(V))
		return n.forward(t, r)
	}
	return &Stream[K, V]{app: s.app, n: n, kc: s.kc, vc: s.vc, rekeyed: s.rekeyed}
}

// Map turns each record into another, maybe with another key (then
// grouping or joining needs Repartition).
func Map[K, V, K2, V2 any](s *Stream[K, V], f func(K, V) (K2, V2)) *Stream[K2, V2] {
	n := s.n.child(nil)
	n.process = func(t *task, r record) error {
		k, v := f(r.key.(K), r.value.(V))
		return n.forward(t, record{key: k, value: v, ts: r.ts})
	}
	return &Stream[K2, V2]{app: s.app, n: n, rekeyed: true}
}

// MapValues turns each value into another, keeping the key.
func MapValues[K, V, V2 any](s *Stream[K, V], f func(K, V) V2) *Stream[K, V2] {
	n := s.n.child(nil)
	n.process = func(t *task, r record) error {
		return n.forward(t, record{key: r.key, value: f(r.key.(K), r.value.(V)), ts: r.ts})
	}
	return &Stream[K, V2]{app: s.app, n: n, kc: s.kc, rekeyed: s.rekeyed}
}

// FlatMap turns each record into zero or more, maybe with other keys.
func FlatMap[K, V, K2, V2 any](s *Stream[K, V], f func(K, V) []KV[K2, V2]) *Stream[K2, V2] {
	n := s.n.child(nil)
	n.process = func(t *task, r record) error {
		for _, kv := range f(r.key.(K), r.value.(V)) {
			if err := n.forward(t, record{key: kv.Key, value: kv.Value, ts: r.ts}); err != nil {
				return err
			}
		}
		return nil
	}
	return &Stream[K2, V2]{app: s.app, n: n, rekeyed: true}
}

// FlatMapValues turns each value into zero or more, keeping the key.
func FlatMapValues[K, V, V2 any](s *Stream[K, V], f func(K, V) []V2) *Stream[K, V2] {
	n := s.n.child(nil)
	n.process = func(t *task, r record) error {
		for _, v := range f(r.key.(K), r.value.(V)) {
			if err := n.forward(t, record{key: r.key, value: v, ts: r.ts}); err != nil {
				return err
			}
		}
		return nil
	}
	return &Stream[K, V2]{app: s.app, n: n, kc: s.kc, rekeyed: s.rekeyed}
}

// Branch splits s: a record goes to the stream of the first predicate it
// satisfies, or nowhere. The result has one stream per predicate.
func Branch[K, V any](s *Stream[K, V], preds ...func(K, V) bool) []*Stream[K, V] {
	n := s.n.child(nil)
	outs := make([]*Stream[K, V], len(preds))
	branches := make([]*node, len(preds))
	for i := range preds {
		branches[i] = &node{}
		branches[i].process = branches[i].forward
		outs[i] = &Stream[K, V]{app: s.app, n: branches[i], kc: s.kc, vc: s.vc, rekeyed: s.rekeyed}
	}
	n.process = func(t *task, r record) error {
		k, v := r.key.(K), r.value.(V)
		for i, p := range preds {
			if p(k, v) {
				return branches[i].process(t, r)
			}
		}
		return nil
	}
	return outs
}

// Merge combines streams of one type into one.
func Merge[K, V any](s *Stream[K, V], others ...*Stream[K, V]) *Stream[K, V] {
	n := &node{}
	n.process = n.forward
	out := &Stream[K, V]{app: s.app, n: n, kc: s.kc, vc: s.vc, rekeyed: s.rekeyed}
	for _, o := range append([]*Stream[K, V]{s}, others...) {
		if o.app != s.app {
			s.app.fail(errors.New("stream: Merge of streams of different apps"))
			continue
		}
		o.n.children = append(o.n.children, n)
		out.rekeyed = out.rekeyed || o.rekeyed
		if out.kc == nil {
			out.kc = o.kc
		}
		if out.vc == nil {
			out.vc = o.vc
		}
	}
	return out
}

// sink is an output topic.
type sink struct {
	topic string
	mkAdd func(ctx context.Context, conn *client.Conn) (addFunc, error)
	add   addFunc
}

type addFunc func(tx *client.Txn, r record) error

// To writes the stream to topic, encoding with kc and vc under the topic's
// subjects (registered if missing and compatible). The topic must exist.
// Records keep their timestamps.
func To[K, V any](s *Stream[K, V], topic string, kc client.Codec[K], vc client.Codec[V]) {
	sk := &sink{topic: topic}
	sk.mkAdd = func(ctx context.Context, conn *client.Conn) (addFunc, error) {
		p, err := client.NewProducer(ctx, conn, topic, kc, vc, client.AutoRegister())
		if err != nil {
			return nil, err
		}
		return func(tx *client.Txn, r record) error {
			return p.AddToTxn(tx, r.key.(K), r.value.(V), client.WithTimestamp(time.UnixMilli(r.ts)))
		}, nil
	}
	s.app.sinks = append(s.app.sinks, sk)
	s.n.child(func(t *task, r record) error {
		if err := sk.add(t.tx, r); err != nil {
			return fmt.Errorf("to %s: %w", topic, err)
		}
		return nil
	})
}

// Repartition writes the stream through an internal topic,
// <app>-<name>-repartition, partitioned by the record key, and reads it
// back: after it, each key is in the task of its partition, as grouping
// and joining need. kc and vc encode the records on that topic.
func Repartition[K, V any](s *Stream[K, V], kc client.Codec[K], vc client.Codec[V]) *Stream[K, V] {
	a := s.app
	topic := a.id + "-" + a.name("repartition") + "-repartition"
	kd, err1 := newDatum(kc)
	vd, err2 := newDatum(vc)
	if err := errors.Join(err1, err2); err != nil {
		a.fail(fmt.Errorf("stream %s: repartition %s: %w", a.id, topic, err))
		return &Stream[K, V]{app: a, n: &node{}, kc: kc, vc: vc}
	}
	s.n.child(func(t *task, r record) error {
		kb, err := kd.encode(r.key)
		if err != nil {
			return fmt.Errorf("repartition %s: encode key: %w", topic, err)
		}
		vb, err := vd.encode(r.value)
		if err != nil {
			return fmt.Errorf("repartition %s: encode value: %w", topic, err)
		}
		t.tx.AddRecord(topic, rawRecord(kb, vb, r.ts, nil))
		return nil
	})
	src := a.addSource(topic, true, func(*client.Conn) (decodeFunc, error) {
		return func(_ context.Context, b *client.RecordBatch, i int) (record, error) {
			k, err := kd.decode(b.Key(i))
			if err != nil {
				return record{}, fmt.Errorf("key: %w", err)
			}
			v, err := vd.decode(b.Value(i))
			if err != nil {
				return record{}, fmt.Errorf("value: %w", err)
			}
			return record{key: k, value: v, ts: millis(b.Timestamp(i))}, nil
		}, nil
	})
	return &Stream[K, V]{app: a, n: src.n, kc: kc, vc: vc}
}
