package broker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sluicehq/sluice/broker"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

func TestProduceFetchOrderingAndDenseOffsets(t *testing.T) {
	e := newEnv(t)
	e.createTopic("orders", 1, nil)
	var want []*brokerv1.ProduceRecord
	next := int64(0)
	for req := range 5 {
		var recs []*brokerv1.ProduceRecord
		for i := range 7 {
			recs = append(recs, val(fmt.Sprintf("r%d-%d", req, i)))
		}
		for i, res := range e.produce("orders", recs...) {
			if res.GetPartition() != 0 || res.GetOffset() != next {
				t.Fatalf("request %d record %d: got %d@%d, want 0@%d", req, i, res.GetPartition(), res.GetOffset(), next)
			}
			next++
		}
		want = append(want, recs...)
	}
	got := e.fetchAll("orders", 0, 0)
	if len(got) != len(want) {
		t.Fatalf("fetched %d records, want %d", len(got), len(want))
	}
	for i, r := range got {
		if r.GetOffset() != int64(i) || !bytes.Equal(r.GetValue(), want[i].GetValue()) {
			t.Errorf("record %d: offset %d value %q, want offset %d value %q", i, r.GetOffset(), r.GetValue(), i, want[i].GetValue())
		}
	}
	if hw := e.fetch("orders", 0, 35).GetHighWatermark(); hw != 35 {
		t.Errorf("high watermark %d, want 35", hw)
	}
}

func TestProduceKeepsRecordFields(t *testing.T) {
	e := newEnv(t)
	e.createTopic("fields", 1, nil)
	ts := time.Date(2026, 11, 23, 9, 0, 0, 123e6, time.UTC)
	before1970 := time.Date(1969, 12, 31, 23, 59, 59, 500e6, time.UTC)
	e.produce("fields",
		&brokerv1.ProduceRecord{Key: []byte{}, Value: []byte("empty key"), Timestamp: timestamppb.New(ts)},
		&brokerv1.ProduceRecord{Value: []byte("null key"), Headers: []*brokerv1.Header{{Key: "a", Value: []byte("1")}, {Key: "a", Value: []byte("2")}, {Key: "b"}}},
		&brokerv1.ProduceRecord{Key: []byte("tombstone")},
		&brokerv1.ProduceRecord{Value: []byte("old"), Timestamp: timestamppb.New(before1970)},
	)
	got := e.fetchAll("fields", 0, 0)
	if len(got) != 4 {
		t.Fatalf("fetched %d records, want 4", len(got))
	}
	if ts := got[3].GetTimestamp(); ts.CheckValid() != nil || !ts.AsTime().Equal(before1970) {
		t.Errorf("record 3: timestamp %v, want %v", ts, before1970)
	}
	if got[0].Key == nil || len(got[0].Key) != 0 {
		t.Errorf("record 0: key %v, want empty non-null", got[0].Key)
	}
	if !got[0].GetTimestamp().AsTime().Equal(ts) {
		t.Errorf("record 0: timestamp %v, want %v", got[0].GetTimestamp().AsTime(), ts)
	}
	if got[1].Key != nil {
		t.Errorf("record 1: key %q, want null", got[1].Key)
	}
	if h := got[1].GetHeaders(); len(h) != 3 || h[0].GetKey() != "a" || string(h[1].GetValue()) != "2" || h[2].GetKey() != "b" {
		t.Errorf("record 1: headers %v", h)
	}
	if got[2].Value != nil {
		t.Errorf("record 2: value %q, want null", got[2].Value)
	}
	if time.Since(got[1].GetTimestamp().AsTime()) > time.Hour {
		t.Errorf("record 1: timestamp %v is not the broker's clock", got[1].GetTimestamp().AsTime())
	}
}

// TestKeyPartitionMatchesKafka checks the partitions the broker picks for
// keys against Kafka's default partitioner: toPositive(murmur2) % n with the
// hash values of Kafka's UtilsTest.
func TestKeyPartitionMatchesKafka(t *testing.T) {
	e := newEnv(t)
	const n = 50
	e.createTopic("keyed", n, nil)
	vectors := map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	}
	var keys []string
	var recs []*brokerv1.ProduceRecord
	for k, h := range vectors {
		if got := broker.Murmur2([]byte(k)); got != h {
			t.Fatalf("murmur2(%q) = %d, want %d", k, got, h)
		}
		keys = append(keys, k)
		recs = append(recs, kv(k, "v"))
	}
	res := e.produce("keyed", recs...)
	for i, k := range keys {
		want := int32(uint32(vectors[k])&0x7fffffff) % n
		if res[i].GetPartition() != want {
			t.Errorf("key %q went to partition %d, want %d", k, res[i].GetPartition(), want)
		}
	}
	// "foobar" over 50 partitions is 16 (toPositive(-790332482) = 1357151166).
	if p := e.produce("keyed", kv("foobar", "again"))[0].GetPartition(); p != 16 {
		t.Errorf("foobar went to partition %d, want 16", p)
	}
}

