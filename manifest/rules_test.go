package manifest_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/sluicehq/sluice/manifest"
)

// TestRules: a side's rules come from a JSON file or inline YAML, compact
// JSON either way; every malformed declaration is refused at its position
// with what is wrong.
func TestRules(t *testing.T) {
	const avsc = `{"type":"record","name":"Order","fields":[{"name":"total","type":"long"}]}`
	yaml := func(rules string) []byte {
		return []byte("topics:\n  - name: orders\n    value:\n      file: order.avsc\n      rules: " + rules + "\n")
	}
	tests := []struct {
		name  string
		rules string
		files map[string]string
		want  string // the subject's RuleSet, or the error
	}{
		{"file", "order.rules.json", map[string]string{"order.rules.json": `{"domainRules": [{"name": "p", "kind": "CONDITION", "type": "CEL", "expr": "message.total > 0"}]}`},
			`{"domainRules":[{"expr":"message.total > 0","kind":"CONDITION","name":"p","type":"CEL"}]}`},
		{"inline", `{domainRules: [{name: p, kind: CONDITION, type: CEL, expr: "message.total > 0", params: {dlq.topic: d}}]}`, nil,
			`{"domainRules":[{"expr":"message.total > 0","kind":"CONDITION","name":"p","params":{"dlq.topic":"d"},"type":"CEL"}]}`},
		{"empty clears", `{}`, nil, `{}`},
		{"not json extension", "order.rules.yaml", nil, `sluice.yaml:5:14: rules "order.rules.yaml": want a .json file holding a ruleSet, or the ruleSet inline`},
		{"a list", "[a, b]", nil, "sluice.yaml:5:14: rules must be the path of a JSON file or a mapping (the ruleSet inline)"},
		{"unknown list", "{domainRule: []}", nil, `sluice.yaml:5:14: rules: unknown key "domainRule": want domainRules, migrationRules, encodingRules`},
		{"no kind", "{domainRules: [{name: p, type: CEL}]}", nil, "sluice.yaml:5:14: rules: domainRules rule 1 has no kind"},
		{"twice", "{domainRules: [{name: p, kind: CONDITION, type: CEL}, {name: p, kind: CONDITION, type: CEL}]}", nil, `sluice.yaml:5:14: rules: domainRules has two rules named "p"`},
		{"not a list", "{domainRules: {name: p}}", nil, "sluice.yaml:5:14: rules: domainRules must be a list of rules (mappings)"},
		{"missing file", "gone.json", nil, "sluice.yaml:5:14: rules file gone.json: file does not exist"},
		{"file not json", "order.rules.json", map[string]string{"order.rules.json": `{"domainRules": [`}, "order.rules.json: rules file order.rules.json is not JSON: unexpected end of JSON input"},
		{"file bad shape", "order.rules.json", map[string]string{"order.rules.json": `[]`}, "order.rules.json: rules file order.rules.json: a ruleSet must be a JSON object: json: cannot unmarshal array into Go value of type map[string]json.RawMessage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{"sluice.yaml": {Data: yaml(tt.rules)}, "order.avsc": {Data: []byte(avsc)}}
			for f, text := range tt.files {
				fsys[f] = &fstest.MapFile{Data: []byte(text)}
			}
			var got string
			m, err := manifest.Load(fsys, "sluice.yaml")
			if err == nil {
				var set *manifest.Set
				if set, err = m.Resolve(fsys); err == nil {
					got = string(set.Lookup("orders-value").RuleSet)
				}
			}
			if err != nil {
				got = err.Error()
			}
			if strings.TrimSpace(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
