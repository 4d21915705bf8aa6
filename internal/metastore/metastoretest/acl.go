package metastoretest

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sluicehq/sluice/internal/metastore"
)

// ACLOpener returns a fresh, empty ACL store and a function opening another
// on the same database (another node).
type ACLOpener func(t *testing.T) (s metastore.ACLStore, reopen func(t *testing.T) metastore.ACLStore)

// RunACLs runs the ACL store's conformance tests against the stores open
// returns.
func RunACLs(t *testing.T, open ACLOpener) {
	ctx := context.Background()
	rule := func(principal, name, op string) metastore.ACLRule {
		return metastore.ACLRule{Principal: principal, ResourceType: "topic", ResourceName: name, PatternType: "literal", Operation: op, Permission: "allow"}
	}
	a, b, c := rule("alice", "orders", "write"), rule("*", "orders-", "read"), rule("bob", "é/% \x01", "describe")
	b.PatternType, b.Permission = "prefixed", "deny"
	sortRules := cmpopts.SortSlices(func(x, y metastore.ACLRule) bool {
		return x.Principal+"\x00"+x.ResourceName+"\x00"+x.Operation < y.Principal+"\x00"+y.ResourceName+"\x00"+y.Operation
	})
	check := func(t *testing.T, s metastore.ACLStore, want ...metastore.ACLRule) {
		t.Helper()
		got, err := s.ACLRules(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want == nil {
			want = []metastore.ACLRule{}
		}
		if d := cmp.Diff(want, got, sortRules, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("ACLRules (-want +got):\n%s", d)
		}
	}
	t.Run("AddRemove", func(t *testing.T) {
		s, _ := open(t)
		check(t, s)
		if err := s.AddACLRules(ctx, []metastore.ACLRule{a, b}); err != nil {
			t.Fatal(err)
		}
		if err := s.AddACLRules(ctx, []metastore.ACLRule{a, c}); err != nil { // a again: left as is
			t.Fatal(err)
		}
		check(t, s, a, b, c)
		if err := s.RemoveACLRules(ctx, []metastore.ACLRule{b, rule("nobody", "x", "read")}); err != nil {
			t.Fatal(err)
		}
		check(t, s, a, c)
		if err := s.AddACLRules(ctx, nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("SharedByAnotherNode", func(t *testing.T) {
		s, reopen := open(t)
		if err := s.AddACLRules(ctx, []metastore.ACLRule{a, b}); err != nil {
			t.Fatal(err)
		}
		other := reopen(t)
		check(t, other, a, b)
		if err := other.RemoveACLRules(ctx, []metastore.ACLRule{a}); err != nil {
			t.Fatal(err)
		}
		check(t, s, b)
	})
	t.Run("Canceled", func(t *testing.T) {
		s, _ := open(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.AddACLRules(cctx, []metastore.ACLRule{a}); !errors.Is(err, context.Canceled) {
			t.Fatalf("AddACLRules with a canceled context: %v", err)
		}
		check(t, s)
	})
}
