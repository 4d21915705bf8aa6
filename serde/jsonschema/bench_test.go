package jsonschema_test

import (
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
