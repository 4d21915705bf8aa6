package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/loadgen"
	"github.com/sluicehq/sluice/server"
)

// This file is `sluice bench`: flags onto loadgen.Config, the in-process
// server's wiring (loadgen.StartFunc over server), --cpuprofile,
// and errors. The load generator itself is package loadgen.

const benchUsage = `Usage: sluice bench produce|consume|e2e [flags]

Load generator over the real Connect API, against --addr or, with
--in-process, a server started on a temporary data directory.

  produce  producers append batches of --record-bytes records for --duration;
           reports records/s, MB/s (10^6 bytes) and ack latency.
  consume  catch-up read: makes sure the topic holds at least --backlog
           records, then consumers stream it from the earliest offset to the
           high watermark; reports records/s and MB/s. The consumers
           count records by walking each message's wire form (the load
           generator shares the cores it measures); --decode builds Go
           messages as a real consumer does.
  e2e      consumers follow the topic while producers append; reports
           produce rate, ack latency and end-to-end latency (append to
           delivery, from a send time stamped in each value).

--kafka HOST:PORT sends a produce run's records through the server's Kafka
listener with franz-go instead (acks=all, idempotent, --kafka-linger, batches
up to 1 MiB, --inflight x --batch records buffered per producer: the settings
of ../shared/perf's kfakebench); --addr still creates the topic and registers
the schema of --validate, so validated and unvalidated produce compare over
the same listener:
  sluice bench produce --kafka localhost:9092 --validate none,payload --runs 3

--rate > 0 runs open loop: requests are scheduled at fixed intervals and
latency counts from the scheduled time, so a stalled server is not hidden
(coordinated omission). --rate 0 runs closed loop: every in-flight slot
sends its next request as soon as the previous one is acknowledged.

The run ends by naming what it leaves on the server (the topic, the group
of --group, the topics and subjects of --validate), or, with --cleanup,
deletes them. --in-process without --data-dir leaves nothing.

A progress line is printed every second, then a summary. With --tsv the
progress goes to stderr and stdout gets only rows
  suite metric median unit runs min max command
(tab-separated, suite "sluice", no header) to append to perf summary.tsv.

Flags:
`

