package metastore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/internal/pgmeta"
)

// pgTopicMigrations mirror sqliteTopicMigrations on PostgreSQL (INTEGER ->
// BIGINT, 0/1 -> BOOLEAN), under the same component name "broker".
var pgTopicMigrations = []string{
	// 1: topics, topic ids and the cluster id in one step (SQLite grew them
	// in three).
	`CREATE TABLE broker_topics (
		name       TEXT    PRIMARY KEY,
		partitions INTEGER NOT NULL,
		configs    TEXT    NOT NULL,
		created_ms BIGINT  NOT NULL,
		deleted    BOOLEAN NOT NULL DEFAULT false,
		topic_id   TEXT
	);
	CREATE TABLE broker_cluster (
		key   TEXT PRIMARY KEY,
		value TEXT NOT NULL
	);`,
}

// pgGroupMigrations mirror sqliteGroupMigrations ("offset" is quoted: a
// reserved word in PostgreSQL).
var pgGroupMigrations = []string{
	`CREATE TABLE group_offsets (
		group_id         TEXT    NOT NULL,
		topic            TEXT    NOT NULL,
		partition        INTEGER NOT NULL,
		"offset"         BIGINT  NOT NULL,
		metadata         TEXT    NOT NULL,
		topic_created_ms BIGINT  NOT NULL,
		commit_ms        BIGINT  NOT NULL,
		PRIMARY KEY (group_id, topic, partition)
	)`,
	// 2: group coordinator leases (grouplease.go). A row is never
	// deleted, so that a group's epoch only grows.
	`CREATE TABLE group_leases (
		group_id   TEXT        PRIMARY KEY,
		node_id    TEXT        NOT NULL,
		epoch      BIGINT      NOT NULL,
		expires_at TIMESTAMPTZ NOT NULL
	)`,
}

// Postgres is the Store on the cluster's PostgreSQL database.
type Postgres struct {
	pool *pgxpool.Pool
}

var _ Store = (*Postgres)(nil)

// NewPostgres applies the migrations and returns a Store on pool (see
// internal/pgmeta.Open); the caller closes the pool.
func NewPostgres(ctx context.Context, pool *pgxpool.Pool) (*Postgres, error) {
	if pool == nil {
		return nil, errors.New("metastore: no PostgreSQL pool")
	}
	if err := pgmeta.Migrate(ctx, pool, "broker", pgTopicMigrations); err != nil {
		return nil, err
	}
	if err := pgmeta.Migrate(ctx, pool, "broker_groups", pgGroupMigrations); err != nil {
		return nil, err
	}
	if err := pgmeta.Migrate(ctx, pool, "broker_producers", pgProducerMigrations); err != nil {
		return nil, err
	}
	return &Postgres{pool: pool}, nil
}

// ClusterID implements Store.
func (s *Postgres) ClusterID(ctx context.Context, candidate string) (string, error) {
	if _, err := s.pool.Exec(ctx, `INSERT INTO broker_cluster (key, value) VALUES ('cluster_id', $1) ON CONFLICT (key) DO NOTHING`, candidate); err != nil {
		return "", err
	}
	var id string
	if err := s.pool.QueryRow(ctx, `SELECT value FROM broker_cluster WHERE key = 'cluster_id'`).Scan(&id); err != nil {
		return "", err
	}
	return id, nil
}

// Topics implements Store.
func (s *Postgres) Topics(ctx context.Context) ([]Topic, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, partitions, configs, created_ms, deleted, COALESCE(topic_id, '') FROM broker_topics ORDER BY name COLLATE "C"`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Topic
	for rows.Next() {
		var t Topic
		if err := rows.Scan(&t.Name, &t.Partitions, &t.Configs, &t.CreatedMs, &t.Deleted, &t.ID); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// AssignTopicIDs implements Store.
func (s *Postgres) AssignTopicIDs(ctx context.Context, newID func() string) error {
	rows, err := s.pool.Query(ctx, `SELECT name FROM broker_topics WHERE topic_id IS NULL`)
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, n := range names {
		if _, err := s.pool.Exec(ctx, `UPDATE broker_topics SET topic_id = $1 WHERE name = $2 AND topic_id IS NULL`, newID(), n); err != nil {
			return fmt.Errorf("topic %s: assign topic id: %w", n, err)
		}
	}
	return nil
}

// CreateTopic implements Store.
func (s *Postgres) CreateTopic(ctx context.Context, t Topic) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO broker_topics (name, partitions, configs, created_ms, topic_id) VALUES ($1, $2, $3, $4, NULLIF($5, ''))`,
		t.Name, t.Partitions, t.Configs, t.CreatedMs, t.ID)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return fmt.Errorf("%w: %v", ErrTopicExists, err)
	}
	return err
}

