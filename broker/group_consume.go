package broker

// Consume bundles group membership and delivery for simple clients.
//
// The stream joins the group as a managed member: the stream's life is its
// liveness, so it never times out while open, and the server heartbeats for
// it whenever the coordinator changes its assignment. The first message is
// a ConsumeAssignment (member id, epoch, partitions); another follows every
// change. Commits go through CommitOffsets with that member id and the
// latest epoch announced.
//
// Each newly assigned partition starts at the group's committed offset, or,
// without one (or when it lies outside the stored range), at the request's
// auto offset reset: latest (default) or earliest.
//
// Flow control: one goroutine, the handler's, reads one chunk of one
// partition at a time (round-robin) and hands it to the blocking Send;
// nothing is read ahead. Between chunks it looks for assignment changes, so
// a revoked partition is never delivered again once the change is seen, and
// only after that does the stream tell the coordinator it let go of it: a
// partition is never delivered by two streams at once.
//
// Records reach binary protobuf clients on the fast read path of wire.go:
// each chunk is encoded from the log's read buffer straight into the
// ConsumeResponse bytes (wireConsumeHandler); JSON clients, and
// ConsumeHandlers of other packages, get decoded Records. Both paths read
// the same chunks at the same points of the loop.
//
// Closing the stream leaves the group; a static member (instance id) whose
// stream closes keeps its partitions for one session timeout instead, so a
// restart takes them back without a rebalance.
//
// Refused: a bad group id, subscription or max_bytes (InvalidArgument). The
// stream ends with Unavailable when the broker drains for shutdown, and with
// NotFound when the member is fenced (a static member's newer incarnation).

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/broker/internal/group"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// Consume limits.
const (
	DefaultConsumeMaxBytes = 1 << 20
	MaxConsumeMaxBytes     = 16 << 20
)

// ConsumeRequest is what Consume joins and streams.
type ConsumeRequest struct {
	Group string
	Sub   GroupSubscription
	// Earliest starts partitions without a usable committed offset at the
	// log start offset; false starts them at the high watermark.
	Earliest bool
	// MaxBytes caps one chunk; 0 means DefaultConsumeMaxBytes.
	MaxBytes int
}

// ConsumeHandler receives a Consume stream's events, on Consume's
// goroutine. An error from either method ends the stream with that error.
type ConsumeHandler interface {
	// Assigned announces the member id, epoch and partitions.
	Assigned(memberID string, epoch int32, parts []TopicPartition) error
	// Records delivers records of one partition in offset order; they are
	// the callee's to keep.
	Records(tp TopicPartition, hwm int64, recs []Record) error
}

// cpart is one partition a Consume stream delivers.
type cpart struct {
	tp  TopicPartition
	t   *topic
	pos int64
	// dead: the topic went away; the next assignment drops the partition.
	dead bool
}

