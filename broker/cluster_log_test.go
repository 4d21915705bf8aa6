package broker_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/internal/metastore"
	"github.com/sluicehq/sluice/internal/pgmeta"
	"github.com/sluicehq/sluice/internal/pgtest"
	"github.com/sluicehq/sluice/objstore"
)

// sharedCluster is one PostgreSQL database and one object directory for
// brokers with Config.Shared.
type sharedCluster struct {
	pool    *pgxpool.Pool
	meta    metastore.Store
	objects objstore.Store
}

func newSharedCluster(t *testing.T) *sharedCluster {
	t.Helper()
	ctx := context.Background()
	pool, err := pgmeta.Open(ctx, pgtest.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	meta, err := metastore.NewPostgres(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := objstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &sharedCluster{pool: pool, meta: meta, objects: objs}
}

// node opens a broker of the cluster; it polls the topic rows every 50 ms.
// opts adjust its Config after that.
func (c *sharedCluster) node(t *testing.T, id string, opts ...func(*broker.Config)) *testEnv {
	return newEnv(t, append([]func(*broker.Config){func(cfg *broker.Config) {
		cfg.Meta = c.meta
		cfg.Shared = &broker.SharedConfig{Pool: c.pool, Objects: c.objects, Node: id, Window: 2 * time.Millisecond, TopicPoll: 50 * time.Millisecond}
	}}, opts...)...)
}

// sharedEventually retries check for 10 s.
func sharedEventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func recordValues(recs []broker.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Value)
	}
	return out
}

