package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/broker/kafka"
	"github.com/sluicehq/sluice/gcpace"
	"github.com/sluicehq/sluice/internal/datadir"
	"github.com/sluicehq/sluice/metrics"
	"github.com/sluicehq/sluice/server"
)

func runServe(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "serve", "Usage: sluice serve [flags]\n\nRuns the schema registry and the broker on one port (HTTP/1.1 and h2c):\nthe Confluent REST API at /, Connect/gRPC/gRPC-Web services, /healthz and /readyz;\nand the Kafka wire protocol on --kafka-addr.\n\nFlags:\n")
	addr := fs.String("addr", "localhost:8080", "listen `address`; loopback by default, use :8080 to listen on every interface")
	dataDir := fs.String("data-dir", "./sluice-data", "data `directory` (meta.db and topic logs); created if missing")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	fsync := fs.String("fsync", "always", "when appends reach disk: always (ack after fdatasync), interval:<duration> (e.g. interval:100ms), or never")
	maxReq := fs.Int64("max-request-bytes", 16<<20, "largest request body accepted, in bytes")
	minSession := fs.Duration("group-min-session-timeout", broker.DefaultGroupMinSessionTimeout, "shortest session timeout a consumer group member may ask for; a join or heartbeat asking for less is refused (a member that asks for none gets 45s, so keep 45s within the bounds)")
	maxSession := fs.Duration("group-max-session-timeout", broker.DefaultGroupMaxSessionTimeout, "longest session timeout a consumer group member may ask for; a join or heartbeat asking for more is refused")
	kafkaAddr := fs.String("kafka-addr", "localhost:9092", "Kafka protocol listen `address`: Kafka clients (kcat, librdkafka, franz-go, Java, kafkajs) produce and consume here; loopback by default, :9092 listens on every interface, \"\" turns the Kafka listener off")
	kafkaAdvertised := fs.String("kafka-advertised-addr", "", "`host:port` that Kafka clients are told to connect to after bootstrap (Metadata); default: the Kafka listen address with its real port, or this machine's host name when listening on every interface")
	kafkaMaxReq := fs.Int("kafka-max-request-bytes", kafka.DefaultMaxRequestBytes, "largest Kafka request accepted, in bytes; a larger one closes the connection (Kafka's socket.request.max.bytes)")
	security := addSecurityFlags(fs)
	meta := fs.String("meta", "", "cluster mode: `URL` of the cluster's PostgreSQL database, postgres://USER@HOST:PORT/DB (with ?sslmode=... as libpq reads it); the schema registry, topic metadata and group offsets live there, and every node serves the registry of the whole cluster. With --objects every node serves every topic from the shared log; without it record bytes stay on a local disk, so the first node to join keeps every topic and the others refuse topic requests, naming it (docs/cluster.md)")
	nodeID := fs.String("node-id", "", "this node's `name` in the cluster, 1 to 64 characters of [A-Za-z0-9._-], unique per process; required with --meta")
	objects := fs.String("objects", "", "cluster mode: `URL` of the object store for record bytes, file:///SHARED/DIR (a directory every node mounts) or s3://BUCKET[/PREFIX]?endpoint=URL[&region=R][&path-style=true] (credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or access-key-id= and secret-access-key= in the URL); needs --meta; probed at start. Every node then keeps every partition in the shared log (record bytes in this store, offsets in --meta's database) and serves every topic (docs/cluster.md)")
	sharedWindow := fs.Duration("shared-window", 0, "cluster mode with --objects: how long a node collects produced batches before writing them as one object; every ack waits for it, then the PUT and the commit. 0 is the default, 5ms; on S3 a longer window (100ms to 250ms) makes fewer, larger objects, fewer PUTs to pay for (docs/cluster.md)")
	mergeRate := fs.String("shared-merge-rate", "8MiB", "cluster mode with --objects: how many `bytes` of merged segments a second this node's compactor writes (KiB, MiB, GiB, or KB, MB, GB, per second), so that merges leave the disk to the produce path's syncs; none for no limit, as on S3, whose disks the node does not share (docs/cluster.md)")
	groupLeaseTTL := fs.Duration("group-lease-ttl", broker.DefaultGroupLeaseTTL, "cluster mode: how long a node's lease on a consumer group (being its coordinator) lasts without renewal; the holder renews every third of it, and when a node dies another takes its groups after at most this long (docs/cluster.md)")
	txnExpiration := fs.Duration("transactional-id-expiration", broker.DefaultTransactionalIDExpiration, "how long a transactional id whose last transaction is complete may go unused before its state is deleted (a producer that comes back gets a new producer id), as Kafka's transactional.id.expiration.ms; 1m or more")
	kafkaAutoCreate := fs.Bool("kafka-auto-create-topics", false, "let a Kafka client create a missing topic (1 partition, default configs) by asking for it in Metadata, as Kafka's auto.create.topics.enable; off by default")
	metricsMax := fs.Int("metrics-max-partitions", metrics.DefaultMaxPartitions, "cap on the per-partition series of each /metrics family (produced, fetched, log size and offsets, group lag): topics past the cap are summed into partition=\"other\" series (see docs/operations.md)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if helpAsked(fs) {
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "sluice serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	logger, err := newLogger(e.stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintf(e.stderr, "sluice serve: %v\n", err)
		return 2
	}
	if *sharedWindow != 0 && (*objects == "" || *sharedWindow < 0) {
		fmt.Fprintf(e.stderr, "sluice serve: --shared-window %v: want a positive duration, with --objects (it sets the shared log's batching window)\n", *sharedWindow)
		return 2
	}
	sharedMergeRate, err := parseMergeRate(*mergeRate)
	if err != nil {
		fmt.Fprintf(e.stderr, "sluice serve: --shared-merge-rate %q: %v\n", *mergeRate, err)
		return 2
	}
	mergeRateSet := false
	fs.Visit(func(f *flag.Flag) { mergeRateSet = mergeRateSet || f.Name == "shared-merge-rate" })
	if mergeRateSet && *objects == "" {
		fmt.Fprintln(e.stderr, "sluice serve: --shared-merge-rate needs --objects (it paces the shared log's merges)")
		return 2
	}
	if *groupLeaseTTL < time.Second {
		fmt.Fprintf(e.stderr, "sluice serve: --group-lease-ttl %v: want 1s or more (the holder renews every third of it)\n", *groupLeaseTTL)
		return 2
	}
	if *txnExpiration < time.Minute {
		fmt.Fprintf(e.stderr, "sluice serve: --transactional-id-expiration %v: want 1m or more (idle ids are looked for once a minute)\n", *txnExpiration)
		return 2
	}
	if *metricsMax < 1 {
		fmt.Fprintf(e.stderr, "sluice serve: --metrics-max-partitions %d: want 1 or more\n", *metricsMax)
		return 2
	}
	policy, err := broker.ParseFsyncPolicy(*fsync)
	if err != nil {
		fmt.Fprintf(e.stderr, "sluice serve: --fsync: %v\n", err)
		return 2
	}

	if err := server.CheckCluster(*meta, *nodeID); err != nil {
		fmt.Fprintf(e.stderr, "sluice serve: %v\n", err)
		return 2
	}
	if err := server.CheckObjects(*meta, *objects); err != nil {
		fmt.Fprintf(e.stderr, "sluice serve: %v\n", err)
		return 2
	}
	if err := checkSessionBounds(*minSession, *maxSession); err != nil {
		fmt.Fprintf(e.stderr, "sluice serve: %v\n", err)
		return 2
	}
	if err := checkKafkaFlags(*kafkaAddr, *kafkaAdvertised, *kafkaMaxReq); err != nil {
		fmt.Fprintf(e.stderr, "sluice serve: %v\n", err)
		return 2
	}
	if def := broker.DefaultGroupSessionTimeout; def < *minSession || def > *maxSession {
		logger.Warn("the default group session timeout is outside the bounds: members must ask for a session timeout within them",
			"default", def, "min", *minSession, "max", *maxSession)
	}

	authn, tlsMaterial, err := security.load(logger)
	if err != nil {
		fmt.Fprintf(e.stderr, "sluice serve: %v\n", err)
		return 2
	}

	// Bind before opening the data directory: a taken port must not create
	// or lock a directory on its way to failing.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		logger.Error("cannot listen; change the address with --addr", "addr", *addr, "err", err)
		return 1
	}
	var kln net.Listener
	if *kafkaAddr != "" {
		if kln, err = net.Listen("tcp", *kafkaAddr); err != nil {
			logger.Error(`cannot listen for Kafka clients; change the address with --kafka-addr, or turn the Kafka listener off with --kafka-addr ""`, "kafka_addr", *kafkaAddr, "err", err)
			ln.Close()
			return 1
		}
	}
	if err := checkExposure(authn != nil, *security.insecure, ln, kln); err != nil {
		fmt.Fprintf(e.stderr, "sluice serve: %v\n", err)
		ln.Close()
		if kln != nil {
			kln.Close()
		}
		return 2
	}
	gcPercent, gcFromEnv := serverGC()
	srv, err := server.New(ctx, server.Config{
		DataDir: *dataDir, Addrs: []string{ln.Addr().String()},
		Fsync: policy, Logger: logger, MaxRequestBytes: *maxReq,
		GroupMinSessionTimeout: *minSession, GroupMaxSessionTimeout: *maxSession,
		// The server owns kln from here on, failure included.
		KafkaListener: kln, KafkaAdvertisedAddr: *kafkaAdvertised,
		KafkaMaxRequestBytes: int32(*kafkaMaxReq), KafkaAutoCreateTopics: *kafkaAutoCreate, MetricsMaxPartitions: *metricsMax,
		Auth: authn, MetricsAuth: *security.metricsAuth, TLS: tlsMaterial,
		Meta: *meta, NodeID: *nodeID, Objects: *objects, SharedWindow: *sharedWindow,
		SharedMergeRate:           sharedMergeRate,
		GroupLeaseTTL:             *groupLeaseTTL,
		TransactionalIDExpiration: *txnExpiration,
	})
	if err != nil {
		ln.Close()
		if errors.Is(err, datadir.ErrLocked) {
			logger.Error("data directory in use; stop the other server or choose another --data-dir", "err", err)
			return 1
		}
		logger.Error("start failed", "err", err)
		return 1
	}
	gcLog := []any{"gogc", gcPercent}
	if _, ok := srv.Broker.SharedLogStats(); ok && !gcFromEnv {
		// A cluster node's read cache is most of its live heap once full:
		// GOGC applies to the rest only (package gcpace).
		pacer := gcpace.Start(gcPercent, serverGCFloor, func() int64 {
			s, _ := srv.Broker.SharedLogStats()
			return s.CacheBytes
		})
		defer pacer.Stop()
		gcLog = append(gcLog, "gogc_of", "the heap outside the read cache")
	}
	hs := srv.HTTPServer()
	served := make(chan error, 1)
	go func() { served <- hs.Serve(srv.HTTPListener(ln)) }()
	defer reloadOnSIGHUP(ctx, logger, *security.authFile, authn, tlsMaterial)()
	kafkaServed := make(chan error, 1)
	kafkaLog := []any{"kafka_addr", "off"}
	if kln != nil {
		go func() { kafkaServed <- srv.ServeKafka() }()
		kafkaLog = []any{"kafka_addr", srv.KafkaAddr(), "kafka_advertised_addr", srv.KafkaAdvertisedAddr()}
	}
	fields := append([]any{"addr", ln.Addr().String()}, kafkaLog...)
	fields = append(fields, "data_dir", *dataDir, "fsync", *fsync)
	fields = append(fields, gcLog...)
	if *objects != "" {
		fields = append(fields, "shared_merge_rate", *mergeRate)
	}
	if *txnExpiration != broker.DefaultTransactionalIDExpiration {
		fields = append(fields, "transactional_id_expiration", txnExpiration.String())
	}
	fields = append(fields, "tls", tlsMaterial != nil, "auth", authn != nil, "version", buildVersion())
	logger.Info("sluice listening", fields...)

	code := 0
	select {
	case <-ctx.Done():
		logger.Info("shutting down: draining requests")
	case err := <-served:
		logger.Error("server stopped", "err", err)
		code = 1
	case err := <-kafkaServed:
		logger.Error("Kafka listener stopped", "err", err)
		code = 1
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.ShutdownKafka(sctx); err != nil {
		logger.Warn("Kafka shutdown did not drain every request", "err", err)
	}
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Warn("shutdown did not drain every request", "err", err)
	}
	if err := srv.Close(); err != nil {
		logger.Error("close failed", "err", err)
		return 1
	}
	logger.Info("stopped")
	return code
}

