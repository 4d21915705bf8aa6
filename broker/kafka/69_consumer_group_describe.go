package kafka

// ConsumerGroupDescribe, v0-1 (KIP-848): consumer groups (Kafka consumers
// and the Connect API's Consume streams) with their epoch, assignor and
// members, whose current and target assignments travel with topic ids. A
// classic or unknown group is GROUP_ID_NOT_FOUND.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

func init() { register(kmsg.ConsumerGroupDescribe, 0, 1, handleConsumerGroupDescribe) }

// consumerGroupState renders a KIP-848 group's state in Kafka's spelling.
func consumerGroupState(s string) string {
	switch s {
	case "empty":
		return "Empty"
	case "reconciling":
		return "Reconciling"
	}
	return "Stable"
}

// assignment renders partitions with their topic ids and names.
func assignment(ids topicIDMap, tps []broker.TopicPartition) kmsg.Assignment {
	a := kmsg.NewAssignment()
	a.TopicPartitions = []kmsg.AssignmentTopicPartition{}
	for _, tp := range tps {
		id, _ := ids.id(tp.Topic)
		if n := len(a.TopicPartitions); n == 0 || a.TopicPartitions[n-1].Topic != tp.Topic {
			t := kmsg.NewAssignmentTopicPartition()
			t.TopicID, t.Topic = id, tp.Topic
			a.TopicPartitions = append(a.TopicPartitions, t)
		}
		last := &a.TopicPartitions[len(a.TopicPartitions)-1]
		last.Partitions = append(last.Partitions, tp.Partition)
	}
	return a
}

func handleConsumerGroupDescribe(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.ConsumerGroupDescribeRequest)
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	b := c.Server().Broker()
	ids := topicIDs(b)
	for _, id := range req.Groups {
		rg := kmsg.NewConsumerGroupDescribeResponseGroup()
		rg.Group = id
		if !validGroup(id) {
			rg.ErrorCode = kerr.InvalidGroupID.Code
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		gi, err := b.DescribeConsumerGroup(c.Context(), id)
		if err != nil {
			rg.ErrorCode, rg.ErrorMessage = codeFor(c, "ConsumerGroupDescribe", err), errMessage(err)
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		rg.State, rg.Epoch, rg.AssignmentEpoch, rg.AssignorName = consumerGroupState(gi.State), gi.Epoch, gi.Epoch, gi.Assignor
		if rg.AssignorName == "" {
			rg.AssignorName = "uniform"
		}
		for _, m := range gi.Members {
			rm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
			rm.MemberID, rm.InstanceID, rm.MemberEpoch = m.ID, nilIfEmpty(m.InstanceID), m.Epoch
			rm.ClientID, rm.ClientHost = m.ClientID, m.Host
			rm.SubscribedTopics, rm.SubscribedTopicRegex = m.Topics, nilIfEmpty(m.Regex)
			if rm.SubscribedTopics == nil {
				rm.SubscribedTopics = []string{}
			}
			rm.Assignment, rm.TargetAssignment = assignment(ids, m.Held), assignment(ids, m.Target)
			rm.MemberType = 1 // consumer protocol
			rg.Members = append(rg.Members, rm)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil, nil
}
