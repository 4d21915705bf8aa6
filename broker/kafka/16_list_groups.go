package kafka

// ListGroups, v0-5: every group with members or committed offsets, of both
// protocols: classic groups (type "classic", their protocol type) and
// KIP-848 groups, including the Connect API's Consume groups (type
// "consumer"). A group known only by its offsets is an Empty classic group,
// as Kafka loads it. v4 filters by state and v5 by type, both
// case-insensitively.

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.ListGroups, 0, 5, handleListGroups) }

// kafkaGroupState renders a broker group state in Kafka's spelling.
func kafkaGroupState(s string) string {
	switch s {
	case "empty":
		return "Empty"
	case "stable":
		return "Stable"
	case "reconciling":
		return "Reconciling"
	case "preparing-rebalance":
		return "PreparingRebalance"
	case "completing-rebalance":
		return "CompletingRebalance"
	}
	return s
}

// matchesAny reports whether s equals one of filter, ignoring case; an
// empty filter matches everything.
func matchesAny(filter []string, s string) bool {
	if len(filter) == 0 {
		return true
	}
	for _, f := range filter {
		if strings.EqualFold(f, s) {
			return true
		}
	}
	return false
}

func handleListGroups(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.ListGroupsRequest)
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	groups, err := c.Server().Broker().ListGroups(c.Context())
	if err != nil {
		resp.ErrorCode = codeFor(c, "ListGroups", err)
		return resp, nil, nil
	}
	for _, g := range groups {
		state := kafkaGroupState(g.State)
		if !matchesAny(req.StatesFilter, state) || !matchesAny(req.TypesFilter, g.Type) {
			continue
		}
		rg := kmsg.NewListGroupsResponseGroup()
		rg.Group, rg.GroupState, rg.GroupType = g.Group, state, g.Type
		rg.ProtocolType = g.ProtocolType
		if g.Type == "consumer" {
			rg.ProtocolType = "consumer"
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil, nil
}
