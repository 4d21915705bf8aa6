package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// waitGroupEmpty polls until the group has no members: a consumer that
// exits leaves as soon as the server sees its stream close.
func waitGroupEmpty(t *testing.T, addr, group string) {
	t.Helper()
	c := brokerv1connect.NewGroupServiceClient(httpClient(), addr)
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := c.DescribeGroup(context.Background(), connect.NewRequest(&brokerv1.DescribeGroupRequest{Group: group}))
		if err == nil && len(res.Msg.GetMembers()) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s still has members (%v)", group, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestGroupCommands(t *testing.T) {
	tr := &btTranscript{t: t, addr: btServer(t)}
	tr.run("", "topic", "create", "orders", "--partitions", "2")
	tr.run("", "produce", "orders", "a", "b", "c", "--partition", "0")
	tr.run("", "produce", "orders", "d", "e", "--partition", "1")
	tr.run("", "group", "list")
	tr.run("", "consume", "orders", "--group", "g", "--from", "earliest", "--max", "3")
	waitGroupEmpty(t, tr.addr, "g")
	tr.run("", "group", "describe", "g")
	tr.run("", "group", "describe", "g", "--output", "json")
	tr.run("", "group", "list")
	tr.run("", "consume", "orders", "--group", "g", "--from", "earliest", "--max", "2")
	waitGroupEmpty(t, tr.addr, "g")
	tr.run("", "group", "describe", "g")
	tr.run("", "group", "reset", "g", "--topic", "orders", "--to-earliest")
	tr.run("", "group", "reset", "g", "--topic", "orders", "--to-offset", "9")
	tr.run("", "group", "reset", "g", "--topic", "orders", "--to-latest", "--partitions", "1", "--output", "json")
	tr.run("", "group", "delete", "g")
	tr.run("", "group", "describe", "g")
	tr.run("", "group", "delete", "g")
	tr.run("", "group", "list", "--output", "json")
	tr.check("group.golden")
}

func TestGroupUsageErrors(t *testing.T) {
	tr := &btTranscript{t: t, addr: "http://127.0.0.1:1"}
	for _, args := range [][]string{
		{"group"},
		{"group", "frobnicate"},
		{"group", "list", "extra"},
		{"group", "describe"},
		{"group", "reset", "g"},
		{"group", "reset", "g", "--topic", "t"},
		{"group", "reset", "g", "--topic", "t", "--to-earliest", "--to-latest"},
		{"group", "reset", "g", "--topic", "t", "--to-earliest", "--partitions", "x"},
		{"group", "reset", "g", "--topic", "t", "--to-datetime", "yesterday"},
		{"consume", "t", "--group", "g", "--from", "3"},
		{"consume", "t", "--group", "g", "--partition", "0"},
	} {
		if _, code := tr.run("", args...); code != 2 {
			t.Errorf("sluice %v: exit %d, want 2", args, code)
		}
	}
}

// TestConsumeGroupInterruptCommits interrupts `consume --group` and checks
// that it exits 0 having committed what it printed, and that a restart
// resumes right after it: no record skipped, none repeated.
func TestConsumeGroupInterruptCommits(t *testing.T) {
	addr := btServer(t)
	tr := &btTranscript{t: t, addr: addr}
	tr.run("", "topic", "create", "orders", "--partitions", "1")
	tr.run("", "produce", "orders", "a", "b", "c")
	ctx, cancel := context.WithCancel(context.Background())
	lines := newBtLines()
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"consume", "orders", "--group", "g", "--from", "earliest", "--addr", addr}, strings.NewReader(""), lines, &errb)
	}()
	var got []string
	for len(got) < 3 {
		select {
		case l := <-lines.lines:
			got = append(got, l)
		case <-time.After(20 * time.Second):
			t.Fatalf("printed only %q", got)
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("interrupted consume exited %d: %s", code, errb.String())
	}
	waitGroupEmpty(t, addr, "g")
	tr.run("", "produce", "orders", "d")
	out, code := tr.run("", "consume", "orders", "--group", "g", "--from", "earliest", "--max", "1")
	if code != 0 || !strings.Contains(out, "offset=3 ") || !strings.Contains(out, "value=d") {
		t.Fatalf("restarted consumer printed %q (exit %d), want offset 3 value d", out, code)
	}
}

// TestBenchConsumeGroup reads a backlog as a group of 3 and checks that
// every record is counted once.
func TestBenchConsumeGroup(t *testing.T) {
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := []string{"bench", "consume", "--in-process", "--fsync", "never", "--backlog", "3000", "--duration", "30s",
		"--partitions", "6", "--consumers", "3", "--record-bytes", "100", "--group", "bg"}
	if code := run(ctx, args, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "consume: 3000 records in ") || !strings.Contains(out.String(), "group bg: ") {
		t.Fatalf("summary does not count the 3000 records once:\n%s", out.String())
	}
	rows := runBenchTSV(t, append(args[1:], "--name", "grp")...)
	if rows["grp_records_per_s"] <= 0 || rows["grp_MBps"] <= 0 {
		t.Errorf("rows %v", rows)
	}
}
