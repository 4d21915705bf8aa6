package client

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// protoCodec is connect's binary protobuf codec, which the client's own
// codecs stand in for: they change how some responses are decoded, never
// the bytes on the wire.
type protoCodec struct{}

// Name is the name of connect's binary protobuf codec.
func (protoCodec) Name() string { return "proto" }

// Marshal marshals a protobuf message.
func (protoCodec) Marshal(v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("marshal %T: not a protobuf message", v)
	}
	return proto.Marshal(m)
}

// Unmarshal unmarshals a protobuf message.
func (protoCodec) Unmarshal(data []byte, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("unmarshal into %T: not a protobuf message", v)
	}
	return proto.Unmarshal(data, m)
}

// wireCodec is the codec of the streams whose responses the client walks
// itself: a consumer's Subscribe calls and a GroupStream. A
// SubscribeResponse or ConsumeResponse is not decoded by it: its bytes,
// copied out of connect's reused buffer, are kept whole as the message's
// unknown fields, for decodeSubscribeMessage or decodeConsumeResponse
// (records then alias that one copy instead of being allocated field by
// field). Every other message, requests included, goes through proto.
type wireCodec struct{ protoCodec }

// Unmarshal keeps a SubscribeResponse's or ConsumeResponse's bytes and
// unmarshals any other protobuf message.
func (wireCodec) Unmarshal(data []byte, v any) error {
	var m proto.Message
	switch r := v.(type) {
	case *brokerv1.SubscribeResponse:
		m = r
	case *brokerv1.ConsumeResponse:
		m = r
	default:
		return protoCodec{}.Unmarshal(data, v)
	}
	proto.Reset(m)
	if len(data) > 0 {
		m.ProtoReflect().SetUnknown(append([]byte(nil), data...))
	}
	return nil
}
