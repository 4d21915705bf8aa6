package compat_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/jsonschema"
)

// The JSON Schema rules (spec/registry-api.md §11.3–§11.6). Each case gives
// the original (writer) and the update (reader) and the incompatible
// differences compat.Reads(update, original) must report, as "KIND path",
// in report order; none means the update reads the original. Expectations
// follow Confluent Schema Registry's checker: where Confluent is surprising
// the case says so, and TestJSONConfluentQuirks collects the surprises.

const (
	jsonD4    = `"$schema":"http://json-schema.org/draft-04/schema#",`
	jsonD6    = `"$schema":"http://json-schema.org/draft-06/schema#",`
	jsonD2019 = `"$schema":"https://json-schema.org/draft/2019-09/schema",`
	jsonD2020 = `"$schema":"https://json-schema.org/draft/2020-12/schema",`
)

type jsonCase struct {
	name     string
	original string
	update   string
	want     []string           // "KIND path" in order; empty: compatible
	refs     []serde.Referenced // references of both schemas
	// updateRefs, when set, are the update's references instead of refs:
	// the same reference name bound to a newer version.
	updateRefs []serde.Referenced
}

func (tc jsonCase) refsOf(update bool) []serde.Referenced {
	if update && tc.updateRefs != nil {
		return tc.updateRefs
	}
	return tc.refs
}

var jsonTypeCases = []jsonCase{
	{name: "integer to number is TYPE_EXTENDED", original: `{"type":"integer"}`, update: `{"type":"number"}`},
	{name: "number to integer", original: `{"type":"number"}`, update: `{"type":"integer"}`,
		want: []string{"TYPE_NARROWED #/type"}},
	{name: "string to integer", original: `{"type":"string"}`, update: `{"type":"integer"}`,
		want: []string{"TYPE_CHANGED #/type"}},
	{name: "string to string or null is SUM_TYPE_EXTENDED", original: `{"type":"string"}`, update: `{"type":["string","null"]}`},
	{name: "string or null to string", original: `{"type":["string","null"]}`, update: `{"type":"string"}`,
		want: []string{"TYPE_CHANGED #/type"}},
	{name: "number or string to number", original: `{"type":"object","properties":{"total":{"type":["number","string"]}}}`,
		update: `{"type":"object","properties":{"total":{"type":"number"}}}`,
		want:   []string{"TYPE_CHANGED #/properties/total/type"}},
	{name: "type array member narrowed", original: `{"type":["number","string"]}`, update: `{"type":["integer","string"]}`,
		want: []string{"COMBINED_TYPE_SUBSCHEMAS_CHANGED #/"}},
	{name: "type array extended", original: `{"type":["null","boolean"]}`, update: `{"type":["null","boolean","string"]}`},
	{name: "type array shrunk", original: `{"type":["boolean","null"]}`, update: `{"type":"boolean"}`,
		want: []string{"TYPE_CHANGED #/type"}},
	{name: "type array keywords apply to their type", original: `{"type":["integer","boolean"],"minimum":11}`,
		update: `{"type":["number","boolean"],"minimum":10.2}`},
	{name: "empty to integer", original: `{}`, update: `{"type":"integer"}`,
		want: []string{"TYPE_CHANGED #/type"}},
	{name: "anything to empty", original: `{"type":"object","properties":{"a":{"type":"string"}}}`, update: `{}`},
	{name: "anything to true", original: `{"type":"string","maxLength":3}`, update: `true`},
	{name: "false to anything", original: `false`, update: `{"type":"string"}`},
	{name: "true to false", original: `true`, update: `false`,
		want: []string{"TYPE_CHANGED #/type"}},
	{name: "empty to true and back", original: `{}`, update: `true`},
	{name: "annotations are compatible",
		original: `{"title":"A","description":"x","default":true,"$id":"http://example.com/a","type":"boolean"}`,
		update:   `{"title":"B","description":"y","default":false,"$id":"http://example.com/b","type":"boolean"}`},
	{name: "null stays null", original: `{"type":"null"}`, update: `{"type":"null"}`},
}

