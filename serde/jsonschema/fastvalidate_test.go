package jsonschema

import (
	"os"
	"testing"
	"unicode/utf8"
)

// fastSchemas are schemas with a fast path; fastInstances are texts tried
// against each of them.
var fastSchemas = []string{
	`{"type":"object","required":["a","b"],"additionalProperties":false,"properties":{"a":{"type":"integer","minimum":0,"maximum":10},"b":{"type":"string","minLength":2,"maxLength":3,"pattern":"^[a-zé]+$"},"c":{"enum":["x","y"]},"d":{"type":["number","null"],"minimum":0.5,"maximum":1},"e":{"type":"array","items":{"type":"boolean"},"minItems":1,"maxItems":2}}}`,
	`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"ip":{"type":"string","format":"ipv4"},"n":{"type":"number","maximum":9007199254740993}},"additionalProperties":{"type":"string"}}`,
	`{"type":"array","items":true}`,
	`true`,
	`{}`,
}

var fastInstances = []string{
	`{"a":1,"b":"ab"}`, `{"a":0,"b":"abc","c":"x","d":0.75,"e":[true]}`, `{"a":1,"b":"ab","d":null}`,
	`{"a":11,"b":"ab"}`, `{"a":-1,"b":"ab"}`, `{"a":1.0,"b":"ab"}`, `{"a":1e0,"b":"ab"}`, `{"a":10,"b":"éé"}`,
	`{"a":1,"b":"a"}`, `{"a":1,"b":"abcd"}`, `{"a":1,"b":"AB"}`, `{"a":1,"b":"a\u0062"}`, `{"a":1}`, `{"b":"ab"}`,
	`{"a":1,"b":"ab","z":1}`, `{"a":1,"b":"ab","c":"z"}`, `{"a":1,"b":"ab","c":1}`, `{"a":1,"b":"ab","c":null}`,
	`{"a":1,"b":"ab","d":0.5}`, `{"a":1,"b":"ab","d":0.4999999999}`, `{"a":1,"b":"ab","d":1.0000000001}`, `{"a":1,"b":"ab","d":"1"}`,
	`{"a":1,"b":"ab","e":[]}`, `{"a":1,"b":"ab","e":[true,false,true]}`, `{"a":1,"b":"ab","e":[1]}`,
	`{"a":1,"b":"ab","a":20}`, `{"a":20,"b":"ab","a":1}`, `{"\u0061":1,"b":"ab"}`,
	`{"ip":"999.1.1.1"}`, `{"ip":"1.2.3.4","n":9007199254740993}`, `{"n":9007199254740994}`, `{"x":"s","y":2}`,
	`[1,"a",null,{"b":[]}]`, `[]`, `[1,]`, `{"a":1,"b":"ab",}`, `{"a":1 "b":"ab"}`, ` {"a":1,"b":"ab"} `, `{"a":1,"b":"ab"} x`,
	`"str"`, `12`, `-0`, `01`, `1.`, `1e999999`, `"a\x"`, "\"a\x01\"", `"\ud800"`, `nul`, ``, `[[[[[[]]]]]]`,
}

func TestFastPathAgreesWithValidator(t *testing.T) {
	for i, text := range fastSchemas {
		s, err := Parse(text, nil)
		if err != nil {
			t.Fatalf("schema %d: %v", i, err)
		}
		p := s.fastPlan()
		if p == nil {
			t.Fatalf("schema %d has no fast path", i)
		}
		for _, inst := range fastInstances {
			if fastValid(p, []byte(inst)) {
				if err := s.fullValidate([]byte(inst)); err != nil {
					t.Errorf("schema %d, %s: fast path accepts, the validator refuses: %v", i, inst, err)
				}
			}
		}
	}
}

