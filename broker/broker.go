// Package broker is Sluice's broker: topics and partitions over the durable
// log, the partitioner, produce, fetch and subscribe, served over Connect.
//
// # Core and transport
//
// The Broker's exported methods (CreateTopic, Produce, Fetch, Subscribe,
// ListOffsets, ...) are the core: they take and return plain Go values and
// domain errors (ErrTopicNotFound, *ProduceError, ...). The Connect handlers,
// one file per RPC, only convert messages and map errors, in connectError.
//
// # Concurrency and lock order
//
// Broker.admin serialises topic creation, deletion and reconfiguration.
// Broker.mu guards the topic map only and is never held across I/O other than
// an in-memory lookup. Lock order: admin, then mu. A topic's partitions are
// fixed for its lifetime; its config is swapped atomically, so the produce
// and fetch paths take no broker-wide lock beyond a read lock for the lookup.
// Appends to one partition are serialised (and group-committed) by the log.
//
// # Data layout
//
// Topic metadata (name, partition count, config overrides, creation time)
// and consumer groups' committed offsets live in the metadata store
// (internal/metastore): meta.db, tables broker_topics and group_offsets
// (group_offsets.go), or PostgreSQL in cluster mode; Kafka transactions' coordinator
// state in table broker_txns (txn.go). Partition p of topic t lives in
// DataDir/topics/t/p/.
package broker

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/broker/internal/log"
	"github.com/sluicehq/sluice/internal/metastore"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// Config configures a Broker. Zero fields take the defaults named.
type Config struct {
	// DB is meta.db (internal/metadb); the broker keeps topic metadata there
	// (unless Meta is set) and its Kafka transaction and producer-id state.
	// Required.
	DB *sql.DB
	// Meta holds topic metadata, the cluster id and group offsets; nil
	// means meta.db (metastore.NewSQLite on DB). Cluster mode passes the
	// PostgreSQL store.
	Meta metastore.Store
	// NoTopicData, when not empty, makes a node that keeps no topic data
	// (cluster mode without a shared log, where another node holds it):
	// Open loads no topic, and creating or using one fails with this
	// reason.
	NoTopicData string
	// DataDir is the data directory; partitions live under DataDir/topics.
	// Required.
	DataDir string
	// Fsync is the durability policy of appends; the zero value is "always".
	Fsync FsyncPolicy
	// Logger receives lifecycle logs; nil discards.
	Logger *slog.Logger
	// Validator, when set, checks every Produce request after the broker's
	// own checks and before anything is appended: the seam where schema
	// enforcement plugs in. nil accepts every record.
	Validator RecordValidator
	// MaxRequestBytes limits the record bytes (keys, values, headers) of one
	// Produce request; 0 means DefaultMaxRequestBytes (16 MiB).
	MaxRequestBytes int
	// MaintenanceInterval is how often each partition applies retention and
	// compaction in the background; 0 means the log's default (1 minute),
	// < 0 never (tests call RunMaintenance).
	MaintenanceInterval time.Duration
	// SyncConcurrency bounds how many partitions fdatasync at once (see
	// log.SyncGate for why); 0 means DefaultSyncConcurrency. The debug knob
	// SLUICE_SYNC_CONCURRENCY overrides it (unstable, for experiments).
	SyncConcurrency int
	// Now is the clock used for record timestamps, retention and group
	// session timeouts; nil is time.Now. Tests inject a fake clock to drive
	// retention and expire group members.
	Now func() time.Time
	// GroupMinSessionTimeout and GroupMaxSessionTimeout bound the session
	// timeout a group member may ask for; 0 means 1s and 30m.
	GroupMinSessionTimeout, GroupMaxSessionTimeout time.Duration
	// TransactionalIDExpiration is how long a transactional id whose
	// transaction is complete may go unused before it is forgotten (its
	// state deleted; a producer that comes back gets a new producer id), as
	// Kafka's transactional.id.expiration.ms; 0 means
	// DefaultTransactionalIDExpiration (7 days), < 0 never.
	TransactionalIDExpiration time.Duration
	// GroupTickInterval is how often group session timeouts are checked; 0
	// means DefaultGroupTickInterval (1s), < 0 never (tests call TickGroups).
	GroupTickInterval time.Duration
	// GroupInitialRebalanceDelay is how long the first rebalance of an
	// empty classic (Kafka JoinGroup) group waits for more members; 0 means
	// DefaultGroupInitialRebalanceDelay (3s, as Kafka), < 0 none.
	GroupInitialRebalanceDelay time.Duration
	// GroupHeartbeatInterval is the heartbeat interval answered to
	// heartbeating members (Kafka's group.consumer.heartbeat.interval.ms);
	// 0 means a third of the member's session timeout, at most 5s.
	GroupHeartbeatInterval time.Duration
	// GroupLeases, in cluster mode, makes the node coordinate a group only
	// while it holds the group's lease in the cluster's database
	// (group_lease.go); nil: the node coordinates every group (embedded).
	GroupLeases metastore.GroupLeases
	// NodeID is the node's id in the cluster: the lease holder's name.
	// Required with GroupLeases.
	NodeID string
	// GroupLeaseTTL is how long a group lease lasts without renewal; 0
	// means DefaultGroupLeaseTTL.
	GroupLeaseTTL time.Duration
	// GroupPeers, in cluster mode, lets the GroupService forward a call
	// about a group that another node coordinates to that node
	// (group_forward.go); nil: such calls answer Unavailable naming it.
	GroupPeers GroupPeers
	// Shared, when set, keeps every partition in the cluster's shared log
	// (record bytes in the object store, offsets in PostgreSQL) instead of
	// under DataDir, and keeps the open topics those of Meta, which other
	// nodes change too (cluster_log.go). It needs Meta.
	Shared *SharedConfig
	// ObserveSync, when set, is told how long each fdatasync of a
	// partition's group commit took (the durability point of an ack under
	// --fsync=always); it runs on the appending goroutine and must not
	// block. The metrics package sets it.
	ObserveSync func(time.Duration)
}

