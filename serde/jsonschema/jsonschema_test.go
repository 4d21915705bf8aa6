package jsonschema_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	js "github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/sluicehq/sluice/internal/golden"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/jsonschema"
)

const (
	d4    = `"$schema":"http://json-schema.org/draft-04/schema#",`
	d6    = `"$schema":"http://json-schema.org/draft-06/schema#",`
	d7    = `"$schema":"http://json-schema.org/draft-07/schema#",`
	d2019 = `"$schema":"https://json-schema.org/draft/2019-09/schema",`
	d2020 = `"$schema":"https://json-schema.org/draft/2020-12/schema",`
)

func mustParse(t testing.TB, text string, refs ...serde.Referenced) *jsonschema.Schema {
	t.Helper()
	s, err := jsonschema.Parse(text, refs)
	if err != nil {
		t.Fatalf("Parse(%s): %v", text, err)
	}
	return s
}

func TestParseValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		text  string
		draft jsonschema.Draft
	}{
		{"default draft", `{"type":"object","properties":{"id":{"type":"integer"}}}`, jsonschema.Draft7},
		{"true", `true`, jsonschema.Draft7},
		{"false", `false`, jsonschema.Draft7},
		{"empty", `{}`, jsonschema.Draft7},
		{"unknown keywords kept", `{"connect.type":"bytes","x-extra":{"a":[1,2]}}`, jsonschema.Draft7},
		{"local ref", `{"definitions":{"a":{"type":"string"}},"properties":{"a":{"$ref":"#/definitions/a"}}}`, jsonschema.Draft7},
		{"recursive ref", `{"type":"object","properties":{"next":{"$ref":"#"}}}`, jsonschema.Draft7},
		{"draft-04 boolean exclusiveMinimum", `{` + d4 + `"type":"number","minimum":0,"exclusiveMinimum":true}`, jsonschema.Draft4},
		{"draft-04 id", `{` + d4 + `"id":"http://example.com/a.json","definitions":{"b":{"type":"string"}},"$ref":"#/definitions/b"}`, jsonschema.Draft4},
		{"draft-06 const and propertyNames", `{` + d6 + `"const":5,"propertyNames":{"maxLength":3},"exclusiveMinimum":1}`, jsonschema.Draft6},
		{"draft-06 boolean subschema", `{` + d6 + `"properties":{"a":true,"b":false}}`, jsonschema.Draft6},
		{"draft-07 if then else", `{` + d7 + `"if":{"type":"string"},"then":{"minLength":1},"else":{"type":"number"}}`, jsonschema.Draft7},
		{"draft-07 https schema url", `{"$schema":"https://json-schema.org/draft-07/schema","type":"string"}`, jsonschema.Draft7},
		{"2019-09 defs and dependentRequired", `{` + d2019 + `"$defs":{"n":{"type":"integer"}},"properties":{"a":{"$ref":"#/$defs/n"}},"dependentRequired":{"a":["b"]},"unevaluatedProperties":false}`, jsonschema.Draft2019},
		{"2019-09 anchor", `{` + d2019 + `"$defs":{"n":{"$anchor":"num","type":"integer"}},"items":{"$ref":"#num"}}`, jsonschema.Draft2019},
		{"2020-12 prefixItems", `{` + d2020 + `"prefixItems":[{"type":"string"},{"type":"integer"}],"items":false}`, jsonschema.Draft2020},
		{"2020-12 dynamicRef", `{` + d2020 + `"$dynamicAnchor":"node","type":"object","properties":{"kids":{"type":"array","items":{"$dynamicRef":"#node"}}}}`, jsonschema.Draft2020},
		{"huge and exact numbers", `{"multipleOf":0.1,"maximum":1e400,"minimum":-0,"const":1.0}`, jsonschema.Draft7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mustParse(t, tt.text)
			if s.Draft() != tt.draft {
				t.Errorf("Draft() = %v, want %v", s.Draft(), tt.draft)
			}
			if s.Format() != serde.JSON {
				t.Errorf("Format() = %v", s.Format())
			}
			if s.Compiled() == nil {
				t.Error("Compiled() = nil")
			}
		})
	}
}

