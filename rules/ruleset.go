package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Rule is one rule of a ruleSet, in Confluent's JSON shape.
type Rule struct {
	// Name identifies the rule in refusals; unique in its ruleSet.
	Name string `json:"name"`
	// Doc is free text.
	Doc string `json:"doc,omitempty"`
	// Kind is CONDITION or TRANSFORM; the broker runs conditions.
	Kind string `json:"kind"`
	// Mode is WRITE, READ or WRITEREAD (domain rules), UPGRADE, DOWNGRADE
	// or UPDOWN (migration rules); WRITE and WRITEREAD run on produce.
	Mode string `json:"mode"`
	// Type is the executor: CEL and CEL_FIELD run on the broker.
	Type string `json:"type"`
	// Tags select the fields a CEL_FIELD rule runs on (none: every field).
	Tags []string `json:"tags,omitempty"`
	// Params are the rule's parameters, dlq.topic among them.
	Params map[string]string `json:"params,omitempty"`
	// Expr is the expression, optionally "guard ; expression".
	Expr string `json:"expr,omitempty"`
	// OnSuccess and OnFailure are the actions (NONE, ERROR, DLQ), or a
	// comma pair whose first applies on write.
	OnSuccess string `json:"onSuccess,omitempty"`
	OnFailure string `json:"onFailure,omitempty"`
	// Disabled rules are skipped.
	Disabled bool `json:"disabled,omitempty"`
}

// RuleSet is a schema version's rules.
type RuleSet struct {
	// MigrationRules run between versions (clients only).
	MigrationRules []Rule `json:"migrationRules,omitempty"`
	// DomainRules hold the conditions the broker enforces.
	DomainRules []Rule `json:"domainRules,omitempty"`
	// EncodingRules run on encoded bytes (clients only).
	EncodingRules []Rule `json:"encodingRules,omitempty"`
}

// ParseRuleSet decodes a ruleSet; absent or null gives an empty set.
func ParseRuleSet(raw json.RawMessage) (RuleSet, error) {
	var rs RuleSet
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return rs, nil
	}
	if err := json.Unmarshal(raw, &rs); err != nil {
		return rs, fmt.Errorf("ruleSet: %v", err)
	}
	return rs, nil
}

// The actions of onSuccess and onFailure that the broker runs.
const (
	ActionNone  = "NONE"
	ActionError = "ERROR"
	ActionDLQ   = "DLQ"
)

// The rule types the broker runs.
const (
	TypeCEL      = "CEL"
	TypeCELField = "CEL_FIELD"
)

// DLQTopicParam is the rule parameter naming the dead-letter topic.
const DLQTopicParam = "dlq.topic"

// appliesOnWrite reports whether r runs on produce.
func appliesOnWrite(r *Rule) bool {
	if r.Disabled || r.Kind != "CONDITION" {
		return false
	}
	if r.Mode != "WRITE" && r.Mode != "WRITEREAD" {
		return false
	}
	return r.Type == TypeCEL || r.Type == TypeCELField
}

// writeAction resolves an onSuccess/onFailure value for the write side: the
// first of a comma pair (Confluent's WRITEREAD form), def when empty.
func writeAction(v, def string) string {
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return def
	}
	return v
}

// splitGuard splits Confluent's "guard ; expression" form. The separator is
// the first semicolon outside a string literal.
func splitGuard(expr string) (guard, body string) {
	var quote byte
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == ';':
			return strings.TrimSpace(expr[:i]), strings.TrimSpace(expr[i+1:])
		}
	}
	return "", strings.TrimSpace(expr)
}
