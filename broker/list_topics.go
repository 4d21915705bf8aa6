package broker

// ListTopics lists every topic, sorted by name, with its partitions and
// effective configs.

import (
	"context"

	"connectrpc.com/connect"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// ListTopics is the Connect handler.
func (s topicService) ListTopics(ctx context.Context, req *connect.Request[brokerv1.ListTopicsRequest]) (*connect.Response[brokerv1.ListTopicsResponse], error) {
	tis := s.b.ListTopics()
	out := make([]*brokerv1.TopicDescription, len(tis))
	for i, ti := range tis {
		out[i] = topicToProto(ti)
	}
	return connect.NewResponse(&brokerv1.ListTopicsResponse{Topics: out}), nil
}
