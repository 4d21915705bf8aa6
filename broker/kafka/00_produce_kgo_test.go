package kafka_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

// murmur2 is Kafka's default partitioner hash (Java's Utils.murmur2),
// written out here so the test checks kgo and the broker against the
// definition rather than against each other.
func murmur2(data []byte) int32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	n := len(data)
	h := seed ^ uint32(n)
	for i := 0; i+4 <= n; i += 4 {
		k := binary.LittleEndian.Uint32(data[i:])
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[n&^3:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

func kafkaPartition(key []byte, n int) int32 { return (murmur2(key) & 0x7fffffff) % int32(n) }

// consumeAll reads topic's partitions from the start until want records
// arrived, and returns them by partition.
func consumeAll(t testing.TB, addr, topic string, partitions, want int, opts ...kgo.Opt) map[int32][]*kgo.Record {
	t.Helper()
	offsets := map[int32]kgo.Offset{}
	for p := range partitions {
		offsets[int32(p)] = kgo.NewOffset().AtStart()
	}
	cl := newClient(t, addr, append([]kgo.Opt{kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}), kgo.FetchMaxWait(500 * time.Millisecond)}, opts...)...)
	got := map[int32][]*kgo.Record{}
	n := 0
	ctx := testCtx(t)
	for n < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", n, want, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			got[r.Partition] = append(got[r.Partition], r)
			n++
		})
	}
	return got
}

// TestKgoRoundTripPerCodec: for each codec, 10k keyed records with headers
// on 8 partitions go in through kgo and come back identical, at dense
// offsets, each on the partition Kafka's murmur2 picks for its key.
func TestKgoRoundTripPerCodec(t *testing.T) {
	codecs := []struct {
		name  string
		codec kgo.CompressionCodec
	}{
		{"none", kgo.NoCompression()}, {"gzip", kgo.GzipCompression()}, {"snappy", kgo.SnappyCompression()},
		{"lz4", kgo.Lz4Compression()}, {"zstd", kgo.ZstdCompression()},
	}
	addr, _, srv := startServer(t)
	const n, parts = 10_000, 8
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			topic := "rt-" + c.name
			createTopicCore(t, srv, topic, parts, nil)
			cl := newClient(t, addr, kgo.ProducerBatchCompression(c.codec), kgo.DefaultProduceTopic(topic))
			recs := make([]*kgo.Record, n)
			ts := time.UnixMilli(1_700_000_000_000)
			for i := range recs {
				recs[i] = &kgo.Record{
					Key:       fmt.Appendf(nil, "key-%d", i%997),
					Value:     bytes.Repeat(fmt.Appendf(nil, "value %d;", i), 1+i%7),
					Headers:   []kgo.RecordHeader{{Key: "i", Value: fmt.Appendf(nil, "%d", i)}},
					Timestamp: ts.Add(time.Duration(i) * time.Millisecond),
				}
			}
			if err := cl.ProduceSync(testCtx(t), recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			sent := map[string]*kgo.Record{}
			for _, r := range recs {
				if want := kafkaPartition(r.Key, parts); r.Partition != want {
					t.Fatalf("key %q went to partition %d, murmur2 says %d", r.Key, r.Partition, want)
				}
				sent[string(r.Headers[0].Value)] = r
			}
			got := consumeAll(t, addr, topic, parts, n)
			for p, rs := range got {
				for i, r := range rs {
					if r.Offset != int64(i) {
						t.Fatalf("partition %d: record %d has offset %d", p, i, r.Offset)
					}
					s := sent[string(r.Headers[0].Value)]
					if s == nil || s.Partition != p || s.Offset != r.Offset || !bytes.Equal(s.Key, r.Key) || !bytes.Equal(s.Value, r.Value) || !s.Timestamp.Equal(r.Timestamp) {
						t.Fatalf("partition %d offset %d: got %q=%q at %v, sent %+v", p, r.Offset, r.Key, r.Value, r.Timestamp, s)
					}
				}
			}
		})
	}
}

