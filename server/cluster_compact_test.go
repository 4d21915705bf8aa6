package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/pgtest"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// offValue is a record read: its offset and value ("<null>" for a
// tombstone).
type offValue struct {
	off   int64
	value string
}

// A compacted topic on two nodes of the shared log: keys overwritten over
// Kafka (franz-go) on A and over Connect on B, a tombstone among them;
// after maintenance on B, a franz-go consumer on A and a Connect reader on
// B each see exactly the latest record of each key, at the offset it was
// acknowledged at.
func TestClusterSharedCompactedTopic(t *testing.T) {
	meta := pgtest.DB(t)
	objects := "file://" + t.TempDir()
	a := startSharedNode(t, meta, objects, "a")
	b := startSharedNode(t, meta, objects, "b")
	ctx := context.Background()
	if _, err := a.topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "profiles", Partitions: 1,
		Configs: map[string]string{"cleanup.policy": "compact"}})); err != nil {
		t.Fatal(err)
	}

	latest := map[string]offValue{}
	total := 0
	prod, err := kgo.NewClient(kgo.SeedBrokers(a.s.KafkaAddr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	for round := range 5 {
		// Kafka on A: keys k0..k9, fewer each round.
		for k := range 10 - round {
			key, val := fmt.Sprint("k", k), fmt.Sprintf("kafka-%d-%d", round, k)
			r := &kgo.Record{Topic: "profiles", Partition: 0, Key: []byte(key), Value: []byte(val)}
			if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("kafka produce on a: %v", err)
			}
			latest[key] = offValue{r.Offset, val}
			total++
		}
		// Connect on B: k0..k2 again.
		req := &brokerv1.ProduceRequest{Topic: "profiles"}
		var p int32
		for k := range 3 {
			req.Records = append(req.Records, &brokerv1.ProduceRecord{Key: []byte(fmt.Sprint("k", k)), Value: []byte(fmt.Sprintf("connect-%d-%d", round, k)), Partition: &p})
		}
		resp, err := b.broker.Produce(ctx, connect.NewRequest(req))
		if err != nil {
			t.Fatalf("connect produce on b: %v", err)
		}
		for i, res := range resp.Msg.Results {
			latest[string(req.Records[i].Key)] = offValue{res.Offset, string(req.Records[i].Value)}
			total++
		}
	}
	// A tombstone for k9 (kept: delete.retention.ms is a day).
	tomb := &kgo.Record{Topic: "profiles", Partition: 0, Key: []byte("k9")}
	if err := prod.ProduceSync(ctx, tomb).FirstErr(); err != nil {
		t.Fatal(err)
	}
	latest["k9"] = offValue{tomb.Offset, "<null>"}
	total++
	hw := int64(total)

	// Maintenance on B as of an hour on: every object is old enough.
	if err := b.s.Broker.RunMaintenance(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	want := slices.Collect(maps.Values(latest))
	slices.SortFunc(want, func(x, y offValue) int { return int(x.off - y.off) })

	// Connect on B, page by page from offset 0.
	var got []offValue
	for off := int64(0); off < hw; {
		resp, err := b.broker.Fetch(ctx, connect.NewRequest(&brokerv1.FetchRequest{Topic: "profiles", Partition: 0, Offset: off, MaxRecords: 7}))
		if err != nil {
			t.Fatalf("fetch on b at %d: %v", off, err)
		}
		if resp.Msg.HighWatermark != hw {
			t.Fatalf("high watermark on b %d, want %d", resp.Msg.HighWatermark, hw)
		}
		for _, r := range resp.Msg.Records {
			v := string(r.Value)
			if r.Value == nil {
				v = "<null>"
			}
			got = append(got, offValue{r.Offset, v})
			off = r.Offset + 1
		}
		if len(resp.Msg.Records) == 0 {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("connect read on b after compaction:\n%v\nwant (latest per key, %d of %d records)\n%v", got, len(want), total, want)
	}

	// franz-go on A (A learns of B's compaction by notification).
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := consumeAll(t, a, "profiles", hw)
		if slices.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kafka read on a after compaction:\n%v\nwant\n%v", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// consumeAll reads partition 0 of topic on n with franz-go from the start
// until offset end - 1, as (offset, value) pairs.
func consumeAll(t *testing.T, n *sharedNode, topic string, end int64) []offValue {
	t.Helper()
	cons, err := kgo.NewClient(kgo.SeedBrokers(n.s.KafkaAddr()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []offValue
	for next := int64(0); next < end && ctx.Err() == nil; {
		fs := cons.PollFetches(ctx)
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("kafka fetch on %s: %s/%d: %v", n.s.cfg.NodeID, topic, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			v := string(r.Value)
			if r.Value == nil {
				v = "<null>"
			}
			out = append(out, offValue{r.Offset, v})
			next = r.Offset + 1
		})
	}
	return out
}
