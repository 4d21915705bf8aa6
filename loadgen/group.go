package loadgen

// Consume with a Group (`sluice bench consume --group G --consumers N`):
// the catch-up read of a consume run, done by N members of consumer group G through
// GroupService.Consume instead of N plain subscriptions. The broker assigns
// the partitions (the first member gets them all, then cooperative
// rebalances spread them as the others join, all inside the measurement),
// and every member commits its positions once a second, as a real group
// consumer does. G is reset to the earliest offsets first (it must have no
// members), so every run reads the whole backlog. The summary is bench
// consume's. As for plain consumers, members count records by walking each
// ConsumeResponse's wire form (groupCountingCodec) unless --decode, so the
// two are compared on equal client costs.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// benchCommitInterval is how often a bench group member commits.
const benchCommitInterval = time.Second

// catchUp runs bench consume's measured read: plain subscriptions, or group
// members with --group.
func (r *benchRun) catchUp(ctx context.Context, ends map[int32]int64) error {
	if r.cfg.Group == "" {
		return r.runConsumers(ctx, ends, false)
	}
	return r.runGroupConsumers(ctx, ends)
}

// groupProgress tracks how far the group got in each partition, whoever
// owned it: the run ends when every partition reached its end, and records
// delivered again after a rebalance (at least once) are not counted twice.
type groupProgress struct {
	mu        sync.Mutex
	next      map[int32]int64 // partition -> first offset not yet delivered
	remaining map[int32]int64 // partition -> end still to reach
	again     int64           // records delivered more than once
	done      chan struct{}
}

// recSummary is what the bench needs of one delivered record.
type recSummary struct {
	offset int64
	bytes  int64 // key and value
}

// summarise appends the summaries of decoded records to dst.
func summarise(dst []recSummary, recs []*brokerv1.Record) []recSummary {
	for _, rec := range recs {
		dst = append(dst, recSummary{rec.GetOffset(), int64(len(rec.GetValue()) + len(rec.GetKey()))})
	}
	return dst
}

// delivered notes a chunk of partition p (at least one record, in offset
// order) and returns how many of its records, and bytes, are new; done
// closes once every partition reached its end.
func (g *groupProgress) delivered(p int32, recs []recSummary) (n, bytes int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, rec := range recs {
		if rec.offset < g.next[p] {
			g.again++
			continue
		}
		n++
		bytes += rec.bytes
	}
	g.next[p] = max(g.next[p], recs[len(recs)-1].offset+1)
	if end, ok := g.remaining[p]; ok && g.next[p] >= end {
		delete(g.remaining, p)
		if len(g.remaining) == 0 {
			close(g.done)
		}
	}
	return n, bytes
}

func (r *benchRun) runGroupConsumers(ctx context.Context, ends map[int32]int64) error {
	c := r.cfg
	admin := brokerv1connect.NewGroupServiceClient(c.httpClient(), r.base, c.clientOptions(r.base)...)
	if _, err := admin.ResetOffsets(ctx, connect.NewRequest(&brokerv1.ResetOffsetsRequest{
		Group: c.Group, Topic: c.Topic, To: &brokerv1.ResetOffsetsRequest_Spec{Spec: brokerv1.OffsetSpec_OFFSET_SPEC_EARLIEST},
	})); err != nil {
		return fmt.Errorf("reset group %s to earliest: %w", c.Group, err)
	}
	prog := &groupProgress{next: map[int32]int64{}, remaining: map[int32]int64{}, done: make(chan struct{})}
	defer func() {
		fmt.Fprintf(r.progress, "group %s: %s delivered again after rebalances (not counted)\n", c.Group, plural(prog.again, "record"))
	}()
	for p, end := range ends {
		if end > 0 {
			prog.remaining[p] = end
		}
	}
	if len(prog.remaining) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, c.Consumers)
	var wg sync.WaitGroup
	for range c.Consumers {
		// As runConsumers: count by walking the wire form unless --decode.
		codec, opts := (*groupCountingCodec)(nil), c.clientOptions(r.base)
		if !c.Decode {
			codec = new(groupCountingCodec)
			opts = c.clientOptions(r.base, connect.WithCodec(codec))
		}
		client := brokerv1connect.NewGroupServiceClient(c.httpClient(), r.base, opts...)
		wg.Go(func() {
			if err := r.groupMember(ctx, client, codec, prog); err != nil && ctx.Err() == nil {
				errc <- err
				cancel()
			}
		})
	}
	select {
	case <-prog.done:
	case <-ctx.Done():
	}
	cancel()
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}
	select {
	case <-prog.done:
		return nil
	default:
		return ctx.Err()
	}
}

