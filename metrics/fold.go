package metrics

import "fmt"

// Folding bounds the per-partition series (Config.MaxPartitions, the
// --metrics-max-partitions flag).
//
// A scrape walks the partitions in order (topic name, then partition; for
// group lag: group, topic, partition) with a budget of MaxPartitions
// series per metric:
//
//   - a topic whose partitions all fit the remaining budget gets one series
//     per partition;
//   - a topic that does not fit, while budget remains, gets one series with
//     partition="other" holding the sum over its partitions (one unit of
//     budget);
//   - once the budget is spent, every further topic is summed into the one
//     series topic="other", partition="other".
//
// So a metric has at most MaxPartitions+1 series, a topic is either whole
// or folded (never split between the two), and sums by topic, or over
// everything, stay exact. sluice_metrics_folded_partitions says how many
// partitions were folded at the last scrape; when it is above zero, raise
// the cap or read the folded topics per partition with `sluice topic
// describe`.

// otherLabel is the label value of folded series.
const otherLabel = "other"

// foldKey is one series' identity: the outer label (topic, or group and
// topic) and the partition label.
type foldKey struct {
	outer     [2]string // topic in [0]; for lag, group in [0] and topic in [1]
	partition string
}

// folder assigns series under a budget. Call add for each partition in
// order; each unit (a topic, or a group's topic) is announced by begin with
// its partition count.
type folder struct {
	budget int
	folded int
	// mode of the current unit.
	whole, otherPartition bool
	outer                 [2]string
}

// begin starts a unit of n partitions named by outer.
func (f *folder) begin(outer [2]string, n int) {
	f.outer = outer
	switch {
	case n <= f.budget:
		f.whole, f.otherPartition = true, false
		f.budget -= n
	case f.budget > 0:
		f.whole, f.otherPartition = false, true
		f.budget--
		f.folded += n
	default:
		f.whole, f.otherPartition = false, false
		f.folded += n
	}
}

// key returns the series of partition p of the current unit.
func (f *folder) key(p int32) foldKey {
	switch {
	case f.whole:
		return foldKey{outer: f.outer, partition: fmt.Sprint(p)}
	case f.otherPartition:
		return foldKey{outer: f.outer, partition: otherLabel}
	}
	var o [2]string
	for i := range o {
		if f.outer[i] != "" {
			o[i] = otherLabel
		}
	}
	return foldKey{outer: o, partition: otherLabel}
}

// sums accumulates values per series in first-seen order.
type sums struct {
	order []foldKey
	vals  map[foldKey][]float64
	n     int // values per series
}

func newSums(n int) *sums { return &sums{vals: map[foldKey][]float64{}, n: n} }

// add adds vs to k's series.
func (s *sums) add(k foldKey, vs ...float64) {
	cur, ok := s.vals[k]
	if !ok {
		cur = make([]float64, s.n)
		s.vals[k] = cur
		s.order = append(s.order, k)
	}
	for i, v := range vs {
		cur[i] += v
	}
}

func errorf(format string, args ...any) error {
	return fmt.Errorf("metrics: "+format, args...)
}