var jsonNumberCases = []jsonCase{
	{name: "minimum added", original: `{"type":"number","maximum":30}`, update: `{"type":"number","minimum":11.2}`,
		want: []string{"MINIMUM_ADDED #/minimum"}},
	{name: "minimum increased", original: `{"type":"number","minimum":1}`, update: `{"type":"number","minimum":2}`,
		want: []string{"MINIMUM_INCREASED #/minimum"}},
	{name: "minimum decreased and removed", original: `{"type":"number","minimum":2,"maximum":5}`, update: `{"type":"number","minimum":1}`},
	{name: "maximum decreased, integer widened", original: `{"type":"integer","minimum":1.1,"maximum":3.2}`,
		update: `{"type":"number","minimum":1.1,"maximum":3.199}`,
		want:   []string{"MAXIMUM_DECREASED #/maximum"}},
	{name: "maximum added", original: `{"type":"number"}`, update: `{"type":"number","maximum":1e3}`,
		want: []string{"MAXIMUM_ADDED #/maximum"}},
	{name: "maximum increased", original: `{"type":"number","maximum":3.2}`, update: `{"type":"number","maximum":4}`},
	{name: "equal bounds spelled differently", original: `{"type":"number","maximum":10}`, update: `{"type":"number","maximum":10.0}`},
	{name: "exclusiveMaximum added", original: `{"type":"number"}`, update: `{"type":"number","exclusiveMaximum":10}`,
		want: []string{"EXCLUSIVE_MAXIMUM_ADDED #/exclusiveMaximum"}},
	{name: "exclusiveMaximum decreased", original: `{"type":"number","exclusiveMaximum":10}`, update: `{"type":"number","exclusiveMaximum":9}`,
		want: []string{"EXCLUSIVE_MAXIMUM_DECREASED #/exclusiveMaximum"}},
	{name: "exclusiveMaximum increased and removed", original: `{"type":"number","exclusiveMaximum":8}`, update: `{"type":"number","exclusiveMaximum":10}`},
	{name: "exclusiveMinimum increased", original: `{"type":"number","exclusiveMinimum":9}`, update: `{"type":"number","exclusiveMinimum":10}`,
		want: []string{"EXCLUSIVE_MINIMUM_INCREASED #/exclusiveMinimum"}},
	{name: "exclusiveMinimum added", original: `{"type":"number"}`, update: `{"type":"number","exclusiveMinimum":0}`,
		want: []string{"EXCLUSIVE_MINIMUM_ADDED #/exclusiveMinimum"}},
	{name: "exclusiveMinimum decreased", original: `{"type":"number","exclusiveMinimum":11}`, update: `{"type":"number","exclusiveMinimum":10}`},
	{name: "exclusiveMinimum removed", original: `{"type":"number","exclusiveMinimum":11}`, update: `{"type":"number"}`},
	{name: "draft-04 maximum with exclusive flag removed", original: `{` + jsonD4 + `"type":"number","maximum":10,"exclusiveMaximum":true}`,
		update: `{` + jsonD4 + `"type":"number"}`},
	{name: "draft-04 exclusive minimum added with its limit", original: `{` + jsonD4 + `"type":"number"}`,
		update: `{` + jsonD4 + `"type":"number","minimum":11,"exclusiveMinimum":true}`,
		want:   []string{"MINIMUM_ADDED #/minimum"}},
	{name: "multipleOf added", original: `{"type":"number"}`, update: `{"type":"number","multipleOf":20}`,
		want: []string{"MULTIPLE_OF_ADDED #/multipleOf"}},
	{name: "multipleOf changed", original: `{"type":"number","multipleOf":21}`, update: `{"type":"number","multipleOf":10}`,
		want: []string{"MULTIPLE_OF_CHANGED #/multipleOf"}},
	{name: "multipleOf expanded", original: `{"type":"number","multipleOf":10}`, update: `{"type":"number","multipleOf":20}`,
		want: []string{"MULTIPLE_OF_EXPANDED #/multipleOf"}},
	{name: "multipleOf reduced", original: `{"type":"number","multipleOf":20}`, update: `{"type":"number","multipleOf":10}`},
	{name: "multipleOf reduced, fractions", original: `{"type":"number","multipleOf":3.3}`, update: `{"type":"number","multipleOf":1.1}`},
	{name: "multipleOf changed, fractions", original: `{"type":"number","multipleOf":20.2001}`, update: `{"type":"number","multipleOf":10.1}`,
		want: []string{"MULTIPLE_OF_CHANGED #/multipleOf"}},
	{name: "multipleOf removed", original: `{"type":"number","multipleOf":5}`, update: `{"type":"number"}`},
	{name: "number keywords without type", original: `{"minimum":0}`, update: `{"minimum":0,"maximum":5}`,
		want: []string{"MAXIMUM_ADDED #/maximum"}},
}

var jsonStringCases = []jsonCase{
	{name: "minLength increased", original: `{"type":"string","minLength":1}`, update: `{"type":"string","minLength":2}`,
		want: []string{"MIN_LENGTH_INCREASED #/minLength"}},
	{name: "minLength added", original: `{"type":"string"}`, update: `{"type":"string","minLength":1}`,
		want: []string{"MIN_LENGTH_ADDED #/minLength"}},
	{name: "minLength decreased and maxLength removed", original: `{"type":"string","minLength":2,"maxLength":10}`, update: `{"type":"string","minLength":1}`},
	{name: "minLength 0 added", original: `{"type":"string"}`, update: `{"type":"string","minLength":0}`,
		want: []string{"MIN_LENGTH_ADDED #/minLength"}},
	{name: "maxLength added", original: `{"type":"string"}`, update: `{"type":"string","maxLength":10}`,
		want: []string{"MAX_LENGTH_ADDED #/maxLength"}},
	{name: "maxLength decreased", original: `{"type":"string","maxLength":10}`, update: `{"type":"string","maxLength":9}`,
		want: []string{"MAX_LENGTH_DECREASED #/maxLength"}},
	{name: "maxLength increased", original: `{"type":"string","maxLength":10}`, update: `{"type":"string","maxLength":11}`},
	{name: "pattern added", original: `{"type":"string"}`, update: `{"type":"string","pattern":"^test +"}`,
		want: []string{"PATTERN_ADDED #/pattern"}},
	{name: "pattern changed to a superset is still changed", original: `{"type":"string","pattern":"^test  +"}`,
		update: `{"type":"string","pattern":"^test +"}`,
		want:   []string{"PATTERN_CHANGED #/pattern"}},
	{name: "pattern removed", original: `{"type":"string","pattern":"^a"}`, update: `{"type":"string"}`},
	{name: "pattern unchanged", original: `{"type":"string","pattern":"^test"}`, update: `{"type":"string","pattern":"^test"}`},
}

var jsonEnumCases = []jsonCase{
	{name: "enum extended", original: `{"enum":["a","b"]}`, update: `{"enum":["b","a","c"]}`},
	{name: "enum narrowed", original: `{"enum":["a","b","c"]}`, update: `{"enum":["a","c"]}`,
		want: []string{"ENUM_ARRAY_NARROWED #/enum"}},
	{name: "enum changed", original: `{"enum":["a","b"]}`, update: `{"enum":["a","c"]}`,
		want: []string{"ENUM_ARRAY_CHANGED #/enum"}},
	{name: "enum values compare as JSON", original: `{"enum":[1,{"x":[true]}]}`, update: `{"enum":[{"x":[true]},1.0]}`},
	{name: "typed enum extended", original: `{"type":"integer","enum":[4,1]}`, update: `{"type":"integer","enum":[1,2,4]}`},
	{name: "typed enum changed is a failed pairing of the allOf parts", original: `{"type":"integer","enum":[4,1,3]}`,
		update: `{"type":"integer","enum":[1,2,4]}`,
		want:   []string{"COMBINED_TYPE_SUBSCHEMAS_CHANGED #/"}},
	{name: "enum removed from a string is PRODUCT_TYPE_NARROWED", original: `{"type":"string","enum":["a","b"]}`, update: `{"type":"string"}`},
	{name: "enum added to a string", original: `{"type":"string"}`, update: `{"type":"string","enum":["a","b"]}`,
		want: []string{"TYPE_CHANGED #/type"}},
	{name: "const changed", original: `{"const":"a"}`, update: `{"const":"b"}`,
		want: []string{"ENUM_ARRAY_CHANGED #/const"}},
	{name: "const unchanged", original: `{"const":{"a":1}}`, update: `{"const":{"a":1.0}}`},
	{name: "const to enum", original: `{"const":"a"}`, update: `{"enum":["a","b"]}`,
		want: []string{"TYPE_CHANGED #/type"}},
}

