package kafka

// OffsetDelete, v0: removes a group's committed offsets of some partitions.
// Topics that members of the group consume are refused per partition with
// GROUP_SUBSCRIBED_TO_TOPIC; an unknown group is GROUP_ID_NOT_FOUND; a
// classic group with members of a protocol type other than "consumer"
// (whose subscriptions Sluice cannot read) is NON_EMPTY_GROUP.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

func init() { register(kmsg.OffsetDelete, 0, 0, handleOffsetDelete) }

func handleOffsetDelete(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.OffsetDeleteRequest)
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	if !validGroup(req.Group) {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp, nil, nil
	}
	var tps []broker.TopicPartition
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			tps = append(tps, broker.TopicPartition{Topic: t.Topic, Partition: p.Partition})
		}
	}
	errs, err := c.Server().Broker().DeleteGroupOffsets(c.Context(), req.Group, tps)
	if err != nil {
		resp.ErrorCode = codeFor(c, "OffsetDelete", err)
		return resp, nil, nil
	}
	i := 0
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, codeFor(c, "OffsetDelete", errs[i])
			i++
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil, nil
}
