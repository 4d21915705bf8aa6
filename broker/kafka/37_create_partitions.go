package kafka

// CreatePartitions, v0-3: raises a topic's partition count. Records stay
// where they are; keys hash over the new count from then on, as in Kafka. A
// count not above the current one or above the limit is INVALID_PARTITIONS;
// an assignment must list one [0] per new partition (else
// INVALID_REPLICA_ASSIGNMENT); a topic named twice is INVALID_REQUEST.
// validate_only checks and changes nothing.

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

func init() { register(kmsg.CreatePartitions, 0, 3, handleCreatePartitions) }

func handleCreatePartitions(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	b := c.Server().Broker()
	count := make(map[string]int, len(req.Topics))
	for _, rt := range req.Topics {
		count[rt.Topic]++
	}
	for _, rt := range req.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		var err error
		switch {
		case count[rt.Topic] > 1:
			st.ErrorCode = kerr.InvalidRequest.Code
			err = fmt.Errorf("topic %q is named %d times in the request", rt.Topic, count[rt.Topic])
		default:
			var ti broker.TopicInfo
			ti, err = b.DescribeTopic(rt.Topic)
			if err != nil {
				st.ErrorCode = topicErrorCode(err)
				break
			}
			if err = b.CheckCreatePartitions(rt.Topic, int(rt.Count)); err == nil && rt.Assignment != nil {
				if aerr := checkNewAssignment(rt.Assignment, int(rt.Count)-len(ti.Partitions)); aerr != nil {
					st.ErrorCode, err = kerr.InvalidReplicaAssignment.Code, aerr
					break
				}
			}
			if err == nil && !req.ValidateOnly {
				if _, err = b.CreatePartitions(c.Context(), rt.Topic, int(rt.Count)); err == nil {
					c.Logger().Info("topic partitions added over Kafka", "topic", rt.Topic, "partitions", rt.Count, "client_id", c.ClientID())
				}
			}
			switch {
			case errors.Is(err, broker.ErrInvalidArgument):
				st.ErrorCode = kerr.InvalidPartitions.Code
			case err != nil:
				st.ErrorCode = topicErrorCode(err)
			}
		}
		st.ErrorMessage = errText(err)
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil, nil
}

// checkNewAssignment accepts one [0] per new partition.
func checkNewAssignment(as []kmsg.CreatePartitionsRequestTopicAssignment, added int) error {
	if len(as) != added {
		return fmt.Errorf("the assignment lists %d partitions for %d new ones", len(as), max(added, 0))
	}
	for i, a := range as {
		if len(a.Replicas) != 1 || a.Replicas[0] != NodeID {
			return fmt.Errorf("assignment %d: replicas %v; Sluice is one node: use [0]", i, a.Replicas)
		}
	}
	return nil
}