// serverGCPercent is the GOGC a server runs with when the environment sets
// none. A broker keeps a small live heap (tens of MB) and allocates fast
// (request bodies, batch encodings): at Go's default of 100, small durable
// produce requests ran about 20 collections a second against a 9 MB live
// heap. 400 lets the heap reach five times what is live before collecting.
const serverGCPercent = 400

// serverGCFloor is the least headroom a cluster node's paced collector
// leaves (gcpace): a heap of little more than its read cache still gets
// this much room between collections.
const serverGCFloor = 64 << 20

// serverGC sets serverGCPercent unless $GOGC is set, and returns the
// percent in force (-1 is off) and whether $GOGC set it.
func serverGC() (int, bool) {
	if os.Getenv("GOGC") != "" {
		p := debug.SetGCPercent(100)
		debug.SetGCPercent(p)
		return p, true
	}
	debug.SetGCPercent(serverGCPercent)
	return serverGCPercent, false
}

// checkKafkaFlags checks --kafka-advertised-addr (host:port with a host a
// client can connect to) and --kafka-max-request-bytes before anything
// starts.
func checkKafkaFlags(listen, advertised string, maxReq int) error {
	if maxReq < 1 || maxReq > math.MaxInt32 {
		return fmt.Errorf("--kafka-max-request-bytes %d: want 1 to %d", maxReq, math.MaxInt32)
	}
	if advertised == "" {
		return nil
	}
	if listen == "" {
		return fmt.Errorf("--kafka-advertised-addr %q without a Kafka listener (--kafka-addr is \"\")", advertised)
	}
	host, port, err := net.SplitHostPort(advertised)
	if err != nil {
		return fmt.Errorf("--kafka-advertised-addr %q: want host:port", advertised)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		return fmt.Errorf("--kafka-advertised-addr %q: clients cannot connect to a wildcard host; name this machine", advertised)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 && port != "0" {
		return fmt.Errorf("--kafka-advertised-addr %q: port %q is not a number from 0 to 65535", advertised, port)
	}
	return nil
}

// checkSessionBounds checks --group-min-session-timeout and
// --group-max-session-timeout: both positive, the minimum at most the
// maximum.
func checkSessionBounds(lo, hi time.Duration) error {
	if lo <= 0 {
		return fmt.Errorf("--group-min-session-timeout %v: want a positive duration", lo)
	}
	if hi <= 0 {
		return fmt.Errorf("--group-max-session-timeout %v: want a positive duration", hi)
	}
	if lo > hi {
		return fmt.Errorf("--group-min-session-timeout %v is more than --group-max-session-timeout %v", lo, hi)
	}
	return nil
}

// newLogger builds the process logger; only cmd/ configures logging.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// parseMergeRate reads --shared-merge-rate: "none" (no limit, -1) or a
// positive number of bytes with an optional unit (B, KB, MB, GB in powers
// of 1000; KiB, MiB, GiB in powers of 1024) and an optional "/s".
func parseMergeRate(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "none") {
		return -1, nil
	}
	num := strings.TrimSuffix(s, "/s")
	i := strings.IndexFunc(num, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	unit := ""
	if i >= 0 {
		num, unit = num[:i], strings.TrimSpace(num[i:])
	}
	mult, ok := map[string]float64{"": 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}[strings.ToLower(unit)]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q; want B, KB, MB, GB, KiB, MiB or GiB (a second), or none", unit)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("want a number of bytes a second such as 8MiB, or none")
	}
	n := v * mult
	if n < 1 || n > 1<<50 {
		return 0, fmt.Errorf("want more than 0 bytes a second (and at most 1 PiB), or none for no limit")
	}
	return int64(n), nil
}
