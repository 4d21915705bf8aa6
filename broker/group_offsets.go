package broker

// Committed offsets of consumer groups live in meta.db, table group_offsets,
// under their own migration sequence (component "broker_groups"), so that
// they evolve independently of the topic tables.
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
	"fmt"
	"slices"
	"strings"
)

// groupMigrations are the consumer-group tables, applied in order by
// metadb.Migrate under the component "broker_groups". A released migration
// never changes; add a new one.
var groupMigrations = []string{
	// 1: committed offsets. offset is the next offset to read; topic_created_ms
	// is the creation time (Unix ms) of the topic the offset belongs to.
	`CREATE TABLE group_offsets (
		group_id         TEXT NOT NULL,
		topic            TEXT NOT NULL,
		partition        INTEGER NOT NULL,
		offset           INTEGER NOT NULL,
		metadata         TEXT NOT NULL,
		topic_created_ms INTEGER NOT NULL,
		commit_ms        INTEGER NOT NULL,
		PRIMARY KEY (group_id, topic, partition)
	)`,
}

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
	rows, err := b.db.QueryContext(ctx, `SELECT topic, partition, offset, metadata, topic_created_ms FROM group_offsets WHERE group_id = ?`, groupID)
	if err != nil {
		return nil, fmt.Errorf("group %s: read committed offsets: %w", groupID, err)
	}
	defer rows.Close()
	var out []OffsetCommit
	for rows.Next() {
		var oc OffsetCommit
		var created int64
		if err := rows.Scan(&oc.Topic, &oc.Partition, &oc.Offset, &oc.Metadata, &created); err != nil {
			return nil, fmt.Errorf("group %s: read committed offsets: %w", groupID, err)
		}
		if c, n, ok := b.topicIdentity(oc.Topic); ok && c == created && oc.Partition < n {
			out = append(out, oc)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("group %s: read committed offsets: %w", groupID, err)
	}
	slices.SortFunc(out, func(x, y OffsetCommit) int {
		if c := strings.Compare(x.Topic, y.Topic); c != 0 {
			return c
		}
		return int(x.Partition) - int(y.Partition)
	})
	return out, nil
}

// storeOffsets writes offsets in one transaction. The caller has checked
// that every topic and partition exists.
func (b *Broker) storeOffsets(ctx context.Context, groupID string, offs []OffsetCommit) error {
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("group %s: commit offsets: %w", groupID, err)
	}
	defer tx.Rollback()
	now := b.cfg.Now().UnixMilli()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO group_offsets (group_id, topic, partition, offset, metadata, topic_created_ms, commit_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (group_id, topic, partition) DO UPDATE SET
			offset = excluded.offset, metadata = excluded.metadata,
			topic_created_ms = excluded.topic_created_ms, commit_ms = excluded.commit_ms`)
	if err != nil {
		return fmt.Errorf("group %s: commit offsets: %w", groupID, err)
	}
	defer stmt.Close()
	for _, oc := range offs {
		created, _, ok := b.topicIdentity(oc.Topic)
		if !ok {
			return fmt.Errorf("group %s: commit offsets: topic %q: %w", groupID, oc.Topic, ErrTopicNotFound)
		}
		if _, err := stmt.ExecContext(ctx, groupID, oc.Topic, oc.Partition, oc.Offset, oc.Metadata, created, now); err != nil {
			return fmt.Errorf("group %s: commit offsets: %s/%d: %w", groupID, oc.Topic, oc.Partition, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("group %s: commit offsets: %w", groupID, err)
	}
	return nil
}

// deleteOffsets removes every committed offset of a group and reports how
// many live ones there were.
func (b *Broker) deleteOffsets(ctx context.Context, groupID string) (int, error) {
	live, err := b.loadOffsets(ctx, groupID)
	if err != nil {
		return 0, err
	}
	if _, err := b.db.ExecContext(ctx, `DELETE FROM group_offsets WHERE group_id = ?`, groupID); err != nil {
		return 0, fmt.Errorf("group %s: delete committed offsets: %w", groupID, err)
	}
	return len(live), nil
}

// offsetGroups lists the groups that have committed offsets of live topics.
func (b *Broker) offsetGroups(ctx context.Context) ([]string, error) {
	rows, err := b.db.QueryContext(ctx, `SELECT DISTINCT group_id, topic, topic_created_ms FROM group_offsets`)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		var g, topic string
		var created int64
		if err := rows.Scan(&g, &topic, &created); err != nil {
			return nil, fmt.Errorf("list groups: %w", err)
		}
		if c, _, ok := b.topicIdentity(topic); ok && c == created {
			seen[g] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
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
	rows, err := b.db.QueryContext(ctx, `SELECT DISTINCT topic, topic_created_ms FROM group_offsets`)
	if err != nil {
		return fmt.Errorf("sweep group offsets: %w", err)
	}
	type key struct {
		topic   string
		created int64
	}
	var stale []key
	var live []key
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.topic, &k.created); err != nil {
			rows.Close()
			return fmt.Errorf("sweep group offsets: %w", err)
		}
		if c, _, ok := b.topicIdentity(k.topic); !ok || c != k.created {
			stale = append(stale, k)
		} else {
			live = append(live, k)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sweep group offsets: %w", err)
	}
	for _, k := range stale {
		if _, err := b.db.ExecContext(ctx, `DELETE FROM group_offsets WHERE topic = ? AND topic_created_ms = ?`, k.topic, k.created); err != nil {
			return fmt.Errorf("sweep group offsets of topic %s: %w", k.topic, err)
		}
	}
	for _, k := range live {
		_, n, ok := b.topicIdentity(k.topic)
		if !ok {
			continue
		}
		if _, err := b.db.ExecContext(ctx, `DELETE FROM group_offsets WHERE topic = ? AND partition >= ?`, k.topic, n); err != nil {
			return fmt.Errorf("sweep group offsets of topic %s: %w", k.topic, err)
		}
	}
	return nil
}

// deletePartitionOffsets removes a group's committed offsets of the
// partitions given, in one transaction.
func (b *Broker) deletePartitionOffsets(ctx context.Context, groupID string, tps []TopicPartition) error {
	if len(tps) == 0 {
		return nil
	}
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("group %s: delete committed offsets: %w", groupID, err)
	}
	defer tx.Rollback()
	for _, tp := range tps {
		if _, err := tx.ExecContext(ctx, `DELETE FROM group_offsets WHERE group_id = ? AND topic = ? AND partition = ?`, groupID, tp.Topic, tp.Partition); err != nil {
			return fmt.Errorf("group %s: delete committed offsets of %s: %w", groupID, tp, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("group %s: delete committed offsets: %w", groupID, err)
	}
	return nil
}
