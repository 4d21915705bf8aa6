package kafka

// LeaveGroup, v0-5: classic members leave at once (v0-2 one member by id;
// v3+ a batch, static members by instance id, with an error per member), so
// their partitions move in the next generation without waiting for the
// session timeout.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

func init() { register(kmsg.LeaveGroup, 0, 5, handleLeaveGroup) }

func handleLeaveGroup(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.LeaveGroupRequest)
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	if !validGroup(req.Group) {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp, nil, nil
	}
	var leaving []broker.LeavingMember
	if req.Version < 3 {
		leaving = []broker.LeavingMember{{MemberID: req.MemberID}}
	} else {
		for _, m := range req.Members {
			leaving = append(leaving, broker.LeavingMember{MemberID: m.MemberID, InstanceID: deref(m.InstanceID)})
		}
	}
	errs, err := c.Server().Broker().LeaveClassicGroup(c.Context(), req.Group, leaving)
	if err != nil {
		resp.ErrorCode = codeFor(c, "LeaveGroup", err)
		return resp, nil, nil
	}
	if req.Version < 3 {
		resp.ErrorCode = codeFor(c, "LeaveGroup", errs[0])
		return resp, nil, nil
	}
	for i, m := range req.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ErrorCode = m.MemberID, m.InstanceID, codeFor(c, "LeaveGroup", errs[i])
		resp.Members = append(resp.Members, rm)
	}
	return resp, nil, nil
}
