package kafka_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Transactions with the clients of other languages (see clients_test.go):
// what they commit is visible and what they abort is hidden under
// read_committed, and librdkafka's send_offsets_to_transaction commits the
// consumed offsets with the output.

// TestKafkaJSTransactions runs kafkajs's transactional producer (the txn
// mode of testdata/kafkajs/client.js): one transaction committed, one
// aborted.
func TestKafkaJSTransactions(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	createTopicCore(t, n.Server, "js-txn", 2, nil)
	var out struct {
		Committed int `json:"committed"`
		Aborted   int `json:"aborted"`
	}
	kafkajs(t, &out, "txn", n.Addr, "js-txn")
	if out.Committed != 1 || out.Aborted != 1 {
		t.Fatalf("kafkajs answered %+v", out)
	}
	if got := consumeValues(t, n.Addr, "js-txn", 1, kgo.FetchIsolationLevel(kgo.ReadCommitted())); !slices.Equal(got, []string{"committed"}) {
		t.Fatalf("read_committed after kafkajs: %q, want [committed]", got)
	}
	noMore(t, n.Addr, "js-txn", 1, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if got := consumeValues(t, n.Addr, "js-txn", 2); !slices.Equal(got, []string{"aborted", "committed"}) {
		t.Fatalf("read_uncommitted after kafkajs: %q", got)
	}
}

// TestConfluentKafkaPythonTransactions runs librdkafka's transactional
// producer (testdata/python/txn.py): a committed and an aborted
// transaction, then consume-transform-produce with
// send_offsets_to_transaction.
func TestConfluentKafkaPythonTransactions(t *testing.T) {
	t.Parallel()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import confluent_kafka").Run(); err != nil {
		missingClient(t, "%s cannot import confluent_kafka (apt-get install python3-confluent-kafka; .ci/run does): %v", py, err)
	}
	n := startNode(t)
	createTopicCore(t, n.Server, "py-txn-in", 3, nil)
	createTopicCore(t, n.Server, "py-txn-out", 3, nil)
	const total = 200
	in := newClient(t, n.Addr, kgo.DefaultProduceTopic("py-txn-in"))
	var recs []*kgo.Record
	for i := range total {
		recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)})
	}
	if err := in.ProduceSync(testCtx(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	script, _ := filepath.Abs(filepath.Join("testdata", "python", "txn.py"))
	var out struct {
		Transformed int `json:"transformed"`
		Rounds      int `json:"rounds"`
	}
	runClient(t, &out, py, script, n.Addr, "py-txn-in", "py-txn-out", fmt.Sprint(total), "py-txn-group")
	if out.Transformed != total {
		t.Fatalf("python answered %+v", out)
	}
	want := []string{"committed"}
	for i := range total {
		want = append(want, fmt.Sprintf("out-v%d", i))
	}
	sort.Strings(want)
	got := consumeValues(t, n.Addr, "py-txn-out", len(want), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if !slices.Equal(got, want) {
		t.Fatalf("read_committed output: %d records, want %d (each input once, plus committed)", len(got), len(want))
	}
	noMore(t, n.Addr, "py-txn-out", len(want), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	d, err := n.Server.Broker.DescribeGroup(context.Background(), "py-txn-group")
	if err != nil {
		t.Fatal(err)
	}
	if d.TotalLag != 0 {
		t.Fatalf("group lag after send_offsets_to_transaction: %d, want 0", d.TotalLag)
	}
}
