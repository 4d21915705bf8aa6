// Package acl authorizes authenticated principals (package auth): the ACL
// model of DESIGN.md §10, the decision, and the store of ACLs.
//
// # Model
//
// A Rule allows or denies one principal (a user name, or "*" for every
// principal) one Operation on the resources of one type (topic, subject,
// group, cluster, transactional-id) whose name is a literal (the name itself,
// or "*" for every resource of the type) or a prefix. The decision (Decide)
// follows Kafka's authorizer: superusers pass every check; a matching deny
// wins over any allow; with no matching allow the request is refused.
// Describe is implied by an allow of read, write, delete or alter (never by a
// deny of them), and "all" stands for every operation.
//
// # Where it is checked
//
// One Authorizer per node makes every decision; each transport (Confluent
// REST, Connect, the Kafka listener) asks it, with the principal the
// authentication layer put in the request's or connection's context (see
// Authorizer.Authorize), before calling the core, and maps a *DeniedError to
// its refusal (HTTP 403 / 40301, Connect PermissionDenied, Kafka
// *_AUTHORIZATION_FAILED). The checks sit at the transports' entry rather than
// inside the broker and registry cores because the cores also call each other
// on a principal's behalf (schema enforcement reads the registry for a
// producer who may not read subjects), because Kafka answers authorization
// per topic inside one response and filters Metadata, and because a check
// before the core is called is what makes a refused produce write nothing and
// a refused read return nothing. The same answer on every transport comes
// from the one decision over the one cached rule set; the transports' tables
// of request to (operation, resource) are tested against each other.
//
// # Storage
//
// Rules live in the node's meta store (MetaStore over internal/metastore):
// meta.db for an embedded node, the cluster's PostgreSQL database in cluster
// mode. The Authorizer keeps the whole set in memory, copy-on-write behind an
// atomic pointer: checks take no lock; writes go through the store first and
// then swap the cache. On PostgreSQL every write notifies the other nodes
// (LISTEN/NOTIFY, channel sluice_acl), whose Authorizers reload the set at
// once; a reconnection and a safety poll every few seconds reload it too
// (Watcher).
package acl

import (
	"errors"
	"fmt"
	"strings"
)

// ResourceType is the kind of resource a Rule or a check is about.
type ResourceType int8

// Resource types. ResourceAny is only for filters.
const (
	ResourceAny ResourceType = iota
	Topic
	Subject
	Group
	Cluster
	TransactionalID
)

// ClusterName is the name of the one cluster resource, as Kafka names it.
const ClusterName = "kafka-cluster"

var resourceNames = [...]string{"any", "topic", "subject", "group", "cluster", "transactional-id"}

// String is the resource type's name: "topic", "subject", "group",
// "cluster", "transactional-id" (or "any").
func (t ResourceType) String() string {
	if t < 0 || int(t) >= len(resourceNames) {
		return fmt.Sprintf("resource(%d)", int8(t))
	}
	return resourceNames[t]
}

// ParseResourceType parses a resource type name (case-insensitive; "any" only
// when any is true).
func ParseResourceType(s string, any bool) (ResourceType, error) {
	for i, n := range resourceNames {
		if strings.EqualFold(s, n) && (i != 0 || any) {
			return ResourceType(i), nil
		}
	}
	return 0, fmt.Errorf("acl: unknown resource type %q (want topic, subject, group, cluster or transactional-id)", s)
}

// Operation is what a principal does to a resource.
type Operation int8

// Operations. OpAny is only for filters; All, in a rule, is every operation.
const (
	OpAny Operation = iota
	Read
	Write
	Create
	Delete
	Alter
	Describe
	All
)

var operationNames = [...]string{"any", "read", "write", "create", "delete", "alter", "describe", "all"}

// String is the operation's name, lower case.
func (o Operation) String() string {
	if o < 0 || int(o) >= len(operationNames) {
		return fmt.Sprintf("operation(%d)", int8(o))
	}
	return operationNames[o]
}

