package compat

import (
	"google.golang.org/protobuf/reflect/protoreflect"
)

// protoKind is one of Confluent's Protobuf difference types
// (io.confluent.kafka.schemaregistry.protobuf.diff.Difference.Type). The
// names are Confluent's so that a violation's Kind can be looked up in
// Confluent's documentation and compared with its verbose messages.
type protoKind string

// The difference types of spec/registry-api.md §11.2.
const (
	protoPackageChanged            protoKind = "PACKAGE_CHANGED"
	protoMessageAdded              protoKind = "MESSAGE_ADDED"
	protoMessageRemoved            protoKind = "MESSAGE_REMOVED"
	protoMessageMoved              protoKind = "MESSAGE_MOVED"
	protoEnumAdded                 protoKind = "ENUM_ADDED"
	protoEnumRemoved               protoKind = "ENUM_REMOVED"
	protoEnumConstAdded            protoKind = "ENUM_CONST_ADDED"
	protoEnumConstChanged          protoKind = "ENUM_CONST_CHANGED"
	protoEnumConstRemoved          protoKind = "ENUM_CONST_REMOVED"
	protoFieldAdded                protoKind = "FIELD_ADDED"
	protoFieldRemoved              protoKind = "FIELD_REMOVED"
	protoFieldNameChanged          protoKind = "FIELD_NAME_CHANGED"
	protoFieldKindChanged          protoKind = "FIELD_KIND_CHANGED"
	protoFieldScalarKindChanged    protoKind = "FIELD_SCALAR_KIND_CHANGED"
	protoFieldNamedTypeChanged     protoKind = "FIELD_NAMED_TYPE_CHANGED"
	protoFieldNumericLabelChanged  protoKind = "FIELD_NUMERIC_LABEL_CHANGED"
	protoFieldStringOrBytesLabel   protoKind = "FIELD_STRING_OR_BYTES_LABEL_CHANGED"
	protoRequiredFieldAdded        protoKind = "REQUIRED_FIELD_ADDED"
	protoRequiredFieldRemoved      protoKind = "REQUIRED_FIELD_REMOVED"
	protoOneofAdded                protoKind = "ONEOF_ADDED"
	protoOneofRemoved              protoKind = "ONEOF_REMOVED"
	protoOneofFieldAdded           protoKind = "ONEOF_FIELD_ADDED"
	protoOneofFieldRemoved         protoKind = "ONEOF_FIELD_REMOVED"
	protoOneofFieldMovedToTopLevel protoKind = "ONEOF_FIELD_MOVED_TO_TOP_LEVEL"
	protoMultipleFieldsMovedToOne  protoKind = "MULTIPLE_FIELDS_MOVED_TO_ONEOF"
	protoFieldMovedToExistingOneof protoKind = "FIELD_MOVED_TO_EXISTING_ONEOF"
)

// protoCompatibleKinds is Confluent's COMPATIBLE_CHANGES set: a diff that
// holds only these is compatible. Every other kind is a violation.
var protoCompatibleKinds = map[protoKind]bool{
	protoMessageAdded:              true,
	protoMessageMoved:              true,
	protoEnumAdded:                 true,
	protoEnumRemoved:               true,
	protoEnumConstAdded:            true,
	protoEnumConstChanged:          true,
	protoEnumConstRemoved:          true,
	protoFieldAdded:                true,
	protoFieldRemoved:              true,
	protoFieldNameChanged:          true,
	protoFieldStringOrBytesLabel:   true,
	protoOneofAdded:                true,
	protoOneofRemoved:              true,
	protoOneofFieldAdded:           true,
	protoOneofFieldMovedToTopLevel: true,
}

// protoFieldKind is Confluent's coarse field kind: a change between kinds
// is FIELD_KIND_CHANGED whatever the types. Enums are scalars.
type protoFieldKind int

const (
	protoScalar protoFieldKind = iota
	protoMessage
	protoMap
)

func (k protoFieldKind) String() string {
	switch k {
	case protoMessage:
		return "message"
	case protoMap:
		return "map"
	}
	return "scalar"
}

// protoKindOf classifies a field the way Confluent's FieldSchemaDiff.kind
// does. Message-typed fields with delimited encoding (editions) are
// messages; proto2 groups never get here (see protoIsLegacyGroup).
func protoKindOf(fd protoreflect.FieldDescriptor) protoFieldKind {
	switch {
	case fd.IsMap():
		return protoMap
	case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
		return protoMessage
	}
	return protoScalar
}

// protoWireGroup is a scalar's group in Confluent's table (§11.2). Types in
// one group share a wire encoding, so changing a field between them is not
// a difference at all, not even a compatible one: int32 -> int64 and back,
// int32 <-> bool, int32 <-> any enum, string <-> bytes.
type protoWireGroup int

