package loadgen

import (
	"math/bits"
	"time"
)

// histogram is a log-linear latency histogram in the spirit of HDR
// Histogram: values (nanoseconds) are grouped by their power of two, and
// each power of two is split into 2^histSubBits linear buckets, so every
// recorded value is known to within 1/2^histSubBits (≈1.6 %) while the whole
// range of int64 fits in a few thousand counters. Not safe for concurrent
// use; merge per-goroutine histograms instead.
type histogram struct {
	counts [64 << histSubBits]uint64
	n      uint64
	max    int64
}

const histSubBits = 6

// bucket returns the index of v's bucket. Values below 2^histSubBits get a
// bucket each; above, the top histSubBits bits after the leading one pick
// the sub-bucket.
func bucket(v int64) int {
	if v < 1<<histSubBits {
		return int(max(v, 0))
	}
	u := uint64(v)
	exp := bits.Len64(u) - 1 // position of the leading one, >= histSubBits
	sub := int(u>>(exp-histSubBits)) & (1<<histSubBits - 1)
	return (exp-histSubBits+1)<<histSubBits | sub
}

// bucketHigh is the largest value that falls in bucket i, so quantiles
// never under-report.
func bucketHigh(i int) int64 {
	if i < 1<<histSubBits {
		return int64(i)
	}
	exp := i>>histSubBits + histSubBits - 1
	sub := i & (1<<histSubBits - 1)
	low := uint64(1)<<exp | uint64(sub)<<(exp-histSubBits)
	return int64(low + uint64(1)<<(exp-histSubBits) - 1)
}

// record adds one latency.
func (h *histogram) record(d time.Duration) {
	v := int64(d)
	h.counts[bucket(v)]++
	h.n++
	h.max = max(h.max, v)
}

// merge adds o's counts to h.
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// reset empties h.
func (h *histogram) reset() { *h = histogram{} }

// quantile returns the latency at quantile q (0..1): the upper bound of the
// bucket holding the q-th value, capped at the maximum seen.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(bucketHigh(i), h.max))
		}
	}
	return time.Duration(h.max)
}
