package kafka

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

// topicErrorCode maps a broker error about a topic or partition to its
// Kafka code, for the metadata and admin APIs. Refusals that depend on the
// request (partition counts, configs) are mapped by their handlers first.
func topicErrorCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, broker.ErrTopicNotFound):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, broker.ErrUnknownTopicID):
		return kerr.UnknownTopicID.Code
	case errors.Is(err, broker.ErrTopicExists):
		return kerr.TopicAlreadyExists.Code
	case errors.Is(err, broker.ErrInvalidArgument):
		return kerr.InvalidRequest.Code
	}
	return kerr.UnknownServerError.Code
}

// errText is err's text for a response's nullable error message.
func errText(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}

// checkLeaderEpoch checks a request's current leader epoch against node 0's
// only epoch, 0: -1 means the client does not know it.
func checkLeaderEpoch(current int32) int16 {
	switch {
	case current > 0:
		return kerr.UnknownLeaderEpoch.Code
	case current < -1:
		return kerr.FencedLeaderEpoch.Code
	}
	return 0
}

// Authorized-operation bit sets reported when a client asks (Metadata v8+,
// DescribeCluster): with no ACLs every operation is allowed. Bit n is
// kmsg.ACLOperation n.
var (
	topicOperations = opBits(kmsg.ACLOperationRead, kmsg.ACLOperationWrite, kmsg.ACLOperationCreate,
		kmsg.ACLOperationDelete, kmsg.ACLOperationAlter, kmsg.ACLOperationDescribe,
		kmsg.ACLOperationDescribeConfigs, kmsg.ACLOperationAlterConfigs)
	clusterOperations = opBits(kmsg.ACLOperationCreate, kmsg.ACLOperationAlter, kmsg.ACLOperationDescribe,
		kmsg.ACLOperationClusterAction, kmsg.ACLOperationDescribeConfigs, kmsg.ACLOperationAlterConfigs,
		kmsg.ACLOperationIdempotentWrite)
)

func opBits(ops ...kmsg.ACLOperation) int32 {
	var b int32
	for _, o := range ops {
		b |= 1 << o
	}
	return b
}
