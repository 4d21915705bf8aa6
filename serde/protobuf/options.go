package protobuf

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// optEntry is one option assignment: name = value, value already spelled
// as .proto source.
type optEntry struct {
	name, value string
}

// uninterpretedOption is the field number of uninterpreted_option in every
// *Options message; it is empty after linking and never printed.
const uninterpretedOption = 999

// extensionTypes collects the extensions declared in f and everything it
// imports, so that custom options (which the compiler may leave as unknown
// fields of the options messages) can be decoded and printed by name.
func extensionTypes(f protoreflect.FileDescriptor) *protoregistry.Types {
	types := &protoregistry.Types{}
	seen := map[string]bool{}
	var addExts func(protoreflect.ExtensionDescriptors)
	var addMsgs func(protoreflect.MessageDescriptors)
	addExts = func(xs protoreflect.ExtensionDescriptors) {
		for i := 0; i < xs.Len(); i++ {
			// A conflict means two files extend one message with one
			// number, which the linker has already refused; ignore.
			_ = types.RegisterExtension(dynamicpb.NewExtensionType(xs.Get(i)))
		}
	}
	addMsgs = func(ms protoreflect.MessageDescriptors) {
		for i := 0; i < ms.Len(); i++ {
			addExts(ms.Get(i).Extensions())
			addMsgs(ms.Get(i).Messages())
		}
	}
	var addFile func(protoreflect.FileDescriptor)
	addFile = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		addExts(fd.Extensions())
		addMsgs(fd.Messages())
		for i := 0; i < fd.Imports().Len(); i++ {
			addFile(fd.Imports().Get(i).FileDescriptor)
		}
	}
	addFile(f)
	return types
}

// options lists the set options of an *Options message as assignments,
// sorted by field number (extensions included), so the order in which the
// source wrote them does not matter. Singular message-valued options are
// flattened into dotted paths (features.field_presence = EXPLICIT);
// repeated ones become one assignment per element, as protoc accepts.
// scopes are where extension names are resolved from.
func (p *printer) options(opts proto.Message, scopes ...string) []optEntry {
	if opts == nil || !opts.ProtoReflect().IsValid() {
		return nil
	}
	// Round-trip through the wire format into a dynamic message that knows
	// our extensions: custom options then show up as fields, whether the
	// compiler stored them as extensions or as unknown bytes.
	var m protoreflect.Message = opts.ProtoReflect()
	if b, err := (proto.MarshalOptions{Deterministic: true, AllowPartial: true}).Marshal(opts); err == nil {
		dm := dynamicpb.NewMessage(m.Descriptor())
		if (proto.UnmarshalOptions{Resolver: p.types, AllowPartial: true}).Unmarshal(b, dm) == nil {
			m = dm
		}
		// Otherwise (invalid UTF-8 in a proto3 string option, say) print
		// the message as the compiler built it, extensions included.
	}
	var out []optEntry
	for _, fv := range setFields(m) {
		if !fv.fd.IsExtension() && fv.fd.Number() == uninterpretedOption {
			continue
		}
		if p.noExt && fv.fd.IsExtension() && !strings.HasPrefix(string(fv.fd.FullName()), "confluent.") {
			continue // a custom option, which WithoutExtensions drops
		}
		out = p.flatten(out, "", fv.fd, fv.v, scopes)
	}
	return out
}

type fieldValue struct {
	fd protoreflect.FieldDescriptor
	v  protoreflect.Value
}

// setFields lists the populated fields of m by number, then name.
func setFields(m protoreflect.Message) []fieldValue {
	var out []fieldValue
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		out = append(out, fieldValue{fd, v})
		return true
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].fd.Number() != out[j].fd.Number() {
			return out[i].fd.Number() < out[j].fd.Number()
		}
		return out[i].fd.FullName() < out[j].fd.FullName()
	})
	return out
}

func (p *printer) optionName(fd protoreflect.FieldDescriptor, scopes []string) string {
	if fd.IsExtension() {
		return "(" + p.typeName(fd.FullName(), scopes...) + ")"
	}
	return string(fd.Name())
}

func (p *printer) flatten(out []optEntry, prefix string, fd protoreflect.FieldDescriptor, v protoreflect.Value, scopes []string) []optEntry {
	name := prefix + p.optionName(fd, scopes)
	switch {
	case fd.IsList():
		l := v.List()
		for i := 0; i < l.Len(); i++ {
			out = append(out, optEntry{name, p.literal(fd, l.Get(i))})
		}
	case fd.IsMap():
		for _, e := range mapEntries(fd, v.Map()) {
			out = append(out, optEntry{name, p.mapEntryLiteral(fd, e)})
		}
	case fd.Message() != nil:
		sub := setFields(v.Message())
		if len(sub) == 0 {
			out = append(out, optEntry{name, "{}"})
		}
		for _, fv := range sub {
			out = p.flatten(out, name+".", fv.fd, fv.v, scopes)
		}
	default:
		out = append(out, optEntry{name, p.scalar(fd, v)})
	}
	return out
}

