package server

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/pgtest"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// sharedNode is a cluster node with the shared log (--meta and --objects).
type sharedNode struct {
	s      *Server
	url    string
	topics brokerv1connect.TopicServiceClient
	broker brokerv1connect.BrokerServiceClient
}

func startSharedNode(t *testing.T, meta, objects, id string) *sharedNode {
	t.Helper()
	s, url, stop, err := Start(context.Background(), Config{DataDir: t.TempDir(), Meta: meta, NodeID: id, Objects: objects,
		KafkaAddr: "127.0.0.1:0", Fsync: neverFsync(t), Logger: testLogger(t)}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stop node %s: %v", id, err)
		}
	})
	return &sharedNode{s: s, url: url,
		topics: brokerv1connect.NewTopicServiceClient(http.DefaultClient, url),
		broker: brokerv1connect.NewBrokerServiceClient(http.DefaultClient, url)}
}

// fetchAll reads partition p of topic from offset 0 up to n records over
// Connect, long-polling until they are there or 20 s have passed.
func (n *sharedNode) fetchAll(t *testing.T, topic string, p int32, want int) []*brokerv1.Record {
	t.Helper()
	var out []*brokerv1.Record
	deadline := time.Now().Add(20 * time.Second)
	for len(out) < want && time.Now().Before(deadline) {
		resp, err := n.broker.Fetch(context.Background(), connect.NewRequest(&brokerv1.FetchRequest{
			Topic: topic, Partition: p, Offset: int64(len(out)), MaxRecords: 1000}))
		if err != nil {
			t.Fatalf("fetch %s/%d on %s: %v", topic, p, n.s.cfg.NodeID, err)
		}
		out = append(out, resp.Msg.Records...)
		if len(resp.Msg.Records) == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return out
}

func (n *sharedNode) produce(t *testing.T, topic string, p int32, values ...string) []*brokerv1.ProduceResult {
	t.Helper()
	req := &brokerv1.ProduceRequest{Topic: topic}
	for _, v := range values {
		req.Records = append(req.Records, &brokerv1.ProduceRecord{Value: []byte(v), Partition: &p})
	}
	resp, err := n.broker.Produce(context.Background(), connect.NewRequest(req))
	if err != nil {
		t.Fatalf("produce to %s/%d on %s: %v", topic, p, n.s.cfg.NodeID, err)
	}
	return resp.Msg.Results
}

// Three nodes on one PostgreSQL database and one object directory, each
// with the shared log: a topic created on A is served by B and C at once;
// records produced on A over Connect and Kafka are read on B and C in
// order; a schema registered on B enforces on C; A and B producing to one
// partition at once get dense, unique offsets; a deletion on C reaches A
// and B, and the name can be created again.
func TestClusterSharedLogThreeNodes(t *testing.T) {
	meta := pgtest.DB(t)
	objects := "file://" + t.TempDir()
	a := startSharedNode(t, meta, objects, "a")
	b := startSharedNode(t, meta, objects, "b")
	c := startSharedNode(t, meta, objects, "c")
	ctx := context.Background()
	for _, n := range []*sharedNode{a, b, c} {
		if dn := n.s.ClusterDataNode(); dn != "" {
			t.Errorf("node %s: data node %q with the shared log, want none", n.s.cfg.NodeID, dn)
		}
	}

	// Created on A, described on B and C by the next request.
	if _, err := a.topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "orders", Partitions: 2})); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*sharedNode{b, c} {
		resp, err := n.topics.DescribeTopic(ctx, connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: "orders"}))
		if err != nil {
			t.Fatalf("describe orders on %s right after creating it on a: %v", n.s.cfg.NodeID, err)
		}
		if got := len(resp.Msg.GetTopic().GetPartitions()); got != 2 {
			t.Fatalf("orders on %s has %d partitions, want 2", n.s.cfg.NodeID, got)
		}
	}
	// Creating it again on another node is refused.
	_, err := c.topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "orders", Partitions: 1}))
	if connect.CodeOf(err) != connect.CodeAlreadyExists {
		t.Fatalf("create orders again on c = %v, want AlreadyExists", err)
	}

	// Connect: produced on A, read on B and C in order.
	var want []string
	for i := range 3 {
		vals := make([]string, 10)
		for j := range vals {
			vals[j] = fmt.Sprintf("connect-%d-%d", i, j)
		}
		res := a.produce(t, "orders", 0, vals...)
		if len(res) != 10 || res[0].Offset != int64(10*i) {
			t.Fatalf("produce batch %d on a: results %v, want offsets from %d", i, res, 10*i)
		}
		want = append(want, vals...)
	}
	for _, n := range []*sharedNode{b, c} {
		recs := n.fetchAll(t, "orders", 0, len(want))
		if len(recs) != len(want) {
			t.Fatalf("fetch on %s: %d records, want %d", n.s.cfg.NodeID, len(recs), len(want))
		}
		for i, r := range recs {
			if r.Offset != int64(i) || string(r.Value) != want[i] {
				t.Fatalf("fetch on %s: record %d is offset %d %q, want offset %d %q", n.s.cfg.NodeID, i, r.Offset, r.Value, i, want[i])
			}
		}
	}

	// Kafka: produced on A with franz-go, consumed on B and C.
	prod, err := kgo.NewClient(kgo.SeedBrokers(a.s.KafkaAddr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	var kwant []string
	for i := range 25 {
		v := fmt.Sprintf("kafka-%d", i)
		kwant = append(kwant, v)
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "orders", Partition: 1, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("kafka produce %d on a: %v", i, err)
		}
	}
	for _, n := range []*sharedNode{b, c} {
		cons, err := kgo.NewClient(kgo.SeedBrokers(n.s.KafkaAddr()),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"orders": {1: kgo.NewOffset().AtStart()}}))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		for len(got) < len(kwant) && fctx.Err() == nil {
			fs := cons.PollFetches(fctx)
			fs.EachError(func(topic string, p int32, err error) {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("kafka fetch on %s: %s/%d: %v", n.s.cfg.NodeID, topic, p, err)
				}
			})
			fs.EachRecord(func(r *kgo.Record) {
				if r.Offset != int64(len(got)) {
					t.Errorf("kafka fetch on %s: offset %d at position %d", n.s.cfg.NodeID, r.Offset, len(got))
				}
				got = append(got, string(r.Value))
			})
		}
		cancel()
		cons.Close()
		if !slices.Equal(got, kwant) {
			t.Fatalf("kafka consume on %s: %q, want %q", n.s.cfg.NodeID, got, kwant)
		}
	}

	// A schema registered on B enforces on C at once: B's registration
	// returns only when every live node's registry has it.
	if _, err := b.topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "typed", Partitions: 1})); err != nil {
		t.Fatal(err)
	}
	var reg struct{ ID int }
	if code := restCall(t, "POST", b.url+"/subjects/typed-value/versions", `{"schema":"\"string\""}`, &reg); code != 200 {
		t.Fatalf("register typed-value on b: HTTP %d", code)
	}
	// A record using the new id is accepted on C; C refuses a record
	// without an envelope, and one whose datum does not match the schema.
	good := append([]byte{0, 0, 0, 0, 0}, 0x0a) // magic, id, then Avro "hello": length 5 zigzag = 10
	binary.BigEndian.PutUint32(good[1:], uint32(reg.ID))
	good = append(good, "hello"...)
	if _, err := c.broker.Produce(ctx, connect.NewRequest(&brokerv1.ProduceRequest{Topic: "typed",
		Records: []*brokerv1.ProduceRecord{{Value: good}}})); err != nil {
		t.Fatalf("a valid value refused on c: %v", err)
	}
	bad := slices.Clone(good[:6]) // the length says 5 bytes; none follow
	for _, v := range [][]byte{[]byte("no envelope"), bad} {
		_, err = c.broker.Produce(ctx, connect.NewRequest(&brokerv1.ProduceRequest{Topic: "typed",
			Records: []*brokerv1.ProduceRecord{{Value: v}}}))
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Fatalf("value %q on c after typed-value was registered on b: %v, want InvalidArgument", v, err)
		}
	}
	if recs := a.fetchAll(t, "typed", 0, 1); len(recs) != 1 || !slices.Equal(recs[0].Value, good) {
		t.Fatalf("typed on a: %v", recs)
	}

	// A and B produce to one partition at once: offsets dense and unique,
	// each node's records in its own order.
	if _, err := a.topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "race", Partitions: 1})); err != nil {
		t.Fatal(err)
	}
	const rounds, per = 30, 4
	var mu sync.Mutex
	offsets := map[int64]string{}
	var wg sync.WaitGroup
	for _, n := range []*sharedNode{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				vals := make([]string, per)
				for j := range vals {
					vals[j] = fmt.Sprintf("%s-%03d-%d", n.s.cfg.NodeID, i, j)
				}
				req := &brokerv1.ProduceRequest{Topic: "race"}
				for _, v := range vals {
					req.Records = append(req.Records, &brokerv1.ProduceRecord{Value: []byte(v)})
				}
				resp, err := n.broker.Produce(ctx, connect.NewRequest(req))
				if err != nil {
					t.Errorf("produce on %s: %v", n.s.cfg.NodeID, err)
					return
				}
				mu.Lock()
				for _, r := range resp.Msg.Results {
					if prev, ok := offsets[r.Offset]; ok {
						t.Errorf("offset %d given to %s and %v", r.Offset, prev, vals)
					}
					offsets[r.Offset] = vals[0]
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	recs := c.fetchAll(t, "race", 0, 2*rounds*per)
	if len(recs) != 2*rounds*per {
		t.Fatalf("race on c: %d records, want %d", len(recs), 2*rounds*per)
	}
	last := map[string]string{}
	seen := map[string]bool{}
	for i, r := range recs {
		v := string(r.Value)
		if r.Offset != int64(i) || seen[v] {
			t.Fatalf("race on c: record %d at offset %d %q (seen before: %v)", i, r.Offset, v, seen[v])
		}
		seen[v] = true
		node := v[:1]
		if v <= last[node] {
			t.Fatalf("race on c: %q after %q: node %s's order broken", v, last[node], node)
		}
		last[node] = v
	}

	// Deleted on C: gone on A and B by the next poll; recreated on B with
	// a fresh log.
	if _, err := c.topics.DeleteTopic(ctx, connect.NewRequest(&brokerv1.DeleteTopicRequest{Name: "race"})); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*sharedNode{a, b} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, err := n.topics.DescribeTopic(ctx, connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: "race"}))
			if connect.CodeOf(err) == connect.CodeNotFound {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("race on %s 10 s after deleting it on c: %v", n.s.cfg.NodeID, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if _, err := b.topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "race", Partitions: 1})); err != nil {
		t.Fatal(err)
	}
	if res := a.produce(t, "race", 0, "again"); res[0].Offset != 0 {
		t.Fatalf("produce to the recreated race on a: offset %d, want 0", res[0].Offset)
	}
	if recs := c.fetchAll(t, "race", 0, 1); len(recs) != 1 || string(recs[0].Value) != "again" {
		t.Fatalf("recreated race on c: %v", recs)
	}

	// Cluster status on B shows the shared log's partitions with offsets
	// and object counts.
	st, err := clusterStatus(t, http.DefaultClient, b.url)
	if err != nil {
		t.Fatal(err)
	}
	if !st.GetSharedLog().GetEnabled() {
		t.Errorf("status: shared log not enabled: %v", st.GetSharedLog())
	}
	var orders0 bool
	for _, p := range st.GetPartitions() {
		if p.GetTopic() == "orders" && p.GetPartition() == 0 {
			orders0 = true
			if p.GetHighWatermark() != 30 || p.ObjectCount == nil || p.GetObjectCount() < 1 {
				t.Errorf("status of orders/0: hw %d objects %v, want hw 30 and at least one object", p.GetHighWatermark(), p.ObjectCount)
			}
		}
	}
	if !orders0 {
		t.Errorf("status lists no orders/0: %v", st.GetPartitions())
	}
}
