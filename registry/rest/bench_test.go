package rest_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/registry/rest"
)

// newBenchServer is newServer with logs discarded, so logging does not
// dominate the numbers.
func newBenchServer(b *testing.B) *testServer {
	s := newServer(b, registry.Config{}, rest.Config{Logger: slog.New(slog.DiscardHandler)})
	if resp := s.do(b, "POST", "/subjects/orders-value/versions", schemaBody(orderV1)); resp.Status != 200 {
		b.Fatalf("register: %d %s", resp.Status, resp.Body)
	}
	return s
}

// BenchmarkSchemaByID is what every consumer does on an unknown id:
// GET /schemas/ids/{id} over real loopback HTTP, from parallel clients.
func BenchmarkSchemaByID(b *testing.B) {
	s := newBenchServer(b)
	url := s.URL + "/schemas/ids/1"
	hc := s.srv.Client()
	hc.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := hc.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

// BenchmarkReregister is what every producer does on start: register a
// schema the subject already has (the idempotent fast path) over HTTP.
func BenchmarkReregister(b *testing.B) {
	s := newBenchServer(b)
	url := s.URL + "/subjects/orders-value/versions"
	body := schemaBody(orderV1Spaced)
	hc := s.srv.Client()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		resp, err := hc.Post(url, "application/vnd.schemaregistry.v1+json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// BenchmarkRootProbe is the baseline for the two above: GET / does no
// registry work, so it measures loopback HTTP and the handler's routing.
func BenchmarkRootProbe(b *testing.B) {
	s := newBenchServer(b)
	url := s.URL + "/"
	hc := s.srv.Client()
	hc.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := hc.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

// BenchmarkSchemaByIDHandler isolates the handler's cost from HTTP: it calls
// ServeHTTP directly, with a new httptest.ResponseRecorder per request
// (whose allocations it counts; BenchmarkCachedAnswer does without).
func BenchmarkSchemaByIDHandler(b *testing.B) {
	s := newBenchServer(b)
	h := rest.NewHandler(s.Reg, rest.Config{Logger: slog.New(slog.DiscardHandler)})
	req := httptest.NewRequest("GET", "/schemas/ids/1", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