func (p *printer) optionLines(opts []optEntry) {
	for _, o := range opts {
		p.line("option %s = %s;", o.name, o.value)
	}
}

// compactOptions spells field-style options: ` [a = 1, b = 2]`, or "".
func compactOptions(opts []optEntry) string {
	if len(opts) == 0 {
		return ""
	}
	parts := make([]string, len(opts))
	for i, o := range opts {
		parts[i] = o.name + " = " + o.value
	}
	return " [" + strings.Join(parts, ", ") + "]"
}

// literal spells one value: a scalar, or a message in text format.
func (p *printer) literal(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	if fd.Message() != nil {
		return p.messageLiteral(v.Message())
	}
	return p.scalar(fd, v)
}

// messageLiteral spells a message in the text format that option values use:
// { a: 1 b { c: 2 } [pkg.ext]: 3 }, fields by number, repeated fields as
// repeated entries.
func (p *printer) messageLiteral(m protoreflect.Message) string {
	var parts []string
	for _, fv := range setFields(m) {
		fd := fv.fd
		name := string(fd.Name())
		switch {
		case fd.IsExtension():
			name = "[" + string(fd.FullName()) + "]"
		case fd.Kind() == protoreflect.GroupKind && fd.Message().Name() != "" &&
			strings.EqualFold(string(fd.Message().Name()), string(fd.Name())):
			// The text format names group fields by their type name.
			name = string(fd.Message().Name())
		}
		sep := ": "
		if fd.Message() != nil {
			sep = " "
		}
		switch {
		case fd.IsList():
			l := fv.v.List()
			for i := 0; i < l.Len(); i++ {
				parts = append(parts, name+sep+p.literal(fd, l.Get(i)))
			}
		case fd.IsMap():
			for _, e := range mapEntries(fd, fv.v.Map()) {
				parts = append(parts, name+" "+p.mapEntryLiteral(fd, e))
			}
		default:
			parts = append(parts, name+sep+p.literal(fd, fv.v))
		}
	}
	if len(parts) == 0 {
		return "{}"
	}
	return "{ " + strings.Join(parts, " ") + " }"
}

type mapEntry struct {
	k protoreflect.MapKey
	v protoreflect.Value
}

// mapEntries lists a map's entries sorted by key, for a stable text.
func mapEntries(fd protoreflect.FieldDescriptor, m protoreflect.Map) []mapEntry {
	var out []mapEntry
	m.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		out = append(out, mapEntry{k, v})
		return true
	})
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].k.Value(), out[j].k.Value()
		switch fd.MapKey().Kind() {
		case protoreflect.StringKind:
			return a.String() < b.String()
		case protoreflect.BoolKind:
			return !a.Bool() && b.Bool()
		case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
			return a.Uint() < b.Uint()
		}
		return a.Int() < b.Int()
	})
	return out
}

func (p *printer) mapEntryLiteral(fd protoreflect.FieldDescriptor, e mapEntry) string {
	return "{ key: " + p.scalar(fd.MapKey(), e.k.Value()) + " value" +
		map[bool]string{true: " ", false: ": "}[fd.MapValue().Message() != nil] +
		p.literal(fd.MapValue(), e.v) + " }"
}

// scalar spells a non-message value as .proto source.
func (p *printer) scalar(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return strconv.FormatBool(v.Bool())
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return strconv.FormatInt(int64(v.Enum()), 10)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return strconv.FormatInt(v.Int(), 10)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.FormatUint(v.Uint(), 10)
	case protoreflect.FloatKind:
		return formatFloat(v.Float(), 32)
	case protoreflect.DoubleKind:
		return formatFloat(v.Float(), 64)
	case protoreflect.StringKind:
		return quote(v.String(), true)
	case protoreflect.BytesKind:
		return quote(string(v.Bytes()), false)
	}
	return fmt.Sprint(v.Interface())
}

// defaultLiteral spells a field's explicit default value.
func defaultLiteral(fd protoreflect.FieldDescriptor) string {
	if fd.Kind() == protoreflect.EnumKind {
		return string(fd.DefaultEnumValue().Name())
	}
	return (&printer{}).scalar(fd, fd.Default())
}

func formatFloat(f float64, bits int) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	return strconv.FormatFloat(f, 'g', -1, bits)
}

// quote spells s as a .proto string literal. Printable ASCII stays as is;
// with utf8ok, so do printable non-ASCII runes of valid UTF-8 (string
// fields); every other byte becomes a three-digit octal escape.
func quote(s string, utf8ok bool) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		switch c {
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '"':
			b.WriteString(`\"`)
		case '\'':
			b.WriteString(`\'`)
		case '\\':
			b.WriteString(`\\`)
		default:
			if c >= 0x20 && c < 0x7f {
				b.WriteByte(c)
				break
			}
			if utf8ok && c >= 0x80 {
				if r, size := utf8.DecodeRuneInString(s[i:]); r != utf8.RuneError && unicode.IsPrint(r) {
					b.WriteString(s[i : i+size])
					i += size
					continue
				}
			}
			fmt.Fprintf(&b, `\%03o`, c)
		}
		i++
	}
	b.WriteByte('"')
	return b.String()
}
