// Package server assembles one Sluice node: meta.db, the registry, the broker
// and every transport (Confluent REST, Connect/gRPC/gRPC-Web, reflection,
// health) behind one http.Handler served as HTTP/1.1 and cleartext HTTP/2,
// and, when Config.KafkaAddr or KafkaListener is set, the Kafka wire
// protocol (broker/kafka) on a listener of its own. cmd/sluice serve and
// sluicetest both run it, and Go programs can embed a node with it.
//
// It is the top of the house: it imports the cores and their transports,
// and nothing below it imports it (internal/archtest checks this).
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpcreflect"

	"github.com/sluicehq/sluice/acl"
	aclrpc "github.com/sluicehq/sluice/acl/rpc"
	"github.com/sluicehq/sluice/auth"
	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/broker/kafka"
	"github.com/sluicehq/sluice/internal/datadir"
	"github.com/sluicehq/sluice/internal/metadb"
	"github.com/sluicehq/sluice/metrics"
	"github.com/sluicehq/sluice/proto/gen/sluice/acl/v1/aclv1connect"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
	"github.com/sluicehq/sluice/proto/gen/sluice/cluster/v1/clusterv1connect"
	"github.com/sluicehq/sluice/proto/gen/sluice/registry/v1/registryv1connect"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/registry/rest"
	"github.com/sluicehq/sluice/registry/rpc"
	"github.com/sluicehq/sluice/tlsconfig"
)

// Config configures a Server. Zero fields take the defaults named.
type Config struct {
	// DataDir holds meta.db and the topic logs; created if missing. Required.
	// The server holds an exclusive lock on it (datadir.Acquire) from New to
	// Close: a second opener fails with a *datadir.LockedError.
	DataDir string
	// Addrs are the addresses the node serves on, recorded in the data
	// directory's lock so that a second opener can name them; optional.
	Addrs []string
	// Fsync is the durability policy of appends; the zero value is "always".
	Fsync broker.FsyncPolicy
	// Logger receives the server's logs; nil discards.
	Logger *slog.Logger
	// MaxRequestBytes limits any request body; 0 means 16 MiB.
	MaxRequestBytes int64
	// GroupMinSessionTimeout and GroupMaxSessionTimeout bound the session
	// timeout a consumer group member may ask for (broker.Config's fields
	// of the same names); 0 means 1s and 30m.
	GroupMinSessionTimeout, GroupMaxSessionTimeout time.Duration

	// KafkaAddr is the Kafka protocol listener's address: "" means no Kafka
	// listener (tests use "127.0.0.1:0"). New binds it before it opens the
	// data directory, unless KafkaListener is set.
	KafkaAddr string
	// KafkaListener, when set, is a Kafka listener the caller bound already
	// (sluice serve binds every address before opening the directory); it
	// wins over KafkaAddr. The server owns it from New on and closes it.
	KafkaListener net.Listener
	// KafkaAdvertisedAddr is the host:port Kafka clients are told to
	// connect to; "" means the listener's address with its real port (see
	// kafka.Config.AdvertisedAddr).
	KafkaAdvertisedAddr string
	// KafkaAutoCreateTopics lets a Kafka Metadata request create a missing
	// topic when the client asks for it; off by default.
	KafkaAutoCreateTopics bool
	// KafkaMaxRequestBytes refuses larger Kafka requests; 0 means
	// kafka.DefaultMaxRequestBytes (100 MiB).
	KafkaMaxRequestBytes int32
	// MetricsMaxPartitions caps the per-partition series of /metrics
	// (metrics.Config.MaxPartitions); 0 means metrics.DefaultMaxPartitions.
	MetricsMaxPartitions int

	// Auth, when set, turns authentication on for both listeners (see
	// auth.go): HTTP requests need basic auth, a bearer token or a client
	// certificate, except /healthz, /readyz and (unless MetricsAuth)
	// /metrics; Kafka connections must authenticate with SASL or a client
	// certificate before anything but ApiVersions. Nil: everyone is
	// anonymous.
	Auth *auth.Authenticator
	// MetricsAuth makes /metrics require authentication like the APIs;
	// by default it is open, as /healthz, for scrapers.
	MetricsAuth bool
	// TLS, when set, serves TLS on both listeners with its (reloadable)
	// certificate; with a client CA, client certificates are verified and
	// name their principal (the subject CN).
	TLS *tlsconfig.Reloader

	// Meta, when set, makes the node a member of a cluster: the URL
	// (postgres://USER@HOST:PORT/DB) of the cluster's PostgreSQL database,
	// where the registry, topic metadata and group offsets live
	// (cluster.go). NodeID names the node and is required with Meta.
	Meta   string
	NodeID string
	// Objects, in cluster mode, is the URL of the object store for record
	// bytes (file:///DIR or s3://BUCKET?endpoint=URL, objstore.Open),
	// opened and probed at start (cluster_status.go).
	Objects string
	// SharedWindow, with Objects, is how long the node collects produced
	// batches before writing them as one object (broker.SharedConfig.Window);
	// 0 means the shared log's default (5 ms).
	SharedWindow time.Duration
	// SharedMergeRate, with Objects, is how many bytes of merged segments
	// a second the node writes (broker.SharedConfig.MergeRate); 0 means
	// the default (8 MiB/s), < 0 no limit.
	SharedMergeRate int64
	// GroupLeaseTTL, in cluster mode, is how long a node's lease on a
	// group's coordination lasts without renewal (cluster_group.go); 0
	// means broker.DefaultGroupLeaseTTL.
	GroupLeaseTTL time.Duration
	// TransactionalIDExpiration is how long a transactional id whose
	// transaction is complete may go unused before its state is deleted
	// (broker.Config.TransactionalIDExpiration); 0 means
	// broker.DefaultTransactionalIDExpiration.
	TransactionalIDExpiration time.Duration
}