// Consume joins the group and streams until ctx ends, the broker drains or
// h fails; then it leaves the group. It returns ctx.Err() when ctx ends.
func (b *Broker) Consume(ctx context.Context, req ConsumeRequest, h ConsumeHandler) (err error) {
	if err := ValidateGroupID(req.Group); err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	if req.MaxBytes < 0 || req.MaxBytes > MaxConsumeMaxBytes {
		return invalidf("consume group %s: max_bytes %d: want 0 (default %d) to %d", req.Group, req.MaxBytes, DefaultConsumeMaxBytes, MaxConsumeMaxBytes)
	}
	if req.MaxBytes == 0 {
		req.MaxBytes = DefaultConsumeMaxBytes
	}
	sub := req.Sub
	res, err := b.heartbeat(ctx, GroupHeartbeatRequest{Group: req.Group, Sub: &sub}, true)
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	memberID, epoch := res.MemberID, res.Epoch
	defer func() {
		// ctx is over: leave with a context of our own.
		now, topics := b.cfg.Now(), b.groupTopics()
		b.groupDo(context.Background(), func(s *group.State) {
			if sub.InstanceID != "" {
				s.Unmanage(now, req.Group, memberID)
			} else {
				s.Leave(now, topics, req.Group, memberID) // unknown: already gone
			}
		})
	}()
	wake, unwatch, err := b.groups.coord.Watch(ctx, req.Group, memberID)
	if err != nil {
		return err
	}
	defer unwatch()

	var parts []*cpart // sorted by topic, partition
	// apply makes parts follow an assignment: revoked partitions are
	// dropped (nothing of theirs is in flight: this goroutine sends) and new
	// ones start at the committed offset or the reset position.
	apply := func(assignment []TopicPartition) (revoked bool, err error) {
		keep := parts[:0]
		for _, cp := range parts {
			if slices.Contains(assignment, cp.tp) {
				keep = append(keep, cp)
			} else {
				revoked = true
			}
		}
		parts = keep
		var added []TopicPartition
		for _, tp := range assignment {
			if !slices.ContainsFunc(parts, func(cp *cpart) bool { return cp.tp == tp }) {
				added = append(added, tp)
			}
		}
		if len(added) > 0 {
			committed, err := b.FetchOffsets(ctx, req.Group, added)
			if err != nil {
				return revoked, err
			}
			for _, tp := range added {
				cp := &cpart{tp: tp, pos: -1}
				for _, oc := range committed {
					if oc.Topic == tp.Topic && oc.Partition == tp.Partition {
						cp.pos = oc.Offset
					}
				}
				b.startConsumePart(cp, req.Earliest)
				parts = append(parts, cp)
			}
			slices.SortFunc(parts, func(x, y *cpart) int {
				if x.tp.Topic != y.tp.Topic {
					if x.tp.Topic < y.tp.Topic {
						return -1
					}
					return 1
				}
				return int(x.tp.Partition) - int(y.tp.Partition)
			})
		}
		return revoked, nil
	}
	owned := func() []TopicPartition {
		out := make([]TopicPartition, len(parts))
		for i, cp := range parts {
			out[i] = cp.tp
		}
		return out
	}
	if _, err := apply(res.Assignment); err != nil {
		return err
	}
	announced := false
	var lastSent []TopicPartition
	var lastEpoch int32
	refresh := true // the Watch began after the join: look once more
	cursor := 0
	cases := []reflect.SelectCase{
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(b.drain)},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(wake)},
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		select {
		case <-b.drain:
			return fmt.Errorf("consume group %s: the server is shutting down: %w", req.Group, ErrClosed)
		case <-wake:
			refresh = true
		default:
		}
		for refresh {
			refresh = false
			res, err := b.heartbeat(ctx, GroupHeartbeatRequest{
				Group: req.Group, MemberID: memberID, Epoch: epoch,
				Owned: owned(), OwnedReported: true,
			}, true)
			if err != nil {
				return fmt.Errorf("consume: %w", err)
			}
			epoch = res.Epoch
			revoked, err := apply(res.Assignment)
			if err != nil {
				return err
			}
			// Revoked partitions are no longer delivered: say so at once,
			// so that their new owners get them.
			refresh = revoked
		}
		if cur := owned(); !announced || epoch != lastEpoch || !slices.Equal(cur, lastSent) {
			if err := h.Assigned(memberID, epoch, cur); err != nil {
				return err
			}
			announced, lastEpoch, lastSent = true, epoch, cur
		}

		// One pass: at most one chunk per partition, starting one further
		// each pass so that no partition starves the others.
		progressed := false
		cases = cases[:3]
		for k := range parts {
			cp := parts[(cursor+k)%len(parts)]
			if cp.dead {
				continue
			}
			p := cp.t.parts[cp.tp.Partition]
			// Notify before looking at the high watermark, so an append
			// between the look and the wait still wakes us.
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(p.Notify())})
			if cp.pos >= p.HighWatermark() {
				continue
			}
			n, hwm, send, err := b.readConsumeChunk(cp, req.MaxBytes, h)
			if err != nil {
				if b.stillLive(cp.t) != nil {
					cp.dead = true // deleted: the coordinator drops it soon
					continue
				}
				if errors.Is(err, ErrOffsetOutOfRange) {
					// Retention overtook us: apply the reset policy.
					cp.pos = -1
					b.startConsumePart(cp, req.Earliest)
					progressed = true
					continue
				}
				return fmt.Errorf("consume group %s: %w", req.Group, err)
			}
			if n == 0 {
				cp.pos = hwm // compacted away up to the end
				continue
			}
			if err := send(); err != nil {
				return err
			}
			progressed = true
			// A change of assignment is honoured between chunks.
			select {
			case <-wake:
				refresh = true
			default:
			}
			if refresh {
				break
			}
		}
		if len(parts) > 0 {
			cursor = (cursor + 1) % len(parts)
		}
		if progressed || refresh {
			continue
		}
		if b.waitHook != nil {
			b.waitHook()
		}
		chosen, _, _ := reflect.Select(cases)
		switch chosen {
		case 0:
			return ctx.Err()
		case 1:
			return fmt.Errorf("consume group %s: the server is shutting down: %w", req.Group, ErrClosed)
		case 2:
			refresh = true
		}
		for _, cp := range parts {
			if !cp.dead && b.stillLive(cp.t) != nil {
				cp.dead = true
			}
		}
	}
}

