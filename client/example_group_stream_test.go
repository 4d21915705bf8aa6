package client_test

import (
	"context"
	"fmt"
	"log"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/primitive"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// A processor that reads a group's records itself: each batch is decoded
// into one reused Message, and the batch is overwritten by the next
// Receive (commit the offsets it processed with the group's
// CommitOffsets, or in a transaction with a TxnProducer).
func ExampleConn_OpenGroupStream() {
	ctx := context.Background()
	conn := client.New(nil, "http://127.0.0.1:8080")
	dec, err := client.NewRecordDecoder(conn, "page-views", primitive.String(), primitive.Int64())
	if err != nil {
		log.Fatal(err)
	}
	gs, err := conn.OpenGroupStream(ctx, &brokerv1.ConsumeRequest{
		Group:           "view-counter",
		Subscription:    &brokerv1.Subscription{Topics: []string{"page-views"}},
		AutoOffsetReset: brokerv1.OffsetReset_OFFSET_RESET_EARLIEST,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer gs.Close()
	views := map[string]int64{}
	var m client.Message[string, int64]
	for gs.Receive() {
		if a := gs.Assignment(); a != nil {
			fmt.Println("assigned:", a.GetPartitions())
			continue
		}
		b := gs.Batch()
		for i := range b.Len() {
			if err := dec.DecodeAt(ctx, b, i, &m); err != nil {
				log.Fatalf("%s/%d at %d: %v", b.Topic, b.Partition, b.Offset(i), err)
			}
			views[m.Key] += m.Value
		}
	}
	if err := gs.Err(); err != nil {
		log.Fatal(err)
	}
}
