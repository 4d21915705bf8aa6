package protobuf

import "errors"

// ValidateMessage checks that b is a valid wire-format encoding of the
// message that path names (spec/wire-format.md §3), without building Go
// values. Errors are *serde.DatumError (or a path error for a bad path).
func (s *Schema) ValidateMessage(path []int, b []byte) error {
	return errors.New("protobuf: ValidateMessage not implemented") // TODO(protobuf walker helper)
}
