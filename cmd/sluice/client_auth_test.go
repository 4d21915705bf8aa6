package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/client/credentials"
	"github.com/sluicehq/sluice/internal/testpki"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// TestClientFlagsPrecedence: which credentials and TLS settings a command
// uses, from its flags and the environment. Flags beat variables; a --user
// or --token flag replaces both variables; the password comes from
// --password or $SLUICE_PASSWORD.
func TestClientFlagsPrecedence(t *testing.T) {
	ca := testpki.NewCA(t, "test")
	alice := ca.Client(t, "alice")
	cases := []struct {
		name string
		args []string
		env  map[string]string

		want     credentials.Credentials
		wantFrom string
		wantBase string
		wantCA   bool // the CA file is trusted
		wantCert bool // a client certificate is presented
		wantErr  string
	}{
		{name: "nothing", wantBase: "http://localhost:8080"},
		{name: "user and password flags", args: []string{"--user", "alice", "--password", "secret"},
			want: credentials.Credentials{User: "alice", Password: "secret"}, wantFrom: "--user", wantBase: "http://localhost:8080"},
		{name: "user flag, password from env", args: []string{"--user", "alice"}, env: map[string]string{"SLUICE_PASSWORD": "secret"},
			want: credentials.Credentials{User: "alice", Password: "secret"}, wantFrom: "--user", wantBase: "http://localhost:8080"},
		{name: "password flag beats env", args: []string{"--user", "alice", "--password", "flag"}, env: map[string]string{"SLUICE_PASSWORD": "env"},
			want: credentials.Credentials{User: "alice", Password: "flag"}, wantFrom: "--user", wantBase: "http://localhost:8080"},
		{name: "all from env", env: map[string]string{"SLUICE_USER": "bob", "SLUICE_PASSWORD": "pw"},
			want: credentials.Credentials{User: "bob", Password: "pw"}, wantFrom: "$SLUICE_USER", wantBase: "http://localhost:8080"},
		{name: "user flag beats env user", args: []string{"--user", "alice"}, env: map[string]string{"SLUICE_USER": "bob", "SLUICE_PASSWORD": "pw"},
			want: credentials.Credentials{User: "alice", Password: "pw"}, wantFrom: "--user", wantBase: "http://localhost:8080"},
		{name: "token flag", args: []string{"--token", "tok"},
			want: credentials.Credentials{Token: "tok"}, wantFrom: "--token", wantBase: "http://localhost:8080"},
		{name: "token from env", env: map[string]string{"SLUICE_TOKEN": "tok"},
			want: credentials.Credentials{Token: "tok"}, wantFrom: "$SLUICE_TOKEN", wantBase: "http://localhost:8080"},
		{name: "token flag beats env user", args: []string{"--token", "tok"}, env: map[string]string{"SLUICE_USER": "bob", "SLUICE_PASSWORD": "pw"},
			want: credentials.Credentials{Token: "tok"}, wantFrom: "--token", wantBase: "http://localhost:8080"},
		{name: "user flag beats env token", args: []string{"--user", "alice", "--password", "pw"}, env: map[string]string{"SLUICE_TOKEN": "tok"},
			want: credentials.Credentials{User: "alice", Password: "pw"}, wantFrom: "--user", wantBase: "http://localhost:8080"},
		{name: "env password without user is unused", env: map[string]string{"SLUICE_PASSWORD": "pw"}, wantBase: "http://localhost:8080"},
		{name: "credentials in the URL", args: []string{"--addr", "https://alice:secret@sr.example.com:8081/"},
			want: credentials.Credentials{User: "alice", Password: "secret"}, wantFrom: "--addr", wantBase: "https://sr.example.com:8081"},
		{name: "user in the URL, password from env", args: []string{"--addr", "https://alice@sr.example.com"}, env: map[string]string{"SLUICE_PASSWORD": "pw", "SLUICE_USER": "bob"},
			want: credentials.Credentials{User: "alice", Password: "pw"}, wantFrom: "--addr", wantBase: "https://sr.example.com"},

		{name: "tls-ca flag", args: []string{"--addr", "https://h:1", "--tls-ca", ca.CertFile}, wantBase: "https://h:1", wantCA: true},
		{name: "tls-ca env", args: []string{"--addr", "https://h:1"}, env: map[string]string{"SLUICE_TLS_CA": ca.CertFile}, wantBase: "https://h:1", wantCA: true},
		{name: "tls-ca flag beats env", args: []string{"--addr", "https://h:1", "--tls-ca", ca.CertFile}, env: map[string]string{"SLUICE_TLS_CA": "/nonexistent"}, wantBase: "https://h:1", wantCA: true},
		{name: "bare host:port is https with TLS settings", args: []string{"--addr", "h:1", "--tls-ca", ca.CertFile}, wantBase: "https://h:1", wantCA: true},
		{name: "bare host:port is http without", args: []string{"--addr", "h:1"}, wantBase: "http://h:1"},
		{name: "bare host:port is https with env TLS", args: []string{"--addr", "h:1"}, env: map[string]string{"SLUICE_TLS_CA": ca.CertFile}, wantBase: "https://h:1", wantCA: true},
		{name: "env TLS ignored for http://", args: []string{"--addr", "http://localhost:8080"}, env: map[string]string{"SLUICE_TLS_CA": "/nonexistent"}, wantBase: "http://localhost:8080"},
		{name: "client certificate", args: []string{"--addr", "https://h:1", "--tls-cert", alice.CertFile, "--tls-key", alice.KeyFile}, wantBase: "https://h:1", wantCert: true},
		{name: "client certificate from env, CA from flag", args: []string{"--addr", "https://h:1", "--tls-ca", ca.CertFile},
			env: map[string]string{"SLUICE_TLS_CERT": alice.CertFile, "SLUICE_TLS_KEY": alice.KeyFile}, wantBase: "https://h:1", wantCA: true, wantCert: true},
		{name: "addr from env", env: map[string]string{"SLUICE_ADDR": "https://env:9", "SLUICE_TOKEN": "t"},
			want: credentials.Credentials{Token: "t"}, wantFrom: "$SLUICE_TOKEN", wantBase: "https://env:9"},

		{name: "user and token flags", args: []string{"--user", "a", "--password", "p", "--token", "t"}, wantErr: "give --user or --token, not both"},
		{name: "user and token env", env: map[string]string{"SLUICE_USER": "a", "SLUICE_PASSWORD": "p", "SLUICE_TOKEN": "t"}, wantErr: "$SLUICE_USER and $SLUICE_TOKEN are both set"},
		{name: "user without password", args: []string{"--user", "alice"}, wantErr: "user alice (--user) has no password: give --password or set $SLUICE_PASSWORD"},
		{name: "env user without password", env: map[string]string{"SLUICE_USER": "alice"}, wantErr: "user alice ($SLUICE_USER) has no password"},
		{name: "password without user", args: []string{"--password", "p"}, wantErr: "--password needs --user NAME"},
		{name: "password with token", args: []string{"--token", "t", "--password", "p"}, wantErr: "--password goes with --user, not with a token"},
		{name: "empty user", args: []string{"--user", ""}, wantErr: "--user is empty"},
		{name: "empty token", args: []string{"--token", ""}, wantErr: "--token is empty"},
		{name: "colon in user", args: []string{"--user", "a:b", "--password", "p"}, wantErr: "--user: credentials: a user name may not contain ':'"},
		{name: "URL and flag credentials", args: []string{"--addr", "https://a:b@h", "--user", "c"}, wantErr: "give credentials in --addr or with --user/--password/--token, not both"},
		{name: "tls flag with http", args: []string{"--addr", "http://h:1", "--tls-ca", ca.CertFile}, wantErr: "--tls-ca applies to https:// addresses, and --addr is http://h:1: use https://"},
		{name: "missing CA file", args: []string{"--addr", "https://h:1", "--tls-ca", "/nonexistent/ca.pem"}, wantErr: "--tls-ca: CA file: open /nonexistent/ca.pem: no such file or directory"},
		{name: "missing CA file from env", args: []string{"--addr", "https://h:1"}, env: map[string]string{"SLUICE_TLS_CA": "/nonexistent/ca.pem"}, wantErr: "$SLUICE_TLS_CA: CA file: open /nonexistent/ca.pem"},
		{name: "cert without key", args: []string{"--addr", "https://h:1", "--tls-cert", alice.CertFile}, wantErr: "--tls-cert needs --tls-key FILE (or $SLUICE_TLS_KEY)"},
		{name: "key without cert", args: []string{"--addr", "https://h:1"}, env: map[string]string{"SLUICE_TLS_KEY": alice.KeyFile}, wantErr: "$SLUICE_TLS_KEY needs --tls-cert FILE"},
		{name: "key is not the cert's", args: []string{"--addr", "https://h:1", "--tls-cert", alice.CertFile, "--tls-key", ca.CertFile}, wantErr: "--tls-cert, --tls-key: client certificate"},
		{name: "other scheme", args: []string{"--addr", "ftp://h"}, wantErr: `--addr: address "ftp://h": want an http:// or https:// URL`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := &env{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string { return tc.env[k] }}
			fs := newFlagSet(e, "sluice test", "")
			var cf clientFlags
			cf.register(fs, e)
			if _, code, ok := parseArgs(fs, tc.args); !ok {
				t.Fatalf("parse: exit %d", code)
			}
			err := cf.validate()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("validate() = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("validate() = %v", err)
			}
			if cf.creds != tc.want || cf.credsFrom != tc.wantFrom {
				t.Errorf("credentials %#v from %q, want %#v from %q (users %q/%q)", cf.creds, cf.credsFrom, tc.want, tc.wantFrom, cf.creds.User, tc.want.User)
			}
			if cf.baseURL() != tc.wantBase {
				t.Errorf("base %q, want %q", cf.baseURL(), tc.wantBase)
			}
			if gotCA := cf.tls != nil && cf.tls.RootCAs != nil; gotCA != tc.wantCA {
				t.Errorf("CA trusted: %v, want %v", gotCA, tc.wantCA)
			}
			if gotCert := cf.tls != nil && len(cf.tls.Certificates) == 1; gotCert != tc.wantCert {
				t.Errorf("client certificate: %v, want %v", gotCert, tc.wantCert)
			}
		})
	}
}

