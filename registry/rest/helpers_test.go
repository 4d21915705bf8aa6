package rest_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	goldenfile "github.com/sluicehq/sluice/internal/golden"

	"github.com/sluicehq/sluice/internal/metadb"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/registry/rest"
)

// testWriter sends log lines to t.Log so failures show them.
type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Helper()
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// testServer is a registry behind the REST handler on a loopback httptest
// server.
type testServer struct {
	URL string
	Reg *registry.Registry
	srv *httptest.Server
}

// newServer opens a fresh registry in a temporary meta.db and serves it.
func newServer(tb testing.TB, regCfg registry.Config, cfg rest.Config) *testServer {
	tb.Helper()
	db, err := metadb.Open(filepath.Join(tb.TempDir(), "meta.db"))
	if err != nil {
		tb.Fatal(err)
	}
	regCfg.DB = db
	reg, err := registry.Open(context.Background(), regCfg)
	if os.Getenv(storeEnv) == "postgres" && err == nil {
		reg.Close()
		reg, err = openPostgres(tb, regCfg)
	}
	if err != nil {
		db.Close()
		tb.Fatal(err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if cfg.CommitID == "" {
		cfg.CommitID = "test-commit"
	}
	srv := httptest.NewServer(rest.NewHandler(reg, cfg))
	tb.Cleanup(func() {
		srv.Close()
		reg.Close()
		db.Close()
	})
	return &testServer{URL: srv.URL, Reg: reg, srv: srv}
}

// response is what a request got back.
type response struct {
	Status      int
	ContentType string
	Body        string
}

// do sends method path with body (if not empty) as the v1 content type.
func (s *testServer) do(tb testing.TB, method, path, body string, header ...string) response {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return response{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: string(b)}
}

// golden compares got with testdata/name (internal/golden; -update rewrites it).
func golden(tb testing.TB, name, got string) {
	tb.Helper()
	goldenfile.Check(tb, filepath.Join("testdata", name), got)
}

// jsonString quotes s as a JSON string, for building bodies.
func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // strings always marshal
	}
	return string(b)
}

// schemaBody builds a register/lookup/compatibility body for schema text,
// with extra members (already encoded, e.g. `"schemaType":"JSON"`).
func schemaBody(schema string, extra ...string) string {
	members := append([]string{`"schema":` + jsonString(schema)}, extra...)
	return "{" + strings.Join(members, ",") + "}"
}
