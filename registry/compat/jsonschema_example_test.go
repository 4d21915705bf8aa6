package compat_test

import (
	"fmt"

	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/serde/jsonschema"
)

// Adding an optional property to an open JSON Schema breaks BACKWARD
// compatibility under Confluent's default STRICT policy, because old data
// may already hold any value under the new name; the LENIENT policy
// accepts it.
func ExampleCheckWith() {
	v1, _ := jsonschema.Parse(`{"type":"object","properties":{"id":{"type":"integer"}}}`, nil)
	v2, _ := jsonschema.Parse(`{"type":"object","properties":{"id":{"type":"integer"},"note":{"type":"string"}}}`, nil)
	history := []compat.Version{{Number: 1, Schema: v1}}

	strict, _ := compat.Check(compat.Backward, v2, history)
	for _, v := range strict {
		fmt.Printf("STRICT: version %d: %s [%s]\n", v.Version, v, v.Kind)
	}
	lenient, _ := compat.CheckWith(compat.Backward, compat.Options{Policy: compat.Lenient}, v2, history)
	fmt.Println("LENIENT violations:", len(lenient))
	// Output:
	// STRICT: version 1: #/properties/note: optional property "note" added to an open content model: old data may hold any value there [OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL]
	// LENIENT violations: 0
}
