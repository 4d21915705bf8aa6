package broker_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/broker"
)

// BenchmarkProduceStats measures the produce path with the metrics'
// per-partition counters (the default) and without them: Kafka batches of
// 100 records of 1 KiB through ProduceBatches and Wait, and the same
// records through the Connect core (Produce), fsync=never so that the
// disk does not hide the difference. Compare the pairs with benchstat.
func BenchmarkProduceStats(b *testing.B) {
	const n, size = 100, 1 << 10
	value := make([]byte, size)
	pairs := make([][2][]byte, n)
	recs := make([]broker.ProduceRecord, n)
	p0 := int32(0)
	for i := range pairs {
		pairs[i] = [2][]byte{[]byte(fmt.Sprint("key-", i)), value}
		recs[i] = broker.ProduceRecord{Key: pairs[i][0], Value: value, Partition: &p0}
	}
	raw := kbatch(1000, pairs...)
	for _, stats := range []bool{true, false} {
		b.Run(fmt.Sprintf("kafka/stats=%v", stats), func(b *testing.B) {
			e := newEnv(b)
			e.createTopic("t", 1, nil)
			if !stats {
				broker.DisableStats(e.b, "t")
			}
			ctx := context.Background()
			b.SetBytes(n * size)
			b.ReportAllocs()
			for b.Loop() {
				batch := append([]byte(nil), raw...) // the broker may rewrite it in place
				out, err := e.b.ProduceBatches(ctx, "t", []broker.PartitionBatch{{Partition: 0, Raw: batch}})
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := out[0].Wait(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("connect/stats=%v", stats), func(b *testing.B) {
			e := newEnv(b)
			e.createTopic("t", 1, nil)
			if !stats {
				broker.DisableStats(e.b, "t")
			}
			ctx := context.Background()
			b.SetBytes(n * size)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.b.Produce(ctx, "t", recs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
