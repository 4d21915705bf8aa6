package broker_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/internal/metadb"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

func (e *testEnv) groups() brokerv1connect.GroupServiceClient {
	return brokerv1connect.NewGroupServiceClient(h2cClient(), e.srv.URL)
}

func initProducer(t *testing.T, g brokerv1connect.GroupServiceClient, id string) (int64, int32) {
	t.Helper()
	res, err := g.InitProducer(ctxT(t), connect.NewRequest(&brokerv1.InitProducerRequest{TransactionalId: id}))
	if err != nil {
		t.Fatalf("init producer %s: %v", id, err)
	}
	return res.Msg.GetProducerId(), res.Msg.GetProducerEpoch()
}

func txnReq(id string, pid int64, epoch int32, offset int64, vals ...string) *brokerv1.ProduceAndCommitRequest {
	req := &brokerv1.ProduceAndCommitRequest{
		TransactionalId: id, ProducerId: pid, ProducerEpoch: epoch,
		Group: "app", Offsets: []*brokerv1.OffsetCommit{{Topic: "in", Partition: 0, Offset: offset}},
	}
	out := &brokerv1.TopicRecords{Topic: "out"}
	changelog := &brokerv1.TopicRecords{Topic: "changelog"}
	for _, v := range vals {
		out.Records = append(out.Records, val(v))
		changelog.Records = append(changelog.Records, kv("k-"+v, v))
	}
	req.Topics = []*brokerv1.TopicRecords{out, changelog}
	return req
}

func recValues(recs []*brokerv1.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, string(r.GetValue()))
	}
	return out
}

func committed(t *testing.T, g brokerv1connect.GroupServiceClient) int64 {
	t.Helper()
	res, err := g.FetchOffsets(ctxT(t), connect.NewRequest(&brokerv1.FetchOffsetsRequest{Group: "app"}))
	if err != nil {
		t.Fatalf("fetch offsets: %v", err)
	}
	for _, o := range res.Msg.GetOffsets() {
		if o.GetTopic() == "in" && o.GetPartition() == 0 {
			return o.GetOffset()
		}
	}
	return -1
}

func setupTxnTopics(e *testEnv) {
	e.createTopic("in", 1, nil)
	e.createTopic("out", 2, nil)
	e.createTopic("changelog", 1, map[string]string{"cleanup.policy": "compact"})
	e.produce("in", val("a"), val("b"), val("c"), val("d"))
}

func TestProduceAndCommit(t *testing.T) {
	e := newEnv(t)
	setupTxnTopics(e)
	g := e.groups()
	pid, epoch := initProducer(t, g, "app-0")

	res, err := g.ProduceAndCommit(ctxT(t), connect.NewRequest(txnReq("app-0", pid, epoch, 2, "A", "B")))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.Msg.GetTopics()); n != 2 || len(res.Msg.GetTopics()[0].GetResults()) != 2 {
		t.Fatalf("results: %v", res.Msg)
	}
	out := append(e.fetchAll("out", 0, 0), e.fetchAll("out", 1, 0)...)
	if got := strings.Join(recValues(out), ","); got != "A,B" && got != "B,A" {
		t.Fatalf("out = %q, want A and B", got)
	}
	if got := recValues(e.fetchAll("changelog", 0, 0)); strings.Join(got, ",") != "A,B" {
		t.Fatalf("changelog = %q", got)
	}
	if c := committed(t, g); c != 2 {
		t.Fatalf("committed offset %d, want 2", c)
	}

	// A refused request writes nothing and commits nothing.
	bad := txnReq("app-0", pid, epoch, 3, "C")
	bad.Topics[0].Records[0].Partition = ptr(int32(7))
	if _, err := g.ProduceAndCommit(ctxT(t), connect.NewRequest(bad)); connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "partition 7 does not exist") {
		t.Fatalf("bad partition: %v", err)
	}
	bad = txnReq("app-0", pid, epoch, 99, "C")
	if _, err := g.ProduceAndCommit(ctxT(t), connect.NewRequest(bad)); connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "offset 99 is outside 0..4") {
		t.Fatalf("bad offset: %v", err)
	}
	if c := committed(t, g); c != 2 {
		t.Fatalf("committed offset %d after refusals, want 2", c)
	}

	// A second holder fences the first: the zombie cannot commit.
	pid2, epoch2 := initProducer(t, g, "app-0")
	_, err = g.ProduceAndCommit(ctxT(t), connect.NewRequest(txnReq("app-0", pid, epoch, 3, "Z")))
	if connect.CodeOf(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "producer fenced") {
		t.Fatalf("zombie commit: %v, want FailedPrecondition producer fenced", err)
	}
	if _, err := g.ProduceAndCommit(ctxT(t), connect.NewRequest(txnReq("app-0", pid2, epoch2, 4, "C", "D"))); err != nil {
		t.Fatal(err)
	}
	if got := recValues(e.fetchAll("changelog", 0, 0)); strings.Join(got, ",") != "A,B,C,D" {
		t.Fatalf("changelog = %q", got)
	}
	if c := committed(t, g); c != 4 {
		t.Fatalf("committed offset %d, want 4", c)
	}

	// A member that does not own the partition is refused.
	m := txnReq("app-0", pid2, epoch2, 4, "E")
	m.MemberId, m.MemberEpoch = "nobody", 1
	if _, err := g.ProduceAndCommit(ctxT(t), connect.NewRequest(m)); err == nil {
		t.Fatal("a commit by an unknown member was accepted")
	}
	// An unknown transactional id.
	if _, err := g.ProduceAndCommit(ctxT(t), connect.NewRequest(txnReq("nope", 1, 0, 4, "E"))); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("unknown id: %v", err)
	}
}

