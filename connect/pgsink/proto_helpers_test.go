package pgsink

import (
	"google.golang.org/protobuf/reflect/protoreflect"
)

func protoName(s string) protoreflect.Name { return protoreflect.Name(s) }

// protoValue wraps v; enum fields take an int32.
func protoValue(fd protoreflect.FieldDescriptor, v any) protoreflect.Value {
	if fd != nil && fd.Kind() == protoreflect.EnumKind {
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(v.(int32)))
	}
	if m, ok := v.(protoreflect.ProtoMessage); ok {
		return protoreflect.ValueOfMessage(m.ProtoReflect())
	}
	return protoreflect.ValueOf(v)
}
