package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/internal/metadb"
)

// migrations are the registry's tables in meta.db, applied by metadb.Migrate
// under the component name "registry". Migration i+1 is migrations[i].
//
// EVOLUTION RULE: a released migration never changes. To change the layout,
// append a migration (ALTER TABLE, or create-copy-rename) and teach Load and
// Apply the new columns; an older binary then refuses the newer database
// instead of misreading it.
var migrations = []string{
	// 1: initial layout.
	`CREATE TABLE registry_schemas (
		id         INTEGER PRIMARY KEY,
		type       TEXT    NOT NULL,
		text       TEXT    NOT NULL,
		refs       TEXT    NOT NULL DEFAULT '', -- JSON array of {name,subject,version}, '' when none
		metadata   TEXT    NOT NULL DEFAULT '', -- compact JSON object, '' when absent
		ruleset    TEXT    NOT NULL DEFAULT '', -- compact JSON object, '' when absent
		hash       TEXT    NOT NULL             -- identity digest, hex
	);
	CREATE INDEX registry_schemas_hash ON registry_schemas (hash);
	CREATE TABLE registry_versions (
		subject    TEXT    NOT NULL,
		version    INTEGER NOT NULL,
		schema_id  INTEGER NOT NULL REFERENCES registry_schemas (id),
		deleted    INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (subject, version)
	);
	CREATE INDEX registry_versions_schema ON registry_versions (schema_id);
	CREATE TABLE registry_configs (
		subject    TEXT    PRIMARY KEY, -- '' is the global configuration
		config     TEXT    NOT NULL
	);
	CREATE TABLE registry_modes (
		subject    TEXT    PRIMARY KEY, -- '' is the global mode
		mode       TEXT    NOT NULL
	);
	CREATE TABLE registry_ids (
		singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
		high_water INTEGER NOT NULL
	);
	INSERT INTO registry_ids (singleton, high_water) VALUES (1, 0);`,
}

// SQLite is the Store on meta.db.
type SQLite struct {
	db *sql.DB
}

var _ Store = (*SQLite)(nil)

// NewSQLite applies the registry's migrations to db (opened with
// internal/metadb, which sets WAL, synchronous=FULL and foreign keys) and
// returns a Store on it. The caller keeps ownership of db.
func NewSQLite(ctx context.Context, db *sql.DB) (*SQLite, error) {
	if db == nil {
		return nil, fmt.Errorf("registry store: no database")
	}
	if err := metadb.Migrate(ctx, db, "registry", migrations); err != nil {
		return nil, fmt.Errorf("registry store: %w", err)
	}
	return &SQLite{db: db}, nil
}