// groupMember is one member: a Consume stream that counts records and
// commits its positions every benchCommitInterval. With codec (the
// client's codec), records events arrive without records and are read from
// the codec's summary instead.
func (r *benchRun) groupMember(ctx context.Context, client brokerv1connect.GroupServiceClient, codec *groupCountingCodec, prog *groupProgress) error {
	c := r.cfg
	st, err := client.Consume(ctx, connect.NewRequest(&brokerv1.ConsumeRequest{
		Group:           c.Group,
		Subscription:    &brokerv1.Subscription{Topics: []string{c.Topic}},
		AutoOffsetReset: brokerv1.OffsetReset_OFFSET_RESET_EARLIEST,
	}))
	if err != nil {
		return err
	}
	defer st.Close()
	var memberID string
	var epoch int32
	pos := map[int32]int64{}
	lastCommit := time.Now()
	var decoded []recSummary // reused: the summaries of a decoded chunk
	commit := func() error {
		if len(pos) == 0 {
			return nil
		}
		req := &brokerv1.CommitOffsetsRequest{Group: c.Group, MemberId: memberID, MemberEpoch: epoch}
		for p, off := range pos {
			req.Offsets = append(req.Offsets, &brokerv1.OffsetCommit{Topic: c.Topic, Partition: p, Offset: off})
		}
		_, err := client.CommitOffsets(ctx, connect.NewRequest(req))
		if connect.CodeOf(err) == connect.CodeFailedPrecondition {
			err = nil // a rebalance moved on; the next commit catches up
		}
		clear(pos)
		return err
	}
	for st.Receive() {
		switch ev := st.Msg().GetEvent().(type) {
		case *brokerv1.ConsumeResponse_Assignment:
			// Positions of partitions we lost cannot be committed any more.
			if err := commit(); err != nil {
				return err
			}
			memberID, epoch = ev.Assignment.GetMemberId(), ev.Assignment.GetMemberEpoch()
		case *brokerv1.ConsumeResponse_Records:
			var recs []recSummary
			if codec != nil {
				recs = codec.recs
			} else {
				decoded = summarise(decoded[:0], ev.Records.GetRecords())
				recs = decoded
			}
			if len(recs) == 0 {
				continue
			}
			n, bytes := prog.delivered(ev.Records.GetPartition(), recs)
			if r.measuring.Load() {
				r.consumed.Add(n)
				r.consBytes.Add(bytes)
			}
			pos[ev.Records.GetPartition()] = recs[len(recs)-1].offset + 1
			if time.Since(lastCommit) >= benchCommitInterval {
				if err := commit(); err != nil {
					return err
				}
				lastCommit = time.Now()
			}
		}
	}
	if err := st.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// groupCountingCodec is countingCodec (wire.go) for one member's
// Consume stream: a ConsumeResponse carrying records is walked in its wire
// form, every record's framing checked, and summarised into recs (offset
// and key plus value bytes per record, reusing the slice); the message
// gets the event with topic, partition and high watermark but no records.
// Any other message (an assignment) is unmarshalled. It serves one stream:
// recs is valid until the next Receive.
type groupCountingCodec struct {
	recs []recSummary
}

// Name is "proto": the codec replaces connect's binary protobuf codec.
func (c *groupCountingCodec) Name() string { return "proto" }

// Marshal marshals requests as connect's protobuf codec does.
func (c *groupCountingCodec) Marshal(m any) ([]byte, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("bench codec: %T is not a protobuf message", m)
	}
	return proto.Marshal(pm)
}

