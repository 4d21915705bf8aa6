// Package metadb opens the data directory's meta.db, the SQLite database that
// the registry, topic metadata and consumer-group offsets share, and applies
// each component's numbered schema migrations.
//
// The database runs in WAL mode with synchronous=FULL, so a committed
// transaction survives kill -9 and power loss. Each component owns its own
// tables and its own migration sequence, recorded in the migrations table
// under the component's name; Migrate refuses to open a database written by a
// newer Sluice (more migrations than this binary knows).
package metadb

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Open opens (creating if needed) the SQLite database at path with the
// pragmas every component relies on. The caller closes it.
func Open(path string) (*sql.DB, error) {
	q := url.Values{}
	for _, p := range []string{
		"journal_mode(WAL)",
		"synchronous(FULL)",
		"busy_timeout(10000)",
		"foreign_keys(ON)",
	} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("metadb: open %s: %w", path, err)
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("metadb: open %s: %w", path, err)
	}
	return db, nil
}

// Migrate applies, in one transaction each, the migrations of component that
// the database does not have yet. migrations[i] is migration number i+1; a
// migration, once released, never changes: add a new one instead.
func Migrate(ctx context.Context, db *sql.DB, component string, migrations []string) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS migrations (
		component TEXT NOT NULL,
		version   INTEGER NOT NULL,
		PRIMARY KEY (component, version))`); err != nil {
		return fmt.Errorf("metadb: create migrations table: %w", err)
	}
	var have int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM migrations WHERE component = ?`, component).Scan(&have); err != nil {
		return fmt.Errorf("metadb: read %s schema version: %w", component, err)
	}
	if have > len(migrations) {
		return fmt.Errorf("metadb: %s tables are at migration %d but this binary knows only %d: the data directory was written by a newer Sluice", component, have, len(migrations))
	}
	for i := have; i < len(migrations); i++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("metadb: migrate %s to %d: %w", component, i+1, err)
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("metadb: migrate %s to %d: %w", component, i+1, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO migrations (component, version) VALUES (?, ?)`, component, i+1); err != nil {
			tx.Rollback()
			return fmt.Errorf("metadb: migrate %s to %d: %w", component, i+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("metadb: migrate %s to %d: %w", component, i+1, err)
		}
	}
	return nil
}
