package kafka

// CreateAcls, v0-3: stores each creation (acls.go has the conversions);
// needs alter on the cluster, else every result is
// CLUSTER_AUTHORIZATION_FAILED (31). Each creation succeeds or fails on its
// own: one Sluice cannot express (a host other than "*", a principal type
// other than User, an unsupported operation, resource type or pattern
// type, an empty name) answers INVALID_REQUEST (42) with the reason. An
// existing rule is kept once. Without an authorizer, SECURITY_DISABLED (54).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/acl"
)

func init() { register(kmsg.CreateACLs, 0, 3, handleCreateACLs) }

func handleCreateACLs(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.CreateACLsRequest)
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	resp.Results = make([]kmsg.CreateACLsResponseResult, len(req.Creations))
	for i := range resp.Results {
		resp.Results[i] = kmsg.NewCreateACLsResponseResult()
	}
	a, code, msg := aclManager(c, acl.Alter)
	if a == nil {
		for i := range resp.Results {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = code, msg
		}
		return resp, nil, nil
	}
	for i, cr := range req.Creations {
		r, err := aclRule(req.Version, cr)
		if err == nil {
			err = a.Create(c.Context(), []acl.Rule{r})
		}
		if err != nil {
			m := err.Error()
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = kerr.InvalidRequest.Code, &m
		}
	}
	return resp, nil, nil
}

// aclRule converts one creation.
func aclRule(version int16, cr kmsg.CreateACLsRequestCreation) (acl.Rule, error) {
	var r acl.Rule
	var err error
	if r.Resource, err = aclResourceType(cr.ResourceType, false); err != nil {
		return r, err
	}
	r.Name = cr.ResourceName
	if r.Pattern, err = aclPattern(cr.ResourcePatternType, version, false); err != nil {
		return r, err
	}
	if r.Principal, err = aclPrincipal(cr.Principal); err != nil {
		return r, err
	}
	host := cr.Host
	if err = checkHost(&host, false); err != nil {
		return r, err
	}
	if r.Operation, err = aclOperation(cr.Operation, false); err != nil {
		return r, err
	}
	if r.Permission, err = aclPermission(cr.PermissionType, false); err != nil {
		return r, err
	}
	return r, r.Validate()
}
