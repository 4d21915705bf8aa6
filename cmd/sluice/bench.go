package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/internal/server"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

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

// benchConfig is the parsed command line.
type benchConfig struct {
	mode        string
	cf          clientFlags
	inProcess   bool
	dataDir     string
	fsync       string
	topic       string
	recordBytes int
	partitions  int
	batch       int
	inflight    int
	producers   int
	consumers   int
	rate        float64
	duration    time.Duration
	warmup      time.Duration
	backlog     int
	decode      bool
	group       string // bench_group.go
	cleanup     bool   // bench_leftovers.go
	tsv         bool
	name        string
	cpuProfile  string
	command     string
}

func runBench(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "sluice bench", benchUsage)
	var c benchConfig
	c.cf.register(fs, e)
	fs.BoolVar(&c.inProcess, "in-process", false, "run a server in this process on a temporary data directory instead of using --addr")
	fs.StringVar(&c.dataDir, "data-dir", "", "--in-process: data `directory` to use (kept); default a temporary one (removed)")
	fs.StringVar(&c.fsync, "fsync", "always", "--in-process: always, never or interval:<duration>")
	fs.StringVar(&c.topic, "topic", "bench", "`topic`; created with --partitions if missing")
	fs.IntVar(&c.recordBytes, "record-bytes", 1024, "value size of each record, in `bytes`")
	fs.IntVar(&c.partitions, "partitions", 8, "partitions of the topic when it is created")
	fs.IntVar(&c.batch, "batch", 64, "`records` per Produce request")
	fs.IntVar(&c.inflight, "inflight", 16, "Produce requests in flight per producer")
	fs.IntVar(&c.producers, "producers", 1, "producers, each with its own HTTP/2 connection")
	fs.IntVar(&c.consumers, "consumers", 1, "consumers, each with its own HTTP/2 connection; partitions are shared out among them")
	fs.Float64Var(&c.rate, "rate", 0, "open loop: total `records/s` across producers; 0 is closed loop")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long to measure")
	fs.DurationVar(&c.warmup, "warmup", 0, "run this long before measuring")
	fs.IntVar(&c.backlog, "backlog", 200000, "consume: `records` the topic must hold before the catch-up read (produced first if missing)")
	fs.BoolVar(&c.decode, "decode", false, "consume: decode every record into Go messages, as a real consumer does (default: count records by walking the wire format, which costs the shared cores less)")
	fs.BoolVar(&c.tsv, "tsv", false, "print perf summary.tsv rows on stdout (progress on stderr)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of this process (client, and server when --in-process) to `file`")
	fs.BoolVar(&c.cleanup, "cleanup", false, "delete what the run created (the topic; with --group the group; with --validate each level's topic and subject) after it, instead of leaving it; refused for a topic, group or subject that existed before")
	fs.StringVar(&c.name, "name", "", "metric name prefix in --tsv rows; default the mode plus the fsync policy when in-process")
	vf := registerValidateFlags(fs) // bench_validate.go
	registerGroupFlags(fs, &c)      // bench_group.go
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
	c.mode = pos[0]
	c.command = "sluice bench " + strings.Join(args, " ")
	if err := c.validate(); err != nil {
		fmt.Fprintf(e.stderr, "sluice bench: %v\n", err)
		return 2
	}
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
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
	run := c.run
	if vf.on() {
		run = func(ctx context.Context, e *env) error { return vf.run(ctx, e, &c) }
	}
	if err := run(ctx, e); err != nil {
		printErr(e.stderr, "bench "+c.mode, err)
		return 1
	}
	return 0
}

