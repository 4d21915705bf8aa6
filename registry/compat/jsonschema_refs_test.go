package compat_test

import (
	"slices"
	"testing"

	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/serde"
)

// $ref handling: local definitions, $id scopes, recursion, and references
// to other registered schemas. Differences found behind a $ref are reported
// at the path of the schema that uses it, as Confluent does.

const (
	jsonCustomerV1 = `{"type":"object","properties":{"id":{"type":"integer"}},"additionalProperties":false,
		"definitions":{"address":{"type":"object","properties":{"zip":{"type":"string"}}}}}`
	jsonCustomerV2Optional = `{"type":"object","properties":{"id":{"type":"integer"},"email":{"type":"string"}},"additionalProperties":false,
		"definitions":{"address":{"type":"object","properties":{"zip":{"type":"string"}}}}}`
	jsonCustomerV2Required = `{"type":"object","properties":{"id":{"type":"integer"},"email":{"type":"string"}},"required":["email"],"additionalProperties":false,
		"definitions":{"address":{"type":"object","properties":{"zip":{"type":"string","maxLength":10}}}}}`
	jsonOrderUsingCustomer = `{"type":"object","properties":{"customer":{"$ref":"customer.json"},"ship_to":{"$ref":"customer.json#/definitions/address"}}}`
)

