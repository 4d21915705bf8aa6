package server

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/internal/pgtest"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// faultLoad is producers and a reader on a three-node shared-log cluster's
// topic "hist" (two partitions), recording a history.
type faultLoad struct {
	h    *history
	stop chan struct{}
	wg   sync.WaitGroup
}

// startLoad starts, per node, one producer per partition, and a reader
// following both partitions on the first node.
func startLoad(t *testing.T, h *history, nodes ...*sharedNode) *faultLoad {
	l := &faultLoad{h: h, stop: make(chan struct{})}
	for _, n := range nodes {
		for p := range int32(2) {
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				h.produceLoop(n.url, "hist", fmt.Sprintf("%s-p%d", n.s.cfg.NodeID, p), p, l.stop, false)
			}()
		}
	}
	l.wg.Add(1)
	go func() { defer l.wg.Done(); h.tail(t, nodes[0].s.cfg.NodeID+" (tail)", nodes[0].url, "hist", 2, l.stop) }()
	return l
}

// end stops the load and waits for it.
func (l *faultLoad) end() {
	close(l.stop)
	l.wg.Wait()
}

// waitAcks waits until n more records than now are acknowledged, or 30 s.
func (h *history) waitAcks(t *testing.T, n int, what string) {
	t.Helper()
	h.mu.Lock()
	want := len(h.acked) + n
	h.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		h.mu.Lock()
		got := len(h.acked)
		h.mu.Unlock()
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d records acknowledged in 30 s, want %d more", what, got-want+n, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// PostgreSQL killed (SIGKILL) and restarted three times under load on a
// three-node shared-log cluster, with synchronous_commit on (what the
// shared log requires of production: an acknowledged commit is in the
// WAL): produce requests fail or wait during each gap, and the nodes take
// load again after it; no acknowledged record is lost or moved, nothing is
// read twice or that was not sent, on any node. A schema registered on one
// node after the restarts reaches another (its listener reconnected).
func TestClusterSharedPostgresRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("PostgreSQL restarts under load: not in -short")
	}
	srv := pgtest.NewServer(t, pgtest.Options{Settings: map[string]string{"synchronous_commit": "on"}})
	meta := srv.URL("postgres")
	objects := "file://" + t.TempDir()
	a := startSharedNode(t, meta, objects, "a")
	b := startSharedNode(t, meta, objects, "b")
	c := startSharedNode(t, meta, objects, "c")
	ctx := context.Background()
	if _, err := a.topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "hist", Partitions: 2})); err != nil {
		t.Fatal(err)
	}
	h := newHistory(t)
	load := startLoad(t, h, b, a, c)
	for i := range 3 {
		h.waitAcks(t, 60, fmt.Sprintf("before restart %d", i))
		h.mu.Lock()
		h.logf("kill -9 PostgreSQL (%d)", i)
		h.mu.Unlock()
		srv.Kill()
		time.Sleep(300 * time.Millisecond)
		if err := srv.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		h.mu.Lock()
		h.logf("PostgreSQL restarted (%d)", i)
		h.mu.Unlock()
	}
	// Every node takes load again.
	h.waitAcks(t, 60, "after the restarts")
	load.end()
	if t.Failed() {
		return
	}
	for _, n := range []*sharedNode{a, b, c} {
		h.check(t, "node "+n.s.cfg.NodeID, n.url, "hist", 2)
	}
	for _, n := range []*sharedNode{a, b, c} {
		h.mu.Lock()
		got := 0
		for v := range h.acked {
			if len(v) > 2 && v[:2] == n.s.cfg.NodeID+"-" {
				got++
			}
		}
		h.mu.Unlock()
		if got == 0 {
			t.Errorf("node %s acknowledged nothing", n.s.cfg.NodeID)
		}
	}

	// The registry's listeners reconnected: a schema registered on C is
	// enforced on A.
	var reg struct{ ID int }
	if code := restCall(t, "POST", c.url+"/subjects/after-value/versions", `{"schema":"\"string\""}`, &reg); code != 200 {
		t.Fatalf("register after-value on c: HTTP %d", code)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var got struct{ ID int }
		if code := restCall(t, "GET", a.url+"/subjects/after-value/versions/latest", "", &got); code == 200 && got.ID == reg.ID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("schema %d registered on c is not on a after 20 s", reg.ID)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The connection between a node and PostgreSQL cut right after a
// sharedlog_commit call was sent, under load, again and again: the node
// must answer its produce requests with the offsets that commit stored
// (found by calling it again), never fail them and never commit their
// object a second time. The history (sends, acks, reads on both nodes)
// is checked: nothing failed, nothing lost, moved or duplicated.
func TestClusterSharedCommitCut(t *testing.T) {
	meta := pgtest.DB(t)
	u, err := url.Parse(meta)
	if err != nil {
		t.Fatal(err)
	}
	proxy := pgtest.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	objects := "file://" + t.TempDir()
	a := startSharedNode(t, u.String(), objects, "a") // through the proxy
	b := startSharedNode(t, meta, objects, "b")
	ctx := context.Background()
	if _, err := b.topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "hist", Partitions: 2})); err != nil {
		t.Fatal(err)
	}
	h := newHistory(t)
	load := startLoad(t, h, b, a)
	const cuts = 5
	for i := range cuts {
		h.waitAcks(t, 20, fmt.Sprintf("before cut %d", i))
		proxy.CutAfter("sharedlog_commit(", 1)
		deadline := time.Now().Add(20 * time.Second)
		for proxy.Cuts() <= i {
			if time.Now().After(deadline) {
				t.Fatalf("cut %d: no sharedlog_commit call from node a in 20 s", i)
			}
			time.Sleep(5 * time.Millisecond)
		}
		h.mu.Lock()
		h.logf("connection of node a cut after a sharedlog_commit call (%d)", i)
		h.mu.Unlock()
	}
	h.waitAcks(t, 20, "after the cuts")
	load.end()
	if t.Failed() {
		return
	}
	h.mu.Lock()
	failed := len(h.failed)
	var some []string
	for v, err := range h.failed {
		if len(some) < 3 {
			some = append(some, v+": "+err)
		}
	}
	h.mu.Unlock()
	if failed > 0 {
		t.Fatalf("%d records failed; a commit whose answer was lost must be answered by calling it again: %v", failed, some)
	}
	for _, n := range []*sharedNode{a, b} {
		h.check(t, "node "+n.s.cfg.NodeID, n.url, "hist", 2)
	}
}