func (c *benchConfig) validate() error {
	switch {
	case c.recordBytes < 8 && c.mode == "e2e":
		return fmt.Errorf("--record-bytes %d: e2e stamps the send time in the first 8 bytes, want at least 8", c.recordBytes)
	case c.recordBytes < 0:
		return fmt.Errorf("--record-bytes %d: want 0 or more", c.recordBytes)
	case c.partitions < 1:
		return fmt.Errorf("--partitions %d: want at least 1", c.partitions)
	case c.batch < 1:
		return fmt.Errorf("--batch %d: want at least 1", c.batch)
	case c.inflight < 1:
		return fmt.Errorf("--inflight %d: want at least 1", c.inflight)
	case c.producers < 1:
		return fmt.Errorf("--producers %d: want at least 1", c.producers)
	case c.consumers < 1:
		return fmt.Errorf("--consumers %d: want at least 1", c.consumers)
	case c.rate < 0:
		return fmt.Errorf("--rate %v: want 0 (closed loop) or more", c.rate)
	case c.duration <= 0:
		return fmt.Errorf("--duration %v: want more than 0", c.duration)
	case c.backlog < 0:
		return fmt.Errorf("--backlog %d: want 0 or more", c.backlog)
	case c.group != "" && c.mode != "consume":
		return fmt.Errorf("--group %s: only bench consume reads as a group", c.group)
	}
	if c.inProcess {
		if _, err := broker.ParseFsyncPolicy(c.fsync); err != nil {
			return fmt.Errorf("--fsync: %v", err)
		}
	}
	if c.name == "" {
		c.name = c.mode
		if c.inProcess {
			c.name += "_fsync-" + strings.NewReplacer(":", "-").Replace(c.fsync)
		}
		if c.decode && c.mode == "consume" {
			c.name += "_decode"
		}
	}
	return nil
}

// benchHTTPClient is one HTTP/2 cleartext connection's worth of client:
// h2c only, so requests multiplex on one connection as gRPC clients do.
func benchHTTPClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{
		Protocols:   &p,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}}
}

// benchClientOpts turn off gzip: the bench measures the broker and the
// transport, and the perf baselines run with compression off.
var benchClientOpts = []connect.ClientOption{connect.WithAcceptCompression("gzip", nil, nil)}

func (c *benchConfig) run(ctx context.Context, e *env) (err error) {
	base := c.cf.baseURL()
	progress := e.stdout
	if c.tsv {
		progress = e.stderr
	}
	if c.inProcess {
		dir := c.dataDir
		if dir == "" {
			tmp, err := os.MkdirTemp("", "sluice-bench-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			dir = tmp
		}
		policy, _ := broker.ParseFsyncPolicy(c.fsync)
		_, url, stop, err := server.Start(ctx, server.Config{
			DataDir: dir,
			Fsync:   policy,
			Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		}, "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("in-process server: %w", err)
		}
		defer stop()
		base = url
	}
	if c.cleanup && c.group != "" {
		if err := checkGroupNew(ctx, base, c.group); err != nil {
			return err
		}
	}
	topics := brokerv1connect.NewTopicServiceClient(benchHTTPClient(), base, benchClientOpts...)
	parts, created, err := c.ensureTopic(ctx, topics)
	if err != nil {
		return err
	}
	left := &benchLeftovers{base: base, kept: !c.inProcess || c.dataDir != "", topics: []string{c.topic}, group: c.group}
	if c.cleanup && !created {
		return existsError("topic", c.topic, "sluice topic delete "+shellQuote(c.topic))
	}
	// Runs before the in-process server stops (deferred earlier).
	defer func() {
		dir := ""
		if c.inProcess {
			dir = c.dataDir
		}
		err = errors.Join(err, left.finish(ctx, progress, c.cleanup, dir))
	}()
	r := &benchRun{cfg: c, base: base, partitions: parts, progress: progress}
	fmt.Fprintf(progress, "%s: topic %s, %s, %d-byte records, batch %d, %s x %d in flight, %s, %s, %v\n",
		c.command, c.topic, plural(parts, "partition"), c.recordBytes, c.batch, plural(c.producers, "producer"), c.inflight, plural(c.consumers, "consumer"), c.loopName(), c.duration)
	switch c.mode {
	case "produce":
		err = r.produce(ctx)
	case "consume":
		err = r.consume(ctx, topics)
	case "e2e":
		err = r.e2e(ctx)
	}
	if err != nil {
		return err
	}
	r.summary(e.stdout)
	return nil
}

func (c *benchConfig) loopName() string {
	if c.rate > 0 {
		return fmt.Sprintf("open loop at %.0f records/s", c.rate)
	}
	return "closed loop"
}

// ensureTopic creates the topic or finds its partition count; created
// tells which.
func (c *benchConfig) ensureTopic(ctx context.Context, topics brokerv1connect.TopicServiceClient) (parts int, created bool, err error) {
	res, err := topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: c.topic, Partitions: int32(c.partitions)}))
	if err == nil {
		return len(res.Msg.GetTopic().GetPartitions()), true, nil
	}
	if connect.CodeOf(err) != connect.CodeAlreadyExists {
		return 0, false, err
	}
	d, err := topics.DescribeTopic(ctx, connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: c.topic}))
	if err != nil {
		return 0, false, err
	}
	return len(d.Msg.GetTopic().GetPartitions()), false, nil
}

