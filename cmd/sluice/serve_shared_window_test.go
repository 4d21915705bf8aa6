package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/internal/pgtest"
)

// TestServeSharedWindowRefused: --shared-window is refused without
// --objects, and when negative, with a message naming the flag.
func TestServeSharedWindowRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"without --objects", []string{"serve", "--data-dir", t.TempDir(), "--shared-window", "100ms"}},
		{"negative", []string{"serve", "--data-dir", t.TempDir(), "--shared-window", "-1s", "--meta", "postgres://x@127.0.0.1:1/x", "--node-id", "a", "--objects", "file://" + t.TempDir()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runCLI(context.Background(), tc.args...)
			if code != 2 || !strings.Contains(errs, "--shared-window") {
				t.Fatalf("exit %d, stderr %q: want 2 and a message naming --shared-window", code, errs)
			}
		})
	}
}

// TestServeSharedWindow: a cluster node started with --shared-window
// 400ms holds a produce's ack until its window has passed (the ack follows
// the window, the PUT and the commit; a lower bound, never an upper one),
// and serves the record.
func TestServeSharedWindow(t *testing.T) {
	meta := pgtest.DB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, _, logs := startServe(t, ctx, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--fsync", "never",
		"--meta", meta, "--node-id", "a", "--objects", "file://"+t.TempDir(), "--shared-window", "400ms")
	url := "http://" + addr
	if code, _, errs := runCLI(ctx, "topic", "create", "w", "--addr", url); code != 0 {
		t.Fatalf("topic create: exit %d: %s\n%s", code, errs, logs)
	}
	t0 := time.Now()
	if code, _, errs := runCLI(ctx, "produce", "w", "hello", "--addr", url); code != 0 {
		t.Fatalf("produce: exit %d: %s\n%s", code, errs, logs)
	}
	if took := time.Since(t0); took < 400*time.Millisecond {
		t.Fatalf("produce acked after %v, before the 400ms window could end", took)
	}
	code, out, errs := runCLI(ctx, "consume", "w", "--addr", url, "--from", "earliest", "--max", "1")
	if code != 0 || !strings.Contains(out, "hello") {
		t.Fatalf("consume: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// TestServeGroupLeaseTTL: --group-lease-ttl below a second is refused,
// naming the flag; a cluster node started with --group-lease-ttl 3s takes
// a group's lease for 3s, not the default 10s.
func TestServeGroupLeaseTTL(t *testing.T) {
	code, _, errs := runCLI(context.Background(), "serve", "--data-dir", t.TempDir(), "--group-lease-ttl", "100ms")
	if code != 2 || !strings.Contains(errs, "--group-lease-ttl") {
		t.Fatalf("exit %d, stderr %q: want 2 and a message naming --group-lease-ttl", code, errs)
	}

	meta := pgtest.DB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, _, logs := startServe(t, ctx, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--fsync", "never",
		"--meta", meta, "--node-id", "a", "--objects", "file://"+t.TempDir(), "--group-lease-ttl", "3s")
	url := "http://" + addr
	if code, _, errs := runCLI(ctx, "topic", "create", "l", "--addr", url); code != 0 {
		t.Fatalf("topic create: exit %d: %s\n%s", code, errs, logs)
	}
	if code, _, errs := runCLI(ctx, "produce", "l", "hello", "--addr", url); code != 0 {
		t.Fatalf("produce: exit %d: %s\n%s", code, errs, logs)
	}
	if code, _, errs := runCLI(ctx, "consume", "l", "--group", "g", "--max", "1", "--addr", url); code != 0 {
		t.Fatalf("consume --group g: exit %d: %s\n%s", code, errs, logs)
	}
	pool, err := pgxpool.New(ctx, meta)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// The lease was taken or renewed at most a TTL ago: what is left of it
	// is at most the TTL (3s), well under the default's 10s.
	var left float64
	if err := pool.QueryRow(ctx, `SELECT extract(epoch FROM expires_at - now())::float8 FROM group_leases WHERE group_id = 'g'`).Scan(&left); err != nil {
		t.Fatalf("group g's lease: %v\n%s", err, logs)
	}
	if left > 3.5 {
		t.Fatalf("group g's lease has %.1fs left: want at most the 3s of --group-lease-ttl", left)
	}
}
