package shared

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/internal/log"
	"github.com/sluicehq/sluice/internal/pgtest"
	"github.com/sluicehq/sluice/objstore"
)

// history records what writers were told, to check against what is read.
type history struct {
	mu     sync.Mutex
	acked  map[string]int64 // value -> offset
	failed map[string]error
	// unknown are failures whose outcome is unknown (ErrOutcomeUnknown):
	// they may be read, once, or not at all.
	unknown map[string]bool
}

func newHistory() *history {
	return &history{acked: map[string]int64{}, failed: map[string]error{}, unknown: map[string]bool{}}
}

// write appends n single-record batches with distinct values from each of
// writers goroutines on p, recording each outcome.
func (h *history) write(t *testing.T, p *Partition, who string, writers, n int) {
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				v := fmt.Sprintf("%s-%d-%d", who, w, i)
				base, err := p.Append(context.Background(), []log.Record{{Value: []byte(v), Timestamp: 1}})
				h.mu.Lock()
				if err != nil {
					if !errors.Is(err, ErrUnavailable) {
						t.Errorf("append %s: %v, want an ErrUnavailable", v, err)
					}
					h.failed[v] = err
					if errors.Is(err, ErrOutcomeUnknown) {
						h.unknown[v] = true
					}
				} else {
					if _, ok := h.acked[v]; ok {
						t.Errorf("%s acked twice", v)
					}
					h.acked[v] = base
				}
				h.mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// check reads p from its start to its high watermark and checks the
// history: offsets dense, every acked record at its offset, nothing read
// that was not acked (failed appends were never committed) and nothing
// twice.
func (h *history) check(t *testing.T, p *Partition) {
	t.Helper()
	if err := p.refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := p.Read(p.LogStartOffset(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := map[string]bool{}
	for i, r := range got {
		if r.Offset != p.LogStartOffset()+int64(i) {
			t.Fatalf("record %d has offset %d: offsets are not dense", i, r.Offset)
		}
		v := string(r.Value)
		if seen[v] {
			t.Fatalf("%s read twice (again at offset %d)", v, r.Offset)
		}
		seen[v] = true
		off, ok := h.acked[v]
		if !ok && h.unknown[v] {
			continue
		}
		if !ok {
			t.Fatalf("offset %d holds %s, which was never acked (failed: %v)", r.Offset, v, h.failed[v])
		}
		if off != r.Offset {
			t.Fatalf("%s acked at offset %d, read at %d", v, off, r.Offset)
		}
	}
	for v, off := range h.acked {
		if !seen[v] {
			t.Fatalf("%s acked at offset %d is missing", v, off)
		}
	}
	t.Logf("history: %d acked, %d failed (%d with unknown outcome), %d read", len(h.acked), len(h.failed), len(h.unknown), len(got))
}

func TestObjectStoreFaults(t *testing.T) {
	c := newCluster(t)
	faulty := objstore.NewFaulty(c.dir, 1)
	a := c.node("a", func(cfg *Config) {
		cfg.Objects = faulty
		cfg.PutTimeout = 300 * time.Millisecond
		cfg.CommitTimeout = 2 * time.Second
		cfg.OrphanAge = 3 * time.Second
	})
	reader := c.node("r", nil)
	pa := openPart(t, a, "faults", 0)
	pr := openPart(t, reader, "faults", 0)
	h := newHistory()

	// Errors and lost responses: retried within the PUT deadline.
	faulty.Set(objstore.OpPut, objstore.Fault{ErrorRate: 0.3, LostResponseRate: 0.2})
	h.write(t, pa, "errors", 4, 25)
	// An outage longer than the deadline: appends fail, nothing is acked.
	faulty.Set(objstore.OpPut, objstore.Fault{Stall: true})
	h.write(t, pa, "outage", 2, 3)
	// Every PUT applied but its answer lost: objects in the store that
	// nothing refers to (orphans).
	faulty.Set(objstore.OpPut, objstore.Fault{LostResponseRate: 1})
	h.write(t, pa, "lost", 2, 2)
	// Slow, then healed.
	faulty.Set(objstore.OpPut, objstore.Fault{Latency: objstore.LatencyPercentiles(20*time.Millisecond, 100*time.Millisecond, 2)})
	h.write(t, pa, "slow", 2, 10)
	faulty.Heal()
	h.write(t, pa, "healed", 2, 10)

	if len(h.failed) == 0 || len(h.acked) == 0 {
		t.Fatalf("%d acked, %d failed: the faults did not bite", len(h.acked), len(h.failed))
	}
	waitHW(t, pr, pa.HighWatermark())
	h.check(t, pr) // on the other node
	h.check(t, pa)

	// Orphans are collected once older than OrphanAge (by the node's
	// background collector or this call); committed objects stay. The
	// lost answers left some: objects in the store whose upload rows
	// remain (the key pool's rows are no objects' and do not count).
	objs, err := c.dir.List(context.Background(), "wal/")
	if err != nil {
		t.Fatal(err)
	}
	stored := make([]string, len(objs))
	for i, o := range objs {
		stored[i] = o.Key
	}
	var uploads int
	if err := c.pool.QueryRow(context.Background(), `SELECT count(*) FROM sharedlog_uploads WHERE key = ANY($1)`, stored).Scan(&uploads); err != nil || uploads == 0 {
		t.Fatalf("%d upload rows of stored objects after failed uploads (err %v), want some orphans", uploads, err)
	}
	time.Sleep(3100 * time.Millisecond)
	if _, _, err := a.CollectGarbage(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.pool.QueryRow(context.Background(), `SELECT count(*) FROM sharedlog_uploads`).Scan(&uploads); err != nil || uploads != 0 {
		t.Fatalf("%d upload rows left (err %v)", uploads, err)
	}
	listed, err := c.dir.List(context.Background(), "wal/")
	if err != nil {
		t.Fatal(err)
	}
	var committed int
	if err := c.pool.QueryRow(context.Background(), `SELECT count(*) FROM sharedlog_objects`).Scan(&committed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != committed {
		t.Fatalf("%d objects in the store, %d committed: orphans left behind", len(listed), committed)
	}
	reader.cache = newCache(1<<20, 4096) // read from the store again, not the cache
	h.check(t, pr)
}

func TestCommitConnectionCut(t *testing.T) {
	c := newCluster(t)
	u, err := url.Parse(c.url)
	if err != nil {
		t.Fatal(err)
	}
	proxy := pgtest.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	pool := openPool(t, u.String())
	a := c.node("a", func(cfg *Config) { cfg.Pool = pool; cfg.CommitTimeout = 10 * time.Second })
	b := c.node("b", nil)
	pa, pb := openPart(t, a, "cut", 0), openPart(t, b, "cut", 0)
	h := newHistory()
	for round := range 6 {
		if round%2 == 0 {
			proxy.CutAfter("sharedlog_commit(", 1)
		} else {
			proxy.CutBefore("sharedlog_commit(", 1)
		}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); h.write(t, pa, fmt.Sprintf("a%d", round), 3, 4) }()
		go func() { defer wg.Done(); h.write(t, pb, fmt.Sprintf("b%d", round), 1, 4) }()
		wg.Wait()
	}
	if len(h.failed) != 0 {
		t.Fatalf("%d appends failed; a cut connection must be answered by retrying the commit: %v", len(h.failed), h.failed)
	}
	st := a.Stats()
	if proxy.Cuts() != 6 || st.CommitReplays < 1 {
		t.Fatalf("%d cuts, %d commits answered by replay: the test did not cut during COMMIT", proxy.Cuts(), st.CommitReplays)
	}
	t.Logf("%d cuts, %d commit retries, %d answered with the offsets stored before the cut", proxy.Cuts(), st.CommitRetry, st.CommitReplays)
	waitHW(t, pb, pa.HighWatermark())
	h.check(t, pa)
	h.check(t, pb)
}

func TestBackPressure(t *testing.T) {
	c := newCluster(t)
	faulty := objstore.NewFaulty(c.dir, 1)
	a := c.node("a", func(cfg *Config) {
		cfg.Objects = faulty
		cfg.MaxObjectBytes = 64 << 10
		cfg.MaxBufferedBytes = 64 << 10
		cfg.PutTimeout = 500 * time.Millisecond
		cfg.OrphanAge = time.Minute
	})
	p := openPart(t, a, "bp", 0)
	big := []log.Record{{Value: bytes.Repeat([]byte("x"), 40<<10), Timestamp: 1}}
	faulty.Set(objstore.OpPut, objstore.Fault{Stall: true})
	b1, err := log.EncodeBatch(big, 1, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	w1, err := p.EnqueueBatch(b1)
	if err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() {
		b2, _ := log.EncodeBatch(big, 1, 0, 0)
		w2, err := p.EnqueueBatch(b2) // waits for room: 80 KiB > 64 KiB
		if err == nil {
			_, err = w2.Wait(context.Background())
		}
		second <- err
	}()
	select {
	case err := <-second:
		t.Fatalf("second append returned (%v) while the buffer was full", err)
	case <-time.After(100 * time.Millisecond):
	}
	faulty.Heal()
	if _, err := w1.Wait(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("first append after a stalled PUT: %v, want ErrUnavailable", err)
	}
	if err := <-second; err != nil {
		t.Fatalf("second append after the store healed: %v", err)
	}
	if hw := p.HighWatermark(); hw != 1 {
		t.Fatalf("high watermark %d, want 1 (only the second append committed)", hw)
	}
}

// PostgreSQL killed (SIGKILL) and restarted three times under load:
// appends wait and retry, none acked is lost or moved, nothing unacked is
// served, and the other node catches up by its listener's reconnection.
func TestPostgresRestart(t *testing.T) {
	srv, c := newKillableCluster(t)
	a := c.node("a", func(cfg *Config) { cfg.CommitTimeout = 20 * time.Second })
	b := c.node("b", func(cfg *Config) { cfg.Pool = openPool(t, c.url) })
	pa, pb := openPart(t, a, "restart", 0), openPart(t, b, "restart", 0)
	h := newHistory()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for round := 0; ; round++ {
			select {
			case <-stop:
				return
			default:
			}
			h.write(t, pa, fmt.Sprintf("r%d", round), 4, 5)
		}
	}()
	for range 3 {
		time.Sleep(300 * time.Millisecond)
		srv.Kill()
		time.Sleep(200 * time.Millisecond)
		if err := srv.Restart(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if len(h.acked) == 0 {
		t.Fatal("nothing acked")
	}
	if err := pa.refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitHW(t, pb, pa.HighWatermark())
	h.check(t, pa)
	h.check(t, pb)
	t.Logf("node a: %d commit retries, %d answered by replay", a.Stats().CommitRetry, a.Stats().CommitReplays)
}
