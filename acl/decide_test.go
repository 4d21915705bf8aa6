package acl_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/acl"
	"github.com/sluicehq/sluice/auth"
)

func rule(principal string, rt acl.ResourceType, name string, pt acl.PatternType, op acl.Operation, perm acl.Permission) acl.Rule {
	return acl.Rule{Principal: principal, Resource: rt, Name: name, Pattern: pt, Operation: op, Permission: perm}
}

func TestDecide(t *testing.T) {
	const (
		lit  = acl.Literal
		pre  = acl.Prefixed
		allw = acl.Allow
		deny = acl.Deny
	)
	orders := acl.TopicResource("orders")
	for _, tc := range []struct {
		name      string
		rules     []acl.Rule
		principal string
		superuser bool
		op        acl.Operation
		res       acl.Resource
		want      bool
	}{
		{"no rules refuse", nil, "alice", false, acl.Read, orders, false},
		{"superuser passes with no rules", nil, "root", true, acl.Delete, orders, true},
		{"superuser passes a deny", []acl.Rule{rule("root", acl.Topic, "orders", lit, acl.All, deny)}, "root", true, acl.Write, orders, true},
		{"anonymous refused even by a wildcard allow", []acl.Rule{rule("*", acl.Topic, "*", lit, acl.All, allw)}, "", false, acl.Read, orders, false},
		{"literal allow", []acl.Rule{rule("alice", acl.Topic, "orders", lit, acl.Write, allw)}, "alice", false, acl.Write, orders, true},
		{"literal allow other op", []acl.Rule{rule("alice", acl.Topic, "orders", lit, acl.Write, allw)}, "alice", false, acl.Read, orders, false},
		{"literal allow other name", []acl.Rule{rule("alice", acl.Topic, "orders2", lit, acl.Write, allw)}, "alice", false, acl.Write, orders, false},
		{"literal is not a prefix", []acl.Rule{rule("alice", acl.Topic, "ord", lit, acl.Write, allw)}, "alice", false, acl.Write, orders, false},
		{"other principal", []acl.Rule{rule("bob", acl.Topic, "orders", lit, acl.Write, allw)}, "alice", false, acl.Write, orders, false},
		{"wildcard principal", []acl.Rule{rule("*", acl.Topic, "orders", lit, acl.Read, allw)}, "alice", false, acl.Read, orders, true},
		{"wildcard name", []acl.Rule{rule("alice", acl.Topic, "*", lit, acl.Read, allw)}, "alice", false, acl.Read, orders, true},
		{"prefixed allow", []acl.Rule{rule("alice", acl.Topic, "ord", pre, acl.Read, allw)}, "alice", false, acl.Read, orders, true},
		{"prefixed other prefix", []acl.Rule{rule("alice", acl.Topic, "pay", pre, acl.Read, allw)}, "alice", false, acl.Read, orders, false},
		{"prefix longer than name", []acl.Rule{rule("alice", acl.Topic, "orders-eu", pre, acl.Read, allw)}, "alice", false, acl.Read, orders, false},
		{"prefixed star is a literal prefix", []acl.Rule{rule("alice", acl.Topic, "*", pre, acl.Read, allw)}, "alice", false, acl.Read, orders, false},
		{"other resource type", []acl.Rule{rule("alice", acl.Subject, "orders", lit, acl.Read, allw)}, "alice", false, acl.Read, orders, false},
		{"all grants any op", []acl.Rule{rule("alice", acl.Topic, "orders", lit, acl.All, allw)}, "alice", false, acl.Delete, orders, true},
		{"read implies describe", []acl.Rule{rule("alice", acl.Topic, "orders", lit, acl.Read, allw)}, "alice", false, acl.Describe, orders, true},
		{"write implies describe", []acl.Rule{rule("alice", acl.Topic, "orders", lit, acl.Write, allw)}, "alice", false, acl.Describe, orders, true},
		{"alter implies describe", []acl.Rule{rule("alice", acl.Topic, "orders", lit, acl.Alter, allw)}, "alice", false, acl.Describe, orders, true},
		{"delete implies describe", []acl.Rule{rule("alice", acl.Topic, "orders", lit, acl.Delete, allw)}, "alice", false, acl.Describe, orders, true},
		{"create does not imply describe", []acl.Rule{rule("alice", acl.Topic, "orders", lit, acl.Create, allw)}, "alice", false, acl.Describe, orders, false},
		{"describe does not imply read", []acl.Rule{rule("alice", acl.Topic, "orders", lit, acl.Describe, allw)}, "alice", false, acl.Read, orders, false},
		{"write does not imply read", []acl.Rule{rule("alice", acl.Topic, "orders", lit, acl.Write, allw)}, "alice", false, acl.Read, orders, false},
		{"deny wins over allow", []acl.Rule{
			rule("alice", acl.Topic, "orders", lit, acl.Write, allw),
			rule("alice", acl.Topic, "orders", lit, acl.Write, deny)}, "alice", false, acl.Write, orders, false},
		{"deny wins whatever the order", []acl.Rule{
			rule("alice", acl.Topic, "orders", lit, acl.Write, deny),
			rule("alice", acl.Topic, "orders", lit, acl.Write, allw)}, "alice", false, acl.Write, orders, false},
		{"wildcard deny wins over a named allow", []acl.Rule{
			rule("alice", acl.Topic, "orders", lit, acl.Read, allw),
			rule("*", acl.Topic, "ord", pre, acl.Read, deny)}, "alice", false, acl.Read, orders, false},
		{"deny all refuses describe", []acl.Rule{
			rule("alice", acl.Topic, "orders", lit, acl.All, allw),
			rule("alice", acl.Topic, "*", lit, acl.All, deny)}, "alice", false, acl.Describe, orders, false},
		{"deny read does not deny describe (as Kafka)", []acl.Rule{
			rule("alice", acl.Topic, "orders", lit, acl.Write, allw),
			rule("alice", acl.Topic, "orders", lit, acl.Read, deny)}, "alice", false, acl.Describe, orders, true},
		{"deny of another op leaves the allow", []acl.Rule{
			rule("alice", acl.Topic, "orders", lit, acl.Write, allw),
			rule("alice", acl.Topic, "orders", lit, acl.Delete, deny)}, "alice", false, acl.Write, orders, true},
		{"deny of another principal", []acl.Rule{
			rule("alice", acl.Topic, "orders", lit, acl.Write, allw),
			rule("bob", acl.Topic, "orders", lit, acl.Write, deny)}, "alice", false, acl.Write, orders, true},
		{"cluster alter", []acl.Rule{rule("ops", acl.Cluster, acl.ClusterName, lit, acl.Alter, allw)}, "ops", false, acl.Alter, acl.ClusterResource(), true},
		{"cluster alter implies describe", []acl.Rule{rule("ops", acl.Cluster, acl.ClusterName, lit, acl.Alter, allw)}, "ops", false, acl.Describe, acl.ClusterResource(), true},
		{"group read", []acl.Rule{rule("alice", acl.Group, "app-", pre, acl.Read, allw)}, "alice", false, acl.Read, acl.GroupResource("app-1"), true},
		{"transactional id write", []acl.Rule{rule("alice", acl.TransactionalID, "tx", lit, acl.Write, allw)}, "alice", false, acl.Write, acl.TransactionalIDResource("tx"), true},
		{"subject delete", []acl.Rule{rule("alice", acl.Subject, "orders-value", lit, acl.Delete, allw)}, "alice", false, acl.Delete, acl.SubjectResource("orders-value"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := acl.Decide(tc.rules, tc.principal, tc.superuser, tc.op, tc.res)
			if d.Allowed != tc.want {
				t.Fatalf("Decide(%s %s %s) = %+v, want allowed=%v", tc.principal, tc.op, tc.res, d, tc.want)
			}
			if d.Allowed && !tc.superuser && d.Rule == nil {
				t.Fatalf("allowed with no deciding rule")
			}
			if ix := acl.DecideIndexed(tc.rules, tc.principal, tc.superuser, tc.op, tc.res); ix.Allowed != d.Allowed {
				t.Fatalf("indexed decision %+v differs from %+v", ix, d)
			}
		})
	}
}

