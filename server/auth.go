package server

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"

	"github.com/sluicehq/sluice/auth"
	"github.com/sluicehq/sluice/internal/reqid"
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

// connState is the HTTP server's ConnState hook when the node verifies
// client certificates and authenticates: a connection closed without a
// completed TLS handshake because its client certificate was refused
// (unknown CA, expired) is a failed login, counted and logged like the
// Kafka listener's (auth.Authenticator.CertificateRefused), with a request
// id made for it. Nil otherwise.
func (s *Server) connState() func(net.Conn, http.ConnState) {
	a := s.cfg.Auth
	if a == nil || s.cfg.TLS == nil || !s.cfg.TLS.MutualTLS() {
		return nil
	}
	return func(nc net.Conn, st http.ConnState) {
		if st != http.StateClosed {
			return
		}
		tc, ok := nc.(*tls.Conn)
		if !ok || tc.ConnectionState().HandshakeComplete {
			return
		}
		// The server ran the handshake before closing: this returns its
		// stored error, without I/O.
		err := tc.Handshake()
		if err == nil || !auth.IsCertificateRefusal(err) {
			return
		}
		ctx := reqid.WithSlot(context.Background(), reqid.NewSlot(s.Metrics.NewRequestID(), nil))
		a.CertificateRefused(ctx, nc.RemoteAddr().String(), err)
	}
}

// HTTPListener returns ln, wrapped in TLS when Config.TLS is set, its
// connections read ahead (readahead.go): serve the node's HTTPServer on it.
func (s *Server) HTTPListener(ln net.Listener) net.Listener {
	ln = readAhead(ln)
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
