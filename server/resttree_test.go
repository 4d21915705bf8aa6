package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRESTTreeRouting checks that the /schemas/ and /subjects/ paths that
// skip the mux (restTree) are answered as the mux answered them: clean
// paths by the REST API, paths that ServeMux cleans with its redirect (307), and
// escaped paths by the REST API through the mux.
func TestRESTTreeRouting(t *testing.T) {
	s, err := New(context.Background(), Config{DataDir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := s.Handler()
	req := httptest.NewRequest("POST", "/subjects/orders-value/versions", strings.NewReader(`{"schema":"{\"type\":\"string\"}"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("register: %d %s", rec.Code, rec.Body)
	}
	tests := []struct {
		method, target string
		status         int
		location       string // for redirects
		bodyHas        string
	}{
		{"GET", "/schemas/ids/1", 200, "", `"schema":"\"string\""`},
		{"GET", "/schemas/ids/1/schema", 200, "", `"string"`},
		{"GET", "/schemas/ids/1/", 200, "", `"schema":"\"string\""`},
		{"GET", "/subjects/orders-value/versions/latest", 200, "", `"subject":"orders-value"`},
		{"GET", "/schemas/ids/2", 404, "", `"error_code":40403`},
		{"DELETE", "/schemas/ids/1", 405, "", `"error_code":405`},
		{"GET", "/subjects/orders-value/./versions/1", 307, "/subjects/orders-value/versions/1", ""},
		{"GET", "/subjects/orders-value/versions/../versions/1", 307, "/subjects/orders-value/versions/1", ""},
		{"GET", "/schemas//ids/1", 307, "/schemas/ids/1", ""},
		{"GET", "/subjects/x/..", 307, "/subjects", ""},
		{"GET", "/subjects/a%2Fb/versions", 404, "", `"error_code":40401`},
		{"GET", "/schemasx/ids/1", 404, "", `"error_code":404`},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.target, nil))
		if rec.Code != tt.status {
			t.Errorf("%s %s = %d %s, want %d", tt.method, tt.target, rec.Code, rec.Body, tt.status)
			continue
		}
		if got := rec.Header().Get("Location"); got != tt.location {
			t.Errorf("%s %s: Location %q, want %q", tt.method, tt.target, got, tt.location)
		}
		if !strings.Contains(rec.Body.String(), tt.bodyHas) {
			t.Errorf("%s %s: body %s, want it to contain %s", tt.method, tt.target, rec.Body, tt.bodyHas)
		}
	}
}

// TestRESTTreeDoesNotAllocate checks that a cached registry answer costs no
// allocation through the whole node handler, routing included.
func TestRESTTreeDoesNotAllocate(t *testing.T) {
	s, err := New(context.Background(), Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := s.Handler()
	req := httptest.NewRequest("POST", "/subjects/orders-value/versions", strings.NewReader(`{"schema":"{\"type\":\"string\"}"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("register: %d %s", rec.Code, rec.Body)
	}
	req = httptest.NewRequest("GET", "/schemas/ids/1", nil)
	w := &headerOnlyWriter{h: http.Header{}}
	h.ServeHTTP(w, req)
	if w.status != 200 {
		t.Fatalf("GET /schemas/ids/1 = %d", w.status)
	}
	if n := testing.AllocsPerRun(100, func() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}); n != 0 {
		t.Errorf("GET /schemas/ids/1: %.1f allocations per request, want 0", n)
	}
}

// headerOnlyWriter is an http.ResponseWriter that keeps only the headers and
// status.
type headerOnlyWriter struct {
	h      http.Header
	status int
}

func (w *headerOnlyWriter) Header() http.Header         { return w.h }
func (w *headerOnlyWriter) WriteHeader(status int)      { w.status = status }
func (w *headerOnlyWriter) Write(p []byte) (int, error) { return len(p), nil }
