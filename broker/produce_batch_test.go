package broker_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

// kbatch encodes records (key, value pairs; nil is null) as an
// uncompressed record batch v2 from a non-idempotent producer, with
// timestamps ts, ts+1, ...
func kbatch(ts int64, kvs ...[2][]byte) []byte {
	var body []byte
	for i, kv := range kvs {
		r := kmsg.Record{TimestampDelta64: int64(i), OffsetDelta: int32(i), Key: kv[0], Value: kv[1]}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		body = r.AppendTo(body)
	}
	b := kmsg.RecordBatch{
		Length: int32(49 + len(body)), Magic: 2, LastOffsetDelta: int32(len(kvs) - 1),
		FirstTimestamp: ts, MaxTimestamp: ts + int64(len(kvs)-1),
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(len(kvs)), Records: body,
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

func pair(k, v string) [2][]byte {
	var kb []byte
	if k != "" {
		kb = []byte(k)
	}
	return [2][]byte{kb, []byte(v)}
}

// refuseBad is a validator refusing every record whose value starts with
// "bad", or failing outright for topic "down".
type refuseBad struct{}

func (refuseBad) ValidateProduce(_ context.Context, topic string, _ *broker.TopicConfig, recs []broker.ProduceRecord) error {
	if topic == "down" {
		return errors.New("registry unavailable")
	}
	var bad []*broker.RecordError
	for i, r := range recs {
		if bytes.HasPrefix(r.Value, []byte("bad")) {
			bad = append(bad, &broker.RecordError{Index: i, Err: fmt.Errorf("value %q is bad (partition %d)", r.Value, *r.Partition)})
		}
	}
	if len(bad) > 0 {
		return &broker.ProduceError{Topic: topic, Records: bad}
	}
	return nil
}

func produceBatches(t *testing.T, b *broker.Broker, topic string, batches ...broker.PartitionBatch) ([]int64, []error) {
	t.Helper()
	out, err := b.ProduceBatches(context.Background(), topic, batches)
	if err != nil {
		t.Fatal(err)
	}
	bases := make([]int64, len(out))
	errs := make([]error, len(out))
	for i := range out {
		bases[i], _, errs[i] = out[i].Wait(context.Background())
	}
	return bases, errs
}

func TestProduceBatchesPerPartitionRefusal(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *broker.Config) { c.Validator = refuseBad{} })
	e.createTopic("t", 3, nil)
	bases, errs := produceBatches(t, e.b, "t",
		broker.PartitionBatch{Partition: 0, Raw: kbatch(1000, pair("a", "ok"), pair("b", "ok"))},
		broker.PartitionBatch{Partition: 1, Raw: kbatch(1000, pair("a", "ok"), pair("b", "bad1"), pair("c", "ok"), pair("d", "bad3"))},
		broker.PartitionBatch{Partition: 2, Raw: kbatch(1000, pair("a", "ok"))},
	)
	if errs[0] != nil || errs[2] != nil || bases[0] != 0 || bases[2] != 0 {
		t.Fatalf("good partitions: %v, %v", errs[0], errs[2])
	}
	var be *broker.BatchError
	if !errors.As(errs[1], &be) {
		t.Fatalf("partition 1: %v, want a BatchError", errs[1])
	}
	if len(be.Records) != 2 || be.Records[0].Index != 1 || be.Records[1].Index != 3 || be.Count != 4 {
		t.Fatalf("record errors %v", be)
	}
	want := `produce t/1: 2 of 4 records refused; record 1: value "bad1" is bad (partition 1); record 3: value "bad3" is bad (partition 1)`
	if be.Error() != want {
		t.Fatalf("message\n got %s\nwant %s", be.Error(), want)
	}
	info, _ := e.b.DescribeTopic("t")
	if hw := info.Partitions[1].HighWatermark; hw != 0 {
		t.Fatalf("refused partition has high watermark %d", hw)
	}
	// A validator failure that is not about records refuses the topic's
	// batches, with its reason.
	e.createTopic("down", 1, nil)
	_, errs = produceBatches(t, e.b, "down", broker.PartitionBatch{Partition: 0, Raw: kbatch(1, pair("a", "ok"))})
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "registry unavailable") {
		t.Fatalf("validator failure: %v", errs[0])
	}
}

func TestBatchErrorMessageBounded(t *testing.T) {
	t.Parallel()
	be := &broker.BatchError{Topic: "t", Partition: 2, Count: 10}
	for i := range 5 {
		be.Records = append(be.Records, &broker.RecordError{Index: i, Err: errors.New(strings.Repeat("x", 5000))})
	}
	msg := be.Error()
	if n := strings.Count(msg, "record "); n != 3 || !strings.HasSuffix(msg, "; and 2 more") || len(msg) > 4*1100 {
		t.Fatalf("%d records named, %d bytes: %.200s...", n, len(msg), msg)
	}
}

func TestProduceBatchesCompactedNeedsKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createTopic("c", 1, map[string]string{"cleanup.policy": "compact"})
	_, errs := produceBatches(t, e.b, "c", broker.PartitionBatch{Partition: 0, Raw: kbatch(1, pair("k", "v"), pair("", "keyless"))})
	var be *broker.BatchError
	if !errors.As(errs[0], &be) || len(be.Records) != 1 || be.Records[0].Index != 1 {
		t.Fatalf("keyless record on a compacted topic: %v", errs[0])
	}
}

