package server

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/internal/pgtest"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// sharedNodeEnv makes the test binary, re-executed, run a cluster node
// with the shared log: "META|OBJECTS|DATADIR|NODEID", then options:
// "maintain" runs the broker's maintenance (retention, merges, key
// compaction) as of an hour on every 50 ms; "kafka" starts a Kafka
// listener, "kafka=HOST:PORT" one at that address (a node restarted where
// it was, as in production: the other nodes' directories may name its old
// address for a few seconds). It prints its URL (and the listener's address after a space)
// and runs until killed.
const sharedNodeEnv = "SLUICE_SERVER_TEST_SHARED_NODE"

// TestHelperSharedNode is not a test: the kill -9 test runs it in another
// process (sharedNodeEnv).
func TestHelperSharedNode(t *testing.T) {
	spec := os.Getenv(sharedNodeEnv)
	if spec == "" {
		t.Skip("helper process for TestClusterSharedLogKill9")
	}
	f := strings.Split(spec, "|")
	if len(f) < 4 {
		fmt.Println("error: bad", sharedNodeEnv, spec)
		os.Exit(1)
	}
	cfg := Config{Meta: f[0], Objects: f[1], DataDir: f[2], NodeID: f[3], Fsync: neverFsync(t)}
	maintain := false
	for _, opt := range f[4:] {
		switch opt {
		case "maintain":
			maintain = true
		case "kafka":
			cfg.KafkaAddr = "127.0.0.1:0"
		default:
			if addr, ok := strings.CutPrefix(opt, "kafka="); ok {
				cfg.KafkaAddr = addr
				continue
			}
			fmt.Println("error: bad", sharedNodeEnv, "option", opt)
			os.Exit(1)
		}
	}
	s, url, _, err := Start(context.Background(), cfg, "127.0.0.1:0")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	if cfg.KafkaAddr != "" {
		url += " " + s.KafkaAddr()
	}
	fmt.Println(url)
	for maintain {
		time.Sleep(50 * time.Millisecond)
		_ = s.Broker.RunMaintenance(time.Now().Add(time.Hour)) // errors: the next pass tries again
	}
	select {}
}

// startSharedHelper runs a shared-log node in another process and returns
// it (to kill) and its URL; extra is appended to its spec (sharedNodeEnv).
func startSharedHelper(t *testing.T, meta, objects, id string, extra ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSharedNode$")
	cmd.Env = append(os.Environ(), sharedNodeEnv+"="+strings.Join(append([]string{meta, objects, t.TempDir(), id}, extra...), "|"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "http://") {
		t.Fatalf("node %s said %q, %v", id, line, err)
	}
	return cmd, strings.TrimSpace(line)
}

// Kill -9 one node of a three-node shared-log cluster under load, round
// after round: nodes A and C run in processes of their own, B in the
// test; each round four producers spread over the nodes (two on the
// victim), a reader follows both partitions on B throughout, a random one
// of A and C is killed once it has acknowledged some records (requests in
// flight) and started again under its node id. The history (sends, acks,
// failures, every read) is checked after each round on B and at the end on
// every node: no acknowledged record lost or moved, none read twice or at
// a second offset, nothing read that was not sent, offsets dense.
func TestClusterSharedLogKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 rounds: not in -short")
	}
	meta := pgtest.DB(t)
	objects := "file://" + t.TempDir()
	b := startSharedNode(t, meta, objects, "b")
	ctx := context.Background()
	if _, err := b.topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "hist", Partitions: 2})); err != nil {
		t.Fatal(err)
	}
	h := newHistory(t)
	type helper struct {
		id  string
		cmd *exec.Cmd
		url string
	}
	helpers := []*helper{{id: "a"}, {id: "c"}}
	for _, n := range helpers {
		n.cmd, n.url = startSharedHelper(t, meta, objects, n.id)
	}
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 16))
	t.Logf("seed %d", seed)
	stopTail := make(chan struct{})
	var tailWG sync.WaitGroup
	tailWG.Add(1)
	go func() { defer tailWG.Done(); h.tail(t, "b (tail)", b.url, "hist", 2, stopTail) }()
	defer func() { close(stopTail); tailWG.Wait() }()

	const rounds = 20
	for round := range rounds {
		vi := rng.IntN(len(helpers))
		victim, other := helpers[vi], helpers[1-vi]
		prefix := fmt.Sprintf("r%02d-%s-", round, victim.id)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var onVictim atomic.Int64
		for g := range 4 {
			url, who := victim.url, victim.id
			switch g {
			case 2:
				url, who = other.url, other.id
			case 3:
				url, who = b.url, "b"
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := h.produceLoop(url, "hist", fmt.Sprintf("r%02d-%s-g%d", round, who, g), int32(g%2), stop, false)
				if who == victim.id {
					onVictim.Add(int64(n))
				}
			}()
		}
		// Kill once the victim has acknowledged some records, while
		// requests are in flight.
		deadline := time.Now().Add(20 * time.Second)
		for {
			h.mu.Lock()
			n := 0
			for v := range h.acked {
				if strings.HasPrefix(v, prefix) {
					n++
				}
			}
			h.mu.Unlock()
			if n >= 30 || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		h.mu.Lock()
		h.logf("kill -9 node %s (round %d)", victim.id, round)
		h.mu.Unlock()
		if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		victim.cmd.Wait()
		time.Sleep(100 * time.Millisecond) // the others keep producing after the victim died
		close(stop)
		wg.Wait()
		if onVictim.Load() == 0 {
			t.Fatalf("round %d: node %s acknowledged nothing before it was killed", round, victim.id)
		}
		victim.cmd, victim.url = startSharedHelper(t, meta, objects, victim.id)
		h.check(t, fmt.Sprintf("round %d: b", round), b.url, "hist", 2)
		if t.Failed() {
			return
		}
	}
	for _, n := range helpers {
		h.check(t, "node "+n.id, n.url, "hist", 2)
	}
}
