package pgsink

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"

	hamba "github.com/hamba/avro/v2"
	"github.com/jackc/pgx/v5/pgtype"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// This file converts decoded values into the Go values pgx writes to the
// columns of their shape: records become map[string]any keyed by field
// name, scalars int32/int64/float32/float64/string/bool/[]byte/time.Time/
// pgtype.Numeric, and jsonb values json.RawMessage.

// fromAvroJSON converts a value in Avro's JSON encoding (decoded with
// UseNumber) under sh.
func fromAvroJSON(sh *shape, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if sh.avroUnion {
		m, ok := v.(map[string]any)
		if !ok || len(m) != 1 {
			return nil, fmt.Errorf("union value is not {\"branch\": value}")
		}
		for _, inner := range m {
			v = inner
		}
		inner := *sh
		inner.avroUnion = false
		return fromAvroJSON(&inner, v)
	}
	switch sh.kind {
	case kRecord:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("record is not an object")
		}
		out := make(map[string]any, len(sh.fields))
		for _, f := range sh.fields {
			fv, err := fromAvroJSON(f.shape, m[f.name])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.name, err)
			}
			out[f.name] = fv
		}
		return out, nil
	case kJSON:
		plain, err := avroPlain(sh.avro, v)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(plain)
		return json.RawMessage(b), err
	case kBytes:
		if sh.avroBytes {
			return codePoints(v)
		}
	case kDecimal:
		b, err := codePoints(v)
		if err != nil {
			return nil, err
		}
		n := new(big.Int).SetBytes(b)
		if len(b) > 0 && b[0]&0x80 != 0 { // two's complement
			n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
		}
		return pgtype.Numeric{Int: n, Exp: int32(-sh.scale), Valid: true}, nil
	case kDate:
		n, err := jsonInt(v)
		if err != nil {
			return nil, err
		}
		return time.Unix(n*86400, 0).UTC(), nil
	case kTimestamp:
		n, err := jsonInt(v)
		if err != nil {
			return nil, err
		}
		if sh.micros {
			return time.UnixMicro(n).UTC(), nil
		}
		return time.UnixMilli(n).UTC(), nil
	}
	return scalarJSON(sh.kind, v)
}

// scalarJSON converts a plain JSON scalar (numbers as json.Number).
func scalarJSON(k kind, v any) (any, error) {
	switch k {
	case kBool:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("want a boolean, got %T", v)
		}
		return b, nil
	case kInt32:
		n, err := jsonInt(v)
		if err != nil {
			return nil, err
		}
		if n < math.MinInt32 || n > math.MaxInt32 {
			return nil, fmt.Errorf("%d does not fit an integer column", n)
		}
		return int32(n), nil
	case kInt64:
		return jsonInt(v)
	case kFloat32, kFloat64:
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("want a number, got %T", v)
		}
		f, err := n.Float64()
		if err != nil {
			return nil, err
		}
		if k == kFloat32 {
			return float32(f), nil
		}
		return f, nil
	case kString:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want a string, got %T", v)
		}
		return s, nil
	case kBytes:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want a base64 string, got %T", v)
		}
		return base64.StdEncoding.DecodeString(s)
	}
	b, err := json.Marshal(v)
	return json.RawMessage(b), err
}

func jsonInt(v any) (int64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("want an integer, got %T", v)
	}
	return strconv.ParseInt(string(n), 10, 64)
}

// codePoints decodes Avro's JSON form of bytes: each byte a code point.
func codePoints(v any) ([]byte, error) {
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("want bytes as a string, got %T", v)
	}
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 255 {
			return nil, fmt.Errorf("bytes hold code point %d above 255", r)
		}
		out = append(out, byte(r))
	}
	return out, nil
}

// avroPlain strips Avro's JSON union wrapping from v under s, so a jsonb
// column holds the value as a JSON user would write it; bytes become
// base64 text.
func avroPlain(s hamba.Schema, v any) (any, error) {
	if s == nil || v == nil {
		return v, nil
	}
	if ref, ok := s.(*hamba.RefSchema); ok {
		s = ref.Schema()
	}
	switch t := s.(type) {
	case *hamba.UnionSchema:
		m, ok := v.(map[string]any)
		if !ok || len(m) != 1 {
			return nil, fmt.Errorf("union value is not {\"branch\": value}")
		}
		for branch, inner := range m {
			for _, member := range t.Types() {
				if unionName(member) == branch {
					return avroPlain(member, inner)
				}
			}
			return inner, nil
		}
	case *hamba.RecordSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return v, nil
		}
		out := make(map[string]any, len(m))
		for _, f := range t.Fields() {
			fv, err := avroPlain(f.Type(), m[f.Name()])
			if err != nil {
				return nil, err
			}
			out[f.Name()] = fv
		}
		return out, nil
	case *hamba.ArraySchema:
		a, ok := v.([]any)
		if !ok {
			return v, nil
		}
		out := make([]any, len(a))
		for i, x := range a {
			var err error
			if out[i], err = avroPlain(t.Items(), x); err != nil {
				return nil, err
			}
		}
		return out, nil
	case *hamba.MapSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return v, nil
		}
		out := make(map[string]any, len(m))
		for k, x := range m {
			var err error
			if out[k], err = avroPlain(t.Values(), x); err != nil {
				return nil, err
			}
		}
		return out, nil
	case *hamba.PrimitiveSchema:
		if t.Type() == hamba.Bytes {
			return codePoints(v)
		}
	case *hamba.FixedSchema:
		return codePoints(v)
	}
	return v, nil
}

