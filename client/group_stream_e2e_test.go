package client_test

import (
	"strconv"
	"testing"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/primitive"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/sluicetest"
)

// TestGroupStream: a GroupStream delivers the group's assignment, then
// every record once in batches that DecodeAt decodes; a batch of another
// topic is refused by the decoder.
func TestGroupStream(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "events", 2, nil)
	p := mustProducer(t, ctx, srv.Conn, "events", primitive.String(), primitive.Int64(), client.AutoRegister())
	const n = 50
	for i := range n {
		if _, err := p.Produce(ctx, "k"+strconv.Itoa(i%7), int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	d, err := client.NewRecordDecoder(srv.Conn, "events", primitive.String(), primitive.Int64())
	if err != nil {
		t.Fatal(err)
	}
	gs, err := srv.Conn.OpenGroupStream(ctx, &brokerv1.ConsumeRequest{
		Group:           "g",
		Subscription:    &brokerv1.Subscription{Topics: []string{"events"}},
		AutoOffsetReset: brokerv1.OffsetReset_OFFSET_RESET_EARLIEST,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer gs.Close()
	assigned := false
	seen := map[int64]bool{}
	var m client.Message[string, int64]
	for len(seen) < n && gs.Receive() {
		if a := gs.Assignment(); a != nil {
			assigned = true
			continue
		}
		b := gs.Batch()
		if !assigned {
			t.Fatal("records before the assignment")
		}
		for i := range b.Len() {
			if err := d.DecodeAt(ctx, b, i, &m); err != nil {
				t.Fatal(err)
			}
			if m.Offset != b.Offset(i) || m.Partition != b.Partition || m.Timestamp != b.Timestamp(i) || b.Value(i) == nil || string(b.Key(i)) != string(m.RawKey) {
				t.Fatalf("record %d: message %+v, batch %s/%d offset %d", i, m, b.Topic, b.Partition, b.Offset(i))
			}
			if want := "k" + strconv.Itoa(int(m.Value%7)); m.Key != want || seen[m.Value] {
				t.Fatalf("record %d: key %q value %d (seen before: %v)", i, m.Key, m.Value, seen[m.Value])
			}
			seen[m.Value] = true
		}
		other, _ := client.NewRecordDecoder(srv.Conn, "other", primitive.String(), primitive.Int64())
		if b.Len() > 0 && other.DecodeAt(ctx, b, 0, &m) == nil {
			t.Fatal("a decoder of another topic decoded the batch")
		}
	}
	if len(seen) < n {
		t.Fatalf("read %d of %d records: %v", len(seen), n, gs.Err())
	}
}
