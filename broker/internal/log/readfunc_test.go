package log

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
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

// TestReadFuncHeaders checks records with headers (decoded into the reused
// slab, keys aliasing the buffer) against Read, over reads that reuse one
// buffer, and that such reads allocate nothing per record.
func TestReadFuncHeaders(t *testing.T) {
	p := benchOpenT(t)
	for b := range 6 {
		recs := benchRecords(50)
		for i := range recs {
			for h := range (i + b) % 4 {
				recs[i].Headers = append(recs[i].Headers, Header{Key: fmt.Sprintf("h%d-%d", h, i), Value: []byte(fmt.Sprint("v", h))})
			}
			if i%5 == 0 {
				recs[i].Headers = append(recs[i].Headers, Header{Key: "null"}, Header{Key: "", Value: []byte{}})
			}
		}
		if _, err := p.Append(context.Background(), recs); err != nil {
			t.Fatal(err)
		}
	}
	var rb ReadBuffer
	for _, lim := range []struct{ recs, bytes int }{{0, 0}, {7, 0}, {0, 10000}} {
		for off := int64(0); off < p.HighWatermark(); off += 13 {
			want, err := p.Read(off, lim.recs, lim.bytes)
			if err != nil {
				t.Fatal(err)
			}
			var got []Record
			if _, err := p.ReadFunc(off, lim.recs, lim.bytes, &rb, func(r *Record) error {
				c := *r
				c.Key, c.Value = bytes.Clone(r.Key), bytes.Clone(r.Value)
				c.Headers = nil
				for _, h := range r.Headers {
					c.Headers = append(c.Headers, Header{Key: strings.Clone(h.Key), Value: bytes.Clone(h.Value)})
				}
				got = append(got, c)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			sameRecords(t, got, want)
		}
	}
	visit := func(*Record) error { return nil }
	allocs := func(n int) float64 {
		return testing.AllocsPerRun(20, func() {
			if _, err := p.ReadFunc(0, n, 0, &rb, visit); err != nil {
				t.Fatal(err)
			}
		})
	}
	if few, many := allocs(5), allocs(300); many > few {
		t.Errorf("ReadFunc allocations: %v for 5 records, %v for 300; want no growth with the records", few, many)
	}
}
