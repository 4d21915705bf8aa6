package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// The history of a cluster fault test, checked as Jepsen's Kafka workload
// checks its: every send, ack and failure of a producer, and every record
// any reader saw. Values are unique, so a value names one record. The
// rules (check, observe):
//   - no acknowledged record is lost: each is read at the partition and
//     offset of its ack;
//   - none is duplicated at another offset: a value is read at one place
//     only, and one place holds one value in every read;
//   - nothing is served that was not sent: a value read was acked, or its
//     request failed or was cut off (in flight; it may or may not have
//     been committed);
//   - offsets are dense (these tests neither compact nor delete).
//
// The events go to a file when the test fails (or always, into the
// directory SLUICE_TEST_HISTORY names), for reading after the fact.

// ack is where an acknowledged record is.
type ack struct {
	partition int32
	offset    int64
}

// history is what producers sent, what was acknowledged, what failed and
// what readers saw.
type history struct {
	mu     sync.Mutex
	sent   map[string]bool
	acked  map[string]ack
	failed map[string]string // value -> the error of its request
	seenAt map[string]ack    // value -> where a read saw it
	holds  map[ack]string    // place -> the value a read saw there
	reads  int               // records observed
	events []string
	start  time.Time
	// keys, when set, gives produced records keys k0..k<keys-1> in turn,
	// each value starting "<key>/" (for compacted topics).
	keys    int
	keyNext int
}

func newHistory(t *testing.T) *history {
	h := &history{sent: map[string]bool{}, acked: map[string]ack{}, failed: map[string]string{},
		seenAt: map[string]ack{}, holds: map[ack]string{}, start: time.Now()}
	t.Cleanup(func() { h.save(t) })
	return h
}

// logf adds an event. Caller holds h.mu.
func (h *history) logf(format string, args ...any) {
	h.events = append(h.events, fmt.Sprintf("%9.3f ", time.Since(h.start).Seconds())+fmt.Sprintf(format, args...))
}

