package stream_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

// TestOperators runs filter, mapValues, flatMapValues, branch, merge,
// peek, reduce and a hopping-window count over one input and checks each
// output exactly.
func TestOperators(t *testing.T) {
	ctx := testCtx(t)
	s := sluicetest.Start(t)
	for _, n := range []string{"nums", "evens-odds", "maxes", "hops"} {
		s.CreateTopic(t, n, 1, nil)
	}
	// Without the record cache, so that the table forwards every update.
	app := stream.New(s.Conn, "ops", stream.CommitInterval(10*time.Millisecond), stream.Caching(false))
	nums := stream.From(app, "nums", primitive.String(), primitive.Int64())
	big := nums.Filter(func(_ string, n int64) bool { return n >= 10 })
	parts := stream.Branch(big, func(_ string, n int64) bool { return n%2 == 0 }, func(string, int64) bool { return true })
	evens := stream.MapValues(parts[0], func(_ string, n int64) string { return fmt.Sprintf("even %d", n) })
	odds := stream.FlatMapValues(parts[1], func(_ string, n int64) []string {
		return []string{fmt.Sprintf("odd %d", n), fmt.Sprintf("odd %d again", n)}
	})
	peeked := 0
	stream.To(stream.Merge(evens, odds).Peek(func(string, string) { peeked++ }), "evens-odds", primitive.String(), primitive.String())

	maxes := stream.Reduce(stream.GroupByKey(nums), func(a, b int64) int64 { return max(a, b) }, primitive.Int64())
	stream.To(maxes.ToStream(), "maxes", primitive.String(), primitive.Int64())

	hops := stream.WindowCount(stream.WindowedBy(stream.GroupByKey(nums), stream.Hopping(10*time.Second, 5*time.Second, 0)))
	stream.To(stream.Map(hops, func(w stream.Windowed[string], n int64) (string, string) {
		return w.Key, fmt.Sprintf("%d+10s:%d", w.Start.Unix()%100, n)
	}), "hops", primitive.String(), primitive.String())

	p, err := client.NewProducer(ctx, s.Conn, "nums", primitive.String(), primitive.Int64(), client.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	base := time.Unix(1000, 0) // 1000 % 100 = 0
	for i, n := range []int64{3, 12, 7, 15, 10} {
		if _, err := p.Produce(ctx, "k", n, client.WithTimestamp(base.Add(time.Duration(i)*3*time.Second))); err != nil {
			t.Fatal(err)
		}
	}
	// At 30s every window before [20s, 30s) has closed.
	if _, err := p.Produce(ctx, "k", 1, client.WithTimestamp(base.Add(30*time.Second))); err != nil {
		t.Fatal(err)
	}
	runApp(t, app)

	lines := func(ms []client.Message[string, string]) string {
		var out []string
		for _, m := range ms {
			out = append(out, m.Value)
		}
		return strings.Join(out, ",")
	}
	if got := lines(readAll(t, s.Conn, "evens-odds", primitive.String(), primitive.String(), 4)); got != "even 12,odd 15,odd 15 again,even 10" {
		t.Errorf("evens-odds: %s", got)
	}
	var mx []string
	for _, m := range readAll(t, s.Conn, "maxes", primitive.String(), primitive.Int64(), 6) {
		mx = append(mx, fmt.Sprint(m.Value))
	}
	if got := strings.Join(mx, ","); got != "3,12,12,15,15,15" {
		t.Errorf("maxes: %s", got)
	}
	// Records at 0, 3, 6, 9, 12s; windows of 10s every 5s: [-5,5) holds
	// 0,3; [0,10) 0,3,6,9; [5,15) 6,9,12; [10,20) 12; [15,25) none; the
	// record at 30s closes them all ([25,35) and [30,40) stay open).
	if got := lines(readAll(t, s.Conn, "hops", primitive.String(), primitive.String(), 4)); got != "95+10s:2,0+10s:4,5+10s:3,10+10s:1" {
		t.Errorf("hops: %s", got)
	}
	time.Sleep(100 * time.Millisecond)
	if n := countRecords(t, s.Conn, "hops"); n != 4 {
		t.Errorf("hops holds %d records, want 4", n)
	}
	_ = context.Background
}

// TestTopologyErrors: a topology that cannot work is refused by Run with
// a message saying what to do.
func TestTopologyErrors(t *testing.T) {
	s := sluicetest.Start(t)
	s.CreateTopic(t, "a", 2, nil)
	s.CreateTopic(t, "b", 3, nil)
	for _, tc := range []struct {
		name  string
		build func(app *stream.App)
		want  string
	}{
		{"group after a key change", func(app *stream.App) {
			m := stream.Map(stream.From(app, "a", primitive.String(), primitive.String()), func(k, v string) (string, string) { return v, k })
			stream.Count(stream.GroupByKey(m))
		}, "GroupByKey after a key change (Map, FlatMap): call Repartition"},
		{"join after a key change", func(app *stream.App) {
			tb := stream.TableFrom(app, "b", primitive.String(), primitive.String())
			m := stream.Map(stream.From(app, "a", primitive.String(), primitive.String()), func(k, v string) (string, string) { return v, k })
			stream.Join(m, tb, func(k, v, w string) string { return v })
		}, "Join after a key change"},
		{"partition counts differ", func(app *stream.App) {
			stream.From(app, "a", primitive.String(), primitive.String())
			stream.From(app, "b", primitive.String(), primitive.String())
		}, "input topics must have the same number of partitions"},
		{"unknown topic", func(app *stream.App) {
			stream.From(app, "nope", primitive.String(), primitive.String())
		}, "input topic nope"},
		{"no input", func(app *stream.App) {}, "reads no topic"},
		{"topic read twice", func(app *stream.App) {
			stream.From(app, "a", primitive.String(), primitive.String())
			stream.From(app, "a", primitive.String(), primitive.String())
		}, "topic a is read twice"},
		{"bad windows", func(app *stream.App) {
			g := stream.GroupByKey(stream.From(app, "a", primitive.String(), primitive.String()))
			stream.WindowCount(stream.WindowedBy(g, stream.Hopping(time.Second, 2*time.Second, 0)))
		}, "advance 2s is larger than size 1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := stream.New(s.Conn, "bad-"+strings.ReplaceAll(tc.name, " ", "-"))
			tc.build(app)
			err := app.Run(testCtx(t))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if err := stream.New(s.Conn, "bad id!").Run(testCtx(t)); err == nil || !strings.Contains(err.Error(), `' ' is not allowed`) {
		t.Errorf("bad app id: %v", err)
	}
}
