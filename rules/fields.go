package rules

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	hamba "github.com/hamba/avro/v2"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sluicehq/sluice/serde/jsonschema"
)

// field is one primitive field value that CEL_FIELD rules see.
type field struct {
	fullName string
	name     string
	typeName string
	tags     []string
	value    any
}

// Confluent's type names of fields, as CEL_FIELD's typeName sees them.
const (
	typeRecord  = "RECORD"
	typeEnum    = "ENUM"
	typeArray   = "ARRAY"
	typeMap     = "MAP"
	typeFixed   = "FIXED"
	typeString  = "STRING"
	typeBytes   = "BYTES"
	typeInt     = "INT"
	typeLong    = "LONG"
	typeFloat   = "FLOAT"
	typeDouble  = "DOUBLE"
	typeBoolean = "BOOLEAN"
	typeNull    = "NULL"
)

// tagPattern is one entry of the schema metadata's tags: a field path
// pattern (`*` within one dotted segment, `**` across segments) and its tags.
type tagPattern struct {
	re   *regexp.Regexp
	tags []string
}

// parseTagPatterns reads metadata.tags.
func parseTagPatterns(metadata json.RawMessage) ([]tagPattern, error) {
	if len(metadata) == 0 {
		return nil, nil
	}
	var md struct {
		Tags map[string][]string `json:"tags"`
	}
	if err := json.Unmarshal(metadata, &md); err != nil {
		return nil, fmt.Errorf("metadata: %v", err)
	}
	keys := make([]string, 0, len(md.Tags))
	for k := range md.Tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]tagPattern, 0, len(keys))
	for _, k := range keys {
		re, err := regexp.Compile("^" + globRegexp(k) + "$")
		if err != nil {
			return nil, fmt.Errorf("metadata tags: path %q: %v", k, err)
		}
		out = append(out, tagPattern{re: re, tags: md.Tags[k]})
	}
	return out, nil
}

// globRegexp translates a field path pattern to a regular expression.
func globRegexp(p string) string {
	var sb strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '*' && i+1 < len(p) && p[i+1] == '*':
			sb.WriteString(".*")
			i++
		case c == '*':
			sb.WriteString("[^.]*")
		case c == '?':
			sb.WriteString("[^.]")
		default:
			sb.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return sb.String()
}

// tagsOf merges a field's inline tags with the metadata tags its full name
// matches.
func tagsOf(pats []tagPattern, fullName string, inline []string) []string {
	out := inline
	for _, p := range pats {
		if p.re.MatchString(fullName) {
			for _, t := range p.tags {
				if !slices.Contains(out, t) {
					out = append(slices.Clip(out), t)
				}
			}
		}
	}
	if out == nil {
		out = []string{}
	}
	return out
}

