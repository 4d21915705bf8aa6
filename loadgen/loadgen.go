// Package loadgen is Sluice's load generator: producers, consumers and
// group members that drive a server over its real Connect API (and its
// Confluent REST API, to register schemas) and measure records/s, MB/s and
// latency histograms, printing a progress line a second and a summary, as
// text or as perf summary.tsv rows. `sluice bench` is a thin command over
// it; other programs (CI perf jobs, the console) can run the same loads
// with Run.
//
// # Modes
//
//   - produce: producers append batches for Duration; records/s, MB/s and
//     ack latency. With Validation.Levels, the perf OrderEvent record is
//     produced schema-framed under each value.schema.validation level in
//     turn, and the summary compares the levels (see Validation).
//   - consume: a catch-up read of at least Backlog records from the
//     earliest offset, by plain subscriptions or, with Group, by the
//     members of a consumer group.
//   - e2e: consumers follow the topic while producers append; end-to-end
//     latency from a send time stamped in each value.
//
// Rate > 0 runs open loop: requests are scheduled at fixed intervals and
// latency counts from the scheduled time, so that a stalled server is not
// hidden (coordinated omission). Rate 0 runs closed loop.
//
// # Servers
//
// The load runs against Addr, or, when Start is set, against a server that
// Start runs in this process on a data directory: the caller wires the
// server (cmd/sluice passes server), so this package depends only
// on the wire: the generated API, srclient and serde.
//
// # Leftovers
//
// A run names what it leaves on the server (the topic, the group, the
// topics and subjects of each validation level); with Cleanup it deletes
// them instead, and refuses up front a topic, group or subject that
// existed before the run. Errors and lines name the settings as the
// `sluice bench` flags spell them (--batch, --cleanup), since that is
// where users meet them.
package loadgen

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	sluiceclient "github.com/sluicehq/sluice/client"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/client/credentials"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
	"github.com/sluicehq/sluice/srclient"
)

// StartFunc starts a server in this process on the data directory dir and
// returns its base URL and a function that stops it. The load generator
// calls it once per measured run (per validation level and repetition).
type StartFunc func(ctx context.Context, dir string) (url string, stop func() error, err error)

