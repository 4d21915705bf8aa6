package avro

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	hamba "github.com/hamba/avro/v2"

	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/internal/jsonstr"
)

// This file converts between Avro's JSON encoding (the Avro specification,
// "JSON Encoding") and the binary encoding, for tools that let people type
// and read values: `sluice produce --value-schema-id` and
// `sluice consume --decode`, as Confluent's kafka-avro-console-producer and
// -consumer do with Apache Avro's JsonDecoder and JsonEncoder.
//
// The JSON encoding differs from "the obvious JSON" in three places, which
// is why a schema is needed to read it:
//   - a union value is null, or an object with one member whose key names
//     the branch ({"string": "x"}, {"shop.v1.Money": {...}}, {"long": 5});
//     named types go by their full name, others by their type name
//     (logical types by their underlying type: {"long": 1700000000000});
//   - bytes and fixed are strings whose code points 0-255 are the bytes;
//   - logical types are written as their underlying type.
//
// Encoding builds the Go values hamba/avro encodes (maps for records, union
// maps keyed by hamba's branch names) and hands them to AppendEncode, so the
// binary form comes from the same codec as every other value. Decoding walks
// the bytes with the schema after ValidateDatum has checked them, because
// hamba's generic decoding drops which union branch a value came from.
//
// NaN and the infinities, which JSON cannot write as numbers, are the
// strings "NaN", "Infinity" and "-Infinity" in both directions.

// maxJSONDepth bounds the nesting of a JSON document given to
// AppendEncodeJSON (the decoder of encoding/json allows 10000 levels).
const maxJSONDepth = maxDepth

// AppendEncodeJSON appends the Avro binary encoding of doc, one value in
// Avro's JSON encoding, to dst. Mismatches are a *serde.DatumError whose
// Path is a JSON pointer to the value ("/lines/2/price") and whose Reason
// says what was expected ("expected long, got string"). A record member
// that the schema lacks is an error; a missing member takes the field's
// default, and is an error when the field has none.
func (s *Schema) AppendEncodeJSON(dst, doc []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return dst, &serde.DatumError{Offset: -1, Reason: "not JSON: " + err.Error()}
	}
	if _, err := dec.Token(); err != io.EOF {
		return dst, &serde.DatumError{Offset: int(dec.InputOffset()), Reason: "not JSON: text after the value"}
	}
	if s.validator().raw {
		b, err := jsonBytes(v, "")
		if err != nil {
			return dst, err
		}
		return append(dst, b...), nil
	}
	c := jsonConverter{}
	hv, err := c.value(s.avro, v, "", 0)
	if err != nil {
		return dst, err
	}
	out, err := s.AppendEncode(dst, hv)
	if err != nil {
		// The converter checks every value, so this is a defect; report
		// it rather than hide it.
		return dst, &serde.DatumError{Offset: -1, Reason: err.Error()}
	}
	// The rules the converter does not repeat (a decimal's byte count, the
	// nesting limit) are the validator's: what this returns is exactly
	// what the broker accepts at payload validation.
	if err := s.ValidateDatum(out[len(dst):]); err != nil {
		var de *serde.DatumError
		if errors.As(err, &de) {
			return dst, &serde.DatumError{Path: de.Path, Offset: -1, Reason: de.Reason}
		}
		return dst, err
	}
	return out, nil
}

type jsonConverter struct{}

// kindOf names a decoded JSON value's kind for messages.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	default:
		return "object"
	}
}

func mismatch(path, want string, v any) error {
	got := kindOf(v)
	if n, ok := v.(json.Number); ok {
		got = "number " + n.String()
	}
	return &serde.DatumError{Path: path, Offset: -1, Reason: fmt.Sprintf("expected %s, got %s", want, got)}
}

func pathAppend(path, elem string) string {
	elem = strings.ReplaceAll(strings.ReplaceAll(elem, "~", "~0"), "/", "~1")
	return path + "/" + elem
}

