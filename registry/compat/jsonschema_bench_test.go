package compat_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/serde/jsonschema"
)

// jsonBenchSchema is a 300-property object of every common shape (bounded
// strings and numbers, enums, nullable type arrays, arrays, nested
// objects, $refs, a oneOf). Its model is partially open (every extra
// property a string), and version v adds one optional string property of
// its own, so every version of a history is distinct and each reads every
// other: a FULL_TRANSITIVE check compares them all in both directions.
func jsonBenchSchema(v int) string {
	shapes := []string{
		`{"type":"string","maxLength":%d}`,
		`{"type":"integer","minimum":0,"maximum":%d}`,
		`{"type":"number","exclusiveMinimum":0,"multipleOf":0.01,"description":"v%d"}`,
		`{"type":["string","null"],"default":null,"title":"t%d"}`,
		`{"enum":["A","B","C","D%d"]}`,
		`{"type":"array","items":{"type":"string","minLength":1},"maxItems":%d}`,
		`{"type":"object","properties":{"x":{"type":"integer"},"y":{"type":"string"}},"required":["x"],"additionalProperties":false,"title":"n%d"}`,
		`{"$ref":"#/definitions/money","description":"ref %d"}`,
		`{"oneOf":[{"type":"string","format":"date-time"},{"type":"integer","minimum":%d}]}`,
		`{"type":"boolean","default":false,"title":"b%d"}`,
	}
	var props []string
	for i := range 300 {
		shape := fmt.Sprintf(shapes[i%len(shapes)], 10+i)
		props = append(props, fmt.Sprintf(`"p%03d":%s`, i, shape))
	}
	props = append(props, fmt.Sprintf(`"opt%d":{"type":"string"}`, v))
	return fmt.Sprintf(`{"$id":"https://example.com/event","title":"Event v%d","type":"object",
		"definitions":{"money":{"type":"object","properties":{"amount":{"type":"number"},"currency":{"type":"string","pattern":"^[A-Z]{3}$"}},"required":["amount","currency"]}},
		"properties":{%s},"required":["p000","p001"],"additionalProperties":{"type":"string"}}`, v, strings.Join(props, ","))
}

// BenchmarkJSONCheckFullTransitive checks a 300-property candidate against
// 20 compatible versions in both directions: the registry's worst case for
// one JSON Schema registration at FULL_TRANSITIVE.
func BenchmarkJSONCheckFullTransitive(b *testing.B) {
	history := make([]compat.Version, 20)
	for i := range history {
		s, err := jsonschema.Parse(jsonBenchSchema(i), nil)
		if err != nil {
			b.Fatal(err)
		}
		history[i] = compat.Version{Number: i + 1, Schema: s}
	}
	candidate, err := jsonschema.Parse(jsonBenchSchema(20), nil)
	if err != nil {
		b.Fatal(err)
	}
	if vs, err := compat.Check(compat.FullTransitive, candidate, history); err != nil || len(vs) != 0 {
		b.Fatalf("benchmark history is not compatible: %v %v", vs, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := compat.Check(compat.FullTransitive, candidate, history); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJSONReads is one direction of one pair of the above.
func BenchmarkJSONReads(b *testing.B) {
	older, err := jsonschema.Parse(jsonBenchSchema(0), nil)
	if err != nil {
		b.Fatal(err)
	}
	newer, err := jsonschema.Parse(jsonBenchSchema(1), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := compat.Reads(newer, older); err != nil {
			b.Fatal(err)
		}
	}
}
