package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/server"
)

func TestProduceConsumeCommands(t *testing.T) {
	tr := &btTranscript{t: t, addr: btServer(t)}
	tr.run("", "topic", "create", "events", "--partitions", "2")
	tr.run("", "produce", "events", "hello", "world", "--key", "foobar")
	tr.run("", "produce", "events", "--partition", "1", "--header", "src=cli", "--header", "n=1", "tagged")
	tr.run("", "produce", "events", "--key", "", "empty key", "--output", "json")
	tr.run("a\nb\nc\nd\n", "produce", "events")
	tr.run("x\ny\nz", "produce", "events", "--partition", "0", "--batch-records", "2", "--output", "json")
	tr.run("", "produce", "events", "--partition", "5", "nope")
	tr.run("", "produce", "missing", "v")
	tr.run("v\n", "produce", "missing")
	tr.run("one\n", "produce", "events", "--partition", "1")
	// A batch refused after one was written: the summary says what was.
	tr.run("", "topic", "create", "small", "--config", "max.message.bytes=200")
	tr.run("ok\n"+strings.Repeat("x", 300)+"\n", "produce", "small", "--batch-records", "1")
	tr.run("", "consume", "events")
	tr.run("", "consume", "events", "--partition", "1", "--output", "json")
	tr.run("", "consume", "events", "--partition", "0", "--from", "2", "--max", "2")
	tr.run("", "consume", "events", "--from", "latest")
	tr.run("", "consume", "events", "--from", "99")
	tr.run("", "consume", "missing")
	tr.check("produce_consume.golden")
}

func TestProduceConsumeUsageErrors(t *testing.T) {
	tr := &btTranscript{t: t, addr: "http://127.0.0.1:1"}
	for _, args := range [][]string{
		{"produce"},
		{"produce", "t", "--batch-records", "0"},
		{"consume"},
		{"consume", "a", "b"},
		{"consume", "t", "--from", "yesterday"},
		{"consume", "t", "--max", "-1"},
	} {
		if _, code := tr.run("", args...); code != 2 {
			t.Errorf("sluice %v: exit %d, want 2", args, code)
		}
	}
}

// TestConsumeFollow streams with --follow, sees records produced while it
// runs, and exits 0 when interrupted.
func TestConsumeFollow(t *testing.T) {
	addr := btServer(t)
	tr := &btTranscript{t: t, addr: addr}
	tr.run("", "topic", "create", "live", "--partitions", "2")
	tr.run("", "produce", "live", "--partition", "0", "before")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := newBtLines()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"consume", "live", "--follow", "--addr", addr}, strings.NewReader(""), out, &stderr)
	}()
	if got := out.next(t); got != "partition=0 offset=0 key=<null> value=before" {
		t.Fatalf("first line %q", got)
	}
	tr.run("", "produce", "live", "--partition", "1", "after")
	if got := out.next(t); got != "partition=1 offset=0 key=<null> value=after" {
		t.Fatalf("second line %q", got)
	}
	cancel() // what Ctrl-C does through signal.NotifyContext
	if code := <-done; code != 0 {
		t.Fatalf("exit %d after interrupt; stderr: %s", code, stderr.String())
	}
}

// TestConsumeFollowMax stops after --max records.
func TestConsumeFollowMax(t *testing.T) {
	addr := btServer(t)
	tr := &btTranscript{t: t, addr: addr}
	tr.run("", "topic", "create", "t")
	tr.run("", "produce", "t", "1", "2", "3")
	out, code := tr.run("", "consume", "t", "--follow", "--max", "2", "--output", "json")
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(out, `"value":"2"`) {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
}

func TestTextBytes(t *testing.T) {
	tests := []struct {
		in   []byte
		want string
	}{
		{nil, "<null>"},
		{[]byte{}, `""`},
		{[]byte("plain text"), "plain text"},
		{[]byte("tab\there"), `"tab\there"`},
		{[]byte{0xff, 0x00}, `"\xff\x00"`},
		{[]byte("<null>"), `"<null>"`},
	}
	for _, tt := range tests {
		if got := textBytes(tt.in); got != tt.want {
			t.Errorf("textBytes(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestConsumeFollowEndsOnServerShutdown: a server shutting down ends follow
// streams instead of waiting for them, and consume reports it.
func TestConsumeFollowEndsOnServerShutdown(t *testing.T) {
	never, _ := broker.ParseFsyncPolicy("never")
	_, addr, stop, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir(), Fsync: never}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := &btTranscript{t: t, addr: addr}
	tr.run("", "topic", "create", "t")
	tr.run("", "produce", "t", "x")
	out := newBtLines()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"consume", "t", "--follow", "--addr", addr}, strings.NewReader(""), out, &stderr)
	}()
	out.next(t) // the stream is up
	if err := stop(); err != nil {
		t.Fatalf("server shutdown with a follower: %v", err)
	}
	if code := <-done; code != 1 || !strings.Contains(stderr.String(), "unavailable") {
		t.Fatalf("exit %d, stderr %q; want 1 and unavailable", code, stderr.String())
	}
}
