package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/avro"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/sluicetest"
)

// TestProduceAsyncOrder: async records are batched and appended in call
// order (MaxInFlight 1), every callback is called once, and Flush waits.
func TestProduceAsyncOrder(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "events", 1, nil)
	p := mustProducer(t, ctx, srv.Conn, "events", primitive.Null(), primitive.Int64(), client.AutoRegister(),
		client.Linger(time.Millisecond), client.MaxBatchBytes(512))
	const n = 500
	var mu sync.Mutex
	acks := make([]client.Ack, n)
	calls := make([]int, n)
	for i := range n {
		p.ProduceAsync(ctx, struct{}{}, int64(i), func(a client.Ack, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("record %d: %v", i, err)
			}
			acks[i] = a
			calls[i]++
		})
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	for i := range n {
		if calls[i] != 1 || acks[i].Offset != int64(i) {
			t.Fatalf("record %d: %d callbacks, offset %d", i, calls[i], acks[i].Offset)
		}
	}
	mu.Unlock()
	var failed error
	p.ProduceAsync(ctx, struct{}{}, 1, func(_ client.Ack, err error) { failed = err })
	if failed == nil {
		t.Error("ProduceAsync after Close succeeded")
	}

	c := mustConsumer(t, srv.Conn, "events", primitive.Null(), primitive.Int64(), client.FromEarliest())
	for i, m := range readN(t, ctx, c, n) {
		if m.Value != int64(i) || m.Offset != int64(i) || m.RawKey != nil {
			t.Fatalf("record %d: value %d offset %d key %v", i, m.Value, m.Offset, m.RawKey)
		}
	}
}

// TestProduceRefused: a record the broker refuses comes back as a
// *ProduceError naming it.
func TestProduceRefused(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "orders", 1, nil)
	// Register the value subject so the topic is typed, then send raw bytes.
	mustProducer(t, ctx, srv.Conn, "orders", primitive.Null(), avro.Must[avroOrderV1](orderV1), client.AutoRegister())
	raw := mustProducer(t, ctx, srv.Conn, "orders", primitive.Null(), primitive.RawBytes())
	_, err := raw.Produce(ctx, struct{}{}, []byte("not an envelope"))
	var pe *client.ProduceError
	if !errors.As(err, &pe) || len(pe.Records) != 1 || pe.Records[0].Index != 0 || pe.Records[0].Side != "value" {
		t.Fatalf("err = %v (%+v), want a ProduceError naming record 0's value", err, pe)
	}
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("code %v, want InvalidArgument", connect.CodeOf(err))
	}
}

// TestRetryOnlyWhenNotSent: a broker that cannot be reached is retried,
// then reported; nothing else is retried.
func TestRetryOnlyWhenNotSent(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "t", 1, nil)
	attempts := 0
	dead := client.New(&countingClient{hc: http.DefaultClient, n: &attempts}, "http://127.0.0.1:1")
	p, err := client.NewProducer(ctx, dead, "t", primitive.Null(), primitive.RawBytes(), client.Retries(2))
	if err != nil {
		t.Fatal(err) // schemaless: no registry call
	}
	if _, err := p.Produce(ctx, struct{}{}, []byte("x")); err == nil {
		t.Fatal("produce to a dead address succeeded")
	}
	if attempts != 3 {
		t.Errorf("%d attempts, want 3 (1 + 2 retries)", attempts)
	}

	// A refused request reached the broker: one attempt only.
	attempts = 0
	live := client.New(&countingClient{hc: srv.HTTPClient, n: &attempts}, srv.URL)
	p, err = client.NewProducer(ctx, live, "no-such-topic", primitive.Null(), primitive.RawBytes(), client.Retries(2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Produce(ctx, struct{}{}, []byte("x")); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("err = %v, want NotFound", err)
	}
	if attempts != 1 {
		t.Errorf("%d attempts, want 1", attempts)
	}
}

type countingClient struct {
	hc *http.Client
	n  *int
}

func (c *countingClient) Do(r *http.Request) (*http.Response, error) {
	*c.n++
	return c.hc.Do(r)
}

// TestGRPC: the same Conn works over gRPC.
func TestGRPC(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "orders", 2, nil)
	conn := client.New(srv.HTTPClient, srv.URL, client.WithGRPC())
	p := mustProducer(t, ctx, conn, "orders", primitive.String(), avro.Must[avroOrderV1](orderV1), client.AutoRegister())
	for i := range 5 {
		if _, err := p.Produce(ctx, fmt.Sprint(i), avroOrderV1{ID: fmt.Sprint(i), Amount: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	c := mustConsumer(t, conn, "orders", primitive.String(), avro.Must[avroOrderV1](orderV1), client.FromEarliest())
	sum := int64(0)
	for _, m := range readN(t, ctx, c, 5) {
		sum += m.Value.Amount
	}
	if sum != 10 {
		t.Errorf("sum %d, want 10", sum)
	}
}

// TestInterceptors: interceptors see every call.
func TestInterceptors(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "t", 1, nil)
	var mu sync.Mutex
	seen := map[string]int{}
	in := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, r connect.AnyRequest) (connect.AnyResponse, error) {
			mu.Lock()
			seen[r.Spec().Procedure]++
			mu.Unlock()
			return next(ctx, r)
		}
	})
	conn := client.New(srv.HTTPClient, srv.URL, client.WithInterceptors(in))
	p := mustProducer(t, ctx, conn, "t", primitive.Null(), primitive.String(), client.AutoRegister())
	if _, err := p.Produce(ctx, struct{}{}, "x"); err != nil {
		t.Fatal(err)
	}
	if seen["/sluice.registry.v1.RegistryService/Register"] != 1 || seen["/sluice.broker.v1.BrokerService/Produce"] != 1 {
		t.Errorf("intercepted %v", seen)
	}
}

// TestProduceAsyncFromCallback: a callback may produce again (a retry or a
// follow-up record) without deadlocking the producer.
func TestProduceAsyncFromCallback(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "t", 1, nil)
	p := mustProducer(t, ctx, srv.Conn, "t", primitive.Null(), primitive.Int64(), client.AutoRegister(), client.Linger(0))
	done := make(chan error, 1)
	p.ProduceAsync(ctx, struct{}{}, 1, func(_ client.Ack, err error) {
		if err != nil {
			done <- err
			return
		}
		p.ProduceAsync(ctx, struct{}{}, 2, func(_ client.Ack, err error) { done <- err })
	})
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("deadlock: the follow-up record was never acknowledged")
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}
