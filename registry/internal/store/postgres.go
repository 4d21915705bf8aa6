package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/internal/pgmeta"
	"github.com/sluicehq/sluice/internal/pgnotify"
)

// pgMigrations are the registry's tables in the cluster's PostgreSQL
// database, applied by pgmeta.Migrate under the component "registry". They
// mirror the SQLite layout (INTEGER -> BIGINT, 0/1 -> BOOLEAN) plus the
// version counter and the changelog of Shared. The evolution rule of
// migrations applies.
var pgMigrations = []string{
	// 1: initial layout.
	`CREATE TABLE registry_schemas (
		id         BIGINT PRIMARY KEY,
		type       TEXT   NOT NULL,
		text       TEXT   NOT NULL,
		refs       TEXT   NOT NULL DEFAULT '',
		metadata   TEXT   NOT NULL DEFAULT '',
		ruleset    TEXT   NOT NULL DEFAULT '',
		hash       TEXT   NOT NULL
	);
	CREATE INDEX registry_schemas_hash ON registry_schemas (hash);
	CREATE TABLE registry_versions (
		subject    TEXT    NOT NULL,
		version    BIGINT  NOT NULL,
		schema_id  BIGINT  NOT NULL REFERENCES registry_schemas (id),
		deleted    BOOLEAN NOT NULL DEFAULT false,
		PRIMARY KEY (subject, version)
	);
	CREATE INDEX registry_versions_schema ON registry_versions (schema_id);
	CREATE TABLE registry_configs (
		subject    TEXT PRIMARY KEY,
		config     TEXT NOT NULL
	);
	CREATE TABLE registry_modes (
		subject    TEXT PRIMARY KEY,
		mode       TEXT NOT NULL
	);
	-- The one row every write locks (FOR UPDATE): the cluster-wide write
	-- lock, the id high-water mark and the store version in one place.
	CREATE TABLE registry_ids (
		singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
		high_water BIGINT  NOT NULL,
		version    BIGINT  NOT NULL
	);
	INSERT INTO registry_ids (singleton, high_water, version) VALUES (1, 0, 0);
	-- Every committed write, as JSON of store.Write, by version: what other
	-- nodes replay to catch up. Old entries are pruned (a node that falls
	-- further behind reloads everything).
	CREATE TABLE registry_changes (
		version      BIGINT      PRIMARY KEY,
		write        TEXT        NOT NULL,
		committed_at TIMESTAMPTZ NOT NULL DEFAULT now()
	);`,
	// 2: which version each node's memory reflects (Shared.Applied), so
	// that a write returns once every live node has it.
	`CREATE TABLE registry_nodes (
		node    TEXT        PRIMARY KEY,
		applied BIGINT      NOT NULL,
		seen    TIMESTAMPTZ NOT NULL DEFAULT now()
	);`,
}

// pgChannel is the LISTEN/NOTIFY channel of registry writes; the payload is
// the new store version.
const pgChannel = "sluice_registry"

// Defaults of PostgresConfig.
const (
	DefaultPollInterval  = 2 * time.Second
	DefaultChangelogKeep = 1000
	// DefaultLockTimeout bounds how long a write may hold the cluster-wide
	// lock while idle (a node frozen mid-write): PostgreSQL then ends that
	// session, releasing the lock, and the frozen node's commit fails.
	DefaultLockTimeout = 30 * time.Second
)

// PostgresConfig configures a Postgres store.
type PostgresConfig struct {
	// Pool is the cluster's metadata database (internal/pgmeta.Open).
	// Required; the caller closes it after the store.
	Pool *pgxpool.Pool
	// Notify is the node's PostgreSQL notification hub (internal/pgnotify),
	// shared with its other components: each listening connection is woken
	// by every NOTIFY of the database. Nil: the store opens its own on Pool
	// and closes it with the store.
	Notify *pgnotify.Hub
	// Logger receives change-feed problems; nil discards.
	Logger *slog.Logger
	// PollInterval is the safety poll of the change feed (notifications are
	// lost while a connection is down); 0 means DefaultPollInterval.
	PollInterval time.Duration
	// ChangelogKeep is how many changelog entries are kept; 0 means
	// DefaultChangelogKeep.
	ChangelogKeep int
	// LockTimeout: see DefaultLockTimeout; 0 means that.
	LockTimeout time.Duration
}

