// Command orders is the typed-client tour: an orders service produces
// orders and a consumer group bills them, with the Go types and
// constructors that `sluice gen` made from sluice.yaml (ordersapi/). No
// bytes, schema ids or envelopes in sight.
//
//	sluice serve &
//	go run ./examples/orders
package main

//go:generate go run ../../cmd/sluice gen --out ordersapi

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/examples/orders/ordersapi"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

func main() {
	addr := flag.String("addr", "http://localhost:8080", "Sluice server")
	n := flag.Int("n", 10, "orders to place")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, client.New(http.DefaultClient, *addr), os.Stdout, *n); err != nil {
		fmt.Fprintln(os.Stderr, "orders:", err)
		os.Exit(1)
	}
}

// run places n orders, then bills them as the consumer group "billing".
func run(ctx context.Context, conn *client.Conn, out io.Writer, n int) error {
	_, err := conn.Topics().CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: ordersapi.OrdersTopic, Partitions: 3}))
	if err != nil && connect.CodeOf(err) != connect.CodeAlreadyExists {
		return err
	}

	// The orders service: typed values in, acks out.
	orders, err := ordersapi.NewOrdersProducer(ctx, conn, client.AutoRegister())
	if err != nil {
		return err // an incompatible schema fails here, every violation listed
	}
	for i := range n {
		order := ordersapi.Order{ID: fmt.Sprintf("order-%d", i), Customer: "ada", TotalCents: int64(1000 + i)}
		ack, err := orders.Produce(ctx, order.ID, order)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "placed %s at partition %d offset %d\n", order.ID, ack.Partition, ack.Offset)
	}

	// Billing: a consumer group member; offsets are committed after each
	// order is handled.
	billing, err := ordersapi.NewOrdersConsumer(conn, "billing", client.FromEarliest())
	if err != nil {
		return err
	}
	var billed, total int64
	errDone := errors.New("all billed")
	err = billing.Run(ctx, func(ctx context.Context, m client.Message[string, ordersapi.Order]) error {
		billed++
		total += m.Value.TotalCents
		if billed == int64(n) {
			return errDone
		}
		return nil
	})
	if !errors.Is(err, errDone) {
		return err
	}
	fmt.Fprintf(out, "billed %d orders, %d cents\n", billed, total)
	return nil
}
