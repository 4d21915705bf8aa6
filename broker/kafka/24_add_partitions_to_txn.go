package kafka

// AddPartitionsToTxn (key 24), versions 0-3 (4+ is broker to broker): adds
// partitions to the producer's transaction, starting it if none is open.
// It is durable before it is answered, so a transaction's partitions are
// known after a restart. Errors per partition: UNKNOWN_TOPIC_OR_PARTITION
// (3) for an unknown one, and then OPERATION_NOT_ATTEMPTED (55) for the
// rest; otherwise the same code on every partition:
// INVALID_PRODUCER_ID_MAPPING (49), PRODUCER_FENCED (90; v0-1:
// INVALID_PRODUCER_EPOCH, 47), CONCURRENT_TRANSACTIONS (51) while the
// previous transaction completes.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

func init() { register(kmsg.AddPartitionsToTxn, 0, 3, handleAddPartitionsToTxn) }

func handleAddPartitionsToTxn(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.AddPartitionsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	var tps []broker.TopicPartition
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			tps = append(tps, broker.TopicPartition{Topic: t.Topic, Partition: p})
		}
	}
	errs, err := c.Server().Broker().AddPartitionsToTxn(c.Context(), req.TransactionalID, req.ProducerID, req.ProducerEpoch, tps)
	code := txnCode(c, err, req.Version, 2)
	i := 0
	for _, t := range req.Topics {
		rt := kmsg.NewAddPartitionsToTxnResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p, code
			if err == nil {
				rp.ErrorCode = txnCode(c, errs[i], req.Version, 2)
			}
			i++
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil, nil
}
