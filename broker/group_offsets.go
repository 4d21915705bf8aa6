package broker

// Committed offsets of consumer groups live in the metadata store
// (internal/metastore): meta.db table group_offsets, under its own
// migration sequence (component "broker_groups"), or PostgreSQL in cluster
// mode.
//
// A row remembers the creation time of the topic it was committed for. A
// topic that is deleted, or deleted and created again under the same name,
// has a different (or no) creation time, so its old rows are invisible at
// once and the group ticker removes them (sweepOffsets): a deleted topic's
// offsets go with it, without the topic code knowing about groups. Creation
// times have millisecond resolution: a topic deleted and created again within
// the same millisecond would keep the old offsets (they are still bounded by
// its partitions and high watermarks when used).

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/metastore"
)

// MaxOffsetMetadataBytes limits the metadata of one committed offset (as
// Kafka's offset.metadata.max.bytes does).
const MaxOffsetMetadataBytes = 4096

// OffsetCommit is one partition's committed offset: the next offset the
// group reads there, with free-form metadata.
type OffsetCommit struct {
	Topic     string
	Partition int32
	Offset    int64
	Metadata  string
}

// sharedHWMWait bounds how long a commit waits for this node to learn of
// a shared partition's records that the client read on another node.
const sharedHWMWait = 5 * time.Second

// awaitHighWatermark returns p's high watermark for checking a commit of
// offset. A shared partition's records appended through another node reach
// this node's view within a notification or a poll, so a client that read
// them there may commit past the high watermark known here: then it waits
// (up to sharedHWMWait, or ctx) for the view to catch up.
func (b *Broker) awaitHighWatermark(ctx context.Context, p partLog, offset int64) int64 {
	hwm := p.HighWatermark()
	if offset <= hwm || b.cfg.Shared == nil {
		return hwm
	}
	t := time.NewTimer(sharedHWMWait)
	defer t.Stop()
	for {
		// Notify before looking, so an advance in between still wakes us.
		ch := p.Notify()
		if hwm = p.HighWatermark(); offset <= hwm {
			return hwm
		}
		select {
		case <-ch:
		case <-t.C:
			return p.HighWatermark()
		case <-ctx.Done():
			return p.HighWatermark()
		}
	}
}

// topicIdentity returns the creation time (Unix ms) and partition count of
// the live topic called name; ok is false when there is none.
func (b *Broker) topicIdentity(name string) (createdMs int64, partitions int32, ok bool) {
	b.mu.RLock()
	t := b.topics[name]
	b.mu.RUnlock()
	if t == nil {
		return 0, 0, false
	}
	return t.created.UnixMilli(), int32(len(t.parts)), true
}

// loadOffsets returns the committed offsets of a group that belong to live
// topics (and partitions they have), sorted by topic and partition.
func (b *Broker) loadOffsets(ctx context.Context, groupID string) ([]OffsetCommit, error) {
	rows, err := b.meta.GroupOffsets(ctx, groupID)
	if err != nil {
		return nil, fmt.Errorf("group %s: read committed offsets: %w", groupID, err)
	}
	var out []OffsetCommit
	for _, r := range rows {
		if c, n, ok := b.topicIdentity(r.Topic); ok && c == r.TopicCreatedMs && r.Partition < n {
			out = append(out, OffsetCommit{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Metadata: r.Metadata})
		}
	}
	slices.SortFunc(out, func(x, y OffsetCommit) int {
		if c := strings.Compare(x.Topic, y.Topic); c != 0 {
			return c
		}
		return int(x.Partition) - int(y.Partition)
	})
	return out, nil
}

// storeOffsets writes offsets in one transaction, without a coordinator's
// fence (a Kafka transaction's offsets, committed by EndTxn). The caller
// has checked that every topic and partition exists.
func (b *Broker) storeOffsets(ctx context.Context, groupID string, offs []OffsetCommit) error {
	return b.storeOffsetsFenced(ctx, groupID, metastore.Fence{}, offs)
}

