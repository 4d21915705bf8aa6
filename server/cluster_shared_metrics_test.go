package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"connectrpc.com/connect"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sluicehq/sluice/internal/pgtest"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// scrapeFamilies GETs url's /metrics and parses it.
func scrapeFamilies(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return mfs
}

// sharedValue is the value of the unlabelled shared-log metric name
// (a counter's value, a histogram's count); -1 when absent.
func sharedValue(mfs map[string]*dto.MetricFamily, name string) float64 {
	mf := mfs[name]
	if mf == nil || len(mf.GetMetric()) != 1 {
		return -1
	}
	m := mf.GetMetric()[0]
	if h := m.GetHistogram(); h != nil {
		return float64(h.GetSampleCount())
	}
	return m.GetCounter().GetValue()
}

// A cluster node's /metrics reports its shared log: the objects, records
// and bytes it committed, one PUT and one commit duration per object, and
// on the node that reads them the cache misses and high-watermark updates;
// an embedded node has no shared-log series.
func TestClusterSharedLogMetrics(t *testing.T) {
	meta := pgtest.DB(t)
	objects := "file://" + t.TempDir()
	a := startSharedNode(t, meta, objects, "a")
	b := startSharedNode(t, meta, objects, "b")
	ctx := context.Background()
	if _, err := a.topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "metered", Partitions: 1})); err != nil {
		t.Fatal(err)
	}
	values := 0
	for i := range 3 {
		vals := make([]string, 10)
		for j := range vals {
			vals[j] = fmt.Sprintf("record-%d-%d", i, j)
		}
		a.produce(t, "metered", 0, vals...)
		values += len(vals)
	}
	got := b.fetchAll(t, "metered", 0, values)
	if len(got) != values {
		t.Fatalf("read %d records on b, want %d", len(got), values)
	}

	ma := scrapeFamilies(t, a.url)
	objectsA := sharedValue(ma, "sluice_shared_log_objects_committed_total")
	if objectsA < 1 || objectsA > 3 {
		t.Fatalf("a: sluice_shared_log_objects_committed_total %v, want 1 to 3 (three produce requests)", objectsA)
	}
	for name, want := range map[string]float64{
		"sluice_shared_log_records_committed_total": float64(values),
		"sluice_shared_log_put_duration_seconds":    objectsA,
		"sluice_shared_log_commit_duration_seconds": objectsA,
		"sluice_shared_log_objects_failed_total":    0,
		"sluice_shared_log_commit_replays_total":    0,
		"sluice_shared_log_put_retries_total":       0,
		"sluice_shared_log_commit_retries_total":    0,
		"sluice_shared_log_batches_committed_total": 3,
	} {
		if v := sharedValue(ma, name); v != want {
			t.Errorf("a: %s = %v, want %v", name, v, want)
		}
	}
	if v := ma["sluice_cluster_node_lease_held"].GetMetric(); len(v) != 1 || v[0].GetGauge().GetValue() != 1 {
		t.Errorf("a: sluice_cluster_node_lease_held = %v, want 1", v)
	}
	if v := sharedValue(ma, "sluice_shared_log_bytes_committed_total"); v <= float64(values*len("record-0-0")) {
		t.Errorf("a: sluice_shared_log_bytes_committed_total = %v, want more than the values' %d bytes", v, values*len("record-0-0"))
	}

	// docs/operations.md names each of them, in full or as "..._" plus the
	// part after sluice_shared_log_.
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range ma {
		if rest, ok := strings.CutPrefix(name, "sluice_shared_log_"); (ok || name == "sluice_cluster_node_lease_held") &&
			!strings.Contains(string(doc), "`"+name+"`") && !strings.Contains(string(doc), "`..._"+rest+"`") {
			t.Errorf("docs/operations.md does not list %s", name)
		}
	}

	mb := scrapeFamilies(t, b.url)
	if v := sharedValue(mb, "sluice_shared_log_objects_committed_total"); v != 0 {
		t.Errorf("b committed %v objects, want 0 (it only read)", v)
	}
	if v := sharedValue(mb, "sluice_shared_log_cache_misses_total"); v < 1 {
		t.Errorf("b: sluice_shared_log_cache_misses_total = %v, want at least 1 (it read a's objects from the store)", v)
	}
	if n, p := sharedValue(mb, "sluice_shared_log_notifications_total"), sharedValue(mb, "sluice_shared_log_polls_total"); n+p < 1 {
		t.Errorf("b learned of a's commits %v times by notification and %v by poll, want at least once", n, p)
	}

	_, url, stop, err := Start(ctx, Config{DataDir: t.TempDir(), Fsync: neverFsync(t), Logger: testLogger(t)}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for name := range scrapeFamilies(t, url) {
		if strings.HasPrefix(name, "sluice_shared_log_") || strings.HasPrefix(name, "sluice_cluster_") {
			t.Errorf("an embedded node exports %s", name)
		}
	}
}
