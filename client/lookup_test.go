package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/avro"
	"github.com/sluicehq/sluice/client/primitive"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/sluicetest"
)

// getSchemaPath is the registry call a consumer makes for a writer schema
// it has not seen.
const getSchemaPath = "/sluice.registry.v1.RegistryService/GetSchema"

// flakyRegistry serves the node's registry API through a proxy that answers
// GetSchema calls with fail while it returns true for the call's number
// (1-based), and passes everything else through. It returns the proxy's URL
// and a counter of GetSchema calls.
func flakyRegistry(t *testing.T, srv *sluicetest.Server, fail func(n int64, w http.ResponseWriter, r *http.Request) bool) (string, *atomic.Int64) {
	t.Helper()
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var calls atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == getSchemaPath && fail(calls.Add(1), w, r) {
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	return hs.URL, &calls
}

// unavailable answers 503, as a registry behind a load balancer does while
// it restarts.
func unavailable(w http.ResponseWriter) {
	http.Error(w, "registry restarting", http.StatusServiceUnavailable)
}

// hang answers nothing until the caller gives up. The server notices that
// only once the request body is read.
func hang(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(time.Minute):
	}
}

// typedTopic makes a topic holding one Avro order (with a schemaless key,
// so that the value's is the only lookup) and an empty dead-letter topic,
// and returns the order's schema id.
func typedTopic(t *testing.T, ctx context.Context, srv *sluicetest.Server, topic string) int32 {
	t.Helper()
	srv.CreateTopic(t, topic, 1, nil)
	srv.CreateTopic(t, topic+".dlq", 1, map[string]string{"value.schema.validation": "none"})
	p := mustProducer(t, ctx, srv.Conn, topic, primitive.RawString(), avro.Must[avroOrderV1](orderV1), client.AutoRegister())
	if _, err := p.Produce(ctx, "o-1", avroOrderV1{ID: "o-1", Amount: 7}); err != nil {
		t.Fatal(err)
	}
	return p.ValueSchemaID()
}