// TestProduceAndCommitAbortsLeftover: a transaction an interrupted request
// left Ongoing (its batch written, nothing committed) is aborted by the
// next request: its records are never visible.
func TestProduceAndCommitAbortsLeftover(t *testing.T) {
	e := newEnv(t)
	setupTxnTopics(e)
	g := e.groups()
	pid, epoch := initProducer(t, g, "app-0")
	stop := make(chan struct{})
	broker.SetTxnStepHook(func(step string) {
		if step == "written" {
			select {
			case <-stop:
			default:
				close(stop)
				panic(errAbandon)
			}
		}
	})
	defer broker.SetTxnStepHook(nil)
	func() {
		defer func() { recover() }()
		e.b.ProduceAndCommit(ctxT(t), broker.ProduceAndCommitRequest{
			TxnID: "app-0", ProducerID: pid, Epoch: int16(epoch), Group: "app",
			Topics:  []broker.TxnTopicRecords{{Topic: "changelog", Records: []broker.ProduceRecord{{Key: []byte("k"), Value: []byte("lost")}}}},
			Offsets: []broker.OffsetCommit{{Topic: "in", Partition: 0, Offset: 1}},
		})
	}()
	if st, _ := e.b.DescribeTransaction("app-0"); st.State != "Ongoing" {
		t.Fatalf("state %s, want Ongoing", st.State)
	}
	if got := recValues(e.fetchAll("changelog", 0, 0)); len(got) != 0 {
		t.Fatalf("an open transaction's records are visible: %q", got)
	}
	if _, err := g.ProduceAndCommit(ctxT(t), connect.NewRequest(txnReq("app-0", pid, epoch, 1, "A"))); err != nil {
		t.Fatal(err)
	}
	if got := recValues(e.fetchAll("changelog", 0, 0)); strings.Join(got, ",") != "A" {
		t.Fatalf("changelog = %q, want only A", got)
	}
}

var errAbandon = fmt.Errorf("abandoned by the test")

// txnHelperEnv names the data directory and txnStepEnv the step at which
// the helper stops, for TestProduceAndCommitKill9.
const (
	txnHelperEnv = "SLUICE_TXN_HELPER_DIR"
	txnStepEnv   = "SLUICE_TXN_HELPER_STEP"
)

