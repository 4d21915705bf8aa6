package rest_test

import (
	"context"
	"testing"

	"github.com/sluicehq/sluice/internal/pgmeta"
	"github.com/sluicehq/sluice/internal/pgtest"
	"github.com/sluicehq/sluice/registry"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// storeEnv, set to "postgres", serves the REST tests (the franz-go sr client
// tests among them) from a registry on the PostgreSQL store (cluster mode)
// instead of meta.db.
const storeEnv = "SLUICE_REGISTRY_TEST_STORE"

// openPostgres opens a registry on a fresh PostgreSQL database.
func openPostgres(tb testing.TB, cfg registry.Config) (*registry.Registry, error) {
	tb.Helper()
	pool, err := pgmeta.Open(context.Background(), pgtest.DB(tb))
	if err != nil {
		return nil, err
	}
	reg, err := registry.OpenCluster(context.Background(), cfg, registry.Cluster{Pool: pool})
	if err != nil {
		pool.Close()
		return nil, err
	}
	tb.Cleanup(pool.Close) // after the registry's close, registered later
	return reg, nil
}