// branchName is the name a union branch goes by in Avro's JSON encoding.
func branchName(s hamba.Schema) string {
	if r, ok := s.(*hamba.RefSchema); ok {
		s = r.Schema()
	}
	if n, ok := s.(hamba.NamedSchema); ok {
		return n.FullName()
	}
	return string(s.Type())
}

// hambaName is the key hamba's union-map encoder looks a branch up by:
// the JSON name, with the logical type appended for unnamed types.
func hambaName(s hamba.Schema) string {
	if r, ok := s.(*hamba.RefSchema); ok {
		s = r.Schema()
	}
	if n, ok := s.(hamba.NamedSchema); ok {
		return n.FullName()
	}
	name := string(s.Type())
	if p, ok := s.(*hamba.PrimitiveSchema); ok && p.Logical() != nil {
		name += "." + string(p.Logical().Type())
	}
	return name
}

func logicalOf(s hamba.Schema) hamba.LogicalType {
	if ls, ok := s.(hamba.LogicalTypeSchema); ok && ls.Logical() != nil {
		return ls.Logical().Type()
	}
	return ""
}

func (c *jsonConverter) value(s hamba.Schema, v any, path string, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, &serde.DatumError{Path: path, Offset: -1, Reason: "nested too deeply"}
	}
	switch s.Type() {
	case hamba.Ref:
		return c.value(s.(*hamba.RefSchema).Schema(), v, path, depth)
	case hamba.Null:
		if v != nil {
			return nil, mismatch(path, "null", v)
		}
		return nil, nil
	case hamba.Boolean:
		b, ok := v.(bool)
		if !ok {
			return nil, mismatch(path, "boolean", v)
		}
		return b, nil
	case hamba.Int, hamba.Long:
		n, ok := v.(json.Number)
		if !ok {
			return nil, mismatch(path, string(s.Type()), v)
		}
		bits := 64
		if s.Type() == hamba.Int {
			bits = 32
		}
		i, err := strconv.ParseInt(n.String(), 10, bits)
		if err != nil {
			// 1e3 and 2.0 are integers written as floats; Avro's
			// JsonDecoder (Jackson) refuses them too.
			if errors.Is(err, strconv.ErrRange) {
				return nil, &serde.DatumError{Path: path, Offset: -1, Reason: fmt.Sprintf("%s is out of range for %s", n, s.Type())}
			}
			return nil, mismatch(path, string(s.Type())+" (an integer)", v)
		}
		if s.Type() == hamba.Int {
			return int32(i), nil
		}
		if logicalOf(s) == hamba.TimeMicros {
			// hamba takes an int64 under time-micros as a time.Duration in
			// nanoseconds (which overflows past 292 years of microseconds);
			// a Go int it writes as it is.
			if int64(int(i)) != i {
				return nil, &serde.DatumError{Path: path, Offset: -1, Reason: fmt.Sprintf("%d is out of range for time-micros on this platform", i)}
			}
			return int(i), nil
		}
		return i, nil
	case hamba.Float, hamba.Double:
		f, err := jsonFloat(v, path, string(s.Type()))
		if err != nil {
			return nil, err
		}
		if s.Type() == hamba.Float {
			return float32(f), nil
		}
		return f, nil
	case hamba.String:
		str, ok := v.(string)
		if !ok {
			return nil, mismatch(path, "string", v)
		}
		return str, nil
	case hamba.Bytes:
		return jsonBytes(v, path)
	case hamba.Fixed:
		fs := s.(*hamba.FixedSchema)
		b, err := jsonBytes(v, path)
		if err != nil {
			return nil, err
		}
		if len(b) != fs.Size() {
			return nil, &serde.DatumError{Path: path, Offset: -1, Reason: fmt.Sprintf("fixed %s takes %d bytes, got %d", fs.FullName(), fs.Size(), len(b))}
		}
		arr := reflect.New(reflect.ArrayOf(len(b), reflect.TypeFor[byte]())).Elem()
		reflect.Copy(arr, reflect.ValueOf(b))
		return arr.Interface(), nil
	case hamba.Enum:
		es := s.(*hamba.EnumSchema)
		str, ok := v.(string)
		if !ok {
			return nil, mismatch(path, "enum "+es.FullName()+" symbol (a string)", v)
		}
		for _, sym := range es.Symbols() {
			if sym == str {
				return str, nil
			}
		}
		return nil, &serde.DatumError{Path: path, Offset: -1, Reason: fmt.Sprintf("%q is not a symbol of enum %s (%s)", str, es.FullName(), strings.Join(es.Symbols(), ", "))}
	case hamba.Array:
		arr, ok := v.([]any)
		if !ok {
			return nil, mismatch(path, "array", v)
		}
		items := s.(*hamba.ArraySchema).Items()
		out := make([]any, len(arr))
		for i, e := range arr {
			hv, err := c.value(items, e, pathAppend(path, strconv.Itoa(i)), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = hv
		}
		return out, nil
	case hamba.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, mismatch(path, "map (an object)", v)
		}
		values := s.(*hamba.MapSchema).Values()
		out := make(map[string]any, len(m))
		for k, e := range m {
			hv, err := c.value(values, e, pathAppend(path, k), depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = hv
		}
		return out, nil
	case hamba.Record, hamba.Error:
		rs := s.(*hamba.RecordSchema)
		m, ok := v.(map[string]any)
		if !ok {
			return nil, mismatch(path, "record "+rs.FullName()+" (an object)", v)
		}
		out := make(map[string]any, len(rs.Fields()))
		known := make(map[string]bool, len(rs.Fields()))
		for _, f := range rs.Fields() {
			known[f.Name()] = true
			fp := pathAppend(path, f.Name())
			e, ok := m[f.Name()]
			if !ok {
				if !f.HasDefault() {
					return nil, &serde.DatumError{Path: fp, Offset: -1, Reason: fmt.Sprintf("missing (record %s has no default for it)", rs.FullName())}
				}
				continue // hamba writes the default
			}
			hv, err := c.value(f.Type(), e, fp, depth+1)
			if err != nil {
				return nil, err
			}
			out[f.Name()] = hv
		}
		for k := range m {
			if !known[k] {
				return nil, &serde.DatumError{Path: pathAppend(path, k), Offset: -1, Reason: fmt.Sprintf("not a field of record %s", rs.FullName())}
			}
		}
		return out, nil
	case hamba.Union:
		us := s.(*hamba.UnionSchema)
		if v == nil {
			if _, pos := us.Types().Get("null"); pos >= 0 {
				return map[string]any{}, nil // hamba's union map: empty is null
			}
			return nil, &serde.DatumError{Path: path, Offset: -1, Reason: "null is not a branch of " + unionNames(us)}
		}
		m, ok := v.(map[string]any)
		if !ok || len(m) != 1 {
			return nil, &serde.DatumError{Path: path, Offset: -1, Reason: fmt.Sprintf("a union value is null or an object with one member naming its branch (one of %s), e.g. {%q: ...}; got %s", unionNames(us), branchName(firstNonNull(us)), describeJSON(v))}
		}
		for name, e := range m {
			for _, b := range us.Types() {
				if branchName(b) != name {
					continue
				}
				hv, err := c.value(b, e, pathAppend(path, name), depth+1)
				if err != nil {
					return nil, err
				}
				if b.Type() == hamba.Null {
					return map[string]any{}, nil
				}
				return map[string]any{hambaName(b): hv}, nil
			}
			return nil, &serde.DatumError{Path: path, Offset: -1, Reason: fmt.Sprintf("%q is not a branch of union %s", name, unionNames(us))}
		}
	}
	return nil, &serde.DatumError{Path: path, Offset: -1, Reason: fmt.Sprintf("unsupported Avro type %s", s.Type())}
}

