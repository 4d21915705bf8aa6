package metastore

// ACL rules (package acl decides; this stores): table acl_rules, on meta.db
// for an embedded node and on the cluster's PostgreSQL database in cluster
// mode, where every node reads the same rules. A write on PostgreSQL
// notifies channel sluice_acl in its transaction; WatchACLs turns those
// notifications (and a safety poll) into a callback, so that each node's
// cached rule set follows the others' writes.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/internal/metadb"
	"github.com/sluicehq/sluice/internal/pgmeta"
	"github.com/sluicehq/sluice/internal/pgnotify"
)

// ACLRule is one stored rule, its fields as the text package acl writes
// ("topic", "prefixed", "write", "deny"), so that the table reads as it
// means. The six fields are the row's key.
type ACLRule struct {
	Principal    string
	ResourceType string
	ResourceName string
	PatternType  string
	Operation    string
	Permission   string
}

// ACLStore keeps ACL rules. Implementations are safe for concurrent use;
// one conformance suite (metastoretest.RunACLs) runs against each.
type ACLStore interface {
	// ACLRules returns every stored rule, in no order.
	ACLRules(ctx context.Context) ([]ACLRule, error)
	// AddACLRules stores rules, all or none; a rule stored already is left
	// as is.
	AddACLRules(ctx context.Context, rules []ACLRule) error
	// RemoveACLRules deletes rules, all or none; a rule not stored is
	// ignored.
	RemoveACLRules(ctx context.Context, rules []ACLRule) error
}

// aclTable is the acl_rules table of both backends; SQLite adds its
// WITHOUT ROWID (the key is the whole row).
const aclTable = `CREATE TABLE acl_rules (
		principal     TEXT NOT NULL,
		resource_type TEXT NOT NULL,
		resource_name TEXT NOT NULL,
		pattern_type  TEXT NOT NULL,
		operation     TEXT NOT NULL,
		permission    TEXT NOT NULL,
		PRIMARY KEY (resource_type, resource_name, pattern_type, principal, operation, permission)
	)`

// sqliteACLMigrations are the acl component's meta.db migrations (the
// component and table names package acl has always used) and
// pgACLMigrations their PostgreSQL twin; a released migration never
// changes.
var (
	sqliteACLMigrations = []string{aclTable + ` WITHOUT ROWID`}
	pgACLMigrations     = []string{aclTable}
)

const aclColumns = `principal, resource_type, resource_name, pattern_type, operation, permission`

