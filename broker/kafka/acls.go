package kafka

// Conversions between Kafka's ACL wire model and package acl, shared by
// DescribeAcls (29), CreateAcls (30) and DeleteAcls (31).
//
//   - Principals are "User:<name>" on the wire and <name> in acl ("User:*"
//     is every principal); other principal types are refused.
//   - Hosts: only "*" (any host). Sluice does not restrict by client
//     address; a rule for another host is refused with INVALID_REQUEST.
//   - Resource types: topic, group, cluster, transactional id. Subject rules
//     (a Sluice resource Kafka has no code for) are managed with `sluice acl`
//     or the AclService and not listed here.
//   - Operations: all, read, write, create, delete, alter, describe.
//     Kafka's describe_configs and alter_configs are served as describe and
//     alter (that is what Sluice checks for configs), and a rule naming
//     them is refused; so are cluster_action, idempotent_write and the
//     token operations, which Sluice does not check.
//   - Pattern types: literal and prefixed; filters also any and match. v0
//     has no pattern type: literal, in rules and filters alike (as Kafka).

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/acl"
)

// principalPrefix is the only principal type Sluice has.
const principalPrefix = "User:"

// aclPrincipal converts "User:alice" to "alice".
func aclPrincipal(s string) (string, error) {
	name, ok := strings.CutPrefix(s, principalPrefix)
	if !ok || name == "" {
		return "", fmt.Errorf("principal %q: want User:<name> or User:*", s)
	}
	return name, nil
}

// kafkaPrincipal converts "alice" to "User:alice".
func kafkaPrincipal(name string) string { return principalPrefix + name }

func aclResourceType(t kmsg.ACLResourceType, filter bool) (acl.ResourceType, error) {
	switch t {
	case kmsg.ACLResourceTypeAny:
		if filter {
			return acl.ResourceAny, nil
		}
	case kmsg.ACLResourceTypeTopic:
		return acl.Topic, nil
	case kmsg.ACLResourceTypeGroup:
		return acl.Group, nil
	case kmsg.ACLResourceTypeCluster:
		return acl.Cluster, nil
	case kmsg.ACLResourceTypeTransactionalId:
		return acl.TransactionalID, nil
	}
	return 0, fmt.Errorf("resource type %s is not supported (topic, group, cluster, transactional_id)", t)
}

func kafkaResourceType(t acl.ResourceType) (kmsg.ACLResourceType, bool) {
	switch t {
	case acl.Topic:
		return kmsg.ACLResourceTypeTopic, true
	case acl.Group:
		return kmsg.ACLResourceTypeGroup, true
	case acl.Cluster:
		return kmsg.ACLResourceTypeCluster, true
	case acl.TransactionalID:
		return kmsg.ACLResourceTypeTransactionalId, true
	}
	return 0, false
}

func aclPattern(p kmsg.ACLResourcePatternType, version int16, filter bool) (acl.PatternType, error) {
	if version == 0 {
		return acl.Literal, nil
	}
	switch p {
	case kmsg.ACLResourcePatternTypeAny:
		if filter {
			return acl.PatternAny, nil
		}
	case kmsg.ACLResourcePatternTypeMatch:
		if filter {
			return acl.PatternMatch, nil
		}
	case kmsg.ACLResourcePatternTypeLiteral:
		return acl.Literal, nil
	case kmsg.ACLResourcePatternTypePrefixed:
		return acl.Prefixed, nil
	}
	return 0, fmt.Errorf("pattern type %s is not supported here", p)
}

func kafkaPattern(p acl.PatternType) kmsg.ACLResourcePatternType {
	if p == acl.Prefixed {
		return kmsg.ACLResourcePatternTypePrefixed
	}
	return kmsg.ACLResourcePatternTypeLiteral
}

var kafkaOps = map[kmsg.ACLOperation]acl.Operation{
	kmsg.ACLOperationAll:      acl.All,
	kmsg.ACLOperationRead:     acl.Read,
	kmsg.ACLOperationWrite:    acl.Write,
	kmsg.ACLOperationCreate:   acl.Create,
	kmsg.ACLOperationDelete:   acl.Delete,
	kmsg.ACLOperationAlter:    acl.Alter,
	kmsg.ACLOperationDescribe: acl.Describe,
}

func aclOperation(o kmsg.ACLOperation, filter bool) (acl.Operation, error) {
	if o == kmsg.ACLOperationAny && filter {
		return acl.OpAny, nil
	}
	if op, ok := kafkaOps[o]; ok {
		return op, nil
	}
	return 0, fmt.Errorf("operation %s is not supported (all, read, write, create, delete, alter, describe)", o)
}

func kafkaOperation(o acl.Operation) kmsg.ACLOperation {
	for k, v := range kafkaOps {
		if v == o {
			return k
		}
	}
	return kmsg.ACLOperationUnknown
}

func aclPermission(p kmsg.ACLPermissionType, filter bool) (acl.Permission, error) {
	switch p {
	case kmsg.ACLPermissionTypeAny:
		if filter {
			return acl.PermissionAny, nil
		}
	case kmsg.ACLPermissionTypeAllow:
		return acl.Allow, nil
	case kmsg.ACLPermissionTypeDeny:
		return acl.Deny, nil
	}
	return 0, fmt.Errorf("permission type %s is not supported (allow, deny)", p)
}

func kafkaPermission(p acl.Permission) kmsg.ACLPermissionType {
	if p == acl.Deny {
		return kmsg.ACLPermissionTypeDeny
	}
	return kmsg.ACLPermissionTypeAllow
}

// checkHost accepts only "*" (and, in a filter, null).
func checkHost(h *string, filter bool) error {
	if h == nil && filter {
		return nil
	}
	if h == nil || *h != "*" {
		got := "null"
		if h != nil {
			got = fmt.Sprintf("%q", *h)
		}
		return fmt.Errorf("host %s: Sluice ACLs apply to every host, give \"*\"", got)
	}
	return nil
}

// aclFilter converts a DescribeAcls or DeleteAcls filter.
func aclFilter(version int16, rt kmsg.ACLResourceType, name *string, pt kmsg.ACLResourcePatternType, principal, host *string, op kmsg.ACLOperation, perm kmsg.ACLPermissionType) (acl.Filter, error) {
	var f acl.Filter
	var err error
	if f.Resource, err = aclResourceType(rt, true); err != nil {
		return f, err
	}
	if name != nil {
		f.Name = *name
	}
	if f.Pattern, err = aclPattern(pt, version, true); err != nil {
		return f, err
	}
	if principal != nil {
		if f.Principal, err = aclPrincipal(*principal); err != nil {
			return f, err
		}
	}
	if err = checkHost(host, true); err != nil {
		return f, err
	}
	if f.Operation, err = aclOperation(op, true); err != nil {
		return f, err
	}
	if f.Permission, err = aclPermission(perm, true); err != nil {
		return f, err
	}
	return f, nil
}

// aclManager returns the authorizer behind the ACL APIs after checking
// that the connection's principal may perform op on the cluster; code is
// the error to answer otherwise (SECURITY_DISABLED without an authorizer,
// CLUSTER_AUTHORIZATION_FAILED), with its message.
func aclManager(c *Conn, op acl.Operation) (a *acl.Authorizer, code int16, msg *string) {
	a = c.srv.cfg.ACL
	if a == nil {
		m := "no authorizer is configured"
		return nil, kerrSecurityDisabled, &m
	}
	if err := a.Authorize(c.requestContext(), op, acl.ClusterResource()); err != nil {
		m := err.Error()
		return nil, codeClusterAuth, &m
	}
	return a, 0, nil
}