func runBench(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "sluice bench", benchUsage)
	var (
		c          loadgen.Config
		cf         clientFlags
		inProcess  bool
		cpuProfile string
	)
	cf.register(fs, e)
	fs.BoolVar(&inProcess, "in-process", false, "run a server in this process on a temporary data directory instead of using --addr")
	fs.StringVar(&c.DataDir, "data-dir", "", "--in-process: data `directory` to use (kept); default a temporary one (removed)")
	fs.StringVar(&c.Fsync, "fsync", "always", "--in-process: always, never or interval:<duration>")
	fs.StringVar(&c.Topic, "topic", "bench", "`topic`; created with --partitions if missing")
	fs.IntVar(&c.RecordBytes, "record-bytes", 1024, "value size of each record, in `bytes`")
	fs.IntVar(&c.Partitions, "partitions", 8, "partitions of the topic when it is created")
	fs.IntVar(&c.Batch, "batch", 64, "`records` per Produce request")
	fs.IntVar(&c.Inflight, "inflight", 16, "Produce requests in flight per producer")
	fs.BoolVar(&c.Stream, "stream", false, "pipeline each producer's requests on one ProduceStream instead of unary Produce calls")
	fs.IntVar(&c.Producers, "producers", 1, "producers, each with its own HTTP/2 connection")
	fs.IntVar(&c.Consumers, "consumers", 1, "consumers, each with its own HTTP/2 connection; partitions are shared out among them")
	fs.Float64Var(&c.Rate, "rate", 0, "open loop: total `records/s` across producers; 0 is closed loop")
	fs.StringVar(&c.Kafka, "kafka", "", "produce through the server's Kafka listener at `host:port` with franz-go instead of Connect")
	fs.DurationVar(&c.KafkaLinger, "kafka-linger", 5*time.Millisecond, "--kafka: the producer's linger")
	fs.StringVar(&c.KafkaSASL, "kafka-sasl", "PLAIN", "--kafka with --user: the SASL `mechanism`, PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (TLS from --tls-ca as for --addr)")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "how long to measure")
	fs.DurationVar(&c.Warmup, "warmup", 0, "run this long before measuring")
	fs.IntVar(&c.Backlog, "backlog", 200000, "consume: `records` the topic must hold before the catch-up read (produced first if missing)")
	fs.BoolVar(&c.Decode, "decode", false, "consume: decode every record into Go messages, as a real consumer does (default: count records by walking the wire format, which costs the shared cores less)")
	fs.BoolVar(&c.TSV, "tsv", false, "print perf summary.tsv rows on stdout (progress on stderr)")
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of this process (client, and server when --in-process) to `file`")
	fs.BoolVar(&c.Cleanup, "cleanup", false, "delete what the run created (the topic; with --group the group; with --validate each level's topic and subject) after it, instead of leaving it; refused for a topic, group or subject that existed before")
	fs.StringVar(&c.Name, "name", "", "metric name prefix in --tsv rows; default the mode plus the fsync policy when in-process")
	fs.StringVar(&c.Validation.Levels, "validate", "", "produce: value.schema.validation `levels` to run, comma-separated (none, id, payload, and rules: payload with --rules CEL rules), e.g. none,payload; records are the perf OrderEvent framed with its schema id")
	fs.StringVar(&c.Validation.Format, "format", "avro", "--validate: schema `format` of the records: avro, protobuf or json")
	fs.IntVar(&c.Validation.Runs, "runs", 1, "--validate: repeat every level this many `times`, interleaved; the summary reports medians")
	fs.IntVar(&c.Validation.Pool, "pool", 4096, "--validate: distinct random `records` generated before measuring")
	fs.IntVar(&c.Validation.Rules, "rules", 0, "--validate: the level rules is payload with `N` CEL condition rules in the schema's ruleSet (data contracts), e.g. --validate payload,rules --rules 1")
	fs.IntVar(&c.SampleRSS, "sample-rss", 0, "while measuring, sample the resident memory of the server process `pid` (and of this process) every 100ms and report min, median, max and peak (Linux /proc)")
	fs.StringVar(&c.Group, "group", "", "consume: read as the --consumers members of consumer `group` (reset to earliest first) instead of plain subscriptions")
	pos, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	if len(pos) == 1 && pos[0] == "help" {
		showHelp(fs)
		return 0
	}
	if len(pos) != 1 || (pos[0] != "produce" && pos[0] != "consume" && pos[0] != "e2e") {
		fmt.Fprintln(e.stderr, "sluice bench: want one mode: produce, consume or e2e")
		return 2
	}
	if err := cf.validate(); err != nil {
		fmt.Fprintf(e.stderr, "sluice bench: %v\n", err)
		return 2
	}
	c.Mode = pos[0]
	c.Command = "sluice bench " + strings.Join(args, " ")
	c.Addr = cf.baseURL()
	c.TLS, c.Credentials = cf.tls, cf.creds
	c.Out, c.Progress = e.stdout, e.stdout
	if c.TSV {
		c.Progress = e.stderr
	}
	if inProcess {
		policy, err := broker.ParseFsyncPolicy(c.Fsync)
		if err != nil {
			// After the other settings' checks, as before the move.
			if verr := c.Validate(); verr != nil {
				err = verr
			} else {
				err = fmt.Errorf("--fsync: %v", err)
			}
			fmt.Fprintf(e.stderr, "sluice bench: %v\n", err)
			return 2
		}
		c.Start = inProcessServer(policy)
	}
	if err := c.Validate(); err != nil {
		fmt.Fprintf(e.stderr, "sluice bench: %v\n", err)
		return 2
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			fmt.Fprintf(e.stderr, "sluice bench: --cpuprofile: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(e.stderr, "sluice bench: --cpuprofile: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	if err := loadgen.Run(ctx, c); err != nil {
		return printErr(e.stderr, "bench "+c.Mode, err)
	}
	return 0
}

// inProcessServer is --in-process: a Sluice node (server) on a
// loopback port, with the --fsync policy and no logs.
func inProcessServer(policy broker.FsyncPolicy) loadgen.StartFunc {
	return func(ctx context.Context, dir string) (string, func() error, error) {
		_, url, stop, err := server.Start(ctx, server.Config{
			DataDir: dir,
			Fsync:   policy,
			Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		}, "127.0.0.1:0")
		return url, stop, err
	}
}
