package acl_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/acl"
	"github.com/sluicehq/sluice/acl/acltest"
	"github.com/sluicehq/sluice/auth"
	"github.com/sluicehq/sluice/internal/pgmeta"
	"github.com/sluicehq/sluice/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// openPostgres opens a store on the database at url.
func openPostgres(t *testing.T, url string) *acl.MetaStore {
	t.Helper()
	pool, err := pgmeta.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s, err := acl.OpenPostgresStore(context.Background(), pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPostgresStore(t *testing.T) {
	acltest.TestStore(t, func(t *testing.T) acl.Store { return openPostgres(t, pgtest.DB(t)) })
}

// TestNodesShareRules: two nodes' Authorizers over one PostgreSQL database
// (cluster mode). A rule created on one decides checks on the other as
// soon as the notification arrives (the safety poll is 5 s; the wait
// below allows more, for a loaded machine), a deletion too, and a Delete
// on a node removes rules it had not loaded yet.
func TestNodesShareRules(t *testing.T) {
	url := pgtest.DB(t)
	ctx := context.Background()
	node := func() *acl.Authorizer {
		a, err := acl.New(ctx, acl.Config{Store: openPostgres(t, url), Enforce: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(a.Close)
		return a
	}
	a, b := node(), node()
	bob := auth.NewContext(ctx, auth.Principal{Name: "bob"})
	orders := acl.TopicResource("orders")
	eventually := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not seen within 30 s", what)
			}
		}
	}
	if b.Allowed(bob, acl.Write, orders) {
		t.Fatal("bob may write before any rule")
	}
	rule := acl.Rule{Principal: "bob", Resource: acl.Topic, Name: "orders", Pattern: acl.Literal, Operation: acl.Write, Permission: acl.Allow}
	if err := a.Create(ctx, []acl.Rule{rule}); err != nil {
		t.Fatal(err)
	}
	eventually("a rule created on node a, on node b", func() bool { return b.Allowed(bob, acl.Write, orders) })
	if got := b.Rules(acl.Filter{}); !slices.Equal(got, []acl.Rule{rule}) {
		t.Errorf("node b lists %v", got)
	}
	gone, err := b.Delete(ctx, acl.Filter{Principal: "bob"})
	if err != nil || !slices.Equal(gone, []acl.Rule{rule}) {
		t.Fatalf("delete on node b: %v, %v", gone, err)
	}
	eventually("a rule deleted on node b, on node a", func() bool { return !a.Allowed(bob, acl.Write, orders) })

	// A Delete reads the store: node b removes a rule node a created a
	// moment ago even if its cache has not caught up.
	deny := acl.Rule{Principal: "*", Resource: acl.Topic, Name: "x", Pattern: acl.Prefixed, Operation: acl.Read, Permission: acl.Deny}
	if err := a.Create(ctx, []acl.Rule{deny}); err != nil {
		t.Fatal(err)
	}
	if gone, err := b.Delete(ctx, acl.Filter{Permission: acl.Deny}); err != nil || !slices.Equal(gone, []acl.Rule{deny}) {
		t.Fatalf("delete on node b of a rule just made on a: %v, %v", gone, err)
	}
	eventually("node a's cache after node b's delete", func() bool { return len(a.Rules(acl.Filter{})) == 0 })
}
