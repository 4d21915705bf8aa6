package broker

// Cluster mode with a shared log (Config.Shared): every partition lives in
// the cluster's shared log (broker/internal/shared: record bytes in the
// object store, offsets in PostgreSQL), so every node serves every topic.
//
// Topics are rows of the metadata store (PostgreSQL), created, altered and
// deleted by any node. A node learns of other nodes' changes by reading the
// rows again (syncTopicsLocked): every SharedConfig.TopicPoll, and at once
// when a request names a topic the node does not know (lookup), so that a
// topic created on node A is usable on node B by the next request. A topic
// whose row is gone (or marked deleted, or recreated with a new id) is
// closed on this node; one that appeared is opened; a grown partition count
// opens the new partitions; changed configs are applied.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/broker/internal/log"
	"github.com/sluicehq/sluice/broker/internal/shared"
	"github.com/sluicehq/sluice/internal/pgnotify"
	"github.com/sluicehq/sluice/objstore"
)

// SharedConfig makes a broker keep its partitions in the cluster's shared
// log instead of local directories (Config.Shared).
type SharedConfig struct {
	// Pool is the cluster's PostgreSQL; required. The shared log's tables
	// are created there (shared.Migrate) when missing.
	Pool *pgxpool.Pool
	// Notify is the node's PostgreSQL notification hub (internal/pgnotify),
	// shared with its other components; nil: the shared log opens its own
	// on Pool.
	Notify *pgnotify.Hub
	// Objects is the object store every node shares; required.
	Objects objstore.Store
	// Node is this node's id (it names the node's objects); required.
	Node string
	// Window is how long the node collects produced batches before writing
	// them as one object; 0 means the shared log's default (5 ms).
	Window time.Duration
	// TopicPoll is how often the node reads the topic rows again to learn
	// of other nodes' creations, deletions and changes; 0 means 1 s.
	TopicPoll time.Duration
	// MergeRate is how many segment bytes a second the node's merges may
	// write (the shared log's Config.MergeRate); 0 means its default (8
	// MiB/s), < 0 no limit.
	MergeRate int64
	// GCInterval is how often the node deletes dead and orphaned objects
	// (the shared log's Config.GCInterval); 0 means its default (1
	// minute), < 0 never.
	GCInterval time.Duration
	// ObservePut, when set, is told how long each object's PUT took (its
	// retries included) once it succeeded, and ObserveCommit how long each
	// successful commit call took (metrics.Metrics has both).
	ObservePut, ObserveCommit func(time.Duration)
}

// DefaultTopicPoll is SharedConfig.TopicPoll's default.
const DefaultTopicPoll = time.Second

// sharedRuntime is the broker's shared log and its background loops.
type sharedRuntime struct {
	log  *shared.Log
	cfg  SharedConfig
	stop chan struct{}
	wg   sync.WaitGroup
	// synced is when the last topic sync started (Unix ns): a lookup that
	// missed after it needs a new one.
	synced atomic.Int64
}

// openShared opens the shared log (Config.Shared); a no-op without one.
func (b *Broker) openShared(ctx context.Context) error {
	sc := b.cfg.Shared
	if sc == nil {
		return nil
	}
	if sc.Pool == nil || sc.Objects == nil || sc.Node == "" {
		return errors.New("broker: Config.Shared needs Pool, Objects and Node")
	}
	if sc.TopicPoll <= 0 {
		sc.TopicPoll = DefaultTopicPoll
	}
	if err := shared.Migrate(ctx, sc.Pool); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	l, err := shared.Open(ctx, shared.Config{
		Pool: sc.Pool, Notify: sc.Notify, Objects: sc.Objects, Node: sc.Node, Window: sc.Window, GCInterval: sc.GCInterval, MergeRate: sc.MergeRate,
		Logger: b.log.With("component", "shared_log"), Now: b.cfg.Now,
		ObservePut: sc.ObservePut, ObserveCommit: sc.ObserveCommit,
	})
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	b.shared = &sharedRuntime{log: l, cfg: *sc, stop: make(chan struct{})}
	return nil
}

