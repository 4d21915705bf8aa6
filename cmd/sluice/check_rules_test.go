package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/golden"
)

// rulesManifest is the example manifest with the orders value carrying
// rules: from a file (rulesRef is a path) or inline (rulesRef is YAML).
func rulesManifest(rulesRef string) string {
	return `compatibility: BACKWARD
schemas:
  - file: schemas/address.avsc
    subject: com.acme.Address
topics:
  - name: orders
    partitions: 3
    key:
      primitive: string
    value:
      file: schemas/order.avsc
      record: com.acme.Order
      rules: ` + rulesRef + `
`
}

const (
	rulesV1 = `{"domainRules": [
  {"name": "positive_total", "kind": "CONDITION", "mode": "WRITE", "type": "CEL", "expr": "message.total > 0"},
  {"name": "legacy", "kind": "CONDITION", "mode": "READ", "type": "CEL", "expr": "true"}
]}
`
	// rulesV2 tightens positive_total, drops legacy and adds has_id.
	rulesV2 = `{"domainRules": [
  {"name": "positive_total", "kind": "CONDITION", "mode": "WRITE", "type": "CEL", "expr": "message.total > 10"},
  {"name": "has_id", "kind": "CONDITION", "mode": "WRITE", "type": "CEL", "expr": "message.id != ''", "onFailure": "DLQ", "params": {"dlq.topic": "orders-dlq"}}
]}
`
	// rulesBad names a field Order does not have.
	rulesBad = `{"domainRules": [
  {"name": "positive_total", "kind": "CONDITION", "mode": "WRITE", "type": "CEL", "expr": "message.amount > 0"}
]}
`
)

// TestSchemaCheckRules: a manifest's value carries a ruleSet (a JSON file
// beside the schema, or inline); `schema check` lists the rule changes
// against a folder baseline and a live registry (text, JSON, GitHub), never
// failing for them; a rule that does not compile against the schema fails
// the check as the registry would refuse it; `apply` registers the rules
// with the schema (a new version when only the rules changed, the plan
// counting the changes and warning about produce-side conditions) and a
// second check finds nothing.
func TestSchemaCheckRules(t *testing.T) {
	base := ckCopy(t, map[string]string{"sluice.yaml": rulesManifest("schemas/order.rules.json"), "schemas/order.rules.json": rulesV1})
	next := ckCopy(t, map[string]string{"sluice.yaml": rulesManifest("schemas/order.rules.json"), "schemas/order.rules.json": rulesV2})
	inline := ckCopy(t, map[string]string{"sluice.yaml": rulesManifest(`
        domainRules:
          - {name: positive_total, kind: CONDITION, mode: WRITE, type: CEL, expr: "message.total > 10"}`)})
	bad := ckCopy(t, map[string]string{"sluice.yaml": rulesManifest("schemas/order.rules.json"), "schemas/order.rules.json": rulesBad})
	badShape := ckCopy(t, map[string]string{"sluice.yaml": rulesManifest(`{domainRules: [{name: x}]}`)})

	addr := apServer(t)
	tr := newAPTranscript(t, addr, "ADDR", base, "BASE", next, "NEW", inline, "INLINE", bad, "BAD", badShape, "SHAPE")
	mf := func(dir string) string { return filepath.Join(dir, "sluice.yaml") }
	tr.run(0, "schema", "check", "--manifest", mf(next), "--against", base)
	tr.run(0, "schema", "check", "--manifest", mf(next), "--against", base, "--output", "json")
	tr.run(0, "schema", "check", "--manifest", mf(next), "--against", base, "--output", "github")
	tr.run(0, "schema", "check", "--manifest", mf(inline), "--against", base)
	tr.run(1, "schema", "check", "--manifest", mf(bad), "--against", base)
	tr.run(2, "schema", "check", "--manifest", mf(badShape), "--against", base)

	tr.run(0, "apply", "--manifest", mf(base), "--addr", addr)
	got := registeredRuleSet(t, addr, "orders-value")
	if !strings.Contains(got, `"positive_total"`) || !strings.Contains(got, `message.total > 0`) {
		t.Fatalf("orders-value's ruleSet after apply: %s", got)
	}
	tr.run(0, "schema", "check", "--registry", addr, "--manifest", mf(base))
	tr.run(0, "schema", "check", "--registry", addr, "--manifest", mf(next))
	tr.run(0, "schema", "check", "--registry", addr, "--manifest", mf(next), "--verdict", "registry")
	tr.run(1, "schema", "check", "--registry", addr, "--manifest", mf(bad), "--verdict", "registry")
	tr.run(1, "apply", "--manifest", mf(bad), "--addr", addr, "--dry-run")
	tr.run(0, "apply", "--manifest", mf(next), "--addr", addr, "--dry-run")
	tr.run(0, "apply", "--manifest", mf(next), "--addr", addr)
	if got := registeredRuleSet(t, addr, "orders-value"); !strings.Contains(got, `"has_id"`) || strings.Contains(got, `"legacy"`) {
		t.Fatalf("orders-value's ruleSet after the second apply: %s", got)
	}
	tr.run(0, "schema", "check", "--registry", addr, "--manifest", mf(next))
	tr.run(0, "apply", "--manifest", mf(next), "--addr", addr)
	golden.Check(t, filepath.Join("testdata", "check_rules.golden"), tr.sb.String())
}

// registeredRuleSet is the ruleSet of subject's latest version.
func registeredRuleSet(t *testing.T, addr, subject string) string {
	t.Helper()
	resp, err := http.Get(addr + "/subjects/" + subject + "/versions/latest")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		RuleSet json.RawMessage `json:"ruleSet"`
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(buf.Bytes(), &v); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET latest %s: %d %s", subject, resp.StatusCode, buf.String())
	}
	return string(v.RuleSet)
}
