package jsonschema_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/jsonschema"
)

// FuzzParse feeds arbitrary text to Parse, with and without a reference, and
// checks the invariants of the canonical forms:
//   - Parse never panics and fails only with a non-empty ParseErrors whose
//     problems all have a reason;
//   - the compiler never hits an internal error (a panic we contained);
//   - Parse(Canonical()) succeeds with the same Canonical() and Normalized();
//   - Parse(Normalized()) succeeds with the same Normalized();
//   - Validate of arbitrary instance bytes never panics, and fails only
//     with a non-empty ValidationErrors.
func FuzzParse(f *testing.F) {
	for _, tt := range parseErrorCases {
		f.Add(tt.text, `{"type":"string"}`, `{}`)
	}
	for _, tt := range validateCases {
		f.Add(tt.schema, `{"definitions":{"a":{"type":"integer"}}}`, tt.instance)
	}
	f.Add(`{"properties":{"a":{"$ref":"ref.json#/definitions/a"}}}`, `{"definitions":{"a":{"type":"integer"}}}`, `{"a":1}`)
	f.Add(`{"$schema":"https://json-schema.org/draft/2020-12/schema","$ref":"ref.json"}`, `{"$id":"https://x/y.json","type":"object"}`, `{"a":[1,2.5e3,-0]}`)
	f.Add(`{"maximum":1e400,"minimum":-0,"multipleOf":1.0,"title":"\u00e9\n"}`, `true`, `1e400`)

	f.Fuzz(func(t *testing.T, text, refText, instance string) {
		refs := []serde.Referenced{{Name: "ref.json", Text: refText}}
		s, err := jsonschema.Parse(text, refs)
		if err != nil {
			checkParseErrors(t, err)
			// Without the reference, the text alone must behave too.
			if s, err := jsonschema.Parse(text, nil); err == nil {
				checkForms(t, s, nil)
			} else {
				checkParseErrors(t, err)
			}
			return
		}
		checkForms(t, s, refs)
		if err := s.Validate([]byte(instance)); err != nil {
			var list jsonschema.ValidationErrors
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("Validate error %T is not a non-empty ValidationErrors: %v", err, err)
			}
			for _, e := range list {
				if strings.Contains(e.Reason, "internal error") {
					t.Fatalf("Validate(%q) under %s: %v", instance, text, err)
				}
			}
		}
	})
}

func checkParseErrors(t *testing.T, err error) {
	t.Helper()
	var list jsonschema.ParseErrors
	if !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("Parse error %T is not a non-empty ParseErrors: %v", err, err)
	}
	for _, e := range list {
		if e.Reason == "" {
			t.Fatalf("problem without a reason in %v", err)
		}
		if strings.Contains(e.Reason, "internal error") {
			t.Fatalf("compiler failed: %v", err)
		}
	}
}

func checkForms(t *testing.T, s *jsonschema.Schema, refs []serde.Referenced) {
	t.Helper()
	again, err := jsonschema.Parse(s.Canonical(), refs)
	if err != nil {
		t.Fatalf("Parse(Canonical()) = %v\ncanonical: %s", err, s.Canonical())
	}
	if again.Canonical() != s.Canonical() {
		t.Fatalf("Canonical() not stable:\n%s\n%s", s.Canonical(), again.Canonical())
	}
	if again.Normalized() != s.Normalized() {
		t.Fatalf("Normalized() changed by the canonical round trip:\n%s\n%s", s.Normalized(), again.Normalized())
	}
	n, err := jsonschema.Parse(s.Normalized(), refs)
	if err != nil {
		t.Fatalf("Parse(Normalized()) = %v\nnormalized: %s", err, s.Normalized())
	}
	if n.Normalized() != s.Normalized() {
		t.Fatalf("Normalized() not idempotent:\n%s\n%s", s.Normalized(), n.Normalized())
	}
}