// startShared starts the topic poll and the maintenance of the shared
// partitions (after load).
func (b *Broker) startShared() {
	sr := b.shared
	if sr == nil {
		return
	}
	sr.wg.Add(1)
	go func() {
		defer sr.wg.Done()
		tick := time.NewTicker(sr.cfg.TopicPoll)
		defer tick.Stop()
		for {
			select {
			case <-sr.stop:
				return
			case <-tick.C:
			}
			b.syncTopics(time.Now())
		}
	}()
	if every := b.cfg.MaintenanceInterval; every >= 0 {
		if every == 0 {
			every = log.DefaultMaintenanceInterval
		}
		sr.wg.Add(1)
		go func() {
			defer sr.wg.Done()
			b.sharedMaintenance(every)
		}()
	}
}

// sharedMaintenance applies retention, the merge compactor and key
// compaction (cleanup.policy=compact) to every
// shared partition open on this node until the broker closes. Every node
// does it; the shared log tolerates that. (The shared log collects
// garbage objects itself, every SharedConfig.GCInterval.)
//
// The first pass comes at a random point of the first interval: nodes
// started together would otherwise merge at the same moments, every
// interval (in the cluster benchmark, the first such moment cut a node's
// produce to 7k records/s for a second, with commits of 30 ms).
func (b *Broker) sharedMaintenance(every time.Duration) {
	sr := b.shared
	first := time.NewTimer(rand.N(every) + 1)
	defer first.Stop()
	select {
	case <-sr.stop:
		return
	case <-first.C:
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if err := b.RunMaintenance(b.cfg.Now()); err != nil {
			b.log.Warn("shared log maintenance", "err", err)
		}
		select {
		case <-sr.stop:
			return
		case <-tick.C:
		}
	}
}

// stopShared stops the loops and closes the shared log (after the topics
// are closed).
func (b *Broker) stopShared() error {
	sr := b.shared
	if sr == nil {
		return nil
	}
	close(sr.stop)
	sr.wg.Wait()
	return sr.log.Close()
}

// syncTopics runs a topic sync unless one started after missed (the time a
// lookup missed, or the poll's tick): concurrent misses share one.
func (b *Broker) syncTopics(missed time.Time) {
	b.admin.Lock()
	defer b.admin.Unlock()
	if b.shared.synced.Load() >= missed.UnixNano() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.syncTopicsLocked(ctx); err != nil {
		b.log.Warn("reading topics from the metadata store", "err", err)
	}
}

// lookupAdmin is lookup for callers holding b.admin: on a miss in cluster
// mode it reads the topic rows again first.
func (b *Broker) lookupAdmin(ctx context.Context, name string) (*topic, error) {
	t, err := b.lookupLocal(name)
	if b.shared == nil || !errors.Is(err, ErrTopicNotFound) {
		return t, err
	}
	if err := b.syncTopicsLocked(ctx); err != nil {
		return nil, err
	}
	return b.lookupLocal(name)
}

