package stream_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

// TestRecordCache checks what a count forwards with the record cache on
// (the latest value of each key changed since the last commit, once, in
// the order of their first change, with the timestamp of the last
// change), off (every update), and when MaxTxnRecords ends a transaction
// early (the cached entries count towards it). The input is processed
// before the only interval-driven commit (an hour away): the commit
// boundaries, and so the outputs, are exact.
func TestRecordCache(t *testing.T) {
	ctx := testCtx(t)
	s := sluicetest.Start(t)
	s.CreateTopic(t, "cache-in", 1, nil)
	p, err := client.NewProducer(ctx, s.Conn, "cache-in", primitive.String(), primitive.Int64(), client.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	base := time.UnixMilli(1_700_000_000_000)
	keys := []string{"a", "a", "b", "b", "a", "c"}
	for i, k := range keys {
		if _, err := p.Produce(ctx, k, int64(i), client.WithTimestamp(base.Add(time.Duration(i)*time.Second))); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		opts []stream.Option
		want string // key=count@second of the timestamp
		// changelog is the number of changelog records: each commit's
		// last change of each key.
		changelog int
	}{
		{"on", nil, "a=3@4 b=2@3 c=1@5", 3},
		{"off", []stream.Option{stream.Caching(false)}, "a=1@0 a=2@1 b=1@2 b=2@3 a=3@4 c=1@5", 3},
		// a, a: one cached entry; b: two, the limit: commit (a=2, b=1);
		// b, a: commit (b=2, a=3); c: committed when Run ends.
		{"max-txn-records", []stream.Option{stream.MaxTxnRecords(2)}, "a=2@1 b=1@2 b=2@3 a=3@4 c=1@5", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := "cache-out-" + tc.name
			s.CreateTopic(t, out, 1, nil)
			app := stream.New(s.Conn, "cache-"+tc.name, append([]stream.Option{stream.CommitInterval(time.Hour), stream.Logger(discard())}, tc.opts...)...)
			counts := stream.Count(stream.GroupByKey(stream.From(app, "cache-in", primitive.String(), primitive.Int64())))
			stream.To(counts.ToStream(), out, primitive.String(), primitive.Int64())
			stop := runApp(t, app)
			waitFor(t, func() bool { return app.Stats().Processed.Load() == int64(len(keys)) })
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			n := countRecords(t, s.Conn, out)
			var got []string
			for _, m := range readAll(t, s.Conn, out, primitive.String(), primitive.Int64(), n) {
				got = append(got, fmt.Sprintf("%s=%d@%d", m.Key, m.Value, m.Timestamp.Sub(base)/time.Second))
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("outputs %s, want %s", g, tc.want)
			}
			if n := countRecords(t, s.Conn, "cache-"+tc.name+"-aggregate-0001-changelog"); n != tc.changelog {
				t.Errorf("changelog holds %d records, want %d", n, tc.changelog)
			}
		})
	}

	// A new instance restores the counts from the changelog and goes on:
	// its update of a restored key is forwarded and logged under its key.
	if _, err := p.Produce(ctx, "a", 6, client.WithTimestamp(base.Add(6*time.Second))); err != nil {
		t.Fatal(err)
	}
	app := stream.New(s.Conn, "cache-on", stream.CommitInterval(time.Hour), stream.Logger(discard()))
	counts := stream.Count(stream.GroupByKey(stream.From(app, "cache-in", primitive.String(), primitive.Int64())))
	stream.To(counts.ToStream(), "cache-out-on", primitive.String(), primitive.Int64())
	stop := runApp(t, app)
	waitFor(t, func() bool { return app.Stats().Processed.Load() == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s.Conn, "cache-out-on", primitive.String(), primitive.Int64(), 4)[3]; got.Key != "a" || got.Value != 4 {
		t.Errorf("after the restart: %s=%d, want a=4", got.Key, got.Value)
	}
	logged := fetchAll(t, s.Conn, "cache-on-aggregate-0001-changelog", 0)
	last, same := logged[len(logged)-1], 0
	for _, r := range logged[:len(logged)-1] {
		if bytes.Equal(r.GetKey(), last.GetKey()) {
			same++
		}
	}
	if len(logged) != 4 || same != 1 {
		t.Errorf("changelog: %d records, the last one's key %q logged before %d times; want 4 records, the key once before", len(logged), last.GetKey(), same)
	}
}
