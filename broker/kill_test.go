package broker_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/internal/metadb"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// helperEnv names the data directory when the test binary runs as a broker
// server for TestKill9KeepsAcknowledgedRecords.
const helperEnv = "SLUICE_BROKER_HELPER_DIR"

// TestHelperBrokerServer is not a test: re-executed by the kill -9 test
// with helperEnv set, it serves a broker (fsync always) on 127.0.0.1, prints
// its address on stdout and runs until killed.
func TestHelperBrokerServer(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("helper process for TestKill9KeepsAcknowledgedRecords")
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	db, err := metadb.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	b, err := broker.Open(context.Background(), broker.Config{DB: db, DataDir: dir, Logger: logger})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	b.Mount(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	fmt.Printf("http://%s\n", ln.Addr())
	err = (&http.Server{Handler: mux, Protocols: &p}).Serve(ln)
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

// startHelper runs the test binary as a broker server on dir and returns
// its base URL.
func startHelper(t *testing.T, dir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperBrokerServer$", "-test.v=false")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	cmd.Stderr = testWriter{t}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("helper server did not print its address: %v", err)
	}
	return cmd, line[:len(line)-1]
}

type acked struct {
	partition int32
	offset    int64
	value     []byte
}

// TestKill9KeepsAcknowledgedRecords kills the server with SIGKILL while
// producers are running, restarts it on the same data directory and checks
// that every acknowledged record is there, byte for byte, at its offset.
func TestKill9KeepsAcknowledgedRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: re-executes the test binary as a server")
	}
	dir := t.TempDir()
	cmd, url := startHelper(t, dir)
	hc := h2cClient()
	topics := brokerv1connect.NewTopicServiceClient(hc, url)
	if _, err := topics.CreateTopic(ctxT(t), connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "durable", Partitions: 4})); err != nil {
		t.Fatal(err)
	}
	client := brokerv1connect.NewBrokerServiceClient(hc, url)

	const producers, batch, killAfter = 4, 10, 1500
	var (
		mu     sync.Mutex
		acks   []acked
		killed = make(chan struct{})
		once   sync.Once
		wg     sync.WaitGroup
	)
	for p := range producers {
		wg.Go(func() {
			for seq := 0; ; seq++ {
				var recs []*brokerv1.ProduceRecord
				for i := range batch {
					v := fmt.Appendf(nil, "producer %d request %d record %d ", p, seq, i)
					v = append(v, bytes.Repeat([]byte{byte(seq + i)}, (seq*7+i*13)%300)...)
					r := &brokerv1.ProduceRecord{Value: v}
					if i%3 == 0 {
						r.Key = fmt.Appendf(nil, "key-%d", (seq+i)%17)
					}
					recs = append(recs, r)
				}
				res, err := client.Produce(context.Background(), connect.NewRequest(&brokerv1.ProduceRequest{Topic: "durable", Records: recs}))
				if err != nil {
					select {
					case <-killed:
						return // expected: the server is gone
					default:
						t.Errorf("produce before the kill: %v", err)
						return
					}
				}
				mu.Lock()
				for i, r := range res.Msg.GetResults() {
					acks = append(acks, acked{r.GetPartition(), r.GetOffset(), recs[i].GetValue()})
				}
				n := len(acks)
				mu.Unlock()
				if n >= killAfter {
					once.Do(func() {
						close(killed)
						// Producers are still sending: the kill lands with
						// requests in flight.
						if err := cmd.Process.Kill(); err != nil {
							t.Errorf("kill: %v", err)
						}
					})
				}
			}
		})
	}
	wg.Wait()
	cmd.Wait()

	_, url = startHelper(t, dir)
	client = brokerv1connect.NewBrokerServiceClient(h2cClient(), url)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d records acknowledged before the kill", len(acks))
	byPart := map[int32]map[int64][]byte{}
	for p := range int32(4) {
		byPart[p] = map[int64][]byte{}
		for off := int64(0); ; {
			res, err := client.Fetch(ctxT(t), connect.NewRequest(&brokerv1.FetchRequest{Topic: "durable", Partition: p, Offset: off}))
			if err != nil {
				t.Fatal(err)
			}
			recs := res.Msg.GetRecords()
			if len(recs) == 0 {
				break
			}
			for _, r := range recs {
				byPart[p][r.GetOffset()] = r.GetValue()
			}
			off = recs[len(recs)-1].GetOffset() + 1
		}
	}
	lost := 0
	for _, a := range acks {
		got, ok := byPart[a.partition][a.offset]
		if !ok || !bytes.Equal(got, a.value) {
			if lost < 5 {
				t.Errorf("acknowledged record %d/%d: stored %q, want %q", a.partition, a.offset, got, a.value)
			}
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged records lost or changed", lost, len(acks))
	}
}