// syncTopicsLocked makes the open topics those of the metadata store's
// rows. b.admin is held. A topic that fails to open is logged and tried
// again by the next sync.
func (b *Broker) syncTopicsLocked(ctx context.Context) error {
	b.shared.synced.Store(time.Now().UnixNano())
	rows, err := b.meta.Topics(ctx)
	if err != nil {
		return fmt.Errorf("broker: read topics: %w", err)
	}
	live := make(map[string]bool, len(rows))
	for _, r := range rows {
		if r.Deleted {
			continue // being deleted by the node that marked it
		}
		live[r.Name] = true
		id, err := ParseTopicID(r.ID)
		if err != nil {
			b.log.Error("topic row", "topic", r.Name, "err", err)
			continue
		}
		var overrides map[string]string
		if err := json.Unmarshal([]byte(r.Configs), &overrides); err != nil {
			b.log.Error("topic row", "topic", r.Name, "err", fmt.Errorf("configs: %w", err))
			continue
		}
		canon, err := canonConfigs(overrides)
		if err != nil {
			b.log.Error("topic row", "topic", r.Name, "err", fmt.Errorf("configs: %w", err))
			continue
		}
		b.mu.RLock()
		cur := b.topics[r.Name]
		b.mu.RUnlock()
		if cur != nil && cur.id != id {
			b.dropTopic(cur, "recreated on another node")
			cur = nil
		}
		if cur == nil {
			t, err := b.openTopic(ctx, r.Name, id, r.Partitions, time.UnixMilli(r.CreatedMs), newTopicConfig(canon))
			if err != nil {
				b.log.Error("opening a topic created on another node", "topic", r.Name, "err", err)
				continue
			}
			if !b.putTopic(t) {
				return ErrClosed
			}
			b.log.Info("topic opened (created on another node)", "topic", r.Name, "partitions", r.Partitions)
			continue
		}
		if !maps.Equal(cur.cfg.Load().Overrides, canon) {
			cfg := newTopicConfig(canon)
			cur.cfg.Store(cfg)
			lc := cfg.logConfig(b)
			for i, p := range cur.parts {
				if err := p.Reconfigure(lc); err != nil {
					b.log.Error("applying configs altered on another node", "topic", r.Name, "partition", i, "err", err)
				}
			}
		}
		if r.Partitions > len(cur.parts) {
			lc := cur.cfg.Load().logConfig(b)
			added := make([]partLog, 0, r.Partitions-len(cur.parts))
			for i := len(cur.parts); i < r.Partitions; i++ {
				p, err := b.openPartition(ctx, r.Name, id, i, lc)
				if err != nil {
					b.log.Error("opening partitions added on another node", "topic", r.Name, "partition", i, "err", err)
					break
				}
				added = append(added, p)
			}
			if len(added) > 0 {
				nt := cur.grown(added)
				b.mu.Lock()
				if b.topics[r.Name] == cur {
					b.topics[r.Name] = nt
				}
				b.mu.Unlock()
			}
		}
	}
	b.mu.RLock()
	var gone []*topic
	for name, t := range b.topics {
		if !live[name] {
			gone = append(gone, t)
		}
	}
	b.mu.RUnlock()
	for _, t := range gone {
		b.dropTopic(t, "deleted on another node")
	}
	return nil
}

// putTopic adds t to the open topics; false (t closed) once the broker is
// closed.
func (b *Broker) putTopic(t *topic) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		t.close()
		return false
	}
	b.topics[t.name] = t
	return true
}

// dropTopic closes t on this node (its data stays in the cluster).
func (b *Broker) dropTopic(t *topic, why string) {
	b.mu.Lock()
	if b.topics[t.name] == t {
		delete(b.topics, t.name)
	}
	b.mu.Unlock()
	if err := t.close(); err != nil {
		b.log.Warn("closing a topic", "topic", t.name, "err", err)
	}
	b.log.Info("topic closed", "topic", t.name, "reason", why)
}

// grown is t with partitions added: a new value sharing t's partitions
// (readers index a topic's slice without locks).
func (t *topic) grown(added []partLog) *topic {
	nt := &topic{name: t.name, id: t.id, created: t.created,
		parts: append(slices.Clip(t.parts), added...), stats: append(slices.Clip(t.stats), newPartStats(len(added))...)}
	nt.cfg.Store(t.cfg.Load())
	nt.rr.Store(t.rr.Load())
	return nt
}

// deleteShared deletes a topic's partitions from the shared log; a no-op
// without one.
func (b *Broker) deleteShared(ctx context.Context, name, id string) error {
	if b.shared == nil || id == "" {
		return nil
	}
	if _, err := b.shared.log.DeleteTopic(ctx, id); err != nil {
		return fmt.Errorf("delete topic %s: shared log: %w", name, sharedErr(err))
	}
	return nil
}

