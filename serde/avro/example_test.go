package avro_test

import (
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
)

func ExampleParse() {
	s, err := avro.Parse(`{
	  "namespace": "com.acme", "type": "record", "name": "Order",
	  "fields": [
	    {"name": "id",    "type": {"type": "string"}},
	    {"name": "total", "type": "Money"}
	  ]
	}`, []serde.Referenced{{Name: "com.acme.Money", Text: `{"type":"fixed","name":"com.acme.Money","size":8}`}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Name())
	fmt.Println(s.Canonical())
	fmt.Println(s.Normalized())
	// Output:
	// com.acme.Order
	// {"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"id","type":"string"},{"name":"total","type":"Money"}]}
	// {"type":"record","name":"com.acme.Order","fields":[{"name":"id","type":"string"},{"name":"total","type":"com.acme.Money"}]}
}

func ExampleParseError() {
	_, err := avro.Parse(`{"type":"record","name":"R","fields":[{"name":"n","type":"int","default":"5"}]}`, nil)
	var pe *avro.ParseError
	if errors.As(err, &pe) {
		fmt.Println(pe.Path)
		fmt.Println(pe.Reason)
	}
	fmt.Println(err)
	// Output:
	// /fields/0/default
	// default "5" does not match type int
	// avro: /fields/0/default: default "5" does not match type int
}
