package broker

// CreateTopic creates a topic: partitions 0 means 1, at most MaxPartitions;
// configs are overrides of the keys in configSpecs. Refused: a bad name,
// partition count, unknown config key or bad value (InvalidArgument, naming
// the key and the accepted values); a name already taken (AlreadyExists).

import (
	"context"

	"connectrpc.com/connect"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// CreateTopic is the Connect handler.
func (s topicService) CreateTopic(ctx context.Context, req *connect.Request[brokerv1.CreateTopicRequest]) (*connect.Response[brokerv1.CreateTopicResponse], error) {
	m := req.Msg
	ti, err := s.b.CreateTopic(ctx, m.GetName(), int(m.GetPartitions()), m.GetConfigs())
	if err != nil {
		return nil, s.b.rpcError(req.Spec().Procedure, err)
	}
	return connect.NewResponse(&brokerv1.CreateTopicResponse{Topic: topicToProto(ti)}), nil
}
