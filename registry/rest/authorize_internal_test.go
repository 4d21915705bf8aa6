package rest

import "testing"

// TestEveryRouteHasAnACLCheck: a new route cannot slip past authorization.
func TestEveryRouteHasAnACLCheck(t *testing.T) {
	seen := map[string]bool{}
	for _, rt := range routes {
		k := routeKey(rt)
		seen[k] = true
		if _, ok := restChecks[k]; !ok {
			t.Errorf("route %s has no entry in restChecks (authorize.go)", k)
		}
	}
	for k := range restChecks {
		if !seen[k] {
			t.Errorf("restChecks has %s, which is no route", k)
		}
	}
}
