package stream_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

// windowTotals is the windowed topology of the kill test: per customer
// (the key of "orders"), the sum of the amounts per 10-second tumbling
// window, emitted once when the window closes, as "start-ms:sum".
func windowTotals(conn *client.Conn, opts ...stream.Option) *stream.App {
	app := stream.New(conn, "totals-app", opts...)
	orders := stream.From(app, "orders", primitive.String(), primitive.Int64())
	sums := stream.WindowAggregate(stream.WindowedBy(stream.GroupByKey(orders), stream.Tumbling(10*time.Second, 0)),
		func() int64 { return 0 }, func(_ string, amount, sum int64) int64 { return sum + amount }, primitive.Int64())
	out := stream.Map(sums, func(w stream.Windowed[string], sum int64) (string, string) {
		return w.Key, fmt.Sprintf("%d:%d", w.Start.UnixMilli(), sum)
	})
	stream.To(out, "totals", primitive.String(), primitive.String())
	return app
}

const streamHelperEnv = "SLUICE_STREAM_HELPER_URL"

// TestHelperStreamProcessor is not a test: re-executed by
// TestKilledMidWindowProducesEachOutputOnce, it runs windowTotals against
// the node at streamHelperEnv until killed.
func TestHelperStreamProcessor(t *testing.T) {
	url := os.Getenv(streamHelperEnv)
	if url == "" {
		t.Skip("helper process for TestKilledMidWindowProducesEachOutputOnce")
	}
	conn := client.New(sluicetest.HTTPClient(), url)
	app := windowTotals(conn, stream.SessionTimeout(time.Second), stream.CommitInterval(20*time.Millisecond),
		stream.Logger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	fmt.Println("running")
	if err := app.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func startProcessor(t *testing.T, url string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperStreamProcessor$", "-test.v=false")
	cmd.Env = append(os.Environ(), streamHelperEnv+"="+url)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatalf("processor did not start: %v", err)
	}
	return cmd
}

// TestKilledMidWindowProducesEachOutputOnce runs the windowed aggregation
// in a separate process, kills it with SIGKILL several times while orders
// arrive (with windows open, their sums in the store and the changelog,
// transactions half done), restarts it each time, and checks that every
// window's sum is emitted exactly once, with the right value.
func TestKilledMidWindowProducesEachOutputOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processor processes")
	}
	ctx := testCtx(t)
	s := sluicetest.Start(t, sluicetest.WithKafka())
	s.CreateTopic(t, "orders", 2, nil)
	s.CreateTopic(t, "totals", 2, nil)
	p, err := client.NewProducer(ctx, s.Conn, "orders", primitive.String(), primitive.Int64(), client.AutoRegister(), client.Linger(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	customers := []string{"ada", "bob", "cyd", "dee"}
	want := map[string]int64{} // "customer start:sum" -> occurrences (1)
	sums := map[string]map[int64]int64{}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	const windows, perWindow = 12, 60
	proc := startProcessor(t, s.URL)
	for w := range windows {
		for i := range perWindow {
			c := customers[(w*7+i)%len(customers)]
			ts := base + int64(w)*10_000 + int64(i)*150
			amount := int64(w*100 + i)
			if sums[c] == nil {
				sums[c] = map[int64]int64{}
			}
			sums[c][base+int64(w)*10_000] += amount
			if _, err := p.Produce(ctx, c, amount, client.WithTimestamp(time.UnixMilli(ts))); err != nil {
				t.Fatal(err)
			}
			if i == perWindow/2 && w%3 == 1 {
				// Mid-window: kill -9, restart.
				time.Sleep(30 * time.Millisecond)
				proc.Process.Kill()
				proc.Wait()
				proc = startProcessor(t, s.URL)
			}
		}
	}
	// A last order per customer closes every window but its own.
	for _, c := range customers {
		if _, err := p.Produce(ctx, c, 0, client.WithTimestamp(time.UnixMilli(base+int64(windows)*10_000+5_000))); err != nil {
			t.Fatal(err)
		}
	}
	for c, byStart := range sums {
		for start, sum := range byStart {
			want[fmt.Sprintf("%s %d:%d", c, start, sum)] = 1
		}
	}
	got := readAll(t, s.Conn, "totals", primitive.String(), primitive.String(), len(want))
	time.Sleep(300 * time.Millisecond) // anything extra would be committed by now
	if n := countRecords(t, s.Conn, "totals"); n != len(want) {
		t.Errorf("totals holds %d records, want %d (one per customer and window)", n, len(want))
	}
	seen := map[string]int64{}
	for _, m := range got {
		seen[m.Key+" "+m.Value]++
	}
	for k := range want {
		if seen[k] != 1 {
			t.Errorf("%s emitted %d times, want once", k, seen[k])
		}
	}
	for k, n := range seen {
		if want[k] == 0 {
			t.Errorf("unexpected output %s (%d times)", k, n)
		}
	}
	// A Kafka client reading read_committed sees the same: each once.
	kc, err := kgo.NewClient(kgo.SeedBrokers(s.KafkaAddr), kgo.ConsumeTopics("totals"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	kseen := map[string]int{}
	total := 0
	for deadline := time.Now().Add(30 * time.Second); total < len(want) && time.Now().Before(deadline); {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := kc.PollFetches(pctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			kseen[string(r.Key)+"|"+string(r.Value)]++
			total++
		})
	}
	if total != len(want) || len(kseen) != len(want) {
		t.Errorf("a read_committed Kafka consumer read %d records, %d distinct; want %d, each once", total, len(kseen), len(want))
	}
	if t.Failed() {
		var all []string
		for _, m := range got {
			all = append(all, m.Key+" "+m.Value)
		}
		t.Logf("outputs:\n%s", strings.Join(all, "\n"))
	}
}
