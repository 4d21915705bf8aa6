package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/sluicehq/sluice/auth"
	registryv1 "github.com/sluicehq/sluice/proto/gen/sluice/registry/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/registry/v1/registryv1connect"
)

// testAuthFile is an auth file with alice (superuser) and bob, passwords
// "alice-pw" and "bob-pw", and an API token for ci, made once (argon2id is
// slow on purpose).
var testAuthFile = sync.OnceValues(func() (string, string) {
	alice, err := auth.UserEntry("alice", "alice-pw", false)
	if err != nil {
		panic(err)
	}
	bob, err := auth.UserEntry("bob", "bob-pw", true)
	if err != nil {
		panic(err)
	}
	token, tok, err := auth.NewToken("ci", "")
	if err != nil {
		panic(err)
	}
	ind := func(s string) string {
		return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
	}
	return "users:\n" + ind(alice) + ind(bob) + "tokens:\n" + ind(tok) + "superusers: [alice]\n", token
})

// newTestAuthenticator returns an Authenticator over testAuthFile, the
// token, and the buffer its logs go to.
func newTestAuthenticator(t *testing.T) (*auth.Authenticator, string, *syncBuffer) {
	t.Helper()
	yaml, token := testAuthFile()
	f, err := auth.ParseFile("test", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	return auth.New(f, auth.Options{Logger: slog.New(slog.NewTextHandler(logs, nil))}), token, logs
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func startAuthNode(t *testing.T, cfg Config) string {
	t.Helper()
	cfg.DataDir = t.TempDir()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	_, url, stop, err := Start(context.Background(), cfg, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return url
}

func TestHTTPAuthentication(t *testing.T) {
	a, token, logs := newTestAuthenticator(t)
	url := startAuthNode(t, Config{Auth: a})
	type creds func(*http.Request)
	basic := func(u, p string) creds { return func(r *http.Request) { r.SetBasicAuth(u, p) } }
	bearer := func(tok string) creds { return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) } }
	for _, tt := range []struct {
		name  string
		path  string
		creds creds
		want  int
	}{
		{"basic", "/subjects", basic("alice", "alice-pw"), 200},
		{"basic again (cached)", "/subjects", basic("alice", "alice-pw"), 200},
		{"basic bcrypt", "/subjects", basic("bob", "bob-pw"), 200},
		{"bearer", "/subjects", bearer(token), 200},
		{"wrong password", "/subjects", basic("alice", "bob-pw"), 401},
		{"unknown user", "/subjects", basic("mallory", "alice-pw"), 401},
		{"wrong token", "/subjects", bearer(token + "x"), 401},
		{"no credentials", "/subjects", nil, 401},
		{"other scheme", "/subjects", func(r *http.Request) { r.Header.Set("Authorization", "Digest x") }, 401},
		{"schemas tree", "/schemas/ids/1", nil, 401},
		{"contexts", "/contexts/.ctx/subjects", nil, 401},
		{"healthz open", "/healthz", nil, 200},
		{"readyz open", "/readyz", nil, 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", url+tt.path, nil)
			if tt.creds != nil {
				tt.creds(req)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, body)
			}
			if tt.want != 401 {
				return
			}
			var e struct {
				Code    int    `json:"error_code"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Code != 40101 || e.Message == "" {
				t.Errorf("body %s, want error_code 40101 and a message", body)
			}
			if got := resp.Header.Values("WWW-Authenticate"); len(got) == 0 || !strings.HasPrefix(got[0], "Basic") {
				t.Errorf("WWW-Authenticate = %q", got)
			}
		})
	}
	if got := a.Failures(); got != 4 {
		t.Errorf("Failures() = %d, want 4 (wrong password, unknown user, wrong token, other scheme)", got)
	}
	l := logs.String()
	for _, want := range []string{"user=alice", "user=mallory", `reason="wrong password"`, `reason="unknown user"`, "remote=127.0.0.1:"} {
		if !strings.Contains(l, want) {
			t.Errorf("auth log lacks %q:\n%s", want, l)
		}
	}
	if strings.Contains(l, "alice-pw") || strings.Contains(l, "bob-pw") || strings.Contains(l, token) {
		t.Errorf("auth log shows a secret:\n%s", l)
	}
}

// TestConnectUnauthenticated: a Connect client gets CodeUnauthenticated,
// then succeeds with basic auth; the franz-go sr client (what Confluent
// clients send: basic.auth.user.info) gets 40101, then succeeds.
func TestConnectAndSRClientAuthentication(t *testing.T) {
	a, _, _ := newTestAuthenticator(t)
	url := startAuthNode(t, Config{Auth: a})
	ctx := context.Background()

	for _, opts := range [][]connect.ClientOption{nil, {connect.WithGRPC()}, {connect.WithGRPCWeb()}} {
		var hc http.Client
		if len(opts) > 0 {
			hc.Transport = h2cTransport()
		}
		rc := registryv1connect.NewRegistryServiceClient(&hc, url, opts...)
		_, err := rc.ListSubjects(ctx, connect.NewRequest(&registryv1.ListSubjectsRequest{}))
		if connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Fatalf("no credentials: %v, want Unauthenticated", err)
		}
		req := connect.NewRequest(&registryv1.ListSubjectsRequest{})
		req.Header().Set("Authorization", "Basic "+basicAuth("bob", "nope"))
		if _, err := rc.ListSubjects(ctx, req); connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Fatalf("wrong password: %v, want Unauthenticated", err)
		}
		req = connect.NewRequest(&registryv1.ListSubjectsRequest{})
		req.Header().Set("Authorization", "Basic "+basicAuth("bob", "bob-pw"))
		if _, err := rc.ListSubjects(ctx, req); err != nil {
			t.Fatalf("with basic auth: %v", err)
		}
	}

	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.Subjects(ctx)
	var re *sr.ResponseError
	if !errors.As(err, &re) || re.ErrorCode != 40101 {
		t.Fatalf("sr client without credentials: %v, want error_code 40101", err)
	}
	cl, _ = sr.NewClient(sr.URLs(url), sr.BasicAuth("alice", "alice-pw"))
	if _, err := cl.CreateSchema(ctx, "orders-value", sr.Schema{Schema: `{"type":"string"}`}); err != nil {
		t.Fatalf("sr client with basic auth: %v", err)
	}
	if subs, err := cl.Subjects(ctx); err != nil || len(subs) != 1 {
		t.Fatalf("Subjects = %v, %v", subs, err)
	}
}

// TestPrincipalInContext: handlers behind the gate see the principal.
func TestPrincipalInContext(t *testing.T) {
	a, token, _ := newTestAuthenticator(t)
	var got auth.Principal
	h := a.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got, _ = auth.FromContext(r.Context()) }))
	for _, tt := range []struct {
		set  func(*http.Request)
		want auth.Principal
	}{
		{func(r *http.Request) { r.SetBasicAuth("alice", "alice-pw") }, auth.Principal{Name: "alice", Superuser: true, Method: "basic"}},
		{func(r *http.Request) { r.Header.Set("Authorization", "bearer "+token) }, auth.Principal{Name: "ci", Method: "token"}},
	} {
		got = auth.Principal{}
		r, _ := http.NewRequest("GET", "/x", nil)
		tt.set(r)
		h.ServeHTTP(discardWriter{}, r)
		if got != tt.want {
			t.Errorf("principal %+v, want %+v", got, tt.want)
		}
	}
}

func TestMetricsAuth(t *testing.T) {
	a, _, _ := newTestAuthenticator(t)
	for _, metricsAuth := range []bool{false, true} {
		s := &Server{cfg: Config{Auth: a, MetricsAuth: metricsAuth}}
		h := s.authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		rec := &statusWriter{h: http.Header{}, status: 200}
		r, _ := http.NewRequest("GET", "/metrics", nil)
		h.ServeHTTP(rec, r)
		if want := map[bool]int{false: 200, true: 401}[metricsAuth]; rec.status != want {
			t.Errorf("MetricsAuth %v: /metrics without credentials: %d, want %d", metricsAuth, rec.status, want)
		}
	}
}

type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (discardWriter) WriteHeader(int)             {}

type statusWriter struct {
	h      http.Header
	status int
}

func (w *statusWriter) Header() http.Header         { return w.h }
func (w *statusWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *statusWriter) WriteHeader(s int)           { w.status = s }

func basicAuth(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

// h2cTransport speaks cleartext HTTP/2, as gRPC needs.
func h2cTransport() *http.Transport {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Transport{Protocols: &p}
}
