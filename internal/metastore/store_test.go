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

func TestPostgresGroupLeases(t *testing.T) {
	metastoretest.RunGroupLeases(t, func(t *testing.T) metastoretest.LeaseStore {
		pool, err := pgmeta.Open(context.Background(), pgtest.DB(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		s, err := metastore.NewPostgres(context.Background(), pool)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestSQLiteRefusesFencedWrites: meta.db keeps no leases, so a write that
// names one cannot be checked and is refused rather than applied.
func TestSQLiteRefusesFencedWrites(t *testing.T) {
	db, err := metadb.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := metastore.NewSQLite(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	f := metastore.Fence{Node: "a", Epoch: 1}
	if err := s.CommitOffsets(context.Background(), "g", f, []metastore.Offset{{Topic: "t"}}, 1); err == nil {
		t.Error("fenced CommitOffsets on SQLite succeeded")
	}
	if o, _ := s.GroupOffsets(context.Background(), "g"); len(o) != 0 {
		t.Errorf("a refused commit wrote %+v", o)
	}
}

// TestPostgresProducerIDs: two stores on one database (two nodes) hand
// out distinct producer ids, concurrently, all from 2^40 up.
func TestPostgresProducerIDs(t *testing.T) {
	ctx := context.Background()
	url := pgtest.DB(t)
	var stores []*metastore.Postgres
	for range 2 {
		pool, err := pgmeta.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		s, err := metastore.NewPostgres(ctx, pool)
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, s)
	}
	const each = 50
	ids := make(chan int64, 2*each)
	errs := make(chan error, 2)
	for _, s := range stores {
		go func() {
			for range each {
				id, err := s.NextProducerID(ctx)
				if err != nil {
					errs <- err
					return
				}
				ids <- id
			}
			errs <- nil
		}()
	}
	for range stores {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(ids)
	seen := map[int64]bool{}
	for id := range ids {
		if seen[id] || id < 1<<40 {
			t.Fatalf("producer id %d handed out twice, or below 2^40", id)
		}
		seen[id] = true
	}
	if len(seen) != 2*each {
		t.Fatalf("%d ids, want %d", len(seen), 2*each)
	}
}
