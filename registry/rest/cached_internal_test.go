package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/metadb"
	"github.com/sluicehq/sluice/registry"
)

// newCachedHandler opens a fresh registry and returns it with its handler.
func newCachedHandler(t testing.TB) (*registry.Registry, *handler) {
	t.Helper()
	db, err := metadb.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Open(context.Background(), registry.Config{DB: db})
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		reg.Close()
		db.Close()
	})
	return reg, NewHandler(reg, Config{Logger: slog.New(slog.DiscardHandler)}).(*handler)
}

// serve sends one request to h and returns the recorded answer.
func serve(h http.Handler, method, target, body string, header ...string) *httptest.ResponseRecorder {
	var req *http.Request
	if body != "" {
		req = httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Content-Type", contentTypeV1)
	} else {
		req = httptest.NewRequest(method, target, nil)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// mustServe is serve that fails the test unless the status is 200.
func mustServe(t testing.TB, h http.Handler, method, target, body string) string {
	t.Helper()
	rec := serve(h, method, target, body)
	if rec.Code != 200 {
		t.Fatalf("%s %s = %d %s", method, target, rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// registerBody is a register request body.
func registerBody(t testing.TB, schema string, extra map[string]any) string {
	t.Helper()
	m := map[string]any{"schema": schema}
	for k, v := range extra {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The schemas of the cache tests: every type, a reference (so that Avro
// "resolved" differs from the stored text), a Protobuf extension (so that
// "ignore_extensions" differs), metadata and a rule set.
const (
	cacheMoney = `{"type":"record","name":"Money","namespace":"acme","fields":[{"name":"units","type":"long"}]}`
	cacheOrder = `{"type":"record","name":"Order","namespace":"acme","fields":[{"name":"id","type":"string"},{"name":"total","type":"acme.Money"}]}`
	cacheUser  = `syntax = "proto2";
package acme;

import "google/protobuf/descriptor.proto";

extend google.protobuf.FieldOptions {
  optional string pii = 50001;
}

message User {
  optional string email = 1 [(pii) = "yes"];
  extensions 100 to 200;
}
`
	cacheEvent = `{"type":"object","properties":{"kind":{"type":"string","description":"<a> & <b>"}}}`
)

// registerCacheSchemas registers the schemas above and returns
// subject -> id.
func registerCacheSchemas(t testing.TB, h http.Handler) map[string]int {
	t.Helper()
	regs := []struct {
		subject, schema string
		extra           map[string]any
	}{
		{"money-value", cacheMoney, nil},
		{"orders-value", cacheOrder, map[string]any{
			"references": []map[string]any{{"name": "acme.Money", "subject": "money-value", "version": 1}},
			"metadata":   map[string]any{"properties": map[string]string{"owner": "shop"}},
		}},
		{"users-value", cacheUser, map[string]any{
			"schemaType": "PROTOBUF",
			"ruleSet":    map[string]any{"domainRules": []map[string]any{{"name": "r", "kind": "CONDITION", "type": "CEL", "mode": "WRITE", "expr": "true"}}},
		}},
		{"events-value", cacheEvent, map[string]any{"schemaType": "JSON"}},
	}
	ids := map[string]int{}
	for _, r := range regs {
		var out struct{ ID int }
		if err := json.Unmarshal([]byte(mustServe(t, h, "POST", "/subjects/"+r.subject+"/versions", registerBody(t, r.schema, r.extra))), &out); err != nil {
			t.Fatal(err)
		}
		ids[r.subject] = out.ID
	}
	return ids
}

// cacheFormats are the format parameters tried: absent, every known one in
// two spellings, one that no type has, and an escaped one (which the
// general path reads).
var cacheFormats = []string{"", "format=", "format=default", "format=resolved", "format=RESOLVED",
	"format=serialized", "format=ignore_extensions", "format=Ignore_Extensions", "format=logical", "format=%72esolved"}

// formatArg is the format a query from cacheFormats asks for.
func formatArg(q string) string {
	f := strings.TrimPrefix(q, "format=")
	if f == q {
		return ""
	}
	return strings.ReplaceAll(f, "%72", "r")
}

// uncached encodes, without any cache, what GET /schemas/ids/{id} (text:
// .../schema) answers in format f.
func uncachedByID(t *testing.T, reg *registry.Registry, id int, f string, text bool) string {
	t.Helper()
	ctx := context.Background()
	s, err := reg.SchemaByID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	formatted := s.Text
	if strings.TrimSpace(f) != "" {
		if formatted, err = reg.FormatSchema(ctx, id, f); err != nil {
			t.Fatal(err)
		}
	}
	if text {
		return formatted
	}
	b, err := encodeJSON(schemaByIDResponse{
		SchemaType: schemaType(s.Type),
		Schema:     formatted,
		References: references(s.References),
		Metadata:   nonEmpty(s.Metadata),
		RuleSet:    nonEmpty(s.RuleSet),
		GUID:       s.GUID().String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// uncachedVersion is uncachedByID for GET /subjects/{s}/versions/{v}.
func uncachedVersion(t *testing.T, reg *registry.Registry, subject string, version int, f string, text bool) string {
	t.Helper()
	ctx := context.Background()
	sv, err := reg.Version(ctx, subject, version, true)
	if err != nil {
		t.Fatal(err)
	}
	formatted := sv.Text
	if strings.TrimSpace(f) != "" {
		if formatted, err = reg.FormatSchema(ctx, sv.ID, f); err != nil {
			t.Fatal(err)
		}
	}
	if text {
		return formatted
	}
	rec := schemaRecord{
		Subject:    sv.Subject,
		Version:    sv.Version,
		ID:         sv.ID,
		GUID:       sv.GUID().String(),
		SchemaType: schemaType(sv.Type),
		References: references(sv.References),
		Metadata:   nonEmpty(sv.Metadata),
		RuleSet:    nonEmpty(sv.RuleSet),
		Schema:     formatted,
	}
	b, err := encodeJSON(rec)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCachedAnswersEqualUncached checks that the pre-encoded answers of GET
// /schemas/ids/{id}[/schema] and GET /subjects/{s}/versions/{v}[/schema]
// are byte for byte the uncached encoding, for every schema type and format,
// on the first request (which encodes) and the next ones (which are
// served from the cache), by the cached path and through the router, with
// the headers of the general path.
func TestCachedAnswersEqualUncached(t *testing.T) {
	reg, h := newCachedHandler(t)
	ids := registerCacheSchemas(t, h)
	// Every form of a request, the first served by serveCached, the others
	// by the router.
	byIDForms := func(id int, suffix, q string) []string {
		return []string{
			fmt.Sprintf("/schemas/ids/%d%s?%s", id, suffix, q),
			fmt.Sprintf("/schemas/ids/%d%s/?%s", id, suffix, q),
			fmt.Sprintf("/contexts/:.:/schemas/ids/%d%s?%s", id, suffix, q),
		}
	}
	versionForms := func(subject, version, suffix, q string) []string {
		return []string{
			fmt.Sprintf("/subjects/%s/versions/%s%s?%s", subject, version, suffix, q),
			fmt.Sprintf("/subjects/%s/versions/%s%s/?%s", subject, version, suffix, q),
			fmt.Sprintf("/contexts/./subjects/%s/versions/%s%s?%s", subject, version, suffix, q),
		}
	}
	check := func(t *testing.T, target, want string, text bool) {
		t.Helper()
		for round := range 2 {
			for _, accept := range []string{"", contentTypeJSON, "application/vnd.schemaregistry+json; q=0.9, application/json; q=0.5"} {
				rec := serve(h, "GET", target, "", "Accept", accept)
				if rec.Code != 200 {
					t.Fatalf("GET %s = %d %s", target, rec.Code, rec.Body)
				}
				if got := rec.Body.String(); got != want {
					t.Errorf("GET %s (request %d):\n got %s\nwant %s", target, round+1, got, want)
				}
				wantType := negotiate(accept)
				if got := rec.Header().Get("Content-Type"); got != wantType {
					t.Errorf("GET %s Accept %q: Content-Type %q, want %q", target, accept, got, wantType)
				}
				if got, want := rec.Header().Get("Content-Length"), fmt.Sprint(len(want)); got != want {
					t.Errorf("GET %s: Content-Length %s, want %s", target, got, want)
				}
			}
		}
	}
	for subject, id := range ids {
		for _, q := range cacheFormats {
			f := formatArg(q)
			for _, text := range []bool{false, true} {
				suffix := ""
				if text {
					suffix = "/schema"
				}
				want := uncachedByID(t, reg, id, f, text)
				for _, target := range byIDForms(id, suffix, q) {
					check(t, target, want, text)
				}
				want = uncachedVersion(t, reg, subject, 1, f, text)
				for _, version := range []string{"1", "latest", "-1"} {
					for _, target := range versionForms(subject, version, suffix, q) {
						check(t, target, want, text)
					}
				}
			}
		}
	}
	// The formats do rewrite these schemas (else the test above proves little).
	for _, c := range []struct {
		subject, format string
	}{{"orders-value", "resolved"}, {"users-value", "ignore_extensions"}, {"users-value", "serialized"}} {
		if uncachedByID(t, reg, ids[c.subject], c.format, true) == uncachedByID(t, reg, ids[c.subject], "", true) {
			t.Errorf("%s: format %s gives the stored text", c.subject, c.format)
		}
	}
	// The common form is the cached path's, the others the router's.
	req := httptest.NewRequest("GET", fmt.Sprintf("/schemas/ids/%d?format=resolved", ids["orders-value"]), nil)
	if !h.serveCached(httptest.NewRecorder(), req) {
		t.Error("serveCached declined GET /schemas/ids/{id}?format=resolved")
	}
	for _, target := range []string{"/schemas/ids/1/", "/schemas/ids/1?format=%72esolved", "/contexts/./schemas/ids/1", "/schemas/ids/1?fetchMaxId=true"} {
		if h.serveCached(httptest.NewRecorder(), httptest.NewRequest("GET", target, nil)) {
			t.Errorf("serveCached answered GET %s, which the router must", target)
		}
	}
	// fetchMaxId is not cached: it follows the highest id.
	var withMax struct{ MaxID int }
	if err := json.Unmarshal([]byte(mustServe(t, h, "GET", "/schemas/ids/1?fetchMaxId=true", "")), &withMax); err != nil {
		t.Fatal(err)
	}
	if withMax.MaxID != reg.MaxID() {
		t.Errorf("fetchMaxId: maxId %d, want %d", withMax.MaxID, reg.MaxID())
	}
}

// TestCachedAnswersAfterDeletes checks that no delete and no later write
// that gives an id or a version number again can serve the bytes cached
// for what was there before, and that a soft delete keeps the answers of
// deleted=true and by id (Confluent keeps soft-deleted ids readable).
func TestCachedAnswersAfterDeletes(t *testing.T) {
	reg, h := newCachedHandler(t)
	a := `{"type":"record","name":"A","fields":[{"name":"x","type":"int"}]}`
	b := `{"type":"record","name":"B","fields":[{"name":"y","type":"string"}]}`
	mustServe(t, h, "POST", "/subjects/s/versions", registerBody(t, a, nil))
	byID := mustServe(t, h, "GET", "/schemas/ids/1", "")
	rec := mustServe(t, h, "GET", "/subjects/s/versions/1", "")
	mustServe(t, h, "GET", "/subjects/s/versions/latest/schema", "")
	mustServe(t, h, "GET", "/schemas/ids/1/schema", "")

	// A soft delete: the version is gone without deleted=true, the same
	// bytes with it, and the id still resolves.
	mustServe(t, h, "DELETE", "/subjects/s/versions/1", "")
	for _, target := range []string{"/subjects/s/versions/1", "/subjects/s/versions/latest", "/subjects/s/versions/1/schema"} {
		if rr := serve(h, "GET", target, ""); rr.Code != 404 {
			t.Errorf("GET %s after a soft delete = %d %s, want 404", target, rr.Code, rr.Body)
		}
	}
	if got := mustServe(t, h, "GET", "/subjects/s/versions/1?deleted=true", ""); got != rec {
		t.Errorf("GET version 1?deleted=true after a soft delete = %s, want %s", got, rec)
	}
	if got := mustServe(t, h, "GET", "/schemas/ids/1", ""); got != byID {
		t.Errorf("GET /schemas/ids/1 after a soft delete = %s, want %s", got, byID)
	}

	// A hard delete removes the version and the id it alone used.
	mustServe(t, h, "DELETE", "/subjects/s/versions/1?permanent=true", "")
	for _, target := range []string{"/schemas/ids/1", "/schemas/ids/1/schema", "/subjects/s/versions/1?deleted=true", "/subjects/s/versions/1/schema?deleted=true"} {
		if rr := serve(h, "GET", target, ""); rr.Code != 404 {
			t.Errorf("GET %s after a hard delete = %d %s, want 404", target, rr.Code, rr.Body)
		}
	}

	// The subject is re-created with another schema: its version 1 is new.
	mustServe(t, h, "POST", "/subjects/s/versions", registerBody(t, b, nil))
	for _, version := range []string{"1", "latest"} {
		if got, want := mustServe(t, h, "GET", "/subjects/s/versions/"+version, ""), uncachedVersion(t, reg, "s", 1, "", false); got != want || !strings.Contains(got, `\"B\"`) {
			t.Errorf("GET version %s after re-registering = %s, want %s", version, got, want)
		}
		if got := mustServe(t, h, "GET", "/subjects/s/versions/"+version+"/schema", ""); got != b {
			t.Errorf("GET version %s/schema after re-registering = %s, want %s", version, got, b)
		}
	}

	// IMPORT mode gives id 1 again, to another schema.
	mustServe(t, h, "PUT", "/mode/imported", `{"mode":"IMPORT"}`)
	mustServe(t, h, "POST", "/subjects/imported/versions", registerBody(t, b, map[string]any{"id": 1, "version": 1}))
	if got, want := mustServe(t, h, "GET", "/schemas/ids/1", ""), uncachedByID(t, reg, 1, "", false); got != want || got == byID {
		t.Errorf("GET /schemas/ids/1 after importing id 1 again = %s, want %s", got, want)
	}
	if got := mustServe(t, h, "GET", "/schemas/ids/1/schema", ""); got != b {
		t.Errorf("GET /schemas/ids/1/schema after importing id 1 again = %s, want %s", got, b)
	}
}

// discardWriter is an http.ResponseWriter that keeps nothing, so that
// benchmarks and allocation counts measure the handler alone.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// TestCachedAnswersDoNotAllocate checks that a cached answer is served
// without allocating, for each cached endpoint.
func TestCachedAnswersDoNotAllocate(t *testing.T) {
	_, h := newCachedHandler(t)
	ids := registerCacheSchemas(t, h)
	targets := []string{
		fmt.Sprintf("/schemas/ids/%d", ids["orders-value"]),
		fmt.Sprintf("/schemas/ids/%d?format=resolved&subject=orders-value", ids["orders-value"]),
		fmt.Sprintf("/schemas/ids/%d/schema?format=serialized", ids["users-value"]),
		"/subjects/orders-value/versions/1",
		"/subjects/orders-value/versions/latest?deleted=true",
		"/subjects/users-value/versions/1/schema?format=ignore_extensions",
	}
	for _, target := range targets {
		for _, accept := range []string{"", "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json"} {
			req := httptest.NewRequest("GET", target, nil)
			if accept != "" {
				req.Header.Set("Accept", accept)
			}
			w := &discardWriter{h: http.Header{}}
			h.ServeHTTP(w, req) // fills the caches
			if w.status != 200 {
				t.Fatalf("GET %s = %d", target, w.status)
			}
			allocs := testing.AllocsPerRun(100, func() {
				clear(w.h)
				h.ServeHTTP(w, req)
			})
			if allocs != 0 {
				t.Errorf("GET %s (Accept %q): %.1f allocations per request, want 0", target, accept, allocs)
			}
		}
	}
}

// BenchmarkCachedAnswer is the handler's own cost for the cached
// endpoints, without HTTP (compare BenchmarkSchemaByID over loopback).
func BenchmarkCachedAnswer(b *testing.B) {
	_, h := newCachedHandler(b)
	body := `{"schema":` + fmt.Sprintf("%q", cacheMoney) + `}`
	if rec := serve(h, "POST", "/subjects/money-value/versions", body); rec.Code != 200 {
		b.Fatalf("register: %d %s", rec.Code, rec.Body)
	}
	for _, target := range []string{"/schemas/ids/1", "/schemas/ids/1/schema", "/subjects/money-value/versions/latest", "/schemas/ids/1/"} {
		b.Run(target, func(b *testing.B) {
			req := httptest.NewRequest("GET", target, nil)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, req)
				if w.status != 200 {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}

// FuzzScanQuery checks scanQuery against url.ParseQuery: whenever it reads
// a query, it reads what Values.Get would.
func FuzzScanQuery(f *testing.F) {
	for _, s := range []string{"", "format=resolved", "format=a&format=b", "fetchMaxId=true&subject=:.x:y",
		"deleted", "&&=&format", "format=%72", "a=b;c=d", "subject=a+b", "deleted=TRUE&x=1&format=serialized"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, ok := scanQuery(raw)
		if !ok {
			return
		}
		vals, err := url.ParseQuery(raw)
		if err != nil {
			t.Fatalf("scanQuery read %q, which url.ParseQuery refuses: %v", raw, err)
		}
		for name, got := range map[string]string{"format": q.format, "fetchMaxId": q.fetchMaxID, "subject": q.subject, "deleted": q.deleted} {
			if want := vals.Get(name); got != want {
				t.Errorf("scanQuery(%q) %s = %q, want %q", raw, name, got, want)
			}
		}
	})
}

// FuzzServeCached sends arbitrary GET targets to the cached path and checks
// that whatever it answers, the router answers the same (status, headers,
// body): the cached path is a shortcut, never a second definition.
func FuzzServeCached(f *testing.F) {
	_, h := newCachedHandler(f)
	for _, s := range []string{"/schemas/ids/1", "/schemas/ids/2/schema?format=serialized", "/schemas/ids/+1",
		"/schemas/ids/01?subject=:.:x", "/subjects/orders-value/versions/latest?format=RESOLVED",
		"/subjects/orders-value/versions/-1/schema?deleted=true", "/subjects/:.:users-value/versions/1",
		"/subjects/users-value/versions/%201", "/subjects/events-value/versions/ latest ", "/subjects/x/versions/1/schema/x"} {
		f.Add(s, "")
		f.Add(s, "application/json;q=0.5, application/vnd.schemaregistry+json")
	}
	registerCacheSchemas(f, h)
	f.Fuzz(func(t *testing.T, target, accept string) {
		if !strings.HasPrefix(target, "/") {
			return
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		req := &http.Request{Method: "GET", URL: u, Header: http.Header{}, RequestURI: target}
		req = req.WithContext(context.Background())
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		fast := httptest.NewRecorder()
		if !h.serveCached(fast, req) {
			return
		}
		slow := httptest.NewRecorder()
		h.serve(slow, req)
		if fast.Code != slow.Code || fast.Body.String() != slow.Body.String() {
			t.Fatalf("GET %q: cached path %d %s, router %d %s", target, fast.Code, fast.Body, slow.Code, slow.Body)
		}
		for _, name := range []string{"Content-Type", "Content-Length"} {
			if a, b := fast.Header().Get(name), slow.Header().Get(name); a != b {
				t.Errorf("GET %q: cached path %s %q, router %q", target, name, a, b)
			}
		}
	})
}