// Server is one running Sluice node.
type Server struct {
	cfg      Config
	lock     *datadir.Lock
	db       interface{ Close() error }
	Registry *registry.Registry
	Broker   *broker.Broker
	Metrics  *metrics.Metrics // served at GET /metrics (metrics.go)
	// ACL is the node's authorizer (acl.go): the rules in meta.db,
	// enforced on every transport exactly when Config.Auth is set.
	ACL     *acl.Authorizer
	handler http.Handler
	// kafka serves the Kafka protocol on kafkaLn; both nil when off.
	kafka    *kafka.Server
	kafkaLn  net.Listener
	ready    atomic.Bool
	closing  sync.Once
	closeErr error
	// cluster is set in cluster mode (Config.Meta, cluster.go).
	cluster *clusterNode
}

// New locks and opens the data directory and builds every component. The
// caller must Close the server. A data directory held by another server, in
// this process or another, is refused with a *datadir.LockedError naming the
// holder's pid and addresses.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("server: no data directory")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.MaxRequestBytes == 0 {
		cfg.MaxRequestBytes = 16 << 20
	}
	m, err := newMetrics(cfg)
	if err != nil {
		return nil, err
	}
	if err := checkClusterConfig(cfg); err != nil {
		return nil, err
	}
	// The Kafka listener binds before the directory is touched, like the
	// HTTP one: a taken port must not lock or create a data directory.
	kln := cfg.KafkaListener
	if kln == nil && cfg.KafkaAddr != "" {
		var err error
		if kln, err = net.Listen("tcp", cfg.KafkaAddr); err != nil {
			return nil, fmt.Errorf("server: Kafka listener: %w", err)
		}
	}
	closeKafka := func() {
		if kln != nil {
			kln.Close()
		}
	}
	addrs := cfg.Addrs
	if kln != nil {
		addrs = append(addrs[:len(addrs):len(addrs)], kln.Addr().String()+" (kafka)")
	}
	// The lock comes before anything else touches the directory: two
	// servers appending to one log overwrite each other's acked records.
	lock, err := datadir.Acquire(cfg.DataDir, addrs...)
	if err != nil {
		closeKafka()
		return nil, fmt.Errorf("server: %w", err)
	}
	db, err := metadb.Open(filepath.Join(cfg.DataDir, "meta.db"))
	if err != nil {
		closeKafka()
		lock.Release()
		return nil, err
	}
	s := &Server{cfg: cfg, lock: lock, db: db, Metrics: m}
	s.Registry, err = s.openRegistry(ctx, db)
	if err != nil {
		closeKafka()
		db.Close()
		lock.Release()
		return nil, err
	}
	s.Broker, err = broker.Open(ctx, broker.Config{
		DB:      db,
		DataDir: cfg.DataDir,
		Fsync:   cfg.Fsync,
		Logger:  cfg.Logger.With("component", "broker"),
		// Bounds of the session timeouts group members ask for.
		GroupMinSessionTimeout: cfg.GroupMinSessionTimeout,
		GroupMaxSessionTimeout: cfg.GroupMaxSessionTimeout,
		// Schema enforcement: every Produce is checked against the registry.
		Validator: broker.NewEnforcer(s.Registry, cfg.Logger.With("component", "enforce")),
		// The fsync latency histogram (metrics.go).
		ObserveSync: s.Metrics.ObserveFsync,
		// Cluster mode: metadata in PostgreSQL (cluster.go).
		Meta: s.brokerMeta(), NoTopicData: s.noTopicData(),
		// Cluster mode with --objects: every partition in the shared log.
		Shared: s.brokerShared(),
		// Cluster mode: one coordinator per group (cluster_group.go).
		GroupLeases: s.groupLeases(), NodeID: s.cfg.NodeID, GroupLeaseTTL: s.cfg.GroupLeaseTTL, TransactionalIDExpiration: s.cfg.TransactionalIDExpiration, GroupPeers: s.groupPeers(),
	})
	if err != nil {
		closeKafka()
		s.Registry.Close()
		s.closeCluster()
		db.Close()
		lock.Release()
		return nil, err
	}
	if err := s.openACL(ctx, db, cfg.Auth != nil); err != nil {
		closeKafka()
		s.Broker.Close()
		s.Registry.Close()
		s.closeCluster()
		db.Close()
		lock.Release()
		return nil, err
	}
	if kln != nil {
		if err := s.newKafka(kln); err != nil {
			closeKafka()
			s.closeACL() // acl.go
			s.Broker.Close()
			s.Registry.Close()
			s.closeCluster()
			db.Close()
			lock.Release()
			return nil, err
		}
	}
	// Cluster mode: advertise the node's addresses, start its heartbeats.
	if err := s.startHeartbeats(ctx); err != nil {
		s.Close()
		return nil, err
	}
	s.handler = s.authenticate(s.routes())
	s.handler = s.instrument(s.handler) // metrics.go: latency, in flight, request ids and logs
	s.ready.Store(true)
	return s, nil
}

