package compat

import (
	"fmt"

	"github.com/sluicehq/sluice/serde/jsonschema"
)

// jsonReads is replaced by the JSON Schema rules of spec §11.3–§11.6 (issue 5).
// Until then it refuses to answer rather than claim compatibility.
func jsonReads(reader, writer *jsonschema.Schema) ([]Violation, error) {
	return nil, fmt.Errorf("%w for JSON yet: use compatibility level NONE for JSON Schema subjects until the JSON Schema rules land", ErrNotSupported)
}
