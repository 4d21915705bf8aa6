package log

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// TestReadFuncMatchesRead checks that ReadFunc visits exactly the records
// Read returns, for every start offset and a range of limits, reusing one
// buffer across all the reads.
func TestReadFuncMatchesRead(t *testing.T) {
	p := benchOpenT(t)
	for range 8 {
		if _, err := p.Append(context.Background(), benchRecords(64)); err != nil {
			t.Fatal(err)
		}
	}
	var rb ReadBuffer
	for _, lim := range []struct{ recs, bytes int }{{0, 0}, {1, 0}, {0, 1}, {0, 5000}, {100, 1 << 20}, {0, 70 << 10}} {
		for off := int64(0); off < p.HighWatermark(); off += 37 {
			want, err := p.Read(off, lim.recs, lim.bytes)
			if err != nil {
				t.Fatal(err)
			}
			var got []Record
			n, err := p.ReadFunc(off, lim.recs, lim.bytes, &rb, func(r *Record) error {
				c := *r
				c.Key, c.Value = bytes.Clone(r.Key), bytes.Clone(r.Value)
				got = append(got, c)
				return nil
			})
			if err != nil || n != len(got) {
				t.Fatalf("ReadFunc(%d, %+v) = %d, %v; visited %d", off, lim, n, err, len(got))
			}
			sameRecords(t, got, want)
		}
	}
}

// TestReadFuncVisitError checks that an error from visit ends the read and
// comes back unchanged.
func TestReadFuncVisitError(t *testing.T) {
	p := benchOpenT(t)
	if _, err := p.Append(context.Background(), benchRecords(10)); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	seen := 0
	n, err := p.ReadFunc(0, 0, 0, nil, func(*Record) error {
		seen++
		if seen == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 2 {
		t.Fatalf("ReadFunc = %d, %v; want 2, stop", n, err)
	}
	if _, err := p.ReadFunc(99, 0, 0, nil, func(*Record) error { return nil }); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("ReadFunc(99) error = %v, want ErrOffsetOutOfRange", err)
	}
}

func benchOpenT(t *testing.T) *Partition {
	t.Helper()
	p, err := Open(t.TempDir(), Config{Fsync: FsyncPolicy{Mode: FsyncNever}, MaintenanceInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// BenchmarkReadFunc is BenchmarkRead through ReadFunc with one reused
// buffer: the allocations per read are the difference.
func BenchmarkReadFunc(b *testing.B) {
	p := benchOpen(b, FsyncNever)
	recs := benchRecords(64)
	for range 1024 {
		if _, err := p.Append(context.Background(), recs); err != nil {
			b.Fatal(err)
		}
	}
	hw := p.HighWatermark()
	b.ReportAllocs()
	var rb ReadBuffer
	var off, n int64
	visit := func(r *Record) error {
		n += int64(len(r.Value))
		off = r.Offset + 1
		return nil
	}
	for b.Loop() {
		if _, err := p.ReadFunc(off, 0, 1<<20, &rb, visit); err != nil {
			b.Fatal(err)
		}
		if off == hw {
			off = 0
		}
	}
	b.SetBytes(n / int64(b.N))
	b.ReportMetric(float64(n)/1e6/b.Elapsed().Seconds(), "MB/s")
}
