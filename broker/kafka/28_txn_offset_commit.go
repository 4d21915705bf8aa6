package kafka

// TxnOffsetCommit (key 28), versions 0-3: keeps a group's offsets pending
// in the producer's transaction (the group must have been added with
// AddOffsetsToTxn); they are committed with the transaction and dropped
// with an abort. Meanwhile OffsetFetch with require_stable answers
// UNSTABLE_OFFSET_COMMIT (88) for them. Errors, on every partition:
// INVALID_GROUP_ID (24), UNKNOWN_TOPIC_OR_PARTITION (3),
// OFFSET_METADATA_TOO_LARGE (12), INVALID_TXN_STATE (48) when the group was
// not added, INVALID_PRODUCER_ID_MAPPING (49), PRODUCER_FENCED (90; v0-2:
// INVALID_PRODUCER_EPOCH, 47), CONCURRENT_TRANSACTIONS (51). The group
// generation and member of v3 are not checked: the transaction's producer
// epoch fences zombies.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

func init() { register(kmsg.TxnOffsetCommit, 0, 3, handleTxnOffsetCommit) }

func handleTxnOffsetCommit(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.TxnOffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	var code int16
	if !validGroup(req.Group) {
		code = kerr.InvalidGroupID.Code
	} else {
		var offs []broker.OffsetCommit
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				oc := broker.OffsetCommit{Topic: t.Topic, Partition: p.Partition, Offset: p.Offset}
				if p.Metadata != nil {
					oc.Metadata = *p.Metadata
				}
				offs = append(offs, oc)
			}
		}
		err := c.Server().Broker().TxnOffsetCommit(c.Context(), req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch, offs)
		code = txnCode(c, err, req.Version, 3)
	}
	for _, t := range req.Topics {
		rt := kmsg.NewTxnOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil, nil
}