// Config is one load: which mode, against which server, with what shape.
// Each field names the `sluice bench` flag it comes from.
type Config struct {
	// Mode is produce, consume or e2e.
	Mode string
	// Addr is the server's base URL (--addr); unused when Start is set.
	Addr string
	// Start, when set, runs the load against a server in this process
	// (--in-process) instead of Addr.
	Start StartFunc
	// DataDir is where Start's server keeps its data (--data-dir): kept
	// after the run; "" is a temporary directory, removed.
	DataDir string
	// Fsync names Start's fsync policy (--fsync), for the opening lines
	// and the default Name; the caller applies it in Start.
	Fsync string
	// Topic is created with Partitions when missing (--topic, --partitions).
	Topic      string
	Partitions int
	// RecordBytes is the value size of each record (--record-bytes); e2e
	// needs at least 8, for the send time.
	RecordBytes int
	// Batch is the records per Produce request (--batch); Inflight the
	// requests in flight per producer (--inflight).
	Batch, Inflight int
	// Stream sends each producer's requests pipelined on one
	// ProduceStream (--stream) instead of as unary Produce calls.
	Stream bool
	// Producers and Consumers each get their own HTTP/2 connection
	// (--producers, --consumers); partitions are shared out among the
	// consumers.
	Producers, Consumers int
	// Rate is the open-loop total records/s; 0 is closed loop (--rate).
	Rate float64
	// Duration is how long to measure; Warmup runs before it (--duration,
	// --warmup).
	Duration, Warmup time.Duration
	// Backlog is the records a consume run makes sure the topic holds
	// before the catch-up read (--backlog).
	Backlog int
	// Decode makes consumers build Go messages per record, as a real
	// consumer does, instead of counting records in their wire form
	// (--decode).
	Decode bool
	// Group, for consume, reads as the Consumers members of this consumer
	// group (reset to earliest first) instead of plain subscriptions
	// (--group).
	Group string
	// Cleanup deletes what the run created after it (--cleanup).
	Cleanup bool
	// SampleRSS, when not 0, is the process id of the server: while the
	// load is measured (after any preload and warm-up) its resident memory
	// (/proc/PID/status VmRSS, and the kernel's peak VmHWM) and this
	// process's are sampled every 100ms, and the summary reports min,
	// median, max and peak (--sample-rss). Linux only.
	SampleRSS int
	// TSV prints perf summary.tsv rows on Out instead of the text summary
	// (--tsv).
	TSV bool
	// Name prefixes the metrics of TSV rows (--name); Validate fills in a
	// default from the mode and, in process, the fsync policy.
	Name string
	// Command is the command line, printed in the opening line and in the
	// last column of TSV rows.
	Command string
	// Validation, when its Levels are set, measures schema enforcement on
	// produce (--validate, --format, --runs, --pool).
	Validation Validation
	// TLS is the TLS configuration for an https:// Addr (--tls-ca,
	// --tls-cert, --tls-key); nil trusts the system's roots.
	TLS *tls.Config
	// Credentials go with every request (--user and --password, or
	// --token).
	Credentials credentials.Credentials
	// Kafka, when set, is the host:port of the server's Kafka listener
	// (--kafka): produce runs (also with Validation) then send their records
	// with franz-go through it instead of Connect; Addr still creates the
	// topic and registers schemas. KafkaLinger is the producer's linger
	// (--kafka-linger).
	Kafka       string
	KafkaLinger time.Duration
	// KafkaSASL is the SASL mechanism with which the Kafka producer
	// authenticates Credentials' user (--kafka-sasl): PLAIN (the default),
	// SCRAM-SHA-256 or SCRAM-SHA-512. Unused without a user.
	KafkaSASL string
	// Out gets the summary; Progress the opening line, a progress line a
	// second and what the run leaves (the CLI sends Progress to stderr with
	// --tsv). Nil discards.
	Out, Progress io.Writer
}

// Run validates c and runs its load, printing on c.Out and c.Progress. It
// returns when the measurement ends, ctx ends (a consume run then still
// reports what it read), or the load fails.
func Run(ctx context.Context, c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Validation.Levels != "" {
		return c.Validation.run(ctx, &c)
	}
	return c.run(ctx)
}

