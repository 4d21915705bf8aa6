package shared

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PartitionInfo is one shared partition as PostgreSQL records it.
type PartitionInfo struct {
	TopicID        string
	Partition      int32
	HighWatermark  int64 // committed next_offset
	LogStartOffset int64
	Bytes          int64 // stored batch bytes at or above the start
	Batches        int64 // coordinate rows kept (each a run of batches)
	Objects        int64 // distinct objects holding its batches
}

// Partitions lists every shared partition with its high watermark, log
// start offset, bytes, batch and object counts, ordered by topic id and
// partition: what `sluice cluster status` shows. It reads the tables only
// (no Log needed); a database without them (the shared log never ran)
// gives an empty list.
func Partitions(ctx context.Context, pool *pgxpool.Pool) ([]PartitionInfo, error) {
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('sharedlog_partitions') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("shared log: %w", err)
	}
	if !exists {
		return nil, nil
	}
	rows, err := pool.Query(ctx, `SELECT p.topic_id, p.partition, p.next_offset, p.log_start_offset, p.bytes,
			COALESCE(b.batches, 0), COALESCE(b.objects, 0)
		FROM sharedlog_partitions p
		LEFT JOIN (SELECT topic_id, partition, count(*) AS batches, count(DISTINCT object_id) AS objects
			FROM sharedlog_batches GROUP BY topic_id, partition) b USING (topic_id, partition)
		ORDER BY p.topic_id COLLATE "C", p.partition`)
	if err != nil {
		return nil, fmt.Errorf("shared log: list partitions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PartitionInfo, error) {
		var x PartitionInfo
		err := r.Scan(&x.TopicID, &x.Partition, &x.HighWatermark, &x.LogStartOffset, &x.Bytes, &x.Batches, &x.Objects)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("shared log: list partitions: %w", err)
	}
	return out, nil
}
