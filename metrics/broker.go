package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/broker"
)

// Descriptions of the broker's metrics.
var (
	partitionLabels = []string{"topic", "partition"}

	descProducedRecords = prometheus.NewDesc("sluice_produced_records_total",
		"Records appended, by topic and partition (Connect and Kafka produce), since the topic was opened.", partitionLabels, nil)
	descProducedBytes = prometheus.NewDesc("sluice_produced_bytes_total",
		"Key, value and header bytes of the records appended, by topic and partition.", partitionLabels, nil)
	descFetchedRecords = prometheus.NewDesc("sluice_fetched_records_total",
		"Records sent to consumers, by topic and partition: over Connect the records returned (Fetch, Subscribe, Consume), over Kafka the offsets past the fetch offset.", partitionLabels, nil)
	descFetchedBytes = prometheus.NewDesc("sluice_fetched_bytes_total",
		"Bytes sent to consumers, by topic and partition: over Connect the records' key, value and header bytes, over Kafka the record batches as sent.", partitionLabels, nil)
	descLogSize = prometheus.NewDesc("sluice_log_size_bytes",
		"Bytes of the partition's log segments on disk.", partitionLabels, nil)
	descLogStart = prometheus.NewDesc("sluice_log_start_offset",
		"The partition's log start offset: the first offset still stored.", partitionLabels, nil)
	descHighWatermark = prometheus.NewDesc("sluice_log_high_watermark",
		"The partition's high watermark: the offset the next record will take.", partitionLabels, nil)
	descTopics = prometheus.NewDesc("sluice_topics",
		"Topics.", nil, nil)
	descPartitions = prometheus.NewDesc("sluice_partitions",
		"Partitions over every topic.", nil, nil)
	descFolded = prometheus.NewDesc("sluice_metrics_folded_partitions",
		"Partitions summed into partition=\"other\" series of the per-partition metrics at this scrape because they reached --metrics-max-partitions.", nil, nil)
	descRefusals = prometheus.NewDesc("sluice_produce_refusals_total",
		"Produce refusals by transport and reason: one per refused record (and side), or one per refused batch or request when the refusal is not about its records.", []string{"transport", "reason"}, nil)
)

// brokerState is what brokerCollector reads; *broker.Broker has it.
type brokerState interface {
	Stats(dst []broker.PartitionStats) []broker.PartitionStats
	Refusals() []broker.RefusalCount
}

// brokerCollector exports the broker's partitions and refusals at scrape
// time.
type brokerCollector struct {
	m *Metrics
	b brokerState
}

// Describe sends every description.
func (c *brokerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descProducedRecords, descProducedBytes, descFetchedRecords, descFetchedBytes,
		descLogSize, descLogStart, descHighWatermark, descTopics, descPartitions, descFolded, descRefusals} {
		ch <- d
	}
}

// Collect reads the partitions, folds them under the cap and sends them.
func (c *brokerCollector) Collect(ch chan<- prometheus.Metric) {
	stats := c.b.Stats(nil)
	f := folder{budget: c.m.cfg.MaxPartitions}
	s := newSums(7)
	topics := 0
	for i := 0; i < len(stats); {
		j := i
		for j < len(stats) && stats[j].Topic == stats[i].Topic {
			j++
		}
		topics++
		f.begin([2]string{stats[i].Topic}, j-i)
		for _, ps := range stats[i:j] {
			s.add(f.key(ps.Partition),
				float64(ps.ProducedRecords), float64(ps.ProducedBytes),
				float64(ps.FetchedRecords), float64(ps.FetchedBytes),
				float64(ps.SizeBytes), float64(ps.LogStartOffset), float64(ps.HighWatermark))
		}
		i = j
	}
	kinds := []struct {
		d *prometheus.Desc
		t prometheus.ValueType
	}{
		{descProducedRecords, prometheus.CounterValue}, {descProducedBytes, prometheus.CounterValue},
		{descFetchedRecords, prometheus.CounterValue}, {descFetchedBytes, prometheus.CounterValue},
		{descLogSize, prometheus.GaugeValue}, {descLogStart, prometheus.GaugeValue}, {descHighWatermark, prometheus.GaugeValue},
	}
	for _, k := range s.order {
		vs := s.vals[k]
		for i, kd := range kinds {
			ch <- prometheus.MustNewConstMetric(kd.d, kd.t, vs[i], k.outer[0], k.partition)
		}
	}
	ch <- prometheus.MustNewConstMetric(descTopics, prometheus.GaugeValue, float64(topics))
	ch <- prometheus.MustNewConstMetric(descPartitions, prometheus.GaugeValue, float64(len(stats)))
	ch <- prometheus.MustNewConstMetric(descFolded, prometheus.GaugeValue, float64(f.folded))
	for _, r := range c.b.Refusals() {
		ch <- prometheus.MustNewConstMetric(descRefusals, prometheus.CounterValue, float64(r.Count), r.Transport.String(), r.Reason.String())
	}
}