// openSharedPartition opens partition i of the topic with id from the
// shared log.
func (b *Broker) openSharedPartition(ctx context.Context, id TopicID, i int, lc log.Config) (partLog, error) {
	p, err := b.shared.log.Partition(ctx, id.String(), int32(i), lc)
	if err != nil {
		if errors.Is(err, shared.ErrUnavailable) || errors.Is(err, shared.ErrClosed) {
			return nil, sharedErr(err)
		}
		// A config the shared log refuses (sizes out of range).
		return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	sp := &sharedPart{Partition: p}
	sp.setConfig(lc)
	return sp, nil
}

// SharedPartitionStatus is one shared partition as PostgreSQL records it,
// named by topic (SharedPartitions).
type SharedPartitionStatus struct {
	Topic          string
	Partition      int32
	HighWatermark  int64
	LogStartOffset int64
	// Bytes are the stored batch bytes at or above the log start.
	Bytes int64
	// Objects is the number of objects holding the partition's batches.
	Objects int64
}

// SharedPartitions lists the shared log's partitions of the live topics,
// by topic and partition: what `sluice cluster status` shows. It fails
// without a shared log (Config.Shared).
func (b *Broker) SharedPartitions(ctx context.Context) ([]SharedPartitionStatus, error) {
	if b.shared == nil {
		return nil, errors.New("broker: no shared log")
	}
	rows, err := b.meta.Topics(ctx)
	if err != nil {
		return nil, fmt.Errorf("broker: read topics: %w", err)
	}
	names := make(map[string]string, len(rows))
	for _, r := range rows {
		if !r.Deleted {
			names[r.ID] = r.Name
		}
	}
	infos, err := shared.Partitions(ctx, b.cfg.Shared.Pool)
	if err != nil {
		return nil, err
	}
	out := make([]SharedPartitionStatus, 0, len(infos))
	for _, in := range infos {
		name, ok := names[in.TopicID]
		if !ok {
			continue // a deleted topic's leftovers
		}
		out = append(out, SharedPartitionStatus{Topic: name, Partition: in.Partition, HighWatermark: in.HighWatermark,
			LogStartOffset: in.LogStartOffset, Bytes: in.Bytes, Objects: in.Objects})
	}
	slices.SortFunc(out, func(x, y SharedPartitionStatus) int {
		if x.Topic != y.Topic {
			if x.Topic < y.Topic {
				return -1
			}
			return 1
		}
		return int(x.Partition - y.Partition)
	})
	return out, nil
}

// sharedPart is a partition of the shared log. It encodes Enqueue's
// records itself (with the topic's limits and clock) and translates the
// shared log's errors (sharedErr).
type sharedPart struct {
	*shared.Partition
	cfg atomic.Pointer[log.Config]
}

var _ partLog = (*sharedPart)(nil)

func (p *sharedPart) setConfig(lc log.Config) {
	if lc.Now == nil {
		lc.Now = time.Now
	}
	if lc.MaxBatchBytes == 0 {
		lc.MaxBatchBytes = log.DefaultMaxBatchBytes
	}
	if lc.MaxRecordBytes == 0 {
		lc.MaxRecordBytes = log.DefaultMaxRecordBytes
	}
	p.cfg.Store(&lc)
}

// sharedWait is a shared partition's queued batch.
type sharedWait struct{ w *shared.Pending }

func (w sharedWait) Wait(ctx context.Context) (int64, error) {
	base, err := w.w.Wait(ctx)
	return base, sharedErr(err)
}

func (p *sharedPart) Enqueue(recs []log.Record) (appendWait, error) {
	c := p.cfg.Load()
	batch, err := log.EncodeBatch(recs, c.Now().UnixMilli(), c.MaxRecordBytes, c.MaxBatchBytes)
	if err != nil {
		return nil, err
	}
	return p.EnqueueBatch(batch)
}

func (p *sharedPart) EnqueueBatch(b *log.Batch) (appendWait, error) {
	w, err := p.Partition.EnqueueBatch(b)
	if err != nil {
		return nil, sharedErr(err)
	}
	return sharedWait{w}, nil
}

// CheckSequence asks PostgreSQL what the commit would make of b's
// idempotent-producer fields now; the commit checks again.
func (p *sharedPart) CheckSequence(b *log.Batch) (bool, error) {
	dup, err := p.Partition.CheckSequence(b)
	return dup, sharedErr(err)
}

// NewTxnBatch encodes a ProduceAndCommit's transactional batch; the
// commit checks it against the transaction's gate.
func (p *sharedPart) NewTxnBatch(recs []log.Record, pid int64, epoch int16, nowMs int64) (*log.Batch, error) {
	c := p.cfg.Load()
	return log.EncodeTxnBatch(recs, pid, epoch, nowMs, c.MaxRecordBytes, c.MaxBatchBytes)
}

func (p *sharedPart) Append(ctx context.Context, recs []log.Record) (int64, error) {
	off, err := p.Partition.Append(ctx, recs)
	return off, sharedErr(err)
}

func (p *sharedPart) AppendBatch(ctx context.Context, b *log.Batch) (int64, error) {
	off, err := p.Partition.AppendBatch(ctx, b)
	return off, sharedErr(err)
}

func (p *sharedPart) ReadBatches(dst []byte, offset int64, maxBytes int, always bool) ([]byte, int64, error) {
	out, hw, err := p.Partition.ReadBatches(dst, offset, maxBytes, always)
	return out, hw, sharedErr(err)
}

func (p *sharedPart) ReadBatchesBelow(dst []byte, offset int64, maxBytes int, always bool, end int64) ([]byte, int64, error) {
	out, hw, err := p.Partition.ReadBatchesBelow(dst, offset, maxBytes, always, end)
	return out, hw, sharedErr(err)
}

func (p *sharedPart) Read(offset int64, maxRecords, maxBytes int) ([]log.Record, error) {
	recs, err := p.Partition.Read(offset, maxRecords, maxBytes)
	return recs, sharedErr(err)
}

func (p *sharedPart) ReadFunc(offset int64, maxRecords, maxBytes int, rb *log.ReadBuffer, visit func(*log.Record) error) (int, error) {
	n, err := p.Partition.ReadFunc(offset, maxRecords, maxBytes, rb, visit)
	return n, sharedErr(err)
}

func (p *sharedPart) OffsetForTime(ts int64) (int64, error) {
	off, err := p.Partition.OffsetForTime(ts)
	return off, sharedErr(err)
}

func (p *sharedPart) DeleteRecordsBefore(offset int64) (int64, error) {
	start, err := p.Partition.DeleteRecordsBefore(offset)
	return start, sharedErr(err)
}

func (p *sharedPart) RunMaintenance(now time.Time) error {
	return sharedErr(p.Partition.RunMaintenance(now))
}

func (p *sharedPart) Reconfigure(cfg log.Config) error {
	if err := p.Partition.Reconfigure(cfg); err != nil {
		return invalidf("%v", err)
	}
	p.setConfig(cfg)
	return nil
}

func (p *sharedPart) WriteTxnMarker(ctx context.Context, pid int64, epoch int16, commit bool, coordinatorEpoch int32) (int64, error) {
	off, err := p.Partition.WriteTxnMarker(ctx, pid, epoch, commit, coordinatorEpoch)
	return off, sharedErr(err)
}

// sharedError is an error of the shared log that also matches the
// broker's and the local log's sentinel errors, so that the transports map
// it as they map the local log's.
type sharedError struct {
	err error
	as  error
}

func (e *sharedError) Error() string   { return e.err.Error() }
func (e *sharedError) Unwrap() []error { return []error{e.err, e.as} }

// sharedErr translates a shared log error: closed and unavailable (the
// database or the object store did not answer in time, or the outcome of
// a commit is unknown) are ErrClosed and ErrStorage (clients retry); a
// deleted partition is ErrTopicNotFound; transactions are
// ErrInvalidArgument; a corrupt object is ErrStorage.
func sharedErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, shared.ErrClosed):
		return &sharedError{err, log.ErrClosed}
	case errors.Is(err, shared.ErrUnavailable), errors.Is(err, shared.ErrOutcomeUnknown):
		return &sharedError{err, errors.Join(log.ErrClosed, ErrStorage)}
	case errors.Is(err, shared.ErrPartitionDeleted):
		return &sharedError{err, ErrTopicNotFound}
	case errors.Is(err, shared.ErrNotInTransaction):
		return &sharedError{err, ErrInvalidTxnState}
	case errors.Is(err, shared.ErrCorruptObject):
		return &sharedError{err, ErrStorage}
	}
	return err
}
