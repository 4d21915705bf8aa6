package broker

// DeleteTopic deletes a topic and its data; in-flight requests on it fail.
// Refused: an unknown topic (NotFound).

import (
	"context"

	"connectrpc.com/connect"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// DeleteTopic is the Connect handler.
func (s topicService) DeleteTopic(ctx context.Context, req *connect.Request[brokerv1.DeleteTopicRequest]) (*connect.Response[brokerv1.DeleteTopicResponse], error) {
	if err := s.b.DeleteTopic(ctx, req.Msg.GetName()); err != nil {
		return nil, s.b.rpcError(req.Spec().Procedure, err)
	}
	return connect.NewResponse(&brokerv1.DeleteTopicResponse{}), nil
}
