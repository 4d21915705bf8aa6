package main

import (
	"context"
	"strings"
	"testing"
)

// TestServeTransactionalIDExpiration: --transactional-id-expiration under
// a minute, or not a duration, is refused naming the flag; a server started
// with another expiration than Kafka's 7 days names it on its startup line.
func TestServeTransactionalIDExpiration(t *testing.T) {
	for _, v := range []string{"30s", "0", "-1h", "soon"} {
		code, _, errs := runCLI(context.Background(), "serve", "--data-dir", t.TempDir(), "--transactional-id-expiration", v)
		if code != 2 || !strings.Contains(errs, "transactional-id-expiration") {
			t.Errorf("--transactional-id-expiration %s: exit %d, stderr %q: want 2 and a message naming the flag", v, code, errs)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, _, logs := startServe(t, ctx, "--addr", "127.0.0.1:0", "--kafka-addr", "", "--data-dir", t.TempDir(), "--fsync", "never",
		"--transactional-id-expiration", "2h")
	if !strings.Contains(logs.String(), "transactional_id_expiration=2h0m0s") {
		t.Errorf("startup line does not name the expiration:\n%s", logs)
	}
}