// Validate checks c's settings, naming the flag of the first one that is
// wrong, and fills in Name when it is empty.
func (c *Config) Validate() error {
	switch c.Mode {
	case "produce", "consume", "e2e":
	default:
		return fmt.Errorf("mode %q: want produce, consume or e2e", c.Mode)
	}
	switch {
	case c.RecordBytes < 8 && c.Mode == "e2e":
		return fmt.Errorf("--record-bytes %d: e2e stamps the send time in the first 8 bytes, want at least 8", c.RecordBytes)
	case c.RecordBytes < 0:
		return fmt.Errorf("--record-bytes %d: want 0 or more", c.RecordBytes)
	case c.Partitions < 1:
		return fmt.Errorf("--partitions %d: want at least 1", c.Partitions)
	case c.Batch < 1:
		return fmt.Errorf("--batch %d: want at least 1", c.Batch)
	case c.Inflight < 1:
		return fmt.Errorf("--inflight %d: want at least 1", c.Inflight)
	case c.Stream && c.Kafka != "":
		return errors.New("--stream pipelines requests over Connect and --kafka produces through the Kafka listener: give one of them")
	case c.Producers < 1:
		return fmt.Errorf("--producers %d: want at least 1", c.Producers)
	case c.Consumers < 1:
		return fmt.Errorf("--consumers %d: want at least 1", c.Consumers)
	case c.Rate < 0:
		return fmt.Errorf("--rate %v: want 0 (closed loop) or more", c.Rate)
	case c.Duration <= 0:
		return fmt.Errorf("--duration %v: want more than 0", c.Duration)
	case c.Backlog < 0:
		return fmt.Errorf("--backlog %d: want 0 or more", c.Backlog)
	case c.SampleRSS < 0:
		return fmt.Errorf("--sample-rss %d: want the server's process id", c.SampleRSS)
	case c.SampleRSS != 0 && c.Validation.Levels != "":
		return fmt.Errorf("--sample-rss %d: not with --validate, which compares levels by throughput only", c.SampleRSS)
	case c.Group != "" && c.Mode != "consume":
		return fmt.Errorf("--group %s: only bench consume reads as a group", c.Group)
	case c.Start == nil && c.Addr == "":
		return errors.New("no server: give --addr or --in-process")
	case c.Kafka != "" && c.Mode != "produce":
		return fmt.Errorf("--kafka %s: only bench produce runs over the Kafka listener", c.Kafka)
	case c.Kafka != "" && c.Start != nil:
		return fmt.Errorf("--kafka %s: give the Kafka listener of a running server (sluice serve) with --addr, not --in-process", c.Kafka)
	case c.Kafka != "" && c.Rate > 0:
		return fmt.Errorf("--kafka %s: the Kafka producer runs closed loop; drop --rate", c.Kafka)
	case c.KafkaLinger < 0:
		return fmt.Errorf("--kafka-linger %v: want 0 or more", c.KafkaLinger)
	case c.Kafka != "" && c.Credentials.Token != "":
		return fmt.Errorf("--kafka %s: the Kafka listener authenticates a user and password with SASL, not a token: give --user", c.Kafka)
	case c.Kafka != "" && saslMechanism(c.KafkaSASL, credentials.Credentials{User: "u"}) == nil:
		return fmt.Errorf("--kafka-sasl %s: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.KafkaSASL)
	}
	if c.Name == "" {
		c.Name = c.Mode
		if c.Start != nil {
			c.Name += "_fsync-" + strings.NewReplacer(":", "-").Replace(c.Fsync)
		}
		if c.Decode && c.Mode == "consume" {
			c.Name += "_decode"
		}
	}
	return nil
}

// httpClient is one HTTP/2 connection's worth of client: h2c for
// http://, HTTP/2 over TLS with c.TLS for https://, so requests multiplex
// on one connection as gRPC clients do.
func (c *Config) httpClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	p.SetHTTP2(true)
	return &http.Client{Transport: &http.Transport{
		Protocols:           &p,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSClientConfig:     c.TLS,
		TLSHandshakeTimeout: 5 * time.Second,
	}}
}

// clientOptions are the options of the run's Connect clients, then extra:
// gzip off (the bench measures the broker and the transport, and the perf
// baselines run with compression off) and c.Credentials on every call
// (refusals as *credentials.AuthError).
func (c *Config) clientOptions(base string, extra ...connect.ClientOption) []connect.ClientOption {
	return append([]connect.ClientOption{
		connect.WithAcceptCompression("gzip", nil, nil),
		connect.WithInterceptors(credentials.Interceptor(c.Credentials, base)),
	}, extra...)
}

// registry is the REST client of the registry at base, with c's TLS
// settings and credentials.
func (c *Config) registry(base string) *srclient.Client {
	return &srclient.Client{
		Base: base, HTTP: credentials.HTTPClient(c.TLS),
		User: c.Credentials.User, Password: c.Credentials.Password, Token: c.Credentials.Token,
	}
}

// startServer runs c.Start on dir and returns the server's URL; dir ""
// is a temporary directory that stop removes after the server stopped.
func (c *Config) startServer(ctx context.Context, dir string) (url string, stop func(), err error) {
	tmp := ""
	if dir == "" {
		if tmp, err = os.MkdirTemp("", "sluice-bench-"); err != nil {
			return "", nil, err
		}
		dir = tmp
	}
	url, stopServer, err := c.Start(ctx, dir)
	if err != nil {
		if tmp != "" {
			os.RemoveAll(tmp)
		}
		return "", nil, fmt.Errorf("in-process server: %w", err)
	}
	return url, func() {
		stopServer()
		if tmp != "" {
			os.RemoveAll(tmp)
		}
	}, nil
}

