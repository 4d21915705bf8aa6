// Package rpc serves the AclService (proto sluice.acl.v1) over Connect,
// gRPC and gRPC-Web: a thin adapter over acl.Authorizer.
//
// Creating and deleting rules needs alter on the cluster, listing them
// describe on the cluster (superusers pass both); a refusal is
// PermissionDenied naming the operation and resource. An invalid rule is
// InvalidArgument naming every problem, and nothing of the request is
// stored.
package rpc

import (
	"context"
	"errors"
	"net/http"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/acl"
	aclv1 "github.com/sluicehq/sluice/proto/gen/sluice/acl/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/acl/v1/aclv1connect"
)

// NewHandler returns the AclService's path and handler over a.
func NewHandler(a *acl.Authorizer, opts ...connect.HandlerOption) (string, http.Handler) {
	return aclv1connect.NewAclServiceHandler(service{a}, opts...)
}

type service struct{ a *acl.Authorizer }

func (s service) CreateAcls(ctx context.Context, creq *connect.Request[aclv1.CreateAclsRequest]) (*connect.Response[aclv1.CreateAclsResponse], error) {
	req := creq.Msg
	if err := s.a.Authorize(ctx, acl.Alter, acl.ClusterResource()); err != nil {
		return nil, connectError(err)
	}
	rules := make([]acl.Rule, 0, len(req.GetAcls()))
	for _, a := range req.GetAcls() {
		rules = append(rules, RuleFromProto(a))
	}
	if err := s.a.Create(ctx, rules); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	return connect.NewResponse(&aclv1.CreateAclsResponse{}), nil
}

func (s service) ListAcls(ctx context.Context, creq *connect.Request[aclv1.ListAclsRequest]) (*connect.Response[aclv1.ListAclsResponse], error) {
	req := creq.Msg
	if err := s.a.Authorize(ctx, acl.Describe, acl.ClusterResource()); err != nil {
		return nil, connectError(err)
	}
	out := &aclv1.ListAclsResponse{}
	for _, r := range s.a.Rules(FilterFromProto(req.GetFilter())) {
		out.Acls = append(out.Acls, RuleToProto(r))
	}
	return connect.NewResponse(out), nil
}

func (s service) DeleteAcls(ctx context.Context, creq *connect.Request[aclv1.DeleteAclsRequest]) (*connect.Response[aclv1.DeleteAclsResponse], error) {
	req := creq.Msg
	if err := s.a.Authorize(ctx, acl.Alter, acl.ClusterResource()); err != nil {
		return nil, connectError(err)
	}
	gone, err := s.a.Delete(ctx, FilterFromProto(req.GetFilter()))
	if err != nil {
		return nil, connectError(err)
	}
	out := &aclv1.DeleteAclsResponse{}
	for _, r := range gone {
		out.Deleted = append(out.Deleted, RuleToProto(r))
	}
	return connect.NewResponse(out), nil
}

// connectError maps a refusal to PermissionDenied, anything else to
// Internal.
func connectError(err error) error {
	if errors.Is(err, acl.ErrDenied) {
		return connect.NewError(connect.CodePermissionDenied, err)
	}
	return connect.NewError(connect.CodeInternal, err)
}

// The proto enums number their values as package acl does (0 is any).

// RuleFromProto converts a wire rule; out-of-range enums stay out of range
// and fail acl.Rule.Validate.
func RuleFromProto(a *aclv1.Acl) acl.Rule {
	return acl.Rule{
		Principal:  a.GetPrincipal(),
		Resource:   acl.ResourceType(a.GetResourceType()),
		Name:       a.GetResourceName(),
		Pattern:    acl.PatternType(a.GetPatternType()),
		Operation:  acl.Operation(a.GetOperation()),
		Permission: acl.Permission(a.GetPermission()),
	}
}

// RuleToProto converts a rule to its wire form.
func RuleToProto(r acl.Rule) *aclv1.Acl {
	return &aclv1.Acl{
		Principal:    r.Principal,
		ResourceType: aclv1.ResourceType(r.Resource),
		ResourceName: r.Name,
		PatternType:  aclv1.PatternType(r.Pattern),
		Operation:    aclv1.Operation(r.Operation),
		Permission:   aclv1.Permission(r.Permission),
	}
}

// FilterFromProto converts a wire filter (nil selects everything).
func FilterFromProto(f *aclv1.AclFilter) acl.Filter {
	return acl.Filter{
		Principal:  f.GetPrincipal(),
		Resource:   acl.ResourceType(f.GetResourceType()),
		Name:       f.GetResourceName(),
		Pattern:    acl.PatternType(f.GetPatternType()),
		Operation:  acl.Operation(f.GetOperation()),
		Permission: acl.Permission(f.GetPermission()),
	}
}

// FilterToProto converts a filter to its wire form.
func FilterToProto(f acl.Filter) *aclv1.AclFilter {
	return &aclv1.AclFilter{
		Principal:    f.Principal,
		ResourceType: aclv1.ResourceType(f.Resource),
		ResourceName: f.Name,
		PatternType:  aclv1.PatternType(f.Pattern),
		Operation:    aclv1.Operation(f.Operation),
		Permission:   aclv1.Permission(f.Permission),
	}
}
