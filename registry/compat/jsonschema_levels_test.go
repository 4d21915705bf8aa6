package compat_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/registry/compat"
)

// The JSON rules through the level logic: compat.Check with a history.

func jsonHistory(t *testing.T, texts ...string) []compat.Version {
	t.Helper()
	h := make([]compat.Version, len(texts))
	for i, text := range texts {
		h[i] = compat.Version{Number: i + 1, Schema: jsonParse(t, text, nil)}
	}
	return h
}

func TestJSONCheckLevels(t *testing.T) {
	const (
		closedA   = `{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}`
		closedAB  = `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"additionalProperties":false}`
		closedABC = `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"},"c":{"type":"boolean"}},"additionalProperties":false}`
		numberX   = `{"type":"object","properties":{"x":{"type":"number"}}}`
		integerX  = `{"type":"object","properties":{"x":{"type":"integer"}}}`
		// A partially open model: every extra property is a string, so
		// string properties come and go in both directions.
		partial   = `{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":{"type":"string"}}`
		partialB  = `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"additionalProperties":{"type":"string"}}`
		partialBC = `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"},"c":{"type":"string","maxLength":3}},"additionalProperties":{"type":"string"}}`
	)
	type want struct {
		compatible bool
		version    int    // the failing version
		first      string // its first violation, "KIND path"
	}
	tests := []struct {
		name      string
		history   []string
		candidate string
		want      map[compat.Level]want
	}{
		{
			// Closed models: properties may be added, not removed.
			name: "closed model gains an optional property", history: []string{closedA, closedAB}, candidate: closedABC,
			want: map[compat.Level]want{
				compat.None:               {compatible: true},
				compat.Backward:           {compatible: true},
				compat.BackwardTransitive: {compatible: true},
				compat.Forward:            {version: 2, first: "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL #/properties/c"},
				compat.ForwardTransitive:  {version: 2, first: "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL #/properties/c"},
				compat.Full:               {version: 2, first: "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL #/properties/c"},
				compat.FullTransitive:     {version: 2, first: "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL #/properties/c"},
			},
		},
		{
			// Fine against the latest version, not against the first:
			// only the transitive levels see it.
			name: "narrowing hidden by the latest version", history: []string{numberX, integerX}, candidate: integerX,
			want: map[compat.Level]want{
				compat.None:               {compatible: true},
				compat.Backward:           {compatible: true},
				compat.BackwardTransitive: {version: 1, first: "TYPE_NARROWED #/properties/x/type"},
				compat.Forward:            {compatible: true},
				compat.ForwardTransitive:  {compatible: true},
				compat.Full:               {compatible: true},
				compat.FullTransitive:     {version: 1, first: "TYPE_NARROWED #/properties/x/type"},
			},
		},
		{
			name: "partially open model evolves in both directions", history: []string{partial, partialB}, candidate: partialBC,
			want: map[compat.Level]want{
				compat.None:               {compatible: true},
				compat.Backward:           {version: 2, first: "MAX_LENGTH_ADDED #/properties/c/maxLength"},
				compat.BackwardTransitive: {version: 2, first: "MAX_LENGTH_ADDED #/properties/c/maxLength"},
				compat.Forward:            {compatible: true},
				compat.ForwardTransitive:  {compatible: true},
				compat.Full:               {version: 2, first: "MAX_LENGTH_ADDED #/properties/c/maxLength"},
				compat.FullTransitive:     {version: 2, first: "MAX_LENGTH_ADDED #/properties/c/maxLength"},
			},
		},
		{
			name: "partially open model, string properties only", history: []string{partial}, candidate: partialB,
			want: map[compat.Level]want{
				compat.Backward: {compatible: true}, compat.Forward: {compatible: true}, compat.FullTransitive: {compatible: true},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			history := jsonHistory(t, tc.history...)
			candidate := jsonParse(t, tc.candidate, nil)
			for level, w := range tc.want {
				vs, err := compat.Check(level, candidate, history)
				if err != nil {
					t.Fatalf("%s: %v", level, err)
				}
				if w.compatible {
					if len(vs) != 0 {
						t.Errorf("%s: want compatible, got %v", level, vs)
					}
					continue
				}
				if len(vs) == 0 {
					t.Errorf("%s: want incompatible with version %d, got compatible", level, w.version)
					continue
				}
				if got := vs[0].Kind + " " + vs[0].Path; vs[0].Version != w.version || got != w.first {
					t.Errorf("%s: first violation %d %q, want %d %q", level, vs[0].Version, got, w.version, w.first)
				}
			}
		})
	}
}

