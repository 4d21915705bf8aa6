package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/sluicehq/sluice/internal/pgmeta"
	"github.com/sluicehq/sluice/internal/pgtest"
)

// runCLI runs a sluice command line in process.
func runCLI(ctx context.Context, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(ctx, args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// TestClusterStatusCLI runs two `sluice serve --meta … --objects file://…`
// on one PostgreSQL and asks each for `sluice cluster status`.
func TestClusterStatusCLI(t *testing.T) {
	meta := pgtest.DB(t)
	objects := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctxB, cancelB := context.WithCancel(ctx)
	defer cancelB()
	addrA, doneA, logA := startServe(t, ctx, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--fsync", "never", "--meta", meta, "--node-id", "a", "--objects", "file://"+objects)
	addrB, doneB, logB := startServe(t, ctxB, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--fsync", "never", "--meta", meta, "--node-id", "b", "--objects", "file://"+objects)
	if code, _, errs := runCLI(ctx, "topic", "create", "orders", "--partitions", "2", "--addr", "http://"+addrA); code != 0 {
		t.Fatalf("topic create: exit %d: %s", code, errs)
	}

	code, out, errs := runCLI(ctx, "cluster", "status", "--addr", "http://"+addrB)
	t.Logf("sluice cluster status on b:\n%s", out)
	if code != 0 {
		t.Fatalf("cluster status on b: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"as node b sees it",
		"b (this node)",
		"http://" + addrA,
		"reachable, PostgreSQL 1",
		"Object store file://" + objects + ": healthy",
		"Shared log: enabled", // --objects: every node serves every topic
		"orders",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("cluster status on b lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, " alive ") != 2 {
		t.Errorf("want two alive nodes:\n%s", out)
	}

	code, out, errs = runCLI(ctx, "cluster", "status", "--addr", "http://"+addrA, "--output", "json")
	if code != 0 {
		t.Fatalf("cluster status --output json: exit %d: %s", code, errs)
	}
	var st struct {
		Cluster bool   `json:"cluster"`
		NodeID  string `json:"node_id"`
		Nodes   []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"nodes"`
		ObjectStore struct {
			Healthy bool `json:"healthy"`
		} `json:"object_store"`
		Partitions []struct {
			Topic         string `json:"topic"`
			HighWatermark string `json:"high_watermark"`
		} `json:"partitions"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("--output json: %v\n%s", err, out)
	}
	if !st.Cluster || st.NodeID != "a" || len(st.Nodes) != 2 || st.Nodes[1].State != "NODE_STATE_ALIVE" || !st.ObjectStore.Healthy ||
		len(st.Partitions) != 2 || st.Partitions[0].HighWatermark != "0" {
		t.Errorf("--output json = %+v\n%s", st, out)
	}

	// A node that joined once and has not beaten for an hour, without a
	// clean stop, is not responding: the status says so and exits 1.
	pool, err := pgmeta.Open(ctx, meta)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `INSERT INTO cluster_nodes (node_id, started_at, heartbeat_at) VALUES ('ghost', now() - interval '2 hours', now() - interval '1 hour')`); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(ctx, "cluster", "status", "--addr", "http://"+addrA)
	if code != 1 || !strings.Contains(out, "ghost") || !strings.Contains(out, "NOT RESPONDING") {
		t.Errorf("cluster status with a lost node: exit %d, want 1 and NOT RESPONDING\n%s", code, out)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM cluster_nodes WHERE node_id = 'ghost'`); err != nil {
		t.Fatal(err)
	}

	// Node b stops cleanly: a reports it stopped, and that is healthy.
	cancelB()
	waitServe(t, doneB, logB)
	code, out, errs = runCLI(ctx, "cluster", "status", "--addr", "http://"+addrA)
	if code != 0 || !strings.Contains(out, " stopped ") {
		t.Errorf("cluster status after b stopped: exit %d\n%s%s", code, out, errs)
	}
	cancel()
	waitServe(t, doneA, logA)
}

func waitServe(t *testing.T, done <-chan int, log *syncBuffer) {
	t.Helper()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited with %d:\n%s", code, log.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s")
	}
}

// An embedded node answers too, saying it is not a cluster.
func TestClusterStatusCLIEmbedded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done, log := startServe(t, ctx, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--fsync", "never")
	if code, _, errs := runCLI(ctx, "topic", "create", "events", "--addr", "http://"+addr); code != 0 {
		t.Fatalf("topic create: exit %d: %s", code, errs)
	}
	code, out, errs := runCLI(ctx, "cluster", "status", "--addr", "http://"+addr)
	if code != 0 || !strings.Contains(out, "Embedded node, not a cluster") || !strings.Contains(out, "events") || strings.Contains(out, "Nodes:") {
		t.Errorf("cluster status on an embedded node: exit %d\n%s%s", code, out, errs)
	}
	cancel()
	waitServe(t, done, log)
}

func TestClusterStatusCLIErrors(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"cluster"}, 2, "Usage: sluice cluster status"},
		{[]string{"cluster", "nodes"}, 2, `unknown subcommand "nodes"`},
		{[]string{"cluster", "status", "extra"}, 2, `takes flags only`},
		{[]string{"cluster", "status", "--addr", "http://127.0.0.1:1"}, 1, "no server"},
	} {
		code, out, errs := runCLI(ctx, c.args...)
		if code != c.code || !strings.Contains(out+errs, c.want) {
			t.Errorf("%v: exit %d\n%s%s\nwant exit %d and %q", c.args, code, out, errs, c.code, c.want)
		}
	}
}

// --objects needs --meta, and must name a usable store; both are refused
// before anything starts.
func TestServeObjectsFlag(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--objects", "file:///tmp"}, "--objects needs --meta"},
		{[]string{"--meta", "postgres://u@127.0.0.1:1/db", "--node-id", "a", "--objects", "ftp://x"}, `unknown scheme "ftp"`},
		{[]string{"--meta", "postgres://u@127.0.0.1:1/db", "--node-id", "a", "--objects", "file://" + missing}, "does not exist"},
		{[]string{"--meta", "postgres://u@127.0.0.1:1/db", "--node-id", "a", "--objects", "file://" + file}, "not a directory"},
		{[]string{"--meta", "postgres://u@127.0.0.1:1/db", "--node-id", "a", "--objects", "s3://b?endpoint=http://h"}, "bucket"},
	} {
		var stderr bytes.Buffer
		e := &env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &stderr, getenv: func(string) string { return "" }}
		args := append([]string{"--addr", "127.0.0.1:0", "--kafka-addr", "", "--data-dir", t.TempDir()}, tc.args...)
		code := runServe(context.Background(), e, args)
		if code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("serve %v: exit %d, stderr:\n%s\nwant exit 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

// serve --objects s3://… against an S3 service on loopback (gofakes3): the
// node probes the bucket at start, the status shows it healthy, and the
// secret key appears neither in the status nor in the node's logs.
func TestServeObjectsS3(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("sluice-objects"); err != nil {
		t.Fatal(err)
	}
	s3 := httptest.NewServer(gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	defer s3.Close()
	meta := pgtest.DB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	objects := "s3://sluice-objects/cluster-1?endpoint=" + s3.URL + "&region=us-east-1&path-style=true&access-key-id=AKID&secret-access-key=TOPSECRET"
	addr, done, log := startServe(t, ctx, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--fsync", "never", "--meta", meta, "--node-id", "a", "--objects", objects)
	code, out, errs := runCLI(ctx, "cluster", "status", "--addr", "http://"+addr)
	want := "Object store s3://sluice-objects/cluster-1?endpoint=" + url.QueryEscape(s3.URL) + ": healthy"
	if code != 0 || !strings.Contains(out, want) {
		t.Errorf("cluster status: exit %d, want %q\n%s%s", code, want, out, errs)
	}
	cancel()
	waitServe(t, done, log)
	if strings.Contains(out, "TOPSECRET") || strings.Contains(log.String(), "TOPSECRET") {
		t.Errorf("the secret key was shown:\n%s\n%s", out, log.String())
	}
	if !strings.Contains(log.String(), `msg="object store ready"`) {
		t.Errorf("no log line for the object store:\n%s", log.String())
	}
}
