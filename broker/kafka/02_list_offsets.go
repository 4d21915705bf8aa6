package kafka

// ListOffsets, v1-8: per partition, by timestamp
//   -1 latest: the high watermark, or under read_committed (isolation level
//      1) the last stable offset;
//   -2 earliest and -4 earliest local (v8; Sluice keeps every segment
//      local): the log start offset;
//   -3 max timestamp (v7): the first record holding the largest timestamp,
//      offset and timestamp -1 on an empty partition;
//   any other: the first record whose timestamp is at or after it, with that
//      record's timestamp, or offset and timestamp -1 when there is none.
// The leader epoch answered is 0 (-1 with no record found). A current leader
// epoch above 0 is UNKNOWN_LEADER_EPOCH; an unknown topic or partition is
// UNKNOWN_TOPIC_OR_PARTITION. v0 (old-style offsets lists) is not served:
// every client in use sends v1 or later.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

func init() { register(kmsg.ListOffsets, 1, 8, handleListOffsets) }

// Special timestamps of ListOffsets.
const (
	offsetLatest        = -1
	offsetEarliest      = -2
	offsetMaxTimestamp  = -3
	offsetEarliestLocal = -4
)

// isolationReadCommitted is the isolation level that reads up to the last
// stable offset.
const isolationReadCommitted = 1

func handleListOffsets(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	b := c.Server().Broker()
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		ti, terr := b.DescribeTopic(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
			switch {
			case terr != nil:
				sp.ErrorCode = topicErrorCode(terr)
			case rp.Partition < 0 || int(rp.Partition) >= len(ti.Partitions):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			default:
				sp.ErrorCode = checkLeaderEpoch(rp.CurrentLeaderEpoch)
			}
			if sp.ErrorCode == 0 {
				sp.ErrorCode = listOffset(b, rt.Topic, rp.Partition, rp.Timestamp, req.IsolationLevel, &sp)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil, nil
}

// listOffset answers one partition into sp and returns its error code.
func listOffset(b *broker.Broker, topic string, p int32, ts int64, isolation int8, sp *kmsg.ListOffsetsResponseTopicPartition) int16 {
	one := []int32{p}
	switch ts {
	case offsetLatest:
		q := broker.OffsetLatest
		if isolation == isolationReadCommitted {
			q = lastStableQuery
		}
		offs, err := b.ListOffsets(topic, one, q, 0)
		if err != nil {
			return topicErrorCode(err)
		}
		sp.Offset, sp.LeaderEpoch = offs[0].Offset, 0
	case offsetEarliest, offsetEarliestLocal:
		offs, err := b.ListOffsets(topic, one, broker.OffsetEarliest, 0)
		if err != nil {
			return topicErrorCode(err)
		}
		sp.Offset, sp.LeaderEpoch = offs[0].Offset, 0
	case offsetMaxTimestamp:
		off, mts, ok, err := b.MaxTimestampOffset(topic, p)
		if err != nil {
			return topicErrorCode(err)
		}
		if ok {
			sp.Offset, sp.Timestamp, sp.LeaderEpoch = off, mts, 0
		}
	default:
		offs, err := b.ListOffsets(topic, one, broker.OffsetForTime, ts)
		if err != nil {
			return topicErrorCode(err)
		}
		if offs[0].HasTimestamp {
			sp.Offset, sp.Timestamp, sp.LeaderEpoch = offs[0].Offset, offs[0].Timestamp, 0
		}
	}
	return 0
}

// lastStableQuery answers latest under read_committed: the last stable
// offset (the high watermark while no transaction is open).
const lastStableQuery = broker.OffsetLastStable
