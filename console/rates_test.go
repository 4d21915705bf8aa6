package console_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/console"
)

// TestOverviewRates: the overview reads the node's /metrics, sums the
// per-partition counters per topic, shows totals at the first view and
// the rates since the previous view after it; counters that went down
// read as no traffic. A node without /metrics shows no rate columns.
func TestOverviewRates(t *testing.T) {
	n := startNode(t)
	var (
		mu      sync.Mutex
		metrics string
		now     = epoch
	)
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			mu.Lock()
			metrics := metrics
			mu.Unlock()
			if metrics == "" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			fmt.Fprint(w, metrics)
			return
		}
		n.Handler.ServeHTTP(w, r)
	})
	c, err := console.New(console.Config{API: api, Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	if err != nil {
		t.Fatal(err)
	}
	view := func() string {
		t.Helper()
		r := newRequest("GET", "/console/")
		w := serve(&node{Console: c}, r)
		if w.Code != 200 {
			t.Fatalf("overview: %d\n%s", w.Code, w.Body)
		}
		return w.Body.String()
	}
	scrape := func(orders0, orders1, fetched, plain float64) string {
		return fmt.Sprintf(`# HELP sluice_produced_records_total Records appended.
# TYPE sluice_produced_records_total counter
sluice_produced_records_total{partition="0",topic="orders"} %g
sluice_produced_records_total{partition="1",topic="orders"} %g
sluice_produced_records_total{partition="0",topic="plain"} %g
sluice_produced_bytes_total{partition="0",topic="orders"} %g
sluice_fetched_records_total{partition="other",topic="orders"} %g
sluice_fetched_bytes_total{partition="0",topic="orders"} 0
sluice_produced_records_total{partition="0",topic="we\"ird"} 5
sluice_topics 3
`, orders0, orders1, plain, orders0*100, fetched)
	}
	if body := view(); strings.Contains(body, "Produced") {
		t.Errorf("a node without /metrics shows rate columns:\n%s", body)
	}
	mu.Lock()
	metrics = scrape(10, 5, 3, 1)
	mu.Unlock()
	body := view()
	for _, want := range []string{`<th class="num">Produced</th>`, `<td class="num" data-label="Produced">15</td><td class="num" data-label="Fetched">3</td>`, "rates show from the next view"} {
		if !strings.Contains(body, want) {
			t.Errorf("first view lacks %q:\n%s", want, body)
		}
	}
	mu.Lock()
	metrics = scrape(30, 15, 13, 0) // plain went down: a restart
	now = now.Add(10 * time.Second)
	mu.Unlock()
	body = view()
	for _, want := range []string{`<th class="num">Produced/s</th>`, `<td class="num" data-label="Produced/s">3.0 (200 B)</td><td class="num" data-label="Fetched/s">1.0 (0 B)</td>`, `<td class="num" data-label="Produced/s">0.0 (0 B)</td><td class="num" data-label="Fetched/s">0.0 (0 B)</td>`, "Rates over the 10s since the previous view"} {
		if !strings.Contains(body, want) {
			t.Errorf("second view lacks %q:\n%s", want, body)
		}
	}
}
