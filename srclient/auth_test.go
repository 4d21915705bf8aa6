package srclient_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/client/credentials"
	"github.com/sluicehq/sluice/internal/testpki"
	"github.com/sluicehq/sluice/srclient"
)

// TestClientAuth: a registry over TLS that wants basic auth or a bearer
// token, as a secured Sluice node or Confluent Cloud does. Credentials
// reach it, refusals are *credentials.AuthError that keep the registry's
// *srclient.Error, and a client without the CA fails on the certificate.
func TestClientAuth(t *testing.T) {
	ca := testpki.NewCA(t, "test")
	var seen []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		u, p, ok := r.BasicAuth()
		switch {
		case ok && u == "alice" && p == "secret", r.Header.Get("Authorization") == "Bearer tok":
			w.Write([]byte(`["orders-value"]`))
		case ok && u == "bob" && p == "secret":
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error_code":40301,"message":"User:bob may not read subject orders-value"}`))
		default:
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error_code":40101,"message":"Unauthorized"}`))
		}
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server(t).TLS}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	tlsConf, err := credentials.TLSFiles{CA: ca.CertFile}.Config()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	cases := []struct {
		name     string
		c        *srclient.Client
		wantAuth string
		want     error
		wantMsg  string
	}{
		{"basic", &srclient.Client{User: "alice", Password: "secret"}, "Basic YWxpY2U6c2VjcmV0", nil, ""},
		{"token", &srclient.Client{Token: "tok"}, "Bearer tok", nil, ""},
		{"wrong password", &srclient.Client{User: "alice", Password: "hunter2"}, "Basic YWxpY2U6aHVudGVyMg==", credentials.ErrUnauthenticated,
			"authentication failed for user alice at " + srv.URL + ": Unauthorized (error code 40101)"},
		{"none", &srclient.Client{}, "", credentials.ErrUnauthenticated,
			"authentication failed at " + srv.URL + ": Unauthorized (error code 40101) (no credentials were sent)"},
		{"denied", &srclient.Client{User: "bob", Password: "secret"}, "Basic Ym9iOnNlY3JldA==", credentials.ErrPermissionDenied,
			"permission denied: User:bob may not read subject orders-value (error code 40301) (user bob at " + srv.URL + ")"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.Base, tc.c.HTTP = srv.URL, credentials.HTTPClient(tlsConf)
			var subjects []string
			err := tc.c.Do(ctx, http.MethodGet, "/subjects", nil, nil, &subjects)
			if got := seen[len(seen)-1]; got != tc.wantAuth {
				t.Errorf("registry saw Authorization %q, want %q", got, tc.wantAuth)
			}
			if tc.want == nil {
				if err != nil || len(subjects) != 1 {
					t.Errorf("Do: %v, %v", subjects, err)
				}
				return
			}
			if !errors.Is(err, tc.want) || err.Error() != tc.wantMsg {
				t.Errorf("Do: %q, want %q matching %v", err, tc.wantMsg, tc.want)
			}
			// The registry's answer stays reachable.
			if code := srclient.Code(err); code != 40101 && code != 40301 {
				t.Errorf("Code = %d", code)
			}
		})
	}

	// New takes credentials from the URL, and keeps them out of Base.
	c, err := srclient.New(strings.Replace(srv.URL, "https://", "https://alice:secret@", 1), "", "")
	if err != nil {
		t.Fatal(err)
	}
	c.HTTP = credentials.HTTPClient(tlsConf)
	if err := c.Do(ctx, http.MethodGet, "/subjects", nil, nil, nil); err != nil || strings.Contains(c.Base, "secret") {
		t.Errorf("userinfo: %v (base %s)", err, c.Base)
	}

	// Without the CA: the certificate is not trusted.
	c = &srclient.Client{Base: srv.URL, Token: "tok"}
	if err := c.Do(ctx, http.MethodGet, "/subjects", nil, nil, nil); err == nil || !strings.Contains(err.Error(), "cannot reach the registry at "+srv.URL) || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("without the CA: %v", err)
	}
}
