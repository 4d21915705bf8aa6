package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/auth"
	"github.com/sluicehq/sluice/internal/testpki"
	"github.com/sluicehq/sluice/server"
	"github.com/sluicehq/sluice/tlsconfig"
)

// secureNode is a real Sluice node with TLS (mutual TLS optional) and an
// auth file: alice (superuser, password alice-pw), bob (password bob-pw,
// no ACL: refused what needs one), and an API token for the superuser ci.
type secureNode struct {
	url   string
	kafka string // the Kafka listener, host:port (TLS, SASL)
	ca    *testpki.CA
	token string
	alice testpki.Pair // a client certificate with CN alice
}

// secureAuthFile is the auth file's YAML and ci's token, made once:
// argon2id is slow on purpose.
var secureAuthFile = sync.OnceValues(func() (string, string) {
	var b strings.Builder
	b.WriteString("users:\n")
	for _, u := range [][2]string{{"alice", "alice-pw"}, {"bob", "bob-pw"}} {
		e, err := auth.UserEntry(u[0], u[1], false)
		if err != nil {
			panic(err)
		}
		b.WriteString("  " + strings.ReplaceAll(strings.TrimSuffix(e, "\n"), "\n", "\n  ") + "\n")
	}
	token, entry, err := auth.NewToken("ci", "tests")
	if err != nil {
		panic(err)
	}
	b.WriteString("tokens:\n  " + strings.ReplaceAll(strings.TrimSuffix(entry, "\n"), "\n", "\n  ") + "\n")
	b.WriteString("superusers: [alice, ci]\n")
	return b.String(), token
})