func TestCleartextWarning(t *testing.T) {
	alice := credentials.Credentials{User: "alice", Password: "secret"}
	for _, tc := range []struct {
		base  string
		creds credentials.Credentials
		want  string
	}{
		{"http://sluice.example.com:8080", alice, "sluice: warning: sending user alice in clear text to http://sluice.example.com:8080; use https://"},
		{"http://10.0.0.7:8080", credentials.Credentials{Token: "t"}, "sluice: warning: sending a bearer token in clear text to http://10.0.0.7:8080; use https://"},
		{"https://sluice.example.com:8080", alice, ""},
		{"http://localhost:8080", alice, ""},
		{"http://127.0.0.1:8080", alice, ""},
		{"http://[::1]:8080", alice, ""},
		{"http://sluice.example.com:8080", credentials.Credentials{}, ""},
	} {
		if got := cleartextWarning(tc.base, tc.creds); got != tc.want {
			t.Errorf("cleartextWarning(%s, %v) = %q, want %q", tc.base, tc.creds, got, tc.want)
		}
	}
}

// TestHelpShowsNoSecret: --help lists the TLS and credential flags with
// their variables, and never a value from the environment.
func TestHelpShowsNoSecret(t *testing.T) {
	t.Setenv("SLUICE_PASSWORD", "hunter2")
	t.Setenv("SLUICE_TOKEN", "tok-hunter2")
	for _, cmd := range [][]string{{"topic"}, {"produce"}, {"consume"}, {"group"}, {"apply"}, {"bench"}, {"schema", "list"}, {"schema", "check"}} {
		var out, errb bytes.Buffer
		code := run(context.Background(), append(cmd, "--help"), strings.NewReader(""), &out, &errb)
		help := out.String()
		if code != 0 {
			t.Errorf("%v --help: exit %d: %s", cmd, code, errb.String())
		}
		for _, want := range []string{"-tls-ca FILE", "$SLUICE_TLS_CA", "-tls-cert FILE", "-tls-key FILE", "-user NAME", "$SLUICE_PASSWORD", "-token TOKEN", "$SLUICE_TOKEN"} {
			if !strings.Contains(help, want) {
				t.Errorf("%v --help does not say %q", cmd, want)
			}
		}
		if strings.Contains(help+errb.String(), "hunter2") {
			t.Errorf("%v --help shows a secret from the environment", cmd)
		}
	}
	var out bytes.Buffer
	run(context.Background(), []string{"--help"}, strings.NewReader(""), &out, io.Discard)
	for _, want := range []string{"--tls-ca FILE", "$SLUICE_TOKEN", "a flag beats\nits variable", "3 authentication failed", "4 permission denied"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("sluice --help does not say %q", want)
		}
	}
}

