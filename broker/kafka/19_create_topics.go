package kafka

// CreateTopics, v0-7. Per topic, in this order:
//   - named twice in the request: INVALID_REQUEST;
//   - a name Kafka refuses: INVALID_TOPIC_EXCEPTION;
//   - replication factor other than -1 or 1: INVALID_REPLICATION_FACTOR
//     (Sluice is one node; Kafka Connect needs *.storage.replication.factor=1);
//   - partitions: -1 means 1 (num.partitions); 0, below -1 or above the limit
//     is INVALID_PARTITIONS; a replica assignment gives the count instead and
//     must place every partition on [0] (else INVALID_REPLICA_ASSIGNMENT);
//   - configs: Sluice's keys apply, Kafka keys that mean nothing on one node
//     are echoed and ignored (configs.go); an unknown key, a null or bad
//     value is INVALID_CONFIG naming the key and the accepted values;
//   - an existing topic: TOPIC_ALREADY_EXISTS.
// validate_only (v1+) checks all of it and creates nothing. v5+ answers the
// partition count, replication factor and the topic's configs; v7 its id.

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

func init() { register(kmsg.CreateTopics, 0, 7, handleCreateTopics) }

func handleCreateTopics(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	count := make(map[string]int, len(req.Topics))
	for _, rt := range req.Topics {
		count[rt.Topic]++
	}
	for _, rt := range req.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		var err error
		if count[rt.Topic] > 1 {
			st.ErrorCode = kerr.InvalidRequest.Code
			err = fmt.Errorf("topic %q is named %d times in the request", rt.Topic, count[rt.Topic])
		} else {
			st.ErrorCode, err = createOneTopic(c, req, &rt, &st)
		}
		st.ErrorMessage = errText(err)
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil, nil
}

// createOneTopic checks and (unless validate_only) creates one topic, filling
// st's v5+ fields on success.
func createOneTopic(c *Conn, req *kmsg.CreateTopicsRequest, rt *kmsg.CreateTopicsRequestTopic, st *kmsg.CreateTopicsResponseTopic) (int16, error) {
	b := c.Server().Broker()
	if err := broker.ValidateTopicName(rt.Topic); err != nil {
		return kerr.InvalidTopicException.Code, err
	}
	if rt.ReplicationFactor != -1 && rt.ReplicationFactor != 1 {
		return kerr.InvalidReplicationFactor.Code, fmt.Errorf("replication factor %d: Sluice is one node; use 1 or -1", rt.ReplicationFactor)
	}
	partitions := int(rt.NumPartitions)
	if len(rt.ReplicaAssignment) > 0 {
		if rt.NumPartitions != -1 {
			return kerr.InvalidRequest.Code, errors.New("give either a partition count or a replica assignment, not both")
		}
		if err := checkAssignment(rt.ReplicaAssignment); err != nil {
			return kerr.InvalidReplicaAssignment.Code, err
		}
		partitions = len(rt.ReplicaAssignment)
	} else if partitions == -1 {
		partitions = 1
	}
	if partitions < 1 || partitions > broker.MaxPartitions {
		return kerr.InvalidPartitions.Code, fmt.Errorf("%d partitions: want 1 to %d", rt.NumPartitions, broker.MaxPartitions)
	}
	names := make([]string, len(rt.Configs))
	values := make([]*string, len(rt.Configs))
	for i, cf := range rt.Configs {
		names[i], values[i] = cf.Name, cf.Value
	}
	configs, err := splitTopicConfigs(names, values)
	if err != nil {
		return kerr.InvalidConfig.Code, err
	}
	var cfg *broker.TopicConfig
	var id broker.TopicID
	if req.ValidateOnly {
		cfg, err = b.CheckCreateTopic(rt.Topic, partitions, configs)
	} else {
		var ti broker.TopicInfo
		ti, err = b.CreateTopic(c.Context(), rt.Topic, partitions, configs)
		cfg, id = ti.Config, ti.ID
		if err == nil {
			c.Logger().Info("topic created over Kafka", "topic", rt.Topic, "partitions", partitions, "client_id", c.ClientID())
		}
	}
	switch {
	case errors.Is(err, broker.ErrTopicExists):
		return kerr.TopicAlreadyExists.Code, err
	case errors.Is(err, broker.ErrInvalidArgument):
		return kerr.InvalidConfig.Code, err
	case err != nil:
		return topicErrorCode(err), err
	}
	st.TopicID = id
	st.NumPartitions, st.ReplicationFactor = int32(partitions), 1
	for _, e := range topicConfigEntries(cfg) {
		rc := kmsg.NewCreateTopicsResponseTopicConfig()
		v := e.value
		rc.Name, rc.Value, rc.ReadOnly, rc.Source = e.name, &v, e.readOnly, int8(e.source)
		st.Configs = append(st.Configs, rc)
	}
	return 0, nil
}

// checkAssignment accepts a replica assignment that places partitions 0..n-1
// each on node 0 alone.
func checkAssignment(as []kmsg.CreateTopicsRequestTopicReplicaAssignment) error {
	seen := make(map[int32]bool, len(as))
	for _, a := range as {
		if a.Partition < 0 || int(a.Partition) >= len(as) || seen[a.Partition] {
			return fmt.Errorf("replica assignment: partitions must be 0 to %d, each once; got %d", len(as)-1, a.Partition)
		}
		seen[a.Partition] = true
		if len(a.Replicas) != 1 || a.Replicas[0] != NodeID {
			return fmt.Errorf("replica assignment of partition %d: %v; Sluice is one node: use [0]", a.Partition, a.Replicas)
		}
	}
	return nil
}
