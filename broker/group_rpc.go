package broker

// GroupService's unary Connect handlers: they convert messages and map
// errors; the logic is in group.go. Consume is in group_consume.go.
//
// Supported: Heartbeat (join with member_epoch 0 and a subscription;
// heartbeat; report owned partitions), LeaveGroup, CommitOffsets (member
// commits at the current epoch, admin commits on empty groups),
// FetchOffsets, DescribeGroup (lag per partition and in total), ListGroups,
// DeleteGroup, ResetOffsets (earliest, latest, timestamp, explicit offset;
// force resets a group with members, see ResetOffsetsRequest.Force).
//
// Refused: an unknown group (NotFound; FetchOffsets of a group without
// commits answers none instead); an unknown or fenced member (NotFound,
// "unknown member"); a stale member epoch, or a commit of a partition the
// member does not own (FailedPrecondition, "stale member epoch"); a group
// with members for DeleteGroup, admin commits and ResetOffsets without
// force, and joining a group whose members use Kafka's classic protocol
// (FailedPrecondition); bad arguments (InvalidArgument, naming the
// group, member, topic and partition); an explicit reset offset outside the
// stored range (OutOfRange).

import (
	"context"
	"errors"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/sluicehq/sluice/broker/internal/group"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// groupService carries the GroupService handlers.
type groupService struct{ b *Broker }

// groupError maps group errors to Connect codes, the rest as rpcError does.
func (b *Broker) groupError(procedure string, err error) error {
	switch {
	case errors.Is(err, ErrNotCoordinator), errors.Is(err, ErrCoordinatorNotAvailable):
		// Cluster mode: another node coordinates the group, or none can
		// be found now; the message names the coordinator. Retryable.
		return connect.NewError(connect.CodeUnavailable, err)
	case errors.Is(err, ErrGroupNotFound), errors.Is(err, ErrUnknownMember):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, ErrStaleEpoch), errors.Is(err, ErrGroupNotEmpty), errors.Is(err, ErrInconsistentGroupProtocol):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, group.ErrInvalid):
		return connect.NewError(connect.CodeInvalidArgument, err)
	case errors.Is(err, group.ErrClosed):
		return connect.NewError(connect.CodeUnavailable, err)
	}
	return b.rpcError(procedure, err)
}

// subFromProto converts a subscription.
func subFromProto(groupID string, s *brokerv1.Subscription) (*GroupSubscription, error) {
	if s == nil {
		return nil, nil
	}
	sub := &GroupSubscription{Topics: s.GetTopics(), Regex: s.GetTopicRegex(), InstanceID: s.GetInstanceId()}
	switch s.GetAssignor() {
	case brokerv1.Assignor_ASSIGNOR_UNSPECIFIED:
	case brokerv1.Assignor_ASSIGNOR_UNIFORM:
		sub.Assignor = group.AssignorUniform
	case brokerv1.Assignor_ASSIGNOR_RANGE:
		sub.Assignor = group.AssignorRange
	default:
		return nil, invalidf("group %s: subscription.assignor %d is unknown; want ASSIGNOR_UNIFORM or ASSIGNOR_RANGE", groupID, s.GetAssignor())
	}
	if st := s.GetSessionTimeout(); st != nil {
		if st.CheckValid() != nil || st.AsDuration() <= 0 {
			return nil, invalidf("group %s: subscription.session_timeout (seconds %d, nanos %d) is not a positive duration", groupID, st.GetSeconds(), st.GetNanos())
		}
		sub.SessionTimeout = st.AsDuration()
	}
	return sub, nil
}

// tpsFromProto flattens partition lists.
func tpsFromProto(in []*brokerv1.TopicPartitions) []TopicPartition {
	var out []TopicPartition
	for _, tp := range in {
		for _, p := range tp.GetPartitions() {
			out = append(out, TopicPartition{Topic: tp.GetTopic(), Partition: p})
		}
	}
	return out
}

// tpsToProto groups sorted partitions by topic.
func tpsToProto(in []TopicPartition) []*brokerv1.TopicPartitions {
	var out []*brokerv1.TopicPartitions
	for _, tp := range in {
		if n := len(out); n > 0 && out[n-1].Topic == tp.Topic {
			out[n-1].Partitions = append(out[n-1].Partitions, tp.Partition)
			continue
		}
		out = append(out, &brokerv1.TopicPartitions{Topic: tp.Topic, Partitions: []int32{tp.Partition}})
	}
	return out
}

func offsetsToProto(in []OffsetCommit) []*brokerv1.OffsetCommit {
	out := make([]*brokerv1.OffsetCommit, len(in))
	for i, oc := range in {
		out[i] = &brokerv1.OffsetCommit{Topic: oc.Topic, Partition: oc.Partition, Offset: oc.Offset, Metadata: oc.Metadata}
	}
	return out
}