var jsonObjectCases = []jsonCase{
	// Content models: additions are judged by the original's model.
	{name: "optional property added to open model", original: `{"type":"object","properties":{"a":{"type":"string"}}}`,
		update: `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}}}`,
		want:   []string{"OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL #/properties/b"}},
	{name: "empty-schema property added to open model", original: `{"type":"object"}`,
		update: `{"type":"object","properties":{"b":{},"c":true}}`},
	{name: "required property added to open model", original: `{"type":"object"}`,
		update: `{"type":"object","properties":{"b":{"type":"string"}},"required":["b"]}`,
		want:   []string{"REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL #/properties/b"}},
	{name: "required property with default added to open model", original: `{"type":"object"}`,
		update: `{"type":"object","properties":{"b":{"type":"string","default":""}},"required":["b"]}`,
		want:   []string{"REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL #/properties/b"}},
	{name: "open model stays open with additionalProperties true", original: `{"type":"object","additionalProperties":true}`,
		update: `{"type":"object","properties":{"b":{"type":"string"}}}`,
		want:   []string{"OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL #/properties/b"}},
	{name: "optional property added to closed model", original: `{"type":"object","additionalProperties":false}`,
		update: `{"type":"object","properties":{"b":{"type":"string"}},"additionalProperties":false}`},
	{name: "required property added to closed model", original: `{"type":"object","additionalProperties":false}`,
		update: `{"type":"object","properties":{"b":{"type":"string"}},"required":["b"],"additionalProperties":false}`,
		want:   []string{"REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/b"}},
	{name: "required property with default added to closed model", original: `{"type":"object","additionalProperties":false}`,
		update: `{"type":"object","properties":{"b":{"type":"integer","default":10}},"required":["b"],"additionalProperties":false}`},
	{name: "property added covered by pattern properties", original: `{"type":"object","patternProperties":{"^x_":{"type":"integer"}}}`,
		update: `{"type":"object","properties":{"x_a":{"type":"number"}},"patternProperties":{"^x_":{"type":"integer"}}}`},
	{name: "property added narrower than pattern properties", original: `{"type":"object","patternProperties":{"^x_":{"type":"number"}}}`,
		update: `{"type":"object","properties":{"x_a":{"type":"integer"}},"patternProperties":{"^x_":{"type":"number"}}}`,
		want:   []string{"TYPE_NARROWED #/properties/x_a/type", "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/x_a"}},
	{name: "property added not covered by pattern properties", original: `{"type":"object","patternProperties":{"^x_":{"type":"integer"}}}`,
		update: `{"type":"object","properties":{"x_a":{"type":"string"}},"patternProperties":{"^x_":{"type":"integer"}}}`,
		want:   []string{"TYPE_CHANGED #/properties/x_a/type", "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/x_a"}},
	{name: "property added not covered by additionalProperties schema", original: `{"type":"object","additionalProperties":{"type":"string"}}`,
		update: `{"type":"object","properties":{"b":{"type":"string","maxLength":5}},"additionalProperties":{"type":"string"}}`,
		want:   []string{"MAX_LENGTH_ADDED #/properties/b/maxLength", "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/b"}},
	{name: "required property added to partially open model", original: `{"type":"object","additionalProperties":{"type":"string"}}`,
		update: `{"type":"object","properties":{"b":{"type":"string"}},"required":["b"],"additionalProperties":{"type":"string"}}`,
		want:   []string{"REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/b"}},
	// Removals are judged by the update's model.
	{name: "property removed from open model", original: `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}}}`,
		update: `{"type":"object","properties":{"a":{"type":"string"}}}`},
	{name: "property removed from closed model", original: `{"type":"object","properties":{"a":{"type":"null"}},"additionalProperties":false}`,
		update: `{"type":"object","additionalProperties":false}`,
		want:   []string{"PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL #/properties/a"}},
	{name: "false property removed from closed model", original: `{"type":"object","properties":{"a":false},"additionalProperties":false}`,
		update: `{"type":"object","additionalProperties":false}`},
	{name: "property removed, covered by the update's pattern", original: `{"type":"object","properties":{"x_a":{"type":"integer"}}}`,
		update: `{"type":"object","patternProperties":{"^x_":{"type":"number"}}}`},
	{name: "property removed, not covered by the update's pattern", original: `{"type":"object","properties":{"aaaa":{"type":"string"}}}`,
		update: `{"type":"object","patternProperties":{"^a":{"type":"integer"}}}`,
		want:   []string{"TYPE_CHANGED #/properties/aaaa/type", "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/aaaa"}},
	{name: "property removed, first matching pattern decides", original: `{"type":"object","properties":{"bbbb":{"type":"string"}}}`,
		update: `{"type":"object","patternProperties":{"^a":{"type":"integer"},"^b":{"type":"integer"}}}`,
		want:   []string{"TYPE_CHANGED #/properties/bbbb/type", "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/bbbb"}},
	{name: "property removed, covered by additionalProperties", original: `{"type":"object","properties":{"b":{"type":"integer"}}}`,
		update: `{"type":"object","additionalProperties":{"type":"number"}}`,
		want:   []string{"ADDITIONAL_PROPERTIES_NARROWED #/additionalProperties"}},
	{name: "property kept, type changed", original: `{"type":"object","properties":{"aaaa":{"type":"string"}}}`,
		update: `{"type":"object","properties":{"aaaa":{"type":"integer"}}}`,
		want:   []string{"TYPE_CHANGED #/properties/aaaa/type"}},
	{name: "pattern properties alone are not compared", original: `{"type":"object","patternProperties":{"^a":{"type":"null"},"^c":{"type":"string"}}}`,
		update: `{"type":"object","patternProperties":{"^a":{"type":"boolean"},"^b":{"type":"integer"}}}`},
	// additionalProperties itself.
	{name: "additionalProperties false to absent", original: `{"type":"object","additionalProperties":false}`, update: `{"type":"object"}`},
	{name: "additionalProperties absent to false", original: `{"type":"object"}`, update: `{"type":"object","additionalProperties":false}`,
		want: []string{"ADDITIONAL_PROPERTIES_REMOVED #/additionalProperties"}},
	{name: "additionalProperties schema to false", original: `{"type":"object","additionalProperties":{"type":"string"}}`,
		update: `{"type":"object","additionalProperties":false}`,
		want:   []string{"ADDITIONAL_PROPERTIES_REMOVED #/additionalProperties"}},
	{name: "additionalProperties false to schema", original: `{"type":"object","additionalProperties":false}`,
		update: `{"type":"object","additionalProperties":{"type":"boolean"}}`},
	{name: "additionalProperties absent to schema", original: `{"type":"object"}`, update: `{"type":"object","additionalProperties":{"type":"string"}}`,
		want: []string{"ADDITIONAL_PROPERTIES_NARROWED #/additionalProperties"}},
	{name: "additionalProperties schema to absent", original: `{"type":"object","additionalProperties":{"type":"string"}}`, update: `{"type":"object"}`},
	{name: "additionalProperties schema changed", original: `{"type":"object","additionalProperties":{"type":"string"}}`,
		update: `{"type":"object","additionalProperties":{"type":"integer"}}`,
		want:   []string{"TYPE_CHANGED #/additionalProperties/type"}},
	// required.
	{name: "existing property becomes required", original: `{"type":"object","properties":{"a":{"type":"integer"}}}`,
		update: `{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}`,
		want:   []string{"REQUIRED_ATTRIBUTE_ADDED #/required/a"}},
	{name: "existing property with default becomes required", original: `{"type":"object","properties":{"a":{"type":"integer"}}}`,
		update: `{"type":"object","properties":{"a":{"type":"integer","default":10}},"required":["a"]}`},
	{name: "required removed", original: `{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}`,
		update: `{"type":"object","properties":{"a":{"type":"integer"}}}`},
	// Counts.
	{name: "property counts", original: `{"type":"object","maxProperties":11}`, update: `{"type":"object","minProperties":2,"maxProperties":10}`,
		want: []string{"MAX_PROPERTIES_DECREASED #/maxProperties", "MIN_PROPERTIES_ADDED #/minProperties"}},
	{name: "property counts relaxed", original: `{"type":"object","minProperties":3,"maxProperties":9}`, update: `{"type":"object","minProperties":2}`},
	{name: "minProperties increased, maxProperties added", original: `{"type":"object","minProperties":2}`, update: `{"type":"object","minProperties":3,"maxProperties":4}`,
		want: []string{"MAX_PROPERTIES_ADDED #/maxProperties", "MIN_PROPERTIES_INCREASED #/minProperties"}},
	// Dependencies.
	{name: "dependencies added", original: `{"type":"object"}`, update: `{"type":"object","dependencies":{"a":["b"],"b":["a"]}}`,
		want: []string{"DEPENDENCY_ARRAY_ADDED #/dependencies/a", "DEPENDENCY_ARRAY_ADDED #/dependencies/b"}},
	{name: "dependency extended", original: `{"type":"object","dependencies":{"a":["b"]}}`, update: `{"type":"object","dependencies":{"a":["b","c"]}}`,
		want: []string{"DEPENDENCY_ARRAY_EXTENDED #/dependencies/a"}},
	{name: "dependency changed", original: `{"type":"object","dependencies":{"a":["b"]}}`, update: `{"type":"object","dependencies":{"a":["c"]}}`,
		want: []string{"DEPENDENCY_ARRAY_CHANGED #/dependencies/a"}},
	{name: "dependency narrowed and removed", original: `{"type":"object","dependencies":{"a":["b","c"],"d":["a"]}}`, update: `{"type":"object","dependencies":{"a":["c"]}}`},
	{name: "schema dependency narrowed", original: `{"type":"object","dependencies":{"a":{"type":"number"}}}`,
		update: `{"type":"object","dependencies":{"a":{"type":"integer"}}}`,
		want:   []string{"TYPE_NARROWED #/dependencies/a/type"}},
	{name: "schema dependency added", original: `{"type":"object"}`, update: `{"type":"object","dependencies":{"a":{"required":["b"]}}}`,
		want: []string{"DEPENDENCY_SCHEMA_ADDED #/dependencies/a"}},
	{name: "schema dependency removed", original: `{"type":"object","dependencies":{"a":{"required":["b"]}}}`, update: `{"type":"object"}`},
	{name: "dependency array to schema", original: `{"type":"object","dependencies":{"a":["b"]}}`,
		update: `{"type":"object","dependencies":{"a":{"type":"number"}}}`,
		want:   []string{"DEPENDENCY_SCHEMA_ADDED #/dependencies/a"}},
	{name: "dependency schema to array", original: `{"type":"object","dependencies":{"a":{"type":"number"}}}`,
		update: `{"type":"object","dependencies":{"a":["b"]}}`,
		want:   []string{"DEPENDENCY_ARRAY_ADDED #/dependencies/a"}},
	{name: "2019-09 dependentRequired added", original: `{` + jsonD2019 + `"type":"object"}`,
		update: `{` + jsonD2019 + `"type":"object","dependentRequired":{"a":["b"]}}`,
		want:   []string{"DEPENDENCY_ARRAY_ADDED #/dependencies/a"}},
	{name: "2019-09 dependentRequired narrowed", original: `{` + jsonD2019 + `"type":"object","dependentRequired":{"a":["b","c"]}}`,
		update: `{` + jsonD2019 + `"type":"object","dependentRequired":{"a":["b"]}}`},
	{name: "2020-12 dependentSchemas changed", original: `{` + jsonD2020 + `"type":"object","dependentSchemas":{"a":{"maxProperties":3}}}`,
		update: `{` + jsonD2020 + `"type":"object","dependentSchemas":{"a":{"maxProperties":2}}}`,
		want:   []string{"MAX_PROPERTIES_DECREASED #/dependencies/a/maxProperties"}},
	{name: "2020-12 dependentSchemas removed", original: `{` + jsonD2020 + `"type":"object","dependentSchemas":{"a":{"maxProperties":3}}}`,
		update: `{` + jsonD2020 + `"type":"object"}`},
	// unevaluatedProperties (2019-09 and later).
	{name: "unevaluatedProperties false added", original: `{` + jsonD2020 + `"type":"object"}`,
		update: `{` + jsonD2020 + `"type":"object","unevaluatedProperties":false}`,
		want:   []string{"UNEVALUATED_PROPERTIES_REMOVED #/unevaluatedProperties"}},
	{name: "unevaluatedProperties false removed", original: `{` + jsonD2020 + `"type":"object","unevaluatedProperties":false}`,
		update: `{` + jsonD2020 + `"type":"object"}`},
	{name: "unevaluatedProperties schema added", original: `{` + jsonD2019 + `"type":"object"}`,
		update: `{` + jsonD2019 + `"type":"object","unevaluatedProperties":{"type":"string"}}`,
		want:   []string{"UNEVALUATED_PROPERTIES_NARROWED #/unevaluatedProperties"}},
	{name: "unevaluatedProperties schema removed", original: `{` + jsonD2019 + `"type":"object","unevaluatedProperties":{"type":"string"}}`,
		update: `{` + jsonD2019 + `"type":"object"}`},
	{name: "unevaluatedProperties false closes the model", original: `{` + jsonD2020 + `"type":"object","unevaluatedProperties":false}`,
		update: `{` + jsonD2020 + `"type":"object","properties":{"b":{"type":"string"}},"unevaluatedProperties":false}`},
	{name: "unevaluatedProperties schema covers an added property", original: `{` + jsonD2020 + `"type":"object","unevaluatedProperties":{"type":"string"}}`,
		update: `{` + jsonD2020 + `"type":"object","properties":{"b":{"type":"integer"}},"unevaluatedProperties":{"type":"string"}}`,
		want:   []string{"TYPE_CHANGED #/properties/b/type", "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/b"}},
	// Everything at once, in the compatible direction (redpanda's suite).
	{name: "many compatible object changes",
		original: `{"type":"object","minProperties":2,"maxProperties":9,
			"properties":{"aaaa":{"type":"integer"},"bbbb":{"type":"string"},"cccc":{"type":"boolean"}},
			"patternProperties":{"^b":{"type":"string","minLength":10}},"additionalProperties":false,
			"required":["aaaa","cccc"],"dependencies":{"a":["b","c","d"],"b":{"type":"integer"},"d":["a"]}}`,
		update: `{"type":"object","minProperties":2,"maxProperties":10,
			"properties":{"aaaa":{"type":"number"}},
			"patternProperties":{"^b":{"type":"string"}},"additionalProperties":{"type":"boolean"},
			"required":["aaaa"],"dependencies":{"a":["c","b"],"b":{"type":"number"}}}`},
	{name: "many incompatible object changes",
		original: `{"type":"object","minProperties":2,"maxProperties":10,
			"properties":{"aaaa":{"type":"number"}},
			"patternProperties":{"^b":{"type":"string"}},"additionalProperties":{"type":"boolean"},
			"required":["aaaa"],"dependencies":{"a":["c","b"],"b":{"type":"number"}}}`,
		update: `{"type":"object","minProperties":3,"maxProperties":9,
			"properties":{"aaaa":{"type":"integer"},"bbbb":{"type":"string"},"cccc":{"type":"boolean"}},
			"patternProperties":{"^b":{"type":"string","minLength":10}},"additionalProperties":false,
			"required":["aaaa","cccc"],"dependencies":{"a":["b","c","d"],"b":{"type":"integer"},"d":["a"]}}`,
		want: []string{
			"TYPE_NARROWED #/properties/aaaa/type",
			"REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/cccc",
			"DEPENDENCY_ARRAY_EXTENDED #/dependencies/a",
			"DEPENDENCY_ARRAY_ADDED #/dependencies/d",
			"TYPE_NARROWED #/dependencies/b/type",
			"ADDITIONAL_PROPERTIES_REMOVED #/additionalProperties",
			"MAX_PROPERTIES_DECREASED #/maxProperties",
			"MIN_PROPERTIES_INCREASED #/minProperties",
		}},
}

