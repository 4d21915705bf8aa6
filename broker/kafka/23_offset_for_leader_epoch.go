package kafka

// OffsetForLeaderEpoch, v2-4: consumers ask where a leader epoch ended, to
// detect log truncation. Sluice's only epoch is 0, which has not ended: for
// epoch 0 the answer is epoch 0 and the high watermark (the log end offset);
// for any other epoch it is epoch -1 and offset -1 (UNDEFINED), as Kafka
// answers for an epoch it does not know. A current leader epoch above 0 is
// UNKNOWN_LEADER_EPOCH. v2 is served because librdkafka 2.1+ sends v2 even
// when the broker advertises only v3+.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

func init() { register(kmsg.OffsetForLeaderEpoch, 2, 4, handleOffsetForLeaderEpoch) }

func handleOffsetForLeaderEpoch(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.OffsetForLeaderEpochRequest)
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	b := c.Server().Broker()
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		ti, terr := b.DescribeTopic(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LeaderEpoch, sp.EndOffset = -1, -1
			switch {
			case terr != nil:
				sp.ErrorCode = topicErrorCode(terr)
			case rp.Partition < 0 || int(rp.Partition) >= len(ti.Partitions):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			default:
				sp.ErrorCode = checkLeaderEpoch(rp.CurrentLeaderEpoch)
			}
			if sp.ErrorCode == 0 && rp.LeaderEpoch == 0 {
				offs, err := b.ListOffsets(rt.Topic, []int32{rp.Partition}, broker.OffsetLatest, 0)
				if err != nil {
					sp.ErrorCode = topicErrorCode(err)
				} else {
					sp.LeaderEpoch, sp.EndOffset = 0, offs[0].Offset
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil, nil
}
