package pgsource

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Status is what the source database says of a source connector.
type Status struct {
	// State is "running" while a process streams from the slot (the
	// slot is active), else the last state the source recorded: stopped
	// or failed ("" when it never started); Detail is the failure.
	State     string    `json:"state"`
	Detail    string    `json:"detail,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
	Slot      string    `json:"slot"`
	// ConfirmedLSN is the slot's confirmed position: changes up to it are
	// in Sluice. CurrentLSN is the server's WAL end; LagBytes the WAL
	// between them.
	ConfirmedLSN string `json:"confirmed_lsn"`
	CurrentLSN   string `json:"current_lsn"`
	LagBytes     int64  `json:"lag_bytes"`
	// SnapshotDone says the initial snapshot finished.
	SnapshotDone bool `json:"snapshot_done"`
}

// ReadStatus reads the source's status from its database.
func ReadStatus(ctx context.Context, cfg Config) (*Status, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	pg, err := pgx.Connect(ctx, cfg.Postgres)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer pg.Close(ctx)
	st := &Status{Slot: cfg.Slot}
	var hasStatus, hasState bool
	if err := pg.QueryRow(ctx, `SELECT to_regclass('sluice_connect_status') IS NOT NULL, to_regclass('sluice_connect_source') IS NOT NULL`).Scan(&hasStatus, &hasState); err != nil {
		return nil, err
	}
	if hasStatus {
		err := pg.QueryRow(ctx, `SELECT state, detail, updated_at FROM sluice_connect_status WHERE connector = $1`, cfg.Name).Scan(&st.State, &st.Detail, &st.UpdatedAt)
		if err != nil && err != pgx.ErrNoRows {
			return nil, err
		}
	}
	if hasState {
		err := pg.QueryRow(ctx, `SELECT snapshot_done FROM sluice_connect_source WHERE connector = $1`, cfg.Name).Scan(&st.SnapshotDone)
		if err != nil && err != pgx.ErrNoRows {
			return nil, err
		}
	}
	var active bool
	var confirmed *string
	err = pg.QueryRow(ctx, `SELECT active, confirmed_flush_lsn::text, pg_current_wal_lsn()::text,
			coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0)::bigint
		FROM pg_replication_slots WHERE slot_name = $1`, cfg.Slot).Scan(&active, &confirmed, &st.CurrentLSN, &st.LagBytes)
	switch {
	case err == pgx.ErrNoRows:
		if st.State == "" {
			st.State = "not started"
		}
		return st, nil
	case err != nil:
		return nil, err
	}
	if confirmed != nil {
		st.ConfirmedLSN = *confirmed
	}
	if active {
		st.State = "running"
	} else if st.State == "running" {
		st.State = "stopped (not streaming)"
	}
	return st, nil
}
