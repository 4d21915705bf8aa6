package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/acl"
	"github.com/sluicehq/sluice/auth"
	"github.com/sluicehq/sluice/broker"
)

// Defaults of Config.
const (
	// DefaultMaxRequestBytes is Kafka's socket.request.max.bytes.
	DefaultMaxRequestBytes = 100 << 20
	// DefaultIdleTimeout is Kafka's connections.max.idle.ms.
	DefaultIdleTimeout = 10 * time.Minute
	// DefaultMaxInFlight bounds the requests in flight on one connection;
	// idempotent producers send at most 5.
	DefaultMaxInFlight = 8
	// DefaultConnBudgetBytes bounds the request bytes in flight on one
	// connection (raised to MaxRequestBytes if that is larger).
	DefaultConnBudgetBytes = 128 << 20
	// DefaultServerBudgetBytes bounds the request bytes in flight over the
	// whole server (raised to MaxRequestBytes if that is larger).
	DefaultServerBudgetBytes = 1 << 30
)

// Config configures a Server. Zero fields take the defaults named.
type Config struct {
	// Broker is the broker core every handler calls. Required.
	Broker *broker.Broker
	// Logger receives the listener's logs; nil discards.
	Logger *slog.Logger
	// AdvertisedAddr is the host:port that Metadata and FindCoordinator
	// give clients for node 0: every request after bootstrap goes there. ""
	// means the listener's address (with the real port when listening on
	// :0); a wildcard address is replaced by os.Hostname(), with a warning.
	// A port of 0 is replaced by the listener's port.
	AdvertisedAddr string
	// MaxRequestBytes refuses larger request frames before reading them
	// (the connection is closed); 0 means DefaultMaxRequestBytes.
	MaxRequestBytes int32
	// AutoCreateTopics lets Metadata create a missing topic when the client
	// allows it (allow_auto_topic_creation); off by default.
	AutoCreateTopics bool
	// IdleTimeout closes a connection with nothing in flight and no request
	// for that long; 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxInFlight bounds the requests read but not yet answered on one
	// connection; 0 means DefaultMaxInFlight.
	MaxInFlight int
	// ConnBudgetBytes and ServerBudgetBytes bound the bytes of requests read
	// but not yet answered, per connection and over the server; 0 means the
	// defaults. Either is raised to MaxRequestBytes if smaller.
	ConnBudgetBytes, ServerBudgetBytes int64
	// Observer, when set, is told how long each answered request took
	// (observe.go); the metrics package implements it.
	Observer RequestObserver
	// ACL authorizes every request with the connection's principal
	// (authorize.go) when it enforces, and backs the ACL APIs
	// (DescribeAcls, CreateAcls, DeleteAcls); nil: no checks, and the ACL
	// APIs answer SECURITY_DISABLED.
	ACL *acl.Authorizer
	// Auth, when set, turns authentication on: a connection must
	// authenticate (SASL PLAIN or SCRAM, or a verified client certificate)
	// before any request but ApiVersions and the SASL ones, else it is
	// closed, as Kafka does. Nil: every connection is anonymous.
	Auth *auth.Authenticator
	// TLS, when set, makes the listener speak TLS (see sasl_conn.go).
	TLS *tls.Config
	// Cluster, in cluster mode, tells the listener about the other nodes
	// (cluster.go): Metadata lists them and FindCoordinator names a group's
	// coordinator among them. Nil: an embedded node, node 0 alone.
	Cluster Cluster
}

// Server is a Kafka listener over one broker. Create it with New, run it with
// Serve, stop it with Shutdown.
type Server struct {
	cfg    Config
	log    *slog.Logger
	budget *budget

	adv atomic.Pointer[advertised]

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*Conn]struct{}
	shutdown  bool
	connWG    sync.WaitGroup

	draining  chan struct{}
	drainOnce sync.Once

	// panics counts recovered panics; tests assert it stays 0.
	panics atomic.Int64
}

