package broker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/broker"
)

// statsOf returns the stats of topic's partitions.
func statsOf(b *broker.Broker, topic string) []broker.PartitionStats {
	var out []broker.PartitionStats
	for _, s := range b.Stats(nil) {
		if s.Topic == topic {
			out = append(out, s)
		}
	}
	return out
}

func TestStatsCountProduceAndFetch(t *testing.T) {
	t.Parallel()
	var syncs atomic.Int64 // the journal's writer goroutine reports
	e := newEnv(t, func(c *broker.Config) {
		c.Validator = refuseBad{}
		c.Fsync, _ = broker.ParseFsyncPolicy("always")
		c.ObserveSync = func(d time.Duration) { syncs.Add(1) }
	})
	e.createTopic("s", 2, nil)
	ctx := context.Background()
	p0, p1 := int32(0), int32(1)

	// Connect core: 3 records to partition 0 (key+value bytes 2+3 each), 1 to
	// partition 1 with a header.
	if _, err := e.b.Produce(ctx, "s", []broker.ProduceRecord{
		{Key: []byte("k1"), Value: []byte("aaa"), Partition: &p0},
		{Key: []byte("k2"), Value: []byte("bbb"), Partition: &p0},
		{Key: []byte("k3"), Value: []byte("ccc"), Partition: &p0},
		{Value: []byte("v"), Headers: []broker.Header{{Key: "h", Value: []byte("xy")}}, Partition: &p1},
	}); err != nil {
		t.Fatal(err)
	}
	// Kafka core: one batch of 2 records to partition 1.
	if _, errs := produceBatches(t, e.b, "s", broker.PartitionBatch{Partition: 1, Raw: kbatch(1000, pair("a", "ok"), pair("bb", "ok!"))}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	got := statsOf(e.b, "s")
	if len(got) != 2 {
		t.Fatalf("stats %+v", got)
	}
	if g := got[0]; g.ProducedRecords != 3 || g.ProducedBytes != 15 || g.HighWatermark != 3 || g.SizeBytes == 0 {
		t.Errorf("partition 0 after produce: %+v", g)
	}
	// 1+1+2 bytes, then 1+2 and 2+3.
	if g := got[1]; g.ProducedRecords != 3 || g.ProducedBytes != 4+3+5 || g.HighWatermark != 3 {
		t.Errorf("partition 1 after produce: %+v", g)
	}
	if syncs.Load() == 0 {
		t.Errorf("no fdatasync observed under fsync=always")
	}

	// A refused request counts nothing produced.
	if _, err := e.b.Produce(ctx, "s", []broker.ProduceRecord{{Value: []byte("bad"), Partition: &p0}}); err == nil {
		t.Fatal("bad record accepted")
	}
	if g := statsOf(e.b, "s")[0]; g.ProducedRecords != 3 {
		t.Errorf("refused request counted: %+v", g)
	}

	// Connect Fetch from offset 1 of partition 0: 2 records, 10 bytes.
	if res, err := e.b.Fetch(ctx, broker.FetchRequest{Topic: "s", Partition: 0, Offset: 1}); err != nil || len(res.Records) != 2 {
		t.Fatalf("fetch: %v, %d records", err, len(res.Records))
	}
	// Kafka FetchBatches of partition 1 from offset 1: both batches go out
	// whole (the first holds offset 0 too), offsets 1 and 2 are new to the
	// consumer.
	res := e.b.FetchBatches(ctx, broker.FetchBatchesRequest{Partitions: []broker.FetchBatchesPartition{{Topic: "s", Partition: 1, Offset: 1}}})
	if res[0].Err != nil || len(res[0].Batches) == 0 {
		t.Fatalf("fetch batches: %v", res[0].Err)
	}
	got = statsOf(e.b, "s")
	if g := got[0]; g.FetchedRecords != 2 || g.FetchedBytes != 10 {
		t.Errorf("partition 0 after fetch: %+v", g)
	}
	if g := got[1]; g.FetchedRecords != 2 || g.FetchedBytes != int64(len(res[0].Batches)) {
		t.Errorf("partition 1 after fetch batches: %+v (sent %d bytes)", g, len(res[0].Batches))
	}
	// An empty read at the high watermark counts nothing.
	if _, err := e.b.Fetch(ctx, broker.FetchRequest{Topic: "s", Partition: 0, Offset: 3}); err != nil {
		t.Fatal(err)
	}
	if g := statsOf(e.b, "s")[0]; g.FetchedRecords != 2 {
		t.Errorf("empty read counted: %+v", g)
	}

	// CreatePartitions keeps the counters of the old partitions.
	if _, err := e.b.CreatePartitions(ctx, "s", 3); err != nil {
		t.Fatal(err)
	}
	got = statsOf(e.b, "s")
	if len(got) != 3 || got[0].ProducedRecords != 3 || got[2].ProducedRecords != 0 {
		t.Errorf("after create partitions: %+v", got)
	}
}

func TestNoteRefusal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createTopic("r", 1, nil)
	count := func() map[string]int64 {
		out := map[string]int64{}
		for _, r := range e.b.Refusals() {
			if r.Count > 0 {
				out[r.Transport.String()+"/"+r.Reason.String()] = r.Count
			}
		}
		return out
	}
	pe := &broker.ProduceError{Topic: "r", Records: []*broker.RecordError{
		{Index: 0, Err: &broker.SchemaError{Kind: broker.RefusalPayloadMismatch}},
		{Index: 0, Err: &broker.SchemaError{Kind: broker.RefusalWrongSubject}},
		{Index: 2, Err: &broker.SchemaError{Kind: broker.RefusalPayloadMismatch}},
		{Index: 3, Err: context.Canceled}, // not a schema error: the broker's own check
	}}
	if !e.b.NoteRefusal(broker.TransportConnect, pe) {
		t.Fatal("ProduceError not counted")
	}
	be := &broker.BatchError{Topic: "r", Records: []*broker.RecordError{{Err: &broker.SchemaError{Kind: broker.RefusalUnknownSchema}}}}
	e.b.NoteRefusal(broker.TransportKafka, be)
	_, err := e.b.ProduceBatches(context.Background(), "missing", nil)
	e.b.NoteRefusal(broker.TransportKafka, err)
	out, _ := e.b.ProduceBatches(context.Background(), "r", []broker.PartitionBatch{{Partition: 0, Raw: []byte("short")}})
	e.b.NoteRefusal(broker.TransportKafka, out[0].Err)
	if e.b.NoteRefusal(broker.TransportKafka, broker.ErrStorage) || e.b.NoteRefusal(broker.TransportKafka, context.Canceled) {
		t.Error("a failure that is no refusal was counted")
	}
	want := map[string]int64{
		"connect/payload_mismatch": 2, "connect/wrong_subject": 1, "connect/invalid_record": 1,
		"kafka/unknown_schema": 1, "kafka/unknown_topic": 1, "kafka/invalid_batch": 1,
	}
	if diff := cmp.Diff(want, count()); diff != "" {
		t.Errorf("refusals (-want +got):\n%s", diff)
	}
}
