package kafka

// ConsumerGroupHeartbeat, v0-1 (KIP-848): members of a consumer group
// heartbeat with what they own and get their assignment from the broker's
// coordinator, the same one the Connect API's Consume streams use (so both
// kinds of member may share a group). Member epoch 0 joins (v1: with the
// member id the client generated; v0: the broker generates one), -1 leaves,
// -2 leaves temporarily (a static member keeps its partitions for a session
// timeout). Partitions travel as topic ids. Server assignors: uniform
// (default) and range; others are UNSUPPORTED_ASSIGNOR. A stale epoch is
// FENCED_MEMBER_EPOCH, an unknown member UNKNOWN_MEMBER_ID, a classic group
// with members INCONSISTENT_GROUP_PROTOCOL.

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

func init() { register(kmsg.ConsumerGroupHeartbeat, 0, 1, handleConsumerGroupHeartbeat) }

func handleConsumerGroupHeartbeat(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.ConsumerGroupHeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	b := c.Server().Broker()
	fail := func(code int16, err error) (kmsg.Response, func() kmsg.Response, error) {
		resp.ErrorCode, resp.ErrorMessage = code, errMessage(err)
		return resp, nil, nil
	}
	if !validGroup(req.Group) {
		return fail(kerr.InvalidGroupID.Code, broker.ValidateGroupID(req.Group))
	}
	memberID := req.MemberID
	resp.MemberID = &memberID
	switch req.MemberEpoch {
	case -1:
		resp.MemberEpoch = -1
		if err := b.LeaveGroup(c.Context(), req.Group, req.MemberID); err != nil {
			return fail(codeFor(c, "ConsumerGroupHeartbeat", err), err)
		}
		return resp, nil, nil
	case -2:
		resp.MemberEpoch = -2
		if err := b.LeaveGroupStatic(c.Context(), req.Group, req.MemberID); err != nil {
			return fail(codeFor(c, "ConsumerGroupHeartbeat", err), err)
		}
		return resp, nil, nil
	}
	if req.MemberEpoch < 0 {
		return fail(kerr.InvalidRequest.Code, errors.New("member epoch must be -2, -1, 0 (join) or the member's epoch"))
	}
	if req.MemberEpoch == 0 && req.Version >= 1 && req.MemberID == "" {
		return fail(kerr.InvalidRequest.Code, errors.New("ConsumerGroupHeartbeat v1 joins with a member id the client generated; it is empty"))
	}
	ids := topicIDs(b)
	hb := broker.GroupHeartbeatRequest{
		Group: req.Group, MemberID: req.MemberID, Epoch: req.MemberEpoch,
		ClientMemberID: req.Version >= 1, ClientID: c.ClientID(), Host: clientHost(c),
	}
	if req.SubscribedTopicNames != nil || req.SubscribedTopicRegex != nil || req.MemberEpoch == 0 {
		if req.SubscribedTopicNames == nil && req.SubscribedTopicRegex == nil {
			return fail(kerr.InvalidRequest.Code, errors.New("a join (member epoch 0) needs subscribed topic names or a regex"))
		}
		hb.Sub = &broker.GroupSubscription{Topics: req.SubscribedTopicNames, Regex: deref(req.SubscribedTopicRegex), InstanceID: deref(req.InstanceID), Assignor: deref(req.ServerAssignor)}
		if hb.Sub.Regex != "" {
			hb.Sub.Topics = nil
		}
	}
	if req.Topics != nil {
		hb.OwnedReported = true
		for _, t := range req.Topics {
			name, ok := ids.name(t.TopicID)
			if !ok {
				continue // deleted since: nobody's partition
			}
			for _, p := range t.Partitions {
				hb.Owned = append(hb.Owned, broker.TopicPartition{Topic: name, Partition: p})
			}
		}
	}
	r, err := b.GroupHeartbeat(c.Context(), hb)
	if err != nil {
		code := codeFor(c, "ConsumerGroupHeartbeat", err)
		if errors.Is(err, broker.ErrStaleEpoch) {
			code = kerr.FencedMemberEpoch.Code
		}
		return fail(code, err)
	}
	resp.MemberID = &r.MemberID
	resp.MemberEpoch = r.Epoch
	resp.HeartbeatIntervalMillis = int32(r.HeartbeatInterval.Milliseconds())
	a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
	a.Topics = []kmsg.ConsumerGroupHeartbeatResponseAssignmentTopic{}
	for _, tp := range r.Assignment {
		id, ok := ids.id(tp.Topic)
		if !ok {
			continue
		}
		if n := len(a.Topics); n == 0 || a.Topics[n-1].TopicID != id {
			t := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
			t.TopicID = id
			a.Topics = append(a.Topics, t)
		}
		last := &a.Topics[len(a.Topics)-1]
		last.Partitions = append(last.Partitions, tp.Partition)
	}
	resp.Assignment = &a
	return resp, nil, nil
}
