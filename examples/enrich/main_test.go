package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice/sluicetest"
)

// TestDemo runs the example against an in-process node and checks every
// enriched order exactly.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := sluicetest.Start(t)
	var out bytes.Buffer
	if err := run(ctx, srv.Conn, &out, true); err != nil {
		t.Fatal(err)
	}
	want := `o1 ada "Ada Lovelace" gold 1200
o2 bob "Bob Kahn" silver 800
o3 zed "" unknown 50
o4 ada "Ada Lovelace" gold 4300
`
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}
