package jsonschema_test

import (
	"os"
	"testing"

	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/jsonschema"
)

// orderSchema is a typical event schema: a dozen properties, nested objects
// and arrays, a local $ref and a reference to another document.
const orderSchema = `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "shop.v1.Order",
  "type": "object",
  "definitions": {
    "money": {"type": "object", "properties": {"currency": {"type": "string", "pattern": "^[A-Z]{3}$"}, "units": {"type": "integer"}, "nanos": {"type": "integer", "minimum": 0, "maximum": 999999999}}, "required": ["currency", "units"]}
  },
  "properties": {
    "id": {"type": "string", "format": "uuid"},
    "customer": {"$ref": "customer.json"},
    "placed_at": {"type": "string", "format": "date-time"},
    "status": {"enum": ["NEW", "PAID", "SHIPPED", "CANCELLED"]},
    "total": {"$ref": "#/definitions/money"},
    "lines": {"type": "array", "minItems": 1, "items": {"type": "object", "properties": {"sku": {"type": "string", "minLength": 1}, "qty": {"type": "integer", "exclusiveMinimum": 0}, "price": {"$ref": "#/definitions/money"}}, "required": ["sku", "qty", "price"], "additionalProperties": false}},
    "notes": {"type": ["string", "null"], "maxLength": 1000},
    "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": true}
  },
  "required": ["id", "customer", "status", "total", "lines"]
}`

var orderRefs = []serde.Referenced{{Name: "customer.json", Text: `{"type":"object","properties":{"id":{"type":"string"},"email":{"type":"string","format":"email"}},"required":["id"]}`}}

const orderInstance = `{"id":"4b1e7a4e-8a0e-4a53-9f6a-1f1c3f0f2a11","customer":{"id":"c-1","email":"ada@example.com"},"placed_at":"2026-11-23T08:30:00Z","status":"PAID","total":{"currency":"EUR","units":42,"nanos":500000000},"lines":[{"sku":"A-1","qty":2,"price":{"currency":"EUR","units":20}},{"sku":"B-2","qty":1,"price":{"currency":"EUR","units":2,"nanos":500000000}}],"notes":null,"tags":["gift","express"]}`

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(orderSchema)))
	for b.Loop() {
		if _, err := jsonschema.Parse(orderSchema, orderRefs); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	s, err := jsonschema.Parse(orderSchema, orderRefs)
	if err != nil {
		b.Fatal(err)
	}
	doc := []byte(orderInstance)
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if err := s.Validate(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// perfInstance is the perf record of testdata/perf (the 22-field OrderEvent
// of the perf baselines) as JSON.
const perfInstance = `{"event_id":"3f2b8c1e-9d4a-4e6b-8f0a-1c2d3e4f5a6b","tenant_id":"tenant-042","user_id":987654321,"session_id":"sess-6c1f0e2a7b","created_at_ms":1795000000123,"event_type":"paid","amount_cents":129999,"currency":"EUR","quantity":3,"price":433.33,"discount":0.15,"is_test":false,"country":"DE","city":"Berlin","ip":"203.0.113.42","user_agent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36","tags":["promo","mobile","returning"],"attributes":{"ab_bucket":"B","campaign":"winter-sale","channel":"email"},"address":{"street":"Friedrichstrasse 123","zip":"10117","country":"DE"},"payload":"q83vAavN7wGrze8Bq83vAavN7wGrze8Bq83vAavN7wGrze8Bq83vAavN7wGrze8B","referrer":"https://www.example.com/landing?utm_source=newsletter","schema_version":3}`

// BenchmarkValidatePayloadPerf is the broker's check of one perf record.
func BenchmarkValidatePayloadPerf(b *testing.B) {
	text, err := os.ReadFile("../../testdata/perf/record.schema.json")
	if err != nil {
		b.Fatal(err)
	}
	s, err := jsonschema.Parse(string(text), nil)
	if err != nil {
		b.Fatal(err)
	}
	doc := []byte(perfInstance)
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if err := s.ValidatePayload(doc); err != nil {
			b.Fatal(err)
		}
	}
}