// readConsumeChunk reads one chunk of cp from cp.pos, at most maxBytes,
// and advances cp.pos past it. It returns how many records it holds, the
// high watermark, and send, which hands the chunk to h (once; only when n >
// 0). A wireConsumeHandler gets the chunk encoded straight from the log's
// read buffer; any other handler gets Records.
func (b *Broker) readConsumeChunk(cp *cpart, maxBytes int, h ConsumeHandler) (n int, hwm int64, send func() error, err error) {
	if wh, ok := h.(wireConsumeHandler); ok {
		c := getConsumeChunk(cp.tp.Topic, cp.tp.Partition)
		hwm, _, err := b.readWireAt(cp.t, cp.tp.Partition, cp.pos, MaxFetchMaxRecords, maxBytes, c)
		if err != nil || c.n == 0 {
			putChunk(c)
			return 0, hwm, nil, err
		}
		cp.pos = c.last + 1
		return c.n, hwm, func() error {
			defer putChunk(c)
			return wh.wireRecords(c.finishConsume(cp.tp.Topic, hwm))
		}, nil
	}
	chunk, err := b.readAt(cp.t, cp.tp.Partition, cp.pos, MaxFetchMaxRecords, maxBytes)
	if err != nil || len(chunk.Records) == 0 {
		return 0, chunk.HighWatermark, nil, err
	}
	cp.pos = chunk.Records[len(chunk.Records)-1].Offset + 1
	return len(chunk.Records), chunk.HighWatermark, func() error {
		return h.Records(cp.tp, chunk.HighWatermark, chunk.Records)
	}, nil
}

// wireConsumeHandler is a ConsumeHandler that takes records as the wire
// bytes of a whole ConsumeResponse (wire.go) instead of Records: the
// Connect handler for binary protobuf clients.
type wireConsumeHandler interface {
	ConsumeHandler
	// wireRecords sends one ConsumeResponse; the bytes are valid only
	// during the call.
	wireRecords(msg []byte) error
}

// startConsumePart resolves cp's topic and, when cp.pos is -1 or outside
// the stored range, its start position by the reset policy.
func (b *Broker) startConsumePart(cp *cpart, earliest bool) {
	t, err := b.lookup(cp.tp.Topic)
	if err != nil || int(cp.tp.Partition) >= len(t.parts) {
		cp.dead = true
		return
	}
	cp.t = t
	p := t.parts[cp.tp.Partition]
	lso, hwm := p.LogStartOffset(), p.HighWatermark()
	if cp.pos >= lso && cp.pos <= hwm {
		return
	}
	if earliest {
		cp.pos = lso
	} else {
		cp.pos = p.LastStableOffset() // read_committed (txn.go)
	}
}

