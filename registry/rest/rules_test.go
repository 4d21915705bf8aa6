package rest_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/registry/rest"
)

// TestRuleSetCompiled: a CEL rule that does not compile against the schema
// is refused at registration with 42210 and the compiler's message; one
// that compiles is stored (DESIGN.md §11).
func TestRuleSetCompiled(t *testing.T) {
	s := newServer(t, registry.Config{}, rest.Config{})
	cases := []struct {
		name, rule string
		status     int
		want       string
	}{
		{"compiles", `{"name":"positive_id","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.id > 0"}`, 200, `"id":1`},
		{"syntax error", `{"name":"broken","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.id >"}`, 422, `rule \"broken\" (CEL) does not compile`},
		{"field the schema lacks", `{"name":"typo","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.ide > 0"}`, 422, `undefined field 'ide'`},
		{"field rule not a bool", `{"name":"f","kind":"CONDITION","mode":"WRITE","type":"CEL_FIELD","expr":"value + 1"}`, 422, `a condition must be a bool`},
		{"disabled rules are not compiled", `{"name":"off","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"(","disabled":true}`, 200, `"id":`},
		{"rules the broker does not run", `{"name":"j","kind":"TRANSFORM","mode":"UPGRADE","type":"JSONATA","expr":"$"}`, 200, `"id":`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			list := "domainRules"
			if strings.Contains(tc.rule, "UPGRADE") {
				list = "migrationRules"
			}
			resp := s.do(t, "POST", "/subjects/orders-value/versions", schemaBody(orderV2, `"ruleSet":{"`+list+`":[`+tc.rule+`]}`))
			if resp.Status != tc.status || !strings.Contains(resp.Body, tc.want) {
				t.Fatalf("got %d %s, want %d containing %s", resp.Status, resp.Body, tc.status, tc.want)
			}
			if tc.status == 422 && !strings.Contains(resp.Body, `"error_code":42210`) {
				t.Fatalf("body %s is not 42210", resp.Body)
			}
		})
	}
}
