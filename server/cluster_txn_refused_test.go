package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/internal/pgtest"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/stream"
)

// Transactions are refused on the shared log before anything of them is
// stored: a stream application's first commit ends Run with the reason
// (it used to leave a transaction that the broker tried to complete every
// second, forever, while Run retried), and a Kafka transactional producer
// gets INVALID_REQUEST for the partition. The node then answers its
// transactional id as usual: nothing is left open.
func TestClusterTransactionsRefusedOnSharedLog(t *testing.T) {
	meta := pgtest.DB(t)
	a := startSharedNode(t, meta, "file://"+t.TempDir(), "a")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, n := range []string{"in", "out"} {
		if _, err := a.topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: n, Partitions: 1})); err != nil {
			t.Fatal(err)
		}
	}

	conn := client.New(http.DefaultClient, a.url)
	p, err := client.NewProducer(ctx, conn, "in", primitive.Null(), primitive.String(), client.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Produce(ctx, struct{}{}, "x"); err != nil {
		t.Fatal(err)
	}
	app := stream.New(conn, "copier", stream.CommitInterval(50*time.Millisecond))
	stream.To(stream.From(app, "in", primitive.Null(), primitive.String()), "out", primitive.Null(), primitive.String())
	err = app.Run(ctx)
	if ctx.Err() != nil {
		t.Fatal("Run went on retrying a commit the shared log refuses")
	}
	if err == nil || !strings.Contains(err.Error(), "transactions are not supported on shared partitions") {
		t.Fatalf("Run = %v, want the refusal of transactions on the shared log", err)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(a.s.KafkaAddr()), kgo.TransactionalID("tx"), kgo.DefaultProduceTopic("out"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	perr := cl.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte("v")}).FirstErr()
	if !errors.Is(perr, kerr.InvalidRequest) {
		t.Fatalf("transactional produce to a shared partition: %v, want INVALID_REQUEST", perr)
	}
	_ = cl.EndTransaction(ctx, kgo.TryAbort)
	if res, err := a.broker.Fetch(ctx, connect.NewRequest(&brokerv1.FetchRequest{Topic: "out", Partition: 0, Offset: 0})); err != nil || len(res.Msg.GetRecords()) != 0 {
		t.Fatalf("out holds %d records, %v; want none", len(res.Msg.GetRecords()), err)
	}
}
