package metrics

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicehq/sluice/broker"
)

// fakeBroker serves fixed partitions.
type fakeBroker struct{ stats []broker.PartitionStats }

func (f *fakeBroker) Stats(dst []broker.PartitionStats) []broker.PartitionStats {
	return append(dst, f.stats...)
}
func (f *fakeBroker) Refusals() []broker.RefusalCount { return nil }

// partitions returns n partitions of topic, partition p producing p+1
// records.
func partitions(topic string, n int) []broker.PartitionStats {
	out := make([]broker.PartitionStats, n)
	for p := range out {
		out[p] = broker.PartitionStats{Topic: topic, Partition: int32(p), ProducedRecords: int64(p + 1), HighWatermark: int64(p + 1)}
	}
	return out
}

func TestFoldPartitions(t *testing.T) {
	var all []broker.PartitionStats
	all = append(all, partitions("a", 3)...) // 1+2+3 = 6 records
	all = append(all, partitions("b", 4)...) // 10
	all = append(all, partitions("c", 2)...) // 3
	all = append(all, partitions("d", 1)...) // 1
	for _, tc := range []struct {
		name   string
		max    int
		want   string // sluice_produced_records_total series
		folded int
	}{
		{"all fit", 10, `
sluice_produced_records_total{partition="0",topic="a"} 1
sluice_produced_records_total{partition="1",topic="a"} 2
sluice_produced_records_total{partition="2",topic="a"} 3
sluice_produced_records_total{partition="0",topic="b"} 1
sluice_produced_records_total{partition="1",topic="b"} 2
sluice_produced_records_total{partition="2",topic="b"} 3
sluice_produced_records_total{partition="3",topic="b"} 4
sluice_produced_records_total{partition="0",topic="c"} 1
sluice_produced_records_total{partition="1",topic="c"} 2
sluice_produced_records_total{partition="0",topic="d"} 1
`, 0},
		// a fits (3 left 1); b does not: one "other" series (0 left); c and
		// d fold into topic="other".
		{"cap 4", 4, `
sluice_produced_records_total{partition="0",topic="a"} 1
sluice_produced_records_total{partition="1",topic="a"} 2
sluice_produced_records_total{partition="2",topic="a"} 3
sluice_produced_records_total{partition="other",topic="b"} 10
sluice_produced_records_total{partition="other",topic="other"} 4
`, 7},
		// Nothing fits whole: a and b fold per topic, the rest together.
		{"cap 2", 2, `
sluice_produced_records_total{partition="other",topic="a"} 6
sluice_produced_records_total{partition="other",topic="b"} 10
sluice_produced_records_total{partition="other",topic="other"} 4
`, 10},
		{"cap 1", 1, `
sluice_produced_records_total{partition="other",topic="a"} 6
sluice_produced_records_total{partition="other",topic="other"} 14
`, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(Config{MaxPartitions: tc.max})
			if err != nil {
				t.Fatal(err)
			}
			c := &brokerCollector{m: m, b: &fakeBroker{stats: all}}
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(c)
			want := "# HELP sluice_produced_records_total " + descHelp(t, reg, "sluice_produced_records_total") +
				"\n# TYPE sluice_produced_records_total counter" + tc.want
			if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sluice_produced_records_total"); err != nil {
				t.Error(err)
			}
			if got := testutil.ToFloat64(gaugeOf(t, reg, "sluice_metrics_folded_partitions")); got != float64(tc.folded) {
				t.Errorf("folded = %v, want %d", got, tc.folded)
			}
			// The sum over every series is exact whatever the cap.
			if got := sumOf(t, reg, "sluice_produced_records_total"); got != 20 {
				t.Errorf("sum = %v, want 20", got)
			}
			// At most cap+1 series.
			if n := testutil.CollectAndCount(c, "sluice_produced_records_total"); n > tc.max+1 {
				t.Errorf("%d series, cap %d", n, tc.max)
			}
		})
	}
}

func TestNewRefusesNegativeCap(t *testing.T) {
	if _, err := New(Config{MaxPartitions: -1}); err == nil || !strings.Contains(err.Error(), "max partitions -1") {
		t.Fatalf("err = %v", err)
	}
}

// fakeGroups serves fixed groups.
type fakeGroups struct {
	groups map[string][]broker.PartitionLag
}

func (f *fakeGroups) ListGroups(context.Context) ([]broker.GroupListing, error) {
	var out []broker.GroupListing
	for _, g := range []string{"g1", "g2"} {
		if _, ok := f.groups[g]; ok {
			out = append(out, broker.GroupListing{Group: g, Members: 1})
		}
	}
	return out, nil
}

func (f *fakeGroups) DescribeGroup(_ context.Context, id string) (broker.GroupDescription, error) {
	return broker.GroupDescription{Group: id, Partitions: f.groups[id]}, nil
}

func TestFoldGroupLag(t *testing.T) {
	lag := func(topic string, n int) []broker.PartitionLag {
		out := make([]broker.PartitionLag, n)
		for p := range out {
			out[p] = broker.PartitionLag{Topic: topic, Partition: int32(p), Lag: 5}
		}
		return out
	}
	g := &fakeGroups{groups: map[string][]broker.PartitionLag{
		"g1": append(lag("a", 2), lag("b", 3)...),
		"g2": lag("a", 2),
	}}
	m, err := New(Config{MaxPartitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(&groupCollector{m: m, g: g})
	// g1/a fits (1 left); g1/b folds to partition "other" (0 left); g2/a
	// goes to the overflow series.
	want := `# HELP sluice_group_lag ` + descHelp(t, reg, "sluice_group_lag") + `
# TYPE sluice_group_lag gauge
sluice_group_lag{group="g1",partition="0",topic="a"} 5
sluice_group_lag{group="g1",partition="1",topic="a"} 5
sluice_group_lag{group="g1",partition="other",topic="b"} 15
sluice_group_lag{group="other",partition="other",topic="other"} 10
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sluice_group_lag"); err != nil {
		t.Error(err)
	}
}

// descHelp returns the help text of the family called name.
func descHelp(t *testing.T, g prometheus.Gatherer, name string) string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetHelp()
		}
	}
	t.Fatalf("no family %s", name)
	return ""
}

// sumOf sums the values of the family called name.
func sumOf(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// gaugeOf returns a collector of the single-series family called name.
func gaugeOf(t *testing.T, g prometheus.Gatherer, name string) prometheus.Collector {
	t.Helper()
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "x"}, func() float64 { return sumOf(t, g, name) })
}
