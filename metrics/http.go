package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/sluicehq/sluice/internal/reqid"
	"github.com/sluicehq/sluice/registry/rest"
)

// RequestIDHeader carries a request's id: taken from the request when the
// client (or a proxy) sent a usable one, made up otherwise, and always
// set on the response, errors included, so that a client's report and
// the server's log line meet.
const RequestIDHeader = "X-Request-Id"

// maxRequestIDBytes bounds an incoming request id.
const maxRequestIDBytes = 64

// Instrument wraps the node's HTTP handler: every request is timed into
// sluice_request_duration_seconds (transport rest, connect or http, and
// the REST endpoint, Connect procedure or fixed path as method), counted
// in sluice_requests_in_flight while it runs, and logged in one Debug line
// (method, path without the query, status, bytes, duration, request id,
// remote address; never a header, so never a credential). A usable request
// id the client sent (RequestIDHeader) is echoed on the response; a request
// without one gets one when its response is an error, or when debug logging
// is on, so that a client's report and the server's log line meet.
//
// The wrapper allocates nothing per request at the default log level (a
// pooled response writer, the histogram child looked up once per label
// pair), so that the pre-encoded registry answers stay allocation-free
// (server's TestRESTTreeDoesNotAllocate).
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		transport, method := classify(r)
		g := &m.inFlight.http
		if transport == "connect" {
			g = &m.inFlight.connect
		}
		g.Add(1)
		defer g.Add(-1)
		debug := m.log.Enabled(r.Context(), slog.LevelDebug)
		var id string
		if sent := r.Header[RequestIDHeader]; len(sent) == 1 && usableRequestID(sent[0]) {
			id = sent[0]
			w.Header()[RequestIDHeader] = sent // the client's own slice: no copy
		} else if debug {
			id = m.newRequestID()
			w.Header().Set(RequestIDHeader, id)
		}
		// A request that may log a refusal or a failed login at info
		// carries its id slot in its context (package reqid): the line
		// names the id, made then if needed, and the response carries it.
		var slot *reqid.Slot
		if m.cfg.RequestContext || transport == "connect" {
			var ctx context.Context
			ctx, slot = reqid.NewSlotContext(r.Context(), id, m.mint)
			r = r.WithContext(ctx)
		}
		sw := statusWriters.Get().(*statusWriter)
		*sw = statusWriter{ResponseWriter: w, id: id, idSet: id != "", slot: slot, m: m}
		defer func() {
			*sw = statusWriter{}
			statusWriters.Put(sw)
		}()
		start := time.Now()
		next.ServeHTTP(sw, r)
		d := time.Since(start)
		m.observer(transport, method).Observe(d.Seconds())
		id = sw.id
		if slot != nil {
			id = slot.Peek()
		}
		if debug {
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			m.log.LogAttrs(context.Background(), slog.LevelDebug, "request",
				slog.String("request_id", id), slog.String("transport", transport), slog.String("method", r.Method),
				slog.String("path", r.URL.Path), slog.String("route", method), slog.Int("status", status),
				slog.Int64("bytes", sw.bytes), slog.Duration("duration", d), slog.String("remote", r.RemoteAddr))
		}
	})
}

// statusWriters pools Instrument's response writers.
var statusWriters = sync.Pool{New: func() any { return new(statusWriter) }}

// observer returns the request histogram's child for a label pair, looked
// up in the vector once (the labels come from fixed sets, so the cache is
// bounded).
func (m *Metrics) observer(transport, method string) prometheus.Observer {
	key := observerKey{transport, method}
	if o, ok := m.observers.Load(key); ok {
		return o.(prometheus.Observer)
	}
	o := m.requests.WithLabelValues(transport, method)
	m.observers.Store(key, o)
	return o
}

// observerKey names a request histogram child.
type observerKey struct{ transport, method string }

// requestSeq numbers the request ids this process makes.
var requestSeq atomic.Uint64

// NewRequestID makes a request id as the HTTP instrumentation does (for
// a line about a connection that never got to a request).
func (m *Metrics) NewRequestID() string { return m.newRequestID() }

// newRequestID is this process's random prefix and a sequence number.
func (m *Metrics) newRequestID() string {
	return m.idPrefix + "-" + strconv.FormatUint(requestSeq.Add(1), 10)
}

// usableRequestID accepts 1 to 64 characters of [A-Za-z0-9._:-]: enough
// for the ids proxies make, nothing that could forge a log line.
func usableRequestID(s string) bool {
	if s == "" || len(s) > maxRequestIDBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// classify names a request's transport and method with values from fixed
// sets: a Connect (or gRPC, gRPC-Web) procedure the node's proto registry
// knows, a REST endpoint of the registry's catalogue, or a fixed path.
func classify(r *http.Request) (transport, method string) {
	p := r.URL.Path
	switch {
	case p == "/healthz" || p == "/readyz" || p == "/metrics":
		return "http", p
	case strings.HasPrefix(p, "/console/") || p == "/console":
		return "http", "/console"
	}
	if proc, ok := procedure(p); ok {
		return "connect", proc
	}
	if route := rest.RouteOf(r.Method, r.URL.EscapedPath()); route != "" {
		return "rest", route
	}
	return "http", "other"
}

// procedure returns "package.Service/Method" for a path naming a method of
// a service in the global proto registry (every service the node mounts,
// and gRPC reflection, register there).
func procedure(p string) (string, bool) {
	name := strings.TrimPrefix(p, "/")
	svc, meth, ok := strings.Cut(name, "/")
	if !ok || svc == "" || meth == "" || !strings.Contains(svc, ".") || strings.Contains(meth, "/") {
		return "", false
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
	if err != nil {
		return "", false
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok || sd.Methods().ByName(protoreflect.Name(meth)) == nil {
		return "", false
	}
	return name, true
}

// statusWriter records the status and body bytes of a response. It keeps
// http.Flusher (Connect streams flush every message) and unwraps for
// http.ResponseController (full-duplex HTTP/2).
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	// id is the request's id when it has one; m makes one for an error
	// response that has none. idSet says the response header carries it.
	id    string
	idSet bool
	// slot, when set, is the request's id slot in its context: a log line
	// may have made the id (reqid.Attrs) before the response starts.
	slot *reqid.Slot
	m    *Metrics
}

// WriteHeader records the status. An error response always carries a
// request id: made here when the request had none (only errors pay for it).
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		w.setID(code >= http.StatusBadRequest)
	}
	w.ResponseWriter.WriteHeader(code)
}

// setID puts the request's id on the response before its header goes
// out: the id a log line made for it, or, when need (an error), a new one.
func (w *statusWriter) setID(need bool) {
	if w.idSet {
		return
	}
	id := w.id
	switch {
	case w.slot != nil && need:
		id = w.slot.ID()
	case w.slot != nil:
		id = w.slot.Peek()
	case need && id == "" && w.m != nil:
		id = w.m.newRequestID()
	}
	if id != "" {
		w.id, w.idSet = id, true
		w.Header().Set(RequestIDHeader, id)
	}
}

// Write counts the bytes.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
		w.setID(false)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush flushes the underlying writer when it can.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.setID(false) // the header goes out now
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
