package stream_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

// TestRebalanceKeepsCountsExact counts words while a second instance
// joins (tasks move to it, restored from their changelogs) and the first
// leaves (its tasks move back): every word's updates are exactly 1, 2, …,
// n, with no update lost or repeated.
func TestRebalanceKeepsCountsExact(t *testing.T) {
	ctx := testCtx(t)
	s := sluicetest.Start(t)
	s.CreateTopic(t, "lines", 4, nil)
	s.CreateTopic(t, "counts", 4, nil)
	p, err := client.NewProducer(ctx, s.Conn, "lines", primitive.Null(), primitive.String(), client.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	words := []string{"alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta"}
	want := map[string]int64{}
	produce := func(from, to int) {
		for i := from; i < to; i++ {
			line := fmt.Sprintf("%s %s %s", words[i%8], words[(i*3)%8], words[(i*5+1)%8])
			for _, w := range []string{words[i%8], words[(i*3)%8], words[(i*5+1)%8]} {
				want[w]++
			}
			if _, err := p.Produce(ctx, struct{}{}, line); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Every update is forwarded (no record cache), so that a lost or
	// repeated one shows.
	opts := []stream.Option{stream.CommitInterval(20 * time.Millisecond), stream.SessionTimeout(2 * time.Second), stream.Caching(false)}
	appA := wordCount(s.Conn, "wc-rebalance", opts...)
	stopA := runApp(t, appA)
	produce(0, 150)
	// A has counted every word (150 lines, 450 words) and committed the
	// counts (their updates are visible) with the changelogs.
	waitFor(t, func() bool { return countRecords(t, s.Conn, "counts") == 450 })
	appB := wordCount(s.Conn, "wc-rebalance", opts...)
	runApp(t, appB) // B joins
	produce(150, 300)
	waitFor(t, func() bool { return appB.Stats().Commits.Load() > 0 })
	if err := stopA(); err != nil { // A leaves: B takes everything
		t.Fatal(err)
	}
	produce(300, 450)

	total := 0
	for _, n := range want {
		total += int(n)
	}
	got := readAll(t, s.Conn, "counts", primitive.String(), primitive.Int64(), total)
	time.Sleep(300 * time.Millisecond)
	if n := countRecords(t, s.Conn, "counts"); n != total {
		t.Errorf("counts holds %d updates, want %d", n, total)
	}
	if appB.Stats().Restored.Load() == 0 || appB.Stats().Processed.Load() == 0 {
		t.Errorf("instance B restored %d entries and processed %d records: the tasks did not move", appB.Stats().Restored.Load(), appB.Stats().Processed.Load())
	}
	seq := map[string][]int64{}
	for _, m := range got {
		seq[m.Key] = append(seq[m.Key], m.Value)
	}
	for w, n := range want {
		ups := seq[w]
		ok := int64(len(ups)) == n
		for i, v := range ups {
			ok = ok && v == int64(i+1)
		}
		if !ok {
			t.Errorf("%s: %d updates %v, want 1..%d", w, len(ups), ups, n)
		}
	}
}

// waitFor polls cond for up to a minute.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