// ParseOperation parses an operation name (case-insensitive; "any" only when
// any is true).
func ParseOperation(s string, any bool) (Operation, error) {
	for i, n := range operationNames {
		if strings.EqualFold(s, n) && (i != 0 || any) {
			return Operation(i), nil
		}
	}
	return 0, fmt.Errorf("acl: unknown operation %q (want read, write, create, delete, alter, describe or all)", s)
}

// PatternType says how a rule's name matches resource names.
type PatternType int8

// Pattern types. PatternAny and PatternMatch are only for filters: any
// pattern type, and (Kafka's MATCH) every rule that applies to the filter's
// name: literal equal, the literal "*", or a prefix of it.
const (
	PatternAny PatternType = iota
	PatternMatch
	Literal
	Prefixed
)

var patternNames = [...]string{"any", "match", "literal", "prefixed"}

// String is the pattern type's name, lower case.
func (p PatternType) String() string {
	if p < 0 || int(p) >= len(patternNames) {
		return fmt.Sprintf("pattern(%d)", int8(p))
	}
	return patternNames[p]
}

// ParsePatternType parses a pattern type name (case-insensitive; "any" and
// "match" only when filter is true).
func ParsePatternType(s string, filter bool) (PatternType, error) {
	for i, n := range patternNames {
		if strings.EqualFold(s, n) && (i >= int(Literal) || filter) {
			return PatternType(i), nil
		}
	}
	return 0, fmt.Errorf("acl: unknown pattern type %q (want literal or prefixed)", s)
}

// Permission is allow or deny.
type Permission int8

// Permissions. PermissionAny is only for filters.
const (
	PermissionAny Permission = iota
	Allow
	Deny
)

var permissionNames = [...]string{"any", "allow", "deny"}

// String is "allow" or "deny" (or "any").
func (p Permission) String() string {
	if p < 0 || int(p) >= len(permissionNames) {
		return fmt.Sprintf("permission(%d)", int8(p))
	}
	return permissionNames[p]
}

// ParsePermission parses "allow" or "deny" (case-insensitive; "any" only
// when any is true).
func ParsePermission(s string, any bool) (Permission, error) {
	for i, n := range permissionNames {
		if strings.EqualFold(s, n) && (i != 0 || any) {
			return Permission(i), nil
		}
	}
	return 0, fmt.Errorf("acl: unknown permission %q (want allow or deny)", s)
}

// Resource is one named resource a request acts on.
type Resource struct {
	Type ResourceType
	Name string
}

// String is "topic orders", "cluster", ...
func (r Resource) String() string {
	if r.Type == Cluster {
		return "cluster"
	}
	return fmt.Sprintf("%s %q", r.Type, r.Name)
}

// TopicResource, SubjectResource, GroupResource and TransactionalIDResource
// name one resource; ClusterResource is the cluster.
func TopicResource(name string) Resource { return Resource{Topic, name} }

// SubjectResource names a registry subject.
func SubjectResource(name string) Resource { return Resource{Subject, name} }

// GroupResource names a consumer group.
func GroupResource(name string) Resource { return Resource{Group, name} }

// TransactionalIDResource names a Kafka transactional id.
func TransactionalIDResource(name string) Resource { return Resource{TransactionalID, name} }

// ClusterResource is the cluster, the resource of node-wide operations (ACL
// management, the global registry config and mode).
func ClusterResource() Resource { return Resource{Cluster, ClusterName} }

// Wildcard is the principal of a rule for every principal, and the literal
// name of a rule for every resource of its type.
const Wildcard = "*"

// Rule is one ACL.
type Rule struct {
	// Principal is a user name (auth.Principal.Name, no "User:" prefix) or
	// Wildcard.
	Principal string
	// Resource is the type of resource the rule is about.
	Resource ResourceType
	// Name is the resource name (Literal; Wildcard for every resource of the
	// type) or a name prefix (Prefixed). A cluster rule's name is
	// ClusterName.
	Name string
	// Pattern is Literal or Prefixed.
	Pattern PatternType
	// Operation is the operation, or All.
	Operation Operation
	// Permission is Allow or Deny.
	Permission Permission
}

