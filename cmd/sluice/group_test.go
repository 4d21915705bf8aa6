package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// requireGroupEmpty fails the test unless the group has no members now:
// `sluice consume --group` leaves the group before it exits, so there is
// nothing to wait for.
func requireGroupEmpty(t *testing.T, addr, group string) {
	t.Helper()
	c := brokerv1connect.NewGroupServiceClient(httpClient(), addr)
	res, err := c.DescribeGroup(context.Background(), connect.NewRequest(&brokerv1.DescribeGroupRequest{Group: group}))
	if err != nil {
		t.Fatalf("describe group %s: %v", group, err)
	}
	if n := len(res.Msg.GetMembers()); n > 0 {
		t.Fatalf("group %s still has %s after the consumer exited", group, plural(n, "member"))
	}
}

// gtHoldingProxy forwards to addr, except that a client going away from a
// Consume stream is not passed on: the stream stays open upstream (as
// behind a proxy that keeps idle upstream streams) until the server ends
// it or the test ends. The server then never learns that the consumer
// left unless the consumer says so.
func gtHoldingProxy(t *testing.T, addr string) string {
	t.Helper()
	target, err := url.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.FlushInterval = -1
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/Consume") {
			// Read the request (one message, then EOF) before forwarding it.
			// The upstream transport reads it as it sends, and this
			// HTTP/1.1 server closes the body once the response headers go
			// back: a read that comes after that fails, and the transport
			// then drops the upstream stream, which the server sees as the
			// consumer leaving.
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
			ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
			defer cancel()
			go func() {
				select {
				case <-done:
					cancel()
				case <-ctx.Done():
				}
			}()
			r = r.WithContext(ctx)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		close(done)
		srv.Close()
	})
	return srv.URL
}

// TestConsumeGroupLeavesOnExit: `consume --group --max` has left the
// group when it exits, even where the server does not see its stream
// close; the next member gets the partition at once.
func TestConsumeGroupLeavesOnExit(t *testing.T) {
	addr := btServer(t)
	tr := &btTranscript{t: t, addr: addr}
	tr.run("", "topic", "create", "orders", "--partitions", "1")
	tr.run("", "produce", "orders", "a", "b", "c")
	proxy := gtHoldingProxy(t, addr)
	var out, errb bytes.Buffer
	args := []string{"consume", "orders", "--group", "g", "--from", "earliest", "--max", "2", "--addr", proxy}
	if code := run(context.Background(), args, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	// Stderr first: a skipped commit (which would leave the group with
	// neither members nor offsets) says why there.
	if errb.Len() > 0 {
		t.Errorf("stderr: %s", errb.String())
	}
	requireGroupEmpty(t, addr, "g")
	got, code := tr.run("", "consume", "orders", "--group", "g", "--max", "1")
	if code != 0 || !strings.Contains(got, "offset=2 ") {
		t.Errorf("next member printed %q (exit %d), want offset 2", got, code)
	}
}

func TestGroupCommands(t *testing.T) {
	tr := &btTranscript{t: t, addr: btServer(t)}
	tr.run("", "topic", "create", "orders", "--partitions", "2")
	tr.run("", "produce", "orders", "a", "b", "c", "--partition", "0")
	tr.run("", "produce", "orders", "d", "e", "--partition", "1")
	tr.run("", "group", "list")
	tr.run("", "consume", "orders", "--group", "g", "--from", "earliest", "--max", "3")
	requireGroupEmpty(t, tr.addr, "g")
	tr.run("", "group", "describe", "g")
	tr.run("", "group", "describe", "g", "--output", "json")
	tr.run("", "group", "list")
	tr.run("", "consume", "orders", "--group", "g", "--from", "earliest", "--max", "2")
	requireGroupEmpty(t, tr.addr, "g")
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
	requireGroupEmpty(t, addr, "g")
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
