package kafka

// Heartbeat, v0-4: keeps a classic group member alive; REBALANCE_IN_PROGRESS
// tells it to rejoin, ILLEGAL_GENERATION and UNKNOWN_MEMBER_ID that it fell
// out of the group, FENCED_INSTANCE_ID that another process took over its
// static instance id.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.Heartbeat, 0, 4, handleHeartbeat) }

func handleHeartbeat(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.HeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	if !validGroup(req.Group) {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp, nil, nil
	}
	err := c.Server().Broker().ClassicHeartbeat(c.Context(), req.Group, req.MemberID, deref(req.InstanceID), req.Generation)
	resp.ErrorCode = codeFor(c, "Heartbeat", err)
	return resp, nil, nil
}
