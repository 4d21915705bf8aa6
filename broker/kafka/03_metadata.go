package kafka

// Metadata, v0-12: node 0 at the advertised address, the cluster id,
// controller 0, and per topic its id (v10+) and partitions, each led by node
// 0 at epoch 0 with replicas and ISR [0]. All topics are listed for a null
// topic list (v1+) or an empty one (v0). A topic asked for by id (v10+) that
// no live topic has is UNKNOWN_TOPIC_ID; a missing name is
// UNKNOWN_TOPIC_OR_PARTITION, unless the server allows auto-creation
// (--kafka-auto-create-topics, off by default) and the client asks for it
// (allow_auto_topic_creation, v4+; always for v0-3): then the topic is
// created with one partition and default configs. A name Kafka would refuse
// is INVALID_TOPIC_EXCEPTION. Sluice has no internal topics: group offsets
// live in meta.db, not __consumer_offsets.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

func init() { register(kmsg.Metadata, 0, 12, handleMetadata) }

func handleMetadata(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	s := c.Server()
	b := s.Broker()

	// Cluster mode: every live node, this one leading every partition
	// (cluster.go).
	resp.Brokers = s.clusterBrokers(c.Context())
	self := s.nodeID()
	id := b.ClusterID()
	resp.ClusterID = &id
	resp.ControllerID = self
	if req.IncludeClusterAuthorizedOperations {
		resp.AuthorizedOperations = clusterOperations
	}

	addTopic := func(ti broker.TopicInfo) {
		t := kmsg.NewMetadataResponseTopic()
		name := ti.Name
		t.Topic = &name
		t.TopicID = ti.ID
		if req.IncludeTopicAuthorizedOperations {
			t.AuthorizedOperations = topicOperations
		}
		t.Partitions = make([]kmsg.MetadataResponseTopicPartition, len(ti.Partitions))
		for i, p := range ti.Partitions {
			mp := kmsg.NewMetadataResponseTopicPartition()
			mp.Partition = p.Partition
			mp.Leader = self
			mp.LeaderEpoch = 0
			mp.Replicas = []int32{self}
			mp.ISR = []int32{self}
			mp.OfflineReplicas = []int32{}
			t.Partitions[i] = mp
		}
		resp.Topics = append(resp.Topics, t)
	}
	topicError := func(name *string, id [16]byte, code int16) {
		t := kmsg.NewMetadataResponseTopic()
		t.Topic, t.TopicID, t.ErrorCode = name, id, code
		t.Partitions = []kmsg.MetadataResponseTopicPartition{}
		resp.Topics = append(resp.Topics, t)
	}

	if req.Topics == nil || req.Version == 0 && len(req.Topics) == 0 {
		for _, ti := range b.ListTopics() {
			addTopic(ti)
		}
		return resp, nil, nil
	}
	autoCreate := s.AutoCreateTopics() && (req.Version < 4 || req.AllowAutoTopicCreation)
	seen := make(map[string]bool, len(req.Topics))
	for _, rt := range req.Topics {
		var name string
		switch {
		case rt.TopicID != [16]byte{}:
			n, err := b.TopicByID(broker.TopicID(rt.TopicID))
			if err != nil {
				topicError(nil, rt.TopicID, topicErrorCode(err))
				continue
			}
			name = n
		case rt.Topic == nil:
			continue
		default:
			name = *rt.Topic
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		ti, err := b.DescribeTopic(name)
		if err != nil && autoCreate && broker.ValidateTopicName(name) == nil {
			ti, err = b.CreateTopic(c.Context(), name, 1, nil)
			if err == nil {
				c.Logger().Info("topic auto-created by a Kafka Metadata request", "topic", name, "client_id", c.ClientID())
			} else if ti2, err2 := b.DescribeTopic(name); err2 == nil { // created meanwhile
				ti, err = ti2, nil
			}
		}
		if err != nil {
			code := topicErrorCode(err)
			if broker.ValidateTopicName(name) != nil {
				code = kerr.InvalidTopicException.Code
			}
			n := name
			topicError(&n, rt.TopicID, code)
			continue
		}
		addTopic(ti)
	}
	return resp, nil, nil
}

// metadataBroker is this node as Metadata lists it.
func (s *Server) metadataBroker() kmsg.MetadataResponseBroker {
	mb := kmsg.NewMetadataResponseBroker()
	mb.NodeID = s.nodeID()
	mb.Host, mb.Port = s.advertisedHostPort()
	return mb
}
