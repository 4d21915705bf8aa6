package registry

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzCanonicalObject feeds untrusted metadata and rule set bodies through
// canonicalisation, validation and merging.
func FuzzCanonicalObject(f *testing.F) {
	for _, s := range []string{
		``, `null`, `{}`, `[]`, `{"properties":{"a":"b"}}`, `{"tags":{"/f":["PII"]},"sensitive":["x"]}`,
		`{"domainRules":[{"name":"r","kind":"CONDITION","mode":"WRITE","type":"CEL"}]}`,
		`{"migrationRules":[{"name":"r","kind":"TRANSFORM","mode":"UPGRADE","type":"JSONATA"}],"x":1.50}`,
		`{"a":1}{"b":2}`, `{"a":"<&>"}`, `{"n":12345678901234567890123}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := canonicalObject(json.RawMessage(in), "metadata")
		if err != nil {
			return
		}
		if out == nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("canonical form %s is not valid JSON", out)
		}
		again, err := canonicalObject(out, "metadata")
		if err != nil || string(again) != string(out) {
			t.Fatalf("canonicalisation is not idempotent: %s -> %s (%v)", out, again, err)
		}
		_ = validateRuleSet(out)
		if m, err := mergeMetadata(out, out); err != nil || !json.Valid(m) {
			t.Fatalf("mergeMetadata(x, x) = %s, %v", m, err)
		}
		if m, err := mergeRuleSet(out, out); err != nil || !json.Valid(m) {
			t.Fatalf("mergeRuleSet(x, x) = %s, %v", m, err)
		}
		m, err := withVersionProperty(out, 3)
		if err != nil {
			t.Fatalf("withVersionProperty(%s) = %v", out, err)
		}
		if v, ok := metadataProperty(m, confluentVersionKey); !ok || v != "3" {
			t.Fatalf("withVersionProperty(%s) = %s without the version", out, m)
		}
	})
}

// FuzzSubject checks that accepted subject names are clean.
func FuzzSubject(f *testing.F) {
	for _, s := range []string{"orders-value", ":.:x", ":.ctx:x", ":.__GLOBAL:x", "__GLOBAL", "", "a\x00", ":.", ":.:", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := canonicalSubject(in)
		if err != nil {
			if !strings.Contains(err.Error(), "invalid subject name") {
				t.Fatalf("error %q does not say invalid subject name", err)
			}
			return
		}
		if out == "" || reservedSubjects[out] || !utf8.ValidString(out) || strings.ContainsFunc(out, unicode.IsControl) {
			t.Fatalf("canonicalSubject(%q) accepted %q", in, out)
		}
		if !strings.HasPrefix(out, ":.") {
			if again, err := canonicalSubject(out); err != nil || again != out {
				t.Fatalf("canonicalSubject is not idempotent on %q: %q, %v", out, again, err)
			}
		}
	})
}
