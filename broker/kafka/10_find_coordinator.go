package kafka

// FindCoordinator, v0-5: node 0 coordinates every group (key type 0) and
// every transactional id (key type 1). From v4 the keys come batched, one
// answer per key. Other key types are INVALID_REQUEST.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.FindCoordinator, 0, 5, handleFindCoordinator) }

// Coordinator key types.
const (
	coordinatorGroup       = 0
	coordinatorTransaction = 1
)

func handleFindCoordinator(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	host, port := c.Server().advertisedHostPort()
	var code int16
	var msg *string
	if req.CoordinatorType != coordinatorGroup && req.CoordinatorType != coordinatorTransaction {
		code = kerr.InvalidRequest.Code
		m := "coordinator key type must be 0 (group) or 1 (transaction)"
		msg = &m
	}
	if req.Version < 4 {
		resp.ErrorCode, resp.ErrorMessage = code, msg
		if code == 0 {
			resp.NodeID, resp.Host, resp.Port = NodeID, host, port
		} else {
			resp.NodeID = -1
		}
		return resp, nil, nil
	}
	for _, key := range req.CoordinatorKeys {
		rc := kmsg.NewFindCoordinatorResponseCoordinator()
		rc.Key = key
		rc.ErrorCode, rc.ErrorMessage = code, msg
		if code == 0 {
			rc.NodeID, rc.Host, rc.Port = NodeID, host, port
		} else {
			rc.NodeID = -1
		}
		resp.Coordinators = append(resp.Coordinators, rc)
	}
	return resp, nil, nil
}
