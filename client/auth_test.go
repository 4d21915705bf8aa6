package client_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/credentials"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/internal/testpki"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
	registryv1 "github.com/sluicehq/sluice/proto/gen/sluice/registry/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/registry/v1/registryv1connect"
)

// authServer is a TLS server that speaks the TopicService, BrokerService
// and RegistryService behind an authentication check like a secured node's:
// alice:secret and the token "tok" are known, bob:secret is known but
// denied everything, anything else is Unauthenticated. It records the
// Authorization headers and client certificate CNs it saw.
type authServer struct {
	*httptest.Server
	ca *testpki.CA

	mu    sync.Mutex
	auths []string
	cns   []string
}

type topicsOK struct {
	brokerv1connect.UnimplementedTopicServiceHandler
}

func (topicsOK) ListTopics(context.Context, *connect.Request[brokerv1.ListTopicsRequest]) (*connect.Response[brokerv1.ListTopicsResponse], error) {
	return connect.NewResponse(&brokerv1.ListTopicsResponse{Topics: []*brokerv1.TopicDescription{{Name: "orders"}}}), nil
}

type registryOK struct {
	registryv1connect.UnimplementedRegistryServiceHandler
}

func (registryOK) ListSubjects(context.Context, *connect.Request[registryv1.ListSubjectsRequest]) (*connect.Response[registryv1.ListSubjectsResponse], error) {
	return connect.NewResponse(&registryv1.ListSubjectsResponse{Subjects: []string{"orders-value"}}), nil
}

// newAuthServer starts the server; clientAuth says whether it asks for,
// or requires, a client certificate.
func newAuthServer(t *testing.T, clientAuth tls.ClientAuthType) *authServer {
	t.Helper()
	s := &authServer{ca: testpki.NewCA(t, "test")}
	mux := http.NewServeMux()
	mux.Handle(brokerv1connect.NewTopicServiceHandler(topicsOK{}))
	mux.Handle(brokerv1connect.NewBrokerServiceHandler(brokerv1connect.UnimplementedBrokerServiceHandler{}))
	mux.Handle(registryv1connect.NewRegistryServiceHandler(registryOK{}))
	ew := connect.NewErrorWriter()
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.auths = append(s.auths, r.Header.Get("Authorization"))
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			s.cns = append(s.cns, r.TLS.PeerCertificates[0].Subject.CommonName)
		}
		s.mu.Unlock()
		u, p, basic := r.BasicAuth()
		switch {
		case basic && u == "alice" && p == "secret", r.Header.Get("Authorization") == "Bearer tok":
			mux.ServeHTTP(w, r)
		case basic && u == "bob" && p == "secret":
			ew.Write(w, r, connect.NewError(connect.CodePermissionDenied, errors.New("principal User:bob may not describe cluster")))
		case r.Header.Get("Authorization") == "" && r.TLS != nil && len(r.TLS.PeerCertificates) > 0:
			mux.ServeHTTP(w, r) // mTLS: the certificate names the principal
		default:
			ew.Write(w, r, connect.NewError(connect.CodeUnauthenticated, errors.New("invalid credentials")))
		}
	}))
	s.TLS = &tls.Config{
		Certificates: []tls.Certificate{s.ca.Server(t).TLS},
		ClientAuth:   clientAuth,
		ClientCAs:    s.ca.Pool(),
	}
	s.EnableHTTP2 = true
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func (s *authServer) seen() (auths, cns []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auths...), append([]string(nil), s.cns...)
}

// trust is a TLS config trusting s's CA.
func (s *authServer) trust() *tls.Config { return &tls.Config{RootCAs: s.ca.Pool()} }

func listTopics(ctx context.Context, conn *client.Conn) error {
	_, err := conn.Topics().ListTopics(ctx, connect.NewRequest(&brokerv1.ListTopicsRequest{}))
	return err
}

func listSubjects(ctx context.Context, conn *client.Conn) error {
	_, err := conn.Registry().ListSubjects(ctx, connect.NewRequest(&registryv1.ListSubjectsRequest{}))
	return err
}