// MarkTopicDeleted implements Store.
func (s *Postgres) MarkTopicDeleted(ctx context.Context, name string) error {
	_, err := s.pool.Exec(ctx, `UPDATE broker_topics SET deleted = true WHERE name = $1`, name)
	return err
}

// DeleteTopic implements Store.
func (s *Postgres) DeleteTopic(ctx context.Context, name string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM broker_topics WHERE name = $1`, name)
	return err
}

// SetTopicPartitions implements Store.
func (s *Postgres) SetTopicPartitions(ctx context.Context, name string, partitions int) error {
	_, err := s.pool.Exec(ctx, `UPDATE broker_topics SET partitions = $1 WHERE name = $2`, partitions, name)
	return err
}

// SetTopicConfigs implements Store.
func (s *Postgres) SetTopicConfigs(ctx context.Context, name, configs string) error {
	_, err := s.pool.Exec(ctx, `UPDATE broker_topics SET configs = $1 WHERE name = $2`, configs, name)
	return err
}

// GroupOffsets implements Store.
func (s *Postgres) GroupOffsets(ctx context.Context, group string) ([]Offset, error) {
	rows, err := s.pool.Query(ctx, `SELECT topic, partition, "offset", metadata, topic_created_ms FROM group_offsets WHERE group_id = $1`, group)
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

// CommitOffsets implements Store: one transaction, the upserts pipelined
// in one batch.
func (s *Postgres) CommitOffsets(ctx context.Context, group string, fence Fence, offs []Offset, commitMs int64) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := checkFence(ctx, tx, group, fence); err != nil {
			return err
		}
		b := &pgx.Batch{}
		for _, o := range offs {
			b.Queue(`INSERT INTO group_offsets (group_id, topic, partition, "offset", metadata, topic_created_ms, commit_ms)
				VALUES ($1, $2, $3, $4, $5, $6, $7)
				ON CONFLICT (group_id, topic, partition) DO UPDATE SET
					"offset" = excluded."offset", metadata = excluded.metadata,
					topic_created_ms = excluded.topic_created_ms, commit_ms = excluded.commit_ms`,
				group, o.Topic, o.Partition, o.Offset, o.Metadata, o.TopicCreatedMs, commitMs)
		}
		return tx.SendBatch(ctx, b).Close()
	})
}

// DeleteGroupOffsets implements Store.
func (s *Postgres) DeleteGroupOffsets(ctx context.Context, group string, fence Fence) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := checkFence(ctx, tx, group, fence); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM group_offsets WHERE group_id = $1`, group)
		return err
	})
}

// DeletePartitionOffsets implements Store.
func (s *Postgres) DeletePartitionOffsets(ctx context.Context, group string, fence Fence, tps []TopicPartition) error {
	if len(tps) == 0 {
		return nil
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := checkFence(ctx, tx, group, fence); err != nil {
			return err
		}
		for _, tp := range tps {
			if _, err := tx.Exec(ctx, `DELETE FROM group_offsets WHERE group_id = $1 AND topic = $2 AND partition = $3`, group, tp.Topic, tp.Partition); err != nil {
				return fmt.Errorf("%s/%d: %w", tp.Topic, tp.Partition, err)
			}
		}
		return nil
	})
}

// OffsetGroupTopics implements Store.
func (s *Postgres) OffsetGroupTopics(ctx context.Context) ([]GroupTopic, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT group_id, topic, topic_created_ms FROM group_offsets`)
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
func (s *Postgres) DeleteTopicOffsets(ctx context.Context, topic string, createdMs int64) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM group_offsets WHERE topic = $1 AND topic_created_ms = $2`, topic, createdMs)
	return err
}

// DeleteOffsetsFrom implements Store.
func (s *Postgres) DeleteOffsetsFrom(ctx context.Context, topic string, from int32) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM group_offsets WHERE topic = $1 AND partition >= $2`, topic, from)
	return err
}
