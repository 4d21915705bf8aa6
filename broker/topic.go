package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/internal/metastore"
)

// topic is one live topic. Its partitions never change; its config is
// replaced atomically by AlterTopicConfigs.
type topic struct {
	name    string
	id      TopicID
	created time.Time
	parts   []partLog
	cfg     atomic.Pointer[TopicConfig]
	// rr is the round-robin cursor for records without a key.
	rr atomic.Uint32
	// stats are the partitions' counters, by partition (stats.go).
	stats []*partStats
}

// close closes every partition.
func (t *topic) close() error {
	var errs []error
	for _, p := range t.parts {
		if p != nil {
			errs = append(errs, p.Close())
		}
	}
	return errors.Join(errs...)
}

// partition returns partition p or an InvalidArgument error naming the range.
func (t *topic) partition(p int32) (partLog, error) {
	if p < 0 || int(p) >= len(t.parts) {
		return nil, invalidf("topic %s: partition %d does not exist (the topic has partitions 0..%d)", t.name, p, len(t.parts)-1)
	}
	return t.parts[p], nil
}

// ValidateTopicName checks Kafka's rule: 1 to 249 characters of
// [a-zA-Z0-9._-], neither "." nor "..".
func ValidateTopicName(name string) error {
	switch {
	case name == "":
		return invalidf("topic name is empty")
	case len(name) > MaxTopicNameLength:
		return invalidf("topic name %.20q... is %d characters; the limit is %d", name, len(name), MaxTopicNameLength)
	case name == "." || name == "..":
		return invalidf("topic name %q is not allowed", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return invalidf("topic name %q: character %q at %d is not allowed; use [a-zA-Z0-9._-]", name, rune(c), i)
		}
	}
	return nil
}

// partitionDir is where partition p of topic name lives.
func (b *Broker) partitionDir(name string, p int) string {
	return filepath.Join(b.topicsDir(), name, strconv.Itoa(p))
}

// load finishes interrupted deletions and opens every topic's partitions
// (the metadata store applied its migrations when it opened).
func (b *Broker) load(ctx context.Context) error {
	b.meta = b.cfg.Meta
	if b.meta == nil {
		m, err := metastore.NewSQLite(ctx, b.db)
		if err != nil {
			return fmt.Errorf("broker: %w", err)
		}
		b.meta = m
	}
	clusterID, err := b.loadClusterID(ctx)
	if err != nil {
		return err
	}
	b.clusterID = clusterID
	if err := b.assignMissingTopicIDs(ctx); err != nil {
		return err
	}
	if b.cfg.NoTopicData != "" {
		b.log.Info("broker keeps no topic data on this node", "reason", b.cfg.NoTopicData)
		return nil
	}
	all, err := b.meta.Topics(ctx)
	if err != nil {
		return fmt.Errorf("broker: load topics: %w", err)
	}
	for _, r := range all {
		if r.Deleted {
			b.log.Warn("finishing interrupted topic deletion", "topic", r.Name)
			if err := b.finishDelete(ctx, r.Name, r.ID); err != nil {
				return err
			}
			continue
		}
		var overrides map[string]string
		if err := json.Unmarshal([]byte(r.Configs), &overrides); err != nil {
			return fmt.Errorf("broker: topic %s: configs in meta.db: %w", r.Name, err)
		}
		// Canonicalising again refuses a key this binary does not know
		// rather than silently ignoring it.
		canon, err := canonConfigs(overrides)
		if err != nil {
			return fmt.Errorf("broker: topic %s: configs in meta.db: %w", r.Name, err)
		}
		id, err := ParseTopicID(r.ID)
		if err != nil {
			return fmt.Errorf("broker: topic %s: meta.db: %w", r.Name, err)
		}
		t, err := b.openTopic(ctx, r.Name, id, r.Partitions, time.UnixMilli(r.CreatedMs), newTopicConfig(canon))
		if err != nil {
			return err
		}
		b.topics[r.Name] = t
	}
	b.log.Info("broker loaded", "topics", len(b.topics), "data_dir", b.cfg.DataDir)
	return nil
}

// openTopic opens (creating if needed) the partitions of a topic: in
// local directories, or in the shared log (cluster_log.go).
func (b *Broker) openTopic(ctx context.Context, name string, id TopicID, partitions int, created time.Time, cfg *TopicConfig) (*topic, error) {
	t := &topic{name: name, id: id, created: created, parts: make([]partLog, partitions), stats: newPartStats(partitions)}
	t.cfg.Store(cfg)
	lc := cfg.logConfig(b)
	for i := range t.parts {
		p, err := b.openPartition(ctx, name, id, i, lc) // partition_log.go
		if err != nil {
			t.close()
			return nil, fmt.Errorf("broker: open topic %s partition %d: %w", name, i, err)
		}
		t.parts[i] = p
	}
	return t, nil
}