// readCompacted reads partition 0 of a compacted topic on the node at url
// from offset 0 to its high watermark, observing each record; offsets must
// ascend (compaction leaves gaps). It returns what it read by offset and
// the offset after the last record.
func (h *history) readCompacted(t *testing.T, who, url, topic string) (map[int64]string, int64, error) {
	cl := brokerv1connect.NewBrokerServiceClient(http.DefaultClient, url)
	seen := map[int64]string{}
	off := int64(0)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := cl.Fetch(ctx, connect.NewRequest(&brokerv1.FetchRequest{Topic: topic, Partition: 0, Offset: off, MaxRecords: 5000}))
		cancel()
		if err != nil {
			return seen, off, err
		}
		for _, r := range resp.Msg.Records {
			if r.Offset < off {
				t.Errorf("%s: %s/0: offset %d after %d", who, topic, r.Offset, off-1)
				return seen, off, nil
			}
			h.observe(t, who, 0, r.Offset, string(r.Value))
			seen[r.Offset] = string(r.Value)
			off = r.Offset + 1
		}
		if off >= resp.Msg.HighWatermark || len(resp.Msg.Records) == 0 {
			return seen, off, nil
		}
	}
}

// keyOfValue is the key a keyed history value was produced with.
func keyOfValue(v string) string { k, _, _ := strings.Cut(v, "/"); return k }

