package broker

// AlterTopicConfigs sets and deletes config overrides of a topic and applies
// them to its live partitions at once. All changes are validated before any
// is applied. Refused: an unknown topic (NotFound); an unknown key, a bad
// value or a key both set and deleted (InvalidArgument).

import (
	"context"

	"connectrpc.com/connect"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// AlterTopicConfigs is the Connect handler.
func (s topicService) AlterTopicConfigs(ctx context.Context, req *connect.Request[brokerv1.AlterTopicConfigsRequest]) (*connect.Response[brokerv1.AlterTopicConfigsResponse], error) {
	m := req.Msg
	ti, err := s.b.AlterTopicConfigs(ctx, m.GetName(), m.GetSet(), m.GetDelete())
	if err != nil {
		return nil, s.b.rpcError(req.Spec().Procedure, err)
	}
	return connect.NewResponse(&brokerv1.AlterTopicConfigsResponse{Topic: topicToProto(ti)}), nil
}