// TestConnCredentials: basic auth and bearer tokens reach the server on
// broker and registry calls alike; refusals are typed errors naming the
// user and the server, never the secret.
func TestConnCredentials(t *testing.T) {
	s := newAuthServer(t, tls.NoClientCert)
	ctx := testCtx(t)
	cases := []struct {
		name     string
		opts     []client.Option
		wantAuth string // the header the server saw
		want     error  // nil, ErrUnauthenticated or ErrPermissionDenied
		wantMsg  string
	}{
		{"basic", []client.Option{client.WithBasicAuth("alice", "secret")}, "Basic YWxpY2U6c2VjcmV0", nil, ""},
		{"token", []client.Option{client.WithToken("tok")}, "Bearer tok", nil, ""},
		{"last option wins", []client.Option{client.WithToken("nope"), client.WithBasicAuth("alice", "secret")}, "Basic YWxpY2U6c2VjcmV0", nil, ""},
		{"wrong password", []client.Option{client.WithBasicAuth("alice", "hunter2")}, "Basic YWxpY2U6aHVudGVyMg==", client.ErrUnauthenticated,
			"authentication failed for user alice at " + s.URL + ": invalid credentials"},
		{"wrong token", []client.Option{client.WithToken("hunter2")}, "Bearer hunter2", client.ErrUnauthenticated,
			"authentication failed for a bearer token at " + s.URL + ": invalid credentials"},
		{"none", nil, "", client.ErrUnauthenticated,
			"authentication failed at " + s.URL + ": invalid credentials (no credentials were sent)"},
		{"denied", []client.Option{client.WithBasicAuth("bob", "secret")}, "Basic Ym9iOnNlY3JldA==", client.ErrPermissionDenied,
			"permission denied: principal User:bob may not describe cluster (user bob at " + s.URL + ")"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn := client.New(nil, s.URL, append([]client.Option{client.WithTLS(s.trust())}, tc.opts...)...)
			for what, call := range map[string]func(context.Context, *client.Conn) error{"topics": listTopics, "registry": listSubjects} {
				n := len(mustSeen(s))
				err := call(ctx, conn)
				if got := mustSeen(s); len(got) != n+1 || got[n] != tc.wantAuth {
					t.Errorf("%s: server saw Authorization %q, want %q", what, got[n:], tc.wantAuth)
				}
				if tc.want == nil {
					if err != nil {
						t.Errorf("%s: %v", what, err)
					}
					continue
				}
				if !errors.Is(err, tc.want) {
					t.Fatalf("%s: error %v (%T), want one matching %v", what, err, err, tc.want)
				}
				var ae *client.AuthError
				if !errors.As(err, &ae) || err.Error() != tc.wantMsg {
					t.Errorf("%s: error %q, want %q", what, err, tc.wantMsg)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("%s: the error shows the secret: %v", what, err)
				}
				// The Connect error stays reachable.
				wantCode := connect.CodeUnauthenticated
				if tc.want == client.ErrPermissionDenied {
					wantCode = connect.CodePermissionDenied
				}
				if connect.CodeOf(err) != wantCode {
					t.Errorf("%s: connect code %v, want %v", what, connect.CodeOf(err), wantCode)
				}
			}
		})
	}
}

func mustSeen(s *authServer) []string { a, _ := s.seen(); return a }

// TestConnCredentialsGRPC: over gRPC (HTTP/2 by ALPN), credentials go in
// the request headers and a refusal, carried in the trailers, is the same
// typed error.
func TestConnCredentialsGRPC(t *testing.T) {
	s := newAuthServer(t, tls.NoClientCert)
	ctx := testCtx(t)
	if err := listTopics(ctx, client.New(nil, s.URL, client.WithGRPC(), client.WithTLS(s.trust()), client.WithToken("tok"))); err != nil {
		t.Errorf("gRPC with a token: %v", err)
	}
	err := listSubjects(ctx, client.New(nil, s.URL, client.WithGRPC(), client.WithTLS(s.trust()), client.WithBasicAuth("bob", "secret")))
	if !errors.Is(err, client.ErrPermissionDenied) || !strings.Contains(err.Error(), "user bob") {
		t.Errorf("gRPC denied: %v", err)
	}
}

// TestConnCredentialsStream: a refused server stream (Subscribe) and the
// typed Producer report the same typed errors.
func TestConnCredentialsStream(t *testing.T) {
	s := newAuthServer(t, tls.NoClientCert)
	ctx := testCtx(t)
	conn := client.New(nil, s.URL, client.WithTLS(s.trust()), client.WithBasicAuth("alice", "wrong"))
	st, err := conn.Broker().Subscribe(ctx, connect.NewRequest(&brokerv1.SubscribeRequest{Topic: "orders"}))
	if err == nil {
		for st.Receive() {
		}
		err = st.Err()
		st.Close()
	}
	if !errors.Is(err, client.ErrUnauthenticated) || !strings.Contains(err.Error(), "user alice") {
		t.Errorf("subscribe: %v, want an authentication failure for user alice", err)
	}
	if a, _ := s.seen(); len(a) == 0 || a[len(a)-1] != "Basic YWxpY2U6d3Jvbmc=" {
		t.Errorf("subscribe sent Authorization %q", a)
	}

	_, err = client.NewProducer(ctx, conn, "orders", primitive.String(), primitive.String(), client.AutoRegister())
	if !errors.Is(err, client.ErrUnauthenticated) {
		t.Errorf("NewProducer: %v, want ErrUnauthenticated", err)
	}
}

