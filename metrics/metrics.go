// Package metrics exposes a Sluice node's operational metrics to Prometheus
// (DESIGN.md §10): the registry of collectors, the /metrics handler, the
// HTTP instrumentation (request latency, requests in flight, one debug log
// line per request) and the hooks the cores call (fsync latency, Kafka
// request latency).
//
// # Cost
//
// State is read when Prometheus scrapes, not maintained on the hot paths:
// partition counters are atomics the broker adds to once per batch
// (broker.Stats), log sizes and offsets are read from the live logs, group
// lag is computed from the committed offsets and the high watermarks, and
// the registry is counted in memory. The hot paths pay only the atomic
// adds and, per request, one histogram observation.
//
// # Cardinality
//
// Per-partition series (produced, fetched, log size and offsets; group lag
// per group, topic and partition) are bounded by Config.MaxPartitions: see
// fold.go. Every other label takes values from a fixed set: transports,
// refusal reasons, Connect procedures the node serves, REST endpoints of
// the catalogue, Kafka API names.
//
// The metric names, their labels and units are listed in
// docs/operations.md.
package metrics

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

// DefaultMaxPartitions is the default of Config.MaxPartitions.
const DefaultMaxPartitions = 1000

// Config configures Metrics. Zero fields take the defaults named.
type Config struct {
	// MaxPartitions caps the per-partition series of each per-partition
	// metric (fold.go); 0 means DefaultMaxPartitions. Negative is refused.
	MaxPartitions int
	// Logger receives one Debug line per HTTP request and scrape-time
	// failures; nil discards.
	Logger *slog.Logger
	// RequestContext gives every HTTP request its id slot in its context
	// (package reqid), so that a line logged at info on its behalf (a
	// failed login, an ACL refusal) names the request id its response
	// carries. Set it when the node authenticates; without it only Connect
	// requests (whose produce refusals are logged) get one, so that the
	// registry's cached reads stay free of allocations.
	RequestContext bool
	// ScrapeTimeout bounds the scrape-time reads that wait for the group
	// coordinator or meta.db; 0 means 5s.
	ScrapeTimeout time.Duration
}

// Metrics is one node's metric registry and instrumentation. Its methods
// are safe for concurrent use.
type Metrics struct {
	cfg Config
	log *slog.Logger
	reg *prometheus.Registry

	fsync    prometheus.Histogram
	requests *prometheus.HistogramVec // transport, method
	// sharedPut and sharedCommit are the shared log's histograms
	// (shared_log.go), registered only on a node that has one.
	sharedPut, sharedCommit prometheus.Histogram
	observers               sync.Map // observerKey -> prometheus.Observer (http.go)
	inFlight                *inFlightCollector

	// kafkaObservers caches the request histogram per Kafka API key.
	kafkaObservers sync.Map // int16 -> prometheus.Observer

	// idPrefix starts every request id this process makes (http.go);
	// mint is newRequestID, made once (a method value allocates).
	idPrefix string
	mint     func() string
}

// New returns Metrics with the Go runtime and process collectors and the
// hot-path instruments registered; Watch adds the collectors of a node's
// state.
func New(cfg Config) (*Metrics, error) {
	if cfg.MaxPartitions < 0 {
		return nil, errorf("max partitions %d: want 0 (default %d) or more", cfg.MaxPartitions, DefaultMaxPartitions)
	}
	if cfg.MaxPartitions == 0 {
		cfg.MaxPartitions = DefaultMaxPartitions
	}
	if cfg.ScrapeTimeout <= 0 {
		cfg.ScrapeTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m := &Metrics{cfg: cfg, log: cfg.Logger, reg: prometheus.NewRegistry()}
	var id [6]byte
	rand.Read(id[:])
	m.idPrefix = hex.EncodeToString(id[:])
	m.mint = m.newRequestID

	m.fsync = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "sluice_fsync_duration_seconds",
		Help: "Duration of each fdatasync of the log's durability point (the write-ahead journal under fsync=always, or a partition's segment: a large run's under fsync=always, each sync under fsync=interval), as the server sees it: the system call and the wait for a processor after it. One sync acknowledges every request waiting in its group commit.",
		// 100µs to ~3.3s.
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
	})
	m.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "sluice_request_duration_seconds",
		Help: "Duration of each request, from its arrival to its answer, by transport (rest, connect, kafka, http) and method (REST endpoint, Connect procedure, Kafka API).",
		// 100µs to ~26s.
		Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
	}, []string{"transport", "method"})
	m.sharedPut, m.sharedCommit = newSharedLogHistograms()
	m.inFlight = &inFlightCollector{}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.fsync, m.requests, m.inFlight,
	)
	return m, nil
}

