package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice/sluicetest"
)

// TestDemo runs the example against an in-process node and checks the
// totals exactly: one per customer and minute, late order included.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := sluicetest.Start(t)
	var out bytes.Buffer
	if err := run(ctx, srv.Conn, &out, true); err != nil {
		t.Fatal(err)
	}
	want := `ada [12:00, 12:01) 3 orders, 4200 cents
bob [12:00, 12:01) 1 orders, 1500 cents
bob [12:01, 12:02) 1 orders, 3000 cents
cyd [12:01, 12:02) 1 orders, 4200 cents
`
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}
