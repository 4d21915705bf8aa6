package protobuf

import (
	"github.com/bufbuild/protocompile/protoutil"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// wireKind is what the walker checks for a known field: the wire type its
// declaration implies and what the payload of that wire type must satisfy.
type wireKind uint8

const (
	kindVarint  wireKind = iota // int32/64, uint32/64, sint32/64, bool, enum
	kindFixed32                 // fixed32, sfixed32, float
	kindFixed64                 // fixed64, sfixed64, double
	kindBytes                   // bytes, and strings whose UTF-8 is not checked
	kindString                  // strings whose UTF-8 is checked
	kindMessage                 // length-delimited message (map entries too)
	kindGroup                   // proto2 group or editions delimited message
)

// wireType is the wire type a non-packed occurrence of the kind has.
func (k wireKind) wireType() protowire.Type {
	switch k {
	case kindVarint:
		return protowire.VarintType
	case kindFixed32:
		return protowire.Fixed32Type
	case kindFixed64:
		return protowire.Fixed64Type
	case kindGroup:
		return protowire.StartGroupType
	}
	return protowire.BytesType
}

// fieldPlan is one known field of a message, reduced to what the walk needs.
type fieldPlan struct {
	name string
	kind wireKind
	// packable: a repeated scalar number, which may come packed (one
	// length-delimited run) as well as one element per tag.
	packable bool
	// list: repeated or map, so an error path gets the element's index.
	list bool
	// reqBit is the field's bit in the message's required set, or -1.
	reqBit int
	// msg is the plan of a message, group or map-entry field.
	msg *msgPlan
	// typeName describes the declaration in error messages ("string",
	// "message shop.v1.Line").
	typeName string
}

// msgPlan is the compiled form of one message descriptor. Plans are built
// once per schema and immutable afterwards, so concurrent walks share them.
type msgPlan struct {
	fullName protoreflect.FullName
	// dense holds the fields by number when the numbers are small; sparse
	// holds them otherwise. Lookups never allocate either way.
	dense  []*fieldPlan
	sparse map[protowire.Number]*fieldPlan
	// required lists the proto2 (or editions LEGACY_REQUIRED) required
	// fields in bit order.
	required []*fieldPlan
	// nested are the plans of the messages declared inside this one, in
	// declaration order, for resolving message-index paths.
	nested []*msgPlan
}

// field returns the plan of field num, or nil for an unknown field.
func (p *msgPlan) field(num protowire.Number) *fieldPlan {
	if int(num) < len(p.dense) {
		return p.dense[num]
	}
	if p.sparse != nil {
		return p.sparse[num]
	}
	return nil
}

// maxDense bounds the field-number table of a message; a message whose
// highest field number is larger uses a map instead.
const maxDense = 512

// validator holds the plans of one schema: the top-level messages, each
// with its nested ones, and through field plans every message reachable.
type validator struct {
	top []*msgPlan
}

// plans returns the schema's compiled plans, built on first use and kept
// in the Schema (lazily, since many parsed schemas are never validated
// against: the registry parses every schema it stores).
func (s *Schema) plans() *validator {
	s.plansOnce.Do(func() { s.plansV = compilePlans(s.file) })
	return s.plansV
}

// planBuilder memoizes plans by full name so that recursive and shared
// message types get one plan each (and recursion terminates).
type planBuilder struct {
	byName     map[protoreflect.FullName]*msgPlan
	mapEntries []*msgPlan
}

func compilePlans(fd protoreflect.FileDescriptor) *validator {
	b := &planBuilder{byName: map[protoreflect.FullName]*msgPlan{}}
	msgs := fd.Messages()
	v := &validator{top: make([]*msgPlan, msgs.Len())}
	for i := range v.top {
		v.top[i] = b.message(msgs.Get(i))
	}
	// A map entry without its value decodes to an empty value message,
	// which protobuf-go then finds lacking if that message has required
	// fields: for such maps the value is effectively required. Done last,
	// when every plan's required list is complete (types may be cyclic).
	for _, e := range b.mapEntries {
		if v := e.field(2); v != nil && v.msg != nil && len(v.msg.required) > 0 && v.reqBit < 0 {
			v.reqBit = len(e.required)
			e.required = append(e.required, v)
		}
	}
	return v
}

func (b *planBuilder) message(md protoreflect.MessageDescriptor) *msgPlan {
	if p, ok := b.byName[md.FullName()]; ok {
		return p
	}
	p := &msgPlan{fullName: md.FullName()}
	// Registered before the fields so that a field of this very type (or a
	// cycle through others) finds it.
	b.byName[md.FullName()] = p
	if md.IsMapEntry() {
		b.mapEntries = append(b.mapEntries, p)
	}

	fields := md.Fields()
	maxNum := protowire.Number(0)
	for i := 0; i < fields.Len(); i++ {
		maxNum = max(maxNum, fields.Get(i).Number())
	}
	if maxNum < maxDense {
		p.dense = make([]*fieldPlan, maxNum+1)
	} else {
		p.sparse = make(map[protowire.Number]*fieldPlan, fields.Len())
	}
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		f := &fieldPlan{name: string(fd.Name()), reqBit: -1, list: fd.IsList() || fd.IsMap()}
		switch fd.Kind() {
		case protoreflect.BoolKind, protoreflect.EnumKind,
			protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Uint32Kind,
			protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind:
			f.kind = kindVarint
		case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
			f.kind = kindFixed32
		case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
			f.kind = kindFixed64
		case protoreflect.StringKind:
			f.kind = kindBytes
			if checksUTF8(fd) {
				f.kind = kindString
			}
		case protoreflect.BytesKind:
			f.kind = kindBytes
		case protoreflect.MessageKind:
			f.kind = kindMessage
			f.msg = b.message(fd.Message())
		case protoreflect.GroupKind:
			f.kind = kindGroup
			f.msg = b.message(fd.Message())
		}
		f.packable = fd.IsList() && f.kind <= kindFixed64
		f.typeName = fd.Kind().String()
		if fd.Enum() != nil {
			f.typeName = "enum " + string(fd.Enum().FullName())
		} else if fd.IsMap() {
			f.typeName = "map<" + fd.MapKey().Kind().String() + ", " + fd.MapValue().Kind().String() + ">"
		} else if fd.Message() != nil {
			f.typeName += " " + string(fd.Message().FullName())
		}
		if fd.IsList() {
			f.typeName = "repeated " + f.typeName
		}
		if fd.Cardinality() == protoreflect.Required {
			f.reqBit = len(p.required)
			p.required = append(p.required, f)
		}
		if p.dense != nil {
			p.dense[fd.Number()] = f
		} else {
			p.sparse[fd.Number()] = f
		}
	}
	nested := md.Messages()
	p.nested = make([]*msgPlan, nested.Len())
	for i := range p.nested {
		p.nested[i] = b.message(nested.Get(i))
	}
	return p
}

// utf8Feature is FeatureSet.utf8_validation, resolved per field below.
var utf8Feature = (&descriptorpb.FeatureSet{}).ProtoReflect().Descriptor().Fields().ByName("utf8_validation")

// checksUTF8 says whether a string field must hold valid UTF-8: always in
// proto3, never in proto2, and in editions as the resolved
// utf8_validation feature says (VERIFY by default).
func checksUTF8(fd protoreflect.FieldDescriptor) bool {
	switch fd.Syntax() {
	case protoreflect.Proto3:
		return true
	case protoreflect.Proto2:
		return false
	}
	v, err := protoutil.ResolveFeature(fd, utf8Feature)
	if err != nil || !v.IsValid() {
		return true // the stricter reading: editions default to VERIFY
	}
	return descriptorpb.FeatureSet_Utf8Validation(v.Enum()) != descriptorpb.FeatureSet_NONE
}
