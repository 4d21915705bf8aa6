package kafka

// DeleteRecords, v0-2: per partition, moves the log start offset forward to
// the offset asked (-1 is the high watermark) and answers the new log start
// offset as the low watermark. Records below it are gone for every reader;
// segments wholly below it are deleted at once; the new start is
// checkpointed before anything is deleted, so it holds across a restart or
// a crash. An offset below the current start changes nothing. Errors per
// partition: an unknown topic or partition is UNKNOWN_TOPIC_OR_PARTITION;
// an offset past the high watermark, or past the last stable offset while
// a transaction is open (its records stay until it ends), is
// OFFSET_OUT_OF_RANGE. The timeout is not needed: the work is done, synced,
// before the response.

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

func init() { register(kmsg.DeleteRecords, 0, 2, handleDeleteRecords) }

func handleDeleteRecords(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	b := c.Server().Broker()
	for _, rt := range req.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition, sp.LowWatermark = rp.Partition, -1
			start, err := b.DeleteRecords(rt.Topic, rp.Partition, rp.Offset)
			if err == nil {
				sp.LowWatermark = start
			} else {
				sp.ErrorCode = deleteRecordsCode(err)
				if sp.ErrorCode == kerr.UnknownServerError.Code {
					c.Logger().Warn("delete records failed", "topic", rt.Topic, "partition", rp.Partition, "offset", rp.Offset, "err", err)
				} else {
					c.Logger().Info("delete records refused", "topic", rt.Topic, "partition", rp.Partition, "offset", rp.Offset, "err", err)
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil, nil
}

// deleteRecordsCode maps DeleteRecords' errors: a partition the topic does
// not have is, for Kafka, an unknown partition.
func deleteRecordsCode(err error) int16 {
	switch {
	case errors.Is(err, broker.ErrTopicNotFound), errors.Is(err, broker.ErrInvalidArgument):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, broker.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange.Code
	}
	return kerr.UnknownServerError.Code
}
