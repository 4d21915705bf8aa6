package kafka

// SyncGroup, v0-5: the leader hands in the assignment of a classic group's
// generation; every member waits (stage 2) until it arrives and gets its
// own. v5 checks the protocol type and name against the group's.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

func init() { register(kmsg.SyncGroup, 0, 5, handleSyncGroup) }

func handleSyncGroup(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.SyncGroupRequest)
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	if !validGroup(req.Group) {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp, nil, nil
	}
	sr := broker.SyncGroupRequest{
		Group: req.Group, MemberID: req.MemberID, InstanceID: deref(req.InstanceID), Generation: req.Generation,
		ProtocolType: deref(req.ProtocolType), Protocol: deref(req.Protocol),
	}
	if len(req.GroupAssignment) > 0 {
		sr.Assignments = make(map[string][]byte, len(req.GroupAssignment))
		for _, a := range req.GroupAssignment {
			sr.Assignments[a.MemberID] = a.MemberAssignment
		}
	}
	wait := c.Server().Broker().SyncGroup(c.Context(), sr)
	return nil, func() kmsg.Response {
		r := wait(c.Context())
		if r.Err != nil {
			resp.ErrorCode = codeFor(c, "SyncGroup", r.Err)
			return resp
		}
		resp.ProtocolType, resp.Protocol = nilIfEmpty(r.ProtocolType), nilIfEmpty(r.Protocol)
		resp.MemberAssignment = r.Assignment
		if resp.MemberAssignment == nil {
			resp.MemberAssignment = []byte{}
		}
		return resp
	}, nil
}
