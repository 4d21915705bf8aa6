package kafka_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/server"
)

// The test harness every Kafka test shares: a whole Sluice node
// (server: registry, broker, HTTP and the Kafka listener, started
// by server.Start with KafkaAddr 127.0.0.1:0) on a temporary data
// directory, plus franz-go clients. Addr is both the bootstrap and the
// advertised address.

// requireClientsEnv, when set (.ci/run sets it), makes a test whose Kafka
// client (kcat, python3-confluent-kafka, node with kafkajs) is missing fail
// instead of skipping, so that CI cannot pass without running them.
const requireClientsEnv = "SLUICE_REQUIRE_KAFKA_CLIENTS"

// missingClient skips t, saying which client is missing and how to install
// it; under requireClientsEnv it fails t instead.
func missingClient(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv(requireClientsEnv) != "" {
		t.Fatalf(format+"; failing, since %s is set (the Kafka client tests must run)", append(args, requireClientsEnv)...)
	}
	t.Skipf(format+"; skipping", args...)
}

// nodeConfig is what the options of startNode set.
type nodeConfig struct {
	dir        string
	durable    bool
	autoCreate bool
}

// nodeOption adjusts a test node.
type nodeOption func(*nodeConfig)

// withDataDir runs the node on dir (to restart on the same data).
func withDataDir(dir string) nodeOption { return func(c *nodeConfig) { c.dir = dir } }

// withDurable keeps the default fsync=always; tests otherwise run with
// fsync=never (durability has its own kill -9 tests).
func withDurable() nodeOption { return func(c *nodeConfig) { c.durable = true } }

// withAutoCreate turns on --kafka-auto-create-topics.
func withAutoCreate() nodeOption { return func(c *nodeConfig) { c.autoCreate = true } }

// node is one running test node.
type node struct {
	t testing.TB
	// Addr is the Kafka listener's address (the bootstrap and advertised
	// address); URL the HTTP base URL; Server the node.
	Addr   string
	URL    string
	Server *server.Server
	Dir    string
	stop   func() error
}

// startServer runs a node and returns its Kafka address, its HTTP base URL
// and the server; it stops when the test ends.
func startServer(t testing.TB, opts ...nodeOption) (kafkaAddr, httpBaseURL string, srv *server.Server) {
	n := startNode(t, opts...)
	return n.Addr, n.URL, n.Server
}

// startNode runs a node; Stop ends it early (to restart on its Dir).
func startNode(t testing.TB, opts ...nodeOption) *node {
	t.Helper()
	var nc nodeConfig
	for _, o := range opts {
		o(&nc)
	}
	if nc.dir == "" {
		nc.dir = t.TempDir()
	}
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sc := server.Config{DataDir: nc.dir, Logger: logger,
		KafkaAddr: "127.0.0.1:0", KafkaAutoCreateTopics: nc.autoCreate}
	if !nc.durable {
		p, err := broker.ParseFsyncPolicy("never")
		if err != nil {
			t.Fatal(err)
		}
		sc.Fsync = p
	}
	srv, url, stop, err := server.Start(context.Background(), sc, "127.0.0.1:0")
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	n := &node{t: t, Addr: srv.KafkaAddr(), URL: url, Server: srv, Dir: nc.dir, stop: stop}
	t.Cleanup(n.Stop)
	return n
}

// Stop shuts the listener and the node down gracefully; safe to call twice.
func (n *node) Stop() {
	if n.stop == nil {
		return
	}
	if err := n.stop(); err != nil {
		n.t.Errorf("stop node: %v", err)
	}
	n.stop = nil
}

// newClient returns a kgo client bootstrapped at addr, closed when the test
// ends. Its logs go to the test log at warn.
func newClient(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.WithLogger(kgo.BasicLogger(testWriter{t}, kgo.LogLevelWarn, nil)),
		kgo.RetryTimeout(10 * time.Second),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatalf("kgo client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// newAdmin returns a kadm client over a new kgo client.
func newAdmin(t testing.TB, addr string, opts ...kgo.Opt) *kadm.Client {
	t.Helper()
	return kadm.NewClient(newClient(t, addr, opts...))
}

// testCtx is a context that ends with the test or after 30 seconds.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testWriter sends logs to t.Log so that failures show them.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