// fakeNode is a TLS server like a secured Sluice node: the TopicService
// and the registry's GET /subjects, behind basic auth (alice:secret, and
// bob:secret who is denied everything) and the bearer token "tok".
type fakeNode struct {
	*httptest.Server
	ca *testpki.CA

	mu    sync.Mutex
	auths []string
}

type fakeTopics struct {
	brokerv1connect.UnimplementedTopicServiceHandler
}

func (fakeTopics) ListTopics(context.Context, *connect.Request[brokerv1.ListTopicsRequest]) (*connect.Response[brokerv1.ListTopicsResponse], error) {
	return connect.NewResponse(&brokerv1.ListTopicsResponse{Topics: []*brokerv1.TopicDescription{{Name: "orders"}}}), nil
}

func newFakeNode(t *testing.T, clientAuth tls.ClientAuthType) *fakeNode {
	t.Helper()
	n := &fakeNode{ca: testpki.NewCA(t, "node")}
	mux := http.NewServeMux()
	mux.Handle(brokerv1connect.NewTopicServiceHandler(fakeTopics{}))
	mux.HandleFunc("GET /subjects", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		w.Write([]byte(`["orders-value"]`))
	})
	ew := connect.NewErrorWriter()
	refuse := func(w http.ResponseWriter, r *http.Request, code connect.Code, status, rest int, msg string) {
		if strings.HasPrefix(r.URL.Path, "/sluice.") {
			ew.Write(w, r, connect.NewError(code, errors.New(msg)))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error_code":%d,"message":%q}`, rest, msg)
	}
	n.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.mu.Lock()
		n.auths = append(n.auths, r.Header.Get("Authorization"))
		n.mu.Unlock()
		u, p, basic := r.BasicAuth()
		switch {
		case basic && u == "alice" && p == "secret", r.Header.Get("Authorization") == "Bearer tok":
			mux.ServeHTTP(w, r)
		case r.Header.Get("Authorization") == "" && r.TLS != nil && len(r.TLS.PeerCertificates) > 0:
			mux.ServeHTTP(w, r)
		case basic && u == "bob" && p == "secret":
			refuse(w, r, connect.CodePermissionDenied, 403, 40301, "User:bob may not describe cluster")
		default:
			refuse(w, r, connect.CodeUnauthenticated, 401, 40101, "invalid credentials")
		}
	}))
	n.TLS = &tls.Config{Certificates: []tls.Certificate{n.ca.Server(t).TLS}, ClientAuth: clientAuth, ClientCAs: n.ca.Pool()}
	n.EnableHTTP2 = true
	n.Config.ErrorLog = log.New(io.Discard, "", 0)
	n.StartTLS()
	t.Cleanup(n.Close)
	return n
}