// minCompressBytes is the size from which a Connect response is
// compressed for a client that accepts gzip.
const minCompressBytes = 1024

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	opts := []connect.HandlerOption{
		connect.WithReadMaxBytes(int(s.cfg.MaxRequestBytes)),
		// A response is gzipped (for a client that accepts it) only from
		// minCompressBytes on: compressing a produce acknowledgement or a
		// commit's answer costs both sides CPU and saves nothing.
		connect.WithCompressMinBytes(minCompressBytes),
		connect.WithRecover(s.recovered),
		// Authorization of every procedure (acl.go).
		connect.WithInterceptors(&connectGuard{a: s.ACL, reg: s.Registry}),
	}
	mux.Handle(aclrpc.NewHandler(s.ACL, opts...))
	mux.Handle(rpc.NewHandler(s.Registry, rpc.Config{Logger: s.cfg.Logger.With("component", "rpc")}, opts...))
	s.Broker.Mount(mux, opts...)
	s.mountCluster(mux, opts...) // cluster_status.go

	reflector := grpcreflect.NewStaticReflector(
		registryv1connect.RegistryServiceName,
		brokerv1connect.TopicServiceName,
		brokerv1connect.BrokerServiceName,
		brokerv1connect.GroupServiceName,
		aclv1connect.AclServiceName,
		clusterv1connect.ClusterServiceName,
	)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))

	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", s.Metrics.Handler())
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	restHandler := rest.NewHandler(s.Registry, rest.Config{
		Logger:       s.cfg.Logger.With("component", "rest"),
		MaxBodyBytes: s.cfg.MaxRequestBytes,
		ACL:          s.ACL,
	})
	mux.Handle("/", restHandler)
	mux.Handle(consolePath, s.newConsole(mux))
	// ServeMux cleans paths and would redirect the Confluent context form
	// /contexts/./subjects to /contexts/subjects; those paths belong to the
	// REST API whole, so they bypass the mux. So do the clean /schemas/ and
	// /subjects/ paths (see restTree).
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/contexts/") || restTree(r) {
			restHandler.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// restTree reports whether r is for the REST API's /schemas/ or /subjects/
