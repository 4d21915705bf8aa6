package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/broker"
)

// This file is the shared log's metrics (a cluster node's record bytes in
// the object store): counters read from the broker at scrape time, and the
// PUT and commit durations observed as they happen.

// sharedLogState is what sharedLogCollector reads; *broker.Broker has it.
type sharedLogState interface {
	SharedLogStats() (broker.SharedLogStats, bool)
}

// sharedLogCounter is one counter (or gauge) of broker.SharedLogStats.
type sharedLogCounter struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(s *broker.SharedLogStats) float64
}

func sharedCounter(name, help string, value func(s *broker.SharedLogStats) float64) sharedLogCounter {
	return sharedLogCounter{prometheus.NewDesc("sluice_shared_log_"+name, help, nil, nil), prometheus.CounterValue, value}
}

func sharedGauge(name, help string, value func(s *broker.SharedLogStats) float64) sharedLogCounter {
	return sharedLogCounter{prometheus.NewDesc("sluice_shared_log_"+name, help, nil, nil), prometheus.GaugeValue, value}
}

// sharedLogCounters are the exported counters, in the order scraped.
var sharedLogCounters = []sharedLogCounter{
	sharedCounter("objects_committed_total", "Objects this node wrote and committed (one PUT and one sharedlog_commit each).",
		func(s *broker.SharedLogStats) float64 { return float64(s.Objects) }),
	sharedCounter("batches_committed_total", "Record batches in the objects this node committed.",
		func(s *broker.SharedLogStats) float64 { return float64(s.Batches) }),
	sharedCounter("records_committed_total", "Records in the objects this node committed.",
		func(s *broker.SharedLogStats) float64 { return float64(s.Records) }),
	sharedCounter("bytes_committed_total", "Bytes of the objects this node committed.",
		func(s *broker.SharedLogStats) float64 { return float64(s.Bytes) }),
	sharedCounter("objects_failed_total", "Objects whose appends failed because their PUT or commit did not succeed before its deadline; their producers got a retriable error.",
		func(s *broker.SharedLogStats) float64 { return float64(s.Failed) }),
	sharedCounter("put_retries_total", "PUT (and upload announcement) attempts made again after a failure.",
		func(s *broker.SharedLogStats) float64 { return float64(s.PutRetries) }),
	sharedCounter("commit_retries_total", "sharedlog_commit calls made again after a failure.",
		func(s *broker.SharedLogStats) float64 { return float64(s.CommitRetries) }),
	sharedCounter("commit_replays_total", "Commits answered with the offsets an earlier attempt had stored (its answer was lost, as when the connection is cut during COMMIT).",
		func(s *broker.SharedLogStats) float64 { return float64(s.CommitReplays) }),
	sharedCounter("notify_skips_total", "Commits that sent no notification because the node's next object, already sealed, covered their partitions.",
		func(s *broker.SharedLogStats) float64 { return float64(s.NotifySkips) }),
	sharedCounter("cache_hits_total", "Block reads served from the node's read-through cache.",
		func(s *broker.SharedLogStats) float64 { return float64(s.CacheHits) }),
	sharedCounter("cache_misses_total", "Block reads that went to the object store.",
		func(s *broker.SharedLogStats) float64 { return float64(s.CacheMisses) }),
	sharedGauge("cache_bytes", "Bytes of object blocks the node's read-through cache holds now.",
		func(s *broker.SharedLogStats) float64 { return float64(s.CacheBytes) }),
	sharedCounter("cold_reads_total", "Reads of merged segments, which go around the cache.",
		func(s *broker.SharedLogStats) float64 { return float64(s.ColdReads) }),
	sharedCounter("notifications_total", "High-watermark updates learned from PostgreSQL notifications (other nodes' commits).",
		func(s *broker.SharedLogStats) float64 { return float64(s.Notifications) }),
	sharedCounter("polls_total", "High-watermark polls of PostgreSQL (periodic, and after a reconnection of the listening connection).",
		func(s *broker.SharedLogStats) float64 { return float64(s.Polls) }),
	sharedCounter("merges_total", "Segments this node's compactor merged from small objects and committed.",
		func(s *broker.SharedLogStats) float64 { return float64(s.Merges) }),
}

// sharedLogCollector exports the shared log's counters at scrape time;
// nothing on a node without one.
type sharedLogCollector struct{ s sharedLogState }

// Describe sends every description.
func (c *sharedLogCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, k := range sharedLogCounters {
		ch <- k.desc
	}
}

// Collect reads the counters.
func (c *sharedLogCollector) Collect(ch chan<- prometheus.Metric) {
	st, ok := c.s.SharedLogStats()
	if !ok {
		return
	}
	for _, k := range sharedLogCounters {
		ch <- prometheus.MustNewConstMetric(k.desc, k.kind, k.value(&st))
	}
}

// newSharedLogHistograms makes the PUT and commit duration histograms
// (registered by Watch on a node with a shared log).
func newSharedLogHistograms() (put, commit prometheus.Histogram) {
	put = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "sluice_shared_log_put_duration_seconds",
		Help: "Duration of each object's PUT to the object store, retries included, once it succeeded. Every acknowledgement of a produce waits for one, after the window.",
		// 500µs to ~16s.
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	})
	commit = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "sluice_shared_log_commit_duration_seconds",
		Help: "Duration of each successful sharedlog_commit call (one PostgreSQL transaction assigning an object's offsets). Every acknowledgement of a produce waits for one, after the PUT.",
		// 500µs to ~16s.
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	})
	return put, commit
}

// ObserveSharedPut records one object's PUT duration: set it as
// broker.SharedConfig.ObservePut.
func (m *Metrics) ObserveSharedPut(d time.Duration) { m.sharedPut.Observe(d.Seconds()) }

// ObserveSharedCommit records one commit call's duration: set it as
// broker.SharedConfig.ObserveCommit.
func (m *Metrics) ObserveSharedCommit(d time.Duration) { m.sharedCommit.Observe(d.Seconds()) }

// watchSharedLog registers the shared log's collector and histograms when
// s runs on one.
func (m *Metrics) watchSharedLog(s sharedLogState) error {
	if _, ok := s.SharedLogStats(); !ok {
		return nil
	}
	for _, c := range []prometheus.Collector{&sharedLogCollector{s: s}, m.sharedPut, m.sharedCommit} {
		if err := m.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// WatchNodeLease exports a cluster node's hold on its node-id lease as
// sluice_cluster_node_lease_held: 1, or 0 while another process runs under
// the same node id (metastore.Membership.LeaseHeld).
func (m *Metrics) WatchNodeLease(held func() bool) error {
	return m.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sluice_cluster_node_lease_held",
		Help: "1 while this cluster node holds its node-id lease; 0 once it found another process running under the same node id (it logs an error at each heartbeat until it takes the lease back).",
	}, func() float64 {
		if held() {
			return 1
		}
		return 0
	}))
}