// sluiceEnv runs a command with vars as the whole environment.
func sluiceEnv(vars map[string]string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }}
	c, ok := commands[args[0]]
	if !ok {
		panic(args[0])
	}
	code = c.run(context.Background(), e, args[1:])
	return code, out.String(), errb.String()
}

// TestCommandsOverTLS: commands reach a TLS node with the CA and
// credentials from flags or the environment; refusals exit 3 or 4 with a
// message naming the user and the server, never the password; a wrong CA
// fails with a hint naming --tls-ca.
func TestCommandsOverTLS(t *testing.T) {
	n := newFakeNode(t, tls.VerifyClientCertIfGiven)
	other := testpki.NewCA(t, "other")
	cases := []struct {
		name      string
		args      []string
		env       map[string]string
		wantCode  int
		wantOut   string // in stdout
		wantErr   string // in stderr
		wantAuths string // the Authorization header the node saw last
	}{
		{"topic list, basic", []string{"topic", "list", "--tls-ca", n.ca.CertFile, "--user", "alice", "--password", "secret"}, nil,
			0, "orders", "", "Basic YWxpY2U6c2VjcmV0"},
		{"topic list, env", []string{"topic", "list"}, map[string]string{"SLUICE_ADDR": n.URL, "SLUICE_TLS_CA": n.ca.CertFile, "SLUICE_USER": "alice", "SLUICE_PASSWORD": "secret"},
			0, "orders", "", "Basic YWxpY2U6c2VjcmV0"},
		{"topic list, token", []string{"topic", "list", "--tls-ca", n.ca.CertFile, "--token", "tok"}, nil,
			0, "orders", "", "Bearer tok"},
		{"schema list, basic", []string{"schema", "list", "--tls-ca", n.ca.CertFile, "--user", "alice"}, map[string]string{"SLUICE_PASSWORD": "secret"},
			0, "orders-value", "", "Basic YWxpY2U6c2VjcmV0"},
		{"topic list, wrong password", []string{"topic", "list", "--tls-ca", n.ca.CertFile, "--user", "alice", "--password", "hunter2"}, nil,
			exitUnauthenticated, "", "sluice topic list: authentication failed for user alice at " + n.URL + ": invalid credentials\n", "Basic YWxpY2U6aHVudGVyMg=="},
		{"schema list, wrong password", []string{"schema", "list", "--tls-ca", n.ca.CertFile, "--user", "alice"}, map[string]string{"SLUICE_PASSWORD": "hunter2"},
			exitUnauthenticated, "", "sluice schema list: authentication failed for user alice at " + n.URL + ": invalid credentials (error code 40101)\n", "Basic YWxpY2U6aHVudGVyMg=="},
		{"topic list, no credentials", []string{"topic", "list", "--tls-ca", n.ca.CertFile}, nil,
			exitUnauthenticated, "", "authentication failed at " + n.URL + ": invalid credentials (no credentials were sent)\n  the server wants credentials: --user NAME", ""},
		{"topic list, denied", []string{"topic", "list", "--tls-ca", n.ca.CertFile, "--user", "bob", "--password", "secret"}, nil,
			exitPermissionDenied, "", "sluice topic list: permission denied: User:bob may not describe cluster (user bob at " + n.URL + ")\n", "Basic Ym9iOnNlY3JldA=="},
		{"schema list, denied", []string{"schema", "list", "--tls-ca", n.ca.CertFile, "--user", "bob", "--password", "secret"}, nil,
			exitPermissionDenied, "", "sluice schema list: permission denied: User:bob may not describe cluster (error code 40301) (user bob at " + n.URL + ")\n", "Basic Ym9iOnNlY3JldA=="},
		{"produce, denied", []string{"produce", "orders", "x", "--tls-ca", n.ca.CertFile, "--user", "bob", "--password", "secret"}, nil,
			exitPermissionDenied, "", "sluice produce: permission denied: User:bob may not describe cluster", "Basic Ym9iOnNlY3JldA=="},
		{"group list, wrong token", []string{"group", "list", "--tls-ca", n.ca.CertFile, "--token", "hunter2"}, nil,
			exitUnauthenticated, "", "sluice group list: authentication failed for a bearer token at " + n.URL, "Bearer hunter2"},
		{"schema check against the registry, denied", []string{"schema", "check", "--registry", n.URL, "--tls-ca", n.ca.CertFile, "--user", "bob", "--password", "secret", "--subject", "orders-value", "../../testdata/perf/record.avsc"}, nil,
			exitPermissionDenied, "", "permission denied: User:bob may not describe cluster (error code 40301)", "Basic Ym9iOnNlY3JldA=="},
		{"wrong CA", []string{"topic", "list", "--tls-ca", other.CertFile, "--token", "tok"}, nil,
			1, "", "certificate signed by unknown authority\n  the server's certificate is not signed by a CA this command trusts: give the CA's certificate with --tls-ca FILE (or $SLUICE_TLS_CA)\n", "-"},
		{"no CA", []string{"topic", "list", "--token", "tok"}, nil,
			1, "", "--tls-ca FILE", "-"},
		{"schema list, wrong CA", []string{"schema", "list", "--tls-ca", other.CertFile, "--token", "tok"}, nil,
			1, "", "certificate signed by unknown authority\n  the server's certificate is not signed by a CA", "-"},
		{"mTLS", []string{"topic", "list", "--tls-ca", n.ca.CertFile, "--tls-cert", "CERT", "--tls-key", "KEY"}, nil,
			0, "orders", "", ""},
		{"http to the TLS port", []string{"topic", "list", "--addr", strings.Replace(n.URL, "https://", "http://", 1), "--token", "tok"}, nil,
			1, "", "sluice topic list: internal: 400 Bad Request\n  if the server serves TLS on that port, use an https:// address\n", "-"},
	}
	alice := n.ca.Client(t, "alice")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{"SLUICE_ADDR": n.URL}
			for k, v := range tc.env {
				vars[k] = v
			}
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				args[i] = strings.NewReplacer("CERT", alice.CertFile, "KEY", alice.KeyFile).Replace(a)
			}
			n.mu.Lock()
			before := len(n.auths)
			n.mu.Unlock()
			code, out, errOut := sluiceEnv(vars, args...)
			if code != tc.wantCode || !strings.Contains(out, tc.wantOut) || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s\nwant stdout with %q, stderr with %q", code, tc.wantCode, out, errOut, tc.wantOut, tc.wantErr)
			}
			if strings.Contains(out+errOut, "hunter2") {
				t.Errorf("the output shows the secret:\n%s%s", out, errOut)
			}
			n.mu.Lock()
			seen := n.auths[before:]
			n.mu.Unlock()
			switch {
			case tc.wantAuths == "-":
				if len(seen) != 0 {
					t.Errorf("requests reached the node: %q", seen)
				}
			case len(seen) == 0 || seen[len(seen)-1] != tc.wantAuths:
				t.Errorf("the node saw Authorization %q, want %q last", seen, tc.wantAuths)
			}
		})
	}
}
