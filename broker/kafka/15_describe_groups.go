package kafka

// DescribeGroups, v0-5: classic groups with their state, protocol and
// members (metadata and assignment while Stable, as Kafka). A group known
// only by its committed offsets is Empty; an unknown group, or a KIP-848
// group (described by ConsumerGroupDescribe), answers Dead without an
// error, as Kafka does below v6 (AK GroupMetadataManager.describeGroups).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.DescribeGroups, 0, 5, handleDescribeGroups) }

func handleDescribeGroups(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.DescribeGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, id := range req.Groups {
		rg := kmsg.NewDescribeGroupsResponseGroup()
		rg.Group = id
		if !validGroup(id) {
			rg.ErrorCode = kerr.InvalidGroupID.Code
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		gi, err := c.Server().Broker().DescribeClassicGroup(c.Context(), id)
		if err != nil {
			rg.ErrorCode = codeFor(c, "DescribeGroups", err)
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		rg.State, rg.ProtocolType, rg.Protocol = gi.State.String(), gi.ProtocolType, gi.Protocol
		for _, m := range gi.Members {
			rm := kmsg.NewDescribeGroupsResponseGroupMember()
			rm.MemberID, rm.InstanceID, rm.ClientID, rm.ClientHost = m.ID, nilIfEmpty(m.InstanceID), m.ClientID, m.Host
			rm.ProtocolMetadata, rm.MemberAssignment = m.Metadata, m.Assignment
			if rm.ProtocolMetadata == nil {
				rm.ProtocolMetadata = []byte{}
			}
			if rm.MemberAssignment == nil {
				rm.MemberAssignment = []byte{}
			}
			rg.Members = append(rg.Members, rm)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil, nil
}