// parseErrorCases are invalid schemas; their messages are in
// testdata/parse_errors.golden.
var parseErrorCases = []struct {
	name string
	text string
	refs []serde.Referenced
}{
	// Syntax and shape of the document.
	{name: "empty text", text: ``},
	{name: "truncated", text: `{"type":`},
	{name: "missing colon on line 3", text: "{\n  \"type\": \"object\",\n  \"properties\" {}\n}"},
	{name: "trailing comma", text: `{"type":"string",}`},
	{name: "trailing data", text: `{} {}`},
	{name: "invalid UTF-8", text: "{\"title\":\"caf\xe9\"}"},
	{name: "duplicate key", text: `{"properties":{"a":{"type":"string","type":"integer"}}}`},
	{name: "root array", text: `[{"type":"string"}]`},
	{name: "root string", text: `"string"`},
	{name: "root null", text: `null`},
	{name: "schema not a string", text: `{"$schema":7}`},
	{name: "number exponent too large", text: `{"properties":{"n":{"maximum":1e999999999}}}`},
	{name: "number literal too long", text: `{"const":` + strings.Repeat("9", 1001) + `}`},
	{name: "unknown metaschema", text: `{"$schema":"http://example.com/my-meta"}`},
	// Metaschema violations, every one reported.
	{name: "unknown type name", text: `{"type":"object","properties":{"total":{"type":"numbr"}}}`},
	{name: "unknown type in type array", text: `{"type":["string","nul"]}`},
	{name: "type not a string", text: `{"type":5}`},
	{name: "properties not an object", text: `{"properties":["a","b"]}`},
	{name: "required not strings", text: `{"required":["a",1]}`},
	{name: "required not an array", text: `{"required":"a"}`},
	{name: "minLength not an integer", text: `{"minLength":"3"}`},
	{name: "minLength fraction", text: `{"minLength":1.5}`},
	{name: "maxItems negative", text: `{"maxItems":-1}`},
	{name: "several problems", text: `{"type":"objct","properties":{"a":{"minimum":"0"},"b":{"enum":[]}},"required":"a","additionalProperties":1}`},
	{name: "invalid pattern", text: `{"properties":{"zip":{"type":"string","pattern":"[0-9"}}}`},
	{name: "lookahead pattern", text: `{"pattern":"^(?=a)"}`},
	{name: "invalid patternProperties key", text: `{"patternProperties":{"(":{}}}`},
	{name: "uniqueItems not boolean", text: `{"uniqueItems":"yes"}`},
	{name: "draft-04 boolean subschema", text: `{` + d4 + `"properties":{"a":true}}`},
	{name: "draft-04 numeric exclusiveMinimum", text: `{` + d4 + `"minimum":1,"exclusiveMinimum":5}`},
	{name: "draft-04 invalid patternProperties key", text: `{` + d4 + `"patternProperties":{"[":{}}}`},
	{name: "draft-06 boolean exclusiveMinimum", text: `{` + d6 + `"exclusiveMinimum":true}`},
	{name: "draft-07 if not a schema", text: `{` + d7 + `"if":5}`},
	{name: "2019-09 dependentRequired not array", text: `{` + d2019 + `"dependentRequired":{"a":"b"}}`},
	{name: "2019-09 invalid pattern", text: `{` + d2019 + `"pattern":"("}`},
	{name: "2020-12 prefixItems not an array", text: `{` + d2020 + `"prefixItems":{"type":"string"}}`},
	{name: "2020-12 unknown type", text: `{` + d2020 + `"type":"int"}`},
	// $ref problems.
	{name: "missing local ref", text: `{"properties":{"a":{"$ref":"#/definitions/nope"}}}`},
	{name: "missing anchor", text: `{` + d2019 + `"$ref":"#nope"}`},
	{name: "ref loop", text: `{"definitions":{"a":{"$ref":"#/definitions/b"},"b":{"$ref":"#/definitions/a"}},"$ref":"#/definitions/a"}`},
	{name: "remote ref refused", text: `{"properties":{"a":{"$ref":"https://example.com/a.json"}}}`},
	{name: "relative ref without reference", text: `{"properties":{"c":{"$ref":"customer.json#/definitions/x"}}}`},
	{name: "relative ref against id", text: `{"$id":"https://example.com/schemas/order.json","properties":{"c":{"$ref":"customer.json"}}}`},
	{name: "ref not a uri reference", text: `{"$ref":"%zz"}`},
	{name: "id not a URL", text: `{"$id":"http://a b/schema.json"}`},
	{name: "same missing document twice", text: `{"properties":{"a":{"$ref":"x.json#/a"},"b":{"$ref":"x.json#/b"}}}`},
	// Problems inside references are reported against them.
	{
		name: "invalid reference",
		text: `{"$ref":"customer.json"}`,
		refs: []serde.Referenced{{Name: "customer.json", Text: `{"type":"object","properties":{"id":{"type":"integr"}}}`}},
	},
	{
		name: "malformed reference",
		text: `{"$ref":"customer.json"}`,
		refs: []serde.Referenced{{Name: "customer.json", Text: "{\n\"type\": object\n}"}},
	},
	{
		name: "missing target in reference",
		text: `{"$ref":"customer.json#/definitions/adress"}`,
		refs: []serde.Referenced{{Name: "customer.json", Text: `{"definitions":{"address":{"type":"string"}}}`}},
	},
	{
		name: "reference with a missing dependency",
		text: `{"$ref":"customer.json"}`,
		refs: []serde.Referenced{{Name: "customer.json", Text: `{"properties":{"address":{"$ref":"address.json"}}}`}},
	},
	{name: "empty reference name", text: `{}`, refs: []serde.Referenced{{Name: "", Text: `{}`}}},
	{name: "reference name with fragment", text: `{}`, refs: []serde.Referenced{{Name: "a.json#/x", Text: `{}`}}},
	{name: "reference given twice", text: `{}`, refs: []serde.Referenced{{Name: "a.json", Text: `{}`}, {Name: "a.json", Text: `{}`}}},
	{name: "reference root not a schema", text: `{}`, refs: []serde.Referenced{{Name: "a.json", Text: `[1]`}}},
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	var report strings.Builder
	for _, tt := range parseErrorCases {
		_, err := jsonschema.Parse(tt.text, tt.refs)
		if err == nil {
			t.Errorf("%s: Parse accepted %s", tt.name, tt.text)
			continue
		}
		var list jsonschema.ParseErrors
		if !errors.As(err, &list) || len(list) == 0 {
			t.Errorf("%s: error %T is not a non-empty ParseErrors: %v", tt.name, err, err)
		}
		var first *jsonschema.ParseError
		if !errors.As(err, &first) || first != list[0] {
			t.Errorf("%s: errors.As does not find the first *ParseError", tt.name)
		}
		fmt.Fprintf(&report, "== %s\n%s\n", tt.name, abbreviate(strings.ToValidUTF8(tt.text, "\\xNN")))
		for _, r := range tt.refs {
			fmt.Fprintf(&report, "ref %q: %s\n", r.Name, r.Text)
		}
		for _, e := range list {
			fmt.Fprintf(&report, "-> ref=%q path=%q line=%d column=%d: %s\n", e.Ref, e.Path, e.Line, e.Column, abbreviate(e.Reason))
		}
		fmt.Fprintf(&report, "-> Error(): %v\n\n", abbreviate(err.Error()))
	}
	golden.Check(t, filepath.Join("testdata", "parse_errors.golden"), report.String())
}