// Heartbeat is the Connect handler.
func (s groupService) Heartbeat(ctx context.Context, req *connect.Request[brokerv1.HeartbeatRequest]) (*connect.Response[brokerv1.HeartbeatResponse], error) {
	m := req.Msg
	sub, err := subFromProto(m.GetGroup(), m.GetSubscription())
	if err != nil {
		return nil, s.b.groupError(req.Spec().Procedure, err)
	}
	res, err := s.b.GroupHeartbeat(ctx, GroupHeartbeatRequest{
		Group: m.GetGroup(), MemberID: m.GetMemberId(), Epoch: m.GetMemberEpoch(), Sub: sub,
		Owned: tpsFromProto(m.GetOwned()), OwnedReported: m.GetOwnedReported(),
	})
	if err != nil {
		return forwardUnary(s, ctx, req, err, func(c brokerv1connect.GroupServiceClient) func(context.Context, *connect.Request[brokerv1.HeartbeatRequest]) (*connect.Response[brokerv1.HeartbeatResponse], error) {
			return c.Heartbeat
		})
	}
	return connect.NewResponse(&brokerv1.HeartbeatResponse{
		MemberId:          res.MemberID,
		MemberEpoch:       res.Epoch,
		Assignment:        tpsToProto(res.Assignment),
		HeartbeatInterval: durationpb.New(res.HeartbeatInterval),
	}), nil
}

// LeaveGroup is the Connect handler.
func (s groupService) LeaveGroup(ctx context.Context, req *connect.Request[brokerv1.LeaveGroupRequest]) (*connect.Response[brokerv1.LeaveGroupResponse], error) {
	if err := s.b.LeaveGroup(ctx, req.Msg.GetGroup(), req.Msg.GetMemberId()); err != nil {
		return forwardUnary(s, ctx, req, err, func(c brokerv1connect.GroupServiceClient) func(context.Context, *connect.Request[brokerv1.LeaveGroupRequest]) (*connect.Response[brokerv1.LeaveGroupResponse], error) {
			return c.LeaveGroup
		})
	}
	return connect.NewResponse(&brokerv1.LeaveGroupResponse{}), nil
}

// CommitOffsets is the Connect handler.
func (s groupService) CommitOffsets(ctx context.Context, req *connect.Request[brokerv1.CommitOffsetsRequest]) (*connect.Response[brokerv1.CommitOffsetsResponse], error) {
	m := req.Msg
	offs := make([]OffsetCommit, len(m.GetOffsets()))
	for i, oc := range m.GetOffsets() {
		offs[i] = OffsetCommit{Topic: oc.GetTopic(), Partition: oc.GetPartition(), Offset: oc.GetOffset(), Metadata: oc.GetMetadata()}
	}
	if err := s.b.CommitOffsets(ctx, m.GetGroup(), m.GetMemberId(), m.GetMemberEpoch(), offs); err != nil {
		return forwardUnary(s, ctx, req, err, func(c brokerv1connect.GroupServiceClient) func(context.Context, *connect.Request[brokerv1.CommitOffsetsRequest]) (*connect.Response[brokerv1.CommitOffsetsResponse], error) {
			return c.CommitOffsets
		})
	}
	return connect.NewResponse(&brokerv1.CommitOffsetsResponse{}), nil
}

// FetchOffsets is the Connect handler.
func (s groupService) FetchOffsets(ctx context.Context, req *connect.Request[brokerv1.FetchOffsetsRequest]) (*connect.Response[brokerv1.FetchOffsetsResponse], error) {
	var want []TopicPartition
	for _, tp := range req.Msg.GetPartitions() {
		if len(tp.GetPartitions()) == 0 {
			// A topic without partitions means all of them.
			_, n, ok := s.b.topicIdentity(tp.GetTopic())
			for p := range n {
				if ok {
					want = append(want, TopicPartition{Topic: tp.GetTopic(), Partition: p})
				}
			}
			continue
		}
		want = append(want, tpsFromProto([]*brokerv1.TopicPartitions{tp})...)
	}
	offs, err := s.b.FetchOffsets(ctx, req.Msg.GetGroup(), want)
	if err != nil {
		return forwardUnary(s, ctx, req, err, func(c brokerv1connect.GroupServiceClient) func(context.Context, *connect.Request[brokerv1.FetchOffsetsRequest]) (*connect.Response[brokerv1.FetchOffsetsResponse], error) {
			return c.FetchOffsets
		})
	}
	if len(req.Msg.GetPartitions()) > 0 && len(want) == 0 {
		offs = nil // only unknown topics were asked for
	}
	return connect.NewResponse(&brokerv1.FetchOffsetsResponse{Offsets: offsetsToProto(offs)}), nil
}

