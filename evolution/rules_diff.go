package evolution

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/rules"
)

// Rule changes: `sluice schema diff` between two registered versions also
// lists the changes of their ruleSets (DESIGN.md §11), rule by rule,
// matched by name within each list (domainRules, migrationRules,
// encodingRules). They are never breaking for compatibility, which is about
// readers; a condition added or tightened on the write side can refuse
// records producers send today, which the change's message says.

// ruleSetLists are the lists of a ruleSet, in the order reported.
var ruleSetLists = []string{"domainRules", "migrationRules", "encodingRules"}

// ruleChanges lists the differences between two rule sets.
func ruleChanges(old, new json.RawMessage) []Change {
	a, b := ruleLists(old), ruleLists(new)
	var out []Change
	for _, list := range ruleSetLists {
		ra, rb := a[list], b[list]
		for _, x := range ra {
			name := ruleName(x)
			path := "ruleSet/" + list + "/" + name
			y, ok := findRule(rb, name)
			switch {
			case !ok:
				out = append(out, Change{Path: path, Change: "removed", Old: ruleText(x)})
			case ruleText(x) != ruleText(y):
				c := Change{Path: path, Change: "changed", Old: ruleText(x), New: ruleText(y)}
				if onProduce(y) {
					c.Message = "a condition the broker enforces on produce: records it accepted before may be refused"
				}
				out = append(out, c)
			}
		}
		for _, y := range rb {
			name := ruleName(y)
			if _, ok := findRule(ra, name); !ok {
				c := Change{Path: "ruleSet/" + list + "/" + name, Change: "added", New: ruleText(y)}
				if onProduce(y) {
					c.Message = "a condition the broker enforces on produce: records that break it are refused"
				}
				out = append(out, c)
			}
		}
	}
	return out
}

// ruleLists decodes a ruleSet's lists; a malformed one gives none.
func ruleLists(raw json.RawMessage) map[string][]map[string]any {
	out := map[string][]map[string]any{}
	if len(raw) == 0 {
		return out
	}
	_ = json.Unmarshal(raw, &out)
	return out
}

func ruleName(r map[string]any) string {
	if n, ok := r["name"].(string); ok {
		return n
	}
	return fmt.Sprint(r["name"])
}

func findRule(rs []map[string]any, name string) (map[string]any, bool) {
	for _, r := range rs {
		if ruleName(r) == name {
			return r, true
		}
	}
	return nil, false
}

// onProduce reports whether the broker runs r on produce: an enabled
// CEL or CEL_FIELD condition of mode WRITE or WRITEREAD.
func onProduce(r map[string]any) bool {
	if d, _ := r["disabled"].(bool); d {
		return false
	}
	kind, _ := r["kind"].(string)
	mode, _ := r["mode"].(string)
	typ, _ := r["type"].(string)
	return kind == "CONDITION" && (mode == "WRITE" || mode == "WRITEREAD") && (typ == "CEL" || typ == "CEL_FIELD")
}

// ruleText is a rule as compact JSON with sorted keys, CEL operators
// unescaped.
func ruleText(r map[string]any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(r)
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// RuleChange is a change of a subject's rule set that a check found: the
// manifest's rules against the baseline's latest version. It never fails a
// check (compatibility is about readers), but a write condition added or
// changed may refuse records producers send today.
type RuleChange struct {
	Subject string `json:"subject"`
	// File and Line locate the rules: their JSON file, or the manifest
	// where they are written inline.
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// Version is the baseline's version compared with (0 for a folder or
	// git baseline).
	Version int `json:"version,omitempty"`
	Change
}

// describeRuleChange places a rule change at the subject's rules.
func describeRuleChange(s *manifest.Subject, version int, c Change, display func(string) string) RuleChange {
	rc := RuleChange{Subject: s.Name, Version: version, Change: c}
	if s.RulesFile != "" {
		rc.File = display(s.RulesFile)
	} else if s.RulesPos.File != "" {
		rc.File, rc.Line = display(s.RulesPos.File), s.RulesPos.Line
	}
	return rc
}

// compileRules compiles the subject's rule set against its schema as the
// registry does at registration: a rule set that does not compile (a CEL
// expression naming a field the schema lacks, a syntax error) would be
// refused with 42210, so it is a finding.
func compileRules(s *manifest.Subject, display func(string) string) (Finding, bool) {
	if len(s.RuleSet) == 0 || s.Schema == nil {
		return Finding{}, false
	}
	_, err := rules.Compile(s.Schema, nil, json.RawMessage(s.RuleSet))
	if err == nil {
		return Finding{}, false
	}
	fd := Finding{Subject: s.Name, Kind: "INVALID_RULE_SET", Path: "ruleSet", Message: "the registry would refuse the rule set (42210): " + err.Error()}
	if s.RulesFile != "" {
		fd.File = display(s.RulesFile)
	} else if s.RulesPos.File != "" {
		fd.File, fd.Line, fd.Col = display(s.RulesPos.File), s.RulesPos.Line, s.RulesPos.Col
	}
	return fd, true
}
