package main

import (
	"flag"
	"testing"
)

func TestTopicCommands(t *testing.T) {
	tr := &btTranscript{t: t, addr: btServer(t)}
	tr.run("", "topic", "create", "orders", "--partitions", "3", "--config", "retention.ms=3600000", "--config", "cleanup.policy=compact")
	tr.run("", "topic", "create", "orders")
	tr.run("", "topic", "create", "bad/name")
	tr.run("", "topic", "create", "x", "--config", "colour=blue")
	tr.run("", "topic", "create", "audit", "--output", "json")
	tr.run("", "topic", "list")
	tr.run("", "topic", "list", "--output", "json")
	tr.run("", "topic", "describe", "orders")
	tr.run("", "topic", "alter", "orders", "--set", "max.message.bytes=2048", "--delete", "cleanup.policy")
	tr.run("", "topic", "alter", "orders", "--set", "segment.bytes=12")
	tr.run("", "topic", "describe", "orders", "--output", "json")
	tr.run("", "topic", "delete", "orders")
	tr.run("", "topic", "describe", "orders")
	tr.run("", "topic", "delete", "audit", "--output", "json")
	tr.run("", "topic", "list")
	tr.check("topic.golden")
}

func TestTopicUsageErrors(t *testing.T) {
	tr := &btTranscript{t: t, addr: "http://127.0.0.1:1"}
	for _, args := range [][]string{
		{"topic"},
		{"topic", "create"},
		{"topic", "list", "extra"},
		{"topic", "frobnicate", "x"},
		{"topic", "alter", "x"},
		{"topic", "describe", "x", "--output", "yaml"},
	} {
		if _, code := tr.run("", args...); code != 2 {
			t.Errorf("sluice %v: exit %d, want 2", args, code)
		}
	}
}

func TestParseArgsIntersperses(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	n := fs.Int("n", 0, "")
	pos, _, ok := parseArgs(fs, []string{"a", "-n", "3", "b", "--", "-c", "d"})
	if !ok || *n != 3 || len(pos) != 4 || pos[0] != "a" || pos[1] != "b" || pos[2] != "-c" || pos[3] != "d" {
		t.Fatalf("got %v n=%d ok=%v", pos, *n, ok)
	}
}