// benchRun holds the counters of one run. Counters are atomics; the
// histograms are behind mu (one lock per request or chunk is far below the
// RPC cost).
type benchRun struct {
	cfg        *benchConfig
	base       string
	partitions int
	progress   io.Writer

	measuring atomic.Bool
	produced  atomic.Int64 // records acknowledged while measuring
	prodBytes atomic.Int64
	consumed  atomic.Int64
	consBytes atomic.Int64

	mu                 sync.Mutex
	ack, ackIval       histogram
	e2eLat, e2eIval    histogram
	elapsed            time.Duration
	consumeElapsed     time.Duration
	lastProd, lastCons int64

	// e2eReady is closed once every e2e subscription is in place.
	e2eReady chan struct{}
}

func (r *benchRun) recordAck(n, bytes int, lat time.Duration) {
	if !r.measuring.Load() {
		return
	}
	r.produced.Add(int64(n))
	r.prodBytes.Add(int64(bytes))
	r.mu.Lock()
	r.ack.record(lat)
	r.ackIval.record(lat)
	r.mu.Unlock()
}

// payloads is a random source for values: each request takes a window of
// it, so values differ without generating random bytes per record.
type payloads struct {
	buf  []byte
	size int
}

func newPayloads(size int) *payloads {
	buf := make([]byte, size*256+size)
	rng := rand.New(rand.NewChaCha8([32]byte{'s', 'l', 'u', 'i', 'c', 'e'}))
	for i := 0; i+8 <= len(buf); i += 8 {
		binary.LittleEndian.PutUint64(buf[i:], rng.Uint64())
	}
	return &payloads{buf: buf, size: size}
}

// request builds one Produce request of n records. With stamp the values
// are fresh copies carrying the send time in their first 8 bytes.
func (p *payloads) request(topic string, n int, rng *rand.Rand, stamp bool) *brokerv1.ProduceRequest {
	recs := make([]*brokerv1.ProduceRecord, n)
	slab := make([]brokerv1.ProduceRecord, n)
	var fresh []byte
	if stamp {
		fresh = make([]byte, n*p.size)
	}
	for i := range recs {
		off := rng.IntN(len(p.buf) - p.size + 1)
		v := p.buf[off : off+p.size : off+p.size]
		if stamp {
			dst := fresh[i*p.size : (i+1)*p.size : (i+1)*p.size]
			copy(dst, v)
			v = dst
		}
		slab[i].Value = v
		recs[i] = &slab[i]
	}
	return &brokerv1.ProduceRequest{Topic: topic, Records: recs}
}

// stampNow writes the send time into every value of req.
func stampNow(req *brokerv1.ProduceRequest) {
	now := time.Now().UnixNano()
	for _, rec := range req.Records {
		binary.LittleEndian.PutUint64(rec.Value, uint64(now))
	}
}