// trees with a path that ServeMux would hand unchanged to the REST handler
// (no escapes, nothing for cleanPath to redirect): no other pattern lives
// there. Skipping the mux matters for the registry's hottest reads (GET
// /schemas/ids/{id}, #14): a path no pattern has literally costs the mux two
// tree walks and an allocation per segment, more than the cached answer.
func restTree(r *http.Request) bool {
	p := r.URL.Path
	return (strings.HasPrefix(p, "/schemas/") || strings.HasPrefix(p, "/subjects/")) &&
		r.URL.RawPath == "" && r.Method != http.MethodConnect &&
		!strings.Contains(p, "//") && !strings.Contains(p, "/./") && !strings.Contains(p, "/../") &&
		!strings.HasSuffix(p, "/.") && !strings.HasSuffix(p, "/..")
}

// recovered logs a panic in a Connect handler once; connect answers Internal.
func (s *Server) recovered(ctx context.Context, spec connect.Spec, _ http.Header, p any) error {
	s.cfg.Logger.Error("panic in handler", "procedure", spec.Procedure, "panic", p)
	return connect.NewError(connect.CodeInternal, fmt.Errorf("internal error in %s", spec.Procedure))
}

// Handler serves every API of the node.
func (s *Server) Handler() http.Handler { return s.handler }

// HTTPServer returns an http.Server for the node speaking HTTP/1.1 and h2c.
func (s *Server) HTTPServer() *http.Server {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	if s.cfg.TLS != nil {
		p.SetHTTP2(true)
	}
	hs := &http.Server{
		Handler:           newWorkers(s.handler), // workers.go
		Protocols:         &p,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn),
	}
	// Shutdown waits for handlers to return: end Subscribe streams and
	// Fetch long polls so idle consumers do not hold the drain open.
	hs.RegisterOnShutdown(s.Broker.Drain)
	hs.ConnState = s.connState() // auth.go: refused client certificates count as failed logins
	return hs
}

// newKafka builds the Kafka listener over ln and fixes its advertised
// address.
func (s *Server) newKafka(ln net.Listener) error {
	ks, err := kafka.New(kafka.Config{
		Broker:           s.Broker,
		Logger:           s.cfg.Logger.With("component", "kafka"),
		AdvertisedAddr:   s.cfg.KafkaAdvertisedAddr,
		MaxRequestBytes:  s.cfg.KafkaMaxRequestBytes,
		AutoCreateTopics: s.cfg.KafkaAutoCreateTopics,
		Observer:         s.Metrics, // Kafka request latency
		Auth:             s.cfg.Auth,
		ACL:              s.ACL,
		TLS:              s.kafkaTLS(),
		Cluster:          s.kafkaCluster(), // cluster_group.go
	})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if _, err := ks.Advertise(ln); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.kafka, s.kafkaLn = ks, ln
	return nil
}