func TestAuthorizer(t *testing.T) {
	ctx := context.Background()
	alice := auth.NewContext(ctx, auth.Principal{Name: "alice", Method: "basic"})
	root := auth.NewContext(ctx, auth.Principal{Name: "root", Superuser: true, Method: "basic"})

	a, err := acl.New(ctx, acl.Config{Store: &acl.MemoryStore{}, Enforce: true})
	if err != nil {
		t.Fatal(err)
	}
	err = a.Authorize(alice, acl.Write, acl.TopicResource("orders"))
	var de *acl.DeniedError
	if !errors.As(err, &de) || !errors.Is(err, acl.ErrDenied) {
		t.Fatalf("Authorize with no rules = %v, want a *DeniedError", err)
	}
	if got, want := err.Error(), `principal "alice" is not authorized to write topic "orders"`; got != want {
		t.Fatalf("error = %q, want %q", got, want)
	}
	if err := a.Authorize(ctx, acl.Read, acl.TopicResource("orders")); err == nil || !strings.HasPrefix(err.Error(), "anonymous request") {
		t.Fatalf("anonymous: %v", err)
	}
	if err := a.Authorize(root, acl.Delete, acl.ClusterResource()); err != nil {
		t.Fatalf("superuser: %v", err)
	}
	w := rule("alice", acl.Topic, "orders", acl.Literal, acl.Write, acl.Allow)
	if err := a.Create(ctx, []acl.Rule{w, w}); err != nil {
		t.Fatal(err)
	}
	if err := a.Authorize(alice, acl.Write, acl.TopicResource("orders")); err != nil {
		t.Fatalf("after create: %v", err)
	}
	if n := len(a.Rules(acl.Filter{})); n != 1 {
		t.Fatalf("%d rules, want 1 (no duplicate)", n)
	}
	gone, err := a.Delete(ctx, acl.Filter{Principal: "alice"})
	if err != nil || len(gone) != 1 || gone[0] != w {
		t.Fatalf("Delete = %v, %v", gone, err)
	}
	if a.Allowed(alice, acl.Write, acl.TopicResource("orders")) {
		t.Fatal("allowed after delete")
	}

	// Off: everything passes, rules are still managed.
	off, err := acl.New(ctx, acl.Config{Store: &acl.MemoryStore{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := off.Authorize(ctx, acl.Delete, acl.TopicResource("orders")); err != nil {
		t.Fatalf("enforcement off: %v", err)
	}
	var nilA *acl.Authorizer
	if err := nilA.Authorize(ctx, acl.Delete, acl.TopicResource("orders")); err != nil {
		t.Fatalf("nil authorizer: %v", err)
	}
}

func TestCreateValidates(t *testing.T) {
	a, err := acl.New(context.Background(), acl.Config{Store: &acl.MemoryStore{}, Enforce: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		r    acl.Rule
		want string
	}{
		{"no principal", rule("", acl.Topic, "t", acl.Literal, acl.Read, acl.Allow), "principal is empty"},
		{"no name", rule("a", acl.Topic, "", acl.Literal, acl.Read, acl.Allow), "resource name is empty"},
		{"no type", rule("a", acl.ResourceAny, "t", acl.Literal, acl.Read, acl.Allow), "resource type any"},
		{"match pattern", rule("a", acl.Topic, "t", acl.PatternMatch, acl.Read, acl.Allow), "pattern type match"},
		{"any op", rule("a", acl.Topic, "t", acl.Literal, acl.OpAny, acl.Allow), "operation any"},
		{"any permission", rule("a", acl.Topic, "t", acl.Literal, acl.Read, acl.PermissionAny), "permission any"},
		{"cluster name", rule("a", acl.Cluster, "other", acl.Literal, acl.Alter, acl.Allow), `cluster resource name "other"`},
		{"cluster prefixed", rule("a", acl.Cluster, acl.ClusterName, acl.Prefixed, acl.Alter, acl.Allow), "must be literal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			good := rule("a", acl.Topic, "t", acl.Literal, acl.Read, acl.Allow)
			err := a.Create(context.Background(), []acl.Rule{good, tc.r})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Create = %v, want an error with %q", err, tc.want)
			}
			if n := len(a.Rules(acl.Filter{})); n != 0 {
				t.Fatalf("%d rules stored after a refused create", n)
			}
		})
	}
	// A cluster rule with no name gets the cluster's.
	if err := a.Create(context.Background(), []acl.Rule{rule("a", acl.Cluster, "", acl.Literal, acl.Alter, acl.Allow)}); err != nil {
		t.Fatal(err)
	}
}

func TestFilter(t *testing.T) {
	rs := []acl.Rule{
		rule("alice", acl.Topic, "orders", acl.Literal, acl.Read, acl.Allow),
		rule("alice", acl.Topic, "ord", acl.Prefixed, acl.Write, acl.Allow),
		rule("*", acl.Topic, "*", acl.Literal, acl.Describe, acl.Allow),
		rule("bob", acl.Group, "orders", acl.Literal, acl.Read, acl.Deny),
	}
	for _, tc := range []struct {
		name string
		f    acl.Filter
		want []int
	}{
		{"everything", acl.Filter{}, []int{0, 1, 2, 3}},
		{"principal", acl.Filter{Principal: "alice"}, []int{0, 1}},
		{"wildcard principal", acl.Filter{Principal: "*"}, []int{2}},
		{"type", acl.Filter{Resource: acl.Group}, []int{3}},
		{"name any pattern", acl.Filter{Name: "orders"}, []int{0, 3}},
		{"name literal", acl.Filter{Name: "ord", Pattern: acl.Literal}, nil},
		{"name prefixed", acl.Filter{Name: "ord", Pattern: acl.Prefixed}, []int{1}},
		{"match", acl.Filter{Resource: acl.Topic, Name: "orders", Pattern: acl.PatternMatch}, []int{0, 1, 2}},
		{"op", acl.Filter{Operation: acl.Write}, []int{1}},
		{"permission", acl.Filter{Permission: acl.Deny}, []int{3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []int
			for i, r := range rs {
				if tc.f.Matches(r) {
					got = append(got, i)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("matched %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("matched %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// BenchmarkDecide: one check against a rule set of 1,000 rules (the
// transports make one per topic, group or subject of a request).
func BenchmarkDecide(b *testing.B) {
	var rules []acl.Rule
	for i := range 1000 {
		rules = append(rules, rule(fmt.Sprintf("user-%d", i%50), acl.Topic, fmt.Sprintf("topic-%d", i), acl.Literal, acl.Write, acl.Allow))
	}
	rules = append(rules, rule("alice", acl.Topic, "orders", acl.Literal, acl.Write, acl.Allow))
	res := acl.TopicResource("orders")
	b.ReportAllocs()
	for b.Loop() {
		if !acl.Decide(rules, "alice", false, acl.Write, res).Allowed {
			b.Fatal("refused")
		}
	}
}

// BenchmarkAuthorize: the same check through the Authorizer's index.
func BenchmarkAuthorize(b *testing.B) {
	ctx := context.Background()
	a, err := acl.New(ctx, acl.Config{Store: &acl.MemoryStore{}, Enforce: true})
	if err != nil {
		b.Fatal(err)
	}
	var rules []acl.Rule
	for i := range 1000 {
		rules = append(rules, rule(fmt.Sprintf("user-%d", i%50), acl.Topic, fmt.Sprintf("topic-%d", i), acl.Literal, acl.Write, acl.Allow))
	}
	rules = append(rules, rule("alice", acl.Topic, "orders", acl.Literal, acl.Write, acl.Allow))
	if err := a.Create(ctx, rules); err != nil {
		b.Fatal(err)
	}
	alice := auth.NewContext(ctx, auth.Principal{Name: "alice"})
	res := acl.TopicResource("orders")
	b.ReportAllocs()
	for b.Loop() {
		if err := a.Authorize(alice, acl.Write, res); err != nil {
			b.Fatal(err)
		}
	}
}
