package broker

import (
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/broker/internal/log"
)

// BenchmarkStatsNote measures what the produce paths pay for the metrics
// per request of 100 records of 1 KiB: the byte sum over the records and
// two atomic adds (compare with BenchmarkProduceStats' time per request).
func BenchmarkStatsNote(b *testing.B) {
	const n = 100
	value := make([]byte, 1<<10)
	recs := make([]ProduceRecord, n)
	lrecs := make([]log.Record, n)
	for i := range recs {
		recs[i] = ProduceRecord{Key: fmt.Append(nil, "key-", i), Value: value}
		lrecs[i] = log.Record{Key: recs[i].Key, Value: value}
	}
	t := &topic{stats: newPartStats(1)}
	b.Run("kafka", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			t.noteQueued(0, recs)
		}
	})
	starts := []int{0, len(lrecs)}
	b.Run("connect", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			t.noteAppended(lrecs, starts)
		}
	})
	b.Run("read", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			t.noteRead(0, lrecs)
		}
	})
	if got := t.stats[0].producedRecords.Load(); got == 0 {
		b.Fatal("nothing counted")
	}
}
