package stream_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/primitive"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// wordCount is the word-count topology on topics lines and counts.
func wordCount(conn *client.Conn, appID string, opts ...stream.Option) *stream.App {
	app := stream.New(conn, appID, opts...)
	lines := stream.From(app, "lines", primitive.Null(), primitive.String())
	words := stream.FlatMap(lines, func(_ struct{}, line string) []stream.KV[string, string] {
		var out []stream.KV[string, string]
		for _, w := range strings.Fields(strings.ToLower(line)) {
			out = append(out, stream.KV[string, string]{Key: w, Value: w})
		}
		return out
	})
	counts := stream.Count(stream.GroupByKey(stream.Repartition(words, primitive.String(), primitive.String())))
	stream.To(counts.ToStream(), "counts", primitive.String(), primitive.Int64())
	return app
}

// runApp runs app until the test ends (or stop is called) and reports
// Run's error.
func runApp(t testing.TB, app *stream.App) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	stopped := false
	var err error
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			err = <-done
		}
		return err
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("run %s: %v", app.ID(), err)
		}
	})
	return stop
}

// readAll reads topic from the start until it has n records, failing the
// test after a minute.
func readAll[K, V any](t testing.TB, conn *client.Conn, topic string, kc client.Codec[K], vc client.Codec[V], n int) []client.Message[K, V] {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.NewConsumer(conn, topic, kc, vc, client.FromEarliest())
	if err != nil {
		t.Fatal(err)
	}
	var out []client.Message[K, V]
	if n == 0 {
		return nil
	}
	for m, err := range c.All(ctx) {
		if err != nil {
			t.Fatalf("read %s after %d records (want %d): %v", topic, len(out), n, err)
		}
		out = append(out, m)
		if len(out) == n {
			break
		}
	}
	return out
}

// settle waits until the app's committed work stops growing, then reads
// how many records topic holds (read_committed).
func countRecords(t testing.TB, conn *client.Conn, topic string) int {
	t.Helper()
	n := 0
	for p := int32(0); ; p++ {
		res, err := describe(conn, topic)
		if err != nil {
			t.Fatal(err)
		}
		if int(p) >= res {
			return n
		}
		n += len(fetchAll(t, conn, topic, p))
	}
}

func describe(conn *client.Conn, topic string) (int, error) {
	res, err := conn.Topics().DescribeTopic(context.Background(), connectReq(topic))
	if err != nil {
		return 0, err
	}
	return len(res.Msg.GetTopic().GetPartitions()), nil
}

// sortedLines renders key=value lines, sorted.
func sortedLines[K, V any](ms []client.Message[K, V]) string {
	var lines []string
	for _, m := range ms {
		lines = append(lines, fmt.Sprintf("%v=%v", m.Key, m.Value))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

var errStop = errors.New("stop")

func connectReq(topic string) *connect.Request[brokerv1.DescribeTopicRequest] {
	return connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: topic})
}

// fetchAll reads a partition to its (stable) end.
func fetchAll(t testing.TB, conn *client.Conn, topic string, p int32) []*brokerv1.Record {
	t.Helper()
	var out []*brokerv1.Record
	off := int64(0)
	for {
		res, err := conn.Broker().Fetch(context.Background(), connect.NewRequest(&brokerv1.FetchRequest{Topic: topic, Partition: p, Offset: off}))
		if err != nil {
			t.Fatalf("fetch %s/%d@%d: %v", topic, p, off, err)
		}
		if len(res.Msg.GetRecords()) == 0 {
			return out
		}
		out = append(out, res.Msg.GetRecords()...)
		off = res.Msg.GetRecords()[len(res.Msg.GetRecords())-1].GetOffset() + 1
	}
}

var _ = sluicetest.Start

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// readUntilLatest reads topic (string keys, int64 values) from the start
// until every key of want has its wanted value as its latest, failing the
// test after a minute; it returns the records read.
func readUntilLatest(t testing.TB, conn *client.Conn, topic string, want map[string]int64) []client.Message[string, int64] {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.NewConsumer(conn, topic, primitive.String(), primitive.Int64(), client.FromEarliest())
	if err != nil {
		t.Fatal(err)
	}
	latest := map[string]int64{}
	done := func() bool {
		for k, v := range want {
			if latest[k] != v {
				return false
			}
		}
		return true
	}
	var out []client.Message[string, int64]
	for m, err := range c.All(ctx) {
		if err != nil {
			t.Fatalf("read %s: latest values %v, want %v: %v", topic, latest, want, err)
		}
		out = append(out, m)
		latest[m.Key] = m.Value
		if done() {
			break
		}
	}
	return out
}
