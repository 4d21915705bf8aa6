package main

import (
	"context"
	"strings"
	"testing"
	"time"

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