var jsonArrayCases = []jsonCase{
	{name: "items type changed", original: `{"type":"array","items":{"type":"integer"}}`, update: `{"type":"array","items":{"type":"boolean"}}`,
		want: []string{"TYPE_CHANGED #/items/type"}},
	{name: "items schema added", original: `{"type":"array"}`, update: `{"type":"array","items":{"type":"string"}}`,
		want: []string{"SCHEMA_ADDED #/items"}},
	{name: "items schema removed", original: `{"type":"array","items":{"type":"string"}}`, update: `{"type":"array"}`},
	{name: "tuple item changed", original: `{"type":"array","items":[{"type":"integer"}]}`, update: `{"type":"array","items":[{"type":"boolean"}]}`,
		want: []string{"TYPE_CHANGED #/items/0/type"}},
	{name: "additionalItems schema changed", original: `{"type":"array","items":[{"type":"boolean"}],"additionalItems":{"type":"integer"}}`,
		update: `{"type":"array","items":[{"type":"boolean"}],"additionalItems":{"type":"boolean"}}`,
		want:   []string{"TYPE_CHANGED #/additionalItems/type"}},
	{name: "tuple item removed, not covered by additionalItems", original: `{"type":"array","items":[{"type":"boolean"},{"type":"number"}],"additionalItems":false}`,
		update: `{"type":"array","items":[{"type":"boolean"}],"additionalItems":{"type":"integer"}}`,
		want:   []string{"TYPE_NARROWED #/items/1/type", "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/items/1"}},
	{name: "tuple item removed, covered by additionalItems", original: `{"type":"array","items":[{"type":"boolean"},{"type":"integer"}],"additionalItems":false}`,
		update: `{"type":"array","items":[{"type":"boolean"}],"additionalItems":{"type":"number"}}`},
	{name: "tuple item added, not covered by additionalItems", original: `{"type":"array","items":[{"type":"boolean"}],"additionalItems":{"type":"number"}}`,
		update: `{"type":"array","items":[{"type":"boolean"},{"type":"integer"}],"additionalItems":{"type":"number"}}`,
		want:   []string{"TYPE_NARROWED #/items/1/type", "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/items/1"}},
	{name: "tuple item added, covered by additionalItems", original: `{"type":"array","items":[{"type":"boolean"}],"additionalItems":{"type":"integer"}}`,
		update: `{"type":"array","items":[{"type":"boolean"},{"type":"number"}],"additionalItems":{"type":"number"}}`},
	{name: "tuple item added to open model", original: `{"type":"array","items":[{"type":"boolean"}]}`,
		update: `{"type":"array","items":[{"type":"boolean"},{"type":"string"}]}`,
		want:   []string{"ITEM_ADDED_TO_OPEN_CONTENT_MODEL #/items/1"}},
	{name: "empty tuple item added to open model", original: `{"type":"array","items":[{"type":"boolean"}]}`,
		update: `{"type":"array","items":[{"type":"boolean"},{}]}`},
	{name: "tuple item added to closed model", original: `{"type":"array","items":[{"type":"boolean"}],"additionalItems":false}`,
		update: `{"type":"array","items":[{"type":"boolean"},{"type":"number"}],"additionalItems":false}`},
	{name: "tuple item removed from open model", original: `{"type":"array","items":[{"type":"boolean"},{"type":"number"}]}`,
		update: `{"type":"array","items":[{"type":"boolean"}]}`},
	{name: "tuple item removed from closed model", original: `{"type":"array","items":[{"type":"boolean"},{"type":"number"}],"additionalItems":false}`,
		update: `{"type":"array","items":[{"type":"boolean"}],"additionalItems":false}`,
		want:   []string{"ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL #/items/1"}},
	{name: "false tuple item removed from closed model", original: `{"type":"array","items":[{"type":"boolean"},false],"additionalItems":false}`,
		update: `{"type":"array","items":[{"type":"boolean"}],"additionalItems":false}`},
	{name: "additionalItems absent to false", original: `{"type":"array","items":[{"type":"boolean"}]}`,
		update: `{"type":"array","items":[{"type":"boolean"}],"additionalItems":false}`,
		want:   []string{"ADDITIONAL_ITEMS_REMOVED #/additionalItems"}},
	{name: "additionalItems absent to schema", original: `{"type":"array","items":[{"type":"boolean"}]}`,
		update: `{"type":"array","items":[{"type":"boolean"}],"additionalItems":{"type":"string"}}`,
		want:   []string{"ADDITIONAL_ITEMS_NARROWED #/additionalItems"}},
	{name: "additionalItems relaxed", original: `{"type":"array","items":[{"type":"boolean"}],"additionalItems":false}`,
		update: `{"type":"array","items":[{"type":"boolean"}]}`},
	{name: "item counts", original: `{"type":"array","maxItems":11}`, update: `{"type":"array","minItems":2,"maxItems":10}`,
		want: []string{"MAX_ITEMS_DECREASED #/maxItems", "MIN_ITEMS_ADDED #/minItems"}},
	{name: "item counts relaxed", original: `{"type":"array","minItems":2,"maxItems":9}`, update: `{"type":"array","minItems":1,"maxItems":10}`},
	{name: "minItems increased, maxItems added", original: `{"type":"array","minItems":1}`, update: `{"type":"array","minItems":2,"maxItems":3}`,
		want: []string{"MAX_ITEMS_ADDED #/maxItems", "MIN_ITEMS_INCREASED #/minItems"}},
	{name: "uniqueItems added", original: `{"type":"array"}`, update: `{"type":"array","uniqueItems":true}`,
		want: []string{"UNIQUE_ITEMS_ADDED #/uniqueItems"}},
	{name: "uniqueItems removed", original: `{"type":"array","uniqueItems":true}`, update: `{"type":"array"}`},
	{name: "uniqueItems false is absent", original: `{"type":"array"}`, update: `{"type":"array","uniqueItems":false}`},
	{name: "nested arrays, compatible", original: `{"type":"array","minItems":2,"maxItems":9,
			"items":[{"type":"array","items":{"type":"boolean"},"uniqueItems":true},{"type":"integer"}],"additionalItems":{"type":"integer"}}`,
		update: `{"type":"array","minItems":2,"maxItems":10,"items":[{"type":"array","items":{"type":"boolean"}}],"additionalItems":{"type":"number"}}`},
	{name: "contains added", original: `{"type":"array"}`, update: `{"type":"array","contains":{"type":"string"}}`,
		want: []string{"SCHEMA_ADDED #/contains"}},
	{name: "contains removed", original: `{"type":"array","contains":{"type":"string"}}`, update: `{"type":"array"}`},
	{name: "contains narrowed", original: `{"type":"array","contains":{"type":"number"}}`, update: `{"type":"array","contains":{"type":"integer"}}`,
		want: []string{"TYPE_NARROWED #/contains/type"}},
	{name: "2019-09 minContains added, maxContains decreased", original: `{` + jsonD2019 + `"type":"array","contains":{"type":"string"},"maxContains":5}`,
		update: `{` + jsonD2019 + `"type":"array","contains":{"type":"string"},"minContains":2,"maxContains":4}`,
		want:   []string{"MAX_CONTAINS_DECREASED #/maxContains", "MIN_CONTAINS_ADDED #/minContains"}},
	{name: "2019-09 maxContains added, minContains increased", original: `{` + jsonD2019 + `"type":"array","contains":{"type":"string"},"minContains":1}`,
		update: `{` + jsonD2019 + `"type":"array","contains":{"type":"string"},"minContains":2,"maxContains":4}`,
		want:   []string{"MAX_CONTAINS_ADDED #/maxContains", "MIN_CONTAINS_INCREASED #/minContains"}},
	{name: "2019-09 contains counts relaxed", original: `{` + jsonD2019 + `"type":"array","contains":{"type":"string"},"minContains":2,"maxContains":4}`,
		update: `{` + jsonD2019 + `"type":"array","contains":{"type":"string"},"minContains":1}`},
	{name: "2019-09 tuple items", original: `{` + jsonD2019 + `"type":"array","items":[{"type":"integer"}],"additionalItems":false}`,
		update: `{` + jsonD2019 + `"type":"array","items":[{"type":"integer"},{"type":"string"}],"additionalItems":false}`},
	{name: "2020-12 prefixItems changed", original: `{` + jsonD2020 + `"type":"array","prefixItems":[{"type":"integer"}],"items":false}`,
		update: `{` + jsonD2020 + `"type":"array","prefixItems":[{"type":"string"}],"items":false}`,
		want:   []string{"TYPE_CHANGED #/items/0/type"}},
	{name: "2020-12 prefixItems item removed from closed model", original: `{` + jsonD2020 + `"type":"array","prefixItems":[{"type":"integer"},{"type":"string"}],"items":false}`,
		update: `{` + jsonD2020 + `"type":"array","prefixItems":[{"type":"integer"}],"items":false}`,
		want:   []string{"ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL #/items/1"}},
	{name: "2020-12 items after prefixItems narrowed", original: `{` + jsonD2020 + `"type":"array","prefixItems":[{"type":"integer"}],"items":{"type":"number"}}`,
		update: `{` + jsonD2020 + `"type":"array","prefixItems":[{"type":"integer"}],"items":{"type":"integer"}}`,
		want:   []string{"TYPE_NARROWED #/additionalItems/type"}},
	{name: "2020-12 items changed", original: `{` + jsonD2020 + `"type":"array","items":{"type":"number"}}`,
		update: `{` + jsonD2020 + `"type":"array","items":{"type":"string"}}`,
		want:   []string{"TYPE_CHANGED #/items/type"}},
	{name: "2020-12 unevaluatedItems false added", original: `{` + jsonD2020 + `"type":"array"}`,
		update: `{` + jsonD2020 + `"type":"array","unevaluatedItems":false}`,
		want:   []string{"UNEVALUATED_ITEMS_REMOVED #/unevaluatedItems"}},
	{name: "2020-12 unevaluatedItems schema added", original: `{` + jsonD2020 + `"type":"array"}`,
		update: `{` + jsonD2020 + `"type":"array","unevaluatedItems":{"type":"string"}}`,
		want:   []string{"UNEVALUATED_ITEMS_NARROWED #/unevaluatedItems"}},
	{name: "2020-12 unevaluatedItems schema removed", original: `{` + jsonD2020 + `"type":"array","unevaluatedItems":{"type":"string"}}`,
		update: `{` + jsonD2020 + `"type":"array"}`},
	{name: "2020-12 prefixItems read draft-04 tuples", original: `{` + jsonD4 + `"type":"array","items":[{"type":"integer"}],"additionalItems":false}`,
		update: `{` + jsonD2020 + `"type":"array","prefixItems":[{"type":"integer"}],"items":false}`},
	{name: "draft-04 tuples read 2020-12 prefixItems", original: `{` + jsonD2020 + `"type":"array","prefixItems":[{"type":"integer"}],"items":false}`,
		update: `{` + jsonD4 + `"type":"array","items":[{"type":"integer"}],"additionalItems":false}`},
}