// Two brokers on one shared log: what one node does to a topic (create,
// produce, add partitions, alter configs, delete) the other sees, at once
// when it names the topic or lists topics, else by its poll; a restarted
// node reopens the topics with their records; a compacted topic is
// refused with nothing left behind.
func TestSharedLogTwoBrokers(t *testing.T) {
	c := newSharedCluster(t)
	a, b := c.node(t, "a"), c.node(t, "b")
	ctx := context.Background()

	if _, err := a.b.CreateTopic(ctx, "t", 2, nil); err != nil {
		t.Fatal(err)
	}
	ti, err := b.b.DescribeTopic("t")
	if err != nil || len(ti.Partitions) != 2 {
		t.Fatalf("describe t on b right after creating it on a: %+v, %v", ti, err)
	}
	var recs []broker.ProduceRecord
	for i := range 5 {
		p := int32(0)
		recs = append(recs, broker.ProduceRecord{Value: []byte(fmt.Sprint("v", i)), Partition: &p})
	}
	res, err := a.b.Produce(ctx, "t", recs)
	if err != nil || res[4].Offset != 4 {
		t.Fatalf("produce on a: %v, %v", res, err)
	}
	want := []string{"v0", "v1", "v2", "v3", "v4"}
	fr, err := b.b.Fetch(ctx, broker.FetchRequest{Topic: "t", Partition: 0, MaxWait: 5 * time.Second})
	if err != nil || !slices.Equal(recordValues(fr.Records), want) || fr.HighWatermark != 5 {
		t.Fatalf("fetch on b: %v (hw %d), %v; want %v", recordValues(fr.Records), fr.HighWatermark, err, want)
	}

	// A long poll on b wakes when a commits (LISTEN/NOTIFY or the poll):
	// without a wake-up it would answer empty after 10 s.
	type fetched struct {
		res broker.FetchResult
		err error
	}
	done := make(chan fetched, 1)
	go func() {
		res, err := b.b.Fetch(ctx, broker.FetchRequest{Topic: "t", Partition: 1, MaxWait: 10 * time.Second})
		done <- fetched{res, err}
	}()
	time.Sleep(100 * time.Millisecond) // usually waiting by now; either way the answer is the same
	p1 := int32(1)
	if _, err := a.b.Produce(ctx, "t", []broker.ProduceRecord{{Value: []byte("woken"), Partition: &p1}}); err != nil {
		t.Fatal(err)
	}
	if f := <-done; f.err != nil || !slices.Equal(recordValues(f.res.Records), []string{"woken"}) {
		t.Fatalf("long poll on b: %v, %v; want [woken]", recordValues(f.res.Records), f.err)
	}

	// Partitions added on b: a opens them by its poll, and b's produce
	// to the new one is read on a.
	if _, err := b.b.CreatePartitions(ctx, "t", 3); err != nil {
		t.Fatal(err)
	}
	sharedEventually(t, "a sees partition 2", func() error {
		ti, err := a.b.DescribeTopic("t")
		if err == nil && len(ti.Partitions) != 3 {
			err = fmt.Errorf("%d partitions", len(ti.Partitions))
		}
		return err
	})
	p2 := int32(2)
	if _, err := b.b.Produce(ctx, "t", []broker.ProduceRecord{{Value: []byte("p2"), Partition: &p2}}); err != nil {
		t.Fatal(err)
	}
	fr, err = a.b.Fetch(ctx, broker.FetchRequest{Topic: "t", Partition: 2, MaxWait: 5 * time.Second})
	if err != nil || !slices.Equal(recordValues(fr.Records), []string{"p2"}) {
		t.Fatalf("fetch partition 2 on a: %v, %v", recordValues(fr.Records), err)
	}

	// Configs altered on a reach b.
	if _, err := a.b.AlterTopicConfigs(ctx, "t", map[string]string{"retention.ms": "60000"}, nil); err != nil {
		t.Fatal(err)
	}
	sharedEventually(t, "b sees retention.ms", func() error {
		ti, err := b.b.DescribeTopic("t")
		if err == nil && ti.Config.Overrides["retention.ms"] != "60000" {
			err = fmt.Errorf("overrides %v", ti.Config.Overrides)
		}
		return err
	})

	// Listing topics on b includes a topic a created a moment ago.
	if _, err := a.b.CreateTopic(ctx, "u", 1, nil); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ti := range b.b.ListTopics() {
		names = append(names, ti.Name)
	}
	if !slices.Equal(names, []string{"t", "u"}) {
		t.Fatalf("topics on b = %v, want [t u]", names)
	}

	// A restarted node reopens the topics, records and all.
	a.restart()
	fr, err = a.b.Fetch(ctx, broker.FetchRequest{Topic: "t", Partition: 0})
	if err != nil || !slices.Equal(recordValues(fr.Records), want) {
		t.Fatalf("fetch on a after its restart: %v, %v", recordValues(fr.Records), err)
	}

	// Deleted on b: gone from a's list at once, and its name is free.
	if err := b.b.DeleteTopic(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	for _, ti := range a.b.ListTopics() {
		if ti.Name == "u" {
			t.Fatal("u listed on a after b deleted it")
		}
	}
	if _, err := a.b.Produce(ctx, "u", []broker.ProduceRecord{{Value: []byte("x")}}); !errors.Is(err, broker.ErrTopicNotFound) {
		t.Fatalf("produce to deleted u on a = %v, want ErrTopicNotFound", err)
	}
	if _, err := a.b.CreateTopic(ctx, "u", 1, nil); err != nil {
		t.Fatal(err)
	}
	res, err = b.b.Produce(ctx, "u", []broker.ProduceRecord{{Value: []byte("fresh")}})
	if err != nil || res[0].Offset != 0 {
		t.Fatalf("produce to recreated u on b: %v, %v; want offset 0", res, err)
	}

	// A compacted topic: keys overwritten on a, maintenance on b (as of
	// an hour on, so that every object is old enough), then a reads the
	// latest record of each key at its offset.
	if _, err := a.b.CreateTopic(ctx, "compacted", 1, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		var recs []broker.ProduceRecord
		for k := range 4 - round {
			recs = append(recs, broker.ProduceRecord{Key: []byte(fmt.Sprint("k", k)), Value: []byte(fmt.Sprint("v", round))})
		}
		if _, err := a.b.Produce(ctx, "compacted", recs); err != nil {
			t.Fatal(err)
		}
	}
	// Offsets: round 0 k0-k3 at 0-3, round 1 k0-k2 at 4-6, round 2 k0-k1 at 7-8.
	sharedEventually(t, "compacted topic on b", func() error {
		_, err := b.b.DescribeTopic("compacted")
		return err
	})
	sharedEventually(t, "maintenance on b", func() error { return b.b.RunMaintenance(time.Now().Add(time.Hour)) })
	sharedEventually(t, "the latest of each key, read on a", func() error {
		fr, err := a.b.Fetch(ctx, broker.FetchRequest{Topic: "compacted", Partition: 0})
		if err != nil {
			return err
		}
		var got []string
		for _, r := range fr.Records {
			got = append(got, fmt.Sprintf("%d:%s=%s", r.Offset, r.Key, r.Value))
		}
		if w := []string{"3:k3=v0", "6:k2=v1", "7:k0=v2", "8:k1=v2"}; !slices.Equal(got, w) || fr.HighWatermark != 9 {
			return fmt.Errorf("read %v (high watermark %d), want %v", got, fr.HighWatermark, w)
		}
		return nil
	})

	// The status lists the live topics' shared partitions.
	ps, err := b.b.SharedPartitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, fmt.Sprintf("%s/%d:%d", p.Topic, p.Partition, p.HighWatermark))
	}
	if w := []string{"compacted/0:9", "t/0:5", "t/1:1", "t/2:1", "u/0:1"}; !slices.Equal(got, w) {
		t.Fatalf("shared partitions = %v, want %v", got, w)
	}
}