// Load implements Store. It reads in one transaction, so the state is a
// consistent snapshot even if another process wrote meanwhile.
func (s *SQLite) Load(ctx context.Context) (*State, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("registry store: load: %w", err)
	}
	defer tx.Rollback()
	st := &State{}
	if err := tx.QueryRowContext(ctx, `SELECT high_water FROM registry_ids WHERE singleton = 1`).Scan(&st.MaxID); err != nil {
		return nil, fmt.Errorf("registry store: load id high-water mark: %w", err)
	}

	rows, err := tx.QueryContext(ctx, `SELECT id, type, text, refs, metadata, ruleset, hash FROM registry_schemas ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("registry store: load schemas: %w", err)
	}
	for rows.Next() {
		var sc Schema
		var refs string
		if err := rows.Scan(&sc.ID, &sc.Type, &sc.Text, &refs, &sc.Metadata, &sc.RuleSet, &sc.Hash); err != nil {
			rows.Close()
			return nil, fmt.Errorf("registry store: load schemas: %w", err)
		}
		if sc.References, err = decodeRefs(refs); err != nil {
			rows.Close()
			return nil, fmt.Errorf("registry store: load schema id %d: references: %w", sc.ID, err)
		}
		st.Schemas = append(st.Schemas, sc)
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("registry store: load schemas: %w", err)
	}

	rows, err = tx.QueryContext(ctx, `SELECT subject, version, schema_id, deleted FROM registry_versions ORDER BY subject, version`)
	if err != nil {
		return nil, fmt.Errorf("registry store: load versions: %w", err)
	}
	for rows.Next() {
		var v Version
		if err := rows.Scan(&v.Subject, &v.Version, &v.SchemaID, &v.Deleted); err != nil {
			rows.Close()
			return nil, fmt.Errorf("registry store: load versions: %w", err)
		}
		st.Versions = append(st.Versions, v)
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("registry store: load versions: %w", err)
	}

	if st.Configs, err = loadSettings(ctx, tx, `SELECT subject, config FROM registry_configs ORDER BY subject`); err != nil {
		return nil, fmt.Errorf("registry store: load configs: %w", err)
	}
	if st.Modes, err = loadSettings(ctx, tx, `SELECT subject, mode FROM registry_modes ORDER BY subject`); err != nil {
		return nil, fmt.Errorf("registry store: load modes: %w", err)
	}
	return st, nil
}

func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}

func loadSettings(ctx context.Context, tx *sql.Tx, query string) ([]Setting, error) {
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	var out []Setting
	for rows.Next() {
		var s Setting
		if err := rows.Scan(&s.Subject, &s.Value); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, s)
	}
	return out, closeRows(rows)
}

// Apply implements Store.
func (s *SQLite) Apply(ctx context.Context, w *Write) (err error) {
	if w == nil || w.Empty() {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("registry store: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	for _, sc := range w.PutSchemas {
		refs, err := encodeRefs(sc.References)
		if err != nil {
			return fmt.Errorf("registry store: schema id %d: %w", sc.ID, err)
		}
		// A plain INSERT: schemas are immutable, so an existing id means the
		// core and the database disagree, which must not be papered over.
		if _, err := tx.ExecContext(ctx, `INSERT INTO registry_schemas (id, type, text, refs, metadata, ruleset, hash) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			sc.ID, sc.Type, sc.Text, refs, sc.Metadata, sc.RuleSet, sc.Hash); err != nil {
			return fmt.Errorf("registry store: insert schema id %d: %w", sc.ID, classify(err))
		}
	}
	for _, v := range w.PutVersions {
		if _, err := tx.ExecContext(ctx, `INSERT INTO registry_versions (subject, version, schema_id, deleted) VALUES (?, ?, ?, ?)
			ON CONFLICT (subject, version) DO UPDATE SET schema_id = excluded.schema_id, deleted = excluded.deleted`,
			v.Subject, v.Version, v.SchemaID, v.Deleted); err != nil {
			return fmt.Errorf("registry store: put subject %q version %d: %w", v.Subject, v.Version, classify(err))
		}
	}
	for _, k := range w.DeleteVersions {
		if _, err := tx.ExecContext(ctx, `DELETE FROM registry_versions WHERE subject = ? AND version = ?`, k.Subject, k.Version); err != nil {
			return fmt.Errorf("registry store: delete subject %q version %d: %w", k.Subject, k.Version, err)
		}
	}
	for _, id := range w.DeleteSchemas {
		if _, err := tx.ExecContext(ctx, `DELETE FROM registry_schemas WHERE id = ?`, id); err != nil {
			return fmt.Errorf("registry store: delete schema id %d: %w", id, classify(err))
		}
	}
	for _, c := range w.PutConfigs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO registry_configs (subject, config) VALUES (?, ?)
			ON CONFLICT (subject) DO UPDATE SET config = excluded.config`, c.Subject, c.Value); err != nil {
			return fmt.Errorf("registry store: put config of %q: %w", c.Subject, err)
		}
	}
	for _, subj := range w.DeleteConfigs {
		if _, err := tx.ExecContext(ctx, `DELETE FROM registry_configs WHERE subject = ?`, subj); err != nil {
			return fmt.Errorf("registry store: delete config of %q: %w", subj, err)
		}
	}
	for _, m := range w.PutModes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO registry_modes (subject, mode) VALUES (?, ?)
			ON CONFLICT (subject) DO UPDATE SET mode = excluded.mode`, m.Subject, m.Value); err != nil {
			return fmt.Errorf("registry store: put mode of %q: %w", m.Subject, err)
		}
	}
	for _, subj := range w.DeleteModes {
		if _, err := tx.ExecContext(ctx, `DELETE FROM registry_modes WHERE subject = ?`, subj); err != nil {
			return fmt.Errorf("registry store: delete mode of %q: %w", subj, err)
		}
	}
	if w.MaxID > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE registry_ids SET high_water = MAX(high_water, ?) WHERE singleton = 1`, w.MaxID); err != nil {
			return fmt.Errorf("registry store: raise id high-water mark: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("registry store: commit: %w", classify(err))
	}
	return nil
}

// classify marks constraint failures (duplicate id, dangling schema id) as
// ErrConflict. The SQLite driver reports them only as text, so this is the
// one place that reads an error message.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if strings.Contains(err.Error(), "constraint failed") {
		return fmt.Errorf("%w: %v", ErrConflict, err)
	}
	return err
}

// refJSON is the stored shape of one reference.
type refJSON struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

func encodeRefs(refs []Reference) (string, error) {
	if len(refs) == 0 {
		return "", nil
	}
	out := make([]refJSON, len(refs))
	for i, r := range refs {
		out[i] = refJSON(r)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("encode references: %w", err)
	}
	return string(b), nil
}

func decodeRefs(s string) ([]Reference, error) {
	if s == "" {
		return nil, nil
	}
	var in []refJSON
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, err
	}
	out := make([]Reference, len(in))
	for i, r := range in {
		out[i] = Reference(r)
	}
	return out, nil
}