// runProducers runs the producers until ctx ends. Open loop: one scheduler
// hands out scheduled send times; latency counts from them.
func (r *benchRun) runProducers(ctx context.Context, stamp bool) error {
	c := r.cfg
	pl := newPayloads(c.recordBytes)
	var sched chan time.Time
	if c.rate > 0 {
		sched = make(chan time.Time, 1<<16)
		go func() {
			interval := time.Duration(float64(c.batch) / c.rate * float64(time.Second))
			next := time.Now()
			t := time.NewTimer(0)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				// Catch up on every slot that is due; if the workers are
				// behind, the queue grows and latency shows it.
				for now := time.Now(); !next.After(now); next = next.Add(interval) {
					select {
					case sched <- next:
					case <-ctx.Done():
						return
					}
				}
				t.Reset(time.Until(next))
			}
		}()
	}
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	for p := range c.producers {
		client := brokerv1connect.NewBrokerServiceClient(benchHTTPClient(), r.base, benchClientOpts...)
		for w := range c.inflight {
			rng := rand.New(rand.NewPCG(uint64(p), uint64(w)))
			wg.Go(func() {
				for {
					var start time.Time
					if sched != nil {
						select {
						case start = <-sched:
						case <-ctx.Done():
							return
						}
					} else {
						if ctx.Err() != nil {
							return
						}
						start = time.Now()
					}
					req := pl.request(c.topic, c.batch, rng, stamp)
					if stamp {
						stampNow(req)
					}
					_, err := client.Produce(ctx, connect.NewRequest(req))
					if err != nil {
						if ctx.Err() != nil {
							return
						}
						select {
						case errc <- err:
						default:
						}
						return
					}
					r.recordAck(c.batch, c.batch*c.recordBytes, time.Since(start))
				}
			})
		}
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// measure runs work (which must return when its ctx ends) through the
// warm-up and the measured duration, printing a progress line a second.
func (r *benchRun) measure(ctx context.Context, work func(ctx context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- work(ctx) }()
	if r.cfg.warmup > 0 {
		select {
		case <-time.After(r.cfg.warmup):
		case err := <-errc:
			return errOrEarly(err)
		}
	}
	r.mu.Lock()
	r.ackIval.reset()
	r.e2eIval.reset()
	r.mu.Unlock()
	r.measuring.Store(true)
	start := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	end := time.NewTimer(r.cfg.duration)
	defer end.Stop()
	for {
		select {
		case <-tick.C:
			r.progressLine(time.Since(start))
			continue
		case <-end.C:
		case <-ctx.Done():
		case err := <-errc:
			return errOrEarly(err)
		}
		break
	}
	r.measuring.Store(false)
	r.mu.Lock()
	r.elapsed = time.Since(start)
	r.mu.Unlock()
	cancel()
	return <-errc
}

func errOrEarly(err error) error {
	if err == nil {
		return errors.New("the load stopped before the measurement ended")
	}
	return err
}

// progressLine prints the last second's rates and latencies.
func (r *benchRun) progressLine(at time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	prod, cons := r.produced.Load(), r.consumed.Load()
	line := fmt.Sprintf("%6.1fs", at.Seconds())
	if d := prod - r.lastProd; d > 0 || r.cfg.mode != "consume" {
		line += fmt.Sprintf("  produce %9d rec/s %8.1f MB/s  ack p50 %v p99 %v", d, float64(d)*float64(r.cfg.recordBytes)/1e6,
			r.ackIval.quantile(0.50).Round(time.Microsecond), r.ackIval.quantile(0.99).Round(time.Microsecond))
	}
	if d := cons - r.lastCons; d > 0 || r.cfg.mode != "produce" {
		line += fmt.Sprintf("  consume %9d rec/s", d)
		if r.e2eIval.n > 0 {
			line += fmt.Sprintf("  e2e p50 %v p99 %v", r.e2eIval.quantile(0.50).Round(time.Microsecond), r.e2eIval.quantile(0.99).Round(time.Microsecond))
		}
	}
	r.lastProd, r.lastCons = prod, cons
	r.ackIval.reset()
	r.e2eIval.reset()
	fmt.Fprintln(r.progress, line)
}

func (r *benchRun) produce(ctx context.Context) error {
	return r.measure(ctx, func(ctx context.Context) error { return r.runProducers(ctx, false) })
}

// consume preloads the backlog if needed, then reads it all back from the
// earliest offset as fast as the consumers go.
func (r *benchRun) consume(ctx context.Context, topics brokerv1connect.TopicServiceClient) error {
	c := r.cfg
	d, err := topics.DescribeTopic(ctx, connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: c.topic}))
	if err != nil {
		return err
	}
	var have int64
	for _, p := range d.Msg.GetTopic().GetPartitions() {
		have += p.GetHighWatermark() - p.GetLogStartOffset()
	}
	if missing := int64(c.backlog) - have; missing > 0 {
		fmt.Fprintf(r.progress, "preloading %s\n", plural(missing, "record"))
		if err := r.preload(ctx, missing); err != nil {
			return err
		}
		if d, err = topics.DescribeTopic(ctx, connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: c.topic})); err != nil {
			return err
		}
	}
	ends := map[int32]int64{}
	var backlog int64
	for _, p := range d.Msg.GetTopic().GetPartitions() {
		ends[p.GetPartition()] = p.GetHighWatermark()
		backlog += p.GetHighWatermark() - p.GetLogStartOffset()
	}
	r.measuring.Store(true)
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.catchUp(ctx, ends) }() // bench_group.go
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			r.progressLine(time.Since(start))
			continue
		case err = <-done:
		}
		break
	}
	elapsed := time.Since(start)
	r.mu.Lock()
	r.consumeElapsed = elapsed
	r.mu.Unlock()
	// The duration running out, or an interrupt, ends a catch-up read
	// early: still a measurement, and the user learns which ended it.
	read := plural(r.consumed.Load(), "record")
	switch {
	case err == nil:
		if elapsed < c.duration {
			fmt.Fprintf(r.progress, "consume: ended after %v, before --duration %v: the whole backlog (%s) was read; a larger --backlog measures longer\n",
				elapsed.Round(time.Millisecond), c.duration, plural(backlog, "record"))
		}
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Fprintf(r.progress, "consume: --duration %v ran out after %s of the backlog of %d\n", c.duration, read, backlog)
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(r.progress, "consume: interrupted after %s of the backlog of %d\n", read, backlog)
	default:
		return err
	}
	return nil
}

