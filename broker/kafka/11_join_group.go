package kafka

// JoinGroup, v0-9: a classic group member joins (or rejoins) and waits for
// the rebalance to complete; the leader gets the member list. v4+ new
// members first get MEMBER_ID_REQUIRED with their id (KIP-394); v5+ static
// members (group.instance.id, KIP-345); v9 SkipAssignment for a static
// leader that rejoined a stable group. The wait runs in stage 2, so the
// coordinator and the connection's later requests are not held up.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

func init() { register(kmsg.JoinGroup, 0, 9, handleJoinGroup) }

func handleJoinGroup(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.JoinGroupRequest)
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.MemberID = req.MemberID
	resp.Generation = -1
	if !validGroup(req.Group) {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp, nil, nil
	}
	jr := broker.JoinGroupRequest{
		Group: req.Group, MemberID: req.MemberID, InstanceID: deref(req.InstanceID),
		ClientID: c.ClientID(), Host: clientHost(c), ProtocolType: req.ProtocolType,
		SessionTimeout: millis(req.SessionTimeoutMillis), RebalanceTimeout: millis(req.RebalanceTimeoutMillis),
		RequireKnownMemberID: req.Version >= 4,
	}
	if req.Version == 0 {
		jr.RebalanceTimeout = jr.SessionTimeout
	}
	for _, p := range req.Protocols {
		jr.Protocols = append(jr.Protocols, broker.GroupProtocol{Name: p.Name, Metadata: p.Metadata})
	}
	wait := c.Server().Broker().JoinGroup(c.Context(), jr)
	return nil, func() kmsg.Response {
		r := wait(c.Context())
		resp.MemberID = r.MemberID
		if r.Err != nil {
			resp.ErrorCode = codeFor(c, "JoinGroup", r.Err)
			return resp
		}
		resp.Generation = r.Generation
		resp.ProtocolType = nilIfEmpty(r.ProtocolType)
		protocol := r.Protocol
		resp.Protocol = &protocol
		resp.LeaderID = r.Leader
		resp.SkipAssignment = r.SkipAssignment && req.Version >= 9
		for _, m := range r.Members {
			rm := kmsg.NewJoinGroupResponseMember()
			rm.MemberID, rm.InstanceID, rm.ProtocolMetadata = m.ID, nilIfEmpty(m.InstanceID), m.Metadata
			resp.Members = append(resp.Members, rm)
		}
		return resp
	}, nil
}