func describeJSON(v any) string {
	if m, ok := v.(map[string]any); ok {
		return fmt.Sprintf("an object with %d members", len(m))
	}
	return kindOf(v)
}

func firstNonNull(us *hamba.UnionSchema) hamba.Schema {
	for _, b := range us.Types() {
		if b.Type() != hamba.Null {
			return b
		}
	}
	return us.Types()[0]
}

func unionNames(us *hamba.UnionSchema) string {
	names := make([]string, len(us.Types()))
	for i, b := range us.Types() {
		names[i] = branchName(b)
	}
	return "[" + strings.Join(names, ", ") + "]"
}

func jsonFloat(v any, path, typ string) (float64, error) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(x.String(), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, mismatch(path, typ, v)
		}
		return f, nil
	case string:
		switch x {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
	}
	return 0, mismatch(path, typ, v)
}

// jsonBytes reads bytes in Avro's JSON encoding: a string of code points
// 0 to 255, one per byte.
func jsonBytes(v any, path string) ([]byte, error) {
	str, ok := v.(string)
	if !ok {
		return nil, mismatch(path, "bytes (a string of code points 0-255)", v)
	}
	b := make([]byte, 0, len(str))
	for i, r := range str {
		if r > 0xff {
			return nil, &serde.DatumError{Path: path, Offset: -1, Reason: fmt.Sprintf("bytes are written as code points 0-255 (\\u0000-\\u00ff); character %d is %q", i, r)}
		}
		b = append(b, byte(r))
	}
	return b, nil
}

