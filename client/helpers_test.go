package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice/client"
)

// testCtx bounds a test that waits on a stream, so that a bug fails the
// test instead of hanging the package.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// readN reads n messages from c (stopping at the first error).
func readN[K, V any](t *testing.T, ctx context.Context, c *client.Consumer[K, V], n int) []client.Message[K, V] {
	t.Helper()
	var out []client.Message[K, V]
	if n == 0 {
		return nil
	}
	for m, err := range c.All(ctx) {
		if err != nil {
			t.Fatalf("consume %s after %d records: %v", c.Topic(), len(out), err)
		}
		out = append(out, m)
		if len(out) == n {
			break
		}
	}
	if len(out) != n {
		t.Fatalf("consume %s: got %d records, want %d (context: %v)", c.Topic(), len(out), n, ctx.Err())
	}
	return out
}

// mustProducer builds a producer or fails the test.
func mustProducer[K, V any](t *testing.T, ctx context.Context, conn *client.Conn, topic string, k client.Codec[K], v client.Codec[V], opts ...client.ProducerOption) *client.Producer[K, V] {
	t.Helper()
	p, err := client.NewProducer(ctx, conn, topic, k, v, opts...)
	if err != nil {
		t.Fatalf("producer %s: %v", topic, err)
	}
	return p
}

// mustConsumer builds a consumer or fails the test.
func mustConsumer[K, V any](t *testing.T, conn *client.Conn, topic string, k client.Codec[K], v client.Codec[V], opts ...client.ConsumerOption) *client.Consumer[K, V] {
	t.Helper()
	c, err := client.NewConsumer(conn, topic, k, v, opts...)
	if err != nil {
		t.Fatalf("consumer %s: %v", topic, err)
	}
	return c
}
