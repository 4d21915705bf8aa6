package client_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/avro"
	"github.com/sluicehq/sluice/client/primitive"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/sluicetest"
)

// mixedTopic makes a topic without value validation holding a good record,
// a record that is not an envelope, and another good record.
func mixedTopic(t *testing.T, ctx context.Context) *sluicetest.Server {
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "mixed", 1, map[string]string{"value.schema.validation": "none"})
	srv.CreateTopic(t, "mixed.dlq", 1, nil)
	good := mustProducer(t, ctx, srv.Conn, "mixed", primitive.RawString(), avro.Must[avroOrderV1](orderV1), client.AutoRegister())
	raw := mustProducer(t, ctx, srv.Conn, "mixed", primitive.RawString(), primitive.RawBytes())
	if _, err := good.Produce(ctx, "1", avroOrderV1{ID: "1", Amount: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Produce(ctx, "2", []byte("garbage"), client.WithHeaders(client.Header{Key: "h", Value: []byte("v")})); err != nil {
		t.Fatal(err)
	}
	if _, err := good.Produce(ctx, "3", avroOrderV1{ID: "3", Amount: 3}); err != nil {
		t.Fatal(err)
	}
	return srv
}

func TestDecodePolicies(t *testing.T) {
	ctx := testCtx(t)
	srv := mixedTopic(t, ctx)
	codec := avro.Must[avroOrderV1](orderV1)
	consumer := func(opts ...client.ConsumerOption) *client.Consumer[string, avroOrderV1] {
		return mustConsumer(t, srv.Conn, "mixed", primitive.RawString(), codec, append(opts, client.FromEarliest())...)
	}

	t.Run("fail", func(t *testing.T) {
		var keys []string
		var last error
		for m, err := range consumer().All(ctx) {
			if err != nil {
				last = err
				continue
			}
			keys = append(keys, m.Key)
		}
		var de *client.DecodeError
		if !errors.As(last, &de) || de.Offset != 1 || de.Side != "value" {
			t.Fatalf("last error %v, want a DecodeError at offset 1", last)
		}
		if diff := cmp.Diff([]string{"1"}, keys); diff != "" {
			t.Errorf("keys (-want +got):\n%s", diff)
		}
		// Run stops with the same error.
		n := 0
		err := consumer().Run(ctx, func(context.Context, client.Message[string, avroOrderV1]) error { n++; return nil })
		if !errors.As(err, &de) || n != 1 {
			t.Errorf("Run: %d handled, err %v", n, err)
		}
	})
	t.Run("skip", func(t *testing.T) {
		var keys []string
		for _, m := range readN(t, ctx, consumer(client.OnDecodeError(client.DecodeSkip)), 2) {
			keys = append(keys, m.Key)
		}
		if diff := cmp.Diff([]string{"1", "3"}, keys); diff != "" {
			t.Errorf("keys (-want +got):\n%s", diff)
		}
	})
	t.Run("raw", func(t *testing.T) {
		var got []string
		c := consumer(client.OnDecodeError(client.DecodeRaw))
		for m, err := range c.All(ctx) {
			if err != nil {
				got = append(got, "raw:"+string(m.RawValue))
			} else {
				got = append(got, m.Value.ID)
			}
			if len(got) == 3 {
				break
			}
		}
		if diff := cmp.Diff([]string{"1", "raw:garbage", "3"}, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("dead letter", func(t *testing.T) {
		var keys []string
		for _, m := range readN(t, ctx, consumer(client.DeadLetterTopic("mixed.dlq")), 2) {
			keys = append(keys, m.Key)
		}
		if diff := cmp.Diff([]string{"1", "3"}, keys); diff != "" {
			t.Errorf("keys (-want +got):\n%s", diff)
		}
		dlq := mustConsumer(t, srv.Conn, "mixed.dlq", primitive.RawString(), primitive.RawBytes(), client.FromEarliest())
		m := readN(t, ctx, dlq, 1)[0]
		hs := map[string]string{}
		for _, h := range m.Headers {
			hs[h.Key] = string(h.Value)
		}
		if m.Key != "2" || string(m.Value) != "garbage" || hs["h"] != "v" || hs[client.DeadLetterTopicHeader] != "mixed" ||
			hs[client.DeadLetterOffsetHeader] != "1" || hs[client.DeadLetterPartitionHeader] != "0" || hs[client.DeadLetterErrorHeader] == "" {
			t.Errorf("dead letter: key %q value %q headers %v", m.Key, m.Value, hs)
		}
	})
}

// TestStandalonePartitionsAndOffset: a standalone consumer reads the
// partitions it lists from an offset.
func TestStandalonePartitionsAndOffset(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "t", 3, nil)
	p := mustProducer(t, ctx, srv.Conn, "t", primitive.Null(), primitive.Int64(), client.AutoRegister())
	for part := range int32(3) {
		for i := range 4 {
			if _, err := p.Produce(ctx, struct{}{}, int64(part)*100+int64(i), client.ToPartition(part)); err != nil {
				t.Fatal(err)
			}
		}
	}
	c := mustConsumer(t, srv.Conn, "t", primitive.Null(), primitive.Int64(), client.Partitions(0, 2), client.FromOffset(2))
	got := map[int64]bool{}
	for _, m := range readN(t, ctx, c, 4) {
		got[m.Value] = true
	}
	if diff := cmp.Diff(map[int64]bool{2: true, 3: true, 202: true, 203: true}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestGroupConsumer: two group members share the partitions, commit after
// the handler, and a new member resumes after the committed offsets. It
// needs the broker's GroupService; until that lands it is skipped.
func TestGroupConsumer(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "orders", 2, nil)
	p := mustProducer(t, ctx, srv.Conn, "orders", primitive.String(), avro.Must[avroOrderV1](orderV1), client.AutoRegister())
	for i := range 10 {
		id := strconv.Itoa(i)
		if _, err := p.Produce(ctx, id, avroOrderV1{ID: id, Amount: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	newMember := func() *client.Consumer[string, avroOrderV1] {
		return mustConsumer(t, srv.Conn, "orders", primitive.String(), avro.Must[avroOrderV1](orderV1), client.Group("billing"), client.FromEarliest())
	}
	seen := map[string]bool{}
	c := newMember()
	for m, err := range c.All(ctx) {
		if connect.CodeOf(err) == connect.CodeUnimplemented {
			t.Skipf("the broker has no GroupService yet: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		seen[m.Key] = true
		if len(seen) == 6 {
			break // the 6th record is not committed: its body ended the loop
		}
	}
	// The next member starts after the 5 committed records... per partition.
	rest := 0
	for m, err := range newMember().All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		seen[m.Key] = true
		rest++
		if len(seen) == 10 {
			break
		}
	}
	if len(seen) != 10 || rest > 5 {
		t.Errorf("seen %d records, the second member read %d (want 10 and at most 5)", len(seen), rest)
	}
}

// committed returns the group's committed offsets of topic by partition.
func committed(t *testing.T, ctx context.Context, conn *client.Conn, group string) map[int32]int64 {
	t.Helper()
	res, err := conn.Groups().FetchOffsets(ctx, connect.NewRequest(&brokerv1.FetchOffsetsRequest{Group: group}))
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	for _, o := range res.Msg.GetOffsets() {
		out[o.GetPartition()] = o.GetOffset()
	}
	return out
}

// TestGroupMembersShareAndCommit: two members of one group read every
// record between them and commit what they handled; a member that joins
// afterwards resumes exactly after the committed offsets. (Which offsets
// are committed when the two stop depends on rebalance timing: a partition
// handed over keeps its last commit, and its new owner re-reads from there.)
func TestGroupMembersShareAndCommit(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "events", 4, nil)
	p := mustProducer(t, ctx, srv.Conn, "events", primitive.String(), primitive.Int64(), client.AutoRegister())
	const n = 40
	ends := map[int32]int64{}
	for i := range n {
		ack, err := p.Produce(ctx, strconv.Itoa(i), int64(i))
		if err != nil {
			t.Fatal(err)
		}
		ends[ack.Partition] = max(ends[ack.Partition], ack.Offset+1)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var mu sync.Mutex
	seen := map[int64]bool{}
	errs := make(chan error, 2)
	for range 2 {
		c := mustConsumer(t, srv.Conn, "events", primitive.String(), primitive.Int64(), client.Group("g"), client.FromEarliest())
		go func() {
			errs <- c.Run(runCtx, func(_ context.Context, m client.Message[string, int64]) error {
				mu.Lock()
				defer mu.Unlock()
				seen[m.Value] = true
				if len(seen) == n {
					stop()
				}
				return nil
			})
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			if connect.CodeOf(err) == connect.CodeUnimplemented {
				t.Skipf("the broker has no GroupService yet: %v", err)
			}
			t.Fatal(err)
		}
	}
	if len(seen) != n {
		t.Fatalf("seen %d records, want %d", len(seen), n)
	}
	got := committed(t, ctx, srv.Conn, "g")
	remaining := 0
	for part, end := range ends {
		if got[part] > end {
			t.Errorf("partition %d: committed %d beyond its end %d", part, got[part], end)
		}
		remaining += int(end - got[part])
	}
	if remaining == 0 {
		return
	}
	late := mustConsumer(t, srv.Conn, "events", primitive.String(), primitive.Int64(), client.Group("g"), client.FromEarliest())
	for _, m := range readN(t, ctx, late, remaining) {
		if m.Offset < got[m.Partition] {
			t.Errorf("the new member re-read partition %d offset %d, committed at %d", m.Partition, m.Offset, got[m.Partition])
		}
	}
}

// TestManualCommit: with ManualCommit nothing is committed until Commit.
func TestManualCommit(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "t", 1, nil)
	p := mustProducer(t, ctx, srv.Conn, "t", primitive.Null(), primitive.Int64(), client.AutoRegister())
	for i := range 3 {
		if _, err := p.Produce(ctx, struct{}{}, int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	c := mustConsumer(t, srv.Conn, "t", primitive.Null(), primitive.Int64(), client.Group("m"), client.FromEarliest(), client.ManualCommit())
	var msgs []client.Message[struct{}, int64]
	for m, err := range c.All(ctx) {
		if err != nil {
			if connect.CodeOf(err) == connect.CodeUnimplemented {
				t.Skipf("the broker has no GroupService yet: %v", err)
			}
			t.Fatal(err)
		}
		msgs = append(msgs, m)
		if len(msgs) == 2 {
			// Commit while still a member: the iteration holds the stream.
			if err := c.Commit(ctx, msgs...); err != nil {
				t.Fatal(err)
			}
		}
		if len(msgs) == 3 {
			break
		}
	}
	if got := committed(t, ctx, srv.Conn, "m"); got[0] != 2 {
		t.Errorf("committed %v, want partition 0 at 2", got)
	}
	standalone := mustConsumer(t, srv.Conn, "t", primitive.Null(), primitive.Int64())
	if err := standalone.Commit(ctx, msgs[0]); err == nil {
		t.Error("standalone Commit succeeded")
	}
}
