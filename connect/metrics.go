package connect

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluicehq/sluice/client"
)

// Connector metrics, read at each scrape from where Status reads them (the
// sink's offsets in its target database, the source's slot, the topics'
// ends in Sluice), so that they agree with `sluice connect status` and
// need no state in the running connectors. Rates come from the positions:
// rate(sluice_connector_sink_next_offset[1m]) is a sink's records/s.
var (
	descUp = prometheus.NewDesc("sluice_connector_up",
		"1 when the connector's recorded state is running (with a fresh heartbeat), else 0.",
		[]string{"connector", "type", "state"}, nil)
	descStatusError = prometheus.NewDesc("sluice_connector_status_error",
		"1 when the connector's status could not be read at this scrape (its database or topic unreachable); the log says why.",
		[]string{"connector", "type"}, nil)
	descSinkNext = prometheus.NewDesc("sluice_connector_sink_next_offset",
		"The next offset a sink writes from a partition (stored in its target database); -1 before its first row.",
		[]string{"connector", "topic", "partition"}, nil)
	descSinkLag = prometheus.NewDesc("sluice_connector_sink_lag_records",
		"Records of a partition a sink has not written yet (high watermark minus its position).",
		[]string{"connector", "topic", "partition"}, nil)
	descSourceLag = prometheus.NewDesc("sluice_connector_source_lag_bytes",
		"WAL bytes between a source's confirmed position and the database's current WAL end.",
		[]string{"connector", "slot"}, nil)
	descSourceSnapshot = prometheus.NewDesc("sluice_connector_source_snapshot_done",
		"1 once a source's initial snapshot is in Sluice.",
		[]string{"connector", "slot"}, nil)
)

// scrapeTimeout bounds the status reads of one scrape.
const scrapeTimeout = 10 * time.Second

// Collector exports the status of a file's connectors as Prometheus
// metrics (docs/connectors.md lists them). It reads them at each scrape.
type Collector struct {
	f       *File
	conn    *client.Conn
	onError func(name string, err string)
}

// NewCollector is a Collector of f's connectors through conn. onError
// (may be nil) is told each connector whose status could not be read.
func NewCollector(f *File, conn *client.Conn, onError func(connector, err string)) *Collector {
	return &Collector{f: f, conn: conn, onError: onError}
}

// Describe sends the descriptions of every metric Collect may send.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descStatusError, descSinkNext, descSinkLag, descSourceLag, descSourceSnapshot} {
		ch <- d
	}
}

// Collect reads every connector's status and sends its metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	bool01 := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	for _, st := range ReadStatus(ctx, c.f, c.conn) {
		gauge(descStatusError, bool01(st.Error != ""), st.Name, st.Type)
		if st.Error != "" {
			if c.onError != nil {
				c.onError(st.Name, st.Error)
			}
			continue
		}
		state := ""
		switch {
		case st.Sink != nil:
			state = st.Sink.State
			topic := c.topicOf(st.Name)
			for _, p := range st.Sink.Partitions {
				part := strconv.Itoa(int(p.Partition))
				gauge(descSinkNext, float64(p.NextOffset), st.Name, topic, part)
				gauge(descSinkLag, float64(p.Lag), st.Name, topic, part)
			}
		case st.Source != nil:
			state = st.Source.State
			gauge(descSourceLag, float64(st.Source.LagBytes), st.Name, st.Source.Slot)
			gauge(descSourceSnapshot, bool01(st.Source.SnapshotDone), st.Name, st.Source.Slot)
		}
		gauge(descUp, bool01(state == "running"), st.Name, st.Type, state)
	}
}

// topicOf is the topic of the sink named name.
func (c *Collector) topicOf(name string) string {
	for _, k := range c.f.Connectors {
		if k.Name == name && k.Sink != nil {
			return k.Sink.Topic
		}
	}
	return ""
}

// MetricsHandler serves the connectors' metrics with the process's and
// the Go runtime's, in Prometheus's text format (`sluice connect run
// --metrics-addr`). A connector whose status cannot be read is logged at
// Warn.
func MetricsHandler(f *File, conn *client.Conn, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		NewCollector(f, conn, func(name, err string) {
			logger.Warn("could not read the connector's status for metrics", "connector", name, "err", err)
		}),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)})
}
