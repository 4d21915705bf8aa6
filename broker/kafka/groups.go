package kafka

// Shared by the consumer-group handler files (08, 09, 11-16, 42, 47, 68,
// 69): the mapping of the broker's group errors to Kafka error codes and a
// few conversions.

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/broker"
)

// groupCode maps an error of the broker's group core to a Kafka error code
// (0 for nil). Handlers override the codes whose meaning depends on the API
// (a stale epoch, a group with members).
func groupCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, broker.ErrNotCoordinator):
		return kerr.NotCoordinator.Code
	case errors.Is(err, broker.ErrCoordinatorNotAvailable):
		return kerr.CoordinatorNotAvailable.Code
	case errors.Is(err, broker.ErrUnknownMember):
		return kerr.UnknownMemberID.Code
	case errors.Is(err, broker.ErrIllegalGeneration):
		return kerr.IllegalGeneration.Code
	case errors.Is(err, broker.ErrRebalanceInProgress):
		return kerr.RebalanceInProgress.Code
	case errors.Is(err, broker.ErrMemberIDRequired):
		return kerr.MemberIDRequired.Code
	case errors.Is(err, broker.ErrFencedInstanceID):
		return kerr.FencedInstanceID.Code
	case errors.Is(err, broker.ErrInvalidSessionTimeout):
		return kerr.InvalidSessionTimeout.Code
	case errors.Is(err, broker.ErrInconsistentGroupProtocol):
		return kerr.InconsistentGroupProtocol.Code
	case errors.Is(err, broker.ErrStaleEpoch):
		return kerr.StaleMemberEpoch.Code
	case errors.Is(err, broker.ErrUnsupportedAssignor):
		return kerr.UnsupportedAssignor.Code
	case errors.Is(err, broker.ErrGroupNotEmpty):
		return kerr.NonEmptyGroup.Code
	case errors.Is(err, broker.ErrGroupNotFound):
		return kerr.GroupIDNotFound.Code
	case errors.Is(err, broker.ErrGroupSubscribedToTopic):
		return kerr.GroupSubscribedToTopic.Code
	case errors.Is(err, broker.ErrTopicNotFound):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, broker.ErrOffsetMetadataTooLarge):
		return kerr.OffsetMetadataTooLarge.Code
	case errors.Is(err, broker.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange.Code
	case errors.Is(err, broker.ErrClosed), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return kerr.CoordinatorNotAvailable.Code
	case errors.Is(err, broker.ErrInvalidArgument), errors.Is(err, broker.ErrInvalidGroupArgument):
		return kerr.InvalidRequest.Code
	}
	return kerr.UnknownServerError.Code
}

// codeFor is groupCode for a handler: an error without a Kafka code
// (UNKNOWN_SERVER_ERROR) is logged with what failed, since the client gets
// no text.
func codeFor(c *Conn, what string, err error) int16 {
	code := groupCode(err)
	if code == kerr.UnknownServerError.Code {
		c.Logger().Warn("group request failed", "request", what, "err", err)
	}
	return code
}

// validGroup reports whether id is an acceptable group id.
func validGroup(id string) bool { return broker.ValidateGroupID(id) == nil }

// millis converts a Kafka millisecond field.
func millis(ms int32) time.Duration { return time.Duration(ms) * time.Millisecond }

// clientHost is the client's address as Kafka shows it ("/127.0.0.1").
func clientHost(c *Conn) string {
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return "/" + c.RemoteAddr().String()
	}
	return "/" + host
}

// deref returns *p, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// nilIfEmpty returns &s, or nil for "".
func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// errMessage returns a pointer to err's text, or nil.
func errMessage(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}

// topicIDMap maps topic ids to names and back, from one snapshot of the
// broker's topics.
type topicIDMap struct {
	byID   map[[16]byte]string
	byName map[string][16]byte
}

// topicIDs snapshots the broker's topic ids.
func topicIDs(b *broker.Broker) topicIDMap {
	m := topicIDMap{byID: map[[16]byte]string{}, byName: map[string][16]byte{}}
	for name, id := range b.TopicIDs() {
		m.byID[id] = name
		m.byName[name] = id
	}
	return m
}

func (m topicIDMap) name(id [16]byte) (string, bool) { n, ok := m.byID[id]; return n, ok }
func (m topicIDMap) id(name string) ([16]byte, bool) { id, ok := m.byName[name]; return id, ok }
