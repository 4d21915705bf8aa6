package acl_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/acl"
	"github.com/sluicehq/sluice/acl/acltest"
	"github.com/sluicehq/sluice/internal/metadb"
)

func openSQLite(t *testing.T) *acl.MetaStore {
	t.Helper()
	db, err := metadb.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := acl.OpenSQLiteStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSQLiteStore(t *testing.T) {
	acltest.TestStore(t, func(t *testing.T) acl.Store { return openSQLite(t) })
}

func TestMemoryStore(t *testing.T) {
	acltest.TestStore(t, func(t *testing.T) acl.Store { return &acl.MemoryStore{} })
}

// TestSQLiteStoreSurvivesReopen: rules written through an Authorizer are
// there for the next one over the same meta.db.
func TestSQLiteStoreSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "meta.db")
	r := acl.Rule{Principal: "alice", Resource: acl.Topic, Name: "orders", Pattern: acl.Literal, Operation: acl.Read, Permission: acl.Allow}
	for i := range 2 {
		db, err := metadb.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		s, err := acl.OpenSQLiteStore(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		a, err := acl.New(ctx, acl.Config{Store: s, Enforce: true})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := a.Create(ctx, []acl.Rule{r}); err != nil {
				t.Fatal(err)
			}
		} else if got := a.Rules(acl.Filter{}); len(got) != 1 || got[0] != r {
			t.Fatalf("after reopen: %v, want [%v]", got, r)
		}
		db.Close()
	}
}
