package metastore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/internal/metadb"
)

// sqliteTopicMigrations are the broker's meta.db tables, applied by
// metadb.Migrate under the component "broker" (the name they have always
// had). A released migration never changes; add a new one.
var sqliteTopicMigrations = []string{
	// 1: topics. configs is a JSON object of canonical overrides. deleted=1
	// marks a deletion in progress: the data directory may still exist and
	// Open finishes removing it.
	`CREATE TABLE broker_topics (
		name       TEXT PRIMARY KEY,
		partitions INTEGER NOT NULL,
		configs    TEXT NOT NULL,
		created_ms INTEGER NOT NULL,
		deleted    INTEGER NOT NULL DEFAULT 0
	)`,
	// 2: topic ids (Kafka topic UUIDs, TopicID.String form). Rows from
	// before have NULL until load assigns one (AssignTopicIDs).
	`ALTER TABLE broker_topics ADD COLUMN topic_id TEXT`,
	// 3: node-wide settings; key 'cluster_id' holds the cluster id.
	`CREATE TABLE broker_cluster (
		key   TEXT PRIMARY KEY,
		value TEXT NOT NULL
	)`,
}

// sqliteGroupMigrations are the consumer-group tables, applied under the
// component "broker_groups", so that they evolve independently of the topic
// tables.
var sqliteGroupMigrations = []string{
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

// SQLite is the Store on meta.db.
type SQLite struct {
	db *sql.DB
}

var _ Store = (*SQLite)(nil)

// NewSQLite applies the migrations to db (meta.db, opened with
// internal/metadb) and returns a Store on it. The caller keeps ownership of
// db.
func NewSQLite(ctx context.Context, db *sql.DB) (*SQLite, error) {
	if db == nil {
		return nil, errors.New("metastore: no database")
	}
	if err := metadb.Migrate(ctx, db, "broker", sqliteTopicMigrations); err != nil {
		return nil, err
	}
	if err := metadb.Migrate(ctx, db, "broker_groups", sqliteGroupMigrations); err != nil {
		return nil, err
	}
	return &SQLite{db: db}, nil
}

// ClusterID implements Store.
func (s *SQLite) ClusterID(ctx context.Context, candidate string) (string, error) {
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM broker_cluster WHERE key = 'cluster_id'`).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}
	// INSERT OR IGNORE then read back: two processes racing on one new
	// data directory agree on one id.
	if _, err := s.db.ExecContext(ctx, `INSERT OR IGNORE INTO broker_cluster (key, value) VALUES ('cluster_id', ?)`, candidate); err != nil {
		return "", err
	}
	if err := s.db.QueryRowContext(ctx, `SELECT value FROM broker_cluster WHERE key = 'cluster_id'`).Scan(&id); err != nil {
		return "", err
	}
	return id, nil
}

// Topics implements Store.
func (s *SQLite) Topics(ctx context.Context) ([]Topic, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, partitions, configs, created_ms, deleted, topic_id FROM broker_topics ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Topic
	for rows.Next() {
		var t Topic
		var id sql.NullString
		if err := rows.Scan(&t.Name, &t.Partitions, &t.Configs, &t.CreatedMs, &t.Deleted, &id); err != nil {
			return nil, err
		}
		t.ID = id.String
		out = append(out, t)
	}
	return out, rows.Err()
}

// AssignTopicIDs implements Store.
func (s *SQLite) AssignTopicIDs(ctx context.Context, newID func() string) error {
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM broker_topics WHERE topic_id IS NULL`)
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, n := range names {
		if _, err := s.db.ExecContext(ctx, `UPDATE broker_topics SET topic_id = ? WHERE name = ? AND topic_id IS NULL`, newID(), n); err != nil {
			return fmt.Errorf("topic %s: assign topic id: %w", n, err)
		}
	}
	return nil
}

// CreateTopic implements Store.
func (s *SQLite) CreateTopic(ctx context.Context, t Topic) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO broker_topics (name, partitions, configs, created_ms, topic_id) VALUES (?, ?, ?, ?, ?)`,
		t.Name, t.Partitions, t.Configs, t.CreatedMs, sql.NullString{String: t.ID, Valid: t.ID != ""})
	if err == nil {
		return nil
	}
	var n int
	if qerr := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM broker_topics WHERE name = ?`, t.Name).Scan(&n); qerr == nil && n > 0 {
		return fmt.Errorf("%w: %v", ErrTopicExists, err)
	}
	return err
}