var jsonCombinatorCases = []jsonCase{
	{name: "anyOf extended", original: `{"anyOf":[{"type":"number"},{"type":"string"}]}`,
		update: `{"anyOf":[{"type":"number"},{"type":"string"},{"type":"boolean"}]}`},
	{name: "anyOf narrowed", original: `{"anyOf":[{"type":"number"},{"type":"string"},{"type":"boolean"}]}`,
		update: `{"anyOf":[{"type":"number"},{"type":"string"}]}`,
		want:   []string{"SUM_TYPE_NARROWED #/"}},
	{name: "oneOf narrowed", original: `{"oneOf":[true,false]}`, update: `{"oneOf":[true]}`,
		want: []string{"SUM_TYPE_NARROWED #/"}},
	{name: "allOf extended", original: `{"allOf":[true]}`, update: `{"allOf":[true,false]}`,
		want: []string{"PRODUCT_TYPE_EXTENDED #/"}},
	{name: "allOf narrowed", original: `{"allOf":[{"type":"string"},{"maxLength":5}]}`, update: `{"allOf":[{"type":"string"}]}`},
	{name: "oneOf branches reordered and relaxed", original: `{"oneOf":[{"type":"boolean"},{"type":"number","multipleOf":9}]}`,
		update: `{"oneOf":[{"type":"number","multipleOf":3},{"type":"boolean"}]}`},
	{name: "oneOf branches without a pairing", original: `{"oneOf":[{"type":"number","multipleOf":10},{"type":"number","multipleOf":1.1}]}`,
		update: `{"oneOf":[{"type":"number"},{"type":"boolean"}]}`,
		want:   []string{"COMBINED_TYPE_SUBSCHEMAS_CHANGED #/"}},
	{name: "duplicate branches collapse", original: `{"oneOf":[{"type":"string"},{"type":"string"},{"type":"null"}]}`,
		update: `{"oneOf":[{"type":"string"},{"type":"null"}]}`},
	{name: "anyOf to allOf", original: `{"anyOf":[{"type":"string"},{"maxLength":3}]}`, update: `{"allOf":[{"type":"string"},{"maxLength":3}]}`,
		want: []string{"COMBINED_TYPE_CHANGED #/"}},
	{name: "allOf to oneOf", original: `{"allOf":[{"type":"string"},{"maxLength":3}]}`, update: `{"oneOf":[{"type":"string"},{"maxLength":3}]}`,
		want: []string{"COMBINED_TYPE_CHANGED #/"}},
	{name: "oneOf to anyOf", original: `{"oneOf":[{"type":"number"},{"type":"string"},{"type":"boolean"}]}`,
		update: `{"anyOf":[{"type":"number"},{"type":"string"},{"type":"boolean"}]}`},
	{name: "allOf to anyOf, more branches", original: `{"allOf":[{"type":"number"},{"type":"string"}]}`,
		update: `{"anyOf":[{"type":"number"},{"type":"string"},{"type":"boolean"}]}`},
	{name: "oneOf to smaller anyOf", original: `{"oneOf":[{"type":"number"},{"type":"string"},{"type":"boolean"}]}`,
		update: `{"anyOf":[{"type":"number"},{"type":"string"}]}`,
		want:   []string{"SUM_TYPE_NARROWED #/"}},
	{name: "singleton combinators are interchangeable", original: `{"oneOf":[{"type":"integer"}]}`, update: `{"allOf":[{"type":"number"}]}`},
	{name: "singleton allOf to singleton anyOf", original: `{"allOf":[{"type":"integer"}]}`, update: `{"anyOf":[{"type":"number"}]}`},
	{name: "allOf to a singleton oneOf", original: `{"allOf":[{"type":"integer"},{"type":"string"}]}`, update: `{"oneOf":[{"type":"number"}]}`},
	{name: "singleton allOf to a wider oneOf", original: `{"allOf":[{"type":"integer"}]}`, update: `{"oneOf":[{"type":"number"},{"type":"string"}]}`},
	{name: "plain schema to a wider oneOf", original: `{"type":"string"}`, update: `{"oneOf":[{"type":"integer"},{"type":"string"}]}`},
	{name: "plain schema to a oneOf without it", original: `{"type":"string"}`, update: `{"oneOf":[{"type":"integer"},{"type":"boolean"}]}`,
		want: []string{"TYPE_CHANGED #/type"}},
	{name: "plain schema to a singleton allOf", original: `{"type":"integer"}`, update: `{"allOf":[{"type":"number"}]}`},
	{name: "allOf to one of its members", original: `{"allOf":[{"type":"string"},{"maxLength":5}]}`, update: `{"type":"string"}`},
	{name: "allOf to none of its members", original: `{"allOf":[{"type":"string"},{"maxLength":5}]}`, update: `{"type":"integer"}`,
		want: []string{"TYPE_CHANGED #/type"}},
	{name: "oneOf of several to one member", original: `{"oneOf":[{"type":"string"},{"type":"null"}]}`, update: `{"type":"string"}`,
		want: []string{"TYPE_CHANGED #/type"}},
	{name: "object gains a oneOf", original: `{"type":"object"}`,
		update: `{"type":"object","oneOf":[{"type":"object","properties":{"c":{"type":"string"}}},{"type":"object","properties":{"d":{"type":"array"}}}]}`,
		want:   []string{"TYPE_CHANGED #/type"}},
	{name: "object loses a oneOf", original: `{"type":"object","oneOf":[{"type":"object","properties":{"c":{"type":"string"}}},{"type":"object","properties":{"d":{"type":"array"}}}]}`,
		update: `{"type":"object"}`},
	{name: "integer gains anyOf", original: `{"type":"integer"}`, update: `{"type":"integer","anyOf":[true]}`,
		want: []string{"TYPE_CHANGED #/type"}},
	{name: "not narrowed", original: `{"type":"integer","not":{"type":"integer","minimum":5}}`, update: `{"type":"integer","not":{"type":"integer","minimum":10}}`},
	{name: "not extended", original: `{"not":{"type":"string"}}`, update: `{"not":{"type":["string","null"]}}`,
		want: []string{"NOT_TYPE_EXTENDED #/not"}},
	{name: "not removed", original: `{"type":"integer","not":{"const":3}}`, update: `{"type":"integer"}`},
	{name: "not added", original: `{"type":"boolean"}`, update: `{"not":{"type":["string","integer","number","object","array","null"]}}`,
		want: []string{"TYPE_CHANGED #/type"}},
	{name: "type and combinator checks both fail",
		original: `{"type":["number","object"],"minimum":10,"oneOf":[{"multipleOf":5},{"multipleOf":3}]}`,
		update:   `{"type":["number","object"],"minimum":20,"minProperties":10,"oneOf":[{"multipleOf":10},{"multipleOf":3}]}`,
		want:     []string{"COMBINED_TYPE_SUBSCHEMAS_CHANGED #/"}},
	{name: "if/then/else is not compared", original: `{"type":"object","if":{"required":["a"]},"then":{"required":["b"]}}`,
		update: `{"type":"object","if":{"required":["a"]},"then":{"required":["b","c"]},"else":false}`},
}

