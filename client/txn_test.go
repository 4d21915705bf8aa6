package client_test

import (
	"errors"
	"testing"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/sluicetest"
)

// TestTxnProducer: typed records to two topics and a group offset commit
// together; a fenced producer's Commit matches ErrFenced and writes nothing.
func TestTxnProducer(t *testing.T) {
	ctx := testCtx(t)
	s := sluicetest.Start(t)
	s.CreateTopic(t, "in", 1, nil)
	s.CreateTopic(t, "totals", 1, nil)
	s.CreateTopic(t, "audit", 1, nil)
	in := mustProducer(t, ctx, s.Conn, "in", primitive.String(), primitive.Int64(), client.AutoRegister())
	for i := range 3 {
		if _, err := in.Produce(ctx, "k", int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	totals := mustProducer(t, ctx, s.Conn, "totals", primitive.String(), primitive.Int64(), client.AutoRegister())
	audit := mustProducer(t, ctx, s.Conn, "audit", primitive.String(), primitive.String(), client.AutoRegister())

	tp, err := client.InitTxnProducer(ctx, s.Conn, "summer-0", 0)
	if err != nil {
		t.Fatal(err)
	}
	tx := &client.Txn{Group: "summer"}
	if err := totals.AddToTxn(tx, "k", 3); err != nil {
		t.Fatal(err)
	}
	if err := audit.AddToTxn(tx, "k", "summed 3 records"); err != nil {
		t.Fatal(err)
	}
	tx.CommitOffset("in", 0, 3)
	acks, err := tp.Commit(ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	if len(acks) != 2 || acks[0].Topic != "totals" || acks[1].Topic != "audit" || acks[0].Acks[0].Offset != 0 {
		t.Fatalf("acks %+v", acks)
	}
	got := readN(t, ctx, mustConsumer(t, s.Conn, "totals", primitive.String(), primitive.Int64(), client.FromEarliest()), 1)
	if got[0].Key != "k" || got[0].Value != 3 {
		t.Fatalf("totals: %+v", got[0])
	}

	// Another instance takes the id: the first is fenced.
	if _, err := client.InitTxnProducer(ctx, s.Conn, "summer-0", 0); err != nil {
		t.Fatal(err)
	}
	tx.Reset()
	if err := totals.AddToTxn(tx, "k", 99); err != nil {
		t.Fatal(err)
	}
	if _, err := tp.Commit(ctx, tx); !errors.Is(err, client.ErrFenced) {
		t.Fatalf("commit after fencing: %v, want ErrFenced", err)
	}
}
