package loadgen

import (
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	check := func(q float64, want time.Duration) {
		t.Helper()
		got := h.quantile(q)
		// Buckets are 1/64 wide: never below the true value, at most 1/64 above.
		if got < want || float64(got) > float64(want)*(1+1.0/64) {
			t.Errorf("quantile(%v) = %v, want %v within 1/64 above", q, got, want)
		}
	}
	check(0.5, 500*time.Microsecond)
	check(0.99, 990*time.Microsecond)
	check(0.999, 999*time.Microsecond)
	check(1, 1000*time.Microsecond)
	var empty histogram
	if empty.quantile(0.5) != 0 {
		t.Error("empty histogram quantile is not 0")
	}
	var small histogram
	small.record(3)
	small.record(-1) // clock skew in e2e: counted as 0
	if small.quantile(1) != 3 || small.quantile(0.5) != 0 {
		t.Errorf("small values: p50 %v p100 %v", small.quantile(0.5), small.quantile(1))
	}
	var merged histogram
	merged.merge(&h)
	merged.merge(&small)
	if merged.n != 1002 || merged.quantile(1) != 1000*time.Microsecond {
		t.Errorf("merge: n %d max %v", merged.n, merged.quantile(1))
	}
}

func TestHistogramBuckets(t *testing.T) {
	prev := -1
	for v := int64(0); v < 1<<20; v += 1 + v/100 {
		b := bucket(v)
		if b < prev {
			t.Fatalf("bucket(%d) = %d below bucket of a smaller value %d", v, b, prev)
		}
		if hi := bucketHigh(b); hi < v {
			t.Fatalf("bucketHigh(bucket(%d)) = %d, below the value", v, hi)
		}
		prev = b
	}
	if b := bucket(1<<63 - 1); b >= len(histogram{}.counts) {
		t.Fatalf("bucket(MaxInt64) = %d out of range", b)
	}
}
