package broker

// ListOffsets answers, per partition, the earliest stored offset, the high
// watermark, or the first offset whose timestamp is at or after a time
// (with that record's timestamp; the high watermark and no timestamp when
// there is none).
//
// Refused: unknown topic (NotFound); an unknown or repeated partition, or a
// request with neither spec nor timestamp (InvalidArgument).

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// OffsetQuery says which offset ListOffsets answers.
type OffsetQuery int

// Offset queries.
const (
	OffsetEarliest OffsetQuery = iota + 1
	OffsetLatest
	// OffsetForTime asks for the first offset at or after a timestamp.
	OffsetForTime
	// OffsetLastStable asks for the last stable offset: the first offset
	// of the oldest open transaction, else the high watermark (txn.go).
	OffsetLastStable
)

// PartitionOffset is ListOffsets' answer for one partition.
type PartitionOffset struct {
	Partition int32
	Offset    int64
	// Timestamp is the record's (Unix ms) for OffsetForTime when a record
	// was found; otherwise HasTimestamp is false.
	Timestamp    int64
	HasTimestamp bool
}

// ListOffsets answers q for partitions (nil or empty means all, in order).
// ts is Unix milliseconds, used by OffsetForTime.
func (b *Broker) ListOffsets(topicName string, partitions []int32, q OffsetQuery, ts int64) ([]PartitionOffset, error) {
	t, err := b.lookup(topicName)
	if err != nil {
		return nil, fmt.Errorf("list offsets: %w", err)
	}
	if len(partitions) == 0 {
		partitions = make([]int32, len(t.parts))
		for i := range partitions {
			partitions[i] = int32(i)
		}
	}
	seen := make(map[int32]bool, len(partitions))
	out := make([]PartitionOffset, len(partitions))
	for i, pi := range partitions {
		p, err := t.partition(pi)
		if err != nil {
			return nil, fmt.Errorf("list offsets: %w", err)
		}
		if seen[pi] {
			return nil, invalidf("list offsets %s: partition %d is listed twice", topicName, pi)
		}
		seen[pi] = true
		po := PartitionOffset{Partition: pi}
		switch q {
		case OffsetEarliest:
			po.Offset = p.LogStartOffset()
		case OffsetLatest:
			po.Offset = p.HighWatermark()
		case OffsetLastStable:
			po.Offset = p.LastStableOffset()
		case OffsetForTime:
			off, err := p.OffsetForTime(ts)
			if err != nil {
				return nil, fmt.Errorf("list offsets %s/%d: timestamp %d: %w", topicName, pi, ts, err)
			}
			po.Offset = off
			if off < p.HighWatermark() {
				if recs, err := p.Read(off, 1, 1); err == nil && len(recs) > 0 {
					po.Offset = recs[0].Offset
					po.Timestamp, po.HasTimestamp = recs[0].Timestamp, true
				}
			}
		default:
			return nil, invalidf("list offsets %s: unknown query %d", topicName, q)
		}
		out[i] = po
	}
	return out, nil
}

// ListOffsets is the Connect handler.
func (s brokerService) ListOffsets(ctx context.Context, req *connect.Request[brokerv1.ListOffsetsRequest]) (*connect.Response[brokerv1.ListOffsetsResponse], error) {
	m := req.Msg
	var q OffsetQuery
	var ts int64
	switch x := m.GetQuery().(type) {
	case *brokerv1.ListOffsetsRequest_Spec:
		switch x.Spec {
		case brokerv1.OffsetSpec_OFFSET_SPEC_EARLIEST:
			q = OffsetEarliest
		case brokerv1.OffsetSpec_OFFSET_SPEC_LATEST:
			q = OffsetLatest
		default:
			return nil, s.b.rpcError(req.Spec().Procedure, invalidf("list offsets %s: spec %v: want OFFSET_SPEC_EARLIEST or OFFSET_SPEC_LATEST", m.GetTopic(), x.Spec))
		}
	case *brokerv1.ListOffsetsRequest_Timestamp:
		if x.Timestamp.CheckValid() != nil {
			return nil, s.b.rpcError(req.Spec().Procedure, invalidf("list offsets %s: timestamp (seconds %d, nanos %d) is not a valid time between years 1 and 9999", m.GetTopic(), x.Timestamp.GetSeconds(), x.Timestamp.GetNanos()))
		}
		q, ts = OffsetForTime, x.Timestamp.AsTime().UnixMilli()
	default:
		return nil, s.b.rpcError(req.Spec().Procedure, invalidf("list offsets %s: set spec or timestamp", m.GetTopic()))
	}
	offs, err := s.b.ListOffsets(m.GetTopic(), m.GetPartitions(), q, ts)
	if err != nil {
		return nil, s.b.rpcError(req.Spec().Procedure, err)
	}
	out := make([]*brokerv1.PartitionOffset, len(offs))
	for i, o := range offs {
		out[i] = &brokerv1.PartitionOffset{Partition: o.Partition, Offset: o.Offset}
		if o.HasTimestamp {
			out[i].Timestamp = timestamppb.New(timeFromMs(o.Timestamp))
		}
	}
	return connect.NewResponse(&brokerv1.ListOffsetsResponse{Offsets: out}), nil
}
