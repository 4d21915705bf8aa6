package kafka_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/broker/kafka"
)

// TestMain makes every test of the package poison request buffers as they
// are returned to their pool, so that a batch still pointing into one is
// written (or read back) as garbage. Benchmarks run unpoisoned.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		kafka.PoisonReusedBuffers.Store(true)
	}
	os.Exit(m.Run())
}

// TestProduceBufferReuse: pipelined produce requests, each with different
// bytes, from an idempotent kgo producer (up to 5 requests in flight per
// partition leader, so request buffers are reused while earlier batches are
// still queued to the log) come back byte for byte. Released buffers are
// poisoned, so a buffer reused before the log wrote its batch shows up as
// a record that differs (or as a race under -race).
func TestProduceBufferReuse(t *testing.T) {
	addr, _, srv := startServer(t)
	const partitions, n = 4, 20_000
	createTopicCore(t, srv, "reuse", partitions, nil)
	cl := newClient(t, addr, kgo.DefaultProduceTopic("reuse"),
		kgo.ProducerLinger(time.Millisecond), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerBatchMaxBytes(64<<10), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	value := func(i int) []byte {
		// 100 to 1100 bytes, the record's number repeated.
		return bytes.Repeat([]byte(fmt.Sprintf("%08d|", i)), 11+i%100)
	}
	before := kafka.RequestBuffersReused.Load()
	ctx := testCtx(t)
	var failed atomic.Int64
	for i := range n {
		cl.Produce(ctx, &kgo.Record{Partition: int32(i % partitions), Key: []byte(fmt.Sprint(i)), Value: value(i)},
			func(_ *kgo.Record, err error) {
				if err != nil && failed.Add(1) == 1 {
					t.Errorf("produce: %v", err)
				}
			})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if failed.Load() > 0 {
		t.Fatalf("%d records failed", failed.Load())
	}
	if kafka.RequestBuffersReused.Load() == before {
		t.Fatal("no request buffer was returned to its pool: the test does not exercise reuse")
	}
	got := consumeAll(t, addr, "reuse", partitions, n)
	for p := range int32(partitions) {
		recs := got[p]
		if len(recs) != n/partitions {
			t.Fatalf("partition %d: %d records, want %d", p, len(recs), n/partitions)
		}
		for j, r := range recs {
			i := j*partitions + int(p)
			if string(r.Key) != fmt.Sprint(i) || !bytes.Equal(r.Value, value(i)) || r.Offset != int64(j) {
				t.Fatalf("partition %d offset %d: key %q value %.40q…, want record %d", p, r.Offset, r.Key, r.Value, i)
			}
		}
	}
}

// TestProduceAcks0KeepsBuffer: an acks=0 produce has no response to wait
// for its batches to be written, so its request buffer is never reused.
func TestProduceAcks0KeepsBuffer(t *testing.T) {
	addr, _, srv := startServer(t)
	createTopicCore(t, srv, "acks0", 1, nil)
	cl := newClient(t, addr, kgo.DefaultProduceTopic("acks0"), kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	ctx := testCtx(t)
	before := kafka.RequestBuffersReused.Load()
	for i := range 100 {
		cl.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i))}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	consumeAll(t, addr, "acks0", 1, 100)
	if d := kafka.RequestBuffersReused.Load() - before; d != 0 {
		t.Fatalf("%d request buffers reused after acks=0 produces", d)
	}
}
