package pgsink

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// This file converts decoded values into the Go values pgx writes to the
// columns of their shape: records become map[string]any keyed by field
// name, scalars int32/int64/float32/float64/string/bool/[]byte/time.Time/
// pgtype.Numeric, and jsonb values json.RawMessage.

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

// fromAvroNative converts a value decoded by hamba/avro into an `any`
// (records as map[string]any, unions unwrapped, timestamps and dates as
// time.Time, decimals as *big.Rat) under sh.
func fromAvroNative(sh *shape, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if sh.unionName != "" {
		if m, ok := v.(map[string]any); ok && len(m) == 1 {
			if inner, ok := m[sh.unionName]; ok {
				v = inner
			}
		}
	}
	switch sh.kind {
	case kRecord:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("record is %T, not a map", v)
		}
		out := make(map[string]any, len(sh.fields))
		for _, f := range sh.fields {
			fv, err := fromAvroNative(f.shape, m[f.name])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.name, err)
			}
			out[f.name] = fv
		}
		return out, nil
	case kJSON:
		b, err := json.Marshal(jsonSafe(v))
		return json.RawMessage(b), err
	case kInt32:
		switch n := v.(type) {
		case int:
			return int32(n), nil
		case int32:
			return n, nil
		}
	case kInt64:
		switch n := v.(type) {
		case int64:
			return n, nil
		case int:
			return int64(n), nil
		}
	case kFloat32:
		if f, ok := v.(float32); ok {
			return f, nil
		}
	case kFloat64:
		if f, ok := v.(float64); ok {
			return f, nil
		}
	case kBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case kString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case kBytes:
		return bytesOf(v)
	case kDate, kTimestamp:
		if t, ok := v.(time.Time); ok {
			return t, nil
		}
	case kDecimal:
		if r, ok := v.(*big.Rat); ok {
			var n pgtype.Numeric
			if err := n.Scan(r.FloatString(sh.scale)); err != nil {
				return nil, err
			}
			return n, nil
		}
	}
	return nil, fmt.Errorf("%T does not fit a %s column", v, sh.pgType())
}

// bytesOf returns the bytes of an Avro bytes ([]byte) or fixed ([N]byte)
// value.
func bytesOf(v any) ([]byte, error) {
	if b, ok := v.([]byte); ok {
		return b, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Array && rv.Type().Elem().Kind() == reflect.Uint8 {
		out := make([]byte, rv.Len())
		reflect.Copy(reflect.ValueOf(out), rv)
		return out, nil
	}
	return nil, fmt.Errorf("%T is not bytes", v)
}

// jsonSafe turns what hamba decodes into values encoding/json marshals as
// a user expects: fixed arrays as base64 like bytes, decimals as numbers.
func jsonSafe(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonSafe(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonSafe(e)
		}
		return out
	case *big.Rat:
		return json.Number(x.FloatString(10))
	}
	if b, err := bytesOf(v); err == nil {
		return b
	}
	return v
}
