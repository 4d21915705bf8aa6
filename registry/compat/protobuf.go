package compat

import (
	"fmt"

	"github.com/sluicehq/sluice/serde/protobuf"
)

// protobufReads is replaced by the Protobuf rules of spec §11.2 (issue 4).
// Until then it refuses to answer rather than claim compatibility.
func protobufReads(reader, writer *protobuf.Schema) ([]Violation, error) {
	return nil, fmt.Errorf("%w for PROTOBUF yet: use compatibility level NONE for Protobuf subjects until the Protobuf rules land", ErrNotSupported)
}
