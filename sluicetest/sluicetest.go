// Package sluicetest starts a real Sluice node (registry and broker in one
// process, data in a temporary folder, listening on a loopback port) for
// tests of code that uses the typed clients.
//
//	func TestOrders(t *testing.T) {
//		srv := sluicetest.Start(t)
//		srv.CreateTopic(t, "orders", 3, nil)
//		p, err := orders.NewOrderProducer(ctx, srv.Conn, client.AutoRegister())
//		...
//	}
package sluicetest

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/auth"
	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/credentials"
	"github.com/sluicehq/sluice/internal/testpki"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/server"
	"github.com/sluicehq/sluice/tlsconfig"
)

// Server is a running node.
type Server struct {
	// URL is the node's base URL, http://127.0.0.1:<port> (https://
	// when Secured).
	URL string
	// Conn is a connection to the node over HTTP/1.1 and h2c (HTTP/2
	// over TLS, with the Secured user's credentials, when Secured).
	Conn *client.Conn
	// HTTPClient is the client Conn uses.
	HTTPClient *http.Client
	// KafkaAddr is the node's Kafka listener, 127.0.0.1:<port>, when
	// started WithKafka; "" otherwise.
	KafkaAddr string
	// CAFile is the PEM certificate of the CA that signs the node's
	// certificate, and TLS a client configuration trusting it, when
	// started Secured; "" and nil otherwise.
	CAFile string
	TLS    *tls.Config
}

// Option configures Start.
type Option func(*config)

type config struct {
	durable bool
	dir     string
	kafka   bool

	authFile, user, password string // Secured
}

// Secured turns TLS and authentication on, as a production node runs:
// the node serves a certificate of a CA made for the test (Server.CAFile;
// Server.TLS trusts it) and authenticates clients with authFile, the YAML
// of `sluice serve --auth-file` (with ACLs enforced: only its superusers
// may act until ACLs say otherwise). Server.Conn and CreateTopic act as
// user with password, a superuser of the file; tests build other Conns
// with client.New and the options under test.
func Secured(authFile, user, password string) Option {
	return func(c *config) { c.authFile, c.user, c.password = authFile, user, password }
}

// WithKafka also runs the node's Kafka listener on a loopback port
// (Server.KafkaAddr), so Kafka clients can be tested against it.
func WithKafka() Option { return func(c *config) { c.kafka = true } }

// Durable makes appends fsync as a production node does (the default
// skips fsync: tests do not survive power loss anyway, and run faster).
func Durable() Option { return func(c *config) { c.durable = true } }

// DataDir keeps the node's data in dir instead of a fresh temporary
// folder, e.g. to restart a node on the same data.
func DataDir(dir string) Option { return func(c *config) { c.dir = dir } }

// Start runs a node until the test ends. It fails the test if the node
// cannot start.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.dir == "" {
		cfg.dir = t.TempDir()
	}
	sc := server.Config{DataDir: cfg.dir}
	if !cfg.durable {
		p, err := broker.ParseFsyncPolicy("never")
		if err != nil {
			t.Fatalf("sluicetest: %v", err)
		}
		sc.Fsync = p
	}
	if cfg.kafka {
		sc.KafkaAddr = "127.0.0.1:0"
	}
	var (
		caFile  string
		tlsConf *tls.Config
		copts   []client.Option
	)
	if cfg.authFile != "" {
		f, err := auth.ParseFile("sluicetest auth file", []byte(cfg.authFile))
		if err != nil {
			t.Fatalf("sluicetest: %v", err)
		}
		sc.Auth = auth.New(f, auth.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		ca := testpki.NewCA(t, "sluicetest")
		pair := ca.Server(t)
		if sc.TLS, err = tlsconfig.Load(tlsconfig.Files{Cert: pair.CertFile, Key: pair.KeyFile, ClientCA: ca.CertFile}); err != nil {
			t.Fatalf("sluicetest: %v", err)
		}
		caFile, tlsConf = ca.CertFile, &tls.Config{RootCAs: ca.Pool()}
		copts = append(copts, client.WithBasicAuth(cfg.user, cfg.password))
	}
	srv, url, stop, err := server.Start(context.Background(), sc, "127.0.0.1:0")
	if err != nil {
		t.Fatalf("sluicetest: start sluice: %v", err)
	}
	hc := HTTPClient()
	if tlsConf != nil {
		hc = credentials.HTTPClient(tlsConf)
	}
	t.Cleanup(func() {
		hc.CloseIdleConnections()
		if err := stop(); err != nil {
			t.Errorf("sluicetest: stop sluice: %v", err)
		}
	})
	return &Server{URL: url, Conn: client.New(hc, url, copts...), HTTPClient: hc, KafkaAddr: srv.KafkaAddr(), CAFile: caFile, TLS: tlsConf}
}

// HTTPClient returns an HTTP client speaking HTTP/1.1 and cleartext HTTP/2
// (needed for WithGRPC).
func HTTPClient() *http.Client {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Protocols = &p
	return &http.Client{Transport: t}
}

// CreateTopic creates a topic with partitions and configs, failing the test
// on error.
func (s *Server) CreateTopic(t testing.TB, name string, partitions int32, configs map[string]string) {
	t.Helper()
	_, err := s.Conn.Topics().CreateTopic(context.Background(), connect.NewRequest(&brokerv1.CreateTopicRequest{Name: name, Partitions: partitions, Configs: configs}))
	if err != nil {
		t.Fatalf("sluicetest: create topic %s: %v", name, err)
	}
}