// preload produces n records closed loop, outside the measurement.
func (r *benchRun) preload(ctx context.Context, n int64) error {
	c := r.cfg
	pl := newPayloads(c.recordBytes)
	client := brokerv1connect.NewBrokerServiceClient(benchHTTPClient(), r.base, benchClientOpts...)
	var left atomic.Int64
	left.Store(n)
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	for w := range c.inflight {
		rng := rand.New(rand.NewPCG(7, uint64(w)))
		wg.Go(func() {
			for {
				k := int64(c.batch)
				if rem := left.Add(-k); rem < 0 {
					k += rem
					if k <= 0 {
						return
					}
				}
				if _, err := client.Produce(ctx, connect.NewRequest(pl.request(c.topic, int(k), rng, false))); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

// runConsumers shares the partitions out among the consumers and streams
// each until it reaches ends[p] (when ends is non-nil) or ctx ends. With
// e2e the first 8 bytes of each value are a send time.
func (r *benchRun) runConsumers(ctx context.Context, ends map[int32]int64, e2e bool) error {
	c := r.cfg
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	ready := make(chan struct{}, c.consumers*r.partitions)
	streams := 0
	for ci := range c.consumers {
		hc := benchHTTPClient()
		client := brokerv1connect.NewBrokerServiceClient(hc, r.base, benchClientOpts...)
		var mine []int32
		for p := ci; p < r.partitions; p += c.consumers {
			mine = append(mine, int32(p))
		}
		// One stream for all partitions when one consumer has them all,
		// else one stream per partition.
		var subs []*int32
		if len(mine) == r.partitions {
			subs = []*int32{nil}
		} else {
			for _, p := range mine {
				subs = append(subs, &p)
			}
		}
		for _, part := range subs {
			streams++
			client, codec := client, (*countingCodec)(nil)
			if !e2e && !c.decode {
				// Catch-up streams only count: each walks its messages'
				// wire form in its own codec (bench_wire.go).
				codec = new(countingCodec)
				client = brokerv1connect.NewBrokerServiceClient(hc, r.base, append(benchClientOpts, connect.WithCodec(codec))...)
			}
			wg.Go(func() {
				err := r.stream(ctx, client, codec, part, ends, e2e, ready)
				if err != nil && ctx.Err() == nil {
					select {
					case errc <- err:
					default:
					}
					cancel()
				}
			})
		}
	}
	if e2e {
		// Subscriptions from latest must be in place before producing.
		for range streams {
			select {
			case <-ready:
			case <-ctx.Done():
			}
		}
		close(r.e2eReady)
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return ctx.Err()
	}
}

// stream runs one subscription. With codec (the client's codec), messages
// are not decoded but summarised in it.
func (r *benchRun) stream(ctx context.Context, client brokerv1connect.BrokerServiceClient, codec *countingCodec, part *int32, ends map[int32]int64, e2e bool, ready chan<- struct{}) error {
	req := &brokerv1.SubscribeRequest{Topic: r.cfg.topic, Partition: part}
	if e2e {
		req.Start = &brokerv1.SubscribeRequest_Position{Position: brokerv1.StartPosition_START_POSITION_LATEST}
	} else {
		req.Start = &brokerv1.SubscribeRequest_Position{Position: brokerv1.StartPosition_START_POSITION_EARLIEST}
	}
	st, err := client.Subscribe(ctx, connect.NewRequest(req))
	if err != nil {
		return err
	}
	defer st.Close()
	st.ResponseHeader() // the server sends headers once positions are fixed
	ready <- struct{}{}
	// remaining counts the partitions of this stream not yet at their end.
	remaining := map[int32]bool{}
	if ends != nil {
		for p, end := range ends {
			if (part == nil || *part == p) && end > 0 {
				remaining[p] = true
			}
		}
		if len(remaining) == 0 {
			return nil
		}
	}
	var local histogram
	for st.Receive() {
		m := st.Msg()
		var (
			n, bytes int64
			last     int64
		)
		if codec != nil {
			n, bytes, last = int64(codec.last.records), codec.last.bytes, codec.last.lastOffset
		} else {
			recs := m.GetRecords()
			now := time.Now().UnixNano()
			for _, rec := range recs {
				bytes += int64(len(rec.GetValue()) + len(rec.GetKey()))
				if e2e && len(rec.GetValue()) >= 8 {
					local.record(time.Duration(now - int64(binary.LittleEndian.Uint64(rec.GetValue()))))
				}
			}
			if n = int64(len(recs)); n > 0 {
				last = recs[n-1].GetOffset()
			}
		}
		if r.measuring.Load() {
			r.consumed.Add(n)
			r.consBytes.Add(bytes)
			if e2e {
				r.mu.Lock()
				r.e2eLat.merge(&local)
				r.e2eIval.merge(&local)
				r.mu.Unlock()
			}
		}
		local.reset()
		if ends != nil && n > 0 && last+1 >= ends[m.GetPartition()] {
			delete(remaining, m.GetPartition())
			if len(remaining) == 0 {
				return nil
			}
		}
	}
	return st.Err()
}

// e2e runs consumers following the topic and producers stamping values.
func (r *benchRun) e2e(ctx context.Context) error {
	r.e2eReady = make(chan struct{})
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	consErr := make(chan error, 1)
	go func() { consErr <- r.runConsumers(cctx, nil, true) }()
	select {
	case <-r.e2eReady:
	case err := <-consErr:
		return err
	}
	err := r.measure(ctx, func(ctx context.Context) error { return r.runProducers(ctx, true) })
	cancel()
	if cerr := <-consErr; cerr != nil && !errors.Is(cerr, context.Canceled) && err == nil {
		err = cerr
	}
	return err
}

// summary prints the final figures, as text or TSV rows.
func (r *benchRun) summary(w io.Writer) {
	c := r.cfg
	r.mu.Lock()
	defer r.mu.Unlock()
	type row struct {
		metric string
		value  float64
		unit   string
	}
	var rows []row
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	if c.mode != "consume" && r.elapsed > 0 {
		secs := r.elapsed.Seconds()
		n := r.produced.Load()
		rows = append(rows,
			row{"records_per_s", float64(n) / secs, "records/s"},
			row{"MBps", float64(r.prodBytes.Load()) / 1e6 / secs, "MB/s"},
			row{"ack_p50_us", us(r.ack.quantile(0.50)), "us"},
			row{"ack_p99_us", us(r.ack.quantile(0.99)), "us"},
			row{"ack_p999_us", us(r.ack.quantile(0.999)), "us"},
		)
	}
	if c.mode == "consume" && r.consumeElapsed > 0 {
		secs := r.consumeElapsed.Seconds()
		rows = append(rows,
			row{"records_per_s", float64(r.consumed.Load()) / secs, "records/s"},
			row{"MBps", float64(r.consBytes.Load()) / 1e6 / secs, "MB/s"},
		)
	}
	if c.mode == "e2e" {
		rows = append(rows,
			row{"e2e_p50_us", us(r.e2eLat.quantile(0.50)), "us"},
			row{"e2e_p99_us", us(r.e2eLat.quantile(0.99)), "us"},
			row{"e2e_p999_us", us(r.e2eLat.quantile(0.999)), "us"},
		)
	}
	if c.tsv {
		for _, rw := range rows {
			v := fmt.Sprintf("%.1f", rw.value)
			fmt.Fprintf(w, "sluice\t%s_%s\t%s\t%s\t1\t%s\t%s\t%s\n", c.name, rw.metric, v, rw.unit, v, v, c.command)
		}
		return
	}
	switch c.mode {
	case "produce", "e2e":
		fmt.Fprintf(w, "produce: %s in %v: %.0f records/s, %.1f MB/s\n", plural(r.produced.Load(), "record"), r.elapsed.Round(time.Millisecond),
			float64(r.produced.Load())/r.elapsed.Seconds(), float64(r.prodBytes.Load())/1e6/r.elapsed.Seconds())
		fmt.Fprintf(w, "ack latency: p50 %v  p99 %v  p99.9 %v  max %v\n", r.ack.quantile(0.5).Round(time.Microsecond),
			r.ack.quantile(0.99).Round(time.Microsecond), r.ack.quantile(0.999).Round(time.Microsecond), time.Duration(r.ack.max).Round(time.Microsecond))
	}
	switch c.mode {
	case "consume":
		fmt.Fprintf(w, "consume: %s in %v: %.0f records/s, %.1f MB/s\n", plural(r.consumed.Load(), "record"), r.consumeElapsed.Round(time.Millisecond),
			float64(r.consumed.Load())/r.consumeElapsed.Seconds(), float64(r.consBytes.Load())/1e6/r.consumeElapsed.Seconds())
	case "e2e":
		fmt.Fprintf(w, "consume: %s\n", plural(r.consumed.Load(), "record"))
		fmt.Fprintf(w, "e2e latency: p50 %v  p99 %v  p99.9 %v  max %v\n", r.e2eLat.quantile(0.5).Round(time.Microsecond),
			r.e2eLat.quantile(0.99).Round(time.Microsecond), r.e2eLat.quantile(0.999).Round(time.Microsecond), time.Duration(r.e2eLat.max).Round(time.Microsecond))
	}
}
