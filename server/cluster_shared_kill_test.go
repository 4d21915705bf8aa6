package server

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
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

// sharedNodeEnv makes the test binary, re-executed, run a cluster node
// with the shared log: "META|OBJECTS|DATADIR|NODEID". It prints its URL and
// runs until killed.
const sharedNodeEnv = "SLUICE_SERVER_TEST_SHARED_NODE"

// TestHelperSharedNode is not a test: the kill -9 test runs it in another
// process (sharedNodeEnv).
func TestHelperSharedNode(t *testing.T) {
	spec := os.Getenv(sharedNodeEnv)
	if spec == "" {
		t.Skip("helper process for TestClusterSharedLogKill9")
	}
	f := strings.Split(spec, "|")
	if len(f) != 4 {
		fmt.Println("error: bad", sharedNodeEnv, spec)
		os.Exit(1)
	}
	_, url, _, err := Start(context.Background(), Config{Meta: f[0], Objects: f[1], DataDir: f[2], NodeID: f[3], Fsync: neverFsync(t)}, "127.0.0.1:0")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println(url)
	select {}
}

// startSharedHelper runs a shared-log node in another process and returns
// it (to kill) and its URL.
func startSharedHelper(t *testing.T, meta, objects, id string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSharedNode$")
	cmd.Env = append(os.Environ(), sharedNodeEnv+"="+strings.Join([]string{meta, objects, t.TempDir(), id}, "|"))
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

// ack is where an acknowledged record is.
type ack struct {
	partition int32
	offset    int64
}

// history is what producers sent and what was acknowledged, by value.
type history struct {
	mu    sync.Mutex
	sent  map[string]bool
	acked map[string]ack
}

// produceLoop produces requests of 1 to 4 records of unique values to
// topic through url until stop is closed or a request fails, recording
// sends and acks; it returns how many records were acked.
func (h *history) produceLoop(url, topic, prefix string, part int32, stop <-chan struct{}) int {
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
		for j := range 1 + i%4 {
			v := fmt.Sprintf("%s-%05d-%d", prefix, i, j)
			vals = append(vals, v)
			req.Records = append(req.Records, &brokerv1.ProduceRecord{Value: []byte(v), Partition: &part})
		}
		h.mu.Lock()
		for _, v := range vals {
			h.sent[v] = true
		}
		h.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := cl.Produce(ctx, connect.NewRequest(req))
		cancel()
		if err != nil {
			return n
		}
		h.mu.Lock()
		for k, r := range resp.Msg.Results {
			h.acked[vals[k]] = ack{r.Partition, r.Offset}
		}
		h.mu.Unlock()
		n += len(vals)
	}
}

// Kill -9 one node of a shared-log cluster under load, round after round:
// every record it (or the surviving node) acknowledged is read on the
// survivor at the offset of its ack, no record is read twice or at a
// second offset, every record read was sent, and offsets stay dense.
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
	h := &history{sent: map[string]bool{}, acked: map[string]ack{}}
	const rounds = 5
	for round := range rounds {
		id := fmt.Sprintf("a%d", round)
		cmd, urlA := startSharedHelper(t, meta, objects, id)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		ackedOnA := make([]int, 3)
		for g := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ackedOnA[g] = h.produceLoop(urlA, "hist", fmt.Sprintf("r%d-a-g%d", round, g), int32(g%2), stop)
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.produceLoop(b.url, "hist", fmt.Sprintf("r%d-b", round), 1, stop)
		}()
		// Kill once A has acknowledged some records, while requests are
		// in flight.
		deadline := time.Now().Add(20 * time.Second)
		for {
			h.mu.Lock()
			n := 0
			for v := range h.acked {
				if strings.HasPrefix(v, fmt.Sprintf("r%d-a-", round)) {
					n++
				}
			}
			h.mu.Unlock()
			if n >= 40 || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		time.Sleep(100 * time.Millisecond) // B keeps producing after A died
		close(stop)
		wg.Wait()
		if ackedOnA[0]+ackedOnA[1]+ackedOnA[2] == 0 {
			t.Fatalf("round %d: node %s acknowledged nothing before it was killed", round, id)
		}
		checkHistory(t, b, h, round)
	}
}

// checkHistory reads both partitions of hist on n and checks them against
// h.
func checkHistory(t *testing.T, n *sharedNode, h *history, round int) {
	t.Helper()
	// A commit sent just before the kill may still land; wait it out.
	time.Sleep(500 * time.Millisecond)
	h.mu.Lock()
	defer h.mu.Unlock()
	read := map[string]ack{}
	for p := range int32(2) {
		var off int64
		for {
			resp, err := n.broker.Fetch(context.Background(), connect.NewRequest(&brokerv1.FetchRequest{
				Topic: "hist", Partition: p, Offset: off, MaxRecords: 5000}))
			if err != nil {
				t.Fatalf("round %d: fetch hist/%d at %d: %v", round, p, off, err)
			}
			for _, r := range resp.Msg.Records {
				v := string(r.Value)
				if r.Offset != off {
					t.Fatalf("round %d: hist/%d: offset %d where %d was next (offsets not dense)", round, p, r.Offset, off)
				}
				if prev, ok := read[v]; ok {
					t.Fatalf("round %d: %q read at %d/%d and %d/%d", round, v, prev.partition, prev.offset, p, off)
				}
				if !h.sent[v] {
					t.Fatalf("round %d: %q read at %d/%d was never sent", round, v, p, off)
				}
				read[v] = ack{p, off}
				off++
			}
			if off >= resp.Msg.HighWatermark {
				break
			}
		}
	}
	lost := 0
	for v, a := range h.acked {
		if got, ok := read[v]; !ok || got != a {
			lost++
			if lost <= 5 {
				t.Errorf("round %d: %q acknowledged at %d/%d, read at %v (present %v)", round, v, a.partition, a.offset, got, ok)
			}
		}
	}
	if lost > 0 {
		t.Fatalf("round %d: %d acknowledged records lost or moved", round, lost)
	}
	t.Logf("round %d: %d sent, %d acknowledged, %d read", round, len(h.sent), len(h.acked), len(read))
}
