package kafka

// AddOffsetsToTxn (key 25), versions 0-3: adds a consumer group to the
// producer's transaction, so that TxnOffsetCommit may keep offsets for it
// until the transaction ends. Errors: INVALID_GROUP_ID (24),
// INVALID_PRODUCER_ID_MAPPING (49), PRODUCER_FENCED (90; v0-1:
// INVALID_PRODUCER_EPOCH, 47), CONCURRENT_TRANSACTIONS (51).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.AddOffsetsToTxn, 0, 3, handleAddOffsetsToTxn) }

func handleAddOffsetsToTxn(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.AddOffsetsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	if !validGroup(req.Group) {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp, nil, nil
	}
	err := c.Server().Broker().AddOffsetsToTxn(c.Context(), req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group)
	resp.ErrorCode = txnCode(c, err, req.Version, 2)
	return resp, nil, nil
}
