package client

import (
	"errors"
	"fmt"
	"strings"
)

// RuleError is a record the broker refused because its value (or key)
// broke a data-contract rule of its schema version (DESIGN.md §11). It is
// matched from the broker's refusal, `record N: rule "NAME" (TYPE) failed:
// REASON`, and wraps the *ProduceError that carried it, so errors.As finds
// either.
type RuleError struct {
	// Topic is the topic produced to.
	Topic string
	// Index is the record's position in the request.
	Index int32
	// Side is "value" or "key".
	Side string
	// Subject and SchemaID are the record's writer schema.
	Subject  string
	SchemaID int32
	// Rule is the rule's name, RuleType its type (CEL, CEL_FIELD).
	Rule     string
	RuleType string
	// Reason is why the rule failed (`message.total > 0 is false`, or a
	// runtime error).
	Reason string

	produce *ProduceError
}

// Error reads like the broker's refusal.
func (e *RuleError) Error() string {
	return fmt.Sprintf("produce %s: record %d: rule %q (%s) failed: %s", e.Topic, e.Index, e.Rule, e.RuleType, e.Reason)
}

// Unwrap returns the *ProduceError listing every refused record.
func (e *RuleError) Unwrap() error { return e.produce }

// RuleErrors returns every rule violation among the records err refused;
// nil when err is no *ProduceError or none of its records broke a rule.
func RuleErrors(err error) []*RuleError {
	var pe *ProduceError
	if !errors.As(err, &pe) {
		return nil
	}
	var out []*RuleError
	for _, r := range pe.Records {
		if re, ok := parseRuleRejection(pe, r); ok {
			out = append(out, re)
		}
	}
	return out
}

// withRuleError returns the first rule violation of pe (wrapping pe) when
// there is one, else pe.
func withRuleError(pe *ProduceError) error {
	for _, r := range pe.Records {
		if re, ok := parseRuleRejection(pe, r); ok {
			return re
		}
	}
	return pe
}

// parseRuleRejection matches `[key ]rule "NAME" (TYPE) failed: REASON`,
// the broker's text for a rule refusal, possibly after "record N: ".
func parseRuleRejection(pe *ProduceError, r RecordRejection) (*RuleError, bool) {
	s := r.Reason
	if strings.HasPrefix(s, "record ") {
		if i := strings.Index(s, ": "); i >= 0 {
			s = s[i+2:]
		}
	}
	s = strings.TrimPrefix(s, "key ")
	if !strings.HasPrefix(s, `rule "`) {
		return nil, false
	}
	s = s[len(`rule `):]
	name, rest, ok := unquote(s)
	if !ok || !strings.HasPrefix(rest, " (") {
		return nil, false
	}
	rest = rest[2:]
	i := strings.Index(rest, ") failed: ")
	if i < 0 {
		return nil, false
	}
	return &RuleError{
		Topic: pe.Topic, Index: r.Index, Side: r.Side, Subject: r.Subject, SchemaID: r.SchemaID,
		Rule: name, RuleType: rest[:i], Reason: rest[i+len(") failed: "):], produce: pe,
	}, true
}

// unquote reads a Go-quoted string at the start of s.
func unquote(s string) (string, string, bool) {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			var out string
			if _, err := fmt.Sscanf(s[:i+1], "%q", &out); err != nil {
				return "", "", false
			}
			return out, s[i+1:], true
		}
	}
	return "", "", false
}
