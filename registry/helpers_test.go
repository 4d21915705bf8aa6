package registry_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/metadb"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/serde"
)

var ctx = context.Background()

// testWriter sends log lines to t.Log so that failures show them.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// env is a registry on a meta.db in a temporary directory.
type env struct {
	t    testing.TB
	path string
	pg   string // database URL, with SLUICE_REGISTRY_TEST_STORE=postgres
	log  *slog.Logger
	*registry.Registry
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvLogger(t, testLogger(t))
}

// newEnvLogger is newEnv with another logger: fuzz targets may not log
// through the *testing.F that owns the registry.
func newEnvLogger(t testing.TB, log *slog.Logger) *env {
	t.Helper()
	e := &env{t: t, path: filepath.Join(t.TempDir(), "meta.db"), log: log}
	e.Registry = e.open()
	return e
}

func (e *env) open() *registry.Registry {
	e.t.Helper()
	if os.Getenv(storeEnv) == "postgres" {
		return e.openPostgres()
	}
	db, err := metadb.Open(e.path)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { db.Close() })
	r, err := registry.Open(ctx, registry.Config{DB: db, Logger: e.log})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { r.Close() })
	return r
}

// reopen closes the registry and opens a new one on the same file.
func (e *env) reopen() {
	e.t.Helper()
	e.Registry.Close()
	e.Registry = e.open()
}

// register registers an Avro schema and fails the test on error.
func (e *env) register(subject, text string) registry.SubjectVersion {
	e.t.Helper()
	return e.registerSchema(subject, avroSchema(text), registry.RegisterOptions{})
}

func (e *env) registerSchema(subject string, s registry.Schema, opt registry.RegisterOptions) registry.SubjectVersion {
	e.t.Helper()
	sv, err := e.Register(ctx, subject, s, opt)
	if err != nil {
		e.t.Fatalf("Register(%q): %v", subject, err)
	}
	return sv
}

func (e *env) setLevel(subject string, l string) {
	e.t.Helper()
	lv := compatLevel(l)
	if _, err := e.SetConfig(ctx, subject, registry.SubjectConfig{Compatibility: &lv}); err != nil {
		e.t.Fatalf("SetConfig(%q, %s): %v", subject, l, err)
	}
}

func (e *env) setMode(subject string, m registry.Mode, force bool) {
	e.t.Helper()
	if _, err := e.SetMode(ctx, subject, m, force); err != nil {
		e.t.Fatalf("SetMode(%q, %s): %v", subject, m, err)
	}
}

func (e *env) deleteVersion(subject string, v int, permanent bool) {
	e.t.Helper()
	if _, err := e.DeleteVersion(ctx, subject, v, permanent); err != nil {
		e.t.Fatalf("DeleteVersion(%q, %d, %v): %v", subject, v, permanent, err)
	}
}

func (e *env) deleteSubject(subject string, permanent bool) []int {
	e.t.Helper()
	vs, err := e.DeleteSubject(ctx, subject, permanent)
	if err != nil {
		e.t.Fatalf("DeleteSubject(%q, %v): %v", subject, permanent, err)
	}
	return vs
}

func avroSchema(text string) registry.Schema { return registry.Schema{Type: serde.Avro, Text: text} }

// wantErr fails unless err matches want (a sentinel for errors.Is, or a
// pointer to an error type for errors.As).
func wantErr(t testing.TB, err error, want any) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", want)
	}
	switch w := want.(type) {
	case error:
		if !errors.Is(err, w) {
			t.Fatalf("got error %q, want %q", err, w)
		}
	default:
		if !errors.As(err, w) {
			t.Fatalf("got error %q (%T), want %T", err, err, want)
		}
	}
}

// Avro schemas of one record evolving.
const (
	orderV1 = `{"type":"record","name":"Order","fields":[{"name":"id","type":"long"}]}`
	// orderV1Spaced is orderV1 with other whitespace and key order.
	orderV1Spaced = `{ "name": "Order", "type": "record",
		"fields": [ { "type": "long", "name": "id" } ] }`
	// orderV2 adds a field with a default: FULL compatible with v1.
	orderV2 = `{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},{"name":"note","type":"string","default":""}]}`
	// orderV3 adds a field without a default: not BACKWARD compatible.
	orderV3 = `{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},{"name":"qty","type":"int"}]}`
	// orderNoID drops id: BACKWARD compatible, not FORWARD.
	orderNoID = `{"type":"record","name":"Order","fields":[]}`
	// orderV4 is orderV3 plus a field with a default: BACKWARD compatible
	// with orderV3, not with orderV1.
	orderV4 = `{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},{"name":"qty","type":"int"},{"name":"note","type":"string","default":""}]}`
	other   = `{"type":"record","name":"Other","fields":[{"name":"x","type":"string"}]}`
)

func openDB(path string) (*sql.DB, error) { return metadb.Open(path) }
