package broker

// DescribeTopic returns a topic's partitions (log start offset, high
// watermark, bytes on disk) and its effective configs (overrides and
// defaults). Refused: an unknown topic (NotFound).

import (
	"context"
	"maps"

	"connectrpc.com/connect"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// DescribeTopic is the Connect handler.
func (s topicService) DescribeTopic(ctx context.Context, req *connect.Request[brokerv1.DescribeTopicRequest]) (*connect.Response[brokerv1.DescribeTopicResponse], error) {
	ti, err := s.b.DescribeTopic(req.Msg.GetName())
	if err != nil {
		return nil, s.b.rpcError(req.Spec().Procedure, err)
	}
	return connect.NewResponse(&brokerv1.DescribeTopicResponse{Topic: topicToProto(ti)}), nil
}

// topicToProto converts a topic description.
func topicToProto(ti TopicInfo) *brokerv1.TopicDescription {
	d := &brokerv1.TopicDescription{
		Name:       ti.Name,
		Partitions: make([]*brokerv1.PartitionDescription, len(ti.Partitions)),
		Configs:    maps.Clone(ti.Config.Effective),
		TopicId:    ti.ID.String(),
	}
	for i, p := range ti.Partitions {
		d.Partitions[i] = &brokerv1.PartitionDescription{
			Partition:      p.Partition,
			LogStartOffset: p.LogStartOffset,
			HighWatermark:  p.HighWatermark,
			SizeBytes:      p.SizeBytes,
		}
	}
	return d
}
