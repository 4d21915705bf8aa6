package loadgen

// Produce with Validation (`sluice bench produce --validate LEVELS
// --format FORMAT`): the cost of
// schema enforcement on produce. Each run registers the perf record's
// schema (the 22-field OrderEvent of testdata/perf, the record of the perf
// baselines' serde suite), creates a topic with value.schema.validation set
// to the run's level, and produces schema-framed, valid, random records
// drawn from a pool generated before the clock starts. Several levels in one
// invocation (--validate none,payload) run one after the other, --runs
// times, interleaved, each on a fresh in-process server; the summary gives
// the median records/s of each level and the ratio of each level to the
// first.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/serde/jsonschema"
	"github.com/sluicehq/sluice/serde/protobuf"
	"github.com/sluicehq/sluice/srclient"
)

// Validation is produce's schema-enforcement measurement (the flags
// --validate, --format, --runs and --pool): each level registers the perf
// OrderEvent schema, creates a topic with value.schema.validation set to
// the level and produces framed, valid, random records from a pool
// generated before the clock starts; every level runs Runs times,
// interleaved, each on a fresh server when in process; the summary gives
// each level's median records/s and its ratio to the first level.
type Validation struct {
	// Levels are the value.schema.validation levels to run, in order,
	// comma-separated: none, id, payload. "" turns the measurement off.
	Levels string
	// Format is the schema format of the records: avro, protobuf or json.
	Format string
	// Runs is how many times every level runs.
	Runs int
	// Pool is how many distinct random records are generated.
	Pool int
	// Rules is how many CEL condition rules the ruleSet of the level
	// "rules" holds (payload validation plus data-contract rules,
	// DESIGN.md §11); every record keeps them.
	Rules int
}

// The value.schema.validation levels (the broker's topic config values).
const (
	validationNone    = "none"
	validationID      = "id"
	validationPayload = "payload"
	// validationRules is payload with the schema's ruleSet holding
	// Validation.Rules CEL conditions.
	validationRules = "rules"
)

// parseLevels checks the flags against the rest of the configuration and
// returns the levels in order.
func (v *Validation) parseLevels(c *Config) ([]string, error) {
	if c.Mode != "produce" {
		return nil, fmt.Errorf("--validate works with bench produce, not %s", c.Mode)
	}
	if c.Rate > 0 {
		return nil, fmt.Errorf("--validate measures the closed-loop maximum; drop --rate")
	}
	switch v.Format {
	case "avro", "protobuf", "json":
	default:
		return nil, fmt.Errorf("--format %q: want avro, protobuf or json", v.Format)
	}
	if v.Runs < 1 {
		return nil, fmt.Errorf("--runs %d: want at least 1", v.Runs)
	}
	if v.Pool < 1 {
		return nil, fmt.Errorf("--pool %d: want at least 1", v.Pool)
	}
	var levels []string
	for l := range strings.SplitSeq(v.Levels, ",") {
		l = strings.TrimSpace(l)
		switch l {
		case validationNone, validationID, validationPayload:
		case validationRules:
			if v.Rules < 1 {
				return nil, fmt.Errorf("--validate %q: level rules needs --rules N (at least 1)", v.Levels)
			}
		default:
			return nil, fmt.Errorf("--validate %q: level %q is not none, id, payload or rules", v.Levels, l)
		}
		if slices.Contains(levels, l) {
			return nil, fmt.Errorf("--validate %q: level %q is given twice", v.Levels, l)
		}
		levels = append(levels, l)
	}
	return levels, nil
}