var jsonRefCases = []jsonCase{
	{name: "local ref, compatible", original: `{"type":"object","properties":{"a":{"type":"number","exclusiveMinimum":0}}}`,
		update: `{"type":"object","definitions":{"pos":{"type":"number","exclusiveMinimum":0}},"properties":{"a":{"$ref":"#/definitions/pos"}}}`},
	{name: "local ref, incompatible", original: `{"type":"object","properties":{"a":{"type":"number","exclusiveMaximum":0}}}`,
		update: `{"type":"object","definitions":{"pos":{"type":"number","exclusiveMinimum":0}},"properties":{"a":{"$ref":"#/definitions/pos"}}}`,
		want:   []string{"EXCLUSIVE_MINIMUM_ADDED #/properties/a/exclusiveMinimum"}},
	{name: "ref on both sides to a changed definition",
		original: `{"type":"object","definitions":{"s":{"type":"string","maxLength":10}},"properties":{"a":{"$ref":"#/definitions/s"},"b":{"$ref":"#/definitions/s"}}}`,
		update:   `{"type":"object","definitions":{"s":{"type":"string","maxLength":5}},"properties":{"a":{"$ref":"#/definitions/s"},"b":{"$ref":"#/definitions/s"}}}`,
		want:     []string{"MAX_LENGTH_DECREASED #/properties/a/maxLength", "MAX_LENGTH_DECREASED #/properties/b/maxLength"}},
	{name: "ref through an $id scope", original: `{"type":"object","properties":{"a":{"type":"number","exclusiveMaximum":0}}}`,
		update: `{"type":"object","$id":"https://example.com/schemas/base","definitions":{"pos":{"type":"number","exclusiveMinimum":0}},
			"properties":{"a":{"$ref":"/schemas/base#/definitions/pos"}}}`,
		want: []string{"EXCLUSIVE_MINIMUM_ADDED #/properties/a/exclusiveMinimum"}},
	{name: "ref to a bundled schema with its own $id, two jumps", original: `{"type":"object","properties":{"a":{"type":"number","exclusiveMinimum":0}}}`,
		update: `{"type":"object","definitions":{"ext":{"$id":"https://example.com/schemas/external","definitions":{
				"pos":{"$ref":"#/definitions/impl"},"impl":{"type":"number","exclusiveMinimum":0}}}},
			"properties":{"a":{"$ref":"https://example.com/schemas/external#/definitions/pos"}}}`},
	{name: "recursive schema, unchanged recursion",
		original: `{"type":"object","properties":{"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#"}}}}`,
		update:   `{"type":"object","properties":{"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#"}}},"additionalProperties":true}`},
	{name: "recursive schema, change seen once",
		original: `{"type":"object","properties":{"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#"}}}}`,
		update:   `{"type":"object","properties":{"name":{"type":"integer"},"children":{"type":"array","items":{"$ref":"#"}}}}`,
		want:     []string{"TYPE_CHANGED #/properties/name/type"}},
	{name: "mutual recursion through definitions",
		original: `{"$ref":"#/definitions/a","definitions":{
			"a":{"type":"object","properties":{"b":{"$ref":"#/definitions/b"}}},
			"b":{"type":"object","properties":{"a":{"$ref":"#/definitions/a"},"v":{"type":"string"}}}}}`,
		update: `{"$ref":"#/definitions/a","definitions":{
			"a":{"type":"object","properties":{"b":{"$ref":"#/definitions/b"}}},
			"b":{"type":"object","properties":{"a":{"$ref":"#/definitions/a"},"v":{"type":"integer"}}}}}`,
		want: []string{"TYPE_CHANGED #/properties/b/properties/v/type"}},
	{name: "many refs to one definition",
		original: `{"type":"object","properties":{"name":{"type":"string"},"a":{"$ref":"#/properties/name"},"b":{"$ref":"#/properties/name"},"c":{"$ref":"#/properties/name"}}}`,
		update:   `{"type":"object","properties":{"name":{"type":"string"},"a":{"$ref":"#/properties/name"},"b":{"$ref":"#/properties/name"},"c":{"$ref":"#/properties/name"}}}`},
	{name: "draft-07 ref with siblings reads an allOf",
		original: `{"type":"object","properties":{"a":{"allOf":[{"type":"number","exclusiveMinimum":0},{"type":"number","multipleOf":33}]}}}`,
		update:   `{"type":"object","definitions":{"pos":{"type":"number","exclusiveMinimum":0}},"properties":{"a":{"$ref":"#/definitions/pos","type":"number","multipleOf":33}}}`},
	{name: "2020-12 ref with siblings is an allOf",
		original: `{` + jsonD2020 + `"type":"object","$defs":{"s":{"type":"string"}},"properties":{"a":{"$ref":"#/$defs/s"}}}`,
		update:   `{` + jsonD2020 + `"type":"object","$defs":{"s":{"type":"string"}},"properties":{"a":{"$ref":"#/$defs/s","maxLength":3}}}`,
		want:     []string{"TYPE_CHANGED #/properties/a/type"}},
	{name: "2020-12 ref in arrays",
		original: `{` + jsonD2020 + `"type":"array","prefixItems":[{"type":"number","exclusiveMinimum":0},{"type":"string"}],
			"items":{"allOf":[{"type":"number","exclusiveMaximum":0},{"multipleOf":10}]}}`,
		update: `{` + jsonD2020 + `"$id":"https://example.com/schemas/base","type":"array",
			"prefixItems":[{"$ref":"#/$defs/pos"},{"type":"string"}],
			"items":{"$ref":"https://example.com/schemas/base#/$defs/neg"},
			"$defs":{"pos":{"type":"number","exclusiveMinimum":0},"neg":{"type":"number","exclusiveMaximum":0}}}`},
	{name: "referenced subject gains an optional property (closed model)",
		original: jsonOrderUsingCustomer, update: jsonOrderUsingCustomer,
		refs:       []serde.Referenced{{Name: "customer.json", Text: jsonCustomerV1}},
		updateRefs: []serde.Referenced{{Name: "customer.json", Text: jsonCustomerV2Optional}}},
	{name: "referenced subject gains a required property",
		original: jsonOrderUsingCustomer, update: jsonOrderUsingCustomer,
		refs:       []serde.Referenced{{Name: "customer.json", Text: jsonCustomerV1}},
		updateRefs: []serde.Referenced{{Name: "customer.json", Text: jsonCustomerV2Required}},
		want: []string{
			"REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/customer/properties/email",
			"MAX_LENGTH_ADDED #/properties/ship_to/properties/zip/maxLength",
		}},
	{name: "inlined reference is the same schema",
		original: jsonOrderUsingCustomer,
		update: `{"type":"object","properties":{"customer":{"type":"object","properties":{"id":{"type":"integer"}},"additionalProperties":false},
			"ship_to":{"type":"object","properties":{"zip":{"type":"string"}}}}}`,
		refs:       []serde.Referenced{{Name: "customer.json", Text: jsonCustomerV1}},
		updateRefs: []serde.Referenced{}},
}