// String renders the rule for logs and messages: `allow alice write topic
// orders (prefixed)`.
func (r Rule) String() string {
	name := r.Name
	if r.Pattern == Prefixed {
		name += " (prefixed)"
	}
	return fmt.Sprintf("%s %s %s %s %s", r.Permission, r.Principal, r.Operation, r.Resource, name)
}

// MaxNameBytes bounds principal and resource names in rules.
const MaxNameBytes = 1024

// Validate reports what is wrong with r as a rule to store, naming the
// field; the cluster's name may be given empty (Normalize fills it).
func (r Rule) Validate() error {
	var errs []error
	if r.Principal == "" {
		errs = append(errs, errors.New("principal is empty (want a user name or *)"))
	} else if len(r.Principal) > MaxNameBytes {
		errs = append(errs, fmt.Errorf("principal is longer than %d bytes", MaxNameBytes))
	}
	if r.Resource <= ResourceAny || r.Resource > TransactionalID {
		errs = append(errs, fmt.Errorf("resource type %s is not one of topic, subject, group, cluster, transactional-id", r.Resource))
	}
	switch {
	case r.Resource == Cluster && r.Name != ClusterName:
		errs = append(errs, fmt.Errorf("cluster resource name %q: the cluster's name is %q", r.Name, ClusterName))
	case r.Name == "":
		errs = append(errs, errors.New("resource name is empty"))
	case len(r.Name) > MaxNameBytes:
		errs = append(errs, fmt.Errorf("resource name is longer than %d bytes", MaxNameBytes))
	}
	if r.Pattern != Literal && r.Pattern != Prefixed {
		errs = append(errs, fmt.Errorf("pattern type %s is not literal or prefixed", r.Pattern))
	} else if r.Resource == Cluster && r.Pattern != Literal {
		errs = append(errs, errors.New("a cluster rule's pattern type must be literal"))
	}
	if r.Operation <= OpAny || r.Operation > All {
		errs = append(errs, fmt.Errorf("operation %s is not one of read, write, create, delete, alter, describe, all", r.Operation))
	}
	if r.Permission != Allow && r.Permission != Deny {
		errs = append(errs, fmt.Errorf("permission %s is not allow or deny", r.Permission))
	}
	if len(errs) > 0 {
		return fmt.Errorf("acl: rule %s: %w", r, errors.Join(errs...))
	}
	return nil
}

// Normalize fills the cluster rule's name when empty.
func (r Rule) Normalize() Rule {
	if r.Resource == Cluster && r.Name == "" {
		r.Name = ClusterName
	}
	return r
}

// Filter selects rules to list or delete: each zero field matches anything.
type Filter struct {
	// Principal is a user name or Wildcard (the rules for every principal);
	// "" matches every rule.
	Principal string
	// Resource is a type, or ResourceAny.
	Resource ResourceType
	// Name is the resource name; "" matches every name.
	Name string
	// Pattern is Literal or Prefixed (the rule's own pattern type and name
	// equal to Name), PatternMatch (rules that apply to the resource Name),
	// or PatternAny (rules with Name as their name, of either type).
	Pattern PatternType
	// Operation is an operation or OpAny.
	Operation Operation
	// Permission is Allow, Deny or PermissionAny.
	Permission Permission
}

// Matches reports whether rule r is selected by f.
func (f Filter) Matches(r Rule) bool {
	if f.Principal != "" && f.Principal != r.Principal {
		return false
	}
	if f.Resource != ResourceAny && f.Resource != r.Resource {
		return false
	}
	if f.Operation != OpAny && f.Operation != r.Operation {
		return false
	}
	if f.Permission != PermissionAny && f.Permission != r.Permission {
		return false
	}
	switch f.Pattern {
	case PatternMatch:
		if f.Name == "" {
			return true
		}
		return nameMatches(r, f.Name)
	case PatternAny:
		return f.Name == "" || f.Name == r.Name
	default:
		return f.Pattern == r.Pattern && (f.Name == "" || f.Name == r.Name)
	}
}

// nameMatches reports whether rule r applies to a resource called name.
func nameMatches(r Rule, name string) bool {
	switch r.Pattern {
	case Literal:
		return r.Name == name || r.Name == Wildcard
	case Prefixed:
		return strings.HasPrefix(name, r.Name)
	}
	return false
}
