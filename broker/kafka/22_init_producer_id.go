package kafka

// InitProducerId (key 22), versions 0-4: hands an idempotent producer a
// producer id that was never handed out before (persistent in meta.db), at
// epoch 0. As in Kafka, a producer without a transactional id gets a new
// id whenever it asks, including when it sends its current id and epoch to
// bump the epoch after an error (v3+, KIP-360).
//
// With a transactional id (txn.go, broker.InitTxnProducer) the id keeps
// its producer id and gets the next epoch, fencing older producers; an
// open transaction of the id is aborted first. Errors: a meta.db failure
// is UNKNOWN_SERVER_ERROR (-1), logged; INVALID_TRANSACTION_TIMEOUT (50)
// outside (0, 15m]; CONCURRENT_TRANSACTIONS (51) while the previous
// transaction completes; PRODUCER_FENCED (90; v0-3:
// INVALID_PRODUCER_EPOCH, 47) for an id and epoch that are not the
// current ones (KIP-360).

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.InitProducerID, 0, 4, handleInitProducerID) }

func handleInitProducerID(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		timeout := time.Duration(req.TransactionTimeoutMillis) * time.Millisecond
		return nil, func() kmsg.Response {
			id, epoch, err := c.Server().Broker().InitTxnProducer(c.Context(), *req.TransactionalID, timeout, req.ProducerID, req.ProducerEpoch)
			if resp.ErrorCode = txnCode(c, err, req.Version, 4); resp.ErrorCode == 0 {
				resp.ProducerID, resp.ProducerEpoch = id, epoch
			}
			return resp
		}, nil
	}
	id, epoch, err := c.Server().Broker().NewProducerID(c.Context())
	if err != nil {
		c.Logger().Error("InitProducerId failed", "err", err)
		resp.ErrorCode = kerr.UnknownServerError.Code
		return resp, nil, nil
	}
	resp.ProducerID, resp.ProducerEpoch = id, epoch
	return resp, nil, nil
}