// AppendDecodeJSON appends datum b, Avro binary under the schema, in Avro's
// JSON encoding (unions as {"branch": value}, bytes and fixed as strings of
// code points 0-255, logical types as their underlying type) to dst. The
// bytes are first checked as ValidateDatum does; a mismatch is a
// *serde.DatumError.
func (s *Schema) AppendDecodeJSON(dst, b []byte) ([]byte, error) {
	if s.validator().raw {
		return appendJSONBytes(dst, b), nil
	}
	if err := s.ValidateDatum(b); err != nil {
		return dst, err
	}
	r := &jsonReader{b: b}
	out, err := r.value(dst, s.avro, 0)
	if err != nil {
		return dst, err
	}
	if r.i != len(r.b) {
		return dst, &serde.DatumError{Offset: r.i, Reason: "bytes left over after the datum"}
	}
	return out, nil
}

// jsonReader walks validated Avro binary; its bound checks are a second
// line of defence.
type jsonReader struct {
	b []byte
	i int
}

var errShort = errors.New("datum cut short")

func (r *jsonReader) long() (int64, error) {
	var u uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if r.i >= len(r.b) {
			return 0, errShort
		}
		c := r.b[r.i]
		r.i++
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), nil
		}
	}
	return 0, errors.New("varint longer than 10 bytes")
}

func (r *jsonReader) take(n int64) ([]byte, error) {
	if n < 0 || n > int64(len(r.b)-r.i) {
		return nil, errShort
	}
	p := r.b[r.i : r.i+int(n)]
	r.i += int(n)
	return p, nil
}