func TestFastPathDecidesTheUsualCases(t *testing.T) {
	s, err := Parse(fastSchemas[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, inst := range []string{`{"a":1,"b":"ab"}`, `{"a":0,"b":"abc","c":"x","d":0.75,"e":[true]}`, `{"a":1,"b":"ab","d":null}`} {
		if !fastValid(s.fastPlan(), []byte(inst)) {
			t.Errorf("%s: the fast path should accept it", inst)
		}
	}
	perf, err := os.ReadFile("../../testdata/perf/record.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if s, err = Parse(string(perf), nil); err != nil {
		t.Fatal(err)
	}
	if !fastValid(s.fastPlan(), []byte(perfInstanceText)) {
		t.Error("the perf record should take the fast path")
	}
}

func TestNoFastPath(t *testing.T) {
	for _, text := range []string{
		`{"$ref":"#/definitions/x","definitions":{"x":{"type":"string"}}}`,
		`{"anyOf":[{"type":"string"},{"type":"integer"}]}`,
		`{"type":"string","format":"ipv4"}`, // asserted in draft 7
		`{"const":1}`, `{"exclusiveMinimum":0}`, `{"enum":[1,"a"]}`, `{"items":[{"type":"string"}]}`,
		`{"patternProperties":{"^a":{}}}`, `{"uniqueItems":true}`, `{"properties":{"a":false}}`,
	} {
		s, err := Parse(text, nil)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if s.fastPlan() != nil {
			t.Errorf("%s: has a fast path, want none", text)
		}
	}
}

// fullValidate is ValidatePayload without the fast path.
func (s *Schema) fullValidate(b []byte) error {
	v, err := decodeInstance(b)
	if err != nil {
		return err
	}
	return s.validateValue(v)
}

// FuzzFastValidate: whatever the fast path accepts, the full validator
// accepts.
func FuzzFastValidate(f *testing.F) {
	var schemas []*Schema
	for _, text := range fastSchemas {
		s, err := Parse(text, nil)
		if err != nil {
			f.Fatal(err)
		}
		schemas = append(schemas, s)
	}
	if perf, err := os.ReadFile("../../testdata/perf/record.schema.json"); err == nil {
		s, err := Parse(string(perf), nil)
		if err != nil {
			f.Fatal(err)
		}
		schemas = append(schemas, s)
		f.Add(uint8(len(schemas)-1), []byte(perfInstanceText))
	}
	for i := range schemas {
		for _, inst := range fastInstances {
			f.Add(uint8(i), []byte(inst))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		if !utf8.Valid(b) {
			return
		}
		s := schemas[int(which)%len(schemas)]
		if fastValid(s.fastPlan(), b) {
			if err := s.fullValidate(b); err != nil {
				t.Fatalf("%q: fast path accepts, the validator refuses: %v", b, err)
			}
		}
	})
}

const perfInstanceText = `{"event_id":"3f2b8c1e-9d4a-4e6b-8f0a-1c2d3e4f5a6b","tenant_id":"tenant-042","user_id":987654321,"session_id":"sess-6c1f0e2a7b","created_at_ms":1795000000123,"event_type":"paid","amount_cents":129999,"currency":"EUR","quantity":3,"price":433.33,"discount":0.15,"is_test":false,"country":"DE","city":"Berlin","ip":"203.0.113.42","user_agent":"Mozilla/5.0","tags":["promo"],"attributes":{"ab_bucket":"B"},"address":{"street":"Friedrichstrasse 123","zip":"10117","country":"DE"},"payload":"q83vAQ==","referrer":null,"schema_version":3}`

// BenchmarkPerfRecordPaths compares ValidatePayload's two paths on the
// perf record: the accept-only walker and the full decode plus
// jsonschema/v5 validation that it spares.
func BenchmarkPerfRecordPaths(b *testing.B) {
	perf, err := os.ReadFile("../../testdata/perf/record.schema.json")
	if err != nil {
		b.Fatal(err)
	}
	s, err := Parse(string(perf), nil)
	if err != nil {
		b.Fatal(err)
	}
	doc := []byte(perfInstanceText)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if !fastValid(s.fastPlan(), doc) {
				b.Fatal("not accepted")
			}
		}
	})
	b.Run("full", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if err := s.fullValidate(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
