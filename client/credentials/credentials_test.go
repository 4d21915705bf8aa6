package credentials_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/client/credentials"
	"github.com/sluicehq/sluice/internal/testpki"
)

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		c    credentials.Credentials
		want string // "" valid, else a part of the error
	}{
		{"none", credentials.Credentials{}, ""},
		{"basic", credentials.Credentials{User: "alice", Password: "secret"}, ""},
		{"token", credentials.Credentials{Token: "tok"}, ""},
		{"both", credentials.Credentials{User: "alice", Password: "x", Token: "tok"}, "not both"},
		{"password alone", credentials.Credentials{Password: "x"}, "a password without a user"},
		{"colon in user", credentials.Credentials{User: "a:b", Password: "x"}, "may not contain ':'"},
		{"line break", credentials.Credentials{Token: "tok\r\nX-Evil: 1"}, "line break"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestAuthorization(t *testing.T) {
	cases := []struct {
		c          credentials.Credentials
		auth, name string
	}{
		{credentials.Credentials{}, "", "no credentials"},
		{credentials.Credentials{User: "alice", Password: "secret"}, "Basic YWxpY2U6c2VjcmV0", "user alice"},
		{credentials.Credentials{Token: "tok"}, "Bearer tok", "a bearer token"},
	}
	for _, tc := range cases {
		if got := tc.c.Authorization(); got != tc.auth {
			t.Errorf("%v: Authorization() = %q, want %q", tc.c, got, tc.auth)
		}
		h := http.Header{}
		tc.c.Set(h)
		if got := h.Get("Authorization"); got != tc.auth {
			t.Errorf("%v: Set put %q, want %q", tc.c, got, tc.auth)
		}
		if got := tc.c.String(); got != tc.name {
			t.Errorf("String() = %q, want %q", got, tc.name)
		}
	}
}

// TestNoSecretPrinted: fmt verbs and slog show who, never the secret.
func TestNoSecretPrinted(t *testing.T) {
	for _, c := range []credentials.Credentials{{User: "alice", Password: "hunter2"}, {Token: "hunter2"}} {
		var b bytes.Buffer
		slog.New(slog.NewTextHandler(&b, nil)).Info("x", "creds", c)
		slog.New(slog.NewJSONHandler(&b, nil)).Info("x", "creds", c)
		out := fmt.Sprintf("%v %+v %#v %s", c, c, c, c) + b.String()
		if strings.Contains(out, "hunter2") {
			t.Errorf("the secret is printed: %s", out)
		}
	}
}

func TestAuthErrorIs(t *testing.T) {
	unauth := credentials.FromConnect(connect.NewError(connect.CodeUnauthenticated, errors.New("bad password")), credentials.Credentials{User: "alice", Password: "x"}, "https://h:1")
	denied := credentials.FromConnect(fmt.Errorf("wrapped: %w", connect.NewError(connect.CodePermissionDenied, errors.New("no ACL"))), credentials.Credentials{Token: "t"}, "https://h:1")
	other := connect.NewError(connect.CodeNotFound, errors.New("no topic"))
	if !errors.Is(unauth, credentials.ErrUnauthenticated) || errors.Is(unauth, credentials.ErrPermissionDenied) {
		t.Errorf("unauthenticated: %v", unauth)
	}
	if got, want := unauth.Error(), "authentication failed for user alice at https://h:1: bad password"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if !errors.Is(denied, credentials.ErrPermissionDenied) || errors.Is(denied, credentials.ErrUnauthenticated) {
		t.Errorf("denied: %v", denied)
	}
	if got, want := denied.Error(), "permission denied: no ACL (a bearer token at https://h:1)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if connect.CodeOf(denied) != connect.CodePermissionDenied {
		t.Errorf("the connect code is lost: %v", connect.CodeOf(denied))
	}
	if got := credentials.FromConnect(other, credentials.Credentials{}, "u"); got != other {
		t.Errorf("another code is changed: %v", got)
	}
	if again := credentials.FromConnect(unauth, credentials.Credentials{}, "other"); again != unauth {
		t.Errorf("an AuthError is wrapped again: %v", again)
	}
	if credentials.FromConnect(nil, credentials.Credentials{}, "u") != nil {
		t.Errorf("nil is not nil")
	}
}

func TestTLSFiles(t *testing.T) {
	ca := testpki.NewCA(t, "test")
	alice := ca.Client(t, "alice")
	other := ca.Client(t, "other")
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notPEM := write("not.pem", "hello\n")
	keyOnly := alice.KeyFile
	badCert := write("bad.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")

	cases := []struct {
		name string
		f    credentials.TLSFiles
		want string // "" ok, else a part of the error
	}{
		{"none", credentials.TLSFiles{}, ""},
		{"ca", credentials.TLSFiles{CA: ca.CertFile}, ""},
		{"ca and client", credentials.TLSFiles{CA: ca.CertFile, Cert: alice.CertFile, Key: alice.KeyFile}, ""},
		{"missing ca", credentials.TLSFiles{CA: filepath.Join(dir, "nope.pem")}, "no such file"},
		{"ca not pem", credentials.TLSFiles{CA: notPEM}, "CA file " + notPEM + ": no PEM certificate in it"},
		{"ca is a key", credentials.TLSFiles{CA: keyOnly}, "no PEM certificate in it"},
		{"ca bad cert", credentials.TLSFiles{CA: badCert}, "certificate 1"},
		{"cert without key", credentials.TLSFiles{Cert: alice.CertFile}, "no private key file given"},
		{"key without cert", credentials.TLSFiles{Key: alice.KeyFile}, "no certificate file given"},
		{"key of another cert", credentials.TLSFiles{Cert: alice.CertFile, Key: other.KeyFile}, "private key does not match public key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := tc.f.Config()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tc.f.CA != "" && cfg.RootCAs == nil {
					t.Error("no roots")
				}
				if tc.f.Cert != "" && len(cfg.Certificates) != 1 {
					t.Error("no client certificate")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Config() error %v, want %q", err, tc.want)
			}
		})
	}

	// The loaded roots verify what the CA signed.
	cfg, err := credentials.TLSFiles{CA: ca.CertFile}.Config()
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(alice.TLS.Certificate[0])
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: cfg.RootCAs, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the CA file's pool does not verify its certificates: %v", err)
	}
}

// TestRoundTripper: the header goes to the server's host only, and the
// caller's request is not changed.
func TestRoundTripper(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	c := credentials.Credentials{Token: "tok"}
	hc := &http.Client{Transport: c.RoundTripper(nil, strings.TrimPrefix(srv.URL, "http://"))}
	req, _ := http.NewRequest("GET", srv.URL, nil)
	if _, err := hc.Do(req); err != nil {
		t.Fatal(err)
	}
	if req.Header.Get("Authorization") != "" {
		t.Error("the caller's request was changed")
	}
	// Another host (127.0.0.1 vs localhost: same server, other name).
	other := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	if _, err := hc.Get(other); err != nil {
		t.Fatal(err)
	}
	// A header the caller set is kept.
	req, _ = http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Authorization", "Bearer mine")
	if _, err := hc.Do(req); err != nil {
		t.Fatal(err)
	}
	if want := []string{"Bearer tok", "", "Bearer mine"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("server saw %q, want %q", got, want)
	}
}
