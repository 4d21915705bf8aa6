package kafka

// OffsetCommit, v2-9: a group's committed offsets, into meta.db (the same
// store as the Connect API's, so `sluice group describe` shows them). A
// classic member commits at its generation (ILLEGAL_GENERATION,
// UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS while the assignment is being
// distributed, FENCED_INSTANCE_ID); a KIP-848 member (v9) at its member epoch
// (STALE_MEMBER_EPOCH). Generation -1 without a member id is an admin commit
// (kadm, a consumer without group management), accepted only while the group
// has no members; otherwise UNKNOWN_MEMBER_ID, as Kafka answers. Partition
// errors: UNKNOWN_TOPIC_OR_PARTITION, OFFSET_METADATA_TOO_LARGE (above 4 KiB),
// OFFSET_OUT_OF_RANGE (outside 0..high watermark).

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

func init() { register(kmsg.OffsetCommit, 2, 9, handleOffsetCommit) }

func handleOffsetCommit(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.OffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	var offs []broker.OffsetCommit
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			offs = append(offs, broker.OffsetCommit{Topic: t.Topic, Partition: p.Partition, Offset: p.Offset, Metadata: deref(p.Metadata)})
		}
	}
	var errs []error
	var code int16
	if !validGroup(req.Group) {
		code = kerr.InvalidGroupID.Code
	} else {
		who := broker.GroupCommitter{MemberID: req.MemberID, InstanceID: deref(req.InstanceID), Generation: req.Generation}
		var err error
		errs, err = c.Server().Broker().CommitGroupOffsets(c.Context(), req.Group, who, offs)
		switch {
		case errors.Is(err, broker.ErrGroupNotEmpty):
			code = kerr.UnknownMemberID.Code
		case err != nil:
			code = codeFor(c, "OffsetCommit", err)
		}
	}
	i := 0
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = code
			if code == 0 {
				rp.ErrorCode = codeFor(c, "OffsetCommit", errs[i])
			}
			i++
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil, nil
}
