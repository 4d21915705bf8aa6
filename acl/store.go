package acl

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/internal/metastore"
	"github.com/sluicehq/sluice/internal/pgnotify"
)

// MetaStore keeps rules in the node's meta store (internal/metastore, table
// acl_rules): meta.db for an embedded node, the cluster's PostgreSQL
// database in cluster mode, where every node reads and writes the same
// rules. Names are stored as text ("topic", "prefixed", "write", "deny") so
// that the table reads as it means.
type MetaStore struct {
	s metastore.ACLStore
}

// NewMetaStore returns the Store over a meta store's ACL table.
func NewMetaStore(s metastore.ACLStore) *MetaStore { return &MetaStore{s: s} }

// OpenSQLiteStore applies the acl migrations to db (meta.db, opened by
// internal/metadb) and returns the store. The caller keeps db open.
func OpenSQLiteStore(ctx context.Context, db *sql.DB) (*MetaStore, error) {
	s, err := metastore.NewSQLiteACLs(ctx, db)
	if err != nil {
		return nil, err
	}
	return NewMetaStore(s), nil
}

// OpenPostgresStore applies the acl migrations on the cluster's PostgreSQL
// database (internal/pgmeta.Open) and returns the store, whose Watch
// follows the other nodes' writes through notify, the node's notification
// hub (nil: a listening connection of its own). The caller closes the
// pool and the hub.
func OpenPostgresStore(ctx context.Context, pool *pgxpool.Pool, notify *pgnotify.Hub) (*MetaStore, error) {
	s, err := metastore.NewPostgresACLs(ctx, pool)
	if err != nil {
		return nil, err
	}
	return NewMetaStore(s.WithNotify(notify)), nil
}

// Load returns every stored rule. A row that does not parse (written by a
// newer Sluice) is an error naming it.
func (m *MetaStore) Load(ctx context.Context) ([]Rule, error) {
	rows, err := m.s.ACLRules(ctx)
	if err != nil {
		return nil, err
	}
	rules := make([]Rule, 0, len(rows))
	for _, row := range rows {
		r, err := parseRow(row)
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func parseRow(row metastore.ACLRule) (Rule, error) {
	r := Rule{Principal: row.Principal, Name: row.ResourceName}
	var err error
	if r.Resource, err = ParseResourceType(row.ResourceType, false); err == nil {
		if r.Pattern, err = ParsePatternType(row.PatternType, false); err == nil {
			if r.Operation, err = ParseOperation(row.Operation, false); err == nil {
				r.Permission, err = ParsePermission(row.Permission, false)
			}
		}
	}
	if err != nil {
		return Rule{}, fmt.Errorf("acl_rules row %s %s %s: %w", row.Principal, row.ResourceType, row.ResourceName, err)
	}
	return r, nil
}

func toRows(rules []Rule) []metastore.ACLRule {
	rows := make([]metastore.ACLRule, len(rules))
	for i, r := range rules {
		rows[i] = metastore.ACLRule{Principal: r.Principal, ResourceType: r.Resource.String(), ResourceName: r.Name,
			PatternType: r.Pattern.String(), Operation: r.Operation.String(), Permission: r.Permission.String()}
	}
	return rows
}

// Add stores rules in one transaction; rules stored already are left.
func (m *MetaStore) Add(ctx context.Context, rules []Rule) error {
	return m.s.AddACLRules(ctx, toRows(rules))
}

// Remove deletes rules in one transaction.
func (m *MetaStore) Remove(ctx context.Context, rules []Rule) error {
	return m.s.RemoveACLRules(ctx, toRows(rules))
}

// aclWatcher is the meta store of a cluster (metastore.PostgresACLs).
type aclWatcher interface {
	WatchACLs(ctx context.Context, poll time.Duration, changed func(), warn func(string, error))
}

// Watch implements Watcher: on PostgreSQL it calls changed on every
// notification of a write by any node (LISTEN/NOTIFY), after each
// reconnection, and every metastore.DefaultACLPollInterval as a safety
// net, until ctx ends; on meta.db, which only this node writes, it returns
// at once.
func (m *MetaStore) Watch(ctx context.Context, changed func(), warn func(string, error)) {
	if w, ok := m.s.(aclWatcher); ok {
		w.WatchACLs(ctx, 0, changed, warn)
	}
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