// stringList reads a JSON-ish list of strings (Avro property, JSON Schema
// keyword); anything else gives nil.
func stringList(v any) []string {
	var out []string
	switch l := v.(type) {
	case []any:
		for _, x := range l {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	case []string:
		out = append(out, l...)
	}
	return out
}

// ---- Avro ----

// walkAvro visits the primitive fields of an Avro record value.
func walkAvro(s hamba.Schema, v any, pats []tagPattern, visit func(*field) error) error {
	return walkAvroValue(s, v, nil, pats, visit, 0)
}

// walkAvroValue walks v of schema s; f is the enclosing field (nil at the
// top), whose context primitive values are visited under.
func walkAvroValue(s hamba.Schema, v any, f *field, pats []tagPattern, visit func(*field) error, depth int) error {
	if depth > maxAvroDepth {
		return nil
	}
	switch s.Type() {
	case hamba.Ref:
		return walkAvroValue(s.(*hamba.RefSchema).Schema(), v, f, pats, visit, depth+1)
	case hamba.Union:
		return walkAvroValue(avroBranch(s.(*hamba.UnionSchema), v), v, f, pats, visit, depth+1)
	case hamba.Record, hamba.Error:
		rs := s.(*hamba.RecordSchema)
		m, _ := v.(map[string]any)
		for _, fd := range rs.Fields() {
			full := rs.FullName() + "." + fd.Name()
			sub := &field{fullName: full, name: fd.Name(), tags: tagsOf(pats, full, stringList(fd.Prop("confluent:tags")))}
			if err := walkAvroValue(fd.Type(), m[fd.Name()], sub, pats, visit, depth+1); err != nil {
				return err
			}
		}
		return nil
	case hamba.Array:
		items := s.(*hamba.ArraySchema).Items()
		l, _ := v.([]any)
		for _, x := range l {
			if err := walkAvroValue(items, x, f, pats, visit, depth+1); err != nil {
				return err
			}
		}
		return nil
	case hamba.Map:
		vals := s.(*hamba.MapSchema).Values()
		m, _ := v.(map[string]any)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if err := walkAvroValue(vals, m[k], f, pats, visit, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if f == nil {
		return nil // a primitive at the top is no field
	}
	at := *f
	at.typeName = avroTypeName(s.Type())
	at.value = v
	return visit(&at)
}

// avroBranch picks the union branch a decoded value came from.
func avroBranch(u *hamba.UnionSchema, v any) hamba.Schema {
	for _, t := range u.Types() {
		if avroFits(t, v) {
			return t
		}
	}
	return u.Types()[0]
}

func avroFits(s hamba.Schema, v any) bool {
	switch s.Type() {
	case hamba.Ref:
		return avroFits(s.(*hamba.RefSchema).Schema(), v)
	case hamba.Null:
		return v == nil
	case hamba.Boolean:
		_, ok := v.(bool)
		return ok
	case hamba.Int, hamba.Long:
		_, ok := v.(int64)
		return ok
	case hamba.Float, hamba.Double:
		_, ok := v.(float64)
		return ok
	case hamba.String, hamba.Enum:
		_, ok := v.(string)
		return ok
	case hamba.Bytes, hamba.Fixed:
		_, ok := v.([]byte)
		return ok
	case hamba.Array:
		_, ok := v.([]any)
		return ok
	case hamba.Map, hamba.Record, hamba.Error:
		_, ok := v.(map[string]any)
		return ok
	}
	return false
}

func avroTypeName(t hamba.Type) string {
	switch t {
	case hamba.Enum:
		return typeEnum
	case hamba.Fixed:
		return typeFixed
	case hamba.String:
		return typeString
	case hamba.Bytes:
		return typeBytes
	case hamba.Int:
		return typeInt
	case hamba.Long:
		return typeLong
	case hamba.Float:
		return typeFloat
	case hamba.Double:
		return typeDouble
	case hamba.Boolean:
		return typeBoolean
	case hamba.Null:
		return typeNull
	}
	return strings.ToUpper(string(t))
}

// ---- JSON ----

// walkJSON visits the primitive members of a JSON value; schema is the
// JSON Schema document node of v (properties and their confluent:tags are
// followed where present).
func walkJSON(schema any, v any, path string, f *field, pats []tagPattern, visit func(*field) error, depth int) error {
	if depth > maxAvroDepth {
		return nil
	}
	switch x := v.(type) {
	case map[string]any:
		props := jsonMember(schema, "properties")
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			ps := jsonMember(props, k)
			full := path + "." + k
			sub := &field{fullName: full, name: k, tags: tagsOf(pats, full, stringList(jsonMember(ps, "confluent:tags")))}
			if err := walkJSON(ps, x[k], full, sub, pats, visit, depth+1); err != nil {
				return err
			}
		}
		return nil
	case []any:
		items := jsonMember(schema, "items")
		for _, e := range x {
			if err := walkJSON(items, e, path, f, pats, visit, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if f == nil {
		return nil
	}
	at := *f
	at.value = v
	switch v.(type) {
	case nil:
		at.typeName = typeNull
	case bool:
		at.typeName = typeBoolean
	case int64:
		at.typeName = typeInt
	case float64:
		at.typeName = typeDouble
	default:
		at.typeName = typeString
	}
	return visit(&at)
}

// jsonMember reads a member of a schema document object.
func jsonMember(doc any, key string) any {
	switch o := doc.(type) {
	case jsonschema.Object:
		v, _ := o.Get(key)
		return v
	case map[string]any:
		return o[key]
	}
	return nil
}

// ---- Protobuf ----

// confluentMetaField is the extension number of (confluent.field_meta).
const confluentMetaField = 1088

// protoFieldTags reads (confluent.field_meta).tags from a field's options,
// from the wire form so that it works whatever registry resolved the
// extension.
func protoFieldTags(fd protoreflect.FieldDescriptor) []string {
	opts := fd.Options()
	if opts == nil {
		return nil
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(opts)
	if err != nil {
		return nil
	}
	var tags []string
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return tags
		}
		b = b[n:]
		if num == confluentMetaField && typ == protowire.BytesType {
			meta, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return tags
			}
			b = b[n:]
			for len(meta) > 0 {
				mnum, mtyp, k := protowire.ConsumeTag(meta)
				if k < 0 {
					break
				}
				meta = meta[k:]
				if mnum == 3 && mtyp == protowire.BytesType {
					s, k := protowire.ConsumeBytes(meta)
					if k < 0 {
						break
					}
					tags = append(tags, string(s))
					meta = meta[k:]
					continue
				}
				k = protowire.ConsumeFieldValue(mnum, mtyp, meta)
				if k < 0 {
					break
				}
				meta = meta[k:]
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return tags
		}
		b = b[n:]
	}
	return tags
}

// walkProto visits the primitive fields of a message, set or not (an unset
// proto3 field has its default value, as the reflection API reads it).
func walkProto(m protoreflect.Message, pats []tagPattern, visit func(*field) error, depth int) error {
	if depth > maxAvroDepth {
		return nil
	}
	fds := m.Descriptor().Fields()
	for i := 0; i < fds.Len(); i++ {
		fd := fds.Get(i)
		full := string(fd.FullName())
		f := &field{fullName: full, name: string(fd.Name()), tags: tagsOf(pats, full, protoFieldTags(fd))}
		v := m.Get(fd)
		switch {
		case fd.IsMap():
			vd := fd.MapValue()
			var err error
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				err = protoVisit(vd, mv, f, pats, visit, depth)
				return err == nil
			})
			if err != nil {
				return err
			}
		case fd.IsList():
			l := v.List()
			for j := 0; j < l.Len(); j++ {
				if err := protoVisit(fd, l.Get(j), f, pats, visit, depth); err != nil {
					return err
				}
			}
		default:
			if fd.Message() != nil && !m.Has(fd) {
				continue
			}
			if err := protoVisit(fd, v, f, pats, visit, depth); err != nil {
				return err
			}
		}
	}
	return nil
}

func protoVisit(fd protoreflect.FieldDescriptor, v protoreflect.Value, f *field, pats []tagPattern, visit func(*field) error, depth int) error {
	if fd.Message() != nil {
		return walkProto(v.Message(), pats, visit, depth+1)
	}
	at := *f
	switch fd.Kind() {
	case protoreflect.BoolKind:
		at.typeName, at.value = typeBoolean, v.Bool()
	case protoreflect.EnumKind:
		at.typeName, at.value = typeEnum, int64(v.Enum())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		at.typeName, at.value = typeInt, v.Int()
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		at.typeName, at.value = typeLong, v.Int()
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		at.typeName, at.value = typeInt, v.Uint()
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		at.typeName, at.value = typeLong, v.Uint()
	case protoreflect.FloatKind:
		at.typeName, at.value = typeFloat, v.Float()
	case protoreflect.DoubleKind:
		at.typeName, at.value = typeDouble, v.Float()
	case protoreflect.StringKind:
		at.typeName, at.value = typeString, v.String()
	case protoreflect.BytesKind:
		at.typeName, at.value = typeBytes, v.Bytes()
	default:
		return nil
	}
	return visit(&at)
}