// DescribeGroup is the Connect handler.
func (s groupService) DescribeGroup(ctx context.Context, req *connect.Request[brokerv1.DescribeGroupRequest]) (*connect.Response[brokerv1.DescribeGroupResponse], error) {
	d, err := s.b.DescribeGroup(ctx, req.Msg.GetGroup())
	if err != nil {
		return forwardUnary(s, ctx, req, err, func(c brokerv1connect.GroupServiceClient) func(context.Context, *connect.Request[brokerv1.DescribeGroupRequest]) (*connect.Response[brokerv1.DescribeGroupResponse], error) {
			return c.DescribeGroup
		})
	}
	out := &brokerv1.DescribeGroupResponse{Group: d.Group, State: d.State, GroupEpoch: d.Epoch, Assignor: d.Assignor, TotalLag: d.TotalLag}
	for _, m := range d.Members {
		out.Members = append(out.Members, &brokerv1.MemberDescription{
			MemberId: m.ID, InstanceId: m.InstanceID, MemberEpoch: m.Epoch,
			Assignment: tpsToProto(m.Held), Target: tpsToProto(m.Target),
			Topics: m.Topics, TopicRegex: m.Regex,
		})
	}
	for _, p := range d.Partitions {
		out.Partitions = append(out.Partitions, &brokerv1.PartitionLag{
			Topic: p.Topic, Partition: p.Partition, CommittedOffset: p.Committed,
			LogStartOffset: p.LogStartOffset, HighWatermark: p.HighWatermark, Lag: p.Lag,
			Owner: p.Owner, Metadata: p.Metadata,
		})
	}
	return connect.NewResponse(out), nil
}

// ListGroups is the Connect handler.
func (s groupService) ListGroups(ctx context.Context, req *connect.Request[brokerv1.ListGroupsRequest]) (*connect.Response[brokerv1.ListGroupsResponse], error) {
	gs, err := s.b.ListGroups(ctx)
	if err != nil {
		return nil, s.b.groupError(req.Spec().Procedure, err)
	}
	out := &brokerv1.ListGroupsResponse{}
	for _, g := range gs {
		out.Groups = append(out.Groups, &brokerv1.GroupListing{Group: g.Group, State: g.State, Members: int32(g.Members)})
	}
	// Cluster mode: every node's groups (group_forward.go).
	s.listEverywhere(ctx, req, out)
	return connect.NewResponse(out), nil
}

// DeleteGroup is the Connect handler.
func (s groupService) DeleteGroup(ctx context.Context, req *connect.Request[brokerv1.DeleteGroupRequest]) (*connect.Response[brokerv1.DeleteGroupResponse], error) {
	if err := s.b.DeleteGroup(ctx, req.Msg.GetGroup()); err != nil {
		return forwardUnary(s, ctx, req, err, func(c brokerv1connect.GroupServiceClient) func(context.Context, *connect.Request[brokerv1.DeleteGroupRequest]) (*connect.Response[brokerv1.DeleteGroupResponse], error) {
			return c.DeleteGroup
		})
	}
	return connect.NewResponse(&brokerv1.DeleteGroupResponse{}), nil
}

// ResetOffsets is the Connect handler.
func (s groupService) ResetOffsets(ctx context.Context, req *connect.Request[brokerv1.ResetOffsetsRequest]) (*connect.Response[brokerv1.ResetOffsetsResponse], error) {
	m := req.Msg
	rr := ResetOffsetsRequest{Group: m.GetGroup(), Topic: m.GetTopic(), Partitions: m.GetPartitions(), Force: m.GetForce()}
	switch to := m.GetTo().(type) {
	case *brokerv1.ResetOffsetsRequest_Spec:
		switch to.Spec {
		case brokerv1.OffsetSpec_OFFSET_SPEC_EARLIEST:
			rr.To = ResetEarliest
		case brokerv1.OffsetSpec_OFFSET_SPEC_LATEST:
			rr.To = ResetLatest
		default:
			return nil, s.b.groupError(req.Spec().Procedure, invalidf("reset offsets group %s: spec %v: want OFFSET_SPEC_EARLIEST or OFFSET_SPEC_LATEST", m.GetGroup(), to.Spec))
		}
	case *brokerv1.ResetOffsetsRequest_Timestamp:
		if to.Timestamp.CheckValid() != nil {
			return nil, s.b.groupError(req.Spec().Procedure, invalidf("reset offsets group %s: timestamp (seconds %d, nanos %d) is not a valid time", m.GetGroup(), to.Timestamp.GetSeconds(), to.Timestamp.GetNanos()))
		}
		rr.To, rr.Timestamp = ResetTimestamp, to.Timestamp.AsTime().UnixMilli()
	case *brokerv1.ResetOffsetsRequest_Offset:
		rr.To, rr.Offset = ResetOffset, to.Offset
	default:
		return nil, s.b.groupError(req.Spec().Procedure, invalidf("reset offsets group %s: set spec, timestamp or offset", m.GetGroup()))
	}
	offs, err := s.b.ResetOffsets(ctx, rr)
	if err != nil {
		return forwardUnary(s, ctx, req, err, func(c brokerv1connect.GroupServiceClient) func(context.Context, *connect.Request[brokerv1.ResetOffsetsRequest]) (*connect.Response[brokerv1.ResetOffsetsResponse], error) {
			return c.ResetOffsets
		})
	}
	return connect.NewResponse(&brokerv1.ResetOffsetsResponse{Offsets: offsetsToProto(offs)}), nil
}
