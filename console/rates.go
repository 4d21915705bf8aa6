package console

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file is the overview's produce and fetch rates, from the node's
// Prometheus metrics (GET /metrics, read in process like every other API):
// the per-partition counters sluice_produced_records_total,
// sluice_produced_bytes_total, sluice_fetched_records_total and
// sluice_fetched_bytes_total, summed per topic. A rate needs two readings,
// so the console keeps the previous one: the overview shows the rates
// between the last two views (at least a second and at most ten minutes
// apart), and the totals otherwise. A node without /metrics shows none.

// counters are one topic's counters.
type counters struct {
	ProducedRecords, ProducedBytes, FetchedRecords, FetchedBytes float64
}

func (c *counters) add(name string, v float64) {
	switch name {
	case "sluice_produced_records_total":
		c.ProducedRecords += v
	case "sluice_produced_bytes_total":
		c.ProducedBytes += v
	case "sluice_fetched_records_total":
		c.FetchedRecords += v
	case "sluice_fetched_bytes_total":
		c.FetchedBytes += v
	}
}

// reading is one scrape: counters by topic, and when.
type reading struct {
	at     time.Time
	topics map[string]counters
}

// rateKeeper remembers the last reading.
type rateKeeper struct {
	mu   sync.Mutex
	last *reading
}

// topicRates is what the overview shows for a topic.
type topicRates struct {
	// Totals are the counters since the node started.
	Totals counters
	// PerSecond are the rates since the previous reading; Window is its
	// length, 0 when there is no usable previous reading.
	PerSecond counters
	Window    time.Duration
}

// rates reads the metrics and returns the rates by topic, or nil when the
// node serves no metrics.
func (c *Console) rates(ctx context.Context) map[string]topicRates {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil
	}
	now := c.cfg.Now()
	cur := &reading{at: now, topics: parseCounters(io.LimitReader(res.Body, 64<<20))}
	c.keeper.mu.Lock()
	prev := c.keeper.last
	c.keeper.last = cur
	c.keeper.mu.Unlock()
	out := make(map[string]topicRates, len(cur.topics))
	for topic, tc := range cur.topics {
		tr := topicRates{Totals: tc}
		if prev != nil {
			w := cur.at.Sub(prev.at)
			if pc, ok := prev.topics[topic]; ok && w >= time.Second && w <= 10*time.Minute {
				s := w.Seconds()
				tr.Window = w
				tr.PerSecond = counters{
					ProducedRecords: nonNegative(tc.ProducedRecords-pc.ProducedRecords) / s,
					ProducedBytes:   nonNegative(tc.ProducedBytes-pc.ProducedBytes) / s,
					FetchedRecords:  nonNegative(tc.FetchedRecords-pc.FetchedRecords) / s,
					FetchedBytes:    nonNegative(tc.FetchedBytes-pc.FetchedBytes) / s,
				}
			}
		}
		out[topic] = tr
	}
	return out
}

// nonNegative treats a counter that went down (the node restarted, a topic
// was recreated) as no traffic.
func nonNegative(x float64) float64 { return max(x, 0) }

// parseCounters reads the Prometheus text format and sums the four
// counters per topic label. Lines it does not understand are skipped.
func parseCounters(r io.Reader) map[string]counters {
	out := map[string]counters{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "sluice_produced_") && !strings.HasPrefix(line, "sluice_fetched_") {
			continue
		}
		name, labels, value, ok := splitSample(line)
		if !ok {
			continue
		}
		topic, ok := labels["topic"]
		if !ok {
			continue
		}
		tc := out[topic]
		tc.add(name, value)
		out[topic] = tc
	}
	return out
}

// splitSample splits `name{a="x",b="y"} value [timestamp]`.
func splitSample(line string) (name string, labels map[string]string, value float64, ok bool) {
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return "", nil, 0, false
	}
	name, rest := line[:i], line[i:]
	labels = map[string]string{}
	if rest[0] == '{' {
		rest = rest[1:]
		for {
			rest = strings.TrimLeft(rest, " ,")
			if strings.HasPrefix(rest, "}") {
				rest = rest[1:]
				break
			}
			eq := strings.IndexByte(rest, '=')
			if eq <= 0 || eq+1 >= len(rest) || rest[eq+1] != '"' {
				return "", nil, 0, false
			}
			key := strings.TrimSpace(rest[:eq])
			rest = rest[eq+2:]
			var b strings.Builder
			closed := false
			for j := 0; j < len(rest); j++ {
				c := rest[j]
				if c == '\\' && j+1 < len(rest) {
					j++
					switch rest[j] {
					case 'n':
						b.WriteByte('\n')
					default:
						b.WriteByte(rest[j])
					}
					continue
				}
				if c == '"' {
					rest = rest[j+1:]
					closed = true
					break
				}
				b.WriteByte(c)
			}
			if !closed {
				return "", nil, 0, false
			}
			labels[key] = b.String()
		}
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return "", nil, 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return "", nil, 0, false
	}
	return name, labels, v, true
}