// Unmarshal summarises a records event into c.recs; anything else is
// unmarshalled.
func (c *groupCountingCodec) Unmarshal(data []byte, m any) error {
	pm, ok := m.(proto.Message)
	if !ok {
		return fmt.Errorf("bench codec: %T is not a protobuf message", m)
	}
	cr, ok := m.(*brokerv1.ConsumeResponse)
	if !ok || !onlyConsumeRecords(data) {
		return proto.Unmarshal(data, pm)
	}
	ev := &brokerv1.ConsumeRecords{}
	recs, err := walkConsumeResponse(data, ev, c.recs[:0])
	if err != nil {
		return err
	}
	c.recs = recs
	proto.Reset(cr)
	cr.Event = &brokerv1.ConsumeResponse_Records{Records: ev}
	return nil
}

// onlyConsumeRecords reports whether every top-level field of a
// ConsumeResponse's wire form is the records event (field 2). Malformed
// input answers true: walkConsumeResponse says what is wrong.
func onlyConsumeRecords(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return true
		}
		if num != 2 || typ != protowire.BytesType {
			return false
		}
		b = b[n:]
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return true
		}
		b = b[n:]
	}
	return true
}

// walkConsumeResponse summarises the records of the wire form of a
// ConsumeResponse whose fields are all the records event, appending to
// recs, and sets ev's topic, partition and high watermark. A repeated
// event merges, as proto.Unmarshal merges it.
func walkConsumeResponse(b []byte, ev *brokerv1.ConsumeRecords, recs []recSummary) ([]recSummary, error) {
	for len(b) > 0 {
		_, _, n := protowire.ConsumeTag(b)
		if n < 0 {
			return recs, fmt.Errorf("ConsumeResponse: %w: %v", errWire, protowire.ParseError(n))
		}
		b = b[n:]
		body, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return recs, fmt.Errorf("ConsumeResponse records: %w: %v", errWire, protowire.ParseError(n))
		}
		b = b[n:]
		var err error
		if recs, err = walkConsumeRecords(body, ev, recs); err != nil {
			return recs, err
		}
	}
	return recs, nil
}

// walkConsumeRecords walks the wire form of one ConsumeRecords.
func walkConsumeRecords(b []byte, ev *brokerv1.ConsumeRecords, recs []recSummary) ([]recSummary, error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return recs, fmt.Errorf("ConsumeRecords: %w: %v", errWire, protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return recs, fmt.Errorf("ConsumeRecords topic: %w: %v", errWire, protowire.ParseError(n))
			}
			ev.Topic = string(v)
			b = b[n:]
		case num == 3 && typ == protowire.BytesType:
			rec, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return recs, fmt.Errorf("ConsumeRecords record %d: %w: %v", len(recs), errWire, protowire.ParseError(n))
			}
			off, kv, err := walkRecord(rec)
			if err != nil {
				return recs, fmt.Errorf("ConsumeRecords record %d: %w", len(recs), err)
			}
			recs = append(recs, recSummary{offset: off, bytes: kv})
			b = b[n:]
		case (num == 2 || num == 4) && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return recs, fmt.Errorf("ConsumeRecords field %d: %w: %v", num, errWire, protowire.ParseError(n))
			}
			if num == 2 {
				ev.Partition = int32(v)
			} else {
				ev.HighWatermark = int64(v)
			}
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return recs, fmt.Errorf("ConsumeRecords field %d: %w: %v", num, errWire, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	return recs, nil
}
