package kafka

// FindCoordinator, v0-5: on an embedded node, node 0 coordinates every
// group (key type 0) and every transactional id (key type 1). In cluster
// mode (Config.Cluster) a group's coordinator is the node holding its lease
// (broker.GroupCoordinator; a group without a live holder is taken by the
// node asked), answered with that node's Kafka id and advertised address,
// which Metadata lists too; a holder not reachable now (its lease not yet
// expired, its heartbeats stopped) or a lease that cannot be read is
// COORDINATOR_NOT_AVAILABLE, which clients retry. Transactional ids stay
// with the node asked. From v4 the keys come batched, one answer per key.
// Other key types are INVALID_REQUEST.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.FindCoordinator, 0, 5, handleFindCoordinator) }

// Coordinator key types.
const (
	coordinatorGroup       = 0
	coordinatorTransaction = 1
)

// coordinatorAnswer is one key's answer.
type coordinatorAnswer struct {
	code       int16
	msg        *string
	nodeID     int32
	host       string
	port       int32
	registered bool
}

func handleFindCoordinator(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	answer := func(key string) coordinatorAnswer {
		if req.CoordinatorType != coordinatorGroup && req.CoordinatorType != coordinatorTransaction {
			m := "coordinator key type must be 0 (group) or 1 (transaction)"
			return coordinatorAnswer{code: kerr.InvalidRequest.Code, msg: &m, nodeID: -1}
		}
		return findCoordinator(c, req.CoordinatorType, key)
	}
	if req.Version < 4 {
		a := answer(req.CoordinatorKey)
		resp.ErrorCode, resp.ErrorMessage = a.code, a.msg
		resp.NodeID, resp.Host, resp.Port = a.nodeID, a.host, a.port
		return resp, nil, nil
	}
	for _, key := range req.CoordinatorKeys {
		a := answer(key)
		rc := kmsg.NewFindCoordinatorResponseCoordinator()
		rc.Key = key
		rc.ErrorCode, rc.ErrorMessage = a.code, a.msg
		rc.NodeID, rc.Host, rc.Port = a.nodeID, a.host, a.port
		resp.Coordinators = append(resp.Coordinators, rc)
	}
	return resp, nil, nil
}

// findCoordinator answers one valid key type.
func findCoordinator(c *Conn, keyType int8, key string) coordinatorAnswer {
	s := c.Server()
	host, port := s.advertisedHostPort()
	self := coordinatorAnswer{nodeID: s.nodeID(), host: host, port: port}
	if s.cfg.Cluster == nil || keyType != coordinatorGroup {
		return self
	}
	unavailable := func(format string, args ...any) coordinatorAnswer {
		m := fmt.Sprintf(format, args...)
		return coordinatorAnswer{code: kerr.CoordinatorNotAvailable.Code, msg: &m, nodeID: -1}
	}
	if !validGroup(key) {
		m := fmt.Sprintf("group id %q is not valid", key)
		return coordinatorAnswer{code: kerr.InvalidRequest.Code, msg: &m, nodeID: -1}
	}
	holder, err := s.Broker().GroupCoordinator(c.Context(), key)
	if err != nil {
		c.Logger().Warn("finding a group's coordinator", "group", key, "err", err)
		return unavailable("group %s: %v", key, err)
	}
	id, h, p, ok := s.clusterNode(c.Context(), holder)
	if !ok {
		return unavailable("group %s: its coordinator, node %s, is not reachable now (no recent heartbeat or no Kafka listener); another node takes over when its lease expires", key, holder)
	}
	return coordinatorAnswer{nodeID: id, host: h, port: p}
}