// FsyncPolicy says when appends reach stable storage (the --fsync flag).
type FsyncPolicy = log.FsyncPolicy

// ParseFsyncPolicy parses "always", "never" or "interval:<duration>".
func ParseFsyncPolicy(s string) (FsyncPolicy, error) { return log.ParseFsyncPolicy(s) }

// DefaultSyncConcurrency is the default bound on concurrent fdatasyncs.
const DefaultSyncConcurrency = 1

// Broker owns the topics of one data directory. Its methods are safe for
// concurrent use.
type Broker struct {
	cfg      Config
	syncGate *log.SyncGate // shared by every partition: they sit on one disk
	journal  *log.Journal  // the partitions' shared durability point under fsync=always; nil otherwise
	log      *slog.Logger
	db       *sql.DB
	meta     metastore.Store // topics, cluster id, group offsets

	admin sync.Mutex // serialises topic create, delete, alter; before mu

	mu     sync.RWMutex
	topics map[string]*topic
	closed bool

	// drain is closed when the broker starts shutting down: long polls and
	// subscriptions end so that an HTTP server can drain.
	drain     chan struct{}
	drainOnce sync.Once
	closeOnce sync.Once
	closeErr  error

	// clusterID is the persistent Kafka cluster id (cluster.go).
	clusterID string

	// groups is the consumer-group coordinator and offset store (group.go).
	groups *groupRuntime

	// txns is the Kafka transaction coordinator (txn.go).
	txns *txnRuntime

	// shared is the cluster's shared log (Config.Shared, cluster_log.go);
	// nil keeps partitions in local directories.
	shared *sharedRuntime

	// refused counts produce refusals (stats.go).
	refused refusals

	// waitHook, set only by tests (export_test.go), runs when a Fetch
	// long poll or an idle subscription is about to wait.
	waitHook func()
	// txnInsertHook, set only by tests (export_test.go), runs on a cluster
	// node just before it stores a transactional id's first state.
	txnInsertHook func(id string)
}