func (c *Config) run(ctx context.Context) (err error) {
	if c.SampleRSS != 0 {
		// Before any preload: a wrong pid should not cost a backlog.
		if _, err := readStatus(strconv.Itoa(c.SampleRSS)); err != nil {
			return fmt.Errorf("--sample-rss %d: %v", c.SampleRSS, err)
		}
	}
	base := c.Addr
	progress := c.Progress
	if c.Start != nil {
		url, stop, err := c.startServer(ctx, c.DataDir)
		if err != nil {
			return err
		}
		defer stop()
		base = url
	}
	if c.Cleanup && c.Group != "" {
		if err := checkGroupNew(ctx, c, base, c.Group); err != nil {
			return err
		}
	}
	topics := brokerv1connect.NewTopicServiceClient(c.httpClient(), base, c.clientOptions(base)...)
	parts, created, err := c.ensureTopic(ctx, topics)
	if err != nil {
		return err
	}
	left := &benchLeftovers{cfg: c, base: base, kept: c.Start == nil || c.DataDir != "", topics: []string{c.Topic}, group: c.Group}
	if c.Cleanup && !created {
		return existsError("topic", c.Topic, "sluice topic delete "+shellQuote(c.Topic))
	}
	// Runs before the in-process server stops (deferred earlier).
	defer func() {
		dir := ""
		if c.Start != nil {
			dir = c.DataDir
		}
		err = errors.Join(err, left.finish(ctx, progress, c.Cleanup, dir))
	}()
	r := &benchRun{cfg: c, base: base, partitions: parts, progress: progress}
	inflight := fmt.Sprintf("%d in flight", c.Inflight)
	if c.Stream && c.Kafka == "" && c.Mode != "consume" {
		inflight += " on one ProduceStream"
	}
	fmt.Fprintf(progress, "%s: topic %s, %s, %d-byte records, batch %d, %s x %s, %s, %s, %v\n",
		c.Command, c.Topic, plural(parts, "partition"), c.RecordBytes, c.Batch, plural(c.Producers, "producer"), inflight, plural(c.Consumers, "consumer"), c.loopName(), c.Duration)
	switch c.Mode {
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
	r.summary(c.Out)
	return nil
}

func (c *Config) loopName() string {
	if c.Rate > 0 {
		return fmt.Sprintf("open loop at %.0f records/s", c.Rate)
	}
	return "closed loop"
}

// ensureTopic creates the topic or finds its partition count; created
// tells which.
func (c *Config) ensureTopic(ctx context.Context, topics brokerv1connect.TopicServiceClient) (parts int, created bool, err error) {
	res, err := topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: c.Topic, Partitions: int32(c.Partitions)}))
	if err == nil {
		return len(res.Msg.GetTopic().GetPartitions()), true, nil
	}
	if connect.CodeOf(err) != connect.CodeAlreadyExists {
		return 0, false, err
	}
	d, err := topics.DescribeTopic(ctx, connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: c.Topic}))
	if err != nil {
		return 0, false, err
	}
	return len(d.Msg.GetTopic().GetPartitions()), false, nil
}

// benchRun holds the counters of one run. Counters are atomics; the
// histograms are behind mu (one lock per request or chunk is far below the
// RPC cost).
type benchRun struct {
	cfg        *Config
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

	// rss samples memory while measuring (Config.SampleRSS); nil when off.
	rss *rssSampler
}

