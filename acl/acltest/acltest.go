// Package acltest is the conformance suite every acl.Store implementation
// passes (SQLite today, PostgreSQL for cluster mode).
package acltest

import (
	"context"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/acl"
)

// TestStore runs the suite against stores made by open, each empty.
func TestStore(t *testing.T, open func(t *testing.T) acl.Store) {
	ctx := context.Background()
	a := acl.Rule{Principal: "alice", Resource: acl.Topic, Name: "orders", Pattern: acl.Literal, Operation: acl.Write, Permission: acl.Allow}
	b := acl.Rule{Principal: "*", Resource: acl.Subject, Name: "orders-", Pattern: acl.Prefixed, Operation: acl.Read, Permission: acl.Deny}
	c := acl.Rule{Principal: "bob", Resource: acl.Cluster, Name: acl.ClusterName, Pattern: acl.Literal, Operation: acl.Alter, Permission: acl.Allow}
	sorted := func(rs []acl.Rule) []acl.Rule {
		rs = slices.Clone(rs)
		slices.SortFunc(rs, func(x, y acl.Rule) int {
			switch {
			case x.String() < y.String():
				return -1
			case x.String() > y.String():
				return 1
			}
			return 0
		})
		return rs
	}
	check := func(t *testing.T, s acl.Store, want ...acl.Rule) {
		t.Helper()
		got, err := s.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(sorted(got), sorted(want)) {
			t.Fatalf("Load = %v, want %v", got, want)
		}
	}
	t.Run("Empty", func(t *testing.T) {
		check(t, open(t))
	})
	t.Run("AddLoadRemove", func(t *testing.T) {
		s := open(t)
		if err := s.Add(ctx, []acl.Rule{a, b}); err != nil {
			t.Fatal(err)
		}
		check(t, s, a, b)
		if err := s.Add(ctx, []acl.Rule{a, c}); err != nil { // a again: not duplicated
			t.Fatal(err)
		}
		check(t, s, a, b, c)
		if err := s.Remove(ctx, []acl.Rule{b, {Principal: "nobody", Resource: acl.Topic, Name: "x", Pattern: acl.Literal, Operation: acl.Read, Permission: acl.Allow}}); err != nil {
			t.Fatal(err)
		}
		check(t, s, a, c)
	})
	t.Run("FieldsRoundTrip", func(t *testing.T) {
		s := open(t)
		var all []acl.Rule
		for rt := acl.Topic; rt <= acl.TransactionalID; rt++ {
			for op := acl.Read; op <= acl.All; op++ {
				r := acl.Rule{Principal: "p", Resource: rt, Name: "n é/%", Pattern: acl.Prefixed, Operation: op, Permission: acl.Deny}
				if rt == acl.Cluster {
					r.Name, r.Pattern, r.Permission = acl.ClusterName, acl.Literal, acl.Allow
				}
				all = append(all, r)
			}
		}
		if err := s.Add(ctx, all); err != nil {
			t.Fatal(err)
		}
		check(t, s, all...)
	})
}