// TestHelperTxnBroker is not a test: re-executed by
// TestProduceAndCommitKill9, it serves a broker (fsync always) and, when a
// ProduceAndCommit reaches the step txnStepEnv names, prints "STEP name"
// and stops there until killed.
func TestHelperTxnBroker(t *testing.T) {
	dir := os.Getenv(txnHelperEnv)
	if dir == "" {
		t.Skip("helper process for TestProduceAndCommitKill9")
	}
	want := os.Getenv(txnStepEnv)
	broker.SetTxnStepHook(func(step string) {
		if step == want {
			fmt.Printf("STEP %s\n", step)
			select {}
		}
	})
	db, err := metadb.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	b, err := broker.Open(context.Background(), broker.Config{DB: db, DataDir: dir, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
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

// TestProduceAndCommitKill9 kills the broker with SIGKILL at each step of a
// ProduceAndCommit, restarts it on the same data directory, and recovers
// as a stream processor does (InitProducer, then the committed offset says
// whether to send the transaction again). A read_committed reader (Fetch)
// then sees the outputs exactly once, and the offset matches them.
func TestProduceAndCommitKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts broker processes")
	}
	for _, step := range []string{"begun", "written", "prepared", "marked"} {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			cmd, url := startTxnHelper(t, dir, "", nil)
			hc := h2cClient()
			topics := brokerv1connect.NewTopicServiceClient(hc, url)
			g := brokerv1connect.NewGroupServiceClient(hc, url)
			bc := brokerv1connect.NewBrokerServiceClient(hc, url)
			for _, tc := range []struct {
				name string
				n    int32
				cfg  map[string]string
			}{{"in", 1, nil}, {"out", 2, nil}, {"changelog", 1, map[string]string{"cleanup.policy": "compact"}}} {
				if _, err := topics.CreateTopic(ctxT(t), connect.NewRequest(&brokerv1.CreateTopicRequest{Name: tc.name, Partitions: tc.n, Configs: tc.cfg})); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := bc.Produce(ctxT(t), connect.NewRequest(&brokerv1.ProduceRequest{Topic: "in", Records: []*brokerv1.ProduceRecord{val("a"), val("b"), val("c")}})); err != nil {
				t.Fatal(err)
			}
			pid, epoch := initProducer(t, g, "app-0")
			if _, err := g.ProduceAndCommit(ctxT(t), connect.NewRequest(txnReq("app-0", pid, epoch, 1, "A"))); err != nil {
				t.Fatal(err)
			}
			cmd.Process.Kill()
			cmd.Wait()

			// Second run: stop at step, kill -9.
			stepped := make(chan struct{})
			cmd, url = startTxnHelper(t, dir, step, stepped)
			g = brokerv1connect.NewGroupServiceClient(hc, url)
			pid, epoch = initProducer(t, g, "app-0")
			errc := make(chan error, 1)
			go func() {
				_, err := g.ProduceAndCommit(context.Background(), connect.NewRequest(txnReq("app-0", pid, epoch, 3, "B", "C")))
				errc <- err
			}()
			select {
			case <-stepped:
			case err := <-errc:
				t.Fatalf("the request ended before step %s: %v", step, err)
			case <-time.After(30 * time.Second):
				t.Fatalf("step %s not reached", step)
			}
			cmd.Process.Kill()
			cmd.Wait()
			if err := <-errc; err == nil {
				t.Fatal("the request succeeded though the broker was killed")
			}

			// Restart, recover as a processor does.
			_, url = startTxnHelper(t, dir, "", nil)
			g = brokerv1connect.NewGroupServiceClient(hc, url)
			bc = brokerv1connect.NewBrokerServiceClient(hc, url)
			pid, epoch = initProducer(t, g, "app-0")
			c := committed(t, g)
			switch {
			case c == 1:
				if step == "prepared" || step == "marked" {
					t.Fatalf("committed offset %d: a transaction killed after PrepareCommit was not completed at restart", c)
				}
				if _, err := g.ProduceAndCommit(ctxT(t), connect.NewRequest(txnReq("app-0", pid, epoch, 3, "B", "C"))); err != nil {
					t.Fatal(err)
				}
			case c == 3:
				if step == "begun" || step == "written" {
					t.Fatalf("committed offset %d: a transaction killed before its commit was committed", c)
				}
			default:
				t.Fatalf("committed offset %d", c)
			}
			if c := committed(t, g); c != 3 {
				t.Fatalf("committed offset %d, want 3", c)
			}
			read := func(topic string, p int32) []string {
				res, err := bc.Fetch(ctxT(t), connect.NewRequest(&brokerv1.FetchRequest{Topic: topic, Partition: p, Offset: 0, MaxRecords: 100}))
				if err != nil {
					t.Fatal(err)
				}
				return recValues(res.Msg.GetRecords())
			}
			if got := strings.Join(read("changelog", 0), ","); got != "A,B,C" {
				t.Fatalf("changelog = %q, want A,B,C once each", got)
			}
			outs := append(read("out", 0), read("out", 1)...)
			count := map[string]int{}
			for _, v := range outs {
				count[v]++
			}
			if len(outs) != 3 || count["A"] != 1 || count["B"] != 1 || count["C"] != 1 {
				t.Fatalf("out = %q, want A, B and C once each", outs)
			}
		})
	}
}

// startTxnHelper runs TestHelperTxnBroker on dir, stopping at step (none
// when ""); stepped is closed when it says it got there.
func startTxnHelper(t *testing.T, dir, step string, stepped chan struct{}) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperTxnBroker$", "-test.v=false")
	cmd.Env = append(os.Environ(), txnHelperEnv+"="+dir, txnStepEnv+"="+step)
	cmd.Stderr = testWriter{t}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	r := bufio.NewReader(out)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("helper did not print its address: %v", err)
	}
	go func() {
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if strings.HasPrefix(l, "STEP ") && stepped != nil {
				close(stepped)
			}
		}
	}()
	return cmd, strings.TrimSpace(line)
}
