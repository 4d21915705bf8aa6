package evolution

import (
	"fmt"
	"strconv"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// protoDiff appends the structural changes from the Protobuf file a to b:
// messages (matched by full name, nested ones too), their fields (matched
// by number) and enums with their values (by number). Paths use the names
// the compatibility rules use in their violations, so that breaking
// changes can be matched to them: "pkg.Msg", "pkg.Msg.field (field 2)",
// "pkg.Enum.VALUE (value 1)".
func protoDiff(a, b protoreflect.FileDescriptor, out *[]Change) {
	protoMessagesDiff(a.Messages(), b.Messages(), out)
	protoEnumsDiff(a.Enums(), b.Enums(), out)
}

func protoMessagesDiff(a, b protoreflect.MessageDescriptors, out *[]Change) {
	for i := 0; i < a.Len(); i++ {
		am := a.Get(i)
		bm := b.ByName(am.Name())
		if bm == nil {
			*out = append(*out, Change{Path: string(am.FullName()), Change: "removed", Old: "message " + string(am.Name())})
			continue
		}
		protoFieldsDiff(am, bm, out)
		protoMessagesDiff(am.Messages(), bm.Messages(), out)
		protoEnumsDiff(am.Enums(), bm.Enums(), out)
	}
	for i := 0; i < b.Len(); i++ {
		if bm := b.Get(i); a.ByName(bm.Name()) == nil {
			*out = append(*out, Change{Path: string(bm.FullName()), Change: "added", New: "message " + string(bm.Name())})
		}
	}
}

func protoFieldsDiff(am, bm protoreflect.MessageDescriptor, out *[]Change) {
	af, bf := am.Fields(), bm.Fields()
	for i := 0; i < af.Len(); i++ {
		x := af.Get(i)
		y := bf.ByNumber(x.Number())
		switch {
		case y == nil:
			*out = append(*out, Change{Path: protoFieldPath(am, x), Change: "removed", Old: protoFieldText(x)})
		case protoFieldText(x) != protoFieldText(y):
			*out = append(*out, Change{Path: protoFieldPath(bm, y), Change: "changed", Old: protoFieldText(x), New: protoFieldText(y)})
		}
	}
	for i := 0; i < bf.Len(); i++ {
		if y := bf.Get(i); af.ByNumber(y.Number()) == nil {
			*out = append(*out, Change{Path: protoFieldPath(bm, y), Change: "added", New: protoFieldText(y)})
		}
	}
}

func protoEnumsDiff(a, b protoreflect.EnumDescriptors, out *[]Change) {
	for i := 0; i < a.Len(); i++ {
		ae := a.Get(i)
		be := b.ByName(ae.Name())
		if be == nil {
			*out = append(*out, Change{Path: string(ae.FullName()), Change: "removed", Old: "enum " + string(ae.Name())})
			continue
		}
		av, bv := ae.Values(), be.Values()
		for j := 0; j < av.Len(); j++ {
			x := av.Get(j)
			y := bv.ByNumber(x.Number())
			switch {
			case y == nil:
				*out = append(*out, Change{Path: protoValuePath(ae, x), Change: "removed", Old: string(x.Name())})
			case x.Name() != y.Name():
				*out = append(*out, Change{Path: protoValuePath(be, y), Change: "changed", Old: string(x.Name()), New: string(y.Name())})
			}
		}
		for j := 0; j < bv.Len(); j++ {
			if y := bv.Get(j); av.ByNumber(y.Number()) == nil {
				*out = append(*out, Change{Path: protoValuePath(be, y), Change: "added", New: string(y.Name())})
			}
		}
	}
	for i := 0; i < b.Len(); i++ {
		if be := b.Get(i); a.ByName(be.Name()) == nil {
			*out = append(*out, Change{Path: string(be.FullName()), Change: "added", New: "enum " + string(be.Name())})
		}
	}
}

func protoFieldPath(m protoreflect.MessageDescriptor, f protoreflect.FieldDescriptor) string {
	return string(m.FullName()) + "." + string(f.Name()) + " (field " + strconv.Itoa(int(f.Number())) + ")"
}

func protoValuePath(e protoreflect.EnumDescriptor, v protoreflect.EnumValueDescriptor) string {
	return string(e.FullName()) + "." + string(v.Name()) + " (value " + strconv.Itoa(int(v.Number())) + ")"
}

// protoFieldText renders a field as declared: "repeated string tags = 4",
// with its oneof when it has one.
func protoFieldText(f protoreflect.FieldDescriptor) string {
	typ := protoTypeText(f)
	if f.IsMap() {
		typ = fmt.Sprintf("map<%s, %s>", protoTypeText(f.MapKey()), protoTypeText(f.MapValue()))
	}
	label := ""
	switch {
	case f.IsMap():
	case f.Cardinality() == protoreflect.Repeated:
		label = "repeated "
	case f.Cardinality() == protoreflect.Required:
		label = "required "
	case f.HasPresence() && f.ContainingOneof() == nil && f.Message() == nil:
		label = "optional "
	}
	s := fmt.Sprintf("%s%s %s = %d", label, typ, f.Name(), f.Number())
	if o := f.ContainingOneof(); o != nil && !o.IsSynthetic() {
		s += " (oneof " + string(o.Name()) + ")"
	}
	return s
}

func protoTypeText(f protoreflect.FieldDescriptor) string {
	switch {
	case f.Message() != nil:
		return string(f.Message().FullName())
	case f.Enum() != nil:
		return string(f.Enum().FullName())
	}
	return f.Kind().String()
}