// run measures every level --runs times and prints each run's summary,
// then the medians and ratios.
func (v *Validation) run(ctx context.Context, c *Config) error {
	levels, err := v.parseLevels(c)
	if err != nil {
		return err
	}
	pool, err := newRecordPool(v.Format, v.Pool, rand.New(rand.NewChaCha8([32]byte{'o', 'r', 'd', 'e', 'r'})))
	if err != nil {
		return err
	}
	progress := c.Progress
	fmt.Fprintf(progress, "%s: %s OrderEvent records, %d distinct, mean %d bytes framed; levels %s, %s each\n",
		c.Command, v.Format, len(pool.datums), pool.meanSize()+pool.prefixLen(), strings.Join(levels, ","), plural(v.Runs, "run"))
	rates := make(map[string][]float64, len(levels))
	for rep := range v.Runs {
		for _, level := range levels {
			rc := *c
			rc.Name = fmt.Sprintf("%s_%s_%s", c.Name, v.Format, level)
			rc.RecordBytes = pool.meanSize() + pool.prefixLen()
			rate, err := runValidateOnce(ctx, &rc, progress, pool, level, rep)
			if err != nil {
				return fmt.Errorf("%s run %d: %w", level, rep+1, err)
			}
			rates[level] = append(rates[level], rate)
		}
	}
	printValidateSummary(c.Out, c, v, levels, rates)
	return nil
}

// runValidateOnce runs one level once and returns its records/s.
func runValidateOnce(ctx context.Context, c *Config, progress io.Writer, pool *recordPool, level string, rep int) (rate float64, err error) {
	base := c.Addr
	topic := fmt.Sprintf("%s-%s-%s", c.Topic, pool.format, level)
	keptDir := ""
	if c.Start != nil {
		// A fresh data directory per run: inside --data-dir (kept), or a
		// temporary one (removed).
		dir, err := os.MkdirTemp(c.DataDir, "sluice-bench-")
		if err != nil {
			return 0, err
		}
		if c.DataDir == "" {
			defer os.RemoveAll(dir)
		} else {
			keptDir = dir
		}
		url, stop, err := c.Start(ctx, dir)
		if err != nil {
			return 0, fmt.Errorf("in-process server: %w", err)
		}
		defer stop()
		base = url
	}
	reg := c.registry(base)
	req := srclient.Schema{Schema: pool.schemaText}
	if pool.schemaType != "AVRO" {
		req.SchemaType = pool.schemaType
	}
	configLevel := level
	if level == validationRules {
		configLevel, req.RuleSet = validationPayload, benchRuleSet(c.Validation.Rules)
	}
	var resp struct {
		ID int `json:"id"`
	}
	subject := topic + "-value"
	if c.Cleanup {
		if err := checkSubjectNew(ctx, reg, subject); err != nil {
			return 0, err
		}
	}
	left := &benchLeftovers{cfg: c, base: base, kept: c.Start == nil || c.DataDir != "", subjects: []string{subject}}
	// Runs before the in-process server stops (deferred earlier).
	defer func() { err = errors.Join(err, left.finish(ctx, progress, c.Cleanup, keptDir)) }()
	if err := reg.Do(ctx, http.MethodPost, "/subjects/"+srclient.SubjectPath(subject)+"/versions", nil, req, &resp); err != nil {
		return 0, fmt.Errorf("registering the %s schema under %s: %w", pool.format, subject, err)
	}
	topics := brokerv1connect.NewTopicServiceClient(c.httpClient(), base, c.clientOptions(base)...)
	configs := map[string]string{"value.schema.validation": configLevel}
	parts := c.Partitions
	cr, err := topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: topic, Partitions: int32(parts), Configs: configs}))
	switch {
	case err == nil:
		parts = len(cr.Msg.GetTopic().GetPartitions())
		left.topics = []string{topic}
	case connect.CodeOf(err) == connect.CodeAlreadyExists && c.Cleanup:
		return 0, existsError("topic", topic, "sluice topic delete "+shellQuote(topic))
	case connect.CodeOf(err) == connect.CodeAlreadyExists:
		left.topics = []string{topic}
		ar, err := topics.AlterTopicConfigs(ctx, connect.NewRequest(&brokerv1.AlterTopicConfigsRequest{Name: topic, Set: configs}))
		if err != nil {
			return 0, err
		}
		parts = len(ar.Msg.GetTopic().GetPartitions())
	default:
		return 0, err
	}
	framed := pool.frame(int32(resp.ID))
	via := fmt.Sprintf("batch %d, %s x %d in flight", c.Batch, plural(c.Producers, "producer"), c.Inflight)
	if c.Kafka != "" {
		via = fmt.Sprintf("over Kafka at %s, %s, %d records buffered each", c.Kafka, plural(c.Producers, "producer"), c.Inflight*c.Batch)
	}
	fmt.Fprintf(progress, "run %d, %s: topic %s (value.schema.validation=%s, schema id %d), %s, %s, fsync %s, %v\n",
		rep+1, level, topic, level, resp.ID, plural(parts, "partition"), via, c.Fsync, c.Duration)
	c.Topic = topic
	r := &benchRun{cfg: c, base: base, partitions: parts, progress: progress}
	work := func(ctx context.Context) error { return r.produceFramed(ctx, framed) }
	if c.Kafka != "" {
		work = func(ctx context.Context) error {
			return r.produceKafka(ctx, func(rng *rand.Rand) []byte { return framed[rng.IntN(len(framed))] })
		}
	}
	if err := r.measure(ctx, work); err != nil {
		return 0, err
	}
	r.summary(c.Out)
	r.mu.Lock()
	defer r.mu.Unlock()
	return float64(r.produced.Load()) / r.elapsed.Seconds(), nil
}

