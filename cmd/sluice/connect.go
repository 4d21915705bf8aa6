package main

// `sluice connect run FILE` and `sluice connect status FILE`: thin over
// package connect.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/credentials"
	"github.com/sluicehq/sluice/connect"
)

const connectUsage = `Usage: sluice connect <subcommand> [flags] FILE.yaml

Runs the connectors declared in FILE.yaml (a connectors: list, alone or in
sluice.yaml): a PostgreSQL sink (a typed topic into a table) or a PostgreSQL
source (change data capture into typed topics). See docs/connectors.md.

Subcommands:
  run FILE [NAME...]      run the file's connectors (or those named) until
                          interrupted; a failing connector stops them all
  status FILE             per connector: state, position (offsets or LSN)
                          and lag

Flags:
`

// serveConnectorMetrics serves h at /metrics on addr until stop.
func serveConnectorMetrics(addr string, h http.Handler) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return func() { srv.Close() }, nil
}

func runConnect(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "sluice connect", connectUsage)
	var cf clientFlags
	cf.register(fs, e)
	logFormat := fs.String("log-format", "text", "run: log format: text or json")
	logLevel := fs.String("log-level", "info", "run: log level: debug, info, warn or error")
	metricsAddr := fs.String("metrics-addr", "", "run: serve the connectors' Prometheus metrics at http://`HOST:PORT`/metrics (none when empty)")
	pos, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	if err := cf.validate(); err != nil {
		fmt.Fprintf(e.stderr, "sluice connect: %v\n", err)
		return 2
	}
	if len(pos) < 2 || pos[0] != "run" && pos[0] != "status" || pos[0] == "status" && len(pos) != 2 {
		fs.Usage()
		return 2
	}
	f, err := connect.Load(pos[1])
	if err != nil {
		fmt.Fprintf(e.stderr, "sluice connect: %v\n", err)
		return 2
	}
	var opts []client.Option
	if cf.tls != nil {
		opts = append(opts, client.WithTLS(cf.tls))
	}
	switch {
	case cf.creds.Token != "":
		opts = append(opts, client.WithToken(cf.creds.Token))
	case cf.creds.User != "":
		opts = append(opts, client.WithBasicAuth(cf.creds.User, cf.creds.Password))
	}
	conn := client.New(credentials.HTTPClient(cf.tls), cf.baseURL(), opts...)
	if pos[0] == "status" {
		return connectStatus(ctx, e, &cf, f, conn)
	}
	logger, err := newLogger(e.stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintf(e.stderr, "sluice connect: %v\n", err)
		return 2
	}
	if *metricsAddr != "" {
		stop, err := serveConnectorMetrics(*metricsAddr, connect.MetricsHandler(f, conn, logger))
		if err != nil {
			fmt.Fprintf(e.stderr, "sluice connect: --metrics-addr %s: %v\n", *metricsAddr, err)
			return 1
		}
		defer stop()
		logger.Info("serving connector metrics", "url", "http://"+*metricsAddr+"/metrics")
	}
	if err := connect.Run(ctx, f, conn, logger, pos[2:]...); err != nil {
		if code, ok := authExit(e.stderr, "sluice connect", err); ok {
			return code
		}
		fmt.Fprintf(e.stderr, "sluice connect: %v\n", err)
		return 1
	}
	return 0
}

func connectStatus(ctx context.Context, e *env, cf *clientFlags, f *connect.File, conn *client.Conn) int {
	sts := connect.ReadStatus(ctx, f, conn)
	if cf.json() {
		if err := writeJSON(e.stdout, sts); err != nil {
			return 1
		}
	} else {
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CONNECTOR\tTYPE\tSTATE\tPOSITION\tLAG")
		for _, s := range sts {
			state, position, lag := "unknown", "", ""
			switch {
			case s.Error != "":
				state = "error: " + s.Error
			case s.Sink != nil:
				state = s.Sink.State
				var parts []string
				for _, p := range s.Sink.Partitions {
					parts = append(parts, fmt.Sprintf("%d:%d/%d", p.Partition, p.NextOffset, p.HighWatermark))
				}
				position, lag = "offsets "+strings.Join(parts, " "), plural(s.Sink.Lag, "record")
			case s.Source != nil:
				state = s.Source.State
				position = "lsn " + s.Source.ConfirmedLSN
				if s.Source.CurrentLSN != "" {
					position += " (server " + s.Source.CurrentLSN + ")"
				}
				lag = plural(s.Source.LagBytes, "WAL byte")
			}
			if state == "" {
				state = "never started"
			}
			if s.Sink != nil && s.Sink.Detail != "" {
				state += ": " + s.Sink.Detail
			}
			if s.Source != nil && s.Source.Detail != "" {
				state += ": " + s.Source.Detail
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Name, s.Type, state, position, lag)
		}
		tw.Flush()
	}
	for _, s := range sts {
		if s.Error != "" {
			return 1
		}
	}
	return 0
}