// Kill -9 nodes that are compacting a compacted topic under load: A and C
// (processes of their own) and B (in the test) run maintenance every 50
// ms as of an hour on, so every object is in the closed part; producers on
// every node overwrite 20 keys; a random one of A and C is killed once it
// has acknowledged some records and started again, six times. Every read
// (a reader on B reads the whole partition again and again) is a
// compacted log: offsets ascending, each value at one offset only and
// only ever sent, and a record missing below the last offset read only
// if a later record of its key exists. At the end every node serves
// exactly the latest record of each key.
func TestClusterSharedCompactionKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 of compacting nodes: not in -short")
	}
	meta := pgtest.DB(t)
	objects := "file://" + t.TempDir()
	b := startSharedNode(t, meta, objects, "b")
	ctx := context.Background()
	if _, err := b.topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "ckv", Partitions: 1,
		Configs: map[string]string{"cleanup.policy": "compact"}})); err != nil {
		t.Fatal(err)
	}
	h := newHistory(t)
	h.keys = 20
	type helper struct {
		id  string
		cmd *exec.Cmd
		url string
	}
	helpers := []*helper{{id: "a"}, {id: "c"}}
	for _, n := range helpers {
		n.cmd, n.url = startSharedHelper(t, meta, objects, n.id, "maintain")
	}
	type pass struct {
		seen  map[int64]string
		reach int64
	}
	var passes []pass
	bg := make(chan struct{})
	var bgWG sync.WaitGroup
	bgWG.Add(2)
	go func() { // maintenance on B
		defer bgWG.Done()
		for {
			select {
			case <-bg:
				return
			case <-time.After(50 * time.Millisecond):
			}
			_ = b.s.Broker.RunMaintenance(time.Now().Add(time.Hour))
		}
	}()
	go func() { // whole-partition reads on B
		defer bgWG.Done()
		for {
			select {
			case <-bg:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if seen, reach, err := h.readCompacted(t, "b (reader)", b.url, "ckv"); err == nil {
				passes = append(passes, pass{seen, reach})
			}
		}
	}()
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 61))
	t.Logf("seed %d", seed)
	for round := range 6 {
		vi := rng.IntN(len(helpers))
		victim, other := helpers[vi], helpers[1-vi]
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for g, url := range []string{victim.url, victim.url, other.url, b.url} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h.produceLoop(url, "ckv", fmt.Sprintf("r%d-g%d", round, g), 0, stop, false)
			}()
		}
		h.waitAcks(t, 40, fmt.Sprintf("round %d", round))
		h.mu.Lock()
		h.logf("kill -9 node %s (round %d)", victim.id, round)
		h.mu.Unlock()
		if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		victim.cmd.Wait()
		time.Sleep(100 * time.Millisecond)
		close(stop)
		wg.Wait()
		victim.cmd, victim.url = startSharedHelper(t, meta, objects, victim.id, "maintain")
	}
	close(bg)
	bgWG.Wait()
	if t.Failed() {
		return
	}
	if err := b.s.Broker.RunMaintenance(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	// latest is, per key, the largest offset of a record known to be
	// committed (acknowledged, or read).
	latest := func() map[string]int64 {
		h.mu.Lock()
		defer h.mu.Unlock()
		m := map[string]int64{}
		add := func(v string, off int64) {
			if k := keyOfValue(v); off >= m[k] {
				m[k] = off
			}
		}
		for v, a := range h.acked {
			add(v, a.offset)
		}
		for v, a := range h.seenAt {
			add(v, a.offset)
		}
		return m
	}
	for _, n := range []struct{ id, url string }{{"b", b.url}, {"a", helpers[0].url}, {"c", helpers[1].url}} {
		deadline := time.Now().Add(20 * time.Second)
		for {
			seen, _, err := h.readCompacted(t, "node "+n.id, n.url, "ckv")
			want := latest()
			var bad []string
			if err != nil {
				bad = append(bad, err.Error())
			}
			got := map[string]int64{}
			for off, v := range seen {
				k := keyOfValue(v)
				if prev, ok := got[k]; ok {
					bad = append(bad, fmt.Sprintf("%s at %d and %d", k, prev, off))
				}
				got[k] = off
				if want[k] != off {
					bad = append(bad, fmt.Sprintf("%s at %d, its latest is at %d", k, off, want[k]))
				}
			}
			for k, off := range want {
				if _, ok := got[k]; !ok {
					bad = append(bad, fmt.Sprintf("%s (latest at %d) missing", k, off))
				}
			}
			if len(bad) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %s after the final compaction: %v", n.id, bad)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Every read pass during the run: a record missing below its reach
	// had a later record of its key.
	want := latest()
	h.mu.Lock()
	holds := maps.Clone(h.holds)
	for v, a := range h.acked {
		holds[a] = v
	}
	h.mu.Unlock()
	for i, p := range passes {
		for at, v := range holds {
			if at.offset < p.reach && p.seen[at.offset] == "" && want[keyOfValue(v)] == at.offset {
				t.Fatalf("read pass %d (to offset %d): %q at %d, the latest of its key, is missing", i, p.reach, v, at.offset)
			}
		}
	}
	thinned := 0
	for _, p := range passes {
		if int64(len(p.seen)) < p.reach {
			thinned++
		}
	}
	if thinned == 0 {
		t.Fatal("no read pass saw a compacted log: nothing was compacted during the kills")
	}
	h.mu.Lock()
	t.Logf("%d sent, %d acknowledged, %d failed, %d keys; %d read passes during the kills, %d of them over compacted data",
		len(h.sent), len(h.acked), len(h.failed), len(want), len(passes), thinned)
	h.mu.Unlock()
}
