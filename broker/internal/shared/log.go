package shared

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/internal/pgmeta"
	"github.com/sluicehq/sluice/internal/pgnotify"
	"github.com/sluicehq/sluice/objstore"
)

// ErrUnavailable wraps every failure of a write or read that a client may
// retry: the object store or PostgreSQL failed or did not answer in time.
// An append that fails with it was not acknowledged; unless the error also
// says the outcome is unknown, its records were not committed.
var ErrUnavailable = errors.New("shared log unavailable")

// ErrOutcomeUnknown is wrapped (with ErrUnavailable) by an append whose
// commit could not be confirmed or denied before Config.CommitTimeout:
// PostgreSQL stayed unreachable after a commit call was sent. Its records
// may or may not be in the log, as with a Kafka request that timed out.
var ErrOutcomeUnknown = errors.New("commit outcome unknown")

// ErrPartitionDeleted fails an append to a partition whose topic was
// deleted (Log.DeleteTopic, on any node) before its object was committed.
var ErrPartitionDeleted = errors.New("partition deleted")

// ErrClosed is returned by operations on a closed Log or Partition.
var ErrClosed = errors.New("shared log: closed")

// Config configures a Log. Zero fields take the defaults named.
type Config struct {
	// Pool is the cluster's PostgreSQL (pgmeta.Open); required.
	Pool *pgxpool.Pool
	// Notify is the node's PostgreSQL notification hub, shared with its
	// other components (each listening connection is woken by every
	// NOTIFY of the database); nil: the Log opens its own on Pool and
	// closes it with the Log.
	Notify *pgnotify.Hub
	// Objects is the object store shared by the nodes; required.
	Objects objstore.Store
	// Node is this node's id (1-64 of [A-Za-z0-9._-]); required. It names
	// the node's objects: two live Logs must not share one.
	Node string

	// Window is how long the intake buffer collects batches after its
	// first before it is written as one object; default 5 ms. Each ack
	// waits for it, then the PUT and the commit; a longer window makes
	// fewer, larger objects (fewer PUTs to pay for on S3) at that cost.
	// Under load objects grow past it anyway: while the pipeline is full
	// (see MaxInflightPuts; one object stored and waiting for the
	// committer) the buffer keeps filling.
	Window time.Duration
	// MaxObjectBytes seals the buffer early when it holds this much;
	// default 8 MiB.
	MaxObjectBytes int
	// MaxBufferedBytes bounds the bytes buffered and in flight (PUT or
	// commit not finished); EnqueueBatch waits for room. Default 64 MiB,
	// at least MaxObjectBytes.
	MaxBufferedBytes int
	// MaxInflightPuts bounds concurrent PUTs; default 4. A node runs
	// fewer when its PUTs are quick: as many as keep its committer busy
	// (the PUTs' average duration over the commits', rounded up).
	MaxInflightPuts int
	// PutTimeout bounds the PUT of one object, retries included; default
	// 10 s. CommitTimeout bounds its commit, retries included; default 30 s.
	PutTimeout, CommitTimeout time.Duration
	// ReadTimeout bounds one read's queries and GETs; default 30 s.
	ReadTimeout time.Duration
	// CacheBytes bounds the read cache of object blocks; default 256 MiB.
	// CacheBlockBytes is the block size; default 1 MiB.
	CacheBytes      int64
	CacheBlockBytes int
	// PollInterval is how often high watermarks are polled besides
	// LISTEN/NOTIFY; default 250 ms.
	PollInterval time.Duration
	// GCGrace is how long an object whose bytes are all dead is kept
	// before deletion (longer than any read); default 10 minutes.
	// OrphanAge is the age after which an upload never committed is an
	// orphan; default 10 minutes, more than PutTimeout + CommitTimeout.
	GCGrace, OrphanAge time.Duration
	// GCInterval is how often the node runs CollectGarbage in the
	// background; default min(GCGrace, OrphanAge, 1 minute); < 0 never
	// (the caller runs it).
	GCInterval time.Duration
	// MergeAge is how old an intake object's batches must be before the
	// compactor moves a partition's batches into a segment object (the
	// tail is served from fresh objects and the cache meanwhile); default
	// 30 s, < 0 never. MergeRunBytes bounds one coordinate row of a
	// segment (a run of batches read as one range; default 1 MiB);
	// MergeMaxBytes bounds one segment object (default 16 MiB).
	MergeAge                     time.Duration
	MergeRunBytes, MergeMaxBytes int
	// MergeRate is how many segment bytes a second the node's merges may
	// write, together, until their backlog is overdue (merge_pace.go);
	// default 8 MiB, < 0 no limit.
	MergeRate int64
	// Logger gets warnings and errors; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// ObservePut, when set, is told how long each object's PUT to the
	// object store took (its retries included) once it succeeded, and
	// ObserveCommit how long each successful sharedlog_commit call took:
	// the node's metrics histograms.
	ObservePut, ObserveCommit func(time.Duration)
}

var nodeIDRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func (c Config) withDefaults() (Config, error) {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Window, 5*time.Millisecond)
	def(&c.PutTimeout, 10*time.Second)
	def(&c.CommitTimeout, 30*time.Second)
	def(&c.ReadTimeout, 30*time.Second)
	def(&c.PollInterval, 250*time.Millisecond)
	def(&c.GCGrace, 10*time.Minute)
	def(&c.OrphanAge, 10*time.Minute)
	def(&c.GCInterval, min(c.GCGrace, c.OrphanAge, time.Minute))
	def(&c.MergeAge, 30*time.Second)
	if c.MergeRunBytes <= 0 {
		c.MergeRunBytes = 1 << 20
	}
	if c.MergeMaxBytes <= 0 {
		c.MergeMaxBytes = 16 << 20
	}
	if c.MergeRate == 0 {
		c.MergeRate = 8 << 20
	}
	if c.MaxObjectBytes == 0 {
		c.MaxObjectBytes = 8 << 20
	}
	if c.MaxBufferedBytes == 0 {
		c.MaxBufferedBytes = max(64<<20, c.MaxObjectBytes)
	}
	if c.MaxInflightPuts == 0 {
		c.MaxInflightPuts = 4
	}
	if c.CacheBytes == 0 {
		c.CacheBytes = 256 << 20
	}
	if c.CacheBlockBytes == 0 {
		c.CacheBlockBytes = 1 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Pool == nil {
		bad("Pool is required")
	}
	if c.Objects == nil {
		bad("Objects is required")
	}
	if !nodeIDRe.MatchString(c.Node) {
		bad("Node %q must be 1 to 64 characters of [A-Za-z0-9._-]", c.Node)
	}
	for name, d := range map[string]time.Duration{"Window": c.Window, "PutTimeout": c.PutTimeout, "CommitTimeout": c.CommitTimeout,
		"ReadTimeout": c.ReadTimeout, "PollInterval": c.PollInterval, "GCGrace": c.GCGrace, "OrphanAge": c.OrphanAge} {
		if d < 0 {
			bad("%s %v must be positive", name, d)
		}
	}
	if c.MaxObjectBytes < 0 || c.MaxObjectBytes > 1<<30 {
		bad("MaxObjectBytes %d must be in [1, 1 GiB]", c.MaxObjectBytes)
	}
	if c.MaxBufferedBytes < c.MaxObjectBytes {
		bad("MaxBufferedBytes %d must be at least MaxObjectBytes %d", c.MaxBufferedBytes, c.MaxObjectBytes)
	}
	if c.MaxInflightPuts < 0 {
		bad("MaxInflightPuts %d must be positive", c.MaxInflightPuts)
	}
	if c.CacheBytes < 0 || c.CacheBlockBytes <= 0 {
		bad("CacheBytes %d and CacheBlockBytes %d must be positive", c.CacheBytes, c.CacheBlockBytes)
	}
	if c.OrphanAge < c.PutTimeout+c.CommitTimeout {
		bad("OrphanAge %v must exceed PutTimeout + CommitTimeout (%v): a slow upload would be collected before its commit", c.OrphanAge, c.PutTimeout+c.CommitTimeout)
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("shared log: invalid config: %w", errors.Join(errs...))
	}
	return c, nil
}