// consumeSender adapts a Connect stream to ConsumeHandler.
type consumeSender struct {
	stream *connect.ServerStream[brokerv1.ConsumeResponse]
	// sent is set once anything was sent.
	sent *bool
}

// Assigned sends a ConsumeAssignment.
func (c consumeSender) Assigned(memberID string, epoch int32, parts []TopicPartition) error {
	*c.sent = true
	return c.stream.Send(&brokerv1.ConsumeResponse{Event: &brokerv1.ConsumeResponse_Assignment{Assignment: &brokerv1.ConsumeAssignment{
		MemberId: memberID, MemberEpoch: epoch, Partitions: tpsToProto(parts),
	}}})
}

// Records sends a ConsumeRecords; Send blocks while the client is slow.
func (c consumeSender) Records(tp TopicPartition, hwm int64, recs []Record) error {
	*c.sent = true
	return c.stream.Send(&brokerv1.ConsumeResponse{Event: &brokerv1.ConsumeResponse_Records{Records: &brokerv1.ConsumeRecords{
		Topic: tp.Topic, Partition: tp.Partition, Records: recordsToProto(tp.Partition, recs), HighWatermark: hwm,
	}}})
}

// wireConsumeSender is consumeSender for binary protobuf clients: each
// chunk is sent as the unknown fields of one reused, otherwise empty
// ConsumeResponse, which connect's protobuf codec writes out unchanged.
type wireConsumeSender struct {
	consumeSender
	msg *brokerv1.ConsumeResponse
}

// wireRecords sends one pre-encoded ConsumeResponse.
func (c *wireConsumeSender) wireRecords(msg []byte) error {
	*c.sent = true
	m := c.msg.ProtoReflect()
	m.SetUnknown(msg)
	err := c.stream.Send(c.msg)
	// Send has written the bytes out; they go back to the pool.
	m.SetUnknown(nil)
	return err
}

// Consume is the Connect handler.
func (s groupService) Consume(ctx context.Context, req *connect.Request[brokerv1.ConsumeRequest], stream *connect.ServerStream[brokerv1.ConsumeResponse]) error {
	m := req.Msg
	sub, err := subFromProto(m.GetGroup(), m.GetSubscription())
	if err != nil {
		return s.b.groupError(req.Spec().Procedure, err)
	}
	if sub == nil {
		return s.b.groupError(req.Spec().Procedure, invalidf("consume group %s: subscription is required", m.GetGroup()))
	}
	cr := ConsumeRequest{Group: m.GetGroup(), Sub: *sub, MaxBytes: int(m.GetMaxBytes())}
	switch m.GetAutoOffsetReset() {
	case brokerv1.OffsetReset_OFFSET_RESET_UNSPECIFIED, brokerv1.OffsetReset_OFFSET_RESET_LATEST:
	case brokerv1.OffsetReset_OFFSET_RESET_EARLIEST:
		cr.Earliest = true
	default:
		return s.b.groupError(req.Spec().Procedure, invalidf("consume group %s: auto_offset_reset %d: want OFFSET_RESET_EARLIEST or OFFSET_RESET_LATEST", m.GetGroup(), m.GetAutoOffsetReset()))
	}
	sent := false
	var h ConsumeHandler = consumeSender{stream, &sent}
	if wireCodec(req.Header()) {
		h = &wireConsumeSender{consumeSender{stream, &sent}, new(brokerv1.ConsumeResponse)}
	}
	if err := s.b.Consume(ctx, cr, h); err != nil {
		if ctx.Err() != nil {
			return nil // the client went away
		}
		if !sent {
			// Nothing sent yet: when another node coordinates the group
			// (cluster mode) its stream is relayed whole
			// (group_forward.go).
			return s.forwardConsume(ctx, req, stream, err)
		}
		return s.b.groupError(req.Spec().Procedure, err)
	}
	return nil
}
