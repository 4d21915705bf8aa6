package jsonschema_test

import (
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/jsonschema"
)

func ExampleParse() {
	s, err := jsonschema.Parse(`{
	  "title": "shop.v1.Order",
	  "type": "object",
	  "properties": {"total": {"type": "number", "multipleOf": 0.01}, "buyer": {"$ref": "customer.json"}}
	}`, []serde.Referenced{{Name: "customer.json", Text: `{"type": "object", "required": ["id"]}`}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Name(), s.Draft())
	fmt.Println(s.Canonical())
	fmt.Println(s.Normalized())
	// Output:
	// shop.v1.Order draft-07
	// {"title":"shop.v1.Order","type":"object","properties":{"total":{"type":"number","multipleOf":0.01},"buyer":{"$ref":"customer.json"}}}
	// {"properties":{"buyer":{"$ref":"customer.json"},"total":{"multipleOf":0.01,"type":"number"}},"title":"shop.v1.Order","type":"object"}
}

func ExampleParse_errors() {
	_, err := jsonschema.Parse(`{"properties": {"total": {"type": "numbr"}, "id": {"minLength": "1"}}}`, nil)
	var problems jsonschema.ParseErrors
	if errors.As(err, &problems) {
		for _, p := range problems {
			fmt.Printf("%s: %s\n", p.Path, p.Reason)
		}
	}
	// Output:
	// /properties/id/minLength: expected integer, but got string
	// /properties/total/type: value must be one of "array", "boolean", "integer", "null", "number", "object", "string"
}

func ExampleSchema_Validate() {
	s, _ := jsonschema.Parse(`{"type": "object", "properties": {"qty": {"type": "integer", "minimum": 1}}, "required": ["sku"]}`, nil)
	fmt.Println(s.Validate([]byte(`{"sku": "A-1", "qty": 2}`)))
	fmt.Println(s.Validate([]byte(`{"qty": 0}`)))
	// Output:
	// <nil>
	// jsonschema: 2 problems: (root): missing properties: 'sku'; /qty: must be >= 1 but found 0
}