func TestJSONRules(t *testing.T) {
	groups := []struct {
		name  string
		cases []jsonCase
	}{
		{"types", jsonTypeCases},
		{"numbers", jsonNumberCases},
		{"strings", jsonStringCases},
		{"enums", jsonEnumCases},
		{"objects", jsonObjectCases},
		{"arrays", jsonArrayCases},
		{"combinators", jsonCombinatorCases},
		{"refs", jsonRefCases},
		{"drafts", jsonDraftCases},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					got := jsonKinds(jsonCheck(t, compat.Strict, tc))
					if !slices.Equal(got, tc.want) {
						t.Errorf("Reads(update, original):\n got %q\nwant %q", got, tc.want)
					}
				})
			}
		})
	}
}

// Every schema of the tables reads itself: the comparison of a schema with
// itself finds nothing, whatever its shape (a check on the cycle handling
// and the combinator matching as much as on the rules).
func TestJSONSelfCompatible(t *testing.T) {
	for _, tc := range jsonAllCases() {
		for i, text := range []string{tc.original, tc.update} {
			s := jsonParse(t, text, tc.refsOf(i == 1))
			vs, err := compat.Reads(s, s)
			if err != nil {
				t.Fatal(err)
			}
			if len(vs) != 0 {
				t.Errorf("%s: schema does not read itself: %v\n%s", tc.name, vs, text)
			}
		}
	}
}

