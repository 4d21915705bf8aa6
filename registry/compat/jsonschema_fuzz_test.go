package compat_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/serde/jsonschema"
)

// FuzzJSONReads compares pairs of schemas that parse. A schema comes from
// a user, so the checker must hold on any of them:
//
//   - no panic, and no error but the step budget's;
//   - every schema reads itself;
//   - the verdicts are deterministic;
//   - every violation names a kind, a "#/" path and a message;
//   - LENIENT never refuses what STRICT accepts.
func FuzzJSONReads(f *testing.F) {
	for _, tc := range jsonAllCases() {
		if tc.updateRefs == nil && tc.refs == nil {
			f.Add(tc.original, tc.update)
		}
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		sa, err := jsonschema.Parse(a, nil)
		if err != nil {
			return
		}
		sb, err := jsonschema.Parse(b, nil)
		if err != nil {
			return
		}
		reads := func(policy compat.Policy, r, w *jsonschema.Schema) ([]compat.Violation, bool) {
			vs, err := compat.ReadsWith(compat.Options{Policy: policy}, r, w)
			if err != nil {
				if !strings.Contains(err.Error(), "steps") {
					t.Fatalf("ReadsWith: %v", err)
				}
				return nil, false
			}
			for _, v := range vs {
				if v.Kind == "" || v.Message == "" || !strings.HasPrefix(v.Path, "#/") {
					t.Fatalf("malformed violation %+v", v)
				}
			}
			return vs, true
		}
		for _, s := range []*jsonschema.Schema{sa, sb} {
			if vs, ok := reads(compat.Strict, s, s); ok && len(vs) != 0 {
				t.Fatalf("schema does not read itself: %v\n%s", vs, s.Canonical())
			}
		}
		strict, ok := reads(compat.Strict, sb, sa)
		if !ok {
			return
		}
		again, _ := reads(compat.Strict, sb, sa)
		if !slices.Equal(strict, again) {
			t.Fatalf("not deterministic:\n%v\n%v", strict, again)
		}
		if lenient, ok := reads(compat.Lenient, sb, sa); ok && len(strict) == 0 && len(lenient) != 0 {
			t.Fatalf("LENIENT refuses what STRICT accepts: %v", lenient)
		}
	})
}
