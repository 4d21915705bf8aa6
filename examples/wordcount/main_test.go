package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice/sluicetest"
)

// TestDemo runs the example against an in-process node and checks the
// count of every word of the three lines once they are committed, exactly.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := sluicetest.Start(t)
	var out bytes.Buffer
	lines := []string{"the cat sat on the mat", "the dog sat", "The End"}
	if err := run(ctx, srv.Conn, &out, lines); err != nil {
		t.Fatal(err)
	}
	want := `cat 1
dog 1
end 1
mat 1
on 1
sat 2
the 4
`
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
	// Again: the counts go on from the committed state.
	out.Reset()
	if err := run(ctx, srv.Conn, &out, []string{"the end"}); err != nil {
		t.Fatal(err)
	}
	if want := "end 2\nthe 5\n"; out.String() != want {
		t.Errorf("second run:\n%s\nwant:\n%s", out.String(), want)
	}
}