func (r *jsonReader) value(dst []byte, s hamba.Schema, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, errors.New("nested too deeply")
	}
	switch s.Type() {
	case hamba.Ref:
		return r.value(dst, s.(*hamba.RefSchema).Schema(), depth)
	case hamba.Null:
		return append(dst, "null"...), nil
	case hamba.Boolean:
		p, err := r.take(1)
		if err != nil {
			return dst, err
		}
		return strconv.AppendBool(dst, p[0] != 0), nil
	case hamba.Int, hamba.Long:
		n, err := r.long()
		if err != nil {
			return dst, err
		}
		return strconv.AppendInt(dst, n, 10), nil
	case hamba.Float:
		p, err := r.take(4)
		if err != nil {
			return dst, err
		}
		bits := uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16 | uint32(p[3])<<24
		return appendJSONFloat(dst, float64(math.Float32frombits(bits)), 32), nil
	case hamba.Double:
		p, err := r.take(8)
		if err != nil {
			return dst, err
		}
		var bits uint64
		for k := 7; k >= 0; k-- {
			bits = bits<<8 | uint64(p[k])
		}
		return appendJSONFloat(dst, math.Float64frombits(bits), 64), nil
	case hamba.String:
		n, err := r.long()
		if err != nil {
			return dst, err
		}
		p, err := r.take(n)
		if err != nil {
			return dst, err
		}
		return appendJSONString(dst, p), nil
	case hamba.Bytes:
		n, err := r.long()
		if err != nil {
			return dst, err
		}
		p, err := r.take(n)
		if err != nil {
			return dst, err
		}
		return appendJSONBytes(dst, p), nil
	case hamba.Fixed:
		p, err := r.take(int64(s.(*hamba.FixedSchema).Size()))
		if err != nil {
			return dst, err
		}
		return appendJSONBytes(dst, p), nil
	case hamba.Enum:
		n, err := r.long()
		if err != nil {
			return dst, err
		}
		syms := s.(*hamba.EnumSchema).Symbols()
		if n < 0 || n >= int64(len(syms)) {
			return dst, fmt.Errorf("enum index %d out of range", n)
		}
		return appendJSONString(dst, []byte(syms[n])), nil
	case hamba.Array:
		items := s.(*hamba.ArraySchema).Items()
		dst = append(dst, '[')
		first := true
		err := r.blocks(func() error {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			var err error
			dst, err = r.value(dst, items, depth+1)
			return err
		})
		return append(dst, ']'), err
	case hamba.Map:
		values := s.(*hamba.MapSchema).Values()
		dst = append(dst, '{')
		first := true
		err := r.blocks(func() error {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			n, err := r.long()
			if err != nil {
				return err
			}
			k, err := r.take(n)
			if err != nil {
				return err
			}
			dst = append(appendJSONString(dst, k), ':')
			dst, err = r.value(dst, values, depth+1)
			return err
		})
		return append(dst, '}'), err
	case hamba.Record, hamba.Error:
		dst = append(dst, '{')
		for i, f := range s.(*hamba.RecordSchema).Fields() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(appendJSONString(dst, []byte(f.Name())), ':')
			var err error
			if dst, err = r.value(dst, f.Type(), depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case hamba.Union:
		n, err := r.long()
		if err != nil {
			return dst, err
		}
		types := s.(*hamba.UnionSchema).Types()
		if n < 0 || n >= int64(len(types)) {
			return dst, fmt.Errorf("union index %d out of range", n)
		}
		b := types[n]
		if b.Type() == hamba.Null {
			return append(dst, "null"...), nil
		}
		dst = append(appendJSONString(append(dst, '{'), []byte(branchName(b))), ':')
		dst, err = r.value(dst, b, depth+1)
		return append(dst, '}'), err
	}
	return dst, fmt.Errorf("unsupported Avro type %s", s.Type())
}

// blocks reads the blocks of an array or map, calling item per item.
func (r *jsonReader) blocks(item func() error) error {
	for {
		n, err := r.long()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if n < 0 {
			n = -n
			if _, err := r.long(); err != nil { // the block's size in bytes
				return err
			}
		}
		for ; n > 0; n-- {
			if err := item(); err != nil {
				return err
			}
		}
	}
}

func appendJSONFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

// appendJSONString appends p (UTF-8, invalid bytes replaced) as a JSON
// string.
func appendJSONString(dst, p []byte) []byte {
	if !utf8.Valid(p) {
		p = bytes.ToValidUTF8(p, []byte("\uFFFD"))
	}
	return jsonstr.Append(dst, string(p))
}

// appendJSONBytes appends p as a JSON string of code points 0-255.
func appendJSONBytes(dst, p []byte) []byte {
	s := make([]byte, 0, len(p)*2)
	for _, c := range p {
		s = utf8.AppendRune(s, rune(c))
	}
	return jsonstr.Append(dst, string(s))
}
