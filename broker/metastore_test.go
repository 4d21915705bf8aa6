package broker_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/internal/metastore"
	"github.com/sluicehq/sluice/internal/pgmeta"
	"github.com/sluicehq/sluice/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// With Config.Meta on PostgreSQL, topics, configs, partition counts, the
// cluster id and group offsets live there (not in meta.db) and survive a
// restart; two brokers on one database share the cluster id.
func TestPostgresMetaStore(t *testing.T) {
	ctx := context.Background()
	url := pgtest.DB(t)
	pool, err := pgmeta.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	meta, err := metastore.NewPostgres(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *broker.Config) { c.Meta = meta })
	ti, err := e.b.CreateTopic(ctx, "orders", 2, map[string]string{"retention.ms": "60000"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.CreateTopic(ctx, "orders", 1, nil); !errors.Is(err, broker.ErrTopicExists) {
		t.Fatalf("second CreateTopic = %v, want ErrTopicExists", err)
	}
	if _, err := e.b.CreatePartitions(ctx, "orders", 3); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.AlterTopicConfigs(ctx, "orders", map[string]string{"cleanup.policy": "compact"}, []string{"retention.ms"}); err != nil {
		t.Fatal(err)
	}
	if err := e.b.CommitOffsets(ctx, "g", "", 0, []broker.OffsetCommit{{Topic: "orders", Partition: 2, Offset: 0, Metadata: "m"}}); err != nil {
		t.Fatal(err)
	}
	cluster := e.b.ClusterID()
	if _, err := e.b.CreateTopic(ctx, "doomed", 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.b.DeleteTopic(ctx, "doomed"); err != nil {
		t.Fatal(err)
	}

	// meta.db holds none of it: the broker did not even create its tables.
	var n int
	if err := e.db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name IN ('broker_topics', 'group_offsets')`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("meta.db has %d broker tables (%v), want none with a PostgreSQL meta store", n, err)
	}
	if err := pool.QueryRow(ctx, `SELECT COUNT(*) FROM broker_topics`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("PostgreSQL has %d topic rows (%v), want 1", n, err)
	}

	e.restart()
	got, err := e.b.DescribeTopic("orders")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != ti.ID || len(got.Partitions) != 3 || !got.Created.Equal(ti.Created) {
		t.Errorf("after restart: id %v, %d partitions, created %v; want %v, 3, %v", got.ID, len(got.Partitions), got.Created, ti.ID, ti.Created)
	}
	if ov := got.Config.Overrides; ov["cleanup.policy"] != "compact" || ov["retention.ms"] != "" {
		t.Errorf("after restart: overrides %v, want cleanup.policy=compact only", ov)
	}
	if e.b.ClusterID() != cluster {
		t.Errorf("cluster id after restart %q, want %q", e.b.ClusterID(), cluster)
	}
	offs, err := e.b.FetchOffsets(ctx, "g", nil)
	if err != nil || len(offs) != 1 || offs[0].Partition != 2 || offs[0].Metadata != "m" {
		t.Errorf("offsets after restart = %+v, %v", offs, err)
	}
	if _, err := e.b.DescribeTopic("doomed"); !errors.Is(err, broker.ErrTopicNotFound) {
		t.Errorf("deleted topic after restart: %v", err)
	}

	// Another broker (another node) on the same database shares the id.
	other := newEnv(t, func(c *broker.Config) { c.Meta = meta; c.NoTopicData = "no data here" })
	if other.b.ClusterID() != cluster {
		t.Errorf("second broker's cluster id %q, want the shared %q", other.b.ClusterID(), cluster)
	}
}

// A node with NoTopicData loads no topic and refuses to create or use one,
// saying why.
func TestNoTopicData(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if _, err := e.b.CreateTopic(ctx, "t", 1, nil); err != nil {
		t.Fatal(err)
	}
	const why = "topic data lives on node a"
	e.cfg.NoTopicData = why
	e.restart()
	if ts := e.b.ListTopics(); len(ts) != 0 {
		t.Errorf("a node without topic data lists %d topics", len(ts))
	}
	_, err := e.b.CreateTopic(ctx, "u", 1, nil)
	if !errors.Is(err, broker.ErrInvalidArgument) || !strings.Contains(err.Error(), why) {
		t.Errorf("CreateTopic = %v, want InvalidArgument naming the reason", err)
	}
	_, err = e.b.DescribeTopic("t")
	if !errors.Is(err, broker.ErrTopicNotFound) || !strings.Contains(err.Error(), why) {
		t.Errorf("DescribeTopic = %v, want not found naming the reason", err)
	}
}