// Migrate creates or updates the shared log's tables (component
// "sharedlog"). Open calls it; it is exported for tools that only read.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return pgmeta.Migrate(ctx, pool, migrationComponent, migrations)
}

// pkey names a partition.
type pkey struct {
	topic string
	part  int32
}

func (k pkey) String() string { return fmt.Sprintf("%s/%d", k.topic, k.part) }

// Log is one node's shared log: the intake buffer, committer, high
// watermark listener and read cache that its partitions share. Safe for
// concurrent use.
type Log struct {
	cfg   Config
	pool  *pgxpool.Pool
	objs  objstore.Store
	log   *slog.Logger
	cache *cache

	mu     sync.Mutex
	parts  map[pkey]*Partition
	closed bool

	in   intake
	keys keyPool // object keys announced ahead (keys.go)

	stats Stats

	mergePace mergePacer // merge_pace.go

	// testAfterCommit, when set (tests only, before the first append), runs
	// between a commit and its publication.
	testAfterCommit func()
	// testBeforeCommit, when set (tests only, before the first append),
	// runs in the committer before each object's commit, after its PUT.
	testBeforeCommit func()

	// ownHub is the notification hub the Log opened (Config.Notify nil).
	ownHub *pgnotify.Hub

	ctx    context.Context // cancelled by Close after the intake drained
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Stats counts a Log's work since Open; read with Log.Stats.
type Stats struct {
	Objects     atomic.Int64 // objects committed
	Commits     atomic.Int64 // commit calls that succeeded (= Objects)
	CommitRetry atomic.Int64 // commit attempts retried
	// CommitReplays counts commits answered with the offsets stored by an
	// earlier attempt whose answer was lost (connection cut during COMMIT).
	CommitReplays atomic.Int64
	PutRetry      atomic.Int64 // PUT attempts retried
	Failed        atomic.Int64 // objects whose appends failed
	Batches       atomic.Int64 // batches committed
	Records       atomic.Int64 // records committed
	Bytes         atomic.Int64 // object bytes committed
	CacheHits     atomic.Int64 // block reads served from the cache
	CacheMisses   atomic.Int64 // block reads that went to the store
	Notification  atomic.Int64 // high watermark notifications received
	Polls         atomic.Int64 // high watermark polls
	Merges        atomic.Int64 // segments committed by the compactor
	ColdReads     atomic.Int64 // reads of merged segments, around the cache
	PutNanos      atomic.Int64 // time in successful uploads (announce + PUT)
	CommitNanos   atomic.Int64 // time in successful commits
	// NotifySkips counts commits that sent no notification because the
	// next object, already sealed, covered their partitions.
	NotifySkips atomic.Int64
}

// StatsSnapshot is a copy of Stats.
type StatsSnapshot struct {
	Objects, CommitRetry, CommitReplays, PutRetry, Failed, Batches, Records, Bytes, CacheHits, CacheMisses, Notifications, Polls, Merges, ColdReads int64
	PutTime, CommitTime                                                                                                                             time.Duration
	NotifySkips                                                                                                                                     int64
	CacheBytes                                                                                                                                      int64 // the bytes the read cache holds now
}

// Stats returns the counters.
func (l *Log) Stats() StatsSnapshot {
	s := &l.stats
	return StatsSnapshot{s.Objects.Load(), s.CommitRetry.Load(), s.CommitReplays.Load(), s.PutRetry.Load(), s.Failed.Load(), s.Batches.Load(),
		s.Records.Load(), s.Bytes.Load(), s.CacheHits.Load(), s.CacheMisses.Load(), s.Notification.Load(), s.Polls.Load(), s.Merges.Load(), s.ColdReads.Load(),
		time.Duration(s.PutNanos.Load()), time.Duration(s.CommitNanos.Load()), s.NotifySkips.Load(), l.cache.size()}
}

// Open starts a node's shared log: it applies the migrations, then starts
// the committer and the high watermark listener. Close stops it.
func Open(ctx context.Context, cfg Config) (*Log, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := Migrate(ctx, c.Pool); err != nil {
		return nil, err
	}
	l := &Log{cfg: c, pool: c.Pool, objs: c.Objects, log: c.Logger, parts: map[pkey]*Partition{},
		cache: newCache(c.CacheBytes, c.CacheBlockBytes), mergePace: mergePacer{rate: c.MergeRate, now: time.Now}}
	hub := c.Notify
	if hub == nil {
		if hub, err = pgnotify.New(pgnotify.Config{ConnConfig: c.Pool.Config().ConnConfig, Logger: c.Logger}); err != nil {
			return nil, fmt.Errorf("shared log: %w", err)
		}
		l.ownHub = hub
	}
	sub, err := hub.Subscribe(notifyChannel)
	if err != nil {
		if l.ownHub != nil {
			l.ownHub.Close()
		}
		return nil, fmt.Errorf("shared log: %w", err)
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.in.init(l)
	l.wg.Add(2)
	go l.commitLoop()
	go l.listenLoop(sub)
	return l, nil
}

// Close seals the intake buffer, waits until every sealed object is
// committed or failed (appends already enqueued get their answer), and
// stops the Log's goroutines; partitions still open are closed. Close is
// idempotent.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	parts := make([]*Partition, 0, len(l.parts))
	for _, p := range l.parts {
		parts = append(parts, p)
	}
	l.mu.Unlock()
	l.in.close()
	l.closeKeys()
	l.cancel()
	l.wg.Wait()
	if l.ownHub != nil {
		l.ownHub.Close()
	}
	for _, p := range parts {
		p.closeLocal()
	}
	return nil
}

// newObjectKey is a time-ordered key for the node's next object: the
// nanosecond clock in fixed-width hex, then random bytes.
func (l *Log) newObjectKey() string {
	var r [6]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("wal/%s/%016x-%s", l.cfg.Node, uint64(l.cfg.Now().UnixNano()), hex.EncodeToString(r[:]))
}

// DeleteTopic deletes every partition of the topic with id topicID from
// the cluster: their offsets, coordinates and producer state. Their bytes
// stay in objects shared with other partitions until those die; GC then
// deletes them. Appends to the topic not yet committed, on any node, fail
// with ErrPartitionDeleted. Partitions of it open on this node are closed;
// other nodes close theirs when their broker learns of the deletion. It
// returns how many partitions were deleted.
func (l *Log) DeleteTopic(ctx context.Context, topicID string) (int, error) {
	var n int
	// The topic's transaction rows (migration 5) go in the same statement.
	if err := l.pool.QueryRow(ctx, `WITH d AS (SELECT sharedlog_delete_topic($1) AS n),
			o AS (DELETE FROM sharedlog_txn_open t USING d WHERE t.topic_id = $1),
			a AS (DELETE FROM sharedlog_txn_aborted t USING d WHERE t.topic_id = $1)
		SELECT n FROM d`, topicID).Scan(&n); err != nil {
		return 0, fmt.Errorf("%w: delete topic %s: %w", ErrUnavailable, topicID, err)
	}
	l.mu.Lock()
	var open []*Partition
	for k, p := range l.parts {
		if k.topic == topicID {
			open = append(open, p)
		}
	}
	l.mu.Unlock()
	for _, p := range open {
		p.Close()
	}
	return n, nil
}