// TopicInfo describes a topic and its partitions.
type TopicInfo struct {
	Name string
	// ID is the topic's Kafka UUID, new at each creation.
	ID         TopicID
	Created    time.Time
	Partitions []PartitionInfo
	// Config is the effective configuration.
	Config *TopicConfig
}

// PartitionInfo is the state of one partition.
type PartitionInfo struct {
	Partition      int32
	LogStartOffset int64
	HighWatermark  int64
	SizeBytes      int64
}

// info describes t now.
func (t *topic) info() TopicInfo {
	ti := TopicInfo{Name: t.name, ID: t.id, Created: t.created, Config: t.cfg.Load(), Partitions: make([]PartitionInfo, len(t.parts))}
	for i, p := range t.parts {
		ti.Partitions[i] = PartitionInfo{
			Partition:      int32(i),
			LogStartOffset: p.LogStartOffset(),
			HighWatermark:  p.HighWatermark(),
			SizeBytes:      p.Size(),
		}
	}
	return ti
}

// CreateTopic creates a topic with partitions partitions (0 means 1) and
// config overrides. It refuses bad names, partition counts and configs with
// ErrInvalidArgument and a taken name with ErrTopicExists.
func (b *Broker) CreateTopic(ctx context.Context, name string, partitions int, configs map[string]string) (TopicInfo, error) {
	if err := ValidateTopicName(name); err != nil {
		return TopicInfo{}, err
	}
	if partitions == 0 {
		partitions = 1
	}
	if partitions < 1 || partitions > MaxPartitions {
		return TopicInfo{}, invalidf("create topic %s: %d partitions: want 1 to %d", name, partitions, MaxPartitions)
	}
	if b.cfg.NoTopicData != "" {
		return TopicInfo{}, invalidf("create topic %s: %s", name, b.cfg.NoTopicData)
	}
	canon, err := canonConfigs(configs)
	if err != nil {
		return TopicInfo{}, fmt.Errorf("create topic %s: %w", name, err)
	}
	b.admin.Lock()
	defer b.admin.Unlock()
	if _, err := b.lookupAdmin(ctx, name); err == nil {
		return TopicInfo{}, fmt.Errorf("create topic %s: %w", name, ErrTopicExists)
	} else if errors.Is(err, ErrClosed) {
		return TopicInfo{}, err
	}
	raw, err := json.Marshal(canon)
	if err != nil {
		return TopicInfo{}, fmt.Errorf("create topic %s: %w", name, err)
	}
	created := b.cfg.Now().Truncate(time.Millisecond)
	id := TopicID(newKafkaUUID())
	// The row goes in first: a crash after it leaves a topic whose
	// partitions Open creates; a crash before leaves nothing.
	if err := b.meta.CreateTopic(ctx, metastore.Topic{Name: name, Partitions: partitions, Configs: string(raw), CreatedMs: created.UnixMilli(), ID: id.String()}); err != nil {
		if errors.Is(err, metastore.ErrTopicExists) {
			return TopicInfo{}, fmt.Errorf("create topic %s: %w (a deletion of it is unfinished)", name, ErrTopicExists)
		}
		return TopicInfo{}, fmt.Errorf("create topic %s: %w", name, err)
	}
	// A directory without a row belongs to no topic (left by hand or by an
	// older crash); never let a new topic inherit its records.
	if err := os.RemoveAll(filepath.Join(b.topicsDir(), name)); err != nil {
		b.deleteRow(name)
		return TopicInfo{}, fmt.Errorf("create topic %s: %w", name, err)
	}
	t, err := b.openTopic(ctx, name, id, partitions, created, newTopicConfig(canon))
	if err != nil {
		b.deleteRow(name)
		return TopicInfo{}, err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		t.close()
		return TopicInfo{}, ErrClosed
	}
	b.topics[name] = t
	b.mu.Unlock()
	b.log.Info("topic created", "topic", name, "partitions", partitions)
	return t.info(), nil
}

// deleteRow undoes a failed creation; the error is logged because the
// caller is already returning another one.
func (b *Broker) deleteRow(name string) {
	if err := b.meta.DeleteTopic(context.Background(), name); err != nil {
		b.log.Error("undo topic creation", "topic", name, "err", err)
	}
}

