package pgsink

import (
	"fmt"
	"math/big"
	"strings"

	hamba "github.com/hamba/avro/v2"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/serde/jsonschema"
	"github.com/sluicehq/sluice/serde/protobuf"
)

// This file turns a writer schema (Avro, Protobuf or JSON Schema) into a
// shape: the format-neutral tree the sink derives columns from and walks
// decoded values with.
//
// Column rule (documented in docs/connectors.md): a field of a scalar type
// is one column named after the field. A nested record (Avro record,
// Protobuf message, JSON Schema object with properties) is flattened when
// Config.Nested is "flatten" (the default): each of its fields becomes a
// column named parent_child ("address" {"city"} -> "address_city"), to any
// depth. With Nested "jsonb" the record is one jsonb column. Arrays, maps,
// unions of several non-null types, and recursive types are always one jsonb
// column. A union of null and one type is that type, nullable.

// kind is the column type family of a shape.
type kind int

const (
	kBool kind = iota
	kInt32
	kInt64
	kFloat32
	kFloat64
	kString
	kBytes
	kDate      // days since the epoch (Avro date)
	kTimestamp // Avro timestamp-millis/-micros, protobuf Timestamp
	kDecimal   // Avro decimal: numeric(precision, scale)
	kUint64    // numeric(20,0)
	kRecord    // fields
	kJSON      // anything stored as jsonb
)

// shape is one node of a schema as the sink sees it.
type shape struct {
	kind     kind
	nullable bool
	// fields of a record, in schema order.
	fields []field
	// precision and scale of a kDecimal.
	precision, scale int
	// Avro binary layout, for the direct decoder (fastavro.go): micros
	// marks a timestamp-micros, symbols an enum, fixed the size of a
	// fixed (0 for bytes), and union how the value is wrapped in an Avro
	// union (none, or a union of null and it, or of it alone).
	micros  bool
	symbols []string
	fixed   int
	union   avroUnion
	// decMax is the most bytes an Avro bytes decimal of this precision
	// takes (0: no limit).
	decMax int
	// unionName is the full name of the named type (record, enum, fixed)
	// of an Avro union of null and that type: hamba/avro decodes such a
	// value wrapped as {name: value}.
	unionName string
	// pbWKT names a protobuf well-known type handled specially.
	pbWKT string
}

// field is one member of a record.
type field struct {
	name  string
	shape *shape
}

// pgType is the PostgreSQL column type of a scalar shape.
func (s *shape) pgType() string {
	switch s.kind {
	case kBool:
		return "boolean"
	case kInt32:
		return "integer"
	case kInt64:
		return "bigint"
	case kFloat32:
		return "real"
	case kFloat64:
		return "double precision"
	case kString:
		return "text"
	case kBytes:
		return "bytea"
	case kDate:
		return "date"
	case kTimestamp:
		return "timestamp with time zone"
	case kDecimal:
		if s.precision > 0 {
			return fmt.Sprintf("numeric(%d,%d)", s.precision, s.scale)
		}
		return "numeric"
	case kUint64:
		return "numeric(20,0)"
	}
	return "jsonb"
}

// avroShape builds the shape of an Avro schema.
func avroShape(s *avro.Schema) (*shape, error) {
	return avroNode(s.Avro(), map[string]bool{})
}

// avroUnion says how an Avro value is wrapped in a union.
type avroUnion int8

const (
	notUnion  avroUnion = iota
	nullFirst           // ["null", T]
	nullLast            // [T, "null"]
	onlyType            // [T]
)

