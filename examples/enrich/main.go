// Command enrich joins each order with its customer, exactly once: topic
// "customers" (keyed by customer id) is read as a table, the orders of
// examples/orders (keyed by order id) are regrouped by customer through an
// internal repartition topic, and each order is written to
// "enriched-orders" with the customer's name and tier (a left join: an
// order of an unknown customer gets tier "unknown").
//
//	sluice serve &
//	go run ./examples/enrich -demo   # sends customers and orders, prints the enriched orders, exits
//	go run ./examples/enrich         # processes until Ctrl-C
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/examples/internal/demoio"
	"github.com/sluicehq/sluice/examples/shopapi"
	"github.com/sluicehq/sluice/stream"
)

func main() {
	addr := flag.String("addr", "http://localhost:8080", "Sluice server")
	demo := flag.Bool("demo", false, "send customers and orders, print the enriched orders, exit")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, client.New(http.DefaultClient, *addr), os.Stdout, *demo); err != nil {
		fmt.Fprintln(os.Stderr, "enrich:", err)
		os.Exit(1)
	}
}

// topology is the processor: orders by customer, joined with the
// customers table, to enriched-orders.
func topology(conn *client.Conn, opts ...stream.Option) *stream.App {
	app := stream.New(conn, "enrich", opts...)
	customers := stream.TableFrom(app, shopapi.CustomersTopic, primitive.String(), shopapi.CustomersValueCodec)
	orders := stream.From(app, shopapi.OrdersTopic, primitive.String(), shopapi.OrdersValueCodec)
	byCustomer := stream.Repartition(
		stream.Map(orders, func(_ string, o shopapi.Order) (string, shopapi.Order) { return o.Customer, o }),
		primitive.String(), shopapi.OrdersValueCodec)
	enriched := stream.LeftJoin(byCustomer, customers, func(id string, o shopapi.Order, c shopapi.Customer, found bool) shopapi.EnrichedOrder {
		e := shopapi.EnrichedOrder{OrderID: o.ID, Customer: id, CustomerName: c.Name, Tier: c.Tier, TotalCents: o.TotalCents}
		if !found {
			e.Tier = "unknown"
		}
		return e
	})
	stream.To(enriched, shopapi.EnrichedOrdersTopic, primitive.String(), shopapi.EnrichedOrdersValueCodec)
	return app
}

var (
	demoCustomers = []shopapi.Customer{
		{ID: "ada", Name: "Ada Lovelace", Tier: "gold"},
		{ID: "bob", Name: "Bob Kahn", Tier: "silver"},
		{ID: "cyd", Name: "Cyd Charisse", Tier: "bronze"},
	}
	demoOrders = []shopapi.Order{
		{ID: "o1", Customer: "ada", TotalCents: 1200},
		{ID: "o2", Customer: "bob", TotalCents: 800},
		{ID: "o3", Customer: "zed", TotalCents: 50},
		{ID: "o4", Customer: "ada", TotalCents: 4300},
	}
)

// run creates the topics and runs the processor until ctx is done; with
// demo, it sends demoCustomers, then demoOrders, prints the enriched
// orders and returns.
func run(ctx context.Context, conn *client.Conn, out io.Writer, demo bool) error {
	for _, name := range []string{shopapi.CustomersTopic, shopapi.OrdersTopic, shopapi.EnrichedOrdersTopic} {
		if err := demoio.CreateTopic(ctx, conn, name, 3); err != nil {
			return err
		}
	}
	app := topology(conn)
	if !demo {
		return app.Run(ctx)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	defer func() { cancel(); <-done }()

	from, err := demoio.EndOffsets(ctx, conn, shopapi.EnrichedOrdersTopic)
	if err != nil {
		return err
	}
	cp, err := shopapi.NewCustomersProducer(ctx, conn, client.AutoRegister())
	if err != nil {
		return err
	}
	for _, c := range demoCustomers {
		if _, err := cp.Produce(ctx, c.ID, c); err != nil {
			return err
		}
	}
	// The customers are in the table before the orders arrive (a task
	// takes its inputs in time order, so this only makes the demo
	// independent of how long the table takes to load).
	for app.Stats().Processed.Load() < int64(len(demoCustomers)) {
		select {
		case err := <-done:
			return fmt.Errorf("%w: %v", demoio.ErrStopped, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	op, err := shopapi.NewOrdersProducer(ctx, conn, client.AutoRegister())
	if err != nil {
		return err
	}
	// Topic orders may hold orders of other runs and examples, which the
	// processor enriches too: this run's order ids carry a prefix of its
	// own, and only those are printed (without it).
	prefix := strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	for _, o := range demoOrders {
		o.ID = prefix + o.ID
		if _, err := op.Produce(ctx, o.ID, o); err != nil {
			return err
		}
	}
	var lines []string
	for len(lines) < len(demoOrders) {
		ms, err := demoio.ReadFrom(ctx, conn, shopapi.EnrichedOrdersTopic, primitive.String(), shopapi.EnrichedOrdersValueCodec, from, 1, done)
		if err != nil {
			return err
		}
		for _, m := range ms {
			e := m.Value
			if id, ok := strings.CutPrefix(e.OrderID, prefix); ok {
				lines = append(lines, fmt.Sprintf("%s %s %q %s %d", id, e.Customer, e.CustomerName, e.Tier, e.TotalCents))
			}
		}
	}
	slices.Sort(lines)
	fmt.Fprintln(out, strings.Join(lines, "\n"))
	return nil
}
