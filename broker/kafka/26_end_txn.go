package kafka

// EndTxn (key 26), versions 0-4 (5 needs transaction.version 2, KIP-890):
// commits or aborts the producer's transaction. The answer comes once a
// control batch (marker) is durable on every partition of the transaction
// and, on commit, its pending offsets are in the group offset store. The
// completion runs in stage 2, so the connection keeps reading meanwhile.
// Asking again for the outcome already completed succeeds; while it
// completes: CONCURRENT_TRANSACTIONS (51); the other outcome, or no open
// transaction: INVALID_TXN_STATE (48); INVALID_PRODUCER_ID_MAPPING (49);
// PRODUCER_FENCED (90; v0-1: INVALID_PRODUCER_EPOCH, 47).

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.EndTxn, 0, 4, handleEndTxn) }

func handleEndTxn(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.EndTxnRequest)
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	return nil, func() kmsg.Response {
		err := c.Server().Broker().EndTxn(c.Context(), req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit)
		resp.ErrorCode = txnCode(c, err, req.Version, 2)
		return resp
	}, nil
}
