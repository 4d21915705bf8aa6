// Package metastore persists the broker's metadata: the cluster id, topics
// (name, partition count, config overrides, creation time, topic id, an
// unfinished deletion) and consumer groups' committed offsets. It is the
// broker's only view of that persistence, with two backends that pass one
// conformance suite (metastoretest):
//
//   - SQLite on the data directory's meta.db (the embedded default), with
//     the tables and migrations the broker has always used;
//   - PostgreSQL, the cluster's metadata database (sluice serve --meta),
//     with the same tables.
//
// The store records; the broker decides (names, counts, configs, which
// offsets belong to a live topic). Each method is one transaction.
package metastore

import (
	"context"
	"errors"
)

// ErrTopicExists is returned (wrapped) by CreateTopic when a row of that
// name exists, live or with an unfinished deletion.
var ErrTopicExists = errors.New("metastore: a topic row of that name exists")

// Topic is one topic row.
type Topic struct {
	Name       string
	Partitions int
	// Configs is a JSON object of the topic's canonical config overrides.
	Configs string
	// CreatedMs is the creation time, Unix milliseconds.
	CreatedMs int64
	// Deleted marks a deletion in progress: the broker finishes it.
	Deleted bool
	// ID is the topic id's string form; "" for rows written before topic
	// ids existed, until AssignTopicIDs gives them one.
	ID string
}

// Offset is one committed offset of a group.
type Offset struct {
	Topic     string
	Partition int32
	// Offset is the next offset the group reads.
	Offset   int64
	Metadata string
	// TopicCreatedMs is the creation time of the topic the offset was
	// committed for: offsets of a deleted (or re-created) topic are told
	// apart by it.
	TopicCreatedMs int64
}

// GroupTopic says that a group has offsets of a topic incarnation.
type GroupTopic struct {
	Group          string
	Topic          string
	TopicCreatedMs int64
}

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Store is a metadata backend. Implementations are safe for concurrent use.
type Store interface {
	// ClusterID returns the stored cluster id, storing candidate first when
	// there is none (concurrent callers agree on one).
	ClusterID(ctx context.Context, candidate string) (string, error)

	// Topics returns every topic row, by name (bytewise).
	Topics(ctx context.Context) ([]Topic, error)
	// AssignTopicIDs gives every row without an id one from newID.
	AssignTopicIDs(ctx context.Context, newID func() string) error
	// CreateTopic inserts a row; ErrTopicExists when the name has one.
	CreateTopic(ctx context.Context, t Topic) error
	// MarkTopicDeleted sets the row's Deleted flag.
	MarkTopicDeleted(ctx context.Context, name string) error
	// DeleteTopic removes the row; a missing row is not an error.
	DeleteTopic(ctx context.Context, name string) error
	// SetTopicPartitions records a new partition count.
	SetTopicPartitions(ctx context.Context, name string, partitions int) error
	// SetTopicConfigs records new config overrides (a JSON object).
	SetTopicConfigs(ctx context.Context, name, configs string) error

	// GroupOffsets returns the committed offsets of group, in no order.
	GroupOffsets(ctx context.Context, group string) ([]Offset, error)
	// CommitOffsets inserts or replaces offsets of group, all or none,
	// stamped with commitMs. A non-zero fence makes it a coordinator's
	// write: refused (ErrFenced, nothing written) unless fence is the
	// group's current lease (grouplease.go), checked in the same
	// transaction. The zero Fence writes unconditionally (an embedded node,
	// which coordinates every group).
	CommitOffsets(ctx context.Context, group string, fence Fence, offs []Offset, commitMs int64) error
	// DeleteGroupOffsets removes every offset of group; fence as in
	// CommitOffsets.
	DeleteGroupOffsets(ctx context.Context, group string, fence Fence) error
	// DeletePartitionOffsets removes group's offsets of the partitions
	// given, all or none; fence as in CommitOffsets.
	DeletePartitionOffsets(ctx context.Context, group string, fence Fence, tps []TopicPartition) error
	// OffsetGroupTopics lists, without duplicates, the (group, topic,
	// creation time) triples that have offsets.
	OffsetGroupTopics(ctx context.Context) ([]GroupTopic, error)
	// DeleteTopicOffsets removes every group's offsets of one topic
	// incarnation.
	DeleteTopicOffsets(ctx context.Context, topic string, createdMs int64) error
	// DeleteOffsetsFrom removes every group's offsets of topic's partitions
	// numbered from and above.
	DeleteOffsetsFrom(ctx context.Context, topic string, from int32) error
}