func avroNode(s hamba.Schema, inProgress map[string]bool) (*shape, error) {
	if ref, ok := s.(*hamba.RefSchema); ok {
		s = ref.Schema()
	}
	if s.Type() == hamba.Null {
		return &shape{kind: kJSON, nullable: true}, nil
	}
	switch t := s.(type) {
	case *hamba.PrimitiveSchema:
		sh := &shape{}
		switch t.Type() {
		case hamba.Boolean:
			sh.kind = kBool
		case hamba.Int:
			sh.kind = kInt32
		case hamba.Long:
			sh.kind = kInt64
		case hamba.Float:
			sh.kind = kFloat32
		case hamba.Double:
			sh.kind = kFloat64
		case hamba.String:
			sh.kind = kString
		case hamba.Bytes:
			sh.kind = kBytes
		}
		if l := t.Logical(); l != nil {
			switch l.Type() {
			case hamba.Date:
				if sh.kind == kInt32 {
					sh.kind = kDate
				}
			case hamba.TimestampMillis:
				if sh.kind == kInt64 {
					sh.kind = kTimestamp
				}
			case hamba.TimestampMicros:
				if sh.kind == kInt64 {
					sh.kind, sh.micros = kTimestamp, true
				}
			case hamba.Decimal:
				if d, ok := l.(*hamba.DecimalLogicalSchema); ok && sh.kind == kBytes {
					sh.kind, sh.precision, sh.scale = kDecimal, d.Precision(), d.Scale()
					if p := d.Precision(); p > 0 && p <= 4096 {
						m := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(p)), nil)
						sh.decMax = (m.Sub(m, big.NewInt(1)).BitLen() + 1 + 7) / 8
					}
				}
			}
		}
		return sh, nil
	case *hamba.EnumSchema:
		return &shape{kind: kString, symbols: t.Symbols()}, nil
	case *hamba.FixedSchema:
		if l := t.Logical(); l != nil && l.Type() == hamba.Decimal {
			if d, ok := l.(*hamba.DecimalLogicalSchema); ok {
				return &shape{kind: kDecimal, precision: d.Precision(), scale: d.Scale(), fixed: t.Size()}, nil
			}
		}
		return &shape{kind: kBytes, fixed: t.Size()}, nil
	case *hamba.RecordSchema:
		name := t.FullName()
		if inProgress[name] {
			return &shape{kind: kJSON}, nil // recursive: stored whole
		}
		inProgress[name] = true
		defer delete(inProgress, name)
		sh := &shape{kind: kRecord}
		for _, f := range t.Fields() {
			fs, err := avroNode(f.Type(), inProgress)
			if err != nil {
				return nil, err
			}
			sh.fields = append(sh.fields, field{name: f.Name(), shape: fs})
		}
		return sh, nil
	case *hamba.UnionSchema:
		var nonNull []hamba.Schema
		hasNull, nullIndex := false, 0
		for i, m := range t.Types() {
			if m.Type() == hamba.Null {
				hasNull, nullIndex = true, i
				continue
			}
			nonNull = append(nonNull, m)
		}
		if len(nonNull) == 1 {
			inner, err := avroNode(nonNull[0], inProgress)
			if err != nil {
				return nil, err
			}
			cp := *inner
			cp.nullable = cp.nullable || hasNull
			switch {
			case !hasNull:
				cp.union = onlyType
			case nullIndex == 0:
				cp.union = nullFirst
			default:
				cp.union = nullLast
			}
			if n, ok := nonNull[0].(hamba.NamedSchema); ok {
				cp.unionName = n.FullName()
			} else if ref, ok := nonNull[0].(*hamba.RefSchema); ok {
				cp.unionName = ref.Schema().FullName()
			}
			return &cp, nil
		}
		return &shape{kind: kJSON, nullable: hasNull}, nil
	}
	// Arrays and maps.
	return &shape{kind: kJSON}, nil
}

// protoShape builds the shape of a Protobuf message.
func protoShape(md protoreflect.MessageDescriptor) *shape {
	return protoMessage(md, map[protoreflect.FullName]bool{})
}

func protoMessage(md protoreflect.MessageDescriptor, inProgress map[protoreflect.FullName]bool) *shape {
	if md.FullName() == "google.protobuf.Timestamp" {
		return &shape{kind: kTimestamp, nullable: true, pbWKT: "timestamp"}
	}
	if inProgress[md.FullName()] {
		return &shape{kind: kJSON, nullable: true}
	}
	inProgress[md.FullName()] = true
	defer delete(inProgress, md.FullName())
	sh := &shape{kind: kRecord, nullable: true}
	fs := md.Fields()
	for i := 0; i < fs.Len(); i++ {
		fd := fs.Get(i)
		sh.fields = append(sh.fields, field{name: string(fd.Name()), shape: protoField(fd, inProgress)})
	}
	return sh
}

