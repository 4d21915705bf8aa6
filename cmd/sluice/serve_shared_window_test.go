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
// 400ms (and --shared-merge-rate, which its startup line names) holds a produce's ack until its window has passed (the ack follows
// the window, the PUT and the commit; a lower bound, never an upper one),
// and serves the record.
func TestServeSharedWindow(t *testing.T) {
	meta := pgtest.DB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, _, logs := startServe(t, ctx, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--fsync", "never",
		"--meta", meta, "--node-id", "a", "--objects", "file://"+t.TempDir(), "--shared-window", "400ms", "--shared-merge-rate", "32MiB")
	url := "http://" + addr
	if !strings.Contains(logs.String(), "shared_merge_rate=32MiB") {
		t.Errorf("the startup line does not name the merge rate given:\n%s", logs)
	}
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

// TestParseMergeRate: --shared-merge-rate's values.
func TestParseMergeRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64 // 0: refused
	}{
		{"8MiB", 8 << 20},
		{"8MiB/s", 8 << 20},
		{"16MB", 16e6},
		{"0.5GiB", 1 << 29},
		{"1048576", 1 << 20},
		{"512kib", 512 << 10},
		{"none", -1},
		{"NONE", -1},
		{"0", 0},
		{"0MiB", 0},
		{"-1MiB", 0},
		{"8XB", 0},
		{"MiB", 0},
		{"", 0},
		{"1e3MB", 0},
	} {
		got, err := parseMergeRate(tc.in)
		if tc.want == 0 {
			if err == nil {
				t.Errorf("parseMergeRate(%q) = %d, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseMergeRate(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

// TestServeSharedMergeRateRefused: --shared-merge-rate is refused without
// --objects, and a value that is no rate, naming the flag.
func TestServeSharedMergeRateRefused(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--data-dir", t.TempDir(), "--shared-merge-rate", "16MiB"},
		{"serve", "--data-dir", t.TempDir(), "--shared-merge-rate", "fast", "--meta", "postgres://x@127.0.0.1:1/x", "--node-id", "a", "--objects", "file://" + t.TempDir()},
	} {
		code, _, errs := runCLI(context.Background(), args...)
		if code != 2 || !strings.Contains(errs, "--shared-merge-rate") {
			t.Fatalf("sluice %v: exit %d, stderr %q: want 2 and a message naming --shared-merge-rate", args, code, errs)
		}
	}
}
