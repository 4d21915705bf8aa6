package metastore

import (
	"context"
	"fmt"
)

// ProducerIDs is a Store that hands out Kafka producer ids for the whole
// cluster. Every node of a cluster sees the same partitions (the shared
// log checks each producer's sequence numbers in PostgreSQL), so an id
// must never go to two producers, whichever nodes they start on: two
// producers under one id would have one's batches taken for the other's
// retries, acknowledged and never appended. An embedded node keeps its
// own counter in meta.db (broker/producer_ids.go).
type ProducerIDs interface {
	// NextProducerID returns an id never returned before, durably.
	NextProducerID(ctx context.Context) (int64, error)
}

// pgProducerMigrations are the cluster's producer id counter (component
// "broker_producers"). It starts at 2^40, above anything a node's own
// counter in meta.db handed out (from 1000, one per InitProducerId) before
// the cluster counted them: the shared log may still hold sequence state
// under those ids. A released migration never changes.
var pgProducerMigrations = []string{
	`CREATE TABLE broker_producer_ids (next BIGINT NOT NULL);
	INSERT INTO broker_producer_ids (next) VALUES (1099511627776)`,
}

var _ ProducerIDs = (*Postgres)(nil)

// NextProducerID implements ProducerIDs: one committed transaction (a row
// counter, not a sequence, whose values PostgreSQL may hand out again
// after a crash when the caller's transaction wrote nothing else).
func (s *Postgres) NextProducerID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.pool.QueryRow(ctx, `UPDATE broker_producer_ids SET next = next + 1 RETURNING next - 1`).Scan(&id); err != nil {
		return -1, fmt.Errorf("producer ids: %w", err)
	}
	return id, nil
}
