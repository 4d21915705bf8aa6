package server

import (
	"fmt"
	"net/http"

	"github.com/sluicehq/sluice/metrics"
)

// newMetrics builds the node's metrics (package metrics) before anything
// else, so that the broker's fsync hook exists when the logs open.
func newMetrics(cfg Config) (*metrics.Metrics, error) {
	m, err := metrics.New(metrics.Config{
		MaxPartitions: cfg.MetricsMaxPartitions,
		Logger:        cfg.Logger.With("component", "http"),
		// With authentication every request may log a failed login or
		// an ACL refusal at info, naming its request id.
		RequestContext: cfg.Auth != nil,
	})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return m, nil
}

// instrument registers the collectors of the node's state and wraps h with
// the HTTP instrumentation (request latency, requests in flight, request
// ids, one Debug line per request). It runs once every component exists.
func (s *Server) instrument(h http.Handler) http.Handler {
	if err := s.Metrics.Watch(s.Broker, s.Registry); err != nil {
		s.cfg.Logger.Error("metrics: cannot watch the broker and the registry", "err", err)
	}
	if s.kafka != nil {
		s.Metrics.WatchKafka(s.kafka)
	}
	if s.cfg.Auth != nil {
		if err := s.Metrics.WatchAuth(s.cfg.Auth); err != nil {
			s.cfg.Logger.Error("metrics: cannot watch the authenticator", "err", err)
		}
	}
	if s.cluster != nil {
		if err := s.Metrics.WatchNodeLease(s.cluster.member.LeaseHeld); err != nil {
			s.cfg.Logger.Error("metrics: cannot watch the node lease", "err", err)
		}
	}
	return s.Metrics.Instrument(h)
}
