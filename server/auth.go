package server

import (
	"crypto/tls"
	"net"
	"net/http"
)

// authenticate wraps the node's handler with Config.Auth: every request
// but the open endpoints (/healthz, /readyz, and /metrics unless
// MetricsAuth) must authenticate, and carries its principal in its context.
// Without Config.Auth it returns h unchanged.
func (s *Server) authenticate(h http.Handler) http.Handler {
	if s.cfg.Auth == nil {
		return h
	}
	required := s.cfg.Auth.Require(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz":
			h.ServeHTTP(w, r)
			return
		case "/metrics":
			if !s.cfg.MetricsAuth {
				h.ServeHTTP(w, r)
				return
			}
		}
		required.ServeHTTP(w, r)
	})
}

// HTTPListener returns ln, wrapped in TLS when Config.TLS is set: serve the
// node's HTTPServer on it.
func (s *Server) HTTPListener(ln net.Listener) net.Listener {
	if s.cfg.TLS == nil {
		return ln
	}
	return tls.NewListener(ln, s.cfg.TLS.ServerConfig("h2", "http/1.1"))
}

// kafkaTLS is the Kafka listener's TLS configuration, nil without TLS.
func (s *Server) kafkaTLS() *tls.Config {
	if s.cfg.TLS == nil {
		return nil
	}
	return s.cfg.TLS.ServerConfig()
}