func startSecureNode(t *testing.T) *secureNode {
	t.Helper()
	yaml, token := secureAuthFile()
	f, err := auth.ParseFile("auth.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	ca := testpki.NewCA(t, "sluice")
	srvCert := ca.Server(t)
	reloader, err := tlsconfig.Load(tlsconfig.Files{Cert: srvCert.CertFile, Key: srvCert.KeyFile, ClientCA: ca.CertFile})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, url, stop, err := server.Start(context.Background(), server.Config{
		DataDir:   t.TempDir(),
		KafkaAddr: "127.0.0.1:0",
		Auth:      auth.New(f, auth.Options{Logger: logger}),
		TLS:       reloader,
		Logger:    logger,
	}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return &secureNode{url: url, kafka: srv.KafkaAddr(), ca: ca, token: token, alice: ca.Client(t, "alice")}
}

// TestCommandsAgainstSecureNode runs the CLI against a real node with TLS
// and an auth file: the commands that talk to a server work with the CA and
// credentials from flags or the environment, and refusals exit 3 or 4 with
// the server's reason.
func TestCommandsAgainstSecureNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node with argon2id users")
	}
	n := startSecureNode(t)
	other := testpki.NewCA(t, "other")
	stranger := other.Client(t, "alice") // alice's name, another CA
	dir := t.TempDir()
	schema := filepath.Join(dir, "order.avsc")
	if err := os.WriteFile(schema, []byte(`{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	mf := filepath.Join(ckCopy(t, nil), "sluice.yaml")
	asAlice := map[string]string{"SLUICE_ADDR": n.url, "SLUICE_TLS_CA": n.ca.CertFile, "SLUICE_USER": "alice", "SLUICE_PASSWORD": "alice-pw"}
	only := func(kv ...string) map[string]string {
		m := map[string]string{"SLUICE_ADDR": n.url}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	steps := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		// The manifest (topics orders and payments, their subjects) first.
		{"apply (token)", only("SLUICE_TLS_CA", n.ca.CertFile, "SLUICE_TOKEN", n.token), []string{"apply", "--manifest", mf}, 0, "Apply complete", ""},
		{"apply as bob", only("SLUICE_TLS_CA", n.ca.CertFile, "SLUICE_USER", "bob", "SLUICE_PASSWORD", "bob-pw"), []string{"apply", "--manifest", mf, "--dry-run"}, exitPermissionDenied, "",
			"sluice apply: permission denied: "},
		{"create a topic (flags)", only(), []string{"topic", "create", "clicks", "--tls-ca", n.ca.CertFile, "--user", "alice", "--password", "alice-pw"}, 0, "created topic clicks", ""},
		{"produce (environment)", asAlice, []string{"produce", "clicks", "hello", "world"}, 0, "offset 1", ""},
		{"consume (token)", only("SLUICE_TLS_CA", n.ca.CertFile), []string{"consume", "clicks", "--max", "2", "--token", n.token}, 0, "hello", ""},
		{"register a schema", asAlice, []string{"schema", "register", "clicks-value", schema}, 0, "", ""},
		{"check against the registry (--user)", only("SLUICE_TLS_CA", n.ca.CertFile, "SLUICE_PASSWORD", "alice-pw"), []string{"schema", "check", "--registry", n.url, "--user", "alice", "--subject", "clicks-value", schema}, 0, "", ""},
		{"diff against the registry", asAlice, []string{"schema", "diff", "--registry", n.url, "clicks-value:1", schema}, 0, "", ""},
		{"group list", asAlice, []string{"group", "list"}, 0, "", ""},
		{"bench over TLS", asAlice, []string{"bench", "produce", "--topic", "bench-tls", "--partitions", "1", "--duration", "200ms", "--producers", "1", "--inflight", "2", "--cleanup"}, 0, "records/s", ""},
		{"bench over Kafka with SASL SCRAM and TLS", asAlice, []string{"bench", "produce", "--kafka", n.kafka, "--kafka-sasl", "SCRAM-SHA-256", "--topic", "bench-kafka", "--partitions", "1", "--duration", "200ms", "--inflight", "2", "--cleanup"}, 0, "records/s", ""},
		{"bench over Kafka with a token", only("SLUICE_TLS_CA", n.ca.CertFile, "SLUICE_TOKEN", n.token), []string{"bench", "produce", "--kafka", n.kafka, "--topic", "bench-kafka3", "--duration", "200ms"}, 2, "",
			"the Kafka listener authenticates a user and password with SASL, not a token"},
		{"bench over Kafka, unknown mechanism", asAlice, []string{"bench", "produce", "--kafka", n.kafka, "--kafka-sasl", "GSSAPI", "--topic", "bench-kafka4"}, 2, "",
			"--kafka-sasl GSSAPI: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"},
		{"bench as bob", only("SLUICE_TLS_CA", n.ca.CertFile, "SLUICE_USER", "bob", "SLUICE_PASSWORD", "bob-pw"), []string{"bench", "produce", "--topic", "bench-bob", "--duration", "200ms"}, exitPermissionDenied, "",
			"sluice bench produce: permission denied: "},
		{"mutual TLS: the certificate is alice", only(), []string{"topic", "describe", "clicks", "--tls-ca", n.ca.CertFile, "--tls-cert", n.alice.CertFile, "--tls-key", n.alice.KeyFile}, 0, "clicks", ""},

		{"wrong password", only("SLUICE_TLS_CA", n.ca.CertFile), []string{"topic", "list", "--user", "alice", "--password", "hunter2"}, exitUnauthenticated, "",
			"sluice topic list: authentication failed for user alice at " + n.url + ": "},
		{"wrong password, registry", only("SLUICE_TLS_CA", n.ca.CertFile, "SLUICE_USER", "alice", "SLUICE_PASSWORD", "hunter2"), []string{"schema", "list"}, exitUnauthenticated, "",
			"sluice schema list: authentication failed for user alice at " + n.url + ": "},
		{"wrong password, schema check", only("SLUICE_TLS_CA", n.ca.CertFile), []string{"schema", "check", "--registry", n.url, "--user", "alice", "--password", "hunter2", "--subject", "clicks-value", schema}, exitUnauthenticated, "",
			"authentication failed for user alice at " + n.url},
		{"no credentials", only("SLUICE_TLS_CA", n.ca.CertFile), []string{"produce", "clicks", "x"}, exitUnauthenticated, "",
			"(no credentials were sent)\n  the server wants credentials"},
		{"unknown token", only("SLUICE_TLS_CA", n.ca.CertFile, "SLUICE_TOKEN", "sluice_hunter2"), []string{"consume", "clicks", "--max", "1"}, exitUnauthenticated, "",
			"authentication failed for a bearer token at " + n.url},
		{"bob may not create topics", only("SLUICE_TLS_CA", n.ca.CertFile), []string{"topic", "create", "payments", "--user", "bob", "--password", "bob-pw"}, exitPermissionDenied, "",
			"sluice topic create: permission denied: "},
		{"bob may not produce", only("SLUICE_TLS_CA", n.ca.CertFile, "SLUICE_USER", "bob", "SLUICE_PASSWORD", "bob-pw"), []string{"produce", "clicks", "x"}, exitPermissionDenied, "",
			"sluice produce: permission denied: "},
		{"bob may not register", only("SLUICE_TLS_CA", n.ca.CertFile, "SLUICE_USER", "bob", "SLUICE_PASSWORD", "bob-pw"), []string{"schema", "register", "clicks-value", schema}, exitPermissionDenied, "",
			"sluice schema register: permission denied: "},
		{"another CA", only("SLUICE_TLS_CA", other.CertFile, "SLUICE_TOKEN", n.token), []string{"topic", "list"}, 1, "",
			"certificate signed by unknown authority\n  the server's certificate is not signed by a CA this command trusts: give the CA's certificate with --tls-ca FILE"},
		{"a client certificate of another CA", only(), []string{"topic", "list", "--tls-ca", n.ca.CertFile, "--tls-cert", stranger.CertFile, "--tls-key", stranger.KeyFile}, 1, "",
			"remote error: tls: unknown certificate authority\n  the server did not accept the client certificate (--tls-cert)|http2: client conn could not be established|\n  the server closed the connection: a server that requires client certificates"},
		{"a key that is not the certificate's", only(), []string{"topic", "list", "--tls-ca", n.ca.CertFile, "--tls-cert", n.alice.CertFile, "--tls-key", stranger.KeyFile}, 2, "",
			"sluice topic: --tls-cert, --tls-key: client certificate " + n.alice.CertFile + " with key " + stranger.KeyFile + ": tls: private key does not match public key\n"},
	}
	for _, s := range steps {
		code, out, errOut := sluiceEnv(s.env, s.args...)
		// wantErr "a|b": either (a TLS alert may reach Go's HTTP/2 client
		// as "http2: client conn could not be established", or under TLS
		// 1.3 as a reset of the request it was writing).
		found := false
		for _, w := range strings.Split(s.wantErr, "|") {
			found = found || strings.Contains(errOut, w)
		}
		if code != s.wantCode || !strings.Contains(out, s.wantOut) || !found {
			t.Errorf("%s: sluice %s: exit %d, want %d\nstdout: %s\nstderr: %s\nwant stdout with %q, stderr with %q",
				s.name, strings.Join(s.args, " "), code, s.wantCode, out, errOut, s.wantOut, s.wantErr)
		}
		if strings.Contains(out+errOut, "hunter2") || strings.Contains(out+errOut, n.token) {
			t.Errorf("%s: the output shows a secret:\n%s%s", s.name, out, errOut)
		}
	}
}