// storeOffsetsFenced is storeOffsets for the group's coordinator: the
// database refuses it once fence's lease is lost (ErrNotCoordinator).
func (b *Broker) storeOffsetsFenced(ctx context.Context, groupID string, fence metastore.Fence, offs []OffsetCommit) error {
	rows := make([]metastore.Offset, len(offs))
	for i, oc := range offs {
		created, _, ok := b.topicIdentity(oc.Topic)
		if !ok {
			return fmt.Errorf("group %s: commit offsets: topic %q: %w", groupID, oc.Topic, ErrTopicNotFound)
		}
		rows[i] = metastore.Offset{Topic: oc.Topic, Partition: oc.Partition, Offset: oc.Offset, Metadata: oc.Metadata, TopicCreatedMs: created}
	}
	if err := b.meta.CommitOffsets(ctx, groupID, fence, rows, b.cfg.Now().UnixMilli()); err != nil {
		if errors.Is(err, metastore.ErrFenced) {
			return b.lostLease(groupID, fence, err)
		}
		return fmt.Errorf("group %s: commit offsets: %w", groupID, err)
	}
	return nil
}

// deleteOffsets removes every committed offset of a group and reports how
// many live ones there were.
func (b *Broker) deleteOffsets(ctx context.Context, groupID string, fence metastore.Fence) (int, error) {
	live, err := b.loadOffsets(ctx, groupID)
	if err != nil {
		return 0, err
	}
	if err := b.meta.DeleteGroupOffsets(ctx, groupID, fence); err != nil {
		if errors.Is(err, metastore.ErrFenced) {
			return 0, b.lostLease(groupID, fence, err)
		}
		return 0, fmt.Errorf("group %s: delete committed offsets: %w", groupID, err)
	}
	return len(live), nil
}

// offsetGroups lists the groups that have committed offsets of live topics.
func (b *Broker) offsetGroups(ctx context.Context) ([]string, error) {
	gts, err := b.meta.OffsetGroupTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	seen := map[string]bool{}
	for _, gt := range gts {
		if c, _, ok := b.topicIdentity(gt.Topic); ok && c == gt.TopicCreatedMs {
			seen[gt.Group] = true
		}
	}
	out := make([]string, 0, len(seen))
	for g := range seen {
		out = append(out, g)
	}
	slices.Sort(out)
	return out, nil
}

// sweepOffsets deletes the rows of topics that no longer exist (or were
// created again since) and of partitions beyond a topic's count.
func (b *Broker) sweepOffsets(ctx context.Context) error {
	gts, err := b.meta.OffsetGroupTopics(ctx)
	if err != nil {
		return fmt.Errorf("sweep group offsets: %w", err)
	}
	type key struct {
		topic   string
		created int64
	}
	var stale []key
	var live []key
	seen := map[key]bool{}
	for _, gt := range gts {
		k := key{gt.Topic, gt.TopicCreatedMs}
		if seen[k] {
			continue
		}
		seen[k] = true
		if c, _, ok := b.topicIdentity(k.topic); !ok || c != k.created {
			stale = append(stale, k)
		} else {
			live = append(live, k)
		}
	}
	for _, k := range stale {
		if err := b.meta.DeleteTopicOffsets(ctx, k.topic, k.created); err != nil {
			return fmt.Errorf("sweep group offsets of topic %s: %w", k.topic, err)
		}
	}
	for _, k := range live {
		_, n, ok := b.topicIdentity(k.topic)
		if !ok {
			continue
		}
		if err := b.meta.DeleteOffsetsFrom(ctx, k.topic, n); err != nil {
			return fmt.Errorf("sweep group offsets of topic %s: %w", k.topic, err)
		}
	}
	return nil
}

// deletePartitionOffsets removes a group's committed offsets of the
// partitions given, in one transaction.
func (b *Broker) deletePartitionOffsets(ctx context.Context, groupID string, fence metastore.Fence, tps []TopicPartition) error {
	if len(tps) == 0 {
		return nil
	}
	keys := make([]metastore.TopicPartition, len(tps))
	for i, tp := range tps {
		keys[i] = metastore.TopicPartition{Topic: tp.Topic, Partition: tp.Partition}
	}
	if err := b.meta.DeletePartitionOffsets(ctx, groupID, fence, keys); err != nil {
		if errors.Is(err, metastore.ErrFenced) {
			return b.lostLease(groupID, fence, err)
		}
		return fmt.Errorf("group %s: delete committed offsets: %w", groupID, err)
	}
	return nil
}
