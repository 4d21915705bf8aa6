package kafka_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluicehq/sluice/auth"
	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/server"
	"github.com/sluicehq/sluice/tlsconfig"
	"github.com/sluicehq/sluice/tlsconfig/tlsconfigtest"
)

// saslAuthFile: alice (superuser) with password "alice-pw" and bob
// ("bob-pw", subject to ACLs), both with SCRAM credentials; made once
// (hashing is slow on purpose).
var saslAuthFile = sync.OnceValue(func() *auth.File {
	var users string
	for _, u := range []string{"alice", "bob"} {
		e, err := auth.UserEntry(u, u+"-pw", false)
		if err != nil {
			panic(err)
		}
		users += "  " + strings.ReplaceAll(strings.TrimSuffix(e, "\n"), "\n", "\n  ") + "\n"
	}
	f, err := auth.ParseFile("test", []byte("users:\n"+users+"superusers: [alice]\n"))
	if err != nil {
		panic(err)
	}
	return f
})

// secureNode is a node with authentication and TLS (with a client CA).
type secureNode struct {
	addr     string
	ca       *tlsconfigtest.CA // signs the server's certificate
	clientCA *tlsconfigtest.CA // signs client certificates
	caFile   string            // ca's PEM
	auth     *auth.Authenticator
	srv      *server.Server
}

func startSecureNode(t testing.TB, useTLS bool) *secureNode {
	t.Helper()
	dir := t.TempDir()
	n := &secureNode{ca: tlsconfigtest.NewCA(t, "server CA"), clientCA: tlsconfigtest.NewCA(t, "client CA")}
	n.caFile = n.ca.Write(t, dir, "ca")
	n.auth = auth.New(saslAuthFile(), auth.Options{Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	never, _ := broker.ParseFsyncPolicy("never")
	cfg := server.Config{DataDir: filepath.Join(dir, "data"), Fsync: never, KafkaAddr: "127.0.0.1:0", Auth: n.auth,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if useTLS {
		cert, key := n.ca.Server(t, "sluice").Write(t, dir, "server")
		rl, err := tlsconfig.Load(tlsconfig.Files{Cert: cert, Key: key, ClientCA: n.clientCA.Write(t, dir, "clients")})
		if err != nil {
			t.Fatal(err)
		}
		cfg.TLS = rl
	}
	srv, _, stop, err := server.Start(context.Background(), cfg, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	n.srv, n.addr = srv, srv.KafkaAddr()
	return n
}

func (n *secureNode) tlsConfig(client *tlsconfigtest.Issued) *tls.Config {
	c := &tls.Config{RootCAs: n.ca.Pool(), ServerName: "127.0.0.1"}
	if client != nil {
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &client.TLS, nil }
	}
	return c
}

// roundTrip produces a record to topic and reads it back with a client
// made with opts.
func roundTrip(t *testing.T, n *secureNode, topic string, opts ...kgo.Opt) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := n.srv.Broker.CreateTopic(ctx, topic, 1, nil); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(n.addr), kgo.RetryTimeout(5 * time.Second),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("v-" + topic)}).FirstErr(); err != nil {
		return err
	}
	fs := cl.PollFetches(ctx)
	if err := fs.Err(); err != nil {
		return err
	}
	if recs := fs.Records(); len(recs) != 1 || string(recs[0].Value) != "v-"+topic {
		t.Fatalf("read back %d records", len(recs))
	}
	return nil
}

