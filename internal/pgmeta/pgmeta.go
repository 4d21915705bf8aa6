// Package pgmeta is the cluster's metadata database on PostgreSQL, the
// counterpart of internal/metadb (meta.db on SQLite) for nodes started with
// --meta: it opens the connection pool that a node's components share and
// applies each component's numbered migrations.
//
// Migrations follow metadb's rules: each component owns its tables and its
// migration sequence, recorded in the migrations table under the
// component's name; a database with more migrations than this binary knows
// (written by a newer Sluice) is refused. Several nodes may start at once:
// a component's migrations run in one transaction under a transaction-level
// advisory lock, so exactly one node applies each migration and the others
// see it done.
package pgmeta

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/internal/urlredact"
)

// CheckURL refuses a --meta value that is not a postgres:// URL with a host
// and a database, naming what is wrong.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the URL, password included: keep only why.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("metadata URL: not a URL: %v", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return fmt.Errorf("metadata URL %s: scheme %q: want postgres://USER@HOST:PORT/DB", Redact(raw), u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("metadata URL %s: no host: want postgres://USER@HOST:PORT/DB", Redact(raw))
	}
	if len(u.Path) <= 1 {
		return fmt.Errorf("metadata URL %s: no database name: want postgres://USER@HOST:PORT/DB", Redact(raw))
	}
	return nil
}

// Open connects a pool to the database at rawURL and checks that it
// answers. The caller closes the pool.
func Open(ctx context.Context, rawURL string) (*pgxpool.Pool, error) {
	if err := CheckURL(rawURL); err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("metadata URL: %w", err)
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	// A node that dies with its machine must not hold its session (and the
	// advisory locks of its node lease and write transactions) for the
	// kernel's default two hours: the server probes an idle client after
	// 10 s and drops it after three unanswered probes 5 s apart. Settings
	// in the URL win.
	for k, v := range map[string]string{"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3"} {
		if _, ok := cfg.ConnConfig.RuntimeParams[k]; !ok {
			cfg.ConnConfig.RuntimeParams[k] = v
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("metadata database %s: %w", Redact(rawURL), err)
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("metadata database %s: %w", Redact(rawURL), err)
	}
	return pool, nil
}

// Redact hides a password in a URL, for messages and logs: the user
// info's, and libpq's password and sslpassword parameters.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return urlredact.String(u, "password")
}

// LockKey is the advisory-lock key of a name: every advisory lock Sluice
// takes is keyed through it, so that keys of different purposes do not
// collide by accident.
func LockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("sluice:" + name))
	return int64(h.Sum64())
}

// Migrate applies, in one transaction, the migrations of component that the
// database does not have yet. migrations[i] is migration number i+1; a
// released migration never changes: add a new one instead.
func Migrate(ctx context.Context, pool *pgxpool.Pool, component string, migrations []string) error {
	if pool == nil {
		return errors.New("pgmeta: no database")
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, LockKey("migrate")); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS migrations (
			component TEXT   NOT NULL,
			version   BIGINT NOT NULL,
			PRIMARY KEY (component, version))`); err != nil {
			return fmt.Errorf("create migrations table: %w", err)
		}
		var have int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM migrations WHERE component = $1`, component).Scan(&have); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if have > len(migrations) {
			return fmt.Errorf("tables are at migration %d but this binary knows only %d: the database was written by a newer Sluice", have, len(migrations))
		}
		for i := have; i < len(migrations); i++ {
			if _, err := tx.Exec(ctx, migrations[i]); err != nil {
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO migrations (component, version) VALUES ($1, $2)`, component, i+1); err != nil {
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pgmeta: migrate %s: %w", component, err)
	}
	return nil
}