// highWatermark is the next offset of partition 0 of topic.
func highWatermark(t *testing.T, ctx context.Context, srv *sluicetest.Server, topic string) int64 {
	t.Helper()
	res, err := srv.Conn.Broker().ListOffsets(ctx, connect.NewRequest(&brokerv1.ListOffsetsRequest{
		Topic: topic, Query: &brokerv1.ListOffsetsRequest_Spec{Spec: brokerv1.OffsetSpec_OFFSET_SPEC_LATEST},
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range res.Msg.GetOffsets() {
		if o.GetPartition() == 0 {
			return o.GetOffset()
		}
	}
	t.Fatalf("ListOffsets %s: no partition 0", topic)
	return 0
}

// TestLookupRetriedUntilRegistryRecovers: a registry that fails the writer
// schema's lookup a few times (503) then answers delays the record; it is
// delivered, not dead-lettered.
func TestLookupRetriedUntilRegistryRecovers(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	typedTopic(t, ctx, srv, "orders")
	const failures = 3
	regURL, calls := flakyRegistry(t, srv, func(n int64, w http.ResponseWriter, _ *http.Request) bool {
		if n <= failures {
			unavailable(w)
			return true
		}
		return false
	})
	conn := client.New(srv.HTTPClient, srv.URL, client.WithRegistryURL(regURL))
	c := mustConsumer(t, conn, "orders", primitive.RawString(), avro.Must[avroOrderV1](orderV1),
		client.Group("billing"), client.FromEarliest(), client.DeadLetterTopic("orders.dlq"))
	rctx, stop := context.WithCancel(ctx)
	var got []avroOrderV1
	err := c.Run(rctx, func(_ context.Context, m client.Message[string, avroOrderV1]) error {
		got = append(got, m.Value)
		stop()
		return nil
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(got) != 1 || got[0] != (avroOrderV1{ID: "o-1", Amount: 7}) {
		t.Fatalf("handled %v, want the order", got)
	}
	if n := calls.Load(); n <= failures {
		t.Errorf("%d GetSchema calls, want more than the %d failures", n, failures)
	}
	if hw := highWatermark(t, ctx, srv, "orders.dlq"); hw != 0 {
		t.Errorf("the dead-letter topic holds %d records, want none", hw)
	}
}

// TestLookupFailurePersists: a registry that keeps failing the writer
// schema's lookup, in every way a registry can fail that is not the
// record's fault, ends Run with a *LookupError naming the registry and the
// schema id, whatever the decode policy: the handler never sees the record,
// nothing is dead-lettered, nothing is committed (a healthy member of the
// group reads the record next).
func TestLookupFailurePersists(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	id := typedTopic(t, ctx, srv, "orders")

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unreachable := "http://" + closed.Addr().String()
	closed.Close()

	for _, tc := range []struct {
		name   string
		fail   func(w http.ResponseWriter, r *http.Request)
		policy client.ConsumerOption
		retry  bool // retried until the limit, or given up at once
		want   string
	}{
		{"503", func(w http.ResponseWriter, _ *http.Request) { unavailable(w) }, client.DeadLetterTopic("orders.dlq"), true, "unavailable"},
		{"500", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) }, client.OnDecodeError(client.DecodeSkip), true, "500"},
		{"hangs", hang, client.DeadLetterTopic("orders.dlq"), true, "deadline"},
		{"unreachable", nil, client.OnDecodeError(client.DecodeSkip), true, "connection refused"},
		{"401", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "who are you", http.StatusUnauthorized) }, client.DeadLetterTopic("orders.dlq"), false, "authentication failed at REGISTRY: 401 Unauthorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			regURL := unreachable
			if tc.fail != nil {
				regURL, _ = flakyRegistry(t, srv, func(_ int64, w http.ResponseWriter, r *http.Request) bool {
					tc.fail(w, r)
					return true
				})
			}
			group := "g-" + tc.name
			conn := client.New(srv.HTTPClient, srv.URL, client.WithRegistryURL(regURL))
			c := mustConsumer(t, conn, "orders", primitive.RawString(), avro.Must[avroOrderV1](orderV1),
				client.Group(group), client.FromEarliest(), tc.policy, client.LookupRetry(400*time.Millisecond))
			handled := 0
			err := c.Run(ctx, func(context.Context, client.Message[string, avroOrderV1]) error { handled++; return nil })
			var le *client.LookupError
			if !errors.As(err, &le) {
				t.Fatalf("Run = %v, want a *LookupError", err)
			}
			if handled != 0 {
				t.Errorf("the handler saw %d records", handled)
			}
			for _, want := range []string{"registry " + regURL, fmt.Sprintf("schema id %d", id), "consumer orders partition 0 offset 0 value", strings.ReplaceAll(tc.want, "REGISTRY", regURL), "neither skipped nor dead-lettered"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if tc.retry && le.Attempts < 2 || !tc.retry && le.Attempts != 1 {
				t.Errorf("%d attempts; retried: want %v", le.Attempts, tc.retry)
			}
			if hw := highWatermark(t, ctx, srv, "orders.dlq"); hw != 0 {
				t.Errorf("the dead-letter topic holds %d records, want none", hw)
			}
			// Not skipped: the group's next member, with a healthy
			// registry, gets the record.
			healthy := mustConsumer(t, srv.Conn, "orders", primitive.RawString(), avro.Must[avroOrderV1](orderV1), client.Group(group), client.FromEarliest())
			if m := readN(t, ctx, healthy, 1)[0]; m.Offset != 0 || m.Value.ID != "o-1" {
				t.Errorf("the group's next member read offset %d %+v, want offset 0", m.Offset, m.Value)
			}
		})
	}
}

// TestLookupNotFoundIsTheRecords: an envelope naming a schema id that the
// registry does not know is a bad record, not a registry failure: the
// decode policy applies at once, with no retry.
func TestLookupNotFoundIsTheRecords(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "mixed", 1, map[string]string{"value.schema.validation": "none"})
	good := mustProducer(t, ctx, srv.Conn, "mixed", primitive.RawString(), avro.Must[avroOrderV1](orderV1), client.AutoRegister())
	raw := mustProducer(t, ctx, srv.Conn, "mixed", primitive.RawString(), primitive.RawBytes())
	if _, err := raw.Produce(ctx, "1", []byte{0, 0, 0, 0x03, 0xe7, 2, 'x'}); err != nil { // schema id 999
		t.Fatal(err)
	}
	if _, err := good.Produce(ctx, "2", avroOrderV1{ID: "2", Amount: 2}); err != nil {
		t.Fatal(err)
	}
	regURL, calls := flakyRegistry(t, srv, func(int64, http.ResponseWriter, *http.Request) bool { return false })
	conn := client.New(srv.HTTPClient, srv.URL, client.WithRegistryURL(regURL))
	c := mustConsumer(t, conn, "mixed", primitive.RawString(), avro.Must[avroOrderV1](orderV1),
		client.FromEarliest(), client.OnDecodeError(client.DecodeSkip))
	if m := readN(t, ctx, c, 1)[0]; m.Key != "2" {
		t.Errorf("read key %q, want the unknown id skipped and key 2 read", m.Key)
	}
	// One GetSchema for id 999 (not retried), one or two for the good id.
	if n := calls.Load(); n > 3 {
		t.Errorf("%d GetSchema calls: the unknown id was retried", n)
	}

	var last error
	for _, err := range mustConsumer(t, conn, "mixed", primitive.RawString(), avro.Must[avroOrderV1](orderV1), client.FromEarliest()).All(ctx) {
		last = err
		if err != nil {
			break
		}
	}
	var de *client.DecodeError
	var le *client.LookupError
	if !errors.As(last, &de) || errors.As(last, &le) || de.SchemaID != 999 {
		t.Errorf("DecodeFail: %v, want a DecodeError for schema id 999 that is no LookupError", last)
	}
}

// TestLookupRetryOption: a negative limit is refused.
func TestLookupRetryOption(t *testing.T) {
	conn := client.New(nil, "http://127.0.0.1:1")
	_, err := client.NewConsumer(conn, "orders", primitive.String(), primitive.String(), client.LookupRetry(-time.Second))
	if err == nil || !strings.Contains(err.Error(), "LookupRetry -1s") {
		t.Errorf("NewConsumer = %v, want a refusal of the negative LookupRetry", err)
	}
}