func protoField(fd protoreflect.FieldDescriptor, inProgress map[protoreflect.FullName]bool) *shape {
	if fd.IsList() || fd.IsMap() {
		return &shape{kind: kJSON, nullable: true}
	}
	// Scalars are nullable only when presence is tracked (optional,
	// oneof members, proto2); others read as their zero value.
	sh := &shape{nullable: fd.HasPresence()}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		sh.kind = kBool
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		sh.kind = kInt32
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		sh.kind = kInt64
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		sh.kind = kUint64
	case protoreflect.FloatKind:
		sh.kind = kFloat32
	case protoreflect.DoubleKind:
		sh.kind = kFloat64
	case protoreflect.StringKind, protoreflect.EnumKind:
		sh.kind = kString
	case protoreflect.BytesKind:
		sh.kind = kBytes
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return protoMessage(fd.Message(), inProgress)
	default:
		sh.kind = kJSON
	}
	return sh
}

// jsonShape builds the shape of a JSON Schema document.
func jsonShape(s *jsonschema.Schema) *shape {
	root := s.Document()
	return jsonNode(s, root, root, 0)
}

func jsonNode(s *jsonschema.Schema, root, doc any, depth int) *shape {
	obj, ok := doc.(jsonschema.Object)
	if !ok || depth > 16 {
		return &shape{kind: kJSON, nullable: true}
	}
	get := func(k string) (any, bool) {
		for _, m := range obj {
			if m.Key == k {
				return m.Value, true
			}
		}
		return nil, false
	}
	if ref, ok := get("$ref"); ok {
		if r, ok := ref.(string); ok && strings.HasPrefix(r, "#/") {
			if target, ok := pointer(root, r[2:]); ok {
				return jsonNode(s, root, target, depth+1)
			}
		}
		return &shape{kind: kJSON, nullable: true}
	}
	var types []string
	switch t, _ := get("type"); tv := t.(type) {
	case string:
		types = []string{tv}
	case []any:
		for _, x := range tv {
			if s, ok := x.(string); ok {
				types = append(types, s)
			}
		}
	}
	sh := &shape{nullable: true}
	var nonNull []string
	for _, t := range types {
		if t != "null" {
			nonNull = append(nonNull, t)
		}
	}
	if len(nonNull) != 1 {
		sh.kind = kJSON
		return sh
	}
	switch nonNull[0] {
	case "boolean":
		sh.kind = kBool
	case "integer":
		sh.kind = kInt64
	case "number":
		sh.kind = kFloat64
	case "string":
		sh.kind = kString
	case "object":
		props, _ := get("properties")
		po, ok := props.(jsonschema.Object)
		if !ok || len(po) == 0 {
			sh.kind = kJSON
			return sh
		}
		sh.kind = kRecord
		for _, m := range po {
			sh.fields = append(sh.fields, field{name: m.Key, shape: jsonNode(s, root, m.Value, depth+1)})
		}
	default:
		sh.kind = kJSON
	}
	return sh
}

// pointer resolves a JSON pointer (without "#/") in a decoded document.
func pointer(doc any, p string) (any, bool) {
	for _, tok := range strings.Split(p, "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		obj, ok := doc.(jsonschema.Object)
		if !ok {
			return nil, false
		}
		found := false
		for _, m := range obj {
			if m.Key == tok {
				doc, found = m.Value, true
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	return doc, true
}

// shapeOfParsed dispatches on the parsed schema's format. For Protobuf the
// message is the one path names ([0] when empty).
func shapeOfParsed(parsed any, path []int) (*shape, error) {
	switch p := parsed.(type) {
	case *avro.Schema:
		return avroShape(p)
	case *protobuf.Schema:
		md, err := p.MessageByIndexes(path)
		if err != nil {
			return nil, err
		}
		return protoShape(md), nil
	case *jsonschema.Schema:
		return jsonShape(p), nil
	}
	return nil, fmt.Errorf("unsupported schema type %T", parsed)
}