// TestConnTLS: the CA decides whom the client trusts, a client certificate
// is presented when given, and a misconfiguration fails clearly.
func TestConnTLS(t *testing.T) {
	ctx := testCtx(t)
	s := newAuthServer(t, tls.VerifyClientCertIfGiven)

	// No CA: the system roots do not know the test CA.
	err := listTopics(ctx, client.New(nil, s.URL, client.WithToken("tok")))
	if !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("without the CA: %v", err)
	}
	// Another CA: same.
	other := testpki.NewCA(t, "other")
	err = listTopics(ctx, client.New(nil, s.URL, client.WithToken("tok"), client.WithTLS(&tls.Config{RootCAs: other.Pool()})))
	if !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("with another CA: %v", err)
	}
	// The CA from a PEM file, through credentials.TLSFiles.
	cfg, err := credentials.TLSFiles{CA: s.ca.CertFile}.Config()
	if err != nil {
		t.Fatal(err)
	}
	if err := listTopics(ctx, client.New(nil, s.URL, client.WithToken("tok"), client.WithTLS(cfg))); err != nil {
		t.Errorf("with the CA file: %v", err)
	}
	// A caller's *http.Client is copied, not changed.
	hc := &http.Client{}
	if err := listTopics(ctx, client.New(hc, s.URL, client.WithToken("tok"), client.WithTLS(s.trust()))); err != nil {
		t.Errorf("with an *http.Client: %v", err)
	}
	if hc.Transport != nil {
		t.Errorf("WithTLS changed the caller's client")
	}
	// Another connect.HTTPClient cannot take the TLS settings: every call
	// says so instead of going out without them.
	err = listTopics(ctx, client.New(doer{hc}, s.URL, client.WithTLS(s.trust())))
	if err == nil || !strings.Contains(err.Error(), "client.WithTLS: the HTTP client is a client_test.doer") {
		t.Errorf("WithTLS over a custom HTTPClient: %v", err)
	}

	// Mutual TLS: the client certificate authenticates (no header).
	alice := s.ca.Client(t, "alice")
	cfg, err = credentials.TLSFiles{CA: s.ca.CertFile, Cert: alice.CertFile, Key: alice.KeyFile}.Config()
	if err != nil {
		t.Fatal(err)
	}
	if err := listTopics(ctx, client.New(nil, s.URL, client.WithTLS(cfg))); err != nil {
		t.Errorf("mTLS: %v", err)
	}
	if _, cns := s.seen(); len(cns) == 0 || cns[len(cns)-1] != "alice" {
		t.Errorf("server saw client certificates %q, want alice", cns)
	}
}

// TestConnMTLSRequired: a server that requires a client certificate
// refuses a client without one, and lets one with a certificate of its CA
// in; a certificate of another CA is refused.
func TestConnMTLSRequired(t *testing.T) {
	ctx := testCtx(t)
	s := newAuthServer(t, tls.RequireAndVerifyClientCert)
	// The handshake fails with the server's alert "certificate required";
	// over HTTP/2 Go may report it as "http2: client conn could not be
	// established", depending on which read sees it first. Under TLS 1.3
	// the client's handshake ends before the server checks its
	// certificate, so the client may already be writing the request when
	// the server closes: then the error is the write's (broken pipe, reset).
	err := listTopics(ctx, client.New(nil, s.URL, client.WithTLS(s.trust())))
	refusedOnWrite := err != nil && (strings.Contains(err.Error(), "broken pipe") || strings.Contains(err.Error(), "connection reset"))
	if connect.CodeOf(err) != connect.CodeUnavailable && !refusedOnWrite {
		t.Errorf("without a client certificate: %v", err)
	}
	stranger := testpki.NewCA(t, "stranger").Client(t, "mallory")
	if err := listTopics(ctx, client.New(nil, s.URL, client.WithTLS(&tls.Config{RootCAs: s.ca.Pool(), Certificates: []tls.Certificate{stranger.TLS}}))); err == nil {
		t.Errorf("a client certificate of another CA was accepted")
	}
	bob := s.ca.Client(t, "bob")
	if err := listTopics(ctx, client.New(nil, s.URL, client.WithTLS(&tls.Config{RootCAs: s.ca.Pool(), Certificates: []tls.Certificate{bob.TLS}}))); err != nil {
		t.Errorf("with a client certificate: %v", err)
	}
}

// doer is a connect.HTTPClient that is not an *http.Client.
type doer struct{ hc *http.Client }

func (d doer) Do(r *http.Request) (*http.Response, error) { return d.hc.Do(r) }
