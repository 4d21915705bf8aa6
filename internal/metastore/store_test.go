package metastore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/internal/metadb"
	"github.com/sluicehq/sluice/internal/metastore"
	"github.com/sluicehq/sluice/internal/metastore/metastoretest"
	"github.com/sluicehq/sluice/internal/pgmeta"
	"github.com/sluicehq/sluice/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestSQLite(t *testing.T) {
	metastoretest.Run(t, func(t *testing.T) (metastore.Store, func(t *testing.T) metastore.Store) {
		path := filepath.Join(t.TempDir(), "meta.db")
		open := func(t *testing.T) metastore.Store {
			db, err := metadb.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			s, err := metastore.NewSQLite(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		return open(t), open
	})
}

func TestPostgres(t *testing.T) {
	metastoretest.Run(t, func(t *testing.T) (metastore.Store, func(t *testing.T) metastore.Store) {
		url := pgtest.DB(t)
		open := func(t *testing.T) metastore.Store {
			pool, err := pgmeta.Open(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			s, err := metastore.NewPostgres(context.Background(), pool)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		return open(t), open
	})
}
