package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/sluicetest"
)

// TestTour runs the example against an in-process node.
func TestTour(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := sluicetest.Start(t)
	var out bytes.Buffer
	if err := run(ctx, srv.Conn, &out, 5); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "billed 5 orders, 5010 cents") || strings.Count(out.String(), "placed ") != 5 {
		t.Errorf("output:\n%s", out.String())
	}
}