// abbreviate keeps golden files readable when a case is long.
func abbreviate(s string) string {
	if len(s) <= 300 {
		return s
	}
	return s[:150] + fmt.Sprintf("…(%d bytes)…", len(s)-300) + s[len(s)-150:]
}

func TestParseErrorPaths(t *testing.T) {
	t.Parallel()
	// The golden file shows the messages; this pins the paths that callers
	// (the REST layer, sluice schema check) rely on.
	tests := []struct {
		text  string
		paths []string
	}{
		{`{"type":"object","properties":{"total":{"type":"numbr"}}}`, []string{"/properties/total/type"}},
		{`{"properties":{"a":{"minimum":"0"}},"required":"a"}`, []string{"/properties/a/minimum", "/required"}},
		{`{"properties":{"a/b":{"maxLength":-1}}}`, []string{"/properties/a~1b/maxLength"}},
		{`{"properties":{"a":{"$ref":"#/definitions/nope"}}}`, []string{"/properties/a/$ref"}},
		{`{"items":{"pattern":"("}}`, []string{"/items/pattern"}},
		{`{"properties":{"a b":{"maxLength":-1},"c%d":{"$ref":"#/nope"}}}`, []string{"/properties/a b/maxLength"}},
		{`{"properties":{"c%d":{"$ref":"#/nope"}}}`, []string{"/properties/c%d/$ref"}},
		{`{"a":{"b":1,"b":2}}`, []string{"/a"}},
		{`[]`, []string{""}},
	}
	for _, tt := range tests {
		_, err := jsonschema.Parse(tt.text, nil)
		var list jsonschema.ParseErrors
		if !errors.As(err, &list) {
			t.Errorf("Parse(%s) = %v, want ParseErrors", tt.text, err)
			continue
		}
		var got []string
		for _, e := range list {
			got = append(got, e.Path)
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.paths) {
			t.Errorf("Parse(%s) paths = %q, want %q (%v)", tt.text, got, tt.paths, err)
		}
	}
}

