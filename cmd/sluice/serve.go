package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/internal/datadir"
	"github.com/sluicehq/sluice/internal/server"
)

func runServe(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	addr := fs.String("addr", "localhost:8080", "listen `address`; loopback by default, use :8080 to listen on every interface")
	dataDir := fs.String("data-dir", "./sluice-data", "data `directory` (meta.db and topic logs); created if missing")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	fsync := fs.String("fsync", "always", "when appends reach disk: always (ack after fdatasync), interval:<duration> (e.g. interval:100ms), or never")
	maxReq := fs.Int64("max-request-bytes", 16<<20, "largest request body accepted, in bytes")
	minSession := fs.Duration("group-min-session-timeout", broker.DefaultGroupMinSessionTimeout, "shortest session timeout a consumer group member may ask for; a join or heartbeat asking for less is refused (a member that asks for none gets 45s, so keep 45s within the bounds)")
	maxSession := fs.Duration("group-max-session-timeout", broker.DefaultGroupMaxSessionTimeout, "longest session timeout a consumer group member may ask for; a join or heartbeat asking for more is refused")
	fs.Usage = func() {
		fmt.Fprint(e.stderr, "Usage: sluice serve [flags]\n\nRuns the schema registry and the broker on one port (HTTP/1.1 and h2c):\nthe Confluent REST API at /, Connect/gRPC/gRPC-Web services, /healthz and /readyz.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
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
	policy, err := broker.ParseFsyncPolicy(*fsync)
	if err != nil {
		fmt.Fprintf(e.stderr, "sluice serve: --fsync: %v\n", err)
		return 2
	}

	if err := checkSessionBounds(*minSession, *maxSession); err != nil {
		fmt.Fprintf(e.stderr, "sluice serve: %v\n", err)
		return 2
	}
	if def := broker.DefaultGroupSessionTimeout; def < *minSession || def > *maxSession {
		logger.Warn("the default group session timeout is outside the bounds: members must ask for a session timeout within them",
			"default", def, "min", *minSession, "max", *maxSession)
	}

	// Bind before opening the data directory: a taken port must not create
	// or lock a directory on its way to failing.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		logger.Error("cannot listen; change the address with --addr", "addr", *addr, "err", err)
		return 1
	}
	srv, err := server.New(ctx, server.Config{
		DataDir: *dataDir, Addrs: []string{ln.Addr().String()},
		Fsync: policy, Logger: logger, MaxRequestBytes: *maxReq,
		GroupMinSessionTimeout: *minSession, GroupMaxSessionTimeout: *maxSession,
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
	hs := srv.HTTPServer()
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	logger.Info("sluice listening", "addr", ln.Addr().String(), "data_dir", *dataDir, "fsync", *fsync, "version", buildVersion())

	code := 0
	select {
	case <-ctx.Done():
		logger.Info("shutting down: draining requests")
	case err := <-served:
		logger.Error("server stopped", "err", err)
		code = 1
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
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
