package kafka

// TxnOffsetCommit (key 28), versions 0-3: keeps a group's offsets pending
// in the producer's transaction (the group must have been added with
// AddOffsetsToTxn); they are committed with the transaction and dropped
// with an abort. Meanwhile OffsetFetch with require_stable answers
// UNSTABLE_OFFSET_COMMIT (88) for them. Errors, on every partition:
// INVALID_GROUP_ID (24), UNKNOWN_TOPIC_OR_PARTITION (3),
// OFFSET_METADATA_TOO_LARGE (12), INVALID_TXN_STATE (48) when the group was
// not added, INVALID_PRODUCER_ID_MAPPING (49), PRODUCER_FENCED (90; v0-2:
// INVALID_PRODUCER_EPOCH, 47), CONCURRENT_TRANSACTIONS (51). From v3
// (KIP-447) a member id and generation, when sent, must be the group's
// current ones (a classic generation or a KIP-848 member epoch), so a
// consumer fenced by a rebalance cannot commit its old partitions:
// ILLEGAL_GENERATION (22), UNKNOWN_MEMBER_ID (25), STALE_MEMBER_EPOCH (113).

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
	b := c.Server().Broker()
	if !validGroup(req.Group) {
		code = kerr.InvalidGroupID.Code
	} else if err := checkTxnMember(c, req); err != nil {
		code = groupCode(err)
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
		err := b.TxnOffsetCommit(c.Context(), req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch, offs)
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

// checkTxnMember checks v3's member id and generation, when sent.
func checkTxnMember(c *Conn, req *kmsg.TxnOffsetCommitRequest) error {
	if req.Version < 3 || req.MemberID == "" {
		return nil
	}
	return c.Server().Broker().CheckGroupMember(c.Context(), req.Group, req.MemberID, req.Generation)
}
