package kafka

// DeleteGroups, v0-2: deletes groups without members, with their committed
// offsets. A group with members is NON_EMPTY_GROUP; one with neither
// members nor offsets GROUP_ID_NOT_FOUND.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.DeleteGroups, 0, 2, handleDeleteGroups) }

func handleDeleteGroups(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.DeleteGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	for _, id := range req.Groups {
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group = id
		if !validGroup(id) {
			rg.ErrorCode = kerr.InvalidGroupID.Code
		} else {
			rg.ErrorCode = codeFor(c, "DeleteGroups", c.Server().Broker().DeleteGroup(c.Context(), id))
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil, nil
}