// Postgres is the Shared store on PostgreSQL.
//
// Writes serialise on the one row of registry_ids, locked FOR UPDATE at the
// start of every write transaction (READ COMMITTED suffices: the lock makes
// the writes of all nodes a sequence). Under that lock the writer reads the
// changelog past its own version, so the registry decides against the
// latest state. The commit bumps the version, appends the write to the
// changelog and NOTIFYs; PostgreSQL delivers the notification only after
// the commit. Readers keep their memory current by LISTENing (through the
// node's notification hub, which reconnects with back-off) plus a safety
// poll.
type Postgres struct {
	pool  *pgxpool.Pool
	log   *slog.Logger
	cfg   PostgresConfig
	keep  int64
	lockT string

	changed chan struct{}
	ownHub  *pgnotify.Hub // opened by the store (PostgresConfig.Notify nil)
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
}

var _ Shared = (*Postgres)(nil)

// NewPostgres applies the registry's migrations and starts the change feed.
func NewPostgres(ctx context.Context, cfg PostgresConfig) (*Postgres, error) {
	if cfg.Pool == nil {
		return nil, errors.New("registry store: no PostgreSQL pool")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.ChangelogKeep <= 0 {
		cfg.ChangelogKeep = DefaultChangelogKeep
	}
	if cfg.LockTimeout <= 0 {
		cfg.LockTimeout = DefaultLockTimeout
	}
	if err := pgmeta.Migrate(ctx, cfg.Pool, "registry", pgMigrations); err != nil {
		return nil, fmt.Errorf("registry store: %w", err)
	}
	hub, own := cfg.Notify, (*pgnotify.Hub)(nil)
	if hub == nil {
		var err error
		if hub, err = pgnotify.New(pgnotify.Config{ConnConfig: cfg.Pool.Config().ConnConfig, Logger: cfg.Logger}); err != nil {
			return nil, fmt.Errorf("registry store: %w", err)
		}
		own = hub
	}
	sub, err := hub.Subscribe(pgChannel)
	if err != nil {
		if own != nil {
			own.Close()
		}
		return nil, fmt.Errorf("registry store: %w", err)
	}
	fctx, cancel := context.WithCancel(context.Background())
	s := &Postgres{
		ownHub:  own,
		pool:    cfg.Pool,
		log:     cfg.Logger,
		cfg:     cfg,
		keep:    int64(cfg.ChangelogKeep),
		lockT:   strconv.FormatInt(cfg.LockTimeout.Milliseconds(), 10),
		changed: make(chan struct{}, 1),
		cancel:  cancel,
	}
	s.wg.Add(2)
	go s.listen(fctx, sub)
	go s.poll(fctx)
	return s, nil
}

// Close stops the change feed. It is idempotent.
func (s *Postgres) Close() error {
	s.once.Do(func() {
		s.cancel()
		s.wg.Wait()
		if s.ownHub != nil {
			s.ownHub.Close()
		}
	})
	return nil
}

// Changed implements Shared.
func (s *Postgres) Changed() <-chan struct{} { return s.changed }

func (s *Postgres) signal() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func (s *Postgres) poll(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.signal()
		}
	}
}

// listen signals on every notification of a write, and when the hub
// says some may have been missed (its first LISTEN, each reconnection):
// the node then reads the changelog (the hub listens first, so nothing
// falls in between).
func (s *Postgres) listen(ctx context.Context, sub *pgnotify.Subscription) {
	defer s.wg.Done()
	defer sub.Close()
	var buf []string
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.Ready():
			buf, _ = sub.Take(buf[:0])
			clear(buf)
			s.signal()
		}
	}
}

// Applied implements Shared: an upsert of the node's row, which also
// prunes rows of nodes gone for a day (a node started without a fixed name
// leaves one row per run).
func (s *Postgres) Applied(ctx context.Context, node string, version int64) error {
	_, err := s.pool.Exec(ctx, `
		WITH gone AS (DELETE FROM registry_nodes WHERE seen < now() - interval '1 day' AND node <> $1)
		INSERT INTO registry_nodes (node, applied, seen) VALUES ($1, $2, now())
		ON CONFLICT (node) DO UPDATE SET applied = GREATEST(registry_nodes.applied, EXCLUDED.applied), seen = now()`,
		node, version)
	if err != nil {
		return fmt.Errorf("registry store: record node %s at version %d: %w", node, version, err)
	}
	return nil
}