// save writes the events to a file when t failed or SLUICE_TEST_HISTORY
// names a directory.
func (h *history) save(t *testing.T) {
	dir := os.Getenv("SLUICE_TEST_HISTORY")
	if dir == "" && !t.Failed() {
		return
	}
	if dir == "" {
		dir = os.TempDir()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	name := filepath.Join(dir, fmt.Sprintf("sluice-history-%s-%d.log", strings.ReplaceAll(t.Name(), "/", "_"), time.Now().UnixNano()))
	if err := os.WriteFile(name, []byte(strings.Join(h.events, "\n")+"\n"), 0o644); err != nil {
		t.Logf("write the history: %v", err)
		return
	}
	t.Logf("history (%d events) written to %s", len(h.events), name)
}

// produceLoop produces requests of 1 to 4 records of unique values to
// partition part of topic through url until stop is closed, recording
// sends, acks and failures; after a failure it waits a little and goes on
// (or returns, with stopOnError). It returns how many records were acked.
func (h *history) produceLoop(url, topic, prefix string, part int32, stop <-chan struct{}, stopOnError bool) int {
	cl := brokerv1connect.NewBrokerServiceClient(http.DefaultClient, url)
	n := 0
	for i := 0; ; i++ {
		select {
		case <-stop:
			return n
		default:
		}
		req := &brokerv1.ProduceRequest{Topic: topic}
		var vals []string
		h.mu.Lock()
		for j := range 1 + i%4 {
			v := fmt.Sprintf("%s-%05d-%d", prefix, i, j)
			r := &brokerv1.ProduceRecord{Partition: &part}
			if h.keys > 0 {
				k := fmt.Sprint("k", h.keyNext%h.keys)
				h.keyNext++
				v = k + "/" + v
				r.Key = []byte(k)
			}
			r.Value = []byte(v)
			vals = append(vals, v)
			req.Records = append(req.Records, r)
		}
		for _, v := range vals {
			h.sent[v] = true
		}
		h.logf("send %s/%d %s", topic, part, strings.Join(vals, " "))
		h.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		resp, err := cl.Produce(ctx, connect.NewRequest(req))
		cancel()
		h.mu.Lock()
		if err != nil {
			for _, v := range vals {
				h.failed[v] = err.Error()
			}
			h.logf("fail %s: %v", strings.Join(vals, " "), err)
		} else {
			for k, r := range resp.Msg.Results {
				h.acked[vals[k]] = ack{r.Partition, r.Offset}
				h.logf("ack %s at %d/%d", vals[k], r.Partition, r.Offset)
			}
			n += len(vals)
		}
		h.mu.Unlock()
		if err != nil {
			if stopOnError {
				return n
			}
			select {
			case <-stop:
				return n
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// observe records that a read saw value v at partition p, offset off, and
// checks it against everything seen so far.
func (h *history) observe(t *testing.T, who string, p int32, off int64, v string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reads++
	at := ack{p, off}
	if !h.sent[v] {
		h.logf("read %s %d/%d %s NEVER SENT", who, p, off, v)
		t.Errorf("%s read %q at %d/%d, which was never sent", who, v, p, off)
		return
	}
	if prev, ok := h.seenAt[v]; ok && prev != at {
		h.logf("read %s %d/%d %s ALSO AT %d/%d", who, p, off, v, prev.partition, prev.offset)
		t.Errorf("%s read %q at %d/%d, and earlier at %d/%d: a duplicate at another offset", who, v, p, off, prev.partition, prev.offset)
		return
	}
	if prev, ok := h.holds[at]; ok && prev != v {
		h.logf("read %s %d/%d %s WAS %s", who, p, off, v, prev)
		t.Errorf("%s read %q at %d/%d, where an earlier read saw %q", who, v, p, off, prev)
		return
	}
	if a, ok := h.acked[v]; ok && a != at {
		h.logf("read %s %d/%d %s ACKED AT %d/%d", who, p, off, v, a.partition, a.offset)
		t.Errorf("%s read %q at %d/%d; it was acknowledged at %d/%d", who, v, p, off, a.partition, a.offset)
		return
	}
	if _, ok := h.seenAt[v]; !ok {
		h.logf("read %s %d/%d %s", who, p, off, v)
	}
	h.seenAt[v], h.holds[at] = at, v
}

// readPartition reads partition p of topic on the node at url from offset
// from to its high watermark over Connect, observing each record, with
// offsets dense. It returns the offset after the last record read.
func (h *history) readPartition(t *testing.T, who, url, topic string, p int32, from int64) (int64, error) {
	cl := brokerv1connect.NewBrokerServiceClient(http.DefaultClient, url)
	off := from
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := cl.Fetch(ctx, connect.NewRequest(&brokerv1.FetchRequest{Topic: topic, Partition: p, Offset: off, MaxRecords: 5000}))
		cancel()
		if err != nil {
			return off, err
		}
		for _, r := range resp.Msg.Records {
			if r.Offset != off {
				t.Errorf("%s: %s/%d: offset %d where %d was next (offsets not dense)", who, topic, p, r.Offset, off)
				return off, nil
			}
			h.observe(t, who, p, r.Offset, string(r.Value))
			off++
		}
		if off >= resp.Msg.HighWatermark || len(resp.Msg.Records) == 0 {
			return off, nil
		}
	}
}

// tail follows partitions 0..parts-1 of topic on the node at url until
// stop is closed, observing what it reads; errors (a node killed, the
// database restarting) are retried.
func (h *history) tail(t *testing.T, who, url, topic string, parts int32, stop <-chan struct{}) {
	next := make([]int64, parts)
	for {
		select {
		case <-stop:
			return
		case <-time.After(20 * time.Millisecond):
		}
		for p := range parts {
			if off, err := h.readPartition(t, who, url, topic, p, next[p]); err == nil || off > next[p] {
				next[p] = off
			}
		}
	}
}

// check reads partitions 0..parts-1 of topic on the node at url from
// offset 0 and checks the history: every acknowledged record is read at
// the place of its ack, and every observation is consistent (observe).
func (h *history) check(t *testing.T, who, url, topic string, parts int32) {
	t.Helper()
	// A node learns of other nodes' commits through a notification or its
	// poll: read until it shows every acknowledged offset (for 20 s), so
	// that a view a moment behind is not taken for a lost record.
	h.mu.Lock()
	need := make([]int64, parts)
	for _, a := range h.acked {
		if a.partition >= 0 && a.partition < parts && a.offset+1 > need[a.partition] {
			need[a.partition] = a.offset + 1
		}
	}
	h.mu.Unlock()
	total := 0
	for p := range parts {
		deadline := time.Now().Add(20 * time.Second)
		for {
			end, err := h.readPartition(t, who, url, topic, p, 0)
			if err != nil {
				t.Fatalf("%s: read %s/%d: %v", who, topic, p, err)
			}
			if end >= need[p] || time.Now().After(deadline) {
				total += int(end)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	lost := 0
	for v, a := range h.acked {
		if got, ok := h.seenAt[v]; !ok || got != a {
			lost++
			if lost <= 5 {
				t.Errorf("%s: %q acknowledged at %d/%d, read at %v (read: %v)", who, v, a.partition, a.offset, got, ok)
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%s: %d acknowledged records lost or moved", who, lost)
	}
	inFlight := 0
	for v := range h.seenAt {
		if _, ok := h.acked[v]; !ok {
			inFlight++
		}
	}
	h.logf("check %s: %d records, %d sent, %d acked, %d failed, %d read that were in flight", who, total, len(h.sent), len(h.acked), len(h.failed), inFlight)
	t.Logf("%s: %d records in %s; %d sent, %d acknowledged, %d failed requests' records, %d in flight and committed, %d reads observed",
		who, total, topic, len(h.sent), len(h.acked), len(h.failed), inFlight, h.reads)
}