// TestKgoAcks0 produces without acknowledgements; the records arrive.
func TestKgoAcks0(t *testing.T) {
	addr, _, srv := startServer(t)
	createTopicCore(t, srv, "a0", 1, nil)
	cl := newClient(t, addr, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite(), kgo.DefaultProduceTopic("a0"))
	for i := range 100 {
		cl.Produce(testCtx(t), &kgo.Record{Value: fmt.Appendf(nil, "%d", i)}, nil)
	}
	if err := cl.Flush(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	got := consumeAll(t, addr, "a0", 1, 100)
	for i, r := range got[0] {
		if string(r.Value) != fmt.Sprint(i) {
			t.Fatalf("record %d is %q", i, r.Value)
		}
	}
}

// TestKafkaAndConnectByteForByte: records produced over Kafka read back
// identical through the broker's Connect-path Fetch, and records produced
// through the Connect path read back identical over Kafka.
func TestKafkaAndConnectByteForByte(t *testing.T) {
	addr, _, srv := startServer(t)
	createTopicCore(t, srv, "x", 1, nil)
	cl := newClient(t, addr, kgo.DefaultProduceTopic("x"))
	in := []*kgo.Record{
		{Key: []byte("k"), Value: []byte("v"), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("1")}, {Key: "h", Value: nil}}, Timestamp: time.UnixMilli(1234)},
		{Key: nil, Value: []byte{0, 1, 2, 255}, Timestamp: time.UnixMilli(5678)},
		{Key: []byte{}, Value: nil, Timestamp: time.UnixMilli(9)},
	}
	if err := cl.ProduceSync(testCtx(t), in...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	res, err := srv.Broker.Fetch(testCtx(t), broker.FetchRequest{Topic: "x", Offset: 0})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != len(in) {
		t.Fatalf("%d records over the Connect path", len(res.Records))
	}
	for i, r := range res.Records {
		s := in[i]
		if !sameBytes(r.Key, s.Key) || !sameBytes(r.Value, s.Value) || r.Timestamp != s.Timestamp.UnixMilli() || len(r.Headers) != len(s.Headers) {
			t.Fatalf("record %d: %+v, sent %+v", i, r, s)
		}
		for j, h := range r.Headers {
			if h.Key != s.Headers[j].Key || !sameBytes(h.Value, s.Headers[j].Value) {
				t.Fatalf("record %d header %d: %+v", i, j, h)
			}
		}
	}
	// The reverse.
	p := int32(0)
	out := []broker.ProduceRecord{
		{Key: []byte("ck"), Value: []byte("cv"), Headers: []broker.Header{{Key: "a", Value: []byte("b")}}, Timestamp: 42, Partition: &p},
		{Value: []byte{}, Timestamp: 43, Partition: &p},
	}
	if _, err := srv.Broker.Produce(testCtx(t), "x", out); err != nil {
		t.Fatal(err)
	}
	got := consumeAll(t, addr, "x", 1, 5)[0][3:]
	for i, r := range got {
		s := out[i]
		if !sameBytes(r.Key, s.Key) || !sameBytes(r.Value, s.Value) || r.Timestamp.UnixMilli() != s.Timestamp || len(r.Headers) != len(s.Headers) || r.Offset != int64(3+i) {
			t.Fatalf("Connect record %d over Kafka: %+v", i, r)
		}
	}
}

func crcC(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }

func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

// registerAvro registers schema under subject through the registry's REST
// API and returns its id.
func registerAvro(t testing.TB, url, subject, schema string) int32 {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"schema": schema})
	resp, err := http.Post(url+"/subjects/"+subject+"/versions", "application/vnd.schemaregistry.v1+json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		ID int32 `json:"id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("register %s: status %d, %v", subject, resp.StatusCode, err)
	}
	return out.ID
}

// avroLong is the Confluent wire form of an Avro record with one long
// field: magic 0, the schema id, then the zigzag varint.
func avroLong(id int32, v int64) []byte {
	b := []byte{0}
	b = binary.BigEndian.AppendUint32(b, uint32(id))
	return binary.AppendVarint(b, v)
}

