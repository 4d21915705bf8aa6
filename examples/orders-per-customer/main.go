// Command orders-per-customer totals each customer's orders per minute,
// exactly once: the orders of examples/orders (keyed by order id) are
// regrouped by customer through an internal repartition topic, summed in
// one-minute tumbling windows that accept late orders for ten seconds
// (the grace period), and each window's final total is written once, when
// it closes, to topic "customer-order-totals" as a shopapi.CustomerTotal.
//
//	sluice serve &
//	go run ./examples/orders-per-customer -demo   # sends a few orders, prints the totals, exits
//	go run ./examples/orders-per-customer         # processes until Ctrl-C
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
	demo := flag.Bool("demo", false, "send a few orders, print the totals they cause, exit")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, client.New(http.DefaultClient, *addr), os.Stdout, *demo); err != nil {
		fmt.Fprintln(os.Stderr, "orders-per-customer:", err)
		os.Exit(1)
	}
}

// Windows: one minute, late orders accepted for ten seconds.
var windows = stream.Tumbling(time.Minute, 10*time.Second)

// topology is the processor: orders (topic input) -> by customer ->
// per-minute totals -> customer-order-totals.
func topology(conn *client.Conn, appID, input string, opts ...stream.Option) *stream.App {
	app := stream.New(conn, appID, opts...)
	orders := stream.From(app, input, primitive.String(), shopapi.OrdersValueCodec)
	byCustomer := stream.GroupBy(orders, func(_ string, o shopapi.Order) string { return o.Customer }, primitive.String(), shopapi.OrdersValueCodec)
	totals := stream.WindowAggregate(stream.WindowedBy(byCustomer, windows),
		func() shopapi.CustomerTotal { return shopapi.CustomerTotal{} },
		func(customer string, o shopapi.Order, t shopapi.CustomerTotal) shopapi.CustomerTotal {
			t.Customer = customer
			t.Orders++
			t.TotalCents += o.TotalCents
			return t
		}, shopapi.CustomerOrderTotalsValueCodec)
	out := stream.Map(totals, func(w stream.Windowed[string], t shopapi.CustomerTotal) (string, shopapi.CustomerTotal) {
		t.WindowStart, t.WindowEnd = w.Start.UTC(), w.End.UTC()
		return w.Key, t
	})
	stream.To(out, shopapi.CustomerOrderTotalsTopic, primitive.String(), shopapi.CustomerOrderTotalsValueCodec)
	return app
}

// demoOrders are placed in this order, at these times (UTC, on
// 2026-01-01).
var demoOrders = []struct {
	at    string
	order shopapi.Order
}{
	{"12:00:05", shopapi.Order{ID: "o1", Customer: "ada", TotalCents: 1000}},
	{"12:00:20", shopapi.Order{ID: "o2", Customer: "bob", TotalCents: 1500}},
	{"12:00:40", shopapi.Order{ID: "o3", Customer: "ada", TotalCents: 2500}},
	{"12:01:05", shopapi.Order{ID: "o4", Customer: "cyd", TotalCents: 4200}},
	{"12:00:55", shopapi.Order{ID: "o5", Customer: "ada", TotalCents: 700}}, // late, within the grace period
	{"12:01:50", shopapi.Order{ID: "o6", Customer: "bob", TotalCents: 3000}},
}

// run creates the topics and runs the processor over topic orders until
// ctx is done. With demo, it runs a processor of its own over a topic of
// its own (orders-demo-<run>: the demo's orders are dated 2026-01-01, and
// windows that later orders of topic orders have closed would drop them as
// late), places demoOrders, then one later order per customer that closes
// their windows, prints the totals and returns.
func run(ctx context.Context, conn *client.Conn, out io.Writer, demo bool) error {
	input, appID := shopapi.OrdersTopic, "orders-per-customer"
	if demo {
		run := strconv.FormatInt(time.Now().UnixNano(), 36)
		input, appID = "orders-demo-"+run, "orders-per-customer-demo-"+run
	}
	for _, name := range []string{input, shopapi.CustomerOrderTotalsTopic} {
		if err := demoio.CreateTopic(ctx, conn, name, 3); err != nil {
			return err
		}
	}
	app := topology(conn, appID, input)
	if !demo {
		return app.Run(ctx)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	defer func() { cancel(); <-done }()

	from, err := demoio.EndOffsets(ctx, conn, shopapi.CustomerOrderTotalsTopic)
	if err != nil {
		return err
	}
	p, err := client.NewProducer(ctx, conn, input, primitive.String(), shopapi.OrdersValueCodec, client.AutoRegister())
	if err != nil {
		return err
	}
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s string) time.Time {
		t, err := time.Parse("15:04:05", s)
		if err != nil {
			panic(err)
		}
		return day.Add(t.Sub(t.Truncate(24 * time.Hour)))
	}
	for _, o := range demoOrders {
		if _, err := p.Produce(ctx, o.order.ID, o.order, client.WithTimestamp(at(o.at))); err != nil {
			return err
		}
	}
	// Each order is read twice (from orders, then by customer). Orders
	// reach the customer's task in the order the input partitions are
	// processed, so the closing orders wait until the others are in.
	for app.Stats().Processed.Load() < int64(2*len(demoOrders)) {
		select {
		case err := <-done:
			return fmt.Errorf("the processor stopped: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	for i, c := range []string{"ada", "bob", "cyd"} {
		o := shopapi.Order{ID: fmt.Sprintf("close-%d", i), Customer: c}
		if _, err := p.Produce(ctx, o.ID, o, client.WithTimestamp(at("12:05:00"))); err != nil {
			return err
		}
	}
	ms, err := demoio.ReadFrom(ctx, conn, shopapi.CustomerOrderTotalsTopic, primitive.String(), shopapi.CustomerOrderTotalsValueCodec, from, 4, done)
	if err != nil {
		return err
	}
	var lines []string
	for _, m := range ms {
		t := m.Value
		lines = append(lines, fmt.Sprintf("%s [%s, %s) %d orders, %d cents", t.Customer, t.WindowStart.Format("15:04"), t.WindowEnd.Format("15:04"), t.Orders, t.TotalCents))
	}
	slices.Sort(lines)
	fmt.Fprintln(out, strings.Join(lines, "\n"))
	return nil
}
