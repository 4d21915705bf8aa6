package kafka

// DeleteAcls, v0-3: deletes the rules each filter selects and lists them
// per filter (acls.go has the conversions); needs alter on the cluster,
// else every result is CLUSTER_AUTHORIZATION_FAILED (31). A filter Sluice
// cannot express answers INVALID_REQUEST (42) in its result and deletes
// nothing. Without an authorizer, SECURITY_DISABLED (54). Subject rules
// have no Kafka resource type: a filter of type ANY leaves them alone.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/acl"
)

func init() { register(kmsg.DeleteACLs, 0, 3, handleDeleteACLs) }

func handleDeleteACLs(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.DeleteACLsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	resp.Results = make([]kmsg.DeleteACLsResponseResult, len(req.Filters))
	for i := range resp.Results {
		resp.Results[i] = kmsg.NewDeleteACLsResponseResult()
	}
	a, code, msg := aclManager(c, acl.Alter)
	if a == nil {
		for i := range resp.Results {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = code, msg
		}
		return resp, nil, nil
	}
	for i, kf := range req.Filters {
		res := &resp.Results[i]
		f, err := aclFilter(req.Version, kf.ResourceType, kf.ResourceName, kf.ResourcePatternType, kf.Principal, kf.Host, kf.Operation, kf.PermissionType)
		if err != nil {
			m := err.Error()
			res.ErrorCode, res.ErrorMessage = kerr.InvalidRequest.Code, &m
			continue
		}
		var gone []acl.Rule
		if f.Resource == acl.ResourceAny {
			// Kafka's ANY spans the Kafka resource types only.
			for _, t := range []acl.ResourceType{acl.Topic, acl.Group, acl.Cluster, acl.TransactionalID} {
				f.Resource = t
				g, derr := a.Delete(c.Context(), f)
				gone, err = append(gone, g...), derr
				if err != nil {
					break
				}
			}
		} else {
			gone, err = a.Delete(c.Context(), f)
		}
		if err != nil {
			m := err.Error()
			res.ErrorCode, res.ErrorMessage = kerr.UnknownServerError.Code, &m
		}
		for _, r := range gone {
			rt, _ := kafkaResourceType(r.Resource)
			m := kmsg.NewDeleteACLsResponseResultMatchingACL()
			m.ResourceType, m.ResourceName, m.ResourcePatternType = rt, r.Name, kafkaPattern(r.Pattern)
			m.Principal, m.Host = kafkaPrincipal(r.Principal), "*"
			m.Operation, m.PermissionType = kafkaOperation(r.Operation), kafkaPermission(r.Permission)
			res.MatchingACLs = append(res.MatchingACLs, m)
		}
	}
	return resp, nil, nil
}