// TestKafkaAndConnectShareRecords: a batch produced the Kafka way reads
// back over Connect's Fetch with its keys, values and timestamps; records
// produced over Connect come back from FetchBatches.
func TestKafkaAndConnectShareRecords(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createTopic("t", 1, nil)
	if _, errs := produceBatches(t, e.b, "t", broker.PartitionBatch{Partition: 0, Raw: kbatch(1_700_000_000_000, pair("k1", "v1"), [2][]byte{nil, nil}, pair("k3", ""))}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	got := e.fetchAll("t", 0, 0)
	if len(got) != 3 {
		t.Fatalf("%d records over Connect", len(got))
	}
	for i, want := range []struct {
		k, v []byte
	}{{[]byte("k1"), []byte("v1")}, {nil, nil}, {[]byte("k3"), []byte{}}} {
		r := got[i]
		if r.GetOffset() != int64(i) || !bytes.Equal(r.Key, want.k) || (r.Key == nil) != (want.k == nil) ||
			!bytes.Equal(r.Value, want.v) || (r.Value == nil) != (want.v == nil) || r.GetTimestamp().AsTime().UnixMilli() != 1_700_000_000_000+int64(i) {
			t.Fatalf("record %d over Connect: key %q value %q ts %v", i, r.Key, r.Value, r.GetTimestamp().AsTime())
		}
	}
	e.produce("t", kv("ck", "cv"))
	res := e.b.FetchBatches(context.Background(), broker.FetchBatchesRequest{Partitions: []broker.FetchBatchesPartition{{Topic: "t", Offset: 3}}})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(res[0].Batches); err != nil {
		t.Fatal(err)
	}
	var r kmsg.Record
	if err := r.ReadFrom(rb.Records); err != nil {
		t.Fatal(err)
	}
	if rb.FirstOffset != 3 || string(r.Key) != "ck" || string(r.Value) != "cv" {
		t.Fatalf("Connect record over FetchBatches: offset %d %q=%q", rb.FirstOffset, r.Key, r.Value)
	}
}

// TestFetchBatchesLongPoll: a fetch parked at the high watermark wakes on
// an append to any of its partitions.
func TestFetchBatchesLongPoll(t *testing.T) {
	t.Parallel()
	parked := make(chan struct{}, 1)
	e := newEnv(t)
	e.hook = func() {
		select {
		case parked <- struct{}{}:
		default:
		}
	}
	e.restart()
	e.createTopic("t", 3, nil)
	done := make(chan []broker.FetchBatchesResult, 1)
	go func() {
		done <- e.b.FetchBatches(context.Background(), broker.FetchBatchesRequest{
			MaxWait: 10 * 60e9, MinBytes: 1,
			Partitions: []broker.FetchBatchesPartition{{Topic: "t", Partition: 0}, {Topic: "t", Partition: 2}},
		})
	}()
	<-parked
	if _, errs := produceBatches(t, e.b, "t", broker.PartitionBatch{Partition: 2, Raw: kbatch(1, pair("a", "b"))}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	res := <-done
	if len(res[0].Batches) != 0 || len(res[1].Batches) == 0 || res[1].HighWatermark != 1 {
		t.Fatalf("woke with %d and %d bytes, hwm %d", len(res[0].Batches), len(res[1].Batches), res[1].HighWatermark)
	}
}

// TestFetchBatchesMinBytesZero: MinBytes 0 answers at once even with a
// MaxWait, as Kafka does.
func TestFetchBatchesMinBytesZero(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.hook = func() { t.Error("a fetch with MinBytes 0 waited") }
	e.restart()
	e.createTopic("t", 1, nil)
	res := e.b.FetchBatches(context.Background(), broker.FetchBatchesRequest{
		MaxWait: 5e9, MinBytes: 0, Partitions: []broker.FetchBatchesPartition{{Topic: "t"}},
	})
	if res[0].Err != nil || len(res[0].Batches) != 0 {
		t.Fatalf("%v, %d bytes", res[0].Err, len(res[0].Batches))
	}
}

// TestFetchBatchesRotates: with room for one batch per request, successive
// fetches start at different partitions, so none starves. (Not parallel:
// the rotation is shared by every fetch of the process.)
func TestFetchBatchesRotates(t *testing.T) {
	e := newEnv(t)
	e.createTopic("t", 2, nil)
	for p := range int32(2) {
		if _, errs := produceBatches(t, e.b, "t", broker.PartitionBatch{Partition: p, Raw: kbatch(1, pair("k", "v"))}); errs[0] != nil {
			t.Fatal(errs[0])
		}
	}
	served := map[int]int{}
	for range 4 {
		res := e.b.FetchBatches(context.Background(), broker.FetchBatchesRequest{MaxBytes: 1,
			Partitions: []broker.FetchBatchesPartition{{Topic: "t", Partition: 0}, {Topic: "t", Partition: 1}}})
		for i, r := range res {
			if len(r.Batches) > 0 {
				served[i]++
			}
		}
	}
	if served[0] != 2 || served[1] != 2 {
		t.Fatalf("batches served per partition over 4 one-batch fetches: %v, want 2 each", served)
	}
}