var jsonDraftCases = []jsonCase{
	{name: "draft-04 to draft-07, same schema", original: `{` + jsonD4 + `"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`,
		update: `{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`},
	{name: "draft-06 spelled two ways", original: `{"$schema":"http://json-schema.org/draft-06/schema#"}`, update: `{"$schema":"http://json-schema.org/draft-06/schema"}`},
	{name: "draft-04 empty reads true", original: `true`, update: `{` + jsonD4 + `"type":"object"}`,
		want: []string{"TYPE_CHANGED #/type"}},
	{name: "draft-06 const", original: `{` + jsonD6 + `"const":1}`, update: `{` + jsonD6 + `"const":2}`,
		want: []string{"ENUM_ARRAY_CHANGED #/const"}},
	{name: "draft-04 const is no keyword", original: `{` + jsonD4 + `"const":1}`, update: `{` + jsonD4 + `"const":2}`},
	{name: "draft-07 items false is a schema", original: `{"type":"array"}`, update: `{"type":"array","items":false}`,
		want: []string{"SCHEMA_ADDED #/items"}},
	{name: "2020-12 items false forbids items", original: `{` + jsonD2020 + `"type":"array"}`, update: `{` + jsonD2020 + `"type":"array","items":false}`,
		want: []string{"ADDITIONAL_ITEMS_REMOVED #/additionalItems"}},
	{name: "2020-12 to draft-07 object", original: `{` + jsonD2020 + `"type":"object","properties":{"a":{"type":"string"}}}`,
		update: `{"type":"object","properties":{"a":{"type":"string","maxLength":3}}}`,
		want:   []string{"MAX_LENGTH_ADDED #/properties/a/maxLength"}},
	{name: "connect bytes spelled differently", original: `{"type":"string","connect.type":"bytes"}`,
		update: `{"type":"array","items":{"type":"integer"},"connect.type":"bytes"}`},
	{name: "connect bytes on one side only", original: `{"type":"string","connect.type":"bytes"}`, update: `{"type":"integer"}`,
		want: []string{"TYPE_CHANGED #/type"}},
}