func jsonAllCases() []jsonCase {
	var all []jsonCase
	for _, g := range [][]jsonCase{jsonTypeCases, jsonNumberCases, jsonStringCases, jsonEnumCases, jsonObjectCases,
		jsonArrayCases, jsonCombinatorCases, jsonRefCases, jsonDraftCases} {
		all = append(all, g...)
	}
	return all
}

// The violation messages of every incompatible case, for review.
func TestJSONViolationMessages(t *testing.T) {
	var b strings.Builder
	for _, tc := range jsonAllCases() {
		vs := jsonCheck(t, compat.Strict, tc)
		if len(vs) == 0 {
			continue
		}
		fmt.Fprintf(&b, "== %s\n", tc.name)
		for _, v := range vs {
			fmt.Fprintf(&b, "%s [%s]\n", v, v.Kind)
		}
	}
	jsonGolden(t, "violations.golden", b.String())
}

func jsonParse(t testing.TB, text string, refs []serde.Referenced) *jsonschema.Schema {
	t.Helper()
	s, err := jsonschema.Parse(text, refs)
	if err != nil {
		t.Fatalf("parse %s: %v", text, err)
	}
	return s
}

// jsonCheck runs compat.ReadsWith(update, original) for a case.
func jsonCheck(t testing.TB, policy compat.Policy, tc jsonCase) []compat.Violation {
	t.Helper()
	return jsonReads(t, policy, jsonParse(t, tc.update, tc.refsOf(true)), jsonParse(t, tc.original, tc.refsOf(false)))
}

func jsonReads(t testing.TB, policy compat.Policy, reader, writer *jsonschema.Schema) []compat.Violation {
	t.Helper()
	vs, err := compat.ReadsWith(compat.Options{Policy: policy}, reader, writer)
	if err != nil {
		t.Fatalf("ReadsWith: %v", err)
	}
	for _, v := range vs {
		if v.Kind == "" || v.Message == "" || !strings.HasPrefix(v.Path, "#/") {
			t.Errorf("malformed violation %+v", v)
		}
	}
	return vs
}

func jsonKinds(vs []compat.Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Kind+" "+v.Path)
	}
	return out
}

// jsonGolden compares got with testdata/jsonschema/name, rewriting it under
// -update (the flag the package's tests share).
func jsonGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "jsonschema", name)
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s is missing: run go test -run %s -update", path, t.Name())
	}
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run go test -run %s -update and review the diff):\n--- want\n%s\n--- got\n%s", path, t.Name(), want, got)
	}
}