// groupState is what groupCollector reads; *broker.Broker has it.
type groupState interface {
	ListGroups(ctx context.Context) ([]broker.GroupListing, error)
	DescribeGroup(ctx context.Context, groupID string) (broker.GroupDescription, error)
}

var (
	descGroupLag = prometheus.NewDesc("sluice_group_lag",
		"Records a consumer group has yet to consume, by group, topic and partition: the high watermark less the committed offset (less the log start offset when nothing is committed), computed at scrape time.",
		[]string{"group", "topic", "partition"}, nil)
	descGroupMembers = prometheus.NewDesc("sluice_group_members",
		"Members of each consumer group.", []string{"group"}, nil)
	descGroups = prometheus.NewDesc("sluice_groups",
		"Consumer groups with members or committed offsets.", nil, nil)
	descGroupFolded = prometheus.NewDesc("sluice_metrics_folded_group_partitions",
		"Group partitions summed into partition=\"other\" series of sluice_group_lag at this scrape because it reached --metrics-max-partitions.", nil, nil)
)

// groupCollector computes group lag at scrape time from the coordinator's
// committed offsets and the partitions' high watermarks (what `sluice group
// describe` shows). It costs one meta.db read per group per scrape.
type groupCollector struct {
	m *Metrics
	g groupState
}

// Describe sends every description.
func (c *groupCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descGroupLag
	ch <- descGroupMembers
	ch <- descGroups
	ch <- descGroupFolded
}

// Collect lists the groups and describes each.
func (c *groupCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := c.m.scrapeContext()
	defer cancel()
	groups, err := c.g.ListGroups(ctx)
	if err != nil {
		c.m.log.Warn("metrics: cannot list consumer groups", "err", err)
		ch <- prometheus.NewInvalidMetric(descGroups, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(descGroups, prometheus.GaugeValue, float64(len(groups)))
	f := folder{budget: c.m.cfg.MaxPartitions}
	s := newSums(1)
	for _, g := range groups {
		// Member counts are one series per group; groups are bounded by
		// what the node stores, as topics are.
		ch <- prometheus.MustNewConstMetric(descGroupMembers, prometheus.GaugeValue, float64(g.Members), g.Group)
		d, err := c.g.DescribeGroup(ctx, g.Group)
		if err != nil {
			// Deleted between the list and now, or the coordinator is
			// closing: skip it.
			c.m.log.Debug("metrics: cannot describe consumer group", "group", g.Group, "err", err)
			continue
		}
		ps := d.Partitions // sorted by topic, then partition
		for i := 0; i < len(ps); {
			j := i
			for j < len(ps) && ps[j].Topic == ps[i].Topic {
				j++
			}
			f.begin([2]string{g.Group, ps[i].Topic}, j-i)
			for _, p := range ps[i:j] {
				s.add(f.key(p.Partition), float64(p.Lag))
			}
			i = j
		}
	}
	for _, k := range s.order {
		ch <- prometheus.MustNewConstMetric(descGroupLag, prometheus.GaugeValue, s.vals[k][0], k.outer[0], k.outer[1], k.partition)
	}
	ch <- prometheus.MustNewConstMetric(descGroupFolded, prometheus.GaugeValue, float64(f.folded))
}
