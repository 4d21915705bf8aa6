package serde

import (
	"errors"
	"fmt"
)

// ErrDatum marks every error of an encoded value that does not match its
// schema; test with errors.Is.
var ErrDatum = errors.New("value does not match its schema")

// DatumError is an encoded value (Avro binary, Protobuf wire format or JSON
// text) that does not match its schema: what is wrong and where.
type DatumError struct {
	// Path locates the problem in the value: "/items/3/price" (a JSON
	// pointer over field names and array indexes; "" is the whole value).
	Path string
	// Offset is the byte position in the encoded value, or -1 if unknown.
	Offset int
	Reason string
}

func (e *DatumError) Error() string {
	where := e.Path
	if where == "" {
		where = "/"
	}
	if e.Offset >= 0 {
		return fmt.Sprintf("%s: %s (at byte %d)", where, e.Reason, e.Offset)
	}
	return fmt.Sprintf("%s: %s", where, e.Reason)
}

// Is makes errors.Is(err, ErrDatum) true.
func (e *DatumError) Is(target error) bool { return target == ErrDatum }
