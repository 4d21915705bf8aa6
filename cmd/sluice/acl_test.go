package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluicehq/sluice/auth"
	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/server"
)

// aclAuthFile: alice (superuser) and bob, passwords alice-pw and bob-pw,
// bcrypt (quick to check), made once.
var aclAuthFile = sync.OnceValue(func() string {
	var b strings.Builder
	b.WriteString("users:\n")
	for _, u := range []string{"alice", "bob"} {
		e, err := auth.UserEntry(u, u+"-pw", true)
		if err != nil {
			panic(err)
		}
		b.WriteString("  " + strings.ReplaceAll(strings.TrimSuffix(e, "\n"), "\n", "\n  ") + "\n")
	}
	b.WriteString("superusers: [alice]\n")
	return b.String()
})

// aclServer runs a node with authentication (so ACLs are enforced) and the
// Kafka listener; it returns the node and its URL.
func aclServer(t *testing.T) (*server.Server, string) {
	t.Helper()
	f, err := auth.ParseFile("test", []byte(aclAuthFile()))
	if err != nil {
		t.Fatal(err)
	}
	never, err := broker.ParseFsyncPolicy("never")
	if err != nil {
		t.Fatal(err)
	}
	s, url, stop, err := server.Start(context.Background(), server.Config{
		DataDir:   t.TempDir(),
		Fsync:     never,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Auth:      auth.New(f, auth.Options{}),
		KafkaAddr: "127.0.0.1:0",
	}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return s, url
}

func TestACLCommands(t *testing.T) {
	_, url := aclServer(t)
	tr := &btTranscript{t: t, addr: url}
	as := func(user string, args ...string) []string {
		return append(args, "--user", user, "--password", user+"-pw")
	}
	tr.run("", as("alice", "acl", "list")...)
	tr.run("", as("alice", "acl", "create", "--principal", "bob", "--topic", "orders", "--operation", "write,read")...)
	tr.run("", as("alice", "acl", "create", "--principal", "*", "--topic", "audit-", "--prefix", "--operation", "read", "--deny")...)
	tr.run("", as("alice", "acl", "create", "--principal", "bob", "--subject", "orders-value", "--operation", "all", "--output", "json")...)
	tr.run("", as("alice", "acl", "create", "--principal", "ops", "--cluster", "--operation", "alter")...)
	tr.run("", as("alice", "acl", "list")...)
	tr.run("", as("alice", "acl", "list", "--principal", "bob", "--output", "json")...)
	tr.run("", as("alice", "acl", "list", "--topic", "audit-log", "--match")...)
	tr.run("", as("alice", "acl", "list", "--deny")...)
	tr.run("", as("bob", "acl", "list")...)
	tr.run("", as("bob", "acl", "create", "--principal", "bob", "--cluster", "--operation", "alter")...)
	tr.run("", as("alice", "acl", "delete", "--principal", "bob", "--topic", "orders", "--operation", "write")...)
	tr.run("", as("alice", "acl", "delete")...)
	tr.run("", as("alice", "acl", "delete", "--all")...)
	tr.run("", as("alice", "acl", "list")...)
	tr.check("acl.golden")
}

func TestACLUsageErrors(t *testing.T) {
	tr := &btTranscript{t: t, addr: "http://127.0.0.1:1"}
	for _, args := range [][]string{
		{"acl"},
		{"acl", "frobnicate"},
		{"acl", "list", "extra"},
		{"acl", "create"},
		{"acl", "create", "--principal", "bob", "--topic", "t"},
		{"acl", "create", "--principal", "bob", "--operation", "read"},
		{"acl", "create", "--topic", "t", "--operation", "read"},
		{"acl", "create", "--principal", "bob", "--topic", "t", "--group", "g", "--operation", "read"},
		{"acl", "create", "--principal", "bob", "--topic", "t", "--operation", "fly"},
		{"acl", "create", "--principal", "bob", "--topic", "t", "--operation", "read", "--match"},
		{"acl", "list", "--prefix", "--match", "--topic", "t"},
		{"acl", "list", "--allow", "--deny"},
		{"acl", "list", "--operation", "read,write"},
		{"acl", "list", "--all"},
		{"acl", "delete"},
		{"acl", "delete", "--all", "--principal", "bob"},
	} {
		if _, code := tr.run("", args...); code != 2 {
			t.Errorf("sluice %v: exit %d, want 2", args, code)
		}
	}
}

// TestACLCreateAllowsKafkaProduce: bob's produce over Kafka (SASL PLAIN) is
// refused and writes nothing until `sluice acl create` allows it.
func TestACLCreateAllowsKafkaProduce(t *testing.T) {
	s, url := aclServer(t)
	ctx := context.Background()
	if _, err := s.Broker.CreateTopic(ctx, "orders", 1, nil); err != nil {
		t.Fatal(err)
	}
	// PLAIN, as kcat and most clients log in; -short (the -race run of
	// .ci/run) uses SCRAM, whose server side is an HMAC rather than a
	// password hash that takes seconds under the race detector.
	mech := plain.Auth{User: "bob", Pass: "bob-pw"}.AsMechanism()
	if testing.Short() {
		mech = scram.Auth{User: "bob", Pass: "bob-pw"}.AsSha256Mechanism()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.KafkaAddr()), kgo.SASL(mech))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	hwm := func() int64 {
		info, err := s.Broker.DescribeTopic("orders")
		if err != nil {
			t.Fatal(err)
		}
		return info.Partitions[0].HighWatermark
	}
	err = cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("refused")}).FirstErr()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce without an ACL: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	if got := hwm(); got != 0 {
		t.Fatalf("refused produce moved the high watermark to %d", got)
	}
	var out, errb strings.Builder
	if code := run(ctx, []string{"acl", "create", "--principal", "bob", "--topic", "orders", "--operation", "write",
		"--addr", url, "--user", "alice", "--password", "alice-pw"}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("sluice acl create: exit %d: %s", code, errb.String())
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("allowed")}).FirstErr(); err != nil {
		t.Fatalf("produce after sluice acl create: %v", err)
	}
	if got := hwm(); got != 1 {
		t.Fatalf("high watermark %d, want 1", got)
	}
}
