package metrics_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/auth"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
	"github.com/sluicehq/sluice/server"
)

// testWriter sends logs to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// node runs a node with a Kafka listener and fsync=always.
func node(t *testing.T, maxPartitions int) (*server.Server, string) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, base, stop, err := server.Start(context.Background(), server.Config{
		DataDir: t.TempDir(), KafkaAddr: "127.0.0.1:0", Logger: logger, MetricsMaxPartitions: maxPartitions,
	}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return s, base
}

// scrape GETs /metrics and parses the text format.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the /metrics text does not parse: %v", err)
	}
	return mfs
}

// value returns the value of the series of family name whose labels
// include labels ("k=v" pairs), or -1 when there is none.
func value(mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	mf := mfs[name]
	if mf == nil {
		return -1
	}
next:
	for _, m := range mf.GetMetric() {
		for _, l := range labels {
			k, v, _ := strings.Cut(l, "=")
			if !slices.ContainsFunc(m.GetLabel(), func(lp *dto.LabelPair) bool { return lp.GetName() == k && lp.GetValue() == v }) {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			return m.GetUntyped().GetValue()
		}
	}
	return -1
}

// TestScrapeAfterProduceRefuseConsume drives a node over Connect, Kafka and
// REST, then checks that the scraped counters moved by exactly what was
// done, and that the dashboard and the docs name only metrics that exist.
func TestScrapeAfterProduceRefuseConsume(t *testing.T) {
	s, base := node(t, 0)
	ctx := context.Background()
	hc := http.DefaultClient
	topics := brokerv1connect.NewTopicServiceClient(hc, base)
	bc := brokerv1connect.NewBrokerServiceClient(hc, base)
	if _, err := topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "orders", Partitions: 2})); err != nil {
		t.Fatal(err)
	}
	// A topic whose values must carry a schema id: a plain value is refused.
	if _, err := topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "typed", Partitions: 1,
		Configs: map[string]string{"value.schema.validation": "id"}})); err != nil {
		t.Fatal(err)
	}
	before := scrape(t, base)
	if v := value(before, "sluice_produced_records_total", "topic=orders", "partition=0"); v != 0 {
		t.Fatalf("produced before anything: %v", v)
	}

	// Connect: 3 records (2+3 bytes each) to partition 0, then 1 refused.
	p0 := int32(0)
	var recs []*brokerv1.ProduceRecord
	for i := range 3 {
		recs = append(recs, &brokerv1.ProduceRecord{Key: []byte(fmt.Sprint("k", i)), Value: []byte("abc"), Partition: &p0})
	}
	if _, err := bc.Produce(ctx, connect.NewRequest(&brokerv1.ProduceRequest{Topic: "orders", Records: recs})); err != nil {
		t.Fatal(err)
	}
	_, err := bc.Produce(ctx, connect.NewRequest(&brokerv1.ProduceRequest{Topic: "typed", Records: []*brokerv1.ProduceRecord{{Value: []byte("plain")}}}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("plain value on a checked topic: %v", err)
	}

	// Kafka: 2 records (1+2 and 1+3 bytes) to partition 1, then 1 refused.
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.KafkaAddr()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0), kgo.RecordRetries(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx,
		&kgo.Record{Topic: "orders", Partition: 1, Key: []byte("a"), Value: []byte("xy")},
		&kgo.Record{Topic: "orders", Partition: 1, Key: []byte("b"), Value: []byte("xyz")},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "typed", Partition: 0, Value: []byte("plain")}).FirstErr(); err == nil {
		t.Fatal("Kafka produce of a plain value on a checked topic was accepted")
	}

	// Consume: Connect Fetch of partition 0, Kafka fetch of partition 1.
	fr, err := bc.Fetch(ctx, connect.NewRequest(&brokerv1.FetchRequest{Topic: "orders", Partition: 0, Offset: 0}))
	if err != nil || len(fr.Msg.GetRecords()) != 3 {
		t.Fatalf("fetch: %v", err)
	}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(s.KafkaAddr()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"orders": {1: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	got := 0
	pollCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for got < 2 {
		fs := consumer.PollFetches(pollCtx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		got += fs.NumRecords()
	}
	// A group that committed offset 1 of partition 0 and nothing of 1.
	if _, err := kadm.NewClient(cl).CommitOffsets(ctx, "g1", kadm.OffsetsFromRecords(kgo.Record{Topic: "orders", Partition: 0, Offset: 0})); err != nil {
		t.Fatal(err)
	}
	// REST: register a schema, list subjects.
	resp, err := http.Post(base+"/subjects/typed-value/versions", "application/vnd.schemaregistry.v1+json",
		strings.NewReader(`{"schemaType":"JSON","schema":"{\"type\":\"object\"}"}`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("register: %s", resp.Status)
	}

	mfs := scrape(t, base)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"sluice_produced_records_total", []string{"topic=orders", "partition=0"}, 3},
		{"sluice_produced_bytes_total", []string{"topic=orders", "partition=0"}, 15},
		{"sluice_produced_records_total", []string{"topic=orders", "partition=1"}, 2},
		{"sluice_produced_bytes_total", []string{"topic=orders", "partition=1"}, 7},
		{"sluice_produced_records_total", []string{"topic=typed", "partition=0"}, 0},
		{"sluice_fetched_records_total", []string{"topic=orders", "partition=0"}, 3},
		{"sluice_fetched_bytes_total", []string{"topic=orders", "partition=0"}, 15},
		{"sluice_fetched_records_total", []string{"topic=orders", "partition=1"}, 2},
		{"sluice_log_high_watermark", []string{"topic=orders", "partition=0"}, 3},
		{"sluice_log_start_offset", []string{"topic=orders", "partition=0"}, 0},
		{"sluice_produce_refusals_total", []string{"transport=connect", "reason=bad_envelope"}, 1},
		{"sluice_produce_refusals_total", []string{"transport=kafka", "reason=bad_envelope"}, 1},
		{"sluice_produce_refusals_total", []string{"transport=kafka", "reason=payload_mismatch"}, 0},
		{"sluice_group_lag", []string{"group=g1", "topic=orders", "partition=0"}, 2},
		{"sluice_group_lag", []string{"group=g1", "topic=orders", "partition=1"}, 2},
		{"sluice_groups", nil, 1},
		{"sluice_topics", nil, 2},
		{"sluice_partitions", nil, 3},
		{"sluice_registry_subjects", nil, 1},
		{"sluice_registry_schema_versions", nil, 1},
		{"sluice_registry_schemas", nil, 1},
		{"sluice_metrics_folded_partitions", nil, 0},
		{"sluice_request_duration_seconds", []string{"transport=connect", "method=sluice.broker.v1.BrokerService/Produce"}, 2},
		{"sluice_request_duration_seconds", []string{"transport=rest", "method=POST /subjects/*/versions"}, 1},
	} {
		if got := value(mfs, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// At least: the Kafka produces, fsyncs, a size on disk, the runtime.
	for _, c := range []struct {
		name   string
		labels []string
	}{
		{"sluice_request_duration_seconds", []string{"transport=kafka", "method=Produce"}},
		{"sluice_request_duration_seconds", []string{"transport=kafka", "method=Fetch"}},
		{"sluice_fsync_duration_seconds", nil},
		{"sluice_log_size_bytes", []string{"topic=orders", "partition=0"}},
		{"go_goroutines", nil},
	} {
		if got := value(mfs, c.name, c.labels...); got <= 0 {
			t.Errorf("%s%v = %v, want > 0", c.name, c.labels, got)
		}
	}
	if v := value(mfs, "sluice_requests_in_flight", "transport=http"); v != 1 {
		t.Errorf("in flight during the scrape: %v, want 1 (the scrape itself)", v)
	}
	if v := value(mfs, "sluice_requests_in_flight", "transport=kafka"); v < 0 {
		t.Errorf("no Kafka in-flight gauge")
	}

	t.Run("dashboard", func(t *testing.T) { checkDashboard(t, mfs) })
	t.Run("docs", func(t *testing.T) { checkDocs(t, mfs) })
}

// metricName matches the metric names a PromQL expression uses.
var metricName = regexp.MustCompile(`\b(?:sluice|go|process)_[a-z0-9_]+`)

// checkDashboard: every metric the Grafana dashboard queries is exported
// (histograms by their _bucket, _sum and _count series).
func checkDashboard(t *testing.T, mfs map[string]*dto.MetricFamily) {
	raw, err := os.ReadFile("../deploy/grafana/sluice.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	queried := 0
	// Exported only when the node has an auth file.
	conditional := map[string]bool{"sluice_auth_failures_total": true}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, name := range metricName.FindAllString(tg.Expr, -1) {
				queried++
				if conditional[name] {
					continue
				}
				base := name
				for _, suf := range []string{"_bucket", "_sum", "_count"} {
					if b, ok := strings.CutSuffix(name, suf); ok && mfs[b] != nil && mfs[b].GetType() == dto.MetricType_HISTOGRAM {
						base = b
					}
				}
				if mfs[base] == nil {
					t.Errorf("panel %q queries %s, which /metrics does not export", p.Title, name)
				}
			}
		}
	}
	if queried < 10 {
		t.Errorf("the dashboard queries only %d metrics", queried)
	}
}

// checkDocs: docs/operations.md lists every sluice_ metric exported.
func checkDocs(t *testing.T, mfs map[string]*dto.MetricFamily) {
	raw, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range mfs {
		if strings.HasPrefix(name, "sluice_") && !strings.Contains(string(raw), "`"+name+"`") {
			t.Errorf("docs/operations.md does not list %s", name)
		}
	}
}

// TestScrapeCap: with --metrics-max-partitions 3, topic a (2 partitions)
// keeps its series, topic b folds into partition="other", topic c into
// topic="other", and the sums stay exact.
func TestScrapeCap(t *testing.T) {
	s, base := node(t, 3)
	ctx := context.Background()
	for _, name := range []string{"a", "b", "c"} {
		if _, err := s.Broker.CreateTopic(ctx, name, 2, nil); err != nil {
			t.Fatal(err)
		}
	}
	bc := brokerv1connect.NewBrokerServiceClient(http.DefaultClient, base)
	for _, topic := range []string{"a", "b", "c"} {
		for p := range int32(2) {
			if _, err := bc.Produce(ctx, connect.NewRequest(&brokerv1.ProduceRequest{Topic: topic,
				Records: []*brokerv1.ProduceRecord{{Value: []byte("v"), Partition: &p}}})); err != nil {
				t.Fatal(err)
			}
		}
	}
	mfs := scrape(t, base)
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"topic=a", "partition=0"}, 1},
		{[]string{"topic=a", "partition=1"}, 1},
		{[]string{"topic=b", "partition=other"}, 2},
		{[]string{"topic=b", "partition=0"}, -1},
		{[]string{"topic=other", "partition=other"}, 2},
		{[]string{"topic=c", "partition=other"}, -1},
	} {
		if got := value(mfs, "sluice_produced_records_total", c.labels...); got != c.want {
			t.Errorf("sluice_produced_records_total%v = %v, want %v", c.labels, got, c.want)
		}
	}
	if got := len(mfs["sluice_produced_records_total"].GetMetric()); got != 4 {
		t.Errorf("%d series, want 4 (the cap and the overflow series)", got)
	}
	if got := value(mfs, "sluice_metrics_folded_partitions"); got != 4 {
		t.Errorf("folded = %v, want 4", got)
	}
}

