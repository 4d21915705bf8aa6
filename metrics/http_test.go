package metrics

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicehq/sluice/internal/reqid"
	_ "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1" // registers the broker services
	"github.com/sluicehq/sluice/registry/rest"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct{ method, path, transport, name string }{
		{"POST", "/sluice.broker.v1.BrokerService/Produce", "connect", "sluice.broker.v1.BrokerService/Produce"},
		{"POST", "/sluice.broker.v1.BrokerService/Nope", "http", "other"},
		{"POST", "/no.such.Service/Produce", "http", "other"},
		{"GET", "/subjects/orders-value/versions/1", "rest", "GET /subjects/*/versions/*"},
		{"GET", "/metrics", "http", "/metrics"},
		{"GET", "/console/topics/x", "http", "/console"},
		{"GET", "/random/path/" + strings.Repeat("x", 100), "http", "other"},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		if tr, name := classify(r); tr != tc.transport || name != tc.name {
			t.Errorf("%s %s: %s %q, want %s %q", tc.method, tc.path, tr, name, tc.transport, tc.name)
		}
	}
}

// A usable id the client sent is echoed; otherwise an error response gets
// a fresh one at every log level (a success gets one with debug logging,
// where it names the request's log line).
func TestInstrumentRequestID(t *testing.T) {
	for _, debug := range []bool{false, true} {
		level := slog.LevelInfo
		if debug {
			level = slog.LevelDebug
		}
		m, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: level}))})
		if err != nil {
			t.Fatal(err)
		}
		h := m.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "no", http.StatusTeapot)
		}))
		for _, tc := range []struct{ sent, want string }{
			{"abc-123", "abc-123"},
			{"bad id\nforged", ""}, // replaced, or dropped
			{"", ""},
		} {
			r := httptest.NewRequest("GET", "/subjects", nil)
			if tc.sent != "" {
				r.Header[RequestIDHeader] = []string{tc.sent}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			got := w.Header().Get(RequestIDHeader)
			switch {
			case tc.want != "" && got != tc.want:
				t.Errorf("debug %v, sent %q: response id %q, want it echoed", debug, tc.sent, got)
			case tc.want == "" && (got == "" || got == tc.sent):
				t.Errorf("debug %v, sent %q: error response id %q, want a fresh one", debug, tc.sent, got)
			}
			if w.Code != http.StatusTeapot {
				t.Errorf("status %d", w.Code)
			}
		}
		if n := testutil.CollectAndCount(m.requests); n != 1 {
			t.Errorf("%d request series, want 1", n)
		}
	}
}

// BenchmarkInstrument measures the HTTP instrumentation per request (the
// latency observation, in-flight gauge, request id, status capture) over a
// handler that does nothing.
func BenchmarkInstrument(b *testing.B) {
	m, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	noop := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, tc := range []struct {
		name string
		h    http.Handler
		path string
	}{
		{"bare/rest", noop, "/schemas/ids/1"},
		{"instrumented/rest", m.Instrument(noop), "/schemas/ids/1"},
		{"instrumented/connect", m.Instrument(noop), "/sluice.broker.v1.BrokerService/Produce"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", tc.path, nil)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				clear(w.Header())
				tc.h.ServeHTTP(w, r)
			}
		})
	}
}

// FuzzClassify: whatever the path, the labels come from fixed sets (a
// known transport; a method that is a fixed path, "other", a REST
// endpoint or a procedure the proto registry knows), and a request id
// that is accepted cannot break a log line.
func FuzzClassify(f *testing.F) {
	f.Add("/sluice.broker.v1.BrokerService/Produce", "x-1")
	f.Add("/subjects/a/versions/1", "bad id")
	f.Add("/a.B/C/D", "")
	f.Fuzz(func(t *testing.T, path, id string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.URL.Path = path
		tr, name := classify(r)
		switch tr {
		case "http":
			if name != "other" && name != "/console" && name != path {
				t.Fatalf("http method %q for %q", name, path)
			}
		case "rest":
			if rest.RouteOf("GET", r.URL.EscapedPath()) != name {
				t.Fatalf("rest method %q for %q", name, path)
			}
		case "connect":
			if _, ok := procedure("/" + name); !ok {
				t.Fatalf("connect method %q for %q", name, path)
			}
		default:
			t.Fatalf("transport %q for %q", tr, path)
		}
		if usableRequestID(id) && strings.ContainsAny(id, " \n\r\t\"=") {
			t.Fatalf("request id %q accepted", id)
		}
	})
}

// TestInstrumentRequestIDFromALogLine: a line logged on a request's behalf
// (reqid.Attrs, as a refusal is) makes the request's id, and the response,
// even a success, carries the same one; without a line, a success carries
// none at the default level.
func TestInstrumentRequestIDFromALogLine(t *testing.T) {
	m, err := New(Config{RequestContext: true})
	if err != nil {
		t.Fatal(err)
	}
	var logged string
	h := m.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logged = ""
		if r.URL.Query().Has("log") {
			for _, a := range reqid.Attrs(r.Context()) {
				if a.Key == reqid.KeyRequestID {
					logged = a.Value.String()
				}
			}
		}
		w.Write([]byte("ok"))
	}))
	for _, tc := range []struct {
		path, sent string
		want       func(got string) bool
	}{
		{"/subjects?log", "", func(got string) bool { return got != "" && got == logged }},
		{"/subjects?log", "abc", func(got string) bool { return got == "abc" && logged == "abc" }},
		{"/subjects", "", func(got string) bool { return got == "" && logged == "" }},
	} {
		r := httptest.NewRequest("GET", tc.path, nil)
		if tc.sent != "" {
			r.Header.Set(RequestIDHeader, tc.sent)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := w.Header().Get(RequestIDHeader); !tc.want(got) {
			t.Errorf("%s (sent %q): response id %q, logged %q", tc.path, tc.sent, got, logged)
		}
	}
}