// Open loads every topic and recovers its partitions. Topics whose deletion
// was interrupted by a crash are finished off here.
func Open(ctx context.Context, cfg Config) (*Broker, error) {
	if cfg.DB == nil {
		return nil, errors.New("broker: Config.DB is nil")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("broker: Config.DataDir is empty")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if v, err := strconv.Atoi(os.Getenv("SLUICE_SYNC_CONCURRENCY")); err == nil && v > 0 {
		cfg.SyncConcurrency = v
	}
	if cfg.SyncConcurrency <= 0 {
		cfg.SyncConcurrency = DefaultSyncConcurrency
	}
	b := &Broker{
		syncGate: log.NewSyncGate(cfg.SyncConcurrency),
		cfg:      cfg,
		log:      cfg.Logger,
		db:       cfg.DB,
		topics:   make(map[string]*topic),
		drain:    make(chan struct{}),
	}
	b.syncGate.SetObserver(cfg.ObserveSync) // stats.go: the fsync histogram
	if err := os.MkdirAll(b.topicsDir(), 0o755); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	if err := b.openJournal(); err != nil {
		return nil, err
	}
	if cfg.Shared != nil && cfg.Meta == nil {
		return nil, errors.New("broker: Config.Shared needs Config.Meta (the topics of a shared log are the cluster's)")
	}
	if err := b.openShared(ctx); err != nil { // cluster_log.go
		b.Close()
		return nil, err
	}
	if err := b.load(ctx); err != nil {
		b.Close()
		return nil, err
	}
	if b.journal != nil {
		if err := b.journal.FinishRecovery(); err != nil {
			b.Close()
			return nil, fmt.Errorf("broker: %w", err)
		}
	}
	b.startShared() // cluster_log.go
	if err := b.startGroups(ctx); err != nil {
		b.Close()
		return nil, err
	}
	if err := b.startTxns(ctx); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// openJournal opens DataDir/journal under fsync=always: the one durability
// point of every partition (see log.Journal for why). The debug knob
// SLUICE_JOURNAL=off makes each partition sync its own segments instead
// (unstable, for experiments).
func (b *Broker) openJournal() error {
	if b.cfg.Fsync.Mode != log.FsyncAlways || os.Getenv("SLUICE_JOURNAL") == "off" {
		return nil
	}
	j, err := log.OpenJournal(nil, filepath.Join(b.cfg.DataDir, "journal"), b.log)
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	j.SetObserver(b.cfg.ObserveSync) // stats.go: the fsync histogram
	b.journal = j
	return nil
}

// topicsDir is DataDir/topics.
func (b *Broker) topicsDir() string { return filepath.Join(b.cfg.DataDir, "topics") }

// Mount registers the TopicService, BrokerService and GroupService handlers
// on mux.
func (b *Broker) Mount(mux *http.ServeMux, opts ...connect.HandlerOption) {
	mux.Handle(brokerv1connect.NewTopicServiceHandler(topicService{b}, opts...))
	// Produce requests decode without a heap object per record
	// (wire_produce.go); the other services keep connect's codec.
	brokerOpts := append(append([]connect.HandlerOption(nil), opts...), connect.WithCodec(produceCodec{}))
	mux.Handle(brokerv1connect.NewBrokerServiceHandler(brokerService{b}, brokerOpts...))
	// ProduceAndCommit requests likewise (wire_produce_commit.go).
	groupOpts := append(append([]connect.HandlerOption(nil), opts...), connect.WithCodec(groupCodec{}))
	mux.Handle(brokerv1connect.NewGroupServiceHandler(groupService{b}, groupOpts...))
}

// topicService and brokerService carry the Connect handlers, so that the
// Broker's own method set stays the transport-free core.
type (
	topicService  struct{ b *Broker }
	brokerService struct{ b *Broker }
)

// Drain ends every Subscribe stream and Fetch long-poll (they answer
// Unavailable) so an HTTP server shutting down is not held open by idle
// consumers; register it with http.Server.RegisterOnShutdown. Produce and
// short reads keep working until Close. Drain is idempotent.
func (b *Broker) Drain() { b.drainOnce.Do(func() { close(b.drain) }) }

// Close drains, then syncs and closes every partition. Close is idempotent;
// later calls return the first call's result.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		b.Drain()
		b.stopTxns()
		b.stopGroups()
		b.mu.Lock()
		b.closed = true
		topics := b.topics
		b.topics = map[string]*topic{}
		b.mu.Unlock()
		var errs []error
		for _, t := range topics {
			errs = append(errs, t.close())
		}
		if b.journal != nil {
			errs = append(errs, b.journal.Close())
		}
		errs = append(errs, b.stopShared()) // cluster_log.go
		b.closeErr = errors.Join(errs...)
	})
	return b.closeErr
}

// lookup returns the live topic called name. With a shared log, a name
// this node does not know makes it read the topic rows again first (the
// topic may have been created on another node); callers holding b.admin
// use lookupAdmin.
func (b *Broker) lookup(name string) (*topic, error) {
	t, err := b.lookupLocal(name)
	if b.shared != nil && errors.Is(err, ErrTopicNotFound) {
		b.syncTopics(time.Now()) // cluster_log.go
		t, err = b.lookupLocal(name)
	}
	return t, err
}

// lookupLocal returns the open topic called name.
func (b *Broker) lookupLocal(name string) (*topic, error) {
	b.mu.RLock()
	t, ok := b.topics[name]
	closed := b.closed
	b.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	if !ok {
		if b.cfg.NoTopicData != "" {
			return nil, fmt.Errorf("topic %q: %w: %s", name, ErrTopicNotFound, b.cfg.NoTopicData)
		}
		return nil, fmt.Errorf("topic %q: %w", name, ErrTopicNotFound)
	}
	return t, nil
}

// RunMaintenance applies retention and compaction to every partition now,
// as the background maintenance does every Config.MaintenanceInterval.
// Tests call it (with MaintenanceInterval < 0) to see the effects at once.
func (b *Broker) RunMaintenance(now time.Time) error {
	b.mu.RLock()
	ts := make([]*topic, 0, len(b.topics))
	for _, t := range b.topics {
		ts = append(ts, t)
	}
	b.mu.RUnlock()
	var errs []error
	for _, t := range ts {
		for i, p := range t.parts {
			if err := p.RunMaintenance(now); err != nil {
				errs = append(errs, fmt.Errorf("broker: maintenance of %s/%d: %w", t.name, i, err))
			}
		}
	}
	return errors.Join(errs...)
}
