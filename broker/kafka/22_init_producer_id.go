package kafka

// InitProducerId (key 22), versions 0-4: hands an idempotent producer a
// producer id that was never handed out before (persistent in meta.db), at
// epoch 0. As in Kafka, a producer without a transactional id gets a new
// id whenever it asks, including when it sends its current id and epoch to
// bump the epoch after an error (v3+, KIP-360).
//
// Not supported: transactional ids (no transactions yet): answered with
// INVALID_REQUEST, which clients report as fatal. Errors: a meta.db
// failure is UNKNOWN_SERVER_ERROR (-1), logged.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.InitProducerID, 0, 4, handleInitProducerID) }

func handleInitProducerID(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		c.Logger().Info("refusing a transactional producer: transactions are not supported yet", "transactional_id", *req.TransactionalID, "client_id", c.ClientID())
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp, nil, nil
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