// DeleteTopic deletes a topic and all its data. Requests in flight on the
// topic fail with ErrClosed. The deletion is crash-safe: the topic is marked
// deleted in meta.db first, and Open finishes an interrupted one.
func (b *Broker) DeleteTopic(ctx context.Context, name string) error {
	b.admin.Lock()
	defer b.admin.Unlock()
	t, err := b.lookupAdmin(ctx, name)
	if err != nil {
		return fmt.Errorf("delete topic: %w", err)
	}
	if err := b.meta.MarkTopicDeleted(ctx, name); err != nil {
		return fmt.Errorf("delete topic %s: %w", name, err)
	}
	b.mu.Lock()
	delete(b.topics, name)
	b.mu.Unlock()
	if err := t.close(); err != nil {
		b.log.Warn("closing deleted topic", "topic", name, "err", err)
	}
	if err := b.finishDelete(ctx, name, t.id.String()); err != nil {
		return err
	}
	b.log.Info("topic deleted", "topic", name)
	return nil
}

// finishDelete removes a topic's directory (or its partitions in the
// shared log, by topic id), then its row.
func (b *Broker) finishDelete(ctx context.Context, name, id string) error {
	if err := os.RemoveAll(filepath.Join(b.topicsDir(), name)); err != nil {
		return fmt.Errorf("delete topic %s: %w", name, err)
	}
	if err := b.deleteShared(ctx, name, id); err != nil { // cluster_log.go
		return err
	}
	if err := b.meta.DeleteTopic(ctx, name); err != nil {
		return fmt.Errorf("delete topic %s: %w", name, err)
	}
	return nil
}

// ListTopics describes every topic, by name. With a shared log it reads
// the topic rows first, so that topics other nodes created or deleted are
// current.
func (b *Broker) ListTopics() []TopicInfo {
	if b.shared != nil {
		b.syncTopics(time.Now()) // cluster_log.go: topics of other nodes too
	}
	b.mu.RLock()
	ts := slices.Collect(maps.Values(b.topics))
	b.mu.RUnlock()
	slices.SortFunc(ts, func(x, y *topic) int {
		if x.name < y.name {
			return -1
		}
		if x.name > y.name {
			return 1
		}
		return 0
	})
	out := make([]TopicInfo, len(ts))
	for i, t := range ts {
		out[i] = t.info()
	}
	return out
}

// DescribeTopic describes one topic.
func (b *Broker) DescribeTopic(name string) (TopicInfo, error) {
	t, err := b.lookup(name)
	if err != nil {
		return TopicInfo{}, fmt.Errorf("describe topic: %w", err)
	}
	return t.info(), nil
}

// AlterTopicConfigs sets and removes config overrides and applies them to
// the live partitions. A key may not be both set and deleted; all changes
// are validated before any is applied.
func (b *Broker) AlterTopicConfigs(ctx context.Context, name string, set map[string]string, del []string) (TopicInfo, error) {
	b.admin.Lock()
	defer b.admin.Unlock()
	t, err := b.lookupAdmin(ctx, name)
	if err != nil {
		return TopicInfo{}, fmt.Errorf("alter topic: %w", err)
	}
	canonSet, err := canonConfigs(set)
	if err != nil {
		return TopicInfo{}, fmt.Errorf("alter topic %s: %w", name, err)
	}
	next := maps.Clone(t.cfg.Load().Overrides)
	maps.Copy(next, canonSet)
	for _, k := range del {
		if err := checkConfigKey(k); err != nil {
			return TopicInfo{}, fmt.Errorf("alter topic %s: %w", name, err)
		}
		if _, ok := set[k]; ok {
			return TopicInfo{}, invalidf("alter topic %s: config %q is both set and deleted", name, k)
		}
		delete(next, k)
	}
	raw, err := json.Marshal(next)
	if err != nil {
		return TopicInfo{}, fmt.Errorf("alter topic %s: %w", name, err)
	}
	if err := b.meta.SetTopicConfigs(ctx, name, string(raw)); err != nil {
		return TopicInfo{}, fmt.Errorf("alter topic %s: %w", name, err)
	}
	cfg := newTopicConfig(next)
	t.cfg.Store(cfg)
	lc := cfg.logConfig(b)
	var errs []error
	for i, p := range t.parts {
		pc := lc
		pc.Logger = b.log.With("topic", name, "partition", i)
		if err := p.Reconfigure(pc); err != nil {
			errs = append(errs, fmt.Errorf("partition %d: %w", i, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		// meta.db has the new configs and Open applies them; say so.
		return TopicInfo{}, fmt.Errorf("alter topic %s: configs saved but not applied to the live partitions: %w", name, err)
	}
	b.log.Info("topic configs altered", "topic", name)
	return t.info(), nil
}