// advertised is node 0's address as given to clients.
type advertised struct {
	host string
	port int32
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("kafka: server closed")

// New checks cfg and returns a Server that serves nothing until Serve.
func New(cfg Config) (*Server, error) {
	if cfg.Broker == nil {
		return nil, errors.New("kafka: Config.Broker is nil")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.MaxRequestBytes < 0 {
		return nil, fmt.Errorf("kafka: MaxRequestBytes %d is negative", cfg.MaxRequestBytes)
	}
	if cfg.MaxRequestBytes == 0 {
		cfg.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.ConnBudgetBytes <= 0 {
		cfg.ConnBudgetBytes = DefaultConnBudgetBytes
	}
	if cfg.ServerBudgetBytes <= 0 {
		cfg.ServerBudgetBytes = DefaultServerBudgetBytes
	}
	cfg.ConnBudgetBytes = max(cfg.ConnBudgetBytes, int64(cfg.MaxRequestBytes))
	cfg.ServerBudgetBytes = max(cfg.ServerBudgetBytes, int64(cfg.MaxRequestBytes))
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		budget:    newBudget(cfg.ServerBudgetBytes),
		listeners: map[net.Listener]struct{}{},
		conns:     map[*Conn]struct{}{},
		draining:  make(chan struct{}),
	}
	if cfg.AdvertisedAddr != "" {
		host, port, err := splitHostPort(cfg.AdvertisedAddr)
		if err != nil {
			return nil, fmt.Errorf("kafka: advertised address: %w", err)
		}
		if host == "" || isWildcard(host) {
			return nil, fmt.Errorf("kafka: advertised address %q: a client cannot connect to a wildcard host; name this machine", cfg.AdvertisedAddr)
		}
		if port != 0 {
			s.adv.Store(&advertised{host, port})
		}
	}
	return s, nil
}

// splitHostPort parses host:port with a port from 0 to 65535.
func splitHostPort(addr string) (string, int32, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("%q: port %q is not a number from 0 to 65535", addr, ps)
	}
	return host, int32(port), nil
}

func isWildcard(host string) bool {
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}

// Advertise fixes the advertised address from ln (its host and real port)
// when Config.AdvertisedAddr did not give both, and returns it; the first
// listener wins. Serve calls it; call it before starting Serve to log or
// hand out the address without a race.
func (s *Server) Advertise(ln net.Listener) (string, error) {
	if err := s.resolveAdvertised(ln); err != nil {
		return "", err
	}
	return s.AdvertisedAddr(), nil
}

func (s *Server) resolveAdvertised(ln net.Listener) error {
	if s.adv.Load() != nil {
		return nil
	}
	tcp, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		return fmt.Errorf("kafka: listener address %v is not TCP; set Config.AdvertisedAddr", ln.Addr())
	}
	port := int32(tcp.Port)
	if s.cfg.AdvertisedAddr != "" { // a host with port 0
		host, _, _ := splitHostPort(s.cfg.AdvertisedAddr)
		s.adv.CompareAndSwap(nil, &advertised{host, port})
		return nil
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		h, err := os.Hostname()
		if err != nil || h == "" {
			return fmt.Errorf("kafka: listening on every interface (%v) and the host name is unknown (%v): set the advertised address", ln.Addr(), err)
		}
		s.log.Warn("Kafka listener on every interface with no advertised address: advertising the host name; clients must resolve it to this machine (set the advertised address otherwise)",
			"listen", ln.Addr().String(), "advertised", net.JoinHostPort(h, strconv.Itoa(int(port))))
		host = h
	}
	s.adv.CompareAndSwap(nil, &advertised{host, port})
	return nil
}

// Serve accepts connections on ln until Shutdown, then returns
// ErrServerClosed. It returns other errors from Accept. It closes ln.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.resolveAdvertised(ln); err != nil {
		ln.Close()
		return err
	}
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isShutdown() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("Kafka accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("kafka: accept: %w", err)
		}
		backoff = 0
		if s.cfg.TLS != nil {
			nc = tls.Server(nc, s.cfg.TLS) // the handshake runs on the connection's goroutine
		}
		c := newConn(s, nc)
		s.mu.Lock()
		if s.shutdown {
			s.mu.Unlock()
			nc.Close()
			return ErrServerClosed
		}
		s.conns[c] = struct{}{}
		s.connWG.Add(1)
		s.mu.Unlock()
		go c.serve()
	}
}

func (s *Server) isShutdown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutdown
}

// connDone forgets a finished connection.
func (s *Server) connDone(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.connWG.Done()
}

// Shutdown stops accepting, ends long polls (Broker.Drain and Draining),
// stops reading new requests, waits until every request already read is
// answered, and closes every connection. When ctx ends first, the remaining
// connections are closed at once and ctx's error is returned. Shutdown does
// not close the broker.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	for ln := range s.listeners {
		ln.Close()
	}
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	s.drainOnce.Do(func() { close(s.draining) })
	s.cfg.Broker.Drain()
	for _, c := range conns {
		c.stopReading()
	}
	done := make(chan struct{})
	go func() { s.connWG.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

// Broker is the broker core the handlers call.
func (s *Server) Broker() *broker.Broker { return s.cfg.Broker }

// Logger is the listener's logger.
func (s *Server) Logger() *slog.Logger { return s.log }

// AutoCreateTopics says whether Metadata may create missing topics.
func (s *Server) AutoCreateTopics() bool { return s.cfg.AutoCreateTopics }

// Draining is closed when Shutdown begins: a long poll answers at once.
func (s *Server) Draining() <-chan struct{} { return s.draining }

// AdvertisedAddr is node 0's host:port as given to clients; "" before Serve
// when Config.AdvertisedAddr did not name both.
func (s *Server) AdvertisedAddr() string {
	a := s.adv.Load()
	if a == nil {
		return ""
	}
	return net.JoinHostPort(a.host, strconv.Itoa(int(a.port)))
}

// advertisedHostPort is node 0's host and port, for Metadata.
func (s *Server) advertisedHostPort() (string, int32) {
	a := s.adv.Load()
	if a == nil {
		return "", 0
	}
	return a.host, a.port
}

// NodeID is Sluice's only Kafka node id.
const NodeID int32 = 0
