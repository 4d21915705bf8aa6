package kafka

// Shared by the transaction handlers (22 with a transactional id, 24, 25,
// 26, 28): the mapping of the broker's transaction errors to Kafka codes.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/broker"
)

// txnCode maps a transaction error to its Kafka code. fencedFrom is the
// first version of the request that knows PRODUCER_FENCED (KIP-588);
// older versions get INVALID_PRODUCER_EPOCH, as Kafka answers them.
func txnCode(c *Conn, err error, version, fencedFrom int16) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, broker.ErrConcurrentTransactions):
		return kerr.ConcurrentTransactions.Code
	case errors.Is(err, broker.ErrInvalidTxnState):
		return kerr.InvalidTxnState.Code
	case errors.Is(err, broker.ErrProducerFenced):
		if version >= fencedFrom {
			return kerr.ProducerFenced.Code
		}
		return kerr.InvalidProducerEpoch.Code
	case errors.Is(err, broker.ErrInvalidProducerIDMapping):
		return kerr.InvalidProducerIDMapping.Code
	case errors.Is(err, broker.ErrInvalidTxnTimeout):
		return kerr.InvalidTransactionTimeout.Code
	case errors.Is(err, broker.ErrOperationNotAttempted):
		return kerr.OperationNotAttempted.Code
	case errors.Is(err, broker.ErrTopicNotFound), errors.Is(err, broker.ErrPartitionNotFound):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, broker.ErrOffsetMetadataTooLarge):
		return kerr.OffsetMetadataTooLarge.Code
	case errors.Is(err, broker.ErrInvalidArgument):
		return kerr.InvalidRequest.Code
	case errors.Is(err, broker.ErrClosed):
		return kerr.CoordinatorNotAvailable.Code
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return kerr.RequestTimedOut.Code
	}
	c.Logger().Error("Kafka transaction request failed", "err", err, "client_id", c.ClientID())
	return kerr.UnknownServerError.Code
}

// markUnstable answers UNSTABLE_OFFSET_COMMIT (88), offset -1, for each
// partition of fts whose offset in group an open transaction holds
// pending (OffsetFetch's require_stable).
func markUnstable(c *Conn, group string, fts []fetchedTopic) {
	pending := c.Server().Broker().PendingTxnOffsets(c.Context(), group)
	for _, ft := range fts {
		for i := range ft.parts {
			p := &ft.parts[i]
			if p.ErrorCode == 0 && pending(broker.TopicPartition{Topic: ft.topic, Partition: p.Partition}) {
				p.ErrorCode, p.Offset = kerr.UnstableOffsetCommit.Code, -1
			}
		}
	}
}