// Registry is the registry every collector is registered with; callers
// may add their own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text (or, when asked,
// OpenMetrics) format: mount it at GET /metrics. A collector failing
// mid-scrape is logged and the rest is still served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// ObserveFsync records one fdatasync's duration: set it as
// broker.Config.ObserveSync.
func (m *Metrics) ObserveFsync(d time.Duration) { m.fsync.Observe(d.Seconds()) }

// ObserveKafkaRequest records one Kafka request's duration, from its
// arrival to its answer being written (stage 2 waits, such as a produce's
// fsync, included). It implements kafka.RequestObserver.
func (m *Metrics) ObserveKafkaRequest(apiKey int16, d time.Duration) {
	o, ok := m.kafkaObservers.Load(apiKey)
	if !ok {
		name := kmsg.NameForKey(apiKey)
		if name == "Unknown" || name == "" {
			name = "other"
		}
		o, _ = m.kafkaObservers.LoadOrStore(apiKey, m.requests.WithLabelValues("kafka", name))
	}
	o.(prometheus.Observer).Observe(d.Seconds())
}

// KafkaInFlight is what Watch needs of the Kafka listener.
type KafkaInFlight interface {
	// InFlight is the number of requests read and not yet answered.
	InFlight() int
}

// WatchKafka exports the Kafka listener's requests in flight. Call it
// before the first scrape.
func (m *Metrics) WatchKafka(k KafkaInFlight) {
	m.inFlight.kafka.Store(&k)
}

var descInFlight = prometheus.NewDesc("sluice_requests_in_flight",
	"Requests received and not yet answered, by transport: http (REST and everything else on the HTTP port but Connect), connect, kafka.",
	[]string{"transport"}, nil)

// inFlightCollector exports the requests in flight of every transport.
type inFlightCollector struct {
	http, connect atomic.Int64 // the HTTP middleware's
	kafka         atomic.Pointer[KafkaInFlight]
}

// Describe sends the description.
func (c *inFlightCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descInFlight }

// Collect reads the counts.
func (c *inFlightCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(c.http.Load()), "http")
	ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(c.connect.Load()), "connect")
	if k := c.kafka.Load(); k != nil {
		ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64((*k).InFlight()), "kafka")
	}
}

// AuthFailures is what WatchAuth needs of the authenticator.
type AuthFailures interface {
	// EachFailureKind calls f with each reason (from a fixed set) and its
	// count of failed logins so far, zeros included.
	EachFailureKind(f func(reason string, n uint64))
}

// WatchAuth exports the authenticator's failed logins as
// sluice_auth_failures_total{reason}.
func (m *Metrics) WatchAuth(a AuthFailures) error {
	return m.reg.Register(&authCollector{a: a})
}

var descAuthFailures = prometheus.NewDesc("sluice_auth_failures_total",
	"Failed logins over every transport, by reason: unknown_user, wrong_password (or SCRAM proof, or no credentials for the mechanism), unknown_token, bad_certificate (a client certificate refused at the TLS handshake: unknown CA, expired), malformed (credentials that do not parse).",
	[]string{"reason"}, nil)

// authCollector reads the authenticator's counts at scrape time.
type authCollector struct{ a AuthFailures }

// Describe sends the description.
func (c *authCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descAuthFailures }

// Collect reads the counts.
func (c *authCollector) Collect(ch chan<- prometheus.Metric) {
	c.a.EachFailureKind(func(reason string, n uint64) {
		ch <- prometheus.MustNewConstMetric(descAuthFailures, prometheus.CounterValue, float64(n), reason)
	})
}

// Watch registers the collectors of a node's state: per-partition
// counters, log sizes and offsets, refusals, group lag and (on a cluster
// node) the shared log from b, schema counts from r (either may be nil).
func (m *Metrics) Watch(b *broker.Broker, r Registry) error {
	if b != nil {
		if err := m.reg.Register(&brokerCollector{m: m, b: b}); err != nil {
			return err
		}
		if err := m.reg.Register(&groupCollector{m: m, g: b}); err != nil {
			return err
		}
		if err := m.watchSharedLog(b); err != nil {
			return err
		}
	}
	if r != nil {
		if err := m.reg.Register(&registryCollector{r: r}); err != nil {
			return err
		}
	}
	return nil
}

// scrapeContext bounds a scrape's waits.
func (m *Metrics) scrapeContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), m.cfg.ScrapeTimeout)
}