func TestKgoSASL(t *testing.T) {
	mechs := map[string]sasl.Mechanism{
		"plain":         plain.Auth{User: "alice", Pass: "alice-pw"}.AsMechanism(),
		"scram-sha-256": scram.Auth{User: "alice", Pass: "alice-pw"}.AsSha256Mechanism(),
		"scram-sha-512": scram.Auth{User: "alice", Pass: "alice-pw"}.AsSha512Mechanism(),
	}
	for _, useTLS := range []bool{false, true} {
		n := startSecureNode(t, useTLS)
		for name, m := range mechs {
			t.Run(fmt.Sprintf("%s/tls=%v", name, useTLS), func(t *testing.T) {
				opts := []kgo.Opt{kgo.SASL(m)}
				if useTLS {
					opts = append(opts, kgo.DialTLSConfig(n.tlsConfig(nil)))
				}
				if err := roundTrip(t, n, strings.ReplaceAll(name, "-", "")+fmt.Sprint(useTLS), opts...); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// refused sends one Metadata request with a client made with opts and
// returns its error: what a refused client sees.
func refused(t *testing.T, n *secureNode, opts ...kgo.Opt) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(n.addr), kgo.RequestRetries(0), kgo.RetryTimeout(time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	_, err = kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	return err
}

func TestKgoSASLWrongPassword(t *testing.T) {
	n := startSecureNode(t, false)
	before := n.auth.Failures()
	for _, m := range []sasl.Mechanism{
		plain.Auth{User: "alice", Pass: "wrong"}.AsMechanism(),
		scram.Auth{User: "alice", Pass: "wrong"}.AsSha256Mechanism(),
		scram.Auth{User: "nobody", Pass: "wrong"}.AsSha512Mechanism(),
	} {
		err := refused(t, n, kgo.SASL(m))
		t.Logf("%s with a wrong password: %v", m.Name(), err)
		if err == nil || !strings.Contains(err.Error(), "SASL_AUTHENTICATION_FAILED") || !strings.Contains(err.Error(), "invalid credentials") {
			t.Errorf("%s with a wrong password: %v; want SASL_AUTHENTICATION_FAILED and invalid credentials", m.Name(), err)
		}
	}
	if n.auth.Failures() <= before {
		t.Error("failures not counted")
	}
	// No SASL at all: the first request past ApiVersions closes the
	// connection.
	if err := refused(t, n); err == nil {
		t.Error("an unauthenticated client produced")
	}
}

// TestKgoMutualTLS: a client certificate from the client CA authenticates
// without SASL; no certificate, one from another CA, or an expired one
// does not.
func TestKgoMutualTLS(t *testing.T) {
	n := startSecureNode(t, true)
	if err := roundTrip(t, n, "mtls", kgo.DialTLSConfig(n.tlsConfig(n.clientCA.Client(t, "alice")))); err != nil {
		t.Fatalf("with alice's certificate: %v", err)
	}
	other := tlsconfigtest.NewCA(t, "other")
	before, beforeCert := n.auth.Failures(), n.auth.FailuresOf(auth.FailBadCertificate)
	for name, cert := range map[string]*tlsconfigtest.Issued{
		"none":     nil,
		"other CA": other.Client(t, "alice"),
		"expired":  n.clientCA.ExpiredClient(t, "alice"),
	} {
		if err := refused(t, n, kgo.DialTLSConfig(n.tlsConfig(cert))); err == nil {
			t.Errorf("certificate %s: produced", name)
		}
	}
	// The refused certificates are failed logins of kind bad_certificate
	// (kgo may retry a dial: at least one each); no certificate is not.
	// The listener counts a refusal after the client has seen it: wait.
	for deadline := time.Now().Add(10 * time.Second); n.auth.FailuresOf(auth.FailBadCertificate)-beforeCert < 2 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if got := n.auth.FailuresOf(auth.FailBadCertificate) - beforeCert; got < 2 || n.auth.Failures()-before != got {
		t.Errorf("%d bad_certificate failed logins of %d in all for the other CA's and the expired certificate, want at least 2 and no other kind",
			got, n.auth.Failures()-before)
	}
	// TLS without trusting the server's CA fails on the client side.
	bad := &tls.Config{RootCAs: other.Pool(), ServerName: "127.0.0.1"}
	if err := refused(t, n, kgo.DialTLSConfig(bad), kgo.SASL(plain.Auth{User: "alice", Pass: "alice-pw"}.AsMechanism())); err == nil {
		t.Error("a client that does not trust the server's certificate produced")
	}
}

// TestKcatSASLSSL: kcat (librdkafka) over TLS with SASL SCRAM-SHA-256 and
// the CA file, producing and consuming.
func TestKcatSASLSSL(t *testing.T) {
	n := startSecureNode(t, true)
	if _, err := n.srv.Broker.CreateTopic(context.Background(), "kcat-sasl", 1, nil); err != nil {
		t.Fatal(err)
	}
	common := []string{"-b", n.addr, "-X", "security.protocol=SASL_SSL", "-X", "ssl.ca.location=" + n.caFile,
		"-X", "sasl.mechanisms=SCRAM-SHA-256", "-X", "sasl.username=alice", "-X", "sasl.password=alice-pw"}
	if _, errOut, err := kcat(t, "one\ntwo\n", append(common, "-P", "-t", "kcat-sasl")...); err != nil {
		t.Fatalf("kcat -P: %v\n%s", err, errOut)
	}
	out, errOut, err := kcat(t, "", append(common, "-C", "-t", "kcat-sasl", "-o", "beginning", "-c", "2", "-e")...)
	if err != nil || out != "one\ntwo\n" {
		t.Fatalf("kcat -C: %q, %v\n%s", out, err, errOut)
	}
	wrong := append([]string(nil), common...)
	wrong[len(wrong)-1] = "sasl.password=nope"
	_, errOut, err = kcat(t, "", append(wrong, "-L", "-m", "5")...)
	if err == nil || !strings.Contains(errOut, "uthenticat") {
		t.Errorf("kcat with a wrong password: %v\n%s", err, errOut)
	}
}
