package protobuf

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluicehq/sluice/serde"
)

// AppendEncode appends the wire-format encoding of m to dst, for the typed
// client runtime: generated and dynamic messages alike. Required fields of
// proto2 must be set; the error names the first one missing.
func AppendEncode(dst []byte, m proto.Message) ([]byte, error) {
	out, err := proto.MarshalOptions{}.MarshalAppend(dst, m)
	if err != nil {
		return dst, fmt.Errorf("protobuf: encode %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return out, nil
}

// Decode decodes b as the message that path names (an empty path means
// [0]) into a dynamic message. The bytes are first checked with
// ValidateMessage, so Decode refuses exactly what validation refuses, with
// the same *serde.DatumError, and never accepts what the broker would not.
func (s *Schema) Decode(path []int, b []byte) (*dynamicpb.Message, error) {
	md, err := s.MessageByIndexes(path)
	if err != nil {
		return nil, err
	}
	if err := s.ValidateMessage(path, b); err != nil {
		return nil, err
	}
	m := dynamicpb.NewMessage(md)
	if err := (proto.UnmarshalOptions{}).Unmarshal(b, m); err != nil {
		// Validation accepted what protobuf-go refuses: a disagreement worth
		// reporting as a datum error rather than hiding.
		return nil, &serde.DatumError{Offset: -1, Reason: "protobuf-go refuses the value: " + err.Error()}
	}
	return m, nil
}
