package shared

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/objstore"
)

func TestConfigErrors(t *testing.T) {
	dir, err := objstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pool := &pgxpool.Pool{} // never used: validation fails first
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no pool", Config{Objects: dir, Node: "a"}, "Pool is required"},
		{"no store", Config{Pool: pool, Node: "a"}, "Objects is required"},
		{"bad node", Config{Pool: pool, Objects: dir, Node: "a/b"}, `Node "a/b"`},
		{"empty node", Config{Pool: pool, Objects: dir}, `Node ""`},
		{"negative window", Config{Pool: pool, Objects: dir, Node: "a", Window: -time.Second}, "Window -1s must be positive"},
		{"buffer below object", Config{Pool: pool, Objects: dir, Node: "a", MaxObjectBytes: 1 << 20, MaxBufferedBytes: 1 << 10}, "MaxBufferedBytes 1024 must be at least MaxObjectBytes"},
		{"orphan age too short", Config{Pool: pool, Objects: dir, Node: "a", OrphanAge: time.Second}, "OrphanAge 1s must exceed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cfg.withDefaults()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := (Config{Pool: pool, Objects: dir, Node: "node-1.a_b"}).withDefaults(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
}
