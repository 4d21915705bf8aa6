package acl

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/sluicehq/sluice/internal/metadb"
)

// sqliteMigrations are the acl component's meta.db migrations; a released
// migration never changes (add a new one). Names are stored as text
// ("topic", "prefixed", "write", "deny") so the table reads as it means.
var sqliteMigrations = []string{
	`CREATE TABLE acl_rules (
		principal     TEXT NOT NULL,
		resource_type TEXT NOT NULL,
		resource_name TEXT NOT NULL,
		pattern_type  TEXT NOT NULL,
		operation     TEXT NOT NULL,
		permission    TEXT NOT NULL,
		PRIMARY KEY (resource_type, resource_name, pattern_type, principal, operation, permission)
	) WITHOUT ROWID`,
}

// SQLiteStore keeps rules in meta.db, table acl_rules.
type SQLiteStore struct{ db *sql.DB }

// OpenSQLiteStore applies the acl migrations to db (meta.db, opened by
// internal/metadb) and returns the store. The caller keeps db open.
func OpenSQLiteStore(ctx context.Context, db *sql.DB) (*SQLiteStore, error) {
	if err := metadb.Migrate(ctx, db, "acl", sqliteMigrations); err != nil {
		return nil, err
	}
	return &SQLiteStore{db: db}, nil
}

// Load returns every stored rule. A row that does not parse (written by a
// newer Sluice) is an error naming it.
func (s *SQLiteStore) Load(ctx context.Context) ([]Rule, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT principal, resource_type, resource_name, pattern_type, operation, permission FROM acl_rules`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	rules := []Rule{}
	for rows.Next() {
		var principal, rt, name, pt, op, perm string
		if err := rows.Scan(&principal, &rt, &name, &pt, &op, &perm); err != nil {
			return nil, err
		}
		r, err := parseRow(principal, rt, name, pt, op, perm)
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	return rules, rows.Err()
}

func parseRow(principal, rt, name, pt, op, perm string) (Rule, error) {
	r := Rule{Principal: principal, Name: name}
	var err error
	if r.Resource, err = ParseResourceType(rt, false); err != nil {
		return Rule{}, fmt.Errorf("acl_rules row %s %s %s: %w", principal, rt, name, err)
	}
	if r.Pattern, err = ParsePatternType(pt, false); err != nil {
		return Rule{}, fmt.Errorf("acl_rules row %s %s %s: %w", principal, rt, name, err)
	}
	if r.Operation, err = ParseOperation(op, false); err != nil {
		return Rule{}, fmt.Errorf("acl_rules row %s %s %s: %w", principal, rt, name, err)
	}
	if r.Permission, err = ParsePermission(perm, false); err != nil {
		return Rule{}, fmt.Errorf("acl_rules row %s %s %s: %w", principal, rt, name, err)
	}
	return r, nil
}

// Add stores rules in one transaction; rules stored already are left.
func (s *SQLiteStore) Add(ctx context.Context, rules []Rule) error {
	return s.inTx(ctx, rules, `INSERT OR IGNORE INTO acl_rules (principal, resource_type, resource_name, pattern_type, operation, permission) VALUES (?, ?, ?, ?, ?, ?)`)
}

// Remove deletes rules in one transaction.
func (s *SQLiteStore) Remove(ctx context.Context, rules []Rule) error {
	return s.inTx(ctx, rules, `DELETE FROM acl_rules WHERE principal = ? AND resource_type = ? AND resource_name = ? AND pattern_type = ? AND operation = ? AND permission = ?`)
}

func (s *SQLiteStore) inTx(ctx context.Context, rules []Rule, stmt string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, r := range rules {
		if _, err := tx.ExecContext(ctx, stmt, r.Principal, r.Resource.String(), r.Name, r.Pattern.String(), r.Operation.String(), r.Permission.String()); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// MemoryStore keeps rules in memory: for tests and nodes without a data
// directory. Safe for concurrent use through an Authorizer.
type MemoryStore struct{ rules []Rule }

// Load returns a copy of the rules.
func (m *MemoryStore) Load(context.Context) ([]Rule, error) {
	return append([]Rule{}, m.rules...), nil
}

// Add appends the rules not stored yet.
func (m *MemoryStore) Add(_ context.Context, rules []Rule) error {
	for _, r := range rules {
		if !containsRule(m.rules, r) {
			m.rules = append(m.rules, r)
		}
	}
	return nil
}

// Remove drops the rules.
func (m *MemoryStore) Remove(_ context.Context, rules []Rule) error {
	keep := m.rules[:0:0]
	for _, r := range m.rules {
		if !containsRule(rules, r) {
			keep = append(keep, r)
		}
	}
	m.rules = keep
	return nil
}

func containsRule(rules []Rule, r Rule) bool {
	for _, x := range rules {
		if x == r {
			return true
		}
	}
	return false
}
