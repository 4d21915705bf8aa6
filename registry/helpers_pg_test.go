package registry_test

import (
	"github.com/sluicehq/sluice/internal/pgmeta"
	"github.com/sluicehq/sluice/internal/pgtest"
	"github.com/sluicehq/sluice/registry"
)

// storeEnv, set to "postgres", runs the registry's tests on the PostgreSQL
// store (cluster mode) instead of meta.db.
const storeEnv = "SLUICE_REGISTRY_TEST_STORE"

// openPostgres opens the env's registry on its PostgreSQL database (one per
// env, kept across reopen).
func (e *env) openPostgres() *registry.Registry {
	e.t.Helper()
	if e.pg == "" {
		e.pg = pgtest.DB(e.t)
	}
	pool, err := pgmeta.Open(ctx, e.pg)
	if err != nil {
		e.t.Fatal(err)
	}
	r, err := registry.OpenCluster(ctx, registry.Config{Logger: e.log}, registry.Cluster{Pool: pool})
	if err != nil {
		pool.Close()
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		r.Close()
		pool.Close()
	})
	return r
}
