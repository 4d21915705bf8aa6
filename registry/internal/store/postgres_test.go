package store_test

import (
	"context"
	"testing"

	"github.com/sluicehq/sluice/internal/pgmeta"
	"github.com/sluicehq/sluice/internal/pgtest"
	"github.com/sluicehq/sluice/registry/internal/store"
	"github.com/sluicehq/sluice/registry/internal/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// openPostgres returns a Postgres store on url, closed (with its pool) when
// t ends.
func openPostgres(t *testing.T, url string, cfg store.PostgresConfig) *store.Postgres {
	t.Helper()
	ctx := context.Background()
	pool, err := pgmeta.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Pool = pool
	s, err := store.NewPostgres(ctx, cfg)
	if err != nil {
		pool.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		pool.Close()
	})
	return s
}

func TestPostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (store.Store, func(t *testing.T) store.Store) {
		url := pgtest.DB(t)
		return openPostgres(t, url, store.PostgresConfig{}), func(t *testing.T) store.Store {
			return openPostgres(t, url, store.PostgresConfig{})
		}
	})
}

func TestPostgresShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (a, b store.Shared) {
		url := pgtest.DB(t)
		return openPostgres(t, url, store.PostgresConfig{}), openPostgres(t, url, store.PostgresConfig{})
	})
}

// A node further behind than the changelog reaches reloads everything.
func TestPostgresPrunedChangelogReloads(t *testing.T) {
	url := pgtest.DB(t)
	a := openPostgres(t, url, store.PostgresConfig{ChangelogKeep: 2})
	b := openPostgres(t, url, store.PostgresConfig{ChangelogKeep: 2})
	ctx := context.Background()
	for i := 1; i <= 5; i++ {
		if err := a.Apply(ctx, &store.Write{PutModes: []store.Setting{{Subject: "s", Value: "READONLY"}}, MaxID: i}); err != nil {
			t.Fatal(err)
		}
	}
	want, err := a.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Versions 4 and 5 are kept: from 3 the writes suffice, from 2 not.
	ch, err := b.Changes(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Reload != nil || len(ch.Writes) != 2 || ch.Version != 5 {
		t.Errorf("Changes(3) = %d writes, reload %v, version %d; want 2 writes to version 5", len(ch.Writes), ch.Reload != nil, ch.Version)
	}
	for _, since := range []int64{2, 0, 99} {
		ch, err := b.Changes(ctx, since)
		if err != nil {
			t.Fatal(err)
		}
		if ch.Reload == nil || ch.Reload.MaxID != want.MaxID || ch.Reload.Version != want.Version || ch.Version != want.Version {
			t.Errorf("Changes(%d) past the changelog = %+v, want a reload of %+v", since, ch, want)
		}
	}
}
