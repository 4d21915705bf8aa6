package evolution_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/evolution"
	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/srclient"
)

// TestDiffRuleChanges: a diff between two registered versions lists the
// rules added, removed and changed, rule by rule, none breaking, a write
// condition flagged as enforced on produce.
func TestDiffRuleChanges(t *testing.T) {
	const text = `{"type":"record","name":"Order","fields":[{"name":"total","type":"long"}]}`
	op := func(version int, ruleSet string) *evolution.Operand {
		s, err := srclient.ParseSchema("AVRO", text, nil)
		if err != nil {
			t.Fatal(err)
		}
		return &evolution.Operand{Arg: "orders-value", Text: text, Format: s.Format(), Subject: "orders-value", Version: version, Schema: s, RuleSet: json.RawMessage(ruleSet)}
	}
	old := op(1, `{"domainRules":[{"name":"positive","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.total > 0"},{"name":"gone","kind":"CONDITION","mode":"READ","type":"CEL","expr":"true"}]}`)
	new := op(2, `{"domainRules":[{"name":"positive","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.total > 10"},{"name":"cap","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.total < 1000"}],"migrationRules":[{"name":"up","kind":"TRANSFORM","mode":"UPGRADE","type":"JSONATA","expr":"$"}]}`)
	rep, err := evolution.Diff(compat.Backward, old, new)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]evolution.Change{}
	for _, c := range rep.Changes {
		got[c.Path] = c
	}
	for path, want := range map[string]string{
		"ruleSet/domainRules/positive": "changed",
		"ruleSet/domainRules/gone":     "removed",
		"ruleSet/domainRules/cap":      "added",
		"ruleSet/migrationRules/up":    "added",
	} {
		c, ok := got[path]
		if !ok || c.Change != want || c.Breaking {
			t.Errorf("%s: %+v, want %s, not breaking", path, c, want)
		}
	}
	if !strings.Contains(got["ruleSet/domainRules/cap"].Message, "enforces on produce") || got["ruleSet/migrationRules/up"].Message != "" {
		t.Errorf("messages: %q, %q", got["ruleSet/domainRules/cap"].Message, got["ruleSet/migrationRules/up"].Message)
	}
	if rep.Breaking != 0 || len(rep.Changes) != 4 {
		t.Errorf("%d changes, %d breaking: %+v", len(rep.Changes), rep.Breaking, rep.Changes)
	}
	var out bytes.Buffer
	if err := rep.Write(&out, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `safe     changed ruleSet/domainRules/positive: {"expr":"message.total > 0"`) {
		t.Errorf("text report:\n%s", out.String())
	}
	// A file operand carries no rule set: nothing is compared.
	file := op(0, "")
	file.Subject = ""
	if rep, err = evolution.Diff(compat.Backward, file, new); err != nil || len(rep.Changes) != 0 {
		t.Errorf("file vs version: %v %+v", err, rep.Changes)
	}
}