// TestMetricsAuth: with an auth file, /metrics is open by default (the
// APIs are not) and needs credentials under MetricsAuth (--metrics-auth);
// failed logins are counted in sluice_auth_failures_total.
func TestMetricsAuth(t *testing.T) {
	hash, err := auth.HashPassword("s3cret", true)
	if err != nil {
		t.Fatal(err)
	}
	f, err := auth.ParseFile("auth.yaml", []byte("users:\n  - name: prom\n    password: "+hash+"\nsuperusers: [prom]\n"))
	if err != nil {
		t.Fatal(err)
	}
	get := func(base, path, user, password string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for _, metricsAuth := range []bool{false, true} {
		t.Run(fmt.Sprint("metrics-auth=", metricsAuth), func(t *testing.T) {
			_, base, stop, err := server.Start(context.Background(), server.Config{
				DataDir: t.TempDir(), Auth: auth.New(f, auth.Options{}), MetricsAuth: metricsAuth,
			}, "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			if resp := get(base, "/subjects", "", ""); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("GET /subjects without credentials: %s", resp.Status)
			}
			open := get(base, "/metrics", "", "")
			if want := map[bool]int{false: 200, true: 401}[metricsAuth]; open.StatusCode != want {
				t.Fatalf("GET /metrics without credentials: %s, want %d", open.Status, want)
			}
			if open.StatusCode >= 400 && open.Header.Get("X-Request-Id") == "" {
				t.Errorf("no request id on %s", open.Status)
			}
			if resp := get(base, "/metrics", "prom", "wrong"); metricsAuth && resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("GET /metrics with a wrong password: %s", resp.Status)
			}
			req, _ := http.NewRequest("GET", base+"/metrics", nil)
			req.SetBasicAuth("prom", "s3cret")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /metrics with credentials: %s", resp.Status)
			}
			parser := expfmt.NewTextParser(model.UTF8Validation)
			mfs, err := parser.TextToMetricFamilies(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			// One wrong password under --metrics-auth (the open endpoint
			// does not look at credentials).
			if got, want := value(mfs, "sluice_auth_failures_total", "reason=wrong_password"), map[bool]float64{false: 0, true: 1}[metricsAuth]; got != want {
				t.Errorf("sluice_auth_failures_total{reason=wrong_password} = %v, want %v", got, want)
			}
			for _, reason := range []string{"unknown_user", "unknown_token", "bad_certificate", "malformed"} {
				if got := value(mfs, "sluice_auth_failures_total", "reason="+reason); got != 0 {
					t.Errorf("sluice_auth_failures_total{reason=%s} = %v, want 0", reason, got)
				}
			}
		})
	}
}