// rawBatch encodes values as an uncompressed batch from a plain producer.
func rawBatch(values [][]byte) []byte { return producerBatch(-1, -1, -1, values) }

// producerBatch encodes values as an uncompressed batch from producer id
// pid at epoch, its first record numbered seq (-1s: a plain producer).
func producerBatch(pid int64, epoch int16, seq int32, values [][]byte) []byte {
	var body []byte
	for i, v := range values {
		r := kmsg.Record{TimestampDelta64: int64(i), OffsetDelta: int32(i), Value: v}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		body = r.AppendTo(body)
	}
	b := kmsg.RecordBatch{
		Length: int32(49 + len(body)), Magic: 2, LastOffsetDelta: int32(len(values) - 1),
		FirstTimestamp: 1_700_000_000_000, MaxTimestamp: 1_700_000_000_000 + int64(len(values)-1),
		ProducerID: pid, ProducerEpoch: epoch, FirstSequence: seq, NumRecords: int32(len(values)), Records: body,
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[17:], crcC(raw[21:]))
	return raw
}

// TestSchemaRefusalOverKafka: on a topic whose values must be Avro of the
// subject's schema, a batch with records 3 and 7 bad is refused with
// INVALID_RECORD naming both (KIP-467), nothing of it is written, and the
// other partition of the same request is appended. kgo reports
// kerr.InvalidRecord.
func TestSchemaRefusalOverKafka(t *testing.T) {
	addr, url, srv := startServer(t)
	id := registerAvro(t, url, "orders-value", `{"type":"record","name":"Order","fields":[{"name":"id","type":"long"}]}`)
	createTopicCore(t, srv, "orders", 2, map[string]string{"value.schema.validation": "payload"})
	values := make([][]byte, 10)
	for i := range values {
		values[i] = avroLong(id, int64(i))
	}
	values[3] = append(avroLong(id, 3), 0x02) // a byte left over after the datum
	values[7] = avroLong(id+1000, 7)          // an id that is not a version of the subject
	good := [][]byte{avroLong(id, 1), avroLong(id, 2)}
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "orders"
	for p, vs := range [][][]byte{values, good} {
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = int32(p), rawBatch(vs)
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	cl := newClient(t, addr)
	resp, err := req.RequestWith(testCtx(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	p0, p1 := resp.Topics[0].Partitions[0], resp.Topics[0].Partitions[1]
	if p0.ErrorCode != kerr.InvalidRecord.Code || len(p0.ErrorRecords) != 2 || p0.ErrorRecords[0].RelativeOffset != 3 || p0.ErrorRecords[1].RelativeOffset != 7 {
		t.Fatalf("partition 0: %v, record errors %+v", kerr.ErrorForCode(p0.ErrorCode), p0.ErrorRecords)
	}
	for _, er := range p0.ErrorRecords {
		if msg := deref(er.ErrorMessage); !strings.Contains(msg, "orders-value") && !strings.Contains(msg, fmt.Sprint(id)) {
			t.Errorf("record %d: message %q names neither the subject nor the id", er.RelativeOffset, msg)
		}
	}
	t.Logf("refusal: %s", deref(p0.ErrorMessage))
	if msg := deref(p0.ErrorMessage); !strings.HasPrefix(msg, "produce orders/0: 2 of 10 records refused; record 3: ") || !strings.Contains(msg, "; record 7: ") {
		t.Errorf("error message %q", msg)
	}
	if p1.ErrorCode != 0 || p1.BaseOffset != 0 {
		t.Fatalf("partition 1: %v at %d", kerr.ErrorForCode(p1.ErrorCode), p1.BaseOffset)
	}
	info, err := srv.Broker.DescribeTopic("orders")
	if err != nil {
		t.Fatal(err)
	}
	if info.Partitions[0].HighWatermark != 0 || info.Partitions[1].HighWatermark != 2 {
		t.Fatalf("high watermarks %d and %d, want 0 and 2", info.Partitions[0].HighWatermark, info.Partitions[1].HighWatermark)
	}
	// kgo surfaces the code.
	pc := newClient(t, addr, kgo.DefaultProduceTopic("orders"))
	err = pc.ProduceSync(testCtx(t), &kgo.Record{Value: values[3], Partition: 0}).FirstErr()
	if !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("kgo: %v, want INVALID_RECORD", err)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestLongPollWakesOnProduce: a consumer waiting with a long MaxWait gets
// a record produced after it started waiting.
func TestLongPollWakesOnProduce(t *testing.T) {
	addr, _, srv := startServer(t)
	createTopicCore(t, srv, "lp", 1, nil)
	cons := newClient(t, addr, kgo.ConsumeTopics("lp"), kgo.FetchMaxWait(time.Minute), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := make(chan *kgo.Record, 1)
	go func() {
		ctx := testCtx(t)
		for ctx.Err() == nil {
			fs := cons.PollFetches(ctx)
			if r := fs.Records(); len(r) > 0 {
				got <- r[0]
				return
			}
		}
	}()
	prod := newClient(t, addr, kgo.DefaultProduceTopic("lp"))
	if err := prod.ProduceSync(testCtx(t), &kgo.Record{Value: []byte("wake")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if string(r.Value) != "wake" {
			t.Fatalf("got %q", r.Value)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the waiting consumer did not get the record (its MaxWait is a minute)")
	}
}

// BenchmarkKgoProduce drives a whole node's Kafka listener with one kgo
// producer (acks=all, 1 KiB values, 8 partitions, no compression, linger
// 5 ms, idempotent), as the perf suite's kfakebench does: plain values on
// an unvalidated topic, and Avro values (Confluent envelope) on a topic
// with value.schema.validation=payload. Compare the two for the cost of
// enforcement; the node runs fsync=never so the disk does not dominate.
func BenchmarkKgoProduce(b *testing.B) {
	addr, url, srv := startServer(b)
	id := registerAvro(b, url, "avro-value", `{"type":"record","name":"R","fields":[{"name":"id","type":"long"},{"name":"payload","type":"string"}]}`)
	createTopicCore(b, srv, "plain", 8, map[string]string{"value.schema.validation": "none"})
	createTopicCore(b, srv, "avro", 8, map[string]string{"value.schema.validation": "payload"})
	plain := bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz"), 40)[:1024]
	// 8 bytes of envelope and id, a 2-byte string length, the string.
	avro := binary.AppendVarint(avroLong(id, 12345), int64(1024-8-2))
	avro = append(avro, plain[:1024-len(avro)]...)
	for _, c := range []struct {
		topic string
		value []byte
	}{{"plain", plain}, {"avro", avro}} {
		b.Run(c.topic, func(b *testing.B) {
			cl := newClient(b, addr, kgo.DefaultProduceTopic(c.topic), kgo.ProducerLinger(5*time.Millisecond), kgo.ProducerBatchCompression(kgo.NoCompression()))
			ctx := context.Background()
			b.SetBytes(int64(len(c.value)))
			b.ReportAllocs()
			var failed atomic.Int64
			for b.Loop() {
				cl.Produce(ctx, &kgo.Record{Value: c.value}, func(_ *kgo.Record, err error) {
					if err != nil {
						failed.Add(1)
					}
				})
			}
			if err := cl.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d records failed", n)
			}
		})
	}
}

// BenchmarkKgoConsume reads 100k 1 KiB records on 8 partitions from the
// start with one kgo consumer per iteration, as the perf suite's consume
// phase does.
func BenchmarkKgoConsume(b *testing.B) {
	addr, _, srv := startServer(b)
	createTopicCore(b, srv, "c", 8, nil)
	const n = 100_000
	value := bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz"), 40)[:1024]
	cl := newClient(b, addr, kgo.DefaultProduceTopic("c"), kgo.ProducerLinger(5*time.Millisecond))
	for range n {
		cl.Produce(context.Background(), &kgo.Record{Value: value}, nil)
	}
	if err := cl.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(n * 1024)
	b.ReportAllocs()
	for b.Loop() {
		consumeAll(b, addr, "c", 8, n)
	}
}