// produceFramed is the closed-loop producer of framed values: every
// in-flight slot sends c.Batch records drawn at random from values as soon
// as its previous request is acknowledged.
func (r *benchRun) produceFramed(ctx context.Context, values [][]byte) error {
	c := r.cfg
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	for p := range c.Producers {
		client := brokerv1connect.NewBrokerServiceClient(c.httpClient(), r.base, c.clientOptions(r.base)...)
		for w := range c.Inflight {
			rng := rand.New(rand.NewPCG(uint64(p), uint64(w)))
			wg.Go(func() {
				slab := make([]brokerv1.ProduceRecord, c.Batch)
				recs := make([]*brokerv1.ProduceRecord, c.Batch)
				for ctx.Err() == nil {
					bytes := 0
					for i := range slab {
						slab[i] = brokerv1.ProduceRecord{Value: values[rng.IntN(len(values))]}
						recs[i] = &slab[i]
						bytes += len(slab[i].Value)
					}
					start := time.Now()
					_, err := client.Produce(ctx, connect.NewRequest(&brokerv1.ProduceRequest{Topic: c.Topic, Records: recs}))
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
					r.recordAck(c.Batch, bytes, time.Since(start))
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

// printValidateSummary prints the median records/s per level and the
// ratio of every level to the first, as text or TSV rows.
func printValidateSummary(w io.Writer, c *Config, v *Validation, levels []string, rates map[string][]float64) {
	base := levels[0]
	if c.TSV {
		for _, l := range levels {
			lo, med, hi := spread(rates[l])
			fmt.Fprintf(w, "sluice\t%s_%s_%s_median_records_per_s\t%.1f\trecords/s\t%d\t%.1f\t%.1f\t%s\n", c.Name, v.Format, l, med, len(rates[l]), lo, hi, c.Command)
		}
		for _, l := range levels[1:] {
			lo, med, hi := spread(ratios(rates[l], rates[base]))
			fmt.Fprintf(w, "sluice\t%s_%s_%s_over_%s\t%.3f\tratio\t%d\t%.3f\t%.3f\t%s\n", c.Name, v.Format, l, base, med, len(rates[l]), lo, hi, c.Command)
		}
		return
	}
	fmt.Fprintf(w, "\n%s, %s, %s per level:\n", v.Format, c.Name, plural(v.Runs, "run"))
	for _, l := range levels {
		lo, med, hi := spread(rates[l])
		fmt.Fprintf(w, "  %-8s median %.0f records/s (min %.0f, max %.0f)\n", l, med, lo, hi)
	}
	for _, l := range levels[1:] {
		lo, med, hi := spread(ratios(rates[l], rates[base]))
		fmt.Fprintf(w, "  %s/%s: %.3f (median of %s; min %.3f, max %.3f)\n", l, base, med, plural(len(rates[l]), "paired run"), lo, hi)
	}
}

// ratios divides a by b run by run.
func ratios(a, b []float64) []float64 {
	out := make([]float64, min(len(a), len(b)))
	for i := range out {
		if b[i] > 0 {
			out[i] = a[i] / b[i]
		}
	}
	return out
}

// spread returns the minimum, median and maximum of xs.
func spread(xs []float64) (lo, med, hi float64) {
	if len(xs) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	med = s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[0], med, s[len(s)-1]
}

// benchOrder is the perf record (testdata/perf), with the field names of
// the Avro and JSON schemas.
type benchOrder struct {
	EventID       string            `avro:"event_id" json:"event_id"`
	TenantID      string            `avro:"tenant_id" json:"tenant_id"`
	UserID        int64             `avro:"user_id" json:"user_id"`
	SessionID     string            `avro:"session_id" json:"session_id"`
	CreatedAtMs   int64             `avro:"created_at_ms" json:"created_at_ms"`
	EventType     string            `avro:"event_type" json:"event_type"`
	AmountCents   int64             `avro:"amount_cents" json:"amount_cents"`
	Currency      string            `avro:"currency" json:"currency"`
	Quantity      int32             `avro:"quantity" json:"quantity"`
	Price         float64           `avro:"price" json:"price"`
	Discount      float32           `avro:"discount" json:"discount"`
	IsTest        bool              `avro:"is_test" json:"is_test"`
	Country       string            `avro:"country" json:"country"`
	City          string            `avro:"city" json:"city"`
	IP            string            `avro:"ip" json:"ip"`
	UserAgent     string            `avro:"user_agent" json:"user_agent"`
	Tags          []string          `avro:"tags" json:"tags"`
	Attributes    map[string]string `avro:"attributes" json:"attributes"`
	Address       benchAddress      `avro:"address" json:"address"`
	Payload       []byte            `avro:"payload" json:"payload"`
	Referrer      *string           `avro:"referrer" json:"referrer"`
	SchemaVersion int32             `avro:"schema_version" json:"schema_version"`
}

type benchAddress struct {
	Street  string `avro:"street" json:"street"`
	Zip     string `avro:"zip" json:"zip"`
	Country string `avro:"country" json:"country"`
}

var (
	benchEventTypes = []string{"created", "paid", "shipped", "cancelled", "refunded"}
	benchCurrencies = []string{"EUR", "USD", "GBP", "JPY", "CHF", "SEK"}
	benchCountries  = []string{"DE", "FR", "US", "GB", "JP", "SE", "NL"}
	benchCities     = []string{"Berlin", "Paris", "New York", "London", "Tokyo", "Stockholm", "Amsterdam", "São Paulo"}
	benchTags       = []string{"promo", "mobile", "returning", "gift", "express", "b2b", "first-order", "app"}
	benchAgents     = []string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		"sluice-bench/1.0",
	}
)

// randomOrder returns a record that every one of the three schemas accepts
// (patterns, enum, ranges and the ipv4 format of the JSON Schema included).
func randomOrder(rng *rand.Rand) benchOrder {
	hex := func(n int) string {
		const digits = "0123456789abcdef"
		b := make([]byte, n)
		for i := range b {
			b[i] = digits[rng.IntN(16)]
		}
		return string(b)
	}
	o := benchOrder{
		EventID:       hex(8) + "-" + hex(4) + "-" + hex(4) + "-" + hex(4) + "-" + hex(12),
		TenantID:      fmt.Sprintf("tenant-%03d", rng.IntN(1000)),
		UserID:        rng.Int64N(1_000_000_000),
		SessionID:     "sess-" + hex(10),
		CreatedAtMs:   1_795_000_000_000 + rng.Int64N(1_000_000_000),
		EventType:     benchEventTypes[rng.IntN(len(benchEventTypes))],
		AmountCents:   rng.Int64N(2_000_000) - 100_000,
		Currency:      benchCurrencies[rng.IntN(len(benchCurrencies))],
		Quantity:      rng.Int32N(100),
		Price:         float64(rng.IntN(10_000_000)) / 100,
		Discount:      float32(rng.IntN(100)) / 100,
		IsTest:        rng.IntN(10) == 0,
		Country:       benchCountries[rng.IntN(len(benchCountries))],
		City:          benchCities[rng.IntN(len(benchCities))],
		IP:            fmt.Sprintf("%d.%d.%d.%d", rng.IntN(256), rng.IntN(256), rng.IntN(256), rng.IntN(256)),
		UserAgent:     benchAgents[rng.IntN(len(benchAgents))],
		Tags:          []string{},
		Attributes:    map[string]string{},
		SchemaVersion: 1 + rng.Int32N(5),
		Address: benchAddress{
			Street:  fmt.Sprintf("Hauptstrasse %d", 1+rng.IntN(300)),
			Zip:     fmt.Sprintf("%05d", rng.IntN(100000)),
			Country: benchCountries[rng.IntN(len(benchCountries))],
		},
	}
	for range rng.IntN(5) {
		o.Tags = append(o.Tags, benchTags[rng.IntN(len(benchTags))])
	}
	for i := range 1 + rng.IntN(4) {
		o.Attributes[fmt.Sprintf("attr_%d", i)] = hex(1 + rng.IntN(12))
	}
	o.Payload = make([]byte, 16+rng.IntN(80))
	for i := range o.Payload {
		o.Payload[i] = byte(rng.Uint32())
	}
	if rng.IntN(10) < 7 {
		ref := fmt.Sprintf("https://www.example.com/landing?utm_source=%s", hex(6))
		o.Referrer = &ref
	}
	return o
}

// recordPool is a set of encoded perf records (datums, no envelope) and
// the schema that they match.
type recordPool struct {
	format     string
	schemaType string // as the REST API spells it
	schemaText string
	indexes    []int // Protobuf: the message-index path of OrderEvent
	datums     [][]byte
}

// newRecordPool generates n random records, encodes them in format and
// checks each with the format's validator, so that a generator bug shows
// here and not as refused requests.
func newRecordPool(format string, n int, rng *rand.Rand) (*recordPool, error) {
	p := &recordPool{format: format}
	var (
		encode   func(o *benchOrder) ([]byte, error)
		validate func(b []byte) error
	)
	switch format {
	case "avro":
		p.schemaType, p.schemaText = "AVRO", perfRecordAvsc
		s, err := avro.Parse(p.schemaText, nil)
		if err != nil {
			return nil, fmt.Errorf("perf Avro schema: %w", err)
		}
		encode = func(o *benchOrder) ([]byte, error) { return s.AppendEncode(nil, o) }
		validate = s.ValidateDatum
	case "protobuf":
		p.schemaType, p.schemaText = "PROTOBUF", perfRecordProto
		s, err := protobuf.Parse(p.schemaText, nil)
		if err != nil {
			return nil, fmt.Errorf("perf Protobuf schema: %w", err)
		}
		if p.indexes, err = s.IndexesOf("perfbaseline.serde.v1.OrderEvent"); err != nil {
			return nil, err
		}
		md, err := s.MessageByIndexes(p.indexes)
		if err != nil {
			return nil, err
		}
		encode = func(o *benchOrder) ([]byte, error) { return protobuf.AppendEncode(nil, orderMessage(md, o)) }
		validate = func(b []byte) error { return s.ValidateMessage(p.indexes, b) }
	case "json":
		p.schemaType, p.schemaText = "JSON", perfRecordJSONSchema
		s, err := jsonschema.Parse(p.schemaText, nil)
		if err != nil {
			return nil, fmt.Errorf("perf JSON Schema: %w", err)
		}
		encode = func(o *benchOrder) ([]byte, error) { return json.Marshal(o) }
		validate = s.ValidatePayload
	default:
		return nil, fmt.Errorf("format %q: want avro, protobuf or json", format)
	}
	for i := range n {
		o := randomOrder(rng)
		b, err := encode(&o)
		if err != nil {
			return nil, fmt.Errorf("encoding record %d as %s: %w", i, format, err)
		}
		if err := validate(b); err != nil {
			return nil, fmt.Errorf("generated %s record %d does not match its schema: %w", format, i, err)
		}
		p.datums = append(p.datums, b)
	}
	return p, nil
}

// orderMessage builds o as a dynamic OrderEvent of md.
func orderMessage(md protoreflect.MessageDescriptor, o *benchOrder) *dynamicpb.Message {
	m := dynamicpb.NewMessage(md)
	f := md.Fields()
	str := func(m protoreflect.Message, fs protoreflect.FieldDescriptors, name, v string) {
		m.Set(fs.ByName(protoreflect.Name(name)), protoreflect.ValueOfString(v))
	}
	str(m, f, "event_id", o.EventID)
	str(m, f, "tenant_id", o.TenantID)
	m.Set(f.ByName("user_id"), protoreflect.ValueOfInt64(o.UserID))
	str(m, f, "session_id", o.SessionID)
	m.Set(f.ByName("created_at_ms"), protoreflect.ValueOfInt64(o.CreatedAtMs))
	str(m, f, "event_type", o.EventType)
	m.Set(f.ByName("amount_cents"), protoreflect.ValueOfInt64(o.AmountCents))
	str(m, f, "currency", o.Currency)
	m.Set(f.ByName("quantity"), protoreflect.ValueOfInt32(o.Quantity))
	m.Set(f.ByName("price"), protoreflect.ValueOfFloat64(o.Price))
	m.Set(f.ByName("discount"), protoreflect.ValueOfFloat32(o.Discount))
	m.Set(f.ByName("is_test"), protoreflect.ValueOfBool(o.IsTest))
	str(m, f, "country", o.Country)
	str(m, f, "city", o.City)
	str(m, f, "ip", o.IP)
	str(m, f, "user_agent", o.UserAgent)
	tags := m.Mutable(f.ByName("tags")).List()
	for _, t := range o.Tags {
		tags.Append(protoreflect.ValueOfString(t))
	}
	attrs := m.Mutable(f.ByName("attributes")).Map()
	for k, v := range o.Attributes {
		attrs.Set(protoreflect.ValueOfString(k).MapKey(), protoreflect.ValueOfString(v))
	}
	addr := m.Mutable(f.ByName("address")).Message()
	af := addr.Descriptor().Fields()
	str(addr, af, "street", o.Address.Street)
	str(addr, af, "zip", o.Address.Zip)
	str(addr, af, "country", o.Address.Country)
	m.Set(f.ByName("payload"), protoreflect.ValueOfBytes(o.Payload))
	if o.Referrer != nil {
		str(m, f, "referrer", *o.Referrer)
	}
	m.Set(f.ByName("schema_version"), protoreflect.ValueOfInt32(o.SchemaVersion))
	return m
}

// prefix is the envelope of schema id: magic byte, id, and for Protobuf
// the message-index path.
func (p *recordPool) prefix(id int32) []byte {
	b := serde.AppendPrefix(nil, id)
	if p.format == "protobuf" {
		b = serde.AppendIndexes(b, p.indexes)
	}
	return b
}

// prefixLen is the envelope's length in bytes.
func (p *recordPool) prefixLen() int { return len(p.prefix(0)) }

// meanSize is the mean datum size in bytes.
func (p *recordPool) meanSize() int {
	total := 0
	for _, d := range p.datums {
		total += len(d)
	}
	return total / max(len(p.datums), 1)
}

// frame returns every datum with the envelope of schema id in front, in
// one allocation.
func (p *recordPool) frame(id int32) [][]byte {
	prefix := p.prefix(id)
	total := 0
	for _, d := range p.datums {
		total += len(prefix) + len(d)
	}
	buf := make([]byte, 0, total)
	out := make([][]byte, len(p.datums))
	for i, d := range p.datums {
		start := len(buf)
		buf = append(buf, prefix...)
		buf = append(buf, d...)
		out[i] = buf[start:len(buf):len(buf)]
	}
	return out
}

// The perf record's schemas, as in testdata/perf (TestPerfSchemasMatchTestdata
// keeps them equal), compiled in so that the load generator runs anywhere.
var (
	perfRecordAvsc = `{
  "type": "record",
  "name": "OrderEvent",
  "namespace": "perfbaseline.serde.v1",
  "fields": [
    {"name": "event_id", "type": "string"},
    {"name": "tenant_id", "type": "string"},
    {"name": "user_id", "type": "long"},
    {"name": "session_id", "type": "string"},
    {"name": "created_at_ms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "event_type", "type": "string"},
    {"name": "amount_cents", "type": "long"},
    {"name": "currency", "type": "string"},
    {"name": "quantity", "type": "int"},
    {"name": "price", "type": "double"},
    {"name": "discount", "type": "float"},
    {"name": "is_test", "type": "boolean"},
    {"name": "country", "type": "string"},
    {"name": "city", "type": "string"},
    {"name": "ip", "type": "string"},
    {"name": "user_agent", "type": "string"},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "attributes", "type": {"type": "map", "values": "string"}},
    {"name": "address", "type": {"type": "record", "name": "Address", "fields": [
      {"name": "street", "type": "string"},
      {"name": "zip", "type": "string"},
      {"name": "country", "type": "string"}
    ]}},
    {"name": "payload", "type": "bytes"},
    {"name": "referrer", "type": ["null", "string"], "default": null},
    {"name": "schema_version", "type": "int"}
  ]
}
`
	perfRecordProto = `syntax = "proto3";

package perfbaseline.serde.v1;

option go_package = "perfbaseline/gobench/serde/pb";

message Address {
  string street = 1;
  string zip = 2;
  string country = 3;
}

// ~20-field event record; mirrors schemas/record.avsc and schemas/record.schema.json.
message OrderEvent {
  string event_id = 1;
  string tenant_id = 2;
  int64 user_id = 3;
  string session_id = 4;
  int64 created_at_ms = 5;
  string event_type = 6;
  int64 amount_cents = 7;
  string currency = 8;
  int32 quantity = 9;
  double price = 10;
  float discount = 11;
  bool is_test = 12;
  string country = 13;
  string city = 14;
  string ip = 15;
  string user_agent = 16;
  repeated string tags = 17;
  map<string, string> attributes = 18;
  Address address = 19;
  bytes payload = 20;
  optional string referrer = 21;
  int32 schema_version = 22;
}
`
	perfRecordJSONSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://example.invalid/perfbaseline/order-event.schema.json",
  "title": "OrderEvent",
  "type": "object",
  "additionalProperties": false,
  "required": ["event_id", "tenant_id", "user_id", "session_id", "created_at_ms", "event_type",
    "amount_cents", "currency", "quantity", "price", "discount", "is_test", "country", "city",
    "ip", "user_agent", "tags", "attributes", "address", "payload", "schema_version"],
  "properties": {
    "event_id": {"type": "string", "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"},
    "tenant_id": {"type": "string", "minLength": 1, "maxLength": 64},
    "user_id": {"type": "integer", "minimum": 0},
    "session_id": {"type": "string", "minLength": 1},
    "created_at_ms": {"type": "integer", "minimum": 0},
    "event_type": {"type": "string", "enum": ["created", "paid", "shipped", "cancelled", "refunded"]},
    "amount_cents": {"type": "integer"},
    "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
    "quantity": {"type": "integer", "minimum": 0, "maximum": 2147483647},
    "price": {"type": "number"},
    "discount": {"type": "number", "minimum": 0, "maximum": 1},
    "is_test": {"type": "boolean"},
    "country": {"type": "string", "minLength": 2, "maxLength": 2},
    "city": {"type": "string"},
    "ip": {"type": "string", "format": "ipv4"},
    "user_agent": {"type": "string", "maxLength": 512},
    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 32},
    "attributes": {"type": "object", "additionalProperties": {"type": "string"}},
    "address": {
      "type": "object",
      "additionalProperties": false,
      "required": ["street", "zip", "country"],
      "properties": {
        "street": {"type": "string"},
        "zip": {"type": "string"},
        "country": {"type": "string", "minLength": 2, "maxLength": 2}
      }
    },
    "payload": {"type": "string", "contentEncoding": "base64"},
    "referrer": {"type": ["string", "null"]},
    "schema_version": {"type": "integer", "minimum": 1}
  }
}
`
)

// benchRuleSet is a ruleSet of n CEL conditions over OrderEvent that every
// generated record keeps (quantity is 0..99), so that the level "rules"
// measures their cost, not refusals.
func benchRuleSet(n int) json.RawMessage {
	rules := make([]map[string]string, n)
	for i := range rules {
		rules[i] = map[string]string{"name": fmt.Sprintf("bench_rule_%d", i+1), "kind": "CONDITION", "mode": "WRITE", "type": "CEL",
			"expr": fmt.Sprintf("message.quantity < %d", 100+i)}
	}
	b, _ := json.Marshal(map[string]any{"domainRules": rules})
	return b
}