const (
	protoGroupVarint  protoWireGroup = iota + 1 // int32 int64 uint32 uint64 bool enum
	protoGroupZigzag                            // sint32 sint64
	protoGroupText                              // string bytes
	protoGroupFixed32                           // fixed32 sfixed32
	protoGroupFixed64                           // fixed64 sfixed64
	protoGroupFloat                             // float
	protoGroupDouble                            // double
)

// protoGroupOf returns the wire group of a scalar (or enum) field.
func protoGroupOf(k protoreflect.Kind) protoWireGroup {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Uint32Kind,
		protoreflect.Uint64Kind, protoreflect.BoolKind, protoreflect.EnumKind:
		return protoGroupVarint
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return protoGroupZigzag
	case protoreflect.StringKind, protoreflect.BytesKind:
		return protoGroupText
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind:
		return protoGroupFixed32
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind:
		return protoGroupFixed64
	case protoreflect.FloatKind:
		return protoGroupFloat
	case protoreflect.DoubleKind:
		return protoGroupDouble
	}
	return 0 // message and group kinds never reach the scalar comparison
}

// protoLabel is the label written in the .proto text, as Confluent's parser
// (Square Wire) records it: protoNoLabel when the text has none.
type protoLabel int

const (
	protoNoLabel protoLabel = iota
	protoOptional
	protoRequired
	protoRepeated
)

func (l protoLabel) String() string {
	switch l {
	case protoOptional:
		return "optional"
	case protoRequired:
		return "required"
	case protoRepeated:
		return "repeated"
	}
	return "no label"
}

// protoLabelOf recovers the explicit label of a field from its descriptor.
// Confluent compares labels only when both sides wrote one, so the absence
// matters: proto3 fields without a keyword, oneof members and map fields
// have none (proto3 `int32 x` vs `optional int32 x` is no change). A proto3
// `optional` field lives in a synthetic oneof, which is not a oneof for
// this purpose. Editions have no label keywords except `repeated`; a
// LEGACY_REQUIRED field counts as required so that adding or removing one
// is caught as in proto2.
func protoLabelOf(fd protoreflect.FieldDescriptor) protoLabel {
	if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
		return protoNoLabel
	}
	if fd.IsMap() {
		return protoNoLabel
	}
	switch fd.Cardinality() {
	case protoreflect.Repeated:
		return protoRepeated
	case protoreflect.Required:
		return protoRequired
	}
	switch fd.ParentFile().Syntax() {
	case protoreflect.Proto2:
		return protoOptional
	case protoreflect.Proto3:
		if fd.HasOptionalKeyword() {
			return protoOptional
		}
	}
	return protoNoLabel
}

// protoIsLegacyGroup reports whether fd is a proto2 `group` field. Square
// Wire, which Confluent parses with, keeps groups apart from fields and
// nested types, so Confluent's diff never sees a group or its body; we
// skip them too to give the same verdicts. Editions' delimited message
// fields also report GroupKind but are ordinary fields in the text.
func protoIsLegacyGroup(fd protoreflect.FieldDescriptor) bool {
	return fd.Kind() == protoreflect.GroupKind && fd.ParentFile().Syntax() == protoreflect.Proto2
}

// protoIsGroupBody reports whether md is the synthetic message of a proto2
// group declared in its parent scope.
func protoIsGroupBody(md protoreflect.MessageDescriptor) bool {
	if md.ParentFile().Syntax() != protoreflect.Proto2 {
		return false
	}
	// Group fields sit beside their body: in the parent message, or among
	// the extensions of the parent scope.
	var lists []interface {
		Len() int
		Get(int) protoreflect.FieldDescriptor
	}
	switch p := md.Parent().(type) {
	case protoreflect.MessageDescriptor:
		lists = append(lists, p.Fields(), p.Extensions())
	case protoreflect.FileDescriptor:
		lists = append(lists, p.Extensions())
	}
	for _, fs := range lists {
		for i := 0; i < fs.Len(); i++ {
			if f := fs.Get(i); f.Kind() == protoreflect.GroupKind && f.Message() == md {
				return true
			}
		}
	}
	return false
}

// protoTypeName names a field's type for messages: the scalar keyword, the
// full name of an enum or message, or map<K, V>.
func protoTypeName(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.IsMap():
		return "map<" + protoTypeName(fd.MapKey()) + ", " + protoTypeName(fd.MapValue()) + ">"
	case fd.Kind() == protoreflect.EnumKind:
		return "enum " + string(fd.Enum().FullName())
	case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
		return string(fd.Message().FullName())
	}
	return fd.Kind().String()
}

// protoLocalName is a type's full name without its file's package: the name
// Confluent matches referenced messages by, so a message that moves to an
// imported file (or whose package changes) is still the same message.
func protoLocalName(d protoreflect.Descriptor) string {
	name := string(d.FullName())
	if pkg := string(d.ParentFile().Package()); pkg != "" && len(name) > len(pkg) && name[:len(pkg)] == pkg && name[len(pkg)] == '.' {
		return name[len(pkg)+1:]
	}
	return name
}
