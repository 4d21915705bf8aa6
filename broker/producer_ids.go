package broker

// Producer ids for idempotent Kafka producers (InitProducerId): a
// persistent counter in meta.db, so that an id is never handed out twice,
// across restarts and kill -9; on a cluster node the cluster's counter in
// PostgreSQL (metastore.ProducerIDs), since every node serves the same
// partitions. Per-partition sequence state lives in the log
// (broker/internal/log producers.go, or the shared log's PostgreSQL).

import (
	"context"
	"fmt"
	"sync"

	"github.com/sluicehq/sluice/broker/internal/log"
	"github.com/sluicehq/sluice/internal/metadb"
	"github.com/sluicehq/sluice/internal/metastore"
)

// producerMigrations are the meta.db schema of the producer id counter
// (component "broker_producers"). A released migration never changes.
var producerMigrations = []string{
	// 1: the next id to hand out, one row.
	`CREATE TABLE broker_producer_ids (next INTEGER NOT NULL)`,
	// 2: ids start at 1000, so that a test or a log line with a small
	// number is not mistaken for one.
	`INSERT INTO broker_producer_ids (next) VALUES (1000)`,
}

// producerMigrateMu serialises the producer table's migration, which two
// first InitProducerIds could otherwise race on.
var producerMigrateMu sync.Mutex

// Errors of idempotent produce, from the log; the Kafka transport maps them.
var (
	// ErrOutOfOrderSequence: the batch's sequence does not follow the
	// producer's last batch on the partition.
	ErrOutOfOrderSequence = log.ErrOutOfOrderSequence
	// ErrInvalidProducerEpoch: the batch's producer epoch is older than
	// one the partition has seen.
	ErrInvalidProducerEpoch = log.ErrInvalidProducerEpoch
)

// NewProducerID hands out a producer id that was never handed out before,
// at epoch 0. As in Kafka, a producer without a transactional id gets a
// new id each time it asks (also when it asks to bump its epoch after an
// error). It writes meta.db (a cluster node: PostgreSQL), so it is durable
// when it returns.
func (b *Broker) NewProducerID(ctx context.Context) (int64, int16, error) {
	if ids, ok := b.cfg.Meta.(metastore.ProducerIDs); ok {
		// A cluster node: the cluster's counter, so that producers that
		// start on different nodes never share an id.
		id, err := ids.NextProducerID(ctx)
		if err != nil {
			return -1, -1, err
		}
		return id, 0, nil
	}
	// Migrating here (a no-op once done: one SELECT) keeps the table out
	// of meta.db until a Kafka producer needs it.
	producerMigrateMu.Lock()
	err := metadb.Migrate(ctx, b.db, "broker_producers", producerMigrations)
	producerMigrateMu.Unlock()
	if err != nil {
		return -1, -1, fmt.Errorf("producer ids: %w", err)
	}
	var id int64
	err = b.db.QueryRowContext(ctx, `UPDATE broker_producer_ids SET next = next + 1 RETURNING next - 1`).Scan(&id)
	if err != nil {
		return -1, -1, fmt.Errorf("producer ids: %w", err)
	}
	return id, 0, nil
}