// KafkaAddr is the address the Kafka listener is bound to ("" when off).
func (s *Server) KafkaAddr() string {
	if s.kafkaLn == nil {
		return ""
	}
	return s.kafkaLn.Addr().String()
}

// KafkaAdvertisedAddr is the host:port Kafka clients are told to connect to
// ("" when off).
func (s *Server) KafkaAdvertisedAddr() string {
	if s.kafka == nil {
		return ""
	}
	return s.kafka.AdvertisedAddr()
}

// ServeKafka serves Kafka clients until ShutdownKafka or Close, then returns
// kafka.ErrServerClosed. With no Kafka listener it returns nil at once.
func (s *Server) ServeKafka() error {
	if s.kafka == nil {
		return nil
	}
	return s.kafka.Serve(s.kafkaLn)
}

// ShutdownKafka stops the Kafka listener gracefully: no new connections or
// requests, long polls end, requests already read are answered; when ctx
// ends first the rest are cut. No-op with no Kafka listener.
func (s *Server) ShutdownKafka(ctx context.Context) error {
	if s.kafka == nil {
		return nil
	}
	return s.kafka.Shutdown(ctx)
}

// Close marks the node not ready, cuts any Kafka connection still open,
// then closes the broker (syncing every log), the registry and meta.db, and
// releases the data directory. Stop the HTTP server (and ShutdownKafka)
// first so no request is in flight. Close is idempotent.
func (s *Server) Close() error {
	s.closing.Do(func() {
		s.ready.Store(false)
		if s.kafka != nil {
			cut, cancel := context.WithCancel(context.Background())
			cancel()
			s.kafka.Shutdown(cut) // already stopped, or cut now: either way nothing is in flight after
			s.kafkaLn.Close()
		}
		s.closeACL() // acl.go: before the cluster's pool closes
		s.closeErr = errors.Join(s.Broker.Close(), s.Registry.Close(), s.closeCluster(), s.db.Close())
		// Released last: the directory is free only once every file is closed.
		s.closeErr = errors.Join(s.closeErr, s.lock.Release())
	})
	return s.closeErr
}

// Start runs a node on a listener at addr ("127.0.0.1:0" for tests), and a
// Kafka listener when cfg.KafkaAddr is set (read its address with
// KafkaAddr), and returns its base URL and a stop function that shuts both
// down gracefully. It listens before it opens the data directory, so a
// taken address leaves the directory untouched; the address is added to
// cfg.Addrs.
func Start(ctx context.Context, cfg Config, addr string) (s *Server, baseURL string, stop func() error, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", nil, err
	}
	cfg.Addrs = append(cfg.Addrs[:len(cfg.Addrs):len(cfg.Addrs)], ln.Addr().String())
	s, err = New(ctx, cfg)
	if err != nil {
		ln.Close()
		return nil, "", nil, err
	}
	hs := s.HTTPServer()
	done := make(chan error, 1)
	go func() { done <- hs.Serve(s.HTTPListener(ln)) }()
	var kafkaDone chan error
	if s.kafka != nil {
		kafkaDone = make(chan error, 1)
		go func() { kafkaDone <- s.ServeKafka() }()
	}
	stop = func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		if kafkaDone != nil {
			err = s.ShutdownKafka(sctx)
			if kerr := <-kafkaDone; !errors.Is(kerr, kafka.ErrServerClosed) {
				err = errors.Join(err, kerr)
			}
		}
		err = errors.Join(err, hs.Shutdown(sctx))
		if serr := <-done; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		return errors.Join(err, s.Close())
	}
	scheme := "http://"
	if cfg.TLS != nil {
		scheme = "https://"
	}
	return s, scheme + ln.Addr().String(), stop, nil
}
