package kafka

// DeleteTopics, v0-6: by name, and from v6 by topic id (exactly one of the
// two per entry, else INVALID_REQUEST). An unknown name is
// UNKNOWN_TOPIC_OR_PARTITION, an unknown id UNKNOWN_TOPIC_ID. A deleted
// topic's data is gone; a topic created later with the same name gets a new
// id.

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

func init() { register(kmsg.DeleteTopics, 0, 6, handleDeleteTopics) }

func handleDeleteTopics(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	b := c.Server().Broker()
	entries := req.Topics
	if req.Version < 6 {
		entries = make([]kmsg.DeleteTopicsRequestTopic, len(req.TopicNames))
		for i := range req.TopicNames {
			entries[i].Topic = &req.TopicNames[i]
		}
	}
	for _, rt := range entries {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		var err error
		name := ""
		switch {
		case rt.Topic != nil && rt.TopicID != [16]byte{}, rt.Topic == nil && rt.TopicID == [16]byte{}:
			st.ErrorCode = kerr.InvalidRequest.Code
			err = errors.New("give either a topic name or a topic id")
		case rt.Topic == nil:
			name, err = b.TopicByID(broker.TopicID(rt.TopicID))
			if err != nil {
				st.ErrorCode = topicErrorCode(err)
			} else {
				st.Topic = &name
			}
		default:
			name = *rt.Topic
		}
		if st.ErrorCode == 0 {
			if ti, derr := b.DescribeTopic(name); derr == nil {
				st.TopicID = ti.ID
			}
			if err = b.DeleteTopic(c.Context(), name); err != nil {
				st.ErrorCode = topicErrorCode(err)
			} else {
				c.Logger().Info("topic deleted over Kafka", "topic", name, "client_id", c.ClientID())
			}
		}
		st.ErrorMessage = errText(err)
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil, nil
}
