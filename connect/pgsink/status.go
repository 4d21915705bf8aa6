package pgsink

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/client"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// PartitionPosition is a sink's position in one partition.
type PartitionPosition struct {
	Partition int32 `json:"partition"`
	// NextOffset is the next offset the sink will write (stored in the
	// target database); -1 when it has written nothing of the partition.
	NextOffset int64 `json:"next_offset"`
	// HighWatermark is the partition's end; Lag is HighWatermark minus
	// the position (from the log start when NextOffset is -1).
	HighWatermark int64 `json:"high_watermark"`
	Lag           int64 `json:"lag"`
}

// Status is what a sink's target database and Sluice say of it.
type Status struct {
	// State is the last state the sink recorded: running, stopped or
	// failed ("" when it never started), or "not responding" when a
	// running sink's heartbeat is stale; Detail says why.
	State     string    `json:"state"`
	Detail    string    `json:"detail,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
	// Partitions are the positions, by partition; Lag their sum.
	Partitions []PartitionPosition `json:"partitions"`
	Lag        int64               `json:"lag"`
}

// ReadStatus reads the sink's status: its state and offsets from the
// target database, the topic's ends from Sluice.
func ReadStatus(ctx context.Context, cfg Config, conn *client.Conn) (*Status, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	pg, err := pgx.Connect(ctx, cfg.Postgres)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer pg.Close(ctx)
	st := &Status{}
	var exists bool
	if err := pg.QueryRow(ctx, `SELECT to_regclass('sluice_connect_status') IS NOT NULL AND to_regclass('sluice_connect_offsets') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, err
	}
	offsets := map[int32]int64{}
	if exists {
		err := pg.QueryRow(ctx, `SELECT state, detail, updated_at FROM sluice_connect_status WHERE connector = $1`, cfg.Name).Scan(&st.State, &st.Detail, &st.UpdatedAt)
		if err != nil && err != pgx.ErrNoRows {
			return nil, err
		}
		if offsets, err = storedOffsets(ctx, pg, cfg.Name, cfg.Topic); err != nil {
			return nil, err
		}
	}
	if st.State == "running" && time.Since(st.UpdatedAt) > 3*HeartbeatInterval {
		st.State = "not responding"
		st.Detail = fmt.Sprintf("no heartbeat since %s: the process was killed or lost the database", st.UpdatedAt.UTC().Format(time.RFC3339))
	}
	desc, err := conn.Topics().DescribeTopic(ctx, connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: cfg.Topic}))
	if err != nil {
		return nil, fmt.Errorf("topic %s: %w", cfg.Topic, err)
	}
	for _, p := range desc.Msg.GetTopic().GetPartitions() {
		pp := PartitionPosition{Partition: p.GetPartition(), NextOffset: -1, HighWatermark: p.GetHighWatermark()}
		from := p.GetLogStartOffset()
		if off, ok := offsets[p.GetPartition()]; ok {
			pp.NextOffset, from = off, off
		}
		pp.Lag = max(0, pp.HighWatermark-from)
		st.Lag += pp.Lag
		st.Partitions = append(st.Partitions, pp)
	}
	return st, nil
}
