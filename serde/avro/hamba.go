package avro

import (
	"fmt"
	"math"
	"strconv"

	"github.com/hamba/avro/v2"
)

// This file builds the hamba/avro form of a validated tree with hamba's
// constructors, so that codecs see exactly the schema we validated (hamba's
// own parser resolves names and validates defaults slightly differently).
//
// The first occurrence of a named type in a document (even one defined by a
// reference) becomes the type itself and later ones become *avro.RefSchema,
// the layout hamba's parser produces, so String() and fingerprints of the
// result are self-contained.

// maxDefaultValues bounds the size of one field default once record
// defaults are expanded (hamba needs every record field spelled out, and a
// field omitted from a record default takes that field's own default, which
// may itself omit fields...). Nested defaults can otherwise grow
// exponentially with the number of record types.
const maxDefaultValues = 100000

type converter struct {
	built map[*named]avro.NamedSchema
	// pending are the fields of every record built, created after all types
	// exist, because hamba validates a default against the record types it
	// contains, which must be complete by then.
	pending []pendingField
	budget  int
}

type pendingField struct {
	f      *field
	typ    avro.Schema
	fields []*avro.Field
	i      int
}

func toHamba(root *node) (avro.Schema, error) {
	c := &converter{built: map[*named]avro.NamedSchema{}}
	s, err := c.schema(root)
	if err != nil {
		return nil, err
	}
	// Two rounds: first every field without its default, so that all record
	// types are complete; then the fields again with their defaults, replacing
	// the first ones in place (the record holds the same slice).
	for _, pf := range c.pending {
		f, err := avro.NewField(pf.f.name, pf.typ, c.fieldOptions(pf.f)...)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", pf.f.path, err)
		}
		pf.fields[pf.i] = f
	}
	for _, pf := range c.pending {
		if pf.f.def == nil {
			continue
		}
		c.budget = maxDefaultValues
		def, err := c.value(pf.f.typ, pf.f.def)
		if err != nil {
			return nil, &ParseError{Ref: pf.f.owner.ref, Path: pointer(pf.f.path, "default"), Reason: err.Error()}
		}
		f, err := avro.NewField(pf.f.name, pf.typ, append(c.fieldOptions(pf.f), avro.WithDefault(def))...)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", pf.f.path, err)
		}
		pf.fields[pf.i] = f
	}
	return s, nil
}

func (c *converter) fieldOptions(f *field) []avro.SchemaOption {
	opts := []avro.SchemaOption{avro.WithAliases(f.aliases), avro.WithOrder(avro.Order(f.order)), avro.WithProps(props(f.props))}
	if f.doc != nil {
		opts = append(opts, avro.WithDoc(*f.doc))
	}
	return opts
}

func (c *converter) schema(n *node) (avro.Schema, error) {
	if n.named != nil {
		if h, ok := c.built[n.named]; ok {
			return avro.NewRefSchema(h), nil
		}
		return c.named(n.named)
	}
	switch n.kind {
	case kindNull:
		return avro.NewNullSchema(avro.WithProps(props(n.props))), nil
	case kindArray:
		items, err := c.schema(n.items)
		if err != nil {
			return nil, err
		}
		return avro.NewArraySchema(items, avro.WithProps(props(n.props))), nil
	case kindMap:
		values, err := c.schema(n.values)
		if err != nil {
			return nil, err
		}
		return avro.NewMapSchema(values, avro.WithProps(props(n.props))), nil
	case kindUnion:
		types := make([]avro.Schema, len(n.branches))
		for i, b := range n.branches {
			t, err := c.schema(b)
			if err != nil {
				return nil, err
			}
			types[i] = t
		}
		return avro.NewUnionSchema(types)
	}
	ps := props(n.props)
	logical := primitiveLogical(avro.Type(n.kind.String()), ps)
	return avro.NewPrimitiveSchema(avro.Type(n.kind.String()), logical, avro.WithProps(ps)), nil
}

func (c *converter) named(nm *named) (avro.NamedSchema, error) {
	var opts []avro.SchemaOption
	opts = append(opts, avro.WithAliases(nm.aliases))
	ps := props(nm.props)
	if nm.doc != nil {
		if nm.kind == kindFixed {
			ps["doc"] = *nm.doc // hamba's fixed has no doc; keep it as a property
		} else {
			opts = append(opts, avro.WithDoc(*nm.doc))
		}
	}
	switch nm.kind {
	case kindRecord:
		fields := make([]*avro.Field, len(nm.fields))
		newRecord := avro.NewRecordSchema
		if nm.isError {
			newRecord = avro.NewErrorRecordSchema
		}
		rec, err := newRecord(nm.name, nm.space, fields, append(opts, avro.WithProps(ps))...)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", nm.path, err)
		}
		c.built[nm] = rec
		// Field types are built now, in document order, so that named types
		// defined inside the record are defined at their first occurrence.
		for i, f := range nm.fields {
			typ, err := c.schema(f.typ)
			if err != nil {
				return nil, err
			}
			c.pending = append(c.pending, pendingField{f: f, typ: typ, fields: fields, i: i})
		}
		return rec, nil
	case kindEnum:
		if nm.enumDef != nil {
			opts = append(opts, avro.WithDefault(*nm.enumDef))
		}
		e, err := avro.NewEnumSchema(nm.name, nm.space, nm.symbols, append(opts, avro.WithProps(ps))...)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", nm.path, err)
		}
		c.built[nm] = e
		return e, nil
	default:
		logical := fixedLogical(nm.size, ps)
		f, err := avro.NewFixedSchema(nm.name, nm.space, nm.size, logical, append(opts, avro.WithProps(ps))...)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", nm.path, err)
		}
		c.built[nm] = f
		return f, nil
	}
}

