package log

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sluicehq/sluice/broker/internal/log/vfs"
)

// benchRecords returns n records with 1 KiB values.
func benchRecords(n int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		v := make([]byte, 1024)
		for j := range v {
			v[j] = byte(i + j)
		}
		recs[i] = Record{Key: []byte(fmt.Sprintf("key-%06d", i)), Value: v}
	}
	return recs
}

func benchOpen(b *testing.B, mode FsyncMode) *Partition {
	p, _ := benchOpenCounting(b, mode)
	return p
}

// benchOpenCounting also returns a count of segment fdatasyncs.
func benchOpenCounting(b *testing.B, mode FsyncMode) (*Partition, *atomic.Int64) {
	b.Helper()
	var syncs atomic.Int64
	fs := vfs.NewFault(vfs.OS, func(op vfs.Op, path string) error {
		if op == vfs.OpSync && strings.HasSuffix(path, ".log") {
			syncs.Add(1)
		}
		return nil
	})
	p, err := Open(b.TempDir(), Config{Fsync: FsyncPolicy{Mode: mode}, SegmentBytes: 256 << 20, MaintenanceInterval: -1, FS: fs})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	return p, &syncs
}

// BenchmarkAppend measures append throughput of 1 KiB records: MB/s is
// record value bytes. With 8 appenders the group commit shares writes and
// fdatasyncs between them.
func BenchmarkAppend(b *testing.B) {
	for _, mode := range []FsyncMode{FsyncNever, FsyncAlways} {
		for _, batch := range []int{1, 64} {
			for _, appenders := range []int{1, 8} {
				name := fmt.Sprintf("fsync=%v/batch=%d/appenders=%d", FsyncPolicy{Mode: mode}, batch, appenders)
				b.Run(name, func(b *testing.B) {
					p, syncs := benchOpenCounting(b, mode)
					recs := benchRecords(batch)
					if mode == FsyncAlways {
						defer func() {
							b.ReportMetric(float64(b.N)/float64(max(syncs.Load(), 1)), "appends/fsync")
						}()
					}
					b.SetBytes(int64(batch * 1024))
					b.ReportAllocs()
					if appenders == 1 {
						for b.Loop() {
							if _, err := p.Append(context.Background(), recs); err != nil {
								b.Fatal(err)
							}
						}
						return
					}
					// RunParallel starts parallelism*GOMAXPROCS goroutines.
					b.SetParallelism(max(1, appenders/runtime.GOMAXPROCS(0)))
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if _, err := p.Append(context.Background(), recs); err != nil {
								b.Error(err)
								return
							}
						}
					})
				})
			}
		}
	}
}

// BenchmarkRead measures sequential reads of 1 KiB records, 1 MiB per Read,
// from a 64 MiB partition (page cache, so this is decode throughput).
func BenchmarkRead(b *testing.B) {
	p := benchOpen(b, FsyncNever)
	recs := benchRecords(64)
	for range 1024 {
		if _, err := p.Append(context.Background(), recs); err != nil {
			b.Fatal(err)
		}
	}
	hw := p.HighWatermark()
	b.ReportAllocs()
	var off int64
	var bytes int64
	for b.Loop() {
		got, err := p.Read(off, 0, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range got {
			bytes += int64(len(r.Value))
		}
		off = got[len(got)-1].Offset + 1
		if off == hw {
			off = 0
		}
	}
	b.ReportMetric(float64(bytes)/1e6/b.Elapsed().Seconds(), "MB/s")
}

// BenchmarkFdatasync is the disk's baseline: a write then one fdatasync,
// what FsyncAlways pays per group commit.
func BenchmarkFdatasync(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("write=%dKiB", size>>10), func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "f"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, size)
			b.SetBytes(int64(size))
			var off int64
			for b.Loop() {
				if _, err := f.WriteAt(buf, off); err != nil {
					b.Fatal(err)
				}
				off += int64(size)
				if err := unix.Fdatasync(int(f.Fd())); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
