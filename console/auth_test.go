package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/acl"
	"github.com/sluicehq/sluice/auth"
	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/console"
	"github.com/sluicehq/sluice/server"
)

// TestPrincipalReachesAPI: every API request the console makes for a page
// carries the page request's principal (what authorization checks) and
// its Authorization header.
func TestPrincipalReachesAPI(t *testing.T) {
	n := startNode(t)
	type seen struct {
		path, principal, authz string
	}
	var (
		mu   sync.Mutex
		reqs []seen
	)
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		mu.Lock()
		reqs = append(reqs, seen{r.URL.Path, p.Name, r.Header.Get("Authorization")})
		mu.Unlock()
		n.Handler.ServeHTTP(w, r)
	})
	c, err := console.New(console.Config{API: api})
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"/console/", "/console/topics/orders/records", "/console/subjects/orders-value/diff?old=1&new=3", "/console/groups/billing"} {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		r.SetBasicAuth("alice", "alice-pw")
		r = r.WithContext(auth.NewContext(r.Context(), auth.Principal{Name: "alice", Method: "basic"}))
		w := httptest.NewRecorder()
		c.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d\n%s", target, w.Code, w.Body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reqs) < 8 {
		t.Fatalf("only %d API requests", len(reqs))
	}
	for _, s := range reqs {
		if s.principal != "alice" || !strings.HasPrefix(s.authz, "Basic ") {
			t.Errorf("API request %s: principal %q, Authorization %q; want alice's", s.path, s.principal, s.authz)
		}
	}
}

// TestBehindAuthentication: with authentication on, the node's console
// needs credentials like every API (a browser gets the basic-auth prompt),
// and what it shows a user is what the ACLs let that user see.
func TestBehindAuthentication(t *testing.T) {
	var users string
	for _, u := range []string{"alice", "bob"} {
		e, err := auth.UserEntry(u, u+"-pw", true) // bcrypt: quick enough for a test
		if err != nil {
			t.Fatal(err)
		}
		users += "  " + strings.ReplaceAll(strings.TrimSuffix(e, "\n"), "\n", "\n  ") + "\n"
	}
	f, err := auth.ParseFile("test", []byte("users:\n"+users+"superusers: [alice]\n"))
	if err != nil {
		t.Fatal(err)
	}
	never, _ := broker.ParseFsyncPolicy("never")
	srv, base, stop, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir(), Fsync: never, Auth: auth.New(f, auth.Options{})}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop() })
	get := func(path, user, pass string) (*http.Response, string) {
		t.Helper()
		// A bound for a hung request, not a speed check: a password check
		// is a slow hash by design, and a -race run on a loaded machine
		// (load 16 on 2 cores) took more than 10 s for one.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		r, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if user != "" {
			r.SetBasicAuth(user, pass)
		}
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	if res, _ := get("/console/", "", ""); res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("no credentials: %s, WWW-Authenticate %q; want 401 with a Basic challenge", res.Status, res.Header.Get("WWW-Authenticate"))
	}
	if res, _ := get("/console/", "alice", "wrong"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("a wrong password: %s, want 401", res.Status)
	}

	// Two topics; bob may describe and read only orders.
	ctx := context.Background()
	for _, name := range []string{"orders", "secret"} {
		if _, err := srv.Broker.CreateTopic(ctx, name, 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.ACL.Create(ctx, []acl.Rule{
		{Principal: "bob", Resource: acl.Topic, Name: "orders", Pattern: acl.Literal, Operation: acl.Describe, Permission: acl.Allow},
		{Principal: "bob", Resource: acl.Topic, Name: "orders", Pattern: acl.Literal, Operation: acl.Read, Permission: acl.Allow},
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, user string
		status     int
		has, lacks string
	}{
		{"/console/", "alice", 200, `href="/console/topics/secret"`, ""},
		{"/console/", "bob", 200, `href="/console/topics/orders"`, `href="/console/topics/secret"`},
		{"/console/topics/orders/records", "bob", 200, "No records here.", ""},
		{"/console/topics/secret", "bob", 403, "secret", ""},
		{"/console/topics/secret/records", "bob", 403, "secret", ""},
		{"/console/groups", "bob", 200, "", ""},
	} {
		res, body := get(tc.path, tc.user, tc.user+"-pw")
		if res.StatusCode != tc.status || !strings.Contains(body, tc.has) || (tc.lacks != "" && strings.Contains(body, tc.lacks)) {
			t.Errorf("GET %s as %s: %s; want %d, with %q, without %q:\n%s", tc.path, tc.user, res.Status, tc.status, tc.has, tc.lacks, body)
		}
	}
}