// Full compatibility reports both directions, each violation tagged.
func TestJSONCheckFullDirections(t *testing.T) {
	history := jsonHistory(t, `{"type":"object","properties":{"a":{"type":"number"}},"additionalProperties":false}`)
	candidate := jsonParse(t, `{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"additionalProperties":false}`, nil)
	vs, err := compat.Check(compat.Full, candidate, history)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		got = append(got, v.Direction+" "+v.Kind+" "+v.Path)
	}
	want := []string{
		"backward TYPE_NARROWED #/properties/a/type",
		"forward PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL #/properties/b",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// The LENIENT policy (spec §11.6) accepts the content-model differences
// STRICT refuses, and nothing else.
func TestJSONLenientPolicy(t *testing.T) {
	tests := []struct {
		name             string
		original, update string
		strict, lenient  []string
	}{
		{name: "optional property added to open model",
			original: `{"type":"object"}`, update: `{"type":"object","properties":{"b":{"type":"string"}}}`,
			strict: []string{"OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL #/properties/b"}},
		{name: "required property with default added to open model",
			original: `{"type":"object"}`, update: `{"type":"object","properties":{"b":{"type":"string","default":"x"}},"required":["b"]}`,
			strict: []string{"REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL #/properties/b"}},
		{name: "required property without default added to open model stays incompatible",
			original: `{"type":"object"}`, update: `{"type":"object","properties":{"b":{"type":"string"}},"required":["b"]}`,
			strict:  []string{"REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL #/properties/b"},
			lenient: []string{"REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL #/properties/b"}},
		{name: "property removed from closed model",
			original: `{"type":"object","properties":{"b":{"type":"string"}},"additionalProperties":false}`,
			update:   `{"type":"object","additionalProperties":false}`,
			strict:   []string{"PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL #/properties/b"}},
		{name: "model closed", original: `{"type":"object"}`, update: `{"type":"object","additionalProperties":false}`,
			strict: []string{"ADDITIONAL_PROPERTIES_REMOVED #/additionalProperties"}},
		{name: "model made partially open", original: `{"type":"object"}`, update: `{"type":"object","additionalProperties":{"type":"string"}}`,
			strict: []string{"ADDITIONAL_PROPERTIES_NARROWED #/additionalProperties"}},
		{name: "unevaluatedProperties closed", original: `{` + jsonD2020 + `"type":"object"}`,
			update: `{` + jsonD2020 + `"type":"object","unevaluatedProperties":false}`,
			strict: []string{"UNEVALUATED_PROPERTIES_REMOVED #/unevaluatedProperties"}},
		{name: "unevaluatedProperties narrowed", original: `{` + jsonD2020 + `"type":"object"}`,
			update: `{` + jsonD2020 + `"type":"object","unevaluatedProperties":{"type":"string"}}`,
			strict: []string{"UNEVALUATED_PROPERTIES_NARROWED #/unevaluatedProperties"}},
		{name: "property added not covered by the partially open model",
			original: `{"type":"object","additionalProperties":{"type":"string"}}`,
			update:   `{"type":"object","properties":{"b":{"type":"integer"}},"additionalProperties":{"type":"string"}}`,
			// The type change inside is still reported: only the
			// content-model verdict is relaxed.
			strict:  []string{"TYPE_CHANGED #/properties/b/type", "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/b"},
			lenient: []string{"TYPE_CHANGED #/properties/b/type"}},
		{name: "type narrowing is not relaxed",
			original: `{"type":"number"}`, update: `{"type":"integer"}`,
			strict: []string{"TYPE_NARROWED #/type"}, lenient: []string{"TYPE_NARROWED #/type"}},
		{name: "item added to open tuple is not relaxed",
			original: `{"type":"array","items":[{"type":"string"}]}`, update: `{"type":"array","items":[{"type":"string"},{"type":"string"}]}`,
			strict: []string{"ITEM_ADDED_TO_OPEN_CONTENT_MODEL #/items/1"}, lenient: []string{"ITEM_ADDED_TO_OPEN_CONTENT_MODEL #/items/1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, u := jsonParse(t, tc.original, nil), jsonParse(t, tc.update, nil)
			if got := jsonKinds(jsonReads(t, compat.Strict, u, o)); !slices.Equal(got, tc.strict) {
				t.Errorf("STRICT: got %q, want %q", got, tc.strict)
			}
			if got := jsonKinds(jsonReads(t, compat.Lenient, u, o)); !slices.Equal(got, tc.lenient) {
				t.Errorf("LENIENT: got %q, want %q", got, tc.lenient)
			}
		})
	}
}

// Under LENIENT an open model evolves like an Avro record: optional
// properties come and go under FULL_TRANSITIVE.
func TestJSONLenientFullTransitive(t *testing.T) {
	history := jsonHistory(t,
		`{"type":"object","properties":{"a":{"type":"string"}}}`,
		`{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}}}`)
	candidate := jsonParse(t, `{"type":"object","properties":{"a":{"type":"string"},"c":{"type":"boolean"}}}`, nil)
	vs, err := compat.CheckWith(compat.FullTransitive, compat.Options{Policy: compat.Lenient}, candidate, history)
	if err != nil || len(vs) != 0 {
		t.Errorf("LENIENT FULL_TRANSITIVE: %v %v", vs, err)
	}
	vs, err = compat.Check(compat.FullTransitive, candidate, history)
	if err != nil || len(vs) == 0 {
		t.Errorf("STRICT FULL_TRANSITIVE: want violations, got %v %v", vs, err)
	}
	vs, err = compat.PairWith(compat.Backward, compat.Options{Policy: compat.Lenient}, candidate, history[1].Schema)
	if err != nil || len(vs) != 0 {
		t.Errorf("LENIENT PairWith: %v %v", vs, err)
	}
}

func TestParsePolicy(t *testing.T) {
	for in, want := range map[string]compat.Policy{"": compat.Strict, "strict": compat.Strict, " LENIENT ": compat.Lenient, "Lenient": compat.Lenient} {
		if got, err := compat.ParsePolicy(in); err != nil || got != want {
			t.Errorf("ParsePolicy(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := compat.ParsePolicy("LOOSE"); err == nil {
		t.Error("ParsePolicy(LOOSE): want an error")
	}
	s := jsonParse(t, `{"type":"string"}`, nil)
	if _, err := compat.ReadsWith(compat.Options{Policy: "LOOSE"}, s, s); err == nil {
		t.Error("ReadsWith with an unknown policy: want an error")
	}
}

// The placeholder of the registry issue is gone: JSON schemas get verdicts.
func TestJSONSupported(t *testing.T) {
	a, b := jsonParse(t, `{"type":"string"}`, nil), jsonParse(t, `{"type":"integer"}`, nil)
	vs, err := compat.Reads(a, b)
	if errors.Is(err, compat.ErrNotSupported) || err != nil {
		t.Fatalf("Reads: %v", err)
	}
	if len(vs) != 1 || vs[0].Kind != "TYPE_CHANGED" {
		t.Errorf("Reads(string, integer) = %v", vs)
	}
}

// A crafted schema whose combinators multiply the comparisons (each level
// compares every pair of branches, all compatible, so that every pair
// recurses) gets an error, not an unbounded computation.
func TestJSONComparisonBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("spends the whole comparison budget (about a second)")
	}
	var nest func(depth int, leaf string) string
	nest = func(depth int, leaf string) string {
		if depth == 0 {
			return leaf
		}
		branches := make([]string, 4)
		for i := range branches {
			// Distinct titles keep the branches from collapsing as
			// duplicates.
			branches[i] = fmt.Sprintf(`{"title":"b%d","oneOf":[%s]}`, i, nest(depth-1, leaf))
		}
		return strings.Join(branches, ",")
	}
	a := jsonParse(t, `{"oneOf":[`+nest(5, `{"type":"integer"}`)+`]}`, nil)
	b := jsonParse(t, `{"oneOf":[`+nest(5, `{"type":"number"}`)+`]}`, nil)
	_, err := compat.Reads(b, a) // number reads integer: every pair is compatible
	if err == nil || !strings.Contains(err.Error(), "steps") {
		t.Fatalf("Reads: want a step-budget error, got %v", err)
	}
}
