package rest_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/acl"
	"github.com/sluicehq/sluice/auth"
	"github.com/sluicehq/sluice/internal/metadb"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/registry/rest"
)

// newACLServer serves the REST API with ACLs enforced; the principal of a
// request is named by its X-Test-Principal header (what the
// authentication middleware puts in the context in a real node).
func newACLServer(t *testing.T) (*testServer, *acl.Authorizer) {
	t.Helper()
	db, err := metadb.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Open(context.Background(), registry.Config{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	a, err := acl.New(context.Background(), acl.Config{Store: &acl.MemoryStore{}, Enforce: true,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h := rest.NewHandler(reg, rest.Config{ACL: a})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.Header.Get("X-Test-Principal"); p != "" {
			r = r.WithContext(auth.NewContext(r.Context(), auth.Principal{Name: p, Superuser: p == "root", Method: "basic"}))
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.Close()
		reg.Close()
		db.Close()
	})
	return &testServer{URL: srv.URL, Reg: reg, srv: srv}, a
}

func allow(t *testing.T, a *acl.Authorizer, principal string, rt acl.ResourceType, name string, op acl.Operation) {
	t.Helper()
	if err := a.Create(context.Background(), []acl.Rule{{Principal: principal, Resource: rt, Name: name, Pattern: acl.Literal, Operation: op, Permission: acl.Allow}}); err != nil {
		t.Fatal(err)
	}
}

func TestRESTACL(t *testing.T) {
	s, a := newACLServer(t)
	schema := schemaBody(`{"type":"string"}`)
	as := func(p string) []string { return []string{"X-Test-Principal", p} }

	// A refused registration stores nothing and answers 403/40301.
	r := s.do(t, "POST", "/subjects/orders-value/versions", schema, as("alice")...)
	if r.Status != 403 {
		t.Fatalf("register without write: %d %s", r.Status, r.Body)
	}
	var env struct {
		ErrorCode int    `json:"error_code"`
		Message   string `json:"message"`
	}
	if err := json.Unmarshal([]byte(r.Body), &env); err != nil || env.ErrorCode != 40301 ||
		env.Message != `principal "alice" is not authorized to write subject "orders-value"` {
		t.Fatalf("403 body %s", r.Body)
	}
	if subs, _ := s.Reg.Subjects(context.Background(), "", registry.ListOptions{}); len(subs) != 0 {
		t.Fatalf("refused registration stored %v", subs)
	}
	// Anonymous (no principal): refused too.
	if r := s.do(t, "GET", "/subjects/orders-value/versions", ""); r.Status != 403 {
		t.Fatalf("anonymous: %d", r.Status)
	}

	allow(t, a, "alice", acl.Subject, "orders-value", acl.Write)
	if r := s.do(t, "POST", "/subjects/orders-value/versions", schema, as("alice")...); r.Status != 200 {
		t.Fatalf("register with write: %d %s", r.Status, r.Body)
	}
	if r := s.do(t, "POST", "/subjects/payments-value/versions", schema, as("root")...); r.Status != 200 {
		t.Fatalf("superuser register: %d %s", r.Status, r.Body)
	}
	// write implies describe, not read.
	if r := s.do(t, "GET", "/subjects/orders-value/versions", "", as("alice")...); r.Status != 200 {
		t.Fatalf("list versions (describe): %d %s", r.Status, r.Body)
	}
	if r := s.do(t, "GET", "/subjects/orders-value/versions/1", "", as("alice")...); r.Status != 403 {
		t.Fatalf("read version without read: %d", r.Status)
	}
	// Listings leave out what alice may not describe.
	if r := s.do(t, "GET", "/subjects", "", as("alice")...); strings.TrimSpace(r.Body) != `["orders-value"]` {
		t.Fatalf("GET /subjects: %s", r.Body)
	}
	if r := s.do(t, "GET", "/subjects", "", as("root")...); strings.TrimSpace(r.Body) != `["orders-value","payments-value"]` {
		t.Fatalf("GET /subjects as root: %s", r.Body)
	}
	// By id: read on one subject of the schema (both share id 1).
	if r := s.do(t, "GET", "/schemas/ids/1", "", as("alice")...); r.Status != 403 {
		t.Fatalf("schema by id without read: %d", r.Status)
	}
	allow(t, a, "bob", acl.Subject, "payments-value", acl.Read)
	if r := s.do(t, "GET", "/schemas/ids/1", "", as("bob")...); r.Status != 200 {
		t.Fatalf("schema by id with read on one subject: %d %s", r.Status, r.Body)
	}
	if r := s.do(t, "GET", "/schemas/ids/1/subjects", "", as("bob")...); strings.TrimSpace(r.Body) != `["payments-value"]` {
		t.Fatalf("subjects of id 1 for bob: %s", r.Body)
	}
	if r := s.do(t, "GET", "/schemas/ids/99", "", as("bob")...); r.Status != 404 {
		t.Fatalf("unknown id: %d", r.Status)
	}
	// Global config: the cluster.
	if r := s.do(t, "PUT", "/config", `{"compatibility":"NONE"}`, as("alice")...); r.Status != 403 {
		t.Fatalf("global config without alter cluster: %d", r.Status)
	}
	if r := s.do(t, "PUT", "/config/orders-value", `{"compatibility":"NONE"}`, as("alice")...); r.Status != 403 {
		t.Fatalf("subject config without alter: %d", r.Status)
	}
	allow(t, a, "alice", acl.Subject, "orders-value", acl.Alter)
	if r := s.do(t, "PUT", "/config/orders-value", `{"compatibility":"NONE"}`, as("alice")...); r.Status != 200 {
		t.Fatalf("subject config with alter: %d %s", r.Status, r.Body)
	}
	if r := s.do(t, "DELETE", "/subjects/orders-value", "", as("alice")...); r.Status != 403 {
		t.Fatalf("delete without delete: %d", r.Status)
	}
	// Open endpoints.
	for _, p := range []string{"/", "/schemas/types", "/v1/metadata/id", "/contexts"} {
		if r := s.do(t, "GET", p, "", as("carol")...); r.Status != 200 {
			t.Fatalf("GET %s: %d", p, r.Status)
		}
	}
	// A context-qualified path checks the qualified subject.
	if r := s.do(t, "GET", "/contexts/.eu/subjects/orders-value/versions", "", as("alice")...); r.Status != 403 {
		t.Fatalf("context subject: %d", r.Status)
	}
}
