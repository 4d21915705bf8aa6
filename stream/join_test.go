package stream_test

import (
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

func tierJoin(conn *client.Conn) *stream.App {
	app := stream.New(conn, "tiers")
	tiers := stream.TableFrom(app, "tiers", primitive.String(), primitive.String())
	orders := stream.From(app, "amounts", primitive.String(), primitive.Int64())
	joined := stream.Join(orders, tiers, func(c string, amount int64, tier string) string { return fmt.Sprintf("%s:%d", tier, amount) })
	stream.To(joined, "tiered", primitive.String(), primitive.String())
	return app
}

// TestJoinTableRestoredAfterRestart: a table loaded by one run is restored
// from its topic (up to the committed offset) by the next, and later
// updates of the table apply to the orders after them.
func TestJoinTableRestoredAfterRestart(t *testing.T) {
	ctx := testCtx(t)
	s := sluicetest.Start(t)
	for _, n := range []string{"tiers", "amounts", "tiered"} {
		s.CreateTopic(t, n, 2, nil)
	}
	tp, err := client.NewProducer(ctx, s.Conn, "tiers", primitive.String(), primitive.String(), client.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	ap, err := client.NewProducer(ctx, s.Conn, "amounts", primitive.String(), primitive.Int64(), client.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	for c, tier := range map[string]string{"ada": "gold", "bob": "silver"} {
		if _, err := tp.Produce(ctx, c, tier); err != nil {
			t.Fatal(err)
		}
	}
	first := tierJoin(s.Conn)
	stop := runApp(t, first)
	waitFor(t, func() bool { return first.Stats().Processed.Load() == 2 && first.Stats().Commits.Load() > 0 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	second := tierJoin(s.Conn)
	runApp(t, second)
	for _, o := range []struct {
		c string
		n int64
	}{{"ada", 1}, {"bob", 2}, {"zed", 3}} {
		if _, err := ap.Produce(ctx, o.c, o.n); err != nil {
			t.Fatal(err)
		}
	}
	got := readAll(t, s.Conn, "tiered", primitive.String(), primitive.String(), 2)
	if out := sortedLines(got); out != "ada=gold:1\nbob=silver:2" {
		t.Errorf("joined:\n%s", out)
	}
	if n := second.Stats().Restored.Load(); n != 2 {
		t.Errorf("restored %d table entries, want 2", n)
	}
	// A later update of the table applies to later orders.
	if _, err := tp.Produce(ctx, "ada", "platinum"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return second.Stats().Processed.Load() == 4 })
	if _, err := ap.Produce(ctx, "ada", 4); err != nil {
		t.Fatal(err)
	}
	got = readAll(t, s.Conn, "tiered", primitive.String(), primitive.String(), 3)
	if out := sortedLines(got); out != "ada=gold:1\nada=platinum:4\nbob=silver:2" {
		t.Errorf("joined after the update:\n%s", out)
	}
}
