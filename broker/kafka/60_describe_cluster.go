package kafka

// DescribeCluster, v0-1: the cluster id, controller 0 and node 0 at the
// advertised address (Kafka Connect reads the cluster id this way). Sluice
// answers as a broker: asking for the controller endpoints (v1
// endpoint_type 2) is UNSUPPORTED_ENDPOINT_TYPE, as Kafka's brokers answer.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.DescribeCluster, 0, 1, handleDescribeCluster) }

// Endpoint types of DescribeCluster v1.
const endpointBrokers = 1

func handleDescribeCluster(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	s := c.Server()
	resp.EndpointType = endpointBrokers
	if req.Version >= 1 && req.EndpointType != endpointBrokers {
		resp.EndpointType = req.EndpointType
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		msg := "Sluice serves the broker endpoints only (endpoint_type 1)"
		resp.ErrorMessage = &msg
		return resp, nil, nil
	}
	resp.ClusterID = s.Broker().ClusterID()
	resp.ControllerID = s.nodeID()
	// Cluster mode: every live node, as Metadata lists them (cluster.go).
	for _, mb := range s.clusterBrokers(c.Context()) {
		db := kmsg.NewDescribeClusterResponseBroker()
		db.NodeID, db.Host, db.Port = mb.NodeID, mb.Host, mb.Port
		resp.Brokers = append(resp.Brokers, db)
	}
	if req.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = clusterOperations
	}
	return resp, nil, nil
}