func TestReferences(t *testing.T) {
	t.Parallel()
	address := serde.Referenced{Name: "address.json", Text: `{"type":"object","properties":{"zip":{"type":"string","pattern":"^[0-9]{5}$"}},"required":["zip"]}`}
	customer := serde.Referenced{Name: "customer.json", Text: `{"definitions":{"customer":{"type":"object","properties":{"name":{"type":"string"},"address":{"$ref":"address.json"}},"required":["name"]}}}`}
	tests := []struct {
		name    string
		text    string
		refs    []serde.Referenced
		valid   []string
		invalid map[string]string // instance -> path of the failure
	}{
		{
			name:    "relative name against the default base",
			text:    `{"type":"object","properties":{"address":{"$ref":"address.json"}}}`,
			refs:    []serde.Referenced{address},
			valid:   []string{`{"address":{"zip":"12345"}}`, `{}`},
			invalid: map[string]string{`{"address":{"zip":"1234"}}`: "/address/zip", `{"address":{}}`: "/address"},
		},
		{
			name:    "transitive: customer refers to address",
			text:    `{"type":"object","properties":{"buyer":{"$ref":"customer.json#/definitions/customer"}},"required":["buyer"]}`,
			refs:    []serde.Referenced{address, customer},
			valid:   []string{`{"buyer":{"name":"Ada","address":{"zip":"12345"}}}`},
			invalid: map[string]string{`{"buyer":{"name":"Ada","address":{"zip":"x"}}}`: "/buyer/address/zip", `{"buyer":{}}`: "/buyer"},
		},
		{
			name:    "relative name against the root's $id",
			text:    `{"$id":"https://example.com/schemas/order.json","properties":{"buyer":{"$ref":"customer.json#/definitions/customer"}}}`,
			refs:    []serde.Referenced{address, customer},
			valid:   []string{`{"buyer":{"name":"Ada"}}`},
			invalid: map[string]string{`{"buyer":{"name":1}}`: "/buyer/name"},
		},
		{
			name:    "absolute URL names",
			text:    `{"properties":{"c":{"$ref":"https://example.com/customer.schema.json"}}}`,
			refs:    []serde.Referenced{{Name: "https://example.com/customer.schema.json", Text: `{"$id":"https://example.com/customer.schema.json","type":"object","properties":{"a":{"$ref":"https://example.com/a.schema.json"}}}`}, {Name: "https://example.com/a.schema.json", Text: `{"type":"integer"}`}},
			valid:   []string{`{"c":{"a":1}}`},
			invalid: map[string]string{`{"c":{"a":"x"}}`: "/c/a", `{"c":[]}`: "/c"},
		},
		{
			name: "reference with its own $id refers relative to it",
			text: `{"properties":{"c":{"$ref":"customer.json"}}}`,
			refs: []serde.Referenced{
				{Name: "address.json", Text: `{"type":"string"}`},
				{Name: "customer.json", Text: `{"$id":"https://example.com/other/customer.json","properties":{"addr":{"$ref":"address.json"}}}`},
			},
			valid:   []string{`{"c":{"addr":"x"}}`},
			invalid: map[string]string{`{"c":{"addr":1}}`: "/c/addr"},
		},
		{
			name:    "subdirectory names",
			text:    `{"$ref":"types/id.json"}`,
			refs:    []serde.Referenced{{Name: "types/id.json", Text: `{"type":"string","minLength":1}`}},
			valid:   []string{`"x"`},
			invalid: map[string]string{`""`: ""},
		},
		{
			name:    "2020-12 reference",
			text:    `{` + d2020 + `"$ref":"list.json"}`,
			refs:    []serde.Referenced{{Name: "list.json", Text: `{` + d2020 + `"type":"array","prefixItems":[{"type":"string"}],"items":false}`}},
			valid:   []string{`["a"]`},
			invalid: map[string]string{`["a",1]`: "/1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mustParse(t, tt.text, tt.refs...)
			for _, v := range tt.valid {
				if err := s.Validate([]byte(v)); err != nil {
					t.Errorf("Validate(%s) = %v", v, err)
				}
			}
			for v, path := range tt.invalid {
				err := s.Validate([]byte(v))
				var ve *jsonschema.ValidationError
				if !errors.As(err, &ve) {
					t.Errorf("Validate(%s) = %v, want a ValidationError", v, err)
					continue
				}
				if ve.Path != path {
					t.Errorf("Validate(%s) path = %q, want %q (%v)", v, ve.Path, path, err)
				}
			}
		})
	}
}

func TestCanonicalForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		in         string
		canonical  string
		normalized string
	}{
		{
			name:       "whitespace removed, key order kept",
			in:         "{\n  \"type\": \"object\",\n  \"properties\": {\"b\": {\"type\": \"string\"}, \"a\": {}},\n  \"required\": [\"b\", \"a\"]\n}",
			canonical:  `{"type":"object","properties":{"b":{"type":"string"},"a":{}},"required":["b","a"]}`,
			normalized: `{"properties":{"a":{},"b":{"type":"string"}},"required":["b","a"],"type":"object"}`,
		},
		{
			name:       "numbers as written",
			in:         `{"maximum": 1e400, "minimum": -0, "multipleOf": 1.0, "const": 12345678901234567890123, "default": 1E-7}`,
			canonical:  `{"maximum":1e400,"minimum":-0,"multipleOf":1.0,"const":12345678901234567890123,"default":1E-7}`,
			normalized: `{"const":12345678901234567890123,"default":1E-7,"maximum":1e400,"minimum":-0,"multipleOf":1.0}`,
		},
		{
			name:       "strings re-escaped one way",
			in:         `{"title": "a\u0041\/<>&\u00e9\u2028\"\\\n\u0001", "description":"é"}`,
			canonical:  "{\"title\":\"aA/<>&é\u2028\\\"\\\\\\n\\u0001\",\"description\":\"é\"}",
			normalized: "{\"description\":\"é\",\"title\":\"aA/<>&é\u2028\\\"\\\\\\n\\u0001\"}",
		},
		{
			name:       "keys sorted by code point, recursively, inside arrays too",
			in:         `{"z":[{"b":1,"a":2}],"Z":true,"é":null,"a":{"d":{"y":1,"x":2},"c":0}}`,
			canonical:  `{"z":[{"b":1,"a":2}],"Z":true,"é":null,"a":{"d":{"y":1,"x":2},"c":0}}`,
			normalized: `{"Z":true,"a":{"c":0,"d":{"x":2,"y":1}},"z":[{"a":2,"b":1}],"é":null}`,
		},
		{
			name:       "boolean schema",
			in:         " true ",
			canonical:  `true`,
			normalized: `true`,
		},
		{
			name:       "empty containers",
			in:         `{ "properties" : { }, "enum" : [ ] , "x": [[],{}]}`,
			canonical:  `{"properties":{},"enum":[],"x":[[],{}]}`,
			normalized: `{"enum":[],"properties":{},"x":[[],{}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// enum:[] is invalid under the metaschema; the forms do not
			// depend on validity, so those cases are checked on the
			// unvalidated path through a valid wrapper below.
			s, err := jsonschema.Parse(tt.in, nil)
			if err != nil {
				s = mustParse(t, `{"x-wrapped":`+tt.in+`}`)
				if got, want := s.Canonical(), `{"x-wrapped":`+tt.canonical+`}`; got != want {
					t.Errorf("Canonical() = %s, want %s", got, want)
				}
				if got, want := s.Normalized(), `{"x-wrapped":`+tt.normalized+`}`; got != want {
					t.Errorf("Normalized() = %s, want %s", got, want)
				}
				return
			}
			if got := s.Canonical(); got != tt.canonical {
				t.Errorf("Canonical() = %s, want %s", got, tt.canonical)
			}
			if got := s.Normalized(); got != tt.normalized {
				t.Errorf("Normalized() = %s, want %s", got, tt.normalized)
			}
			again := mustParse(t, s.Canonical())
			if again.Canonical() != s.Canonical() || again.Normalized() != s.Normalized() {
				t.Errorf("forms change when the canonical text is parsed again: %s / %s", again.Canonical(), again.Normalized())
			}
			if n := mustParse(t, s.Normalized()); n.Normalized() != s.Normalized() {
				t.Errorf("Normalized is not idempotent: %s", n.Normalized())
			}
		})
	}
}

func TestKeyOrderVariantsShareNormalizedForm(t *testing.T) {
	t.Parallel()
	a := mustParse(t, `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}}}`)
	b := mustParse(t, `{"properties":{"b":{"type":"integer"},"a":{"type":"string"}},"type":"object"}`)
	if a.Canonical() == b.Canonical() {
		t.Error("key-order variants share a canonical form; §5.2 keeps key order")
	}
	if a.Normalized() != b.Normalized() {
		t.Errorf("normalized forms differ: %s vs %s", a.Normalized(), b.Normalized())
	}
}

func TestDocument(t *testing.T) {
	t.Parallel()
	s := mustParse(t, `{"title":"shop.v1.Order","properties":{"b":{"maximum":1.50},"a":{}}}`)
	root, ok := s.Document().(jsonschema.Object)
	if !ok {
		t.Fatalf("Document() is %T, want Object", s.Document())
	}
	props, _ := root.Get("properties")
	var keys []string
	for _, m := range props.(jsonschema.Object) {
		keys = append(keys, m.Key)
	}
	if fmt.Sprint(keys) != "[b a]" {
		t.Errorf("property order = %v, want [b a]", keys)
	}
	b, _ := props.(jsonschema.Object).Get("b")
	max, _ := b.(jsonschema.Object).Get("maximum")
	if fmt.Sprintf("%T %v", max, max) != "json.Number 1.50" {
		t.Errorf("maximum = %T %v, want json.Number 1.50", max, max)
	}
	if _, ok := root.Get("missing"); ok {
		t.Error("Get(missing) reported presence")
	}
}

func TestName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		want string
	}{
		{`{"title":"shop.v1.Order","type":"object"}`, "shop.v1.Order"},
		{`{"type":"object","properties":{"x":{"title":"Inner"}}}`, ""},
		{`{"title":""}`, ""},
		{`{"description":"no title"}`, ""},
		{`true`, ""},
	}
	for _, tt := range tests {
		if got := mustParse(t, tt.text).Name(); got != tt.want {
			t.Errorf("Name() of %s = %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestDraftNames(t *testing.T) {
	t.Parallel()
	for d, want := range map[jsonschema.Draft]string{
		jsonschema.Draft4: "draft-04", jsonschema.Draft6: "draft-06", jsonschema.Draft7: "draft-07",
		jsonschema.Draft2019: "2019-09", jsonschema.Draft2020: "2020-12",
	} {
		if d.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(d), d.String(), want)
		}
		// Draft.URL is what $schema says to ask for the draft.
		s := mustParse(t, `{"$schema":"`+d.URL()+`"}`)
		if s.Draft() != d {
			t.Errorf("$schema %s gives %v", d.URL(), s.Draft())
		}
	}
}

func TestCustomMetaschemaReference(t *testing.T) {
	t.Parallel()
	// A metaschema given as a reference is used instead of being fetched;
	// the draft comes from the metaschema's own $schema.
	meta := serde.Referenced{Name: "https://example.com/meta", Text: `{` + d2019 + `"$id":"https://example.com/meta","$vocabulary":{"https://json-schema.org/draft/2019-09/vocab/core":true,"https://json-schema.org/draft/2019-09/vocab/validation":true},"type":["object","boolean"]}`}
	s := mustParse(t, `{"$schema":"https://example.com/meta","type":"string"}`, meta)
	if s.Draft() != jsonschema.Draft2019 {
		t.Errorf("Draft() = %v, want 2019-09", s.Draft())
	}
}

// validateCases check instances; their messages are in
// testdata/validate_errors.golden.
var validateCases = []struct {
	name     string
	schema   string
	instance string
}{
	{"ok", `{"type":"object","properties":{"id":{"type":"integer"}}}`, `{"id":42,"name":"Ada"}`},
	{"every failure reported", `{"type":"object","properties":{"id":{"type":"integer","minimum":1},"name":{"type":"string","maxLength":3},"tags":{"type":"array","items":{"type":"string"}}},"required":["id","email"],"additionalProperties":false}`,
		`{"id":0,"name":"Grace","tags":["a",2,"c",false],"extra":true}`},
	{"nested path", `{"properties":{"lines":{"type":"array","items":{"type":"object","properties":{"qty":{"type":"integer","exclusiveMinimum":0}}}}}}`, `{"lines":[{"qty":1},{"qty":0}]}`},
	{"exact big numbers", `{"properties":{"n":{"maximum":12345678901234567890}}}`, `{"n":12345678901234567891}`},
	{"exact big numbers ok", `{"properties":{"n":{"maximum":12345678901234567890}}}`, `{"n":12345678901234567890}`},
	{"multipleOf decimal ok", `{"multipleOf":0.01}`, `19.99`},
	{"multipleOf decimal", `{"multipleOf":0.01}`, `19.999`},
	{"nullable type", `{"type":["string","null"]}`, `5`},
	{"anyOf prefers the branch that matched the shape", `{"anyOf":[{"type":"string"},{"type":"object","properties":{"a":{"type":"integer"}}}]}`, `{"a":"x"}`},
	{"oneOf all types wrong", `{"oneOf":[{"type":"string"},{"type":"integer"}]}`, `[1]`},
	{"enum", `{"enum":["red","green"]}`, `"blue"`},
	{"const", `{"const":1.0}`, `2`},
	{"false schema", `false`, `{}`},
	{"ref to definitions", `{"definitions":{"pos":{"type":"integer","minimum":0}},"properties":{"x":{"$ref":"#/definitions/pos"}}}`, `{"x":-1}`},
	{"format asserted in draft-07", `{"format":"email"}`, `"not-an-email"`},
	{"malformed instance", `{}`, "{\n\"a\": 1,\n\"b\"\n}"},
	{"truncated instance", `{}`, `[1,2`},
	{"trailing data", `{}`, `{} {}`},
	{"empty instance", `{}`, ``},
	{"instance number exponent too large", `{"properties":{"n":{"minimum":0}}}`, `{"n":[1e999999999]}`},
	{"property named anyOf is not an anyOf", `{"properties":{"anyOf":{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}}}}}`, `{"anyOf":{"a":1,"b":2}}`},
	{"escaped key in path", `{"properties":{"a/b":{"type":"string"},"c~d":{"type":"string"}}}`, `{"a/b":1,"c~d":2}`},
}

func TestValidate(t *testing.T) {
	t.Parallel()
	var report strings.Builder
	for _, tt := range validateCases {
		s := mustParse(t, tt.schema)
		err := s.Validate([]byte(tt.instance))
		fmt.Fprintf(&report, "== %s\nschema: %s\ninstance: %s\n", tt.name, tt.schema, tt.instance)
		if err == nil {
			report.WriteString("-> ok\n\n")
			continue
		}
		var list jsonschema.ValidationErrors
		if !errors.As(err, &list) || len(list) == 0 {
			t.Errorf("%s: error %T is not a non-empty ValidationErrors: %v", tt.name, err, err)
			continue
		}
		for _, e := range list {
			fmt.Fprintf(&report, "-> path=%q keyword=%q: %s\n", e.Path, e.Keyword, e.Reason)
		}
		fmt.Fprintf(&report, "-> Error(): %v\n\n", err)
	}
	golden.Check(t, filepath.Join("testdata", "validate_errors.golden"), report.String())
}

func TestErrorCap(t *testing.T) {
	t.Parallel()
	// 30 bad properties: 20 problems, then one entry counting the rest.
	var props, inst []string
	for i := range 30 {
		props = append(props, fmt.Sprintf(`"p%02d":{"type":"strin","minLength":"x"}`, i))
		inst = append(inst, fmt.Sprintf(`"p%02d":1`, i))
	}
	_, err := jsonschema.Parse(`{"properties":{`+strings.Join(props, ",")+`}}`, nil)
	var perrs jsonschema.ParseErrors
	if !errors.As(err, &perrs) || len(perrs) != 21 || perrs[20].Reason != "and 40 more problems" {
		t.Errorf("Parse with 60 problems = %d entries, last %v", len(perrs), perrs[len(perrs)-1])
	}
	s := mustParse(t, `{"additionalProperties":{"type":"string"}}`)
	err = s.Validate([]byte(`{` + strings.Join(inst, ",") + `}`))
	var verrs jsonschema.ValidationErrors
	if !errors.As(err, &verrs) || len(verrs) != 21 || verrs[20].Reason != "and 10 more problems" {
		t.Errorf("Validate with 30 failures = %d entries, last %v", len(verrs), verrs[len(verrs)-1])
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	s := mustParse(t, `{"type":"object","properties":{"id":{"type":"integer","minimum":1}},"required":["id"]}`)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				err := s.Validate(fmt.Appendf(nil, `{"id":%d}`, i*j-10))
				if (i*j-10 >= 1) != (err == nil) {
					t.Errorf("id %d: Validate = %v", i*j-10, err)
				}
				_ = s.Canonical() + s.Normalized()
			}
		}()
	}
	wg.Wait()
}

func TestSizeLimit(t *testing.T) {
	t.Parallel()
	big := `{"description":"` + strings.Repeat("x", jsonschema.MaxSchemaBytes) + `"}`
	_, err := jsonschema.Parse(big, nil)
	if err == nil || !strings.Contains(err.Error(), "more than the limit") {
		t.Errorf("Parse of %d bytes = %v, want a size error", len(big), err)
	}
	deep := strings.Repeat(`{"not":`, 1200) + `{}` + strings.Repeat(`}`, 1200)
	_, err = jsonschema.Parse(deep, nil)
	if err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("Parse of 1200 nested levels = %v, want a depth error", err)
	}
}

// walkCompiled calls fn for every compiled schema reachable from s, once.
func walkCompiled(s *js.Schema, seen map[*js.Schema]bool, fn func(*js.Schema)) {
	if s == nil || seen[s] {
		return
	}
	seen[s] = true
	fn(s)
	for _, c := range []*js.Schema{s.Ref, s.Not, s.If, s.Then, s.Else, s.PropertyNames, s.Contains, s.Items2020, s.UnevaluatedProperties, s.UnevaluatedItems, s.RecursiveRef, s.DynamicRef} {
		walkCompiled(c, seen, fn)
	}
	for _, list := range [][]*js.Schema{s.AllOf, s.AnyOf, s.OneOf, s.PrefixItems} {
		for _, c := range list {
			walkCompiled(c, seen, fn)
		}
	}
	for _, c := range s.Properties {
		walkCompiled(c, seen, fn)
	}
	for _, c := range s.PatternProperties {
		walkCompiled(c, seen, fn)
	}
	for _, v := range []any{s.Items, s.AdditionalProperties, s.AdditionalItems} {
		switch v := v.(type) {
		case *js.Schema:
			walkCompiled(v, seen, fn)
		case []*js.Schema:
			for _, c := range v {
				walkCompiled(c, seen, fn)
			}
		}
	}
}

func TestDocumentAt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		refs []serde.Referenced
	}{
		{"local", `{"definitions":{"m":{"type":"object","properties":{"z":{},"a":{}}}},"properties":{"a b":{"$ref":"#/definitions/m"},"c/d":{"items":[{"type":"string"}],"additionalItems":{"type":"integer"}}}}`, nil},
		{"root id", `{"$id":"https://example.com/o.json","properties":{"c":{"$ref":"customer.json#/definitions/c"}}}`,
			[]serde.Referenced{{Name: "customer.json", Text: `{"definitions":{"c":{"properties":{"y":{},"x":{}}}}}`}}},
		{"embedded id", `{"definitions":{"e":{"$id":"https://example.com/e.json","properties":{"q":{"type":"string"}}}},"properties":{"e":{"$ref":"https://example.com/e.json"}}}`, nil},
		{"draft-04 id", `{` + d4 + `"id":"https://example.com/four.json","properties":{"a":{"$ref":"#/definitions/a"}},"definitions":{"a":{"type":"string"}}}`, nil},
		{"2020-12", `{` + d2020 + `"$defs":{"n":{"type":"integer"}},"prefixItems":[{"$ref":"#/$defs/n"}],"items":{"$ref":"other.json"}}`,
			[]serde.Referenced{{Name: "other.json", Text: `{"type":"string"}`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mustParse(t, tt.text, tt.refs...)
			n := 0
			walkCompiled(s.Compiled(), map[*js.Schema]bool{}, func(c *js.Schema) {
				n++
				v, ok := s.DocumentAt(c.Location)
				if !ok {
					t.Errorf("DocumentAt(%s) found nothing", c.Location)
					return
				}
				switch v.(type) {
				case jsonschema.Object, bool:
				default:
					t.Errorf("DocumentAt(%s) = %T, want a schema", c.Location, v)
				}
			})
			if n < 3 {
				t.Errorf("walked %d compiled schemas; the test needs more", n)
			}
		})
	}

	// Property order survives through a $ref into a reference.
	s := mustParse(t, `{"properties":{"c":{"$ref":"customer.json#/definitions/c"}}}`,
		serde.Referenced{Name: "customer.json", Text: `{"definitions":{"c":{"properties":{"y":{},"x":{},"w":{}}}}}`})
	v, ok := s.DocumentAt(s.Compiled().Properties["c"].Ref.Location)
	if !ok {
		t.Fatal("DocumentAt of the $ref target found nothing")
	}
	props, _ := v.(jsonschema.Object).Get("properties")
	var keys []string
	for _, m := range props.(jsonschema.Object) {
		keys = append(keys, m.Key)
	}
	if fmt.Sprint(keys) != "[y x w]" {
		t.Errorf("properties through $ref = %v, want [y x w]", keys)
	}
	for _, loc := range []string{"", "#", "mem://elsewhere/x.json#", s.Compiled().Location + "/nope", s.Compiled().Location + "/properties/c/$ref/x", "customer.json#anchor"} {
		if v, ok := s.DocumentAt(loc); ok {
			t.Errorf("DocumentAt(%q) = %v, want not found", loc, v)
		}
	}
}
