package client_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/avro"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/sluicetest"
)

// errEnough ends a RunBatches test once the handler has what it waits for.
var errEnough = errors.New("enough")

// batchesOf runs c.RunBatches until handler has seen want records (or
// RunBatches ends), and returns the records each call got, as strings, and
// RunBatches' error (nil when it was stopped for having enough).
func batchesOf(t *testing.T, ctx context.Context, c *client.Consumer[string, avroOrderV1], want int) ([][]string, error) {
	t.Helper()
	var calls [][]string
	n := 0
	err := c.RunBatches(ctx, func(_ context.Context, ms []client.Message[string, avroOrderV1]) error {
		var got []string
		for _, m := range ms {
			s := m.Key + "=" + m.Value.ID
			if m.Err != nil {
				s = m.Key + "=raw:" + string(m.RawValue)
			}
			got = append(got, s+"@"+strconv.FormatInt(m.Offset, 10))
		}
		calls = append(calls, got)
		if n += len(ms); n >= want {
			return errEnough
		}
		return nil
	})
	if errors.Is(err, errEnough) {
		err = nil
	}
	return calls, err
}

// TestRunBatchesPolicies: RunBatches hands a response's records at once,
// with each decode policy applied as Run applies it.
func TestRunBatchesPolicies(t *testing.T) {
	ctx := testCtx(t)
	srv := mixedTopic(t, ctx) // "1" good, "2" garbage, "3" good
	codec := avro.Must[avroOrderV1](orderV1)
	consumer := func(opts ...client.ConsumerOption) *client.Consumer[string, avroOrderV1] {
		return mustConsumer(t, srv.Conn, "mixed", primitive.RawString(), codec, append(opts, client.FromEarliest())...)
	}
	t.Run("fail", func(t *testing.T) {
		calls, err := batchesOf(t, ctx, consumer(), 3)
		var de *client.DecodeError
		if !errors.As(err, &de) || de.Offset != 1 || de.Side != "value" {
			t.Fatalf("error %v, want a DecodeError at offset 1", err)
		}
		if diff := cmp.Diff([][]string{{"1=1@0"}}, calls); diff != "" {
			t.Errorf("records before the bad one (-want +got):\n%s", diff)
		}
	})
	t.Run("skip", func(t *testing.T) {
		calls, err := batchesOf(t, ctx, consumer(client.OnDecodeError(client.DecodeSkip)), 2)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([][]string{{"1=1@0", "3=3@2"}}, calls); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("raw", func(t *testing.T) {
		calls, err := batchesOf(t, ctx, consumer(client.OnDecodeError(client.DecodeRaw)), 3)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([][]string{{"1=1@0", "2=raw:garbage@1", "3=3@2"}}, calls); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("dead letter", func(t *testing.T) {
		// A group member: the dead-lettered record's offset is committed
		// with the batch around it.
		c := consumer(client.DeadLetterTopic("mixed.dlq"), client.Group("dlq-policy"))
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var calls [][]string
		n := 0
		err := c.RunBatches(rctx, func(_ context.Context, ms []client.Message[string, avroOrderV1]) error {
			var got []string
			for _, m := range ms {
				if m.Err != nil {
					t.Errorf("the handler got the record at offset %d that cannot be decoded: %v", m.Offset, m.Err)
				}
				got = append(got, m.Key+"="+m.Value.ID+"@"+strconv.FormatInt(m.Offset, 10))
			}
			calls = append(calls, got)
			if n += len(ms); n >= 2 {
				cancel() // returns nil: the batch is handled, and committed
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([][]string{{"1=1@0", "3=3@2"}}, calls); diff != "" {
			t.Errorf("the handler's records (-want +got):\n%s", diff)
		}
		dl := readN(t, ctx, mustConsumer(t, srv.Conn, "mixed.dlq", primitive.RawString(), primitive.RawBytes(), client.FromEarliest()), 1)
		hs := map[string]string{}
		for _, h := range dl[0].Headers {
			hs[h.Key] = string(h.Value)
		}
		if dl[0].Key != "2" || string(dl[0].Value) != "garbage" || hs["h"] != "v" || hs[client.DeadLetterTopicHeader] != "mixed" ||
			hs[client.DeadLetterPartitionHeader] != "0" || hs[client.DeadLetterOffsetHeader] != "1" || hs[client.DeadLetterErrorHeader] == "" {
			t.Errorf("dead letter: key %q value %q headers %v", dl[0].Key, dl[0].Value, hs)
		}
		if got := committed(t, ctx, srv.Conn, "dlq-policy")[0]; got != 3 {
			t.Errorf("committed %d, want 3 (the dead-lettered offset 1 and the records around it)", got)
		}
	})
	t.Run("handler error", func(t *testing.T) {
		boom := errors.New("boom")
		err := consumer(client.OnDecodeError(client.DecodeSkip)).RunBatches(ctx, func(context.Context, []client.Message[string, avroOrderV1]) error { return boom })
		if !errors.Is(err, boom) {
			t.Fatalf("RunBatches returned %v, want the handler's error", err)
		}
	})
}

// TestRunBatchesManyResponses: records spread over many responses (a small
// MaxBytes) come in order, each call a run of one partition, and a kept
// Message stays intact after later calls reuse the slice.
func TestRunBatchesManyResponses(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "orders", 1, nil)
	p := mustProducer(t, ctx, srv.Conn, "orders", primitive.String(), avro.Must[avroOrderV1](orderV1), client.AutoRegister())
	const n = 200
	for i := range n {
		id := strconv.Itoa(i)
		if _, err := p.Produce(ctx, id, avroOrderV1{ID: id, Amount: int64(i)}, client.WithHeaders(client.Header{Key: "i", Value: []byte(id)})); err != nil {
			t.Fatal(err)
		}
	}
	c := mustConsumer(t, srv.Conn, "orders", primitive.String(), avro.Must[avroOrderV1](orderV1), client.FromEarliest(), client.MaxBytes(1024))
	var kept []client.Message[string, avroOrderV1]
	calls := 0
	err := c.RunBatches(ctx, func(_ context.Context, ms []client.Message[string, avroOrderV1]) error {
		calls++
		kept = append(kept, ms...)
		if len(kept) >= n {
			return errEnough
		}
		return nil
	})
	if !errors.Is(err, errEnough) {
		t.Fatal(err)
	}
	if calls < 5 {
		t.Errorf("%d calls for %d records in responses of 1 KiB: want many", calls, n)
	}
	for i, m := range kept {
		id := strconv.Itoa(i)
		if m.Offset != int64(i) || m.Key != id || m.Value.ID != id || m.Value.Amount != int64(i) || len(m.Headers) != 1 ||
			string(m.Headers[0].Value) != id || m.SchemaID == 0 || m.Timestamp.IsZero() {
			t.Fatalf("message %d: %+v", i, m)
		}
	}
}

// TestRunBatchesGroupCommits: a group member commits a batch's records once
// the handler returned nil for it, and not a batch whose handler failed.
func TestRunBatchesGroupCommits(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "orders", 1, nil)
	p := mustProducer(t, ctx, srv.Conn, "orders", primitive.String(), avro.Must[avroOrderV1](orderV1), client.AutoRegister())
	for i := range 5 {
		id := strconv.Itoa(i)
		if _, err := p.Produce(ctx, id, avroOrderV1{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	member := func(opts ...client.ConsumerOption) *client.Consumer[string, avroOrderV1] {
		return mustConsumer(t, srv.Conn, "orders", primitive.String(), avro.Must[avroOrderV1](orderV1), append(opts, client.Group("g"), client.FromEarliest())...)
	}
	// Responses of one record or so: several batches, the last of which
	// fails.
	var sizes []int
	handled := int64(0) // the records of the batches whose handler returned nil
	err := member(client.MaxBytes(1)).RunBatches(ctx, func(_ context.Context, ms []client.Message[string, avroOrderV1]) error {
		sizes = append(sizes, len(ms))
		if handled+int64(len(ms)) >= 5 {
			return errEnough // this batch is not committed
		}
		handled += int64(len(ms))
		return nil
	})
	if !errors.Is(err, errEnough) {
		t.Fatal(err)
	}
	if len(sizes) < 2 {
		t.Fatalf("batches of %v records: the test needs several", sizes)
	}
	before := committed(t, ctx, srv.Conn, "g")[0]
	if before != handled {
		t.Fatalf("committed %d after batches of %v records whose last failed, want %d (the batches handled)", before, sizes, handled)
	}
	// The next member reads from there and commits all it handles.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var got []string
	err = member().RunBatches(rctx, func(_ context.Context, ms []client.Message[string, avroOrderV1]) error {
		for _, m := range ms {
			got = append(got, m.Key)
		}
		if len(got) >= 5-int(before) {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[0] != strconv.FormatInt(before, 10) {
		t.Errorf("the second member read %v, want from key %d", got, before)
	}
	if after := committed(t, ctx, srv.Conn, "g")[0]; after != 5 {
		t.Errorf("committed %d after the second member, want 5", after)
	}
}

// TestRunBatchesSplitsLargeResponses: a response of more records than
// RunBatches hands over at once comes in several calls, in order.
func TestRunBatchesSplitsLargeResponses(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "orders", 1, nil)
	p := mustProducer(t, ctx, srv.Conn, "orders", primitive.String(), avro.Must[avroOrderV1](orderV1), client.AutoRegister(), client.MaxInFlight(4), client.Pipelined())
	const n = 3000
	for i := range n {
		id := strconv.Itoa(i)
		p.ProduceAsync(ctx, id, avroOrderV1{ID: id}, func(_ client.Ack, err error) {
			if err != nil {
				t.Error(err)
			}
		})
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	c := mustConsumer(t, srv.Conn, "orders", primitive.String(), avro.Must[avroOrderV1](orderV1), client.FromEarliest(), client.MaxBytes(16<<20))
	var sizes []int
	next := int64(0)
	err := c.RunBatches(ctx, func(_ context.Context, ms []client.Message[string, avroOrderV1]) error {
		sizes = append(sizes, len(ms))
		for _, m := range ms {
			if m.Offset != next || m.Value.ID != strconv.FormatInt(next, 10) {
				t.Fatalf("record %d: offset %d, id %s", next, m.Offset, m.Value.ID)
			}
			next++
		}
		if next == n {
			return errEnough
		}
		return nil
	})
	if !errors.Is(err, errEnough) {
		t.Fatal(err)
	}
	most := 0
	for _, s := range sizes {
		most = max(most, s)
	}
	if most != 1024 || len(sizes) < 3 {
		t.Errorf("calls of %v records: want at most 1024 each, a response split", sizes)
	}
}