// unionName is the branch name Avro's JSON encoding uses for a union
// member: the full name of a named type, else the type name.
func unionName(s hamba.Schema) string {
	if ref, ok := s.(*hamba.RefSchema); ok {
		s = ref.Schema()
	}
	if n, ok := s.(hamba.NamedSchema); ok {
		return n.FullName()
	}
	return string(s.Type())
}

// fromJSON converts a JSON Schema value (decoded with UseNumber) under sh.
func fromJSON(sh *shape, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if sh.kind == kRecord {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("want an object, got %T", v)
		}
		out := make(map[string]any, len(sh.fields))
		for _, f := range sh.fields {
			fv, err := fromJSON(f.shape, m[f.name])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.name, err)
			}
			out[f.name] = fv
		}
		return out, nil
	}
	if sh.kind == kString {
		if s, ok := v.(string); ok {
			return s, nil
		}
	}
	return scalarJSON(sh.kind, v)
}

// fromProto converts a Protobuf message under sh.
func fromProto(sh *shape, m protoreflect.Message) (any, error) {
	if sh.pbWKT == "timestamp" {
		fs := m.Descriptor().Fields()
		sec := m.Get(fs.ByName("seconds")).Int()
		nanos := m.Get(fs.ByName("nanos")).Int()
		return time.Unix(sec, nanos).UTC(), nil
	}
	if sh.kind == kJSON {
		b, err := json.Marshal(protoPlain(protoreflect.ValueOfMessage(m), nil))
		return json.RawMessage(b), err
	}
	out := make(map[string]any, len(sh.fields))
	fs := m.Descriptor().Fields()
	for _, f := range sh.fields {
		fd := fs.ByName(protoreflect.Name(f.name))
		if fd == nil {
			continue
		}
		if f.shape.nullable && !fd.IsList() && !fd.IsMap() && !m.Has(fd) {
			out[f.name] = nil
			continue
		}
		v := m.Get(fd)
		switch {
		case fd.IsList() || fd.IsMap():
			b, err := json.Marshal(protoPlain(v, fd))
			if err != nil {
				return nil, err
			}
			out[f.name] = json.RawMessage(b)
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			x, err := fromProto(f.shape, v.Message())
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.name, err)
			}
			out[f.name] = x
		default:
			out[f.name] = protoScalar(f.shape.kind, fd, v)
		}
	}
	return out, nil
}

func protoScalar(k kind, fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch fd.Kind() {
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return strconv.Itoa(int(v.Enum()))
	case protoreflect.BoolKind:
		return v.Bool()
	case protoreflect.StringKind:
		return v.String()
	case protoreflect.BytesKind:
		return bytes.Clone(v.Bytes())
	case protoreflect.FloatKind:
		return float32(v.Float())
	case protoreflect.DoubleKind:
		return v.Float()
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return pgtype.Numeric{Int: new(big.Int).SetUint64(v.Uint()), Valid: true}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return int64(v.Uint())
	}
	if k == kInt32 {
		return int32(v.Int())
	}
	return v.Int()
}

// protoPlain renders a protobuf value as plain JSON-ready Go values.
func protoPlain(v protoreflect.Value, fd protoreflect.FieldDescriptor) any {
	switch x := v.Interface().(type) {
	case protoreflect.Message:
		out := map[string]any{}
		x.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			out[string(fd.Name())] = protoPlain(v, fd)
			return true
		})
		return out
	case protoreflect.List:
		out := make([]any, x.Len())
		for i := range out {
			out[i] = protoPlain(x.Get(i), elemOf(fd))
		}
		return out
	case protoreflect.Map:
		out := map[string]any{}
		x.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
			var vd protoreflect.FieldDescriptor
			if fd != nil {
				vd = fd.MapValue()
			}
			out[k.String()] = protoPlain(v, vd)
			return true
		})
		return out
	case protoreflect.EnumNumber:
		if fd != nil && fd.Enum() != nil {
			if ev := fd.Enum().Values().ByNumber(x); ev != nil {
				return string(ev.Name())
			}
		}
		return int32(x)
	case []byte:
		return x // json.Marshal writes base64
	default:
		return x
	}
}

// elemOf is the descriptor used for elements of a list field: the field
// itself (its Kind and Enum describe the elements).
func elemOf(fd protoreflect.FieldDescriptor) protoreflect.FieldDescriptor { return fd }