// startSampling starts the --sample-rss sampler, if asked for.
func (r *benchRun) startSampling() error {
	if r.cfg.SampleRSS == 0 {
		return nil
	}
	s, err := startRSS(r.cfg.SampleRSS)
	if err != nil {
		return err
	}
	r.rss = s
	return nil
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

// value returns one random value, aliasing the pool.
func (p *payloads) value(rng *rand.Rand) []byte {
	off := rng.IntN(len(p.buf) - p.size + 1)
	return p.buf[off : off+p.size : off+p.size]
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
	pl := newPayloads(c.RecordBytes)
	var sched chan time.Time
	if c.Rate > 0 {
		sched = make(chan time.Time, 1<<16)
		go func() {
			interval := time.Duration(float64(c.Batch) / c.Rate * float64(time.Second))
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
	for p := range c.Producers {
		client := brokerv1connect.NewBrokerServiceClient(r.cfg.httpClient(), r.base, r.cfg.clientOptions(r.base)...)
		if c.Stream {
			// As the typed client's Pipelined producers send: a message a frame.
			client := brokerv1connect.NewBrokerServiceClient(sluiceclient.WholeMessages(r.cfg.httpClient()), r.base, r.cfg.clientOptions(r.base)...)
			wg.Go(func() {
				if err := r.streamProducer(ctx, client, p, pl, sched, stamp); err != nil && ctx.Err() == nil {
					select {
					case errc <- err:
					default:
					}
				}
			})
			continue
		}
		for w := range c.Inflight {
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
					req := pl.request(c.Topic, c.Batch, rng, stamp)
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
					r.recordAck(c.Batch, c.Batch*c.RecordBytes, time.Since(start))
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

// streamProducer is producer p over one ProduceStream: it keeps
// c.Inflight requests unanswered (closed loop) or sends at the scheduled
// times (open loop, at most c.Inflight unanswered), and counts each answer,
// which come in the order sent.
func (r *benchRun) streamProducer(ctx context.Context, client brokerv1connect.BrokerServiceClient, p int, pl *payloads, sched <-chan time.Time, stamp bool) error {
	c := r.cfg
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream := client.ProduceStream(ctx)
	slots := make(chan struct{}, c.Inflight)
	for range c.Inflight {
		slots <- struct{}{}
	}
	starts := make(chan time.Time, c.Inflight) // of the unanswered requests, oldest first
	recvErr := make(chan error, 1)
	go func() {
		recvErr <- func() error {
			for {
				resp, err := stream.Receive()
				if err != nil {
					return err
				}
				if e := resp.GetError(); e != nil {
					return fmt.Errorf("produce request %d: %s: %s", resp.GetId(), e.GetCode(), e.GetMessage())
				}
				start := <-starts
				r.recordAck(c.Batch, c.Batch*c.RecordBytes, time.Since(start))
				slots <- struct{}{}
			}
		}()
		cancel()
	}()
	rng := rand.New(rand.NewPCG(uint64(p), 0))
	var sendErr error
	for id := uint64(0); ctx.Err() == nil; id++ {
		select {
		case <-slots:
		case <-ctx.Done():
			continue
		}
		start := time.Now()
		if sched != nil {
			select {
			case start = <-sched:
			case <-ctx.Done():
				continue
			}
		}
		req := pl.request(c.Topic, c.Batch, rng, stamp)
		if stamp {
			stampNow(req)
		}
		starts <- start
		if sendErr = stream.Send(&brokerv1.ProduceStreamRequest{Id: id, Request: req}); sendErr != nil {
			break // Receive reports why
		}
	}
	stream.CloseRequest()
	err := <-recvErr
	stream.CloseResponse()
	if errors.Is(err, io.EOF) || ctx.Err() != nil && connect.CodeOf(err) == connect.CodeCanceled {
		return nil
	}
	return err
}

// measure runs work (which must return when its ctx ends) through the
// warm-up and the measured duration, printing a progress line a second.
func (r *benchRun) measure(ctx context.Context, work func(ctx context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- work(ctx) }()
	if r.cfg.Warmup > 0 {
		select {
		case <-time.After(r.cfg.Warmup):
		case err := <-errc:
			return errOrEarly(err)
		}
	}
	r.mu.Lock()
	r.ackIval.reset()
	r.e2eIval.reset()
	r.mu.Unlock()
	if err := r.startSampling(); err != nil {
		return err
	}
	defer r.rss.stop()
	r.measuring.Store(true)
	start := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	end := time.NewTimer(r.cfg.Duration)
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
	r.rss.stop()
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
	if d := prod - r.lastProd; d > 0 || r.cfg.Mode != "consume" {
		line += fmt.Sprintf("  produce %9d rec/s %8.1f MB/s  ack p50 %v p99 %v", d, float64(d)*float64(r.cfg.RecordBytes)/1e6,
			r.ackIval.quantile(0.50).Round(time.Microsecond), r.ackIval.quantile(0.99).Round(time.Microsecond))
	}
	if d := cons - r.lastCons; d > 0 || r.cfg.Mode != "produce" {
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
	if r.cfg.Kafka != "" {
		pl := newPayloads(r.cfg.RecordBytes)
		return r.measure(ctx, func(ctx context.Context) error { return r.produceKafka(ctx, pl.value) })
	}
	return r.measure(ctx, func(ctx context.Context) error { return r.runProducers(ctx, false) })
}

// consume preloads the backlog if needed, then reads it all back from the
// earliest offset as fast as the consumers go.
func (r *benchRun) consume(ctx context.Context, topics brokerv1connect.TopicServiceClient) error {
	c := r.cfg
	d, err := topics.DescribeTopic(ctx, connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: c.Topic}))
	if err != nil {
		return err
	}
	var have int64
	for _, p := range d.Msg.GetTopic().GetPartitions() {
		have += p.GetHighWatermark() - p.GetLogStartOffset()
	}
	if missing := int64(c.Backlog) - have; missing > 0 {
		fmt.Fprintf(r.progress, "preloading %s\n", plural(missing, "record"))
		if err := r.preload(ctx, missing); err != nil {
			return err
		}
		if d, err = topics.DescribeTopic(ctx, connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: c.Topic})); err != nil {
			return err
		}
	}
	ends := map[int32]int64{}
	var backlog int64
	for _, p := range d.Msg.GetTopic().GetPartitions() {
		ends[p.GetPartition()] = p.GetHighWatermark()
		backlog += p.GetHighWatermark() - p.GetLogStartOffset()
	}
	if err := r.startSampling(); err != nil {
		return err
	}
	defer r.rss.stop()
	r.measuring.Store(true)
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.Duration)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.catchUp(ctx, ends) }() // group.go
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
	r.rss.stop()
	r.mu.Lock()
	r.consumeElapsed = elapsed
	r.mu.Unlock()
	// The duration running out, or an interrupt, ends a catch-up read
	// early: still a measurement, and the user learns which ended it.
	read := plural(r.consumed.Load(), "record")
	switch {
	case err == nil:
		if elapsed < c.Duration {
			fmt.Fprintf(r.progress, "consume: ended after %v, before --duration %v: the whole backlog (%s) was read; a larger --backlog measures longer\n",
				elapsed.Round(time.Millisecond), c.Duration, plural(backlog, "record"))
		}
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Fprintf(r.progress, "consume: --duration %v ran out after %s of the backlog of %d\n", c.Duration, read, backlog)
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
	pl := newPayloads(c.RecordBytes)
	client := brokerv1connect.NewBrokerServiceClient(r.cfg.httpClient(), r.base, r.cfg.clientOptions(r.base)...)
	var left atomic.Int64
	left.Store(n)
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	for w := range c.Inflight {
		rng := rand.New(rand.NewPCG(7, uint64(w)))
		wg.Go(func() {
			for {
				k := int64(c.Batch)
				if rem := left.Add(-k); rem < 0 {
					k += rem
					if k <= 0 {
						return
					}
				}
				if _, err := client.Produce(ctx, connect.NewRequest(pl.request(c.Topic, int(k), rng, false))); err != nil {
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
	ready := make(chan struct{}, c.Consumers*r.partitions)
	streams := 0
	for ci := range c.Consumers {
		hc := c.httpClient()
		client := brokerv1connect.NewBrokerServiceClient(hc, r.base, c.clientOptions(r.base)...)
		var mine []int32
		for p := ci; p < r.partitions; p += c.Consumers {
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
			if !e2e && !c.Decode {
				// Catch-up streams only count: each walks its messages'
				// wire form in its own codec (wire.go).
				codec = new(countingCodec)
				client = brokerv1connect.NewBrokerServiceClient(hc, r.base, c.clientOptions(r.base, connect.WithCodec(codec))...)
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
	req := &brokerv1.SubscribeRequest{Topic: r.cfg.Topic, Partition: part}
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
	if c.Mode != "consume" && r.elapsed > 0 {
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
	if c.Mode == "consume" && r.consumeElapsed > 0 {
		secs := r.consumeElapsed.Seconds()
		rows = append(rows,
			row{"records_per_s", float64(r.consumed.Load()) / secs, "records/s"},
			row{"MBps", float64(r.consBytes.Load()) / 1e6 / secs, "MB/s"},
		)
	}
	if c.Mode == "e2e" {
		rows = append(rows,
			row{"e2e_p50_us", us(r.e2eLat.quantile(0.50)), "us"},
			row{"e2e_p99_us", us(r.e2eLat.quantile(0.99)), "us"},
			row{"e2e_p999_us", us(r.e2eLat.quantile(0.999)), "us"},
		)
	}
	if r.rss != nil {
		for _, m := range r.rss.rows() {
			rows = append(rows, row{m.metric, m.value, "MiB"})
		}
	}
	if c.TSV {
		for _, rw := range rows {
			v := fmt.Sprintf("%.1f", rw.value)
			fmt.Fprintf(w, "sluice\t%s_%s\t%s\t%s\t1\t%s\t%s\t%s\n", c.Name, rw.metric, v, rw.unit, v, v, c.Command)
		}
		return
	}
	if r.rss != nil {
		defer r.rss.print(w)
	}
	switch c.Mode {
	case "produce", "e2e":
		fmt.Fprintf(w, "produce: %s in %v: %.0f records/s, %.1f MB/s\n", plural(r.produced.Load(), "record"), r.elapsed.Round(time.Millisecond),
			float64(r.produced.Load())/r.elapsed.Seconds(), float64(r.prodBytes.Load())/1e6/r.elapsed.Seconds())
		fmt.Fprintf(w, "ack latency: p50 %v  p99 %v  p99.9 %v  max %v\n", r.ack.quantile(0.5).Round(time.Microsecond),
			r.ack.quantile(0.99).Round(time.Microsecond), r.ack.quantile(0.999).Round(time.Microsecond), time.Duration(r.ack.max).Round(time.Microsecond))
	}
	switch c.Mode {
	case "consume":
		fmt.Fprintf(w, "consume: %s in %v: %.0f records/s, %.1f MB/s\n", plural(r.consumed.Load(), "record"), r.consumeElapsed.Round(time.Millisecond),
			float64(r.consumed.Load())/r.consumeElapsed.Seconds(), float64(r.consBytes.Load())/1e6/r.consumeElapsed.Seconds())
	case "e2e":
		fmt.Fprintf(w, "consume: %s\n", plural(r.consumed.Load(), "record"))
		fmt.Fprintf(w, "e2e latency: p50 %v  p99 %v  p99.9 %v  max %v\n", r.e2eLat.quantile(0.5).Round(time.Microsecond),
			r.e2eLat.quantile(0.99).Round(time.Microsecond), r.e2eLat.quantile(0.999).Round(time.Microsecond), time.Duration(r.e2eLat.max).Round(time.Microsecond))
	}
}