// MarkTopicDeleted implements Store.
func (s *SQLite) MarkTopicDeleted(ctx context.Context, name string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE broker_topics SET deleted = 1 WHERE name = ?`, name)
	return err
}

// DeleteTopic implements Store.
func (s *SQLite) DeleteTopic(ctx context.Context, name string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM broker_topics WHERE name = ?`, name)
	return err
}

// SetTopicPartitions implements Store.
func (s *SQLite) SetTopicPartitions(ctx context.Context, name string, partitions int) error {
	_, err := s.db.ExecContext(ctx, `UPDATE broker_topics SET partitions = ? WHERE name = ?`, partitions, name)
	return err
}

// SetTopicConfigs implements Store.
func (s *SQLite) SetTopicConfigs(ctx context.Context, name, configs string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE broker_topics SET configs = ? WHERE name = ?`, configs, name)
	return err
}

// GroupOffsets implements Store.
func (s *SQLite) GroupOffsets(ctx context.Context, group string) ([]Offset, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT topic, partition, offset, metadata, topic_created_ms FROM group_offsets WHERE group_id = ?`, group)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Offset
	for rows.Next() {
		var o Offset
		if err := rows.Scan(&o.Topic, &o.Partition, &o.Offset, &o.Metadata, &o.TopicCreatedMs); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// CommitOffsets implements Store.
func (s *SQLite) CommitOffsets(ctx context.Context, group string, fence Fence, offs []Offset, commitMs int64) error {
	if err := noLeases(fence); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO group_offsets (group_id, topic, partition, offset, metadata, topic_created_ms, commit_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (group_id, topic, partition) DO UPDATE SET
			offset = excluded.offset, metadata = excluded.metadata,
			topic_created_ms = excluded.topic_created_ms, commit_ms = excluded.commit_ms`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, o := range offs {
		if _, err := stmt.ExecContext(ctx, group, o.Topic, o.Partition, o.Offset, o.Metadata, o.TopicCreatedMs, commitMs); err != nil {
			return fmt.Errorf("%s/%d: %w", o.Topic, o.Partition, err)
		}
	}
	return tx.Commit()
}

// DeleteGroupOffsets implements Store.
func (s *SQLite) DeleteGroupOffsets(ctx context.Context, group string, fence Fence) error {
	if err := noLeases(fence); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `DELETE FROM group_offsets WHERE group_id = ?`, group)
	return err
}

// DeletePartitionOffsets implements Store.
func (s *SQLite) DeletePartitionOffsets(ctx context.Context, group string, fence Fence, tps []TopicPartition) error {
	if err := noLeases(fence); err != nil {
		return err
	}
	if len(tps) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, tp := range tps {
		if _, err := tx.ExecContext(ctx, `DELETE FROM group_offsets WHERE group_id = ? AND topic = ? AND partition = ?`, group, tp.Topic, tp.Partition); err != nil {
			return fmt.Errorf("%s/%d: %w", tp.Topic, tp.Partition, err)
		}
	}
	return tx.Commit()
}

// OffsetGroupTopics implements Store.
func (s *SQLite) OffsetGroupTopics(ctx context.Context) ([]GroupTopic, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT group_id, topic, topic_created_ms FROM group_offsets`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []GroupTopic
	for rows.Next() {
		var g GroupTopic
		if err := rows.Scan(&g.Group, &g.Topic, &g.TopicCreatedMs); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// DeleteTopicOffsets implements Store.
func (s *SQLite) DeleteTopicOffsets(ctx context.Context, topic string, createdMs int64) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM group_offsets WHERE topic = ? AND topic_created_ms = ?`, topic, createdMs)
	return err
}

// DeleteOffsetsFrom implements Store.
func (s *SQLite) DeleteOffsetsFrom(ctx context.Context, topic string, from int32) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM group_offsets WHERE topic = ? AND partition >= ?`, topic, from)
	return err
}

// noLeases refuses a fenced write: meta.db belongs to one embedded node,
// which coordinates every group, so it keeps no group leases.
func noLeases(f Fence) error {
	if f != (Fence{}) {
		return fmt.Errorf("metastore: a write fenced by node %q epoch %d on meta.db, which keeps no group leases (an embedded node coordinates every group)", f.Node, f.Epoch)
	}
	return nil
}
