package rest_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/registry/rest"
)

// logBuffer is a concurrency-safe log sink for asserting what was logged.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestStoreError: a write the store cannot take answers 500/50001 and is
// logged once at Error.
func TestStoreError(t *testing.T) {
	var logs logBuffer
	s := newServer(t, registry.Config{}, rest.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := s.Reg.Close(); err != nil { // later writes fail with ErrStore
		t.Fatal(err)
	}
	resp := s.do(t, "POST", "/subjects/orders-value/versions", schemaBody(orderV1))
	if resp.Status != 500 || !strings.Contains(resp.Body, `"error_code":50001`) {
		t.Fatalf("got %d %s; want 500 with error_code 50001", resp.Status, resp.Body)
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
		t.Errorf("logged %d Error lines, want 1:\n%s", n, logs.String())
	}
}

// TestPanicRecovered: a panic inside a handler answers the 500 envelope and
// is logged once; the server keeps serving.
func TestPanicRecovered(t *testing.T) {
	var logs logBuffer
	// A nil registry makes every registry call panic.
	srv := httptest.NewServer(rest.NewHandler(nil, rest.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/subjects")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	if resp.StatusCode != 500 || body.String() != `{"error_code":500,"message":"Internal Server Error"}` {
		t.Fatalf("got %d %s; want the 500 envelope", resp.StatusCode, body.String())
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 || !strings.Contains(logs.String(), "panic") {
		t.Errorf("want one Error line about the panic, got:\n%s", logs.String())
	}
	// Endpoints that do not touch the registry still answer.
	resp2, err := http.Get(srv.URL + "/schemas/types")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != 200 {
		t.Errorf("after a panic, GET /schemas/types = %d", resp2.StatusCode)
	}
}

// TestCanceledRequest: a request whose client is gone is not logged as a
// server failure.
func TestCanceledRequest(t *testing.T) {
	var logs logBuffer
	s := newServer(t, registry.Config{}, rest.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, "POST", "/subjects/x/versions", strings.NewReader(schemaBody(orderV1)))
	rec := httptest.NewRecorder()
	rest.NewHandler(s.Reg, rest.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}).ServeHTTP(rec, req)
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("a canceled request was logged as an error:\n%s", logs.String())
	}
}