// Behind implements Shared.
func (s *Postgres) Behind(ctx context.Context, version int64, live time.Duration) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT node FROM registry_nodes
		WHERE applied < $1 AND seen > now() - make_interval(secs => $2)
		ORDER BY node`, version, live.Seconds())
	if err != nil {
		return nil, fmt.Errorf("registry store: nodes behind version %d: %w", version, err)
	}
	nodes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("registry store: nodes behind version %d: %w", version, err)
	}
	return nodes, nil
}

// Leave implements Shared.
func (s *Postgres) Leave(ctx context.Context, node string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM registry_nodes WHERE node = $1`, node); err != nil {
		return fmt.Errorf("registry store: remove node %s: %w", node, err)
	}
	return nil
}

// querier is what pgx.Tx and the pool have in common.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Load implements Store: a consistent snapshot (REPEATABLE READ) with its
// version.
func (s *Postgres) Load(ctx context.Context) (*State, error) {
	var st *State
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		st, err = loadPG(ctx, tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("registry store: load: %w", err)
	}
	return st, nil
}

func loadPG(ctx context.Context, q querier) (*State, error) {
	st := &State{}
	if err := q.QueryRow(ctx, `SELECT high_water, version FROM registry_ids WHERE singleton = 1`).Scan(&st.MaxID, &st.Version); err != nil {
		return nil, fmt.Errorf("id high-water mark: %w", err)
	}
	rows, err := q.Query(ctx, `SELECT id, type, text, refs, metadata, ruleset, hash FROM registry_schemas ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("schemas: %w", err)
	}
	for rows.Next() {
		var sc Schema
		var refs string
		if err := rows.Scan(&sc.ID, &sc.Type, &sc.Text, &refs, &sc.Metadata, &sc.RuleSet, &sc.Hash); err != nil {
			rows.Close()
			return nil, fmt.Errorf("schemas: %w", err)
		}
		if sc.References, err = decodeRefs(refs); err != nil {
			rows.Close()
			return nil, fmt.Errorf("schema id %d: references: %w", sc.ID, err)
		}
		st.Schemas = append(st.Schemas, sc)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("schemas: %w", err)
	}
	rows, err = q.Query(ctx, `SELECT subject, version, schema_id, deleted FROM registry_versions ORDER BY subject COLLATE "C", version`)
	if err != nil {
		return nil, fmt.Errorf("versions: %w", err)
	}
	for rows.Next() {
		var v Version
		if err := rows.Scan(&v.Subject, &v.Version, &v.SchemaID, &v.Deleted); err != nil {
			rows.Close()
			return nil, fmt.Errorf("versions: %w", err)
		}
		st.Versions = append(st.Versions, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("versions: %w", err)
	}
	if st.Configs, err = loadPGSettings(ctx, q, `SELECT subject, config FROM registry_configs ORDER BY subject COLLATE "C"`); err != nil {
		return nil, fmt.Errorf("configs: %w", err)
	}
	if st.Modes, err = loadPGSettings(ctx, q, `SELECT subject, mode FROM registry_modes ORDER BY subject COLLATE "C"`); err != nil {
		return nil, fmt.Errorf("modes: %w", err)
	}
	return st, nil
}

func loadPGSettings(ctx context.Context, q querier, query string) ([]Setting, error) {
	rows, err := q.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Setting
	for rows.Next() {
		var st Setting
		if err := rows.Scan(&st.Subject, &st.Value); err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// Changes implements Shared. It reads in one REPEATABLE READ snapshot, so
// the version and the writes agree.
func (s *Postgres) Changes(ctx context.Context, since int64) (*Changes, error) {
	var ch *Changes
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var cur int64
		if err := tx.QueryRow(ctx, `SELECT version FROM registry_ids WHERE singleton = 1`).Scan(&cur); err != nil {
			return err
		}
		var err error
		ch, err = changesSince(ctx, tx, since, cur)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("registry store: read changes since version %d: %w", since, err)
	}
	return ch, nil
}

// changesSince reads the writes after since up to cur (the version the
// caller read in the same snapshot or under the lock).
func changesSince(ctx context.Context, q querier, since, cur int64) (*Changes, error) {
	ch := &Changes{Version: cur}
	if since == cur {
		return ch, nil
	}
	if since > cur {
		// The database is older than the node's memory (restored from a
		// backup?): only a full reload is right.
		st, err := loadPG(ctx, q)
		if err != nil {
			return nil, err
		}
		ch.Reload = st
		return ch, nil
	}
	rows, err := q.Query(ctx, `SELECT version, write FROM registry_changes WHERE version > $1 AND version <= $2 ORDER BY version`, since, cur)
	if err != nil {
		return nil, err
	}
	next := since + 1
	for rows.Next() {
		var v int64
		var raw string
		if err := rows.Scan(&v, &raw); err != nil {
			rows.Close()
			return nil, err
		}
		if v != next {
			break // a gap: pruned, reload below
		}
		w := &Write{}
		if err := json.Unmarshal([]byte(raw), w); err != nil {
			rows.Close()
			return nil, fmt.Errorf("changelog version %d: %w", v, err)
		}
		ch.Writes = append(ch.Writes, w)
		next++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if next != cur+1 {
		st, err := loadPG(ctx, q)
		if err != nil {
			return nil, err
		}
		return &Changes{Version: cur, Reload: st}, nil
	}
	return ch, nil
}

// Begin implements Shared.
func (s *Postgres) Begin(ctx context.Context, since int64) (Tx, error) {
	t, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	t.changes, err = changesSince(ctx, t.tx, since, t.version)
	if err != nil {
		t.Rollback()
		return nil, fmt.Errorf("registry store: read changes since version %d: %w", since, err)
	}
	return t, nil
}

// begin opens a write transaction holding the lock row.
func (s *Postgres) begin(ctx context.Context) (*pgTx, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("registry store: begin: %w", err)
	}
	t := &pgTx{s: s, tx: tx}
	if _, err := tx.Exec(ctx, `SELECT set_config('idle_in_transaction_session_timeout', $1, true)`, s.lockT); err != nil {
		t.Rollback()
		return nil, fmt.Errorf("registry store: begin: %w", err)
	}
	if err := tx.QueryRow(ctx, `SELECT version FROM registry_ids WHERE singleton = 1 FOR UPDATE`).Scan(&t.version); err != nil {
		t.Rollback()
		return nil, fmt.Errorf("registry store: take the write lock: %w", err)
	}
	return t, nil
}

// Apply implements Store: a write under the lock, without reading changes.
func (s *Postgres) Apply(ctx context.Context, w *Write) error {
	if w == nil || w.Empty() {
		return nil
	}
	t, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer t.Rollback()
	_, err = t.Commit(ctx, w)
	return err
}

// pgTx is a write transaction holding the lock row.
type pgTx struct {
	s       *Postgres
	tx      pgx.Tx
	version int64 // locked version
	changes *Changes
	done    bool
}

func (t *pgTx) Changes() *Changes { return t.changes }

func (t *pgTx) Rollback() {
	if t.done {
		return
	}
	t.done = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t.tx.Rollback(ctx)
}

func (t *pgTx) Commit(ctx context.Context, w *Write) (int64, error) {
	if t.done {
		return 0, errors.New("registry store: commit of a finished transaction")
	}
	if w == nil || w.Empty() {
		t.Rollback()
		return t.version, nil
	}
	defer t.Rollback()
	if err := applyPG(ctx, t.tx, w); err != nil {
		return 0, err
	}
	raw, err := json.Marshal(w)
	if err != nil {
		return 0, fmt.Errorf("registry store: encode write: %w", err)
	}
	var nv int64
	if err := t.tx.QueryRow(ctx, `UPDATE registry_ids SET version = version + 1, high_water = GREATEST(high_water, $1)
		WHERE singleton = 1 RETURNING version`, w.MaxID).Scan(&nv); err != nil {
		return 0, fmt.Errorf("registry store: bump version: %w", err)
	}
	if _, err := t.tx.Exec(ctx, `INSERT INTO registry_changes (version, write) VALUES ($1, $2)`, nv, string(raw)); err != nil {
		return 0, fmt.Errorf("registry store: changelog: %w", err)
	}
	if _, err := t.tx.Exec(ctx, `DELETE FROM registry_changes WHERE version <= $1`, nv-t.s.keep); err != nil {
		return 0, fmt.Errorf("registry store: prune changelog: %w", err)
	}
	if _, err := t.tx.Exec(ctx, `SELECT pg_notify($1, $2)`, pgChannel, strconv.FormatInt(nv, 10)); err != nil {
		return 0, fmt.Errorf("registry store: notify: %w", err)
	}
	t.done = true
	if err := t.tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("registry store: commit (outcome unknown if the connection broke): %w", classifyPG(err))
	}
	return nv, nil
}

// applyPG writes the rows of w in tx, in the order Write documents.
func applyPG(ctx context.Context, tx pgx.Tx, w *Write) error {
	for _, sc := range w.PutSchemas {
		refs, err := encodeRefs(sc.References)
		if err != nil {
			return fmt.Errorf("registry store: schema id %d: %w", sc.ID, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO registry_schemas (id, type, text, refs, metadata, ruleset, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			sc.ID, sc.Type, sc.Text, refs, sc.Metadata, sc.RuleSet, sc.Hash); err != nil {
			return fmt.Errorf("registry store: insert schema id %d: %w", sc.ID, classifyPG(err))
		}
	}
	for _, v := range w.PutVersions {
		if _, err := tx.Exec(ctx, `INSERT INTO registry_versions (subject, version, schema_id, deleted) VALUES ($1, $2, $3, $4)
			ON CONFLICT (subject, version) DO UPDATE SET schema_id = excluded.schema_id, deleted = excluded.deleted`,
			v.Subject, v.Version, v.SchemaID, v.Deleted); err != nil {
			return fmt.Errorf("registry store: put subject %q version %d: %w", v.Subject, v.Version, classifyPG(err))
		}
	}
	for _, k := range w.DeleteVersions {
		if _, err := tx.Exec(ctx, `DELETE FROM registry_versions WHERE subject = $1 AND version = $2`, k.Subject, k.Version); err != nil {
			return fmt.Errorf("registry store: delete subject %q version %d: %w", k.Subject, k.Version, classifyPG(err))
		}
	}
	for _, id := range w.DeleteSchemas {
		if _, err := tx.Exec(ctx, `DELETE FROM registry_schemas WHERE id = $1`, id); err != nil {
			return fmt.Errorf("registry store: delete schema id %d: %w", id, classifyPG(err))
		}
	}
	for _, c := range w.PutConfigs {
		if _, err := tx.Exec(ctx, `INSERT INTO registry_configs (subject, config) VALUES ($1, $2)
			ON CONFLICT (subject) DO UPDATE SET config = excluded.config`, c.Subject, c.Value); err != nil {
			return fmt.Errorf("registry store: put config of %q: %w", c.Subject, err)
		}
	}
	for _, subj := range w.DeleteConfigs {
		if _, err := tx.Exec(ctx, `DELETE FROM registry_configs WHERE subject = $1`, subj); err != nil {
			return fmt.Errorf("registry store: delete config of %q: %w", subj, err)
		}
	}
	for _, m := range w.PutModes {
		if _, err := tx.Exec(ctx, `INSERT INTO registry_modes (subject, mode) VALUES ($1, $2)
			ON CONFLICT (subject) DO UPDATE SET mode = excluded.mode`, m.Subject, m.Value); err != nil {
			return fmt.Errorf("registry store: put mode of %q: %w", m.Subject, err)
		}
	}
	for _, subj := range w.DeleteModes {
		if _, err := tx.Exec(ctx, `DELETE FROM registry_modes WHERE subject = $1`, subj); err != nil {
			return fmt.Errorf("registry store: delete mode of %q: %w", subj, err)
		}
	}
	return nil
}

// classifyPG marks unique and foreign-key violations as ErrConflict.
func classifyPG(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "23505" || pe.Code == "23503") {
		return fmt.Errorf("%w: %v", ErrConflict, err)
	}
	return err
}
