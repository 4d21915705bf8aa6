package avro_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/serde/avro"
)

// FuzzParse feeds arbitrary text to Parse. Invariants: no panic; a rejection
// is a non-empty ParseErrors whose problems all have a reason (and never the
// "validator and codec library disagree" fallback); an accepted schema's
// canonical and normalized texts parse again to themselves and to the same
// codec schema.
func FuzzParse(f *testing.F) {
	for _, tc := range validCases {
		if len(tc.refs) == 0 {
			f.Add(tc.text)
		}
	}
	for _, tc := range invalidCases {
		if len(tc.refs) == 0 && len(tc.text) < 4096 {
			f.Add(tc.text)
		}
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := avro.Parse(text, nil)
		if err != nil {
			var es avro.ParseErrors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %T is not a non-empty ParseErrors: %v", err, err)
			}
			for _, e := range es {
				if e.Reason == "" {
					t.Fatalf("problem without a reason: %+v", e)
				}
				if strings.Contains(e.Reason, "codec library") {
					t.Fatalf("validator accepted what hamba rejects: %v", e)
				}
			}
			return
		}
		c, err := avro.Parse(s.Canonical(), nil)
		if err != nil {
			t.Fatalf("canonical text %s does not parse: %v", s.Canonical(), err)
		}
		if c.Canonical() != s.Canonical() {
			t.Fatalf("canonical not idempotent:\n%s\n%s", s.Canonical(), c.Canonical())
		}
		if c.Normalized() != s.Normalized() {
			t.Fatalf("normalized changed through canonical:\n%s\n%s", s.Normalized(), c.Normalized())
		}
		n, err := avro.Parse(s.Normalized(), nil)
		if err != nil {
			t.Fatalf("normalized text %s does not parse: %v", s.Normalized(), err)
		}
		if n.Normalized() != s.Normalized() {
			t.Fatalf("normalized not idempotent:\n%s\n%s", s.Normalized(), n.Normalized())
		}
		if a, b := s.Avro().String(), n.Avro().String(); a != b {
			t.Fatalf("codec schema changed through normalizing:\n%s\n%s", a, b)
		}
		if s.Resolved() != s.Canonical() {
			t.Fatalf("without references Resolved differs from Canonical:\n%s\n%s", s.Resolved(), s.Canonical())
		}
		if s.Name() != c.Name() || strings.Join(s.Names(), ",") != strings.Join(c.Names(), ",") {
			t.Fatalf("names changed through canonical: %q %q / %q %q", s.Name(), s.Names(), c.Name(), c.Names())
		}
	})
}