func TestProducePartitioning(t *testing.T) {
	e := newEnv(t)
	e.createTopic("spread", 4, nil)
	// A request's null-key records go together to one partition, in their
	// order, and each request's to the next partition: 8 requests of 3
	// records over 4 partitions, 6 each, each request in one partition with
	// consecutive offsets.
	count := map[int32]int{}
	seen := map[int32]bool{}
	for i := range 8 {
		res := e.produce("spread", val(fmt.Sprint(i, "a")), val(fmt.Sprint(i, "b")), kv("k", "keyed"), val(fmt.Sprint(i, "c")))
		p := res[0].GetPartition()
		if res[1].GetPartition() != p || res[3].GetPartition() != p {
			t.Fatalf("request %d: keyless records went to partitions %d, %d, %d, want one", i, p, res[1].GetPartition(), res[3].GetPartition())
		}
		if res[1].GetOffset() != res[0].GetOffset()+1 {
			t.Errorf("request %d: keyless offsets %d, %d: not consecutive", i, res[0].GetOffset(), res[1].GetOffset())
		}
		if i < 4 {
			if seen[p] {
				t.Errorf("request %d went to partition %d again within the first 4 requests", i, p)
			}
			seen[p] = true
		}
		count[p] += 3
	}
	for p := range int32(4) {
		if count[p] != 6 {
			t.Errorf("partition %d got %d keyless records, want 6 (all: %v)", p, count[p], count)
		}
	}
	// An explicit partition wins, and an explicit 0 is partition 0.
	res := e.produce("spread",
		&brokerv1.ProduceRecord{Key: []byte("foobar"), Value: []byte("x"), Partition: ptr[int32](3)},
		&brokerv1.ProduceRecord{Value: []byte("y"), Partition: ptr[int32](0)},
		&brokerv1.ProduceRecord{Value: []byte("z"), Partition: ptr[int32](0)},
	)
	if res[0].GetPartition() != 3 || res[1].GetPartition() != 0 || res[2].GetPartition() != 0 {
		t.Errorf("explicit partitions: got %v", res)
	}
	// Offsets within one partition of one request are consecutive.
	if res[2].GetOffset() != res[1].GetOffset()+1 {
		t.Errorf("offsets %d then %d in one partition of one request", res[1].GetOffset(), res[2].GetOffset())
	}
}

// refusingValidator refuses records whose value is "bad".
type refusingValidator struct{ calls int }

func (v *refusingValidator) ValidateProduce(ctx context.Context, topic string, cfg *broker.TopicConfig, recs []broker.ProduceRecord) error {
	v.calls++
	var bad []*broker.RecordError
	for i, r := range recs {
		if string(r.Value) == "bad" {
			bad = append(bad, &broker.RecordError{Index: i, Err: errors.New("schema id 42 is not a version of subject " + topic + "-value")})
		}
	}
	if bad != nil {
		return &broker.ProduceError{Topic: topic, Records: bad}
	}
	return nil
}

func TestProduceValidatorRefusesWholeRequest(t *testing.T) {
	v := &refusingValidator{}
	e := newEnv(t, func(c *broker.Config) { c.Validator = v })
	e.createTopic("typed", 2, nil)
	_, err := e.client.Produce(ctxT(t), connect.NewRequest(&brokerv1.ProduceRequest{Topic: "typed", Records: []*brokerv1.ProduceRecord{
		val("good"), val("bad"), val("good"), val("bad"),
	}}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("got %v, want InvalidArgument", err)
	}
	want := "produce typed: record 1: schema id 42 is not a version of subject typed-value; record 3: schema id 42 is not a version of subject typed-value"
	if msg := connectMessage(err); msg != want {
		t.Errorf("message %q\nwant %q", msg, want)
	}
	for p := range int32(2) {
		if hw := e.fetch("typed", p, 0).GetHighWatermark(); hw != 0 {
			t.Errorf("partition %d has %d records after a refused request", p, hw)
		}
	}
	e.produce("typed", val("good"))
	if v.calls != 2 {
		t.Errorf("validator called %d times, want 2", v.calls)
	}
}

// envelopeKeyer strips a 5-byte schema envelope from keys, as schema
// enforcement will.
type envelopeKeyer struct{ refusingValidator }

func (envelopeKeyer) PartitionKey(topic string, cfg *broker.TopicConfig, key []byte) []byte {
	if len(key) >= 5 && key[0] == 0 {
		return key[5:]
	}
	return key
}

func TestProducePartitionKeyerHashesPayload(t *testing.T) {
	e := newEnv(t, func(c *broker.Config) { c.Validator = &envelopeKeyer{} })
	e.createTopic("typed", 50, nil)
	// Two schema ids, same payload "foobar": both land on murmur2("foobar")'s
	// partition, 16 of 50.
	for _, id := range []byte{1, 2} {
		key := append([]byte{0, 0, 0, 0, id}, "foobar"...)
		if p := e.produce("typed", &brokerv1.ProduceRecord{Key: key, Value: []byte("v")})[0].GetPartition(); p != 16 {
			t.Errorf("schema id %d: partition %d, want 16", id, p)
		}
	}
}

func connectMessage(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Message()
	}
	return err.Error()
}

func BenchmarkProduce(b *testing.B) {
	e := newEnv(b)
	e.createTopic("bench", 8, nil)
	const batch, size = 64, 1024
	value := bytes.Repeat([]byte("x"), size)
	b.SetBytes(batch * size)
	b.ReportAllocs()
	// 8 callers per CPU: requests in flight, as producers run them, so the
	// log's group commit has something to group.
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		recs := make([]*brokerv1.ProduceRecord, batch)
		for i := range recs {
			recs[i] = &brokerv1.ProduceRecord{Value: value}
		}
		for pb.Next() {
			if _, err := e.client.Produce(context.Background(), connect.NewRequest(&brokerv1.ProduceRequest{Topic: "bench", Records: recs})); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