// primitiveLogical recognises the logical types hamba supports on a
// primitive, consuming their attributes from ps. Anything else stays an
// ordinary property (spec §7: invalid logical types are ignored).
func primitiveLogical(t avro.Type, ps map[string]any) avro.LogicalSchema {
	lt, _ := ps["logicalType"].(string)
	var logical avro.LogicalSchema
	switch l := avro.LogicalType(lt); {
	case t == avro.String && l == avro.UUID,
		t == avro.Int && (l == avro.Date || l == avro.TimeMillis),
		t == avro.Long && (l == avro.TimeMicros || l == avro.TimestampMillis || l == avro.TimestampMicros ||
			l == avro.LocalTimestampMillis || l == avro.LocalTimestampMicros):
		logical = avro.NewPrimitiveLogicalSchema(l)
	case t == avro.Bytes && l == avro.Decimal:
		logical = decimal(-1, ps)
	}
	if logical != nil {
		delete(ps, "logicalType")
	}
	return logical
}

func fixedLogical(size int, ps map[string]any) avro.LogicalSchema {
	var logical avro.LogicalSchema
	switch lt, _ := ps["logicalType"].(string); avro.LogicalType(lt) {
	case avro.Duration:
		if size == 12 {
			logical = avro.NewPrimitiveLogicalSchema(avro.Duration)
		}
	case avro.Decimal:
		logical = decimal(size, ps)
	}
	if logical != nil {
		delete(ps, "logicalType")
	}
	return logical
}

// decimal reads precision and scale; an unusable pair makes the annotation
// invalid, and so ignored.
func decimal(size int, ps map[string]any) avro.LogicalSchema {
	prec, ok := integral(ps["precision"])
	if !ok || prec <= 0 {
		return nil
	}
	scale := 0
	if v, present := ps["scale"]; present {
		if scale, ok = integral(v); !ok {
			return nil
		}
	}
	if scale < 0 || scale > prec {
		return nil
	}
	if size >= 0 {
		// The largest precision whose values fit in size bytes, two's complement.
		if maxPrec := int(math.Floor(math.Log10(math.Pow(2, 8*float64(size)-1) - 1))); prec > maxPrec {
			return nil
		}
	}
	delete(ps, "precision")
	delete(ps, "scale")
	return avro.NewDecimalLogicalSchema(prec, scale)
}

func integral(v any) (int, bool) {
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || f > math.MaxInt32 || f < math.MinInt32 {
		return 0, false
	}
	return int(f), true
}

// props converts custom properties to the plain Go values hamba's parser
// produces (numbers as float64).
func props(ms []jsonMember) map[string]any {
	out := make(map[string]any, len(ms))
	for _, m := range ms {
		out[m.key] = plain(m.val)
	}
	return out
}

func plain(v *jsonValue) any {
	switch v.kind {
	case jsonNull:
		return nil
	case jsonBool:
		return v.b
	case jsonNumber:
		f, _ := strconv.ParseFloat(v.str, 64) // a valid JSON number; ±Inf past float64's range
		return f
	case jsonString:
		return v.str
	case jsonArray:
		out := make([]any, len(v.arr))
		for i, e := range v.arr {
			out[i] = plain(e)
		}
		return out
	default:
		out := make(map[string]any, len(v.obj))
		for _, m := range v.obj {
			out[m.key] = plain(m.val)
		}
		return out
	}
}

// value converts a validated default to hamba's form, spelling out every
// field of record values (from the field's own default when omitted).
func (c *converter) value(n *node, v *jsonValue) (any, error) {
	c.budget--
	if c.budget < 0 {
		return nil, fmt.Errorf("default is too large: more than %d values once omitted record fields take their own defaults", maxDefaultValues)
	}
	switch n.kind {
	case kindUnion:
		return c.value(n.branches[0], v)
	case kindInt, kindLong:
		// Exact integers: through float64 a long past 2^53 would lose digits.
		i, err := strconv.ParseInt(v.str, 10, 64) // validated: an integer literal in range
		if err != nil {
			return nil, err
		}
		if n.kind == kindInt {
			return int(i), nil
		}
		return i, nil
	case kindArray:
		out := make([]any, len(v.arr))
		for i, e := range v.arr {
			x, err := c.value(n.items, e)
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	case kindMap:
		out := make(map[string]any, len(v.obj))
		for _, m := range v.obj {
			x, err := c.value(n.values, m.val)
			if err != nil {
				return nil, err
			}
			out[m.key] = x
		}
		return out, nil
	case kindRecord:
		out := make(map[string]any, len(n.named.fields))
		for _, f := range n.named.fields {
			fv := v.get(f.name)
			if fv == nil {
				fv = f.def // validated: present, valid and not self-dependent
			}
			x, err := c.value(f.typ, fv)
			if err != nil {
				return nil, err
			}
			out[f.name] = x
		}
		return out, nil
	}
	return plain(v), nil
}