// TestJSONConfluentQuirks names the cases where Confluent's verdict is not
// what a reader of the JSON Schema specification would expect. We follow
// Confluent (spec §12: "when in doubt follow the Confluent column").
func TestJSONConfluentQuirks(t *testing.T) {
	tests := []struct {
		name             string
		original, update string
		compatible       bool
	}{
		// The most-complained-about behaviour (issues #1458, #1529, …):
		// old data may already hold any value under the new name.
		{"optional property added to an open model is incompatible",
			`{"type":"object","properties":{"a":{"type":"string"}}}`,
			`{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}}}`, false},
		{"optional property removed from a closed model is incompatible",
			`{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"additionalProperties":false}`,
			`{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}`, false},
		// Karapace accepts this one.
		{"true to false is incompatible", `true`, `false`, false},
		// Draft-04 exclusiveMaximum: true qualifies maximum; Confluent
		// compares the limits only.
		{"draft-04 exclusive flag flip is not compared",
			`{` + jsonD4 + `"type":"number","maximum":10}`,
			`{` + jsonD4 + `"type":"number","maximum":10,"exclusiveMaximum":true}`, true},
		{"format is not compared", `{"type":"string","format":"email"}`, `{"type":"string","format":"date-time"}`, true},
		{"format added is not compared", `{"type":"string"}`, `{"type":"string","format":"uuid"}`, true},
		// …but up to draft-07 a format beside a non-string type is a
		// string part of its own (everit sniffs it), so adding one to an
		// integer changes the schema's class; 2019-09+ ignores it.
		{"draft-07 format added to an integer is TYPE_CHANGED",
			`{"type":"integer"}`, `{"type":"integer","format":"int64"}`, false},
		{"2020-12 format added to an integer is not compared",
			`{` + jsonD2020 + `"type":"integer"}`, `{` + jsonD2020 + `"type":"integer","format":"int64"}`, true},
		// Confluent walks the properties it knows; a required name without
		// a property schema is invisible to it.
		{"required without a property schema is not compared",
			`{"type":"object"}`, `{"type":"object","required":["a"]}`, true},
		{"propertyNames is not compared", `{"type":"object"}`, `{"type":"object","propertyNames":{"maxLength":3}}`, true},
		{"patternProperties alone are not compared",
			`{"type":"object","patternProperties":{"^a":{"type":"string"}}}`,
			`{"type":"object","patternProperties":{"^a":{"type":"integer"}}}`, true},
		{"if/then/else is not compared",
			`{"type":"object","if":{"required":["a"]},"then":{"required":["b"]}}`,
			`{"type":"object","if":{"required":["a"]},"then":false}`, true},
		// …but if/then/else beside a type makes the schema an allOf of the
		// two, and a plain schema becoming an allOf is a type change.
		{"if/then/else added beside a type is TYPE_CHANGED",
			`{"type":"object"}`, `{"type":"object","if":{"required":["a"]},"then":{"required":["b"]}}`, false},
		{"if/then/else removed is PRODUCT_TYPE_NARROWED",
			`{"type":"object","if":{"required":["a"]},"then":{"required":["b"]}}`, `{"type":"object"}`, true},
		{"unreferenced definitions are not compared",
			`{"type":"string","definitions":{"x":{"type":"string"}}}`,
			`{"type":"string","definitions":{"x":{"type":"integer"}}}`, true},
		// additionalProperties: {} is a schema (partially open), not true.
		{"additionalProperties {} differs from absent",
			`{"type":"object"}`, `{"type":"object","additionalProperties":{}}`, false},
		// Up to draft-07 a $ref hides its siblings.
		{"draft-07 $ref hides its siblings",
			`{"definitions":{"s":{"type":"string"}},"properties":{"a":{"$ref":"#/definitions/s"}}}`,
			`{"definitions":{"s":{"type":"string"}},"properties":{"a":{"$ref":"#/definitions/s","maxLength":3}}}`, true},
		// A typed enum is allOf(type, enum): adding one changes the class.
		{"enum added to a typed schema is TYPE_CHANGED", `{"type":"string"}`, `{"type":"string","enum":["a"]}`, false},
		{"enum removed from a typed schema is compatible", `{"type":"string","enum":["a"]}`, `{"type":"string"}`, true},
		{"const is not a draft-04 keyword", `{` + jsonD4 + `"const":1}`, `{` + jsonD4 + `"const":2}`, true},
		// A not-yet-required property of schema {} still has to be
		// present in old data once required.
		{"required empty-schema property added to an open model is incompatible",
			`{"type":"object"}`, `{"type":"object","properties":{"a":{}},"required":["a"]}`, false},
		{"optional empty-schema property added to an open model is compatible",
			`{"type":"object"}`, `{"type":"object","properties":{"a":{}}}`, true},
		// From 2019-09 a type array does not take the keywords beside
		// it (SchemaTranslator), so the nullable string's maxLength is a
		// part of its own that the update lacks; up to draft-07 it sits
		// in the string branch and its removal is compatible.
		{"2020-12 nullable string loses maxLength: incompatible",
			`{` + jsonD2020 + `"type":["string","null"],"maxLength":5}`, `{` + jsonD2020 + `"type":["string","null"]}`, false},
		{"draft-07 nullable string loses maxLength: compatible",
			`{"type":["string","null"],"maxLength":5}`, `{"type":["string","null"]}`, true},
		{"two connect.type bytes schemas are equal whatever their types",
			`{"type":"string","connect.type":"bytes"}`, `{"type":"integer","connect.type":"bytes"}`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vs := jsonReads(t, compat.Strict, jsonParse(t, tc.update, nil), jsonParse(t, tc.original, nil))
			if got := len(vs) == 0; got != tc.compatible {
				t.Errorf("compatible = %v, want %v (violations %v)", got, tc.compatible, vs)
			}
		})
	}
}

// A $ref chain across three documents, each naming the next: the
// comparison follows the references into each version of the documents.
func TestJSONRefAcrossSubjects(t *testing.T) {
	addrV1 := `{"type":"object","properties":{"zip":{"type":"string"}}}`
	addrV2 := `{"type":"object","properties":{"zip":{"type":"string","pattern":"^[0-9]+$"}}}`
	person := `{"type":"object","properties":{"home":{"$ref":"address.json"}}}`
	root := `{"type":"object","properties":{"owner":{"$ref":"person.json"}}}`
	refs := func(addr string) []serde.Referenced {
		return []serde.Referenced{{Name: "address.json", Text: addr}, {Name: "person.json", Text: person}}
	}
	v1, v2 := jsonParse(t, root, refs(addrV1)), jsonParse(t, root, refs(addrV2))

	got := jsonKinds(jsonReads(t, compat.Strict, v2, v1))
	want := []string{"PATTERN_ADDED #/properties/owner/properties/home/properties/zip/pattern"}
	if !slices.Equal(got, want) {
		t.Errorf("v2 reads v1: got %q, want %q", got, want)
	}
	if vs := jsonReads(t, compat.Strict, v1, v2); len(vs) != 0 {
		t.Errorf("v1 reads v2 (pattern removed): %v", vs)
	}
}
