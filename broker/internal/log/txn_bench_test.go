package log

import (
	"context"
	"testing"
)

// BenchmarkOpenTxnScan measures what rebuilding the transaction state
// costs Open: a walk of every batch header of every segment (page cache
// warm), reported per batch and per GB of 1 KiB-record batches.
func BenchmarkOpenTxnScan(b *testing.B) {
	dir := b.TempDir()
	p, err := Open(dir, Config{Fsync: FsyncPolicy{Mode: FsyncNever}, SegmentBytes: 64 << 20, MaintenanceInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	const batches = 100_000
	val := make([]byte, 1000)
	for i := range batches {
		recs := []Record{{Key: []byte("k"), Value: val}}
		if i%10 == 0 {
			raw := producerBatch(b, recs, int64(i%7), 0, -1, attrTransactional)
			if _, err := p.AppendBatch(context.Background(), mustParse(b, raw)); err != nil {
				b.Fatal(err)
			}
			if _, err := p.WriteTxnMarker(context.Background(), int64(i%7), 0, i%20 == 0, 0); err != nil {
				b.Fatal(err)
			}
			continue
		}
		if _, err := p.Append(context.Background(), recs); err != nil {
			b.Fatal(err)
		}
	}
	size := p.Size()
	if err := p.Close(); err != nil {
		b.Fatal(err)
	}
	p, err = Open(dir, Config{MaintenanceInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	segs := *p.segs.Load()
	b.ResetTimer()
	for b.Loop() {
		p.txn.mu.Lock()
		p.rebuildTxns(segs)
		p.txn.mu.Unlock()
	}
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(perOp/float64(batches+batches/10), "ns/batch")
	b.ReportMetric(perOp/1e6*float64(1<<30)/float64(size), "ms/GiB")
}