// aclRows is what both drivers' result rows offer.
type aclRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// scanACLRules reads every row of a SELECT of aclColumns.
func scanACLRules(rows aclRows) ([]ACLRule, error) {
	out := []ACLRule{}
	for rows.Next() {
		var r ACLRule
		if err := rows.Scan(&r.Principal, &r.ResourceType, &r.ResourceName, &r.PatternType, &r.Operation, &r.Permission); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// args are r's fields in aclColumns' order.
func (r ACLRule) args() []any {
	return []any{r.Principal, r.ResourceType, r.ResourceName, r.PatternType, r.Operation, r.Permission}
}

// ruleError names the rule a statement failed on.
func ruleError(r ACLRule, err error) error {
	return fmt.Errorf("acl rule %s %s %s: %w", r.Principal, r.ResourceType, r.ResourceName, err)
}

// SQLiteACLs is the ACLStore on meta.db.
type SQLiteACLs struct{ db *sql.DB }

var _ ACLStore = (*SQLiteACLs)(nil)

// NewSQLiteACLs applies the acl migrations to db (meta.db, opened with
// internal/metadb) and returns the store; the caller keeps db.
func NewSQLiteACLs(ctx context.Context, db *sql.DB) (*SQLiteACLs, error) {
	if db == nil {
		return nil, errors.New("metastore: no database")
	}
	if err := metadb.Migrate(ctx, db, "acl", sqliteACLMigrations); err != nil {
		return nil, err
	}
	return &SQLiteACLs{db: db}, nil
}

// ACLRules implements ACLStore.
func (s *SQLiteACLs) ACLRules(ctx context.Context) ([]ACLRule, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+aclColumns+` FROM acl_rules`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanACLRules(rows)
}

// AddACLRules implements ACLStore: one transaction.
func (s *SQLiteACLs) AddACLRules(ctx context.Context, rules []ACLRule) error {
	return s.inTx(ctx, rules, `INSERT OR IGNORE INTO acl_rules (`+aclColumns+`) VALUES (?, ?, ?, ?, ?, ?)`)
}

// RemoveACLRules implements ACLStore: one transaction.
func (s *SQLiteACLs) RemoveACLRules(ctx context.Context, rules []ACLRule) error {
	return s.inTx(ctx, rules, `DELETE FROM acl_rules WHERE principal = ? AND resource_type = ? AND resource_name = ? AND pattern_type = ? AND operation = ? AND permission = ?`)
}

func (s *SQLiteACLs) inTx(ctx context.Context, rules []ACLRule, stmt string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, r := range rules {
		if _, err := tx.ExecContext(ctx, stmt, r.args()...); err != nil {
			return ruleError(r, err)
		}
	}
	return tx.Commit()
}

// aclChannel is the LISTEN/NOTIFY channel of ACL writes (no payload: a
// node reloads the whole rule set, which is small).
const aclChannel = "sluice_acl"

// DefaultACLPollInterval is the safety poll of WatchACLs: notifications
// normally announce a change at once.
const DefaultACLPollInterval = 5 * time.Second

// PostgresACLs is the ACLStore on the cluster's PostgreSQL database.
type PostgresACLs struct {
	pool   *pgxpool.Pool
	notify *pgnotify.Hub // WithNotify; nil: WatchACLs opens its own
}

// WithNotify makes WatchACLs follow writes through the node's PostgreSQL
// notification hub, shared with its other components (each listening
// connection is woken by every NOTIFY of the database), instead of a
// connection of its own. It returns s.
func (s *PostgresACLs) WithNotify(h *pgnotify.Hub) *PostgresACLs {
	s.notify = h
	return s
}

var _ ACLStore = (*PostgresACLs)(nil)

// NewPostgresACLs applies the acl migrations on pool (internal/pgmeta.Open)
// and returns the store; the caller closes the pool.
func NewPostgresACLs(ctx context.Context, pool *pgxpool.Pool) (*PostgresACLs, error) {
	if pool == nil {
		return nil, errors.New("metastore: no PostgreSQL pool")
	}
	if err := pgmeta.Migrate(ctx, pool, "acl", pgACLMigrations); err != nil {
		return nil, err
	}
	return &PostgresACLs{pool: pool}, nil
}

// ACLRules implements ACLStore.
func (s *PostgresACLs) ACLRules(ctx context.Context) ([]ACLRule, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+aclColumns+` FROM acl_rules`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanACLRules(rows)
}

// AddACLRules implements ACLStore: one transaction, which notifies the
// other nodes when it commits.
func (s *PostgresACLs) AddACLRules(ctx context.Context, rules []ACLRule) error {
	return s.inTx(ctx, rules, `INSERT INTO acl_rules (`+aclColumns+`) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`)
}

// RemoveACLRules implements ACLStore: one transaction, which notifies the
// other nodes when it commits.
func (s *PostgresACLs) RemoveACLRules(ctx context.Context, rules []ACLRule) error {
	return s.inTx(ctx, rules, `DELETE FROM acl_rules WHERE principal = $1 AND resource_type = $2 AND resource_name = $3 AND pattern_type = $4 AND operation = $5 AND permission = $6`)
}

func (s *PostgresACLs) inTx(ctx context.Context, rules []ACLRule, stmt string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, r := range rules {
			if _, err := tx.Exec(ctx, stmt, r.args()...); err != nil {
				return ruleError(r, err)
			}
		}
		// Delivered to every listener when the transaction commits, never
		// when it rolls back.
		_, err := tx.Exec(ctx, `SELECT pg_notify('`+aclChannel+`', '')`)
		return err
	})
}

// WatchACLs calls changed whenever the rules may have changed, until ctx
// ends: on each notification of a write (from any node, this one
// included), once its channel is listened on and after each reconnection
// of the listening connection (a notification may have been missed while
// it was away: listen first, then signal, so that nothing falls in
// between), and every poll (0 means DefaultACLPollInterval) as a safety
// net. changed runs on one goroutine, never concurrently with itself.
// Without a hub (WithNotify) WatchACLs opens a listening connection of
// its own and returns once it is closed; its lost connections are logged
// through warn (nil: not logged) and retried with a growing pause (up to
// 5 s). With one, the hub reports them.
func (s *PostgresACLs) WatchACLs(ctx context.Context, poll time.Duration, changed func(), warn func(msg string, err error)) {
	if poll <= 0 {
		poll = DefaultACLPollInterval
	}
	hub := s.notify
	if hub == nil {
		var err error
		hub, err = pgnotify.New(pgnotify.Config{ConnConfig: s.pool.Config().ConnConfig, Warn: warn})
		if err != nil {
			if warn != nil {
				warn("ACL change feed: no listener", err)
			}
			return
		}
		// The listener is this call's: WatchACLs returns after it has
		// closed its connection.
		defer hub.Close()
	}
	sub, err := hub.Subscribe(aclChannel)
	if err != nil {
		if warn != nil {
			warn("ACL change feed: no listener", err)
		}
		return
	}
	defer sub.Close()
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			changed()
		case <-sub.Ready():
			sub.Take(nil)
			changed()
		}
	}
}
