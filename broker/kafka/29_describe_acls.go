package kafka

// DescribeAcls, v0-3: the rules a filter selects (acls.go has the
// conversions), grouped by resource; needs describe on the cluster, else
// CLUSTER_AUTHORIZATION_FAILED (31). A filter Sluice cannot express (a
// host other than "*" or null, a principal type other than User, an
// operation Sluice does not check) answers INVALID_REQUEST (42) with the
// reason; without an authorizer, SECURITY_DISABLED (54). Subject rules have
// no Kafka resource type and are not listed.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/acl"
)

func init() { register(kmsg.DescribeACLs, 0, 3, handleDescribeACLs) }

var kerrSecurityDisabled = kerr.SecurityDisabled.Code

func handleDescribeACLs(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.DescribeACLsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	a, code, msg := aclManager(c, acl.Describe)
	if a == nil {
		resp.ErrorCode, resp.ErrorMessage = code, msg
		return resp, nil, nil
	}
	f, err := aclFilter(req.Version, req.ResourceType, req.ResourceName, req.ResourcePatternType, req.Principal, req.Host, req.Operation, req.PermissionType)
	if err != nil {
		m := err.Error()
		resp.ErrorCode, resp.ErrorMessage = kerr.InvalidRequest.Code, &m
		return resp, nil, nil
	}
	type key struct {
		t    acl.ResourceType
		name string
		p    acl.PatternType
	}
	index := map[key]int{}
	for _, r := range a.Rules(f) { // sorted by resource, name, pattern
		rt, ok := kafkaResourceType(r.Resource)
		if !ok {
			continue
		}
		k := key{r.Resource, r.Name, r.Pattern}
		i, ok := index[k]
		if !ok {
			res := kmsg.NewDescribeACLsResponseResource()
			res.ResourceType, res.ResourceName, res.ResourcePatternType = rt, r.Name, kafkaPattern(r.Pattern)
			resp.Resources = append(resp.Resources, res)
			i = len(resp.Resources) - 1
			index[k] = i
		}
		e := kmsg.NewDescribeACLsResponseResourceACL()
		e.Principal, e.Host = kafkaPrincipal(r.Principal), "*"
		e.Operation, e.PermissionType = kafkaOperation(r.Operation), kafkaPermission(r.Permission)
		resp.Resources[i].ACLs = append(resp.Resources[i].ACLs, e)
	}
	return resp, nil, nil
}
