package store_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/metadb"
	"github.com/sluicehq/sluice/registry/internal/store"
	"github.com/sluicehq/sluice/registry/internal/store/storetest"
)

func openSQLite(t *testing.T) (store.Store, func(t *testing.T) store.Store) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "meta.db")
	open := func(t *testing.T) store.Store {
		t.Helper()
		db, err := metadb.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		s, err := store.NewSQLite(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return open(t), open
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, openSQLite)
}

func TestSQLiteRefusesNewerDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	db, err := metadb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := store.NewSQLite(ctx, db); err != nil {
		t.Fatal(err)
	}
	// Pretend a newer Sluice added a migration.
	if _, err := db.ExecContext(ctx, `INSERT INTO migrations (component, version) VALUES ('registry', 99)`); err != nil {
		t.Fatal(err)
	}
	_, err = store.NewSQLite(ctx, db)
	if err == nil || !strings.Contains(err.Error(), "newer Sluice") {
		t.Fatalf("NewSQLite on a newer database = %v, want an error naming the newer Sluice", err)
	}
}
