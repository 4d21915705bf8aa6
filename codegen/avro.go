package codegen

import (
	"fmt"
	"strings"

	hamba "github.com/hamba/avro/v2"

	"github.com/sluicehq/sluice/manifest"
	savro "github.com/sluicehq/sluice/serde/avro"
)

// avroType emits the Go types of an Avro subject's schema and returns the
// Go type of its values. Records become structs with `avro` tags in the
// shapes hamba/avro encodes: nullable unions become pointers, logical
// timestamps and dates time.Time, decimals *big.Rat, other unions any.
//
// hamba/avro's own generator (hamba/avro/v2/gen) is not used: it needs two
// modules this repository does not require (ettle/strcase and
// golang.org/x/tools), and the mapping is short.
func (g *manifestGen) avroType(sub *manifest.Subject) (string, error) {
	s, ok := sub.Schema.(*savro.Schema)
	if !ok {
		return "", fmt.Errorf("subject %s: not a parsed Avro schema", sub.Name)
	}
	root := s.Avro()
	if sub.Record != "" {
		if r := findAvroRecord(root, sub.Record, map[string]bool{}); r != nil {
			root = r
		} else {
			return "", fmt.Errorf("%s has no record %s", sub.File, sub.Record)
		}
	}
	return g.avroGoType(root, sub.File)
}

func findAvroRecord(s hamba.Schema, name string, seen map[string]bool) hamba.Schema {
	switch t := s.(type) {
	case *hamba.RefSchema:
		return findAvroRecord(t.Schema(), name, seen)
	case *hamba.RecordSchema:
		if t.FullName() == name {
			return t
		}
		if seen[t.FullName()] {
			return nil
		}
		seen[t.FullName()] = true
		for _, f := range t.Fields() {
			if r := findAvroRecord(f.Type(), name, seen); r != nil {
				return r
			}
		}
	case *hamba.UnionSchema:
		for _, b := range t.Types() {
			if r := findAvroRecord(b, name, seen); r != nil {
				return r
			}
		}
	case *hamba.ArraySchema:
		return findAvroRecord(t.Items(), name, seen)
	case *hamba.MapSchema:
		return findAvroRecord(t.Values(), name, seen)
	}
	return nil
}

func (g *manifestGen) avroGoType(s hamba.Schema, file string) (string, error) {
	switch t := s.(type) {
	case *hamba.RefSchema:
		return g.avroGoType(t.Schema(), file)
	case *hamba.RecordSchema:
		return g.avroRecord(t, file)
	case *hamba.EnumSchema:
		return "string", nil
	case *hamba.FixedSchema:
		if t.Logical() != nil {
			if t.Logical().Type() == hamba.Decimal {
				return "*" + g.e.use("math/big") + ".Rat", nil
			}
		}
		return fmt.Sprintf("[%d]byte", t.Size()), nil
	case *hamba.ArraySchema:
		it, err := g.avroGoType(t.Items(), file)
		return "[]" + it, err
	case *hamba.MapSchema:
		vt, err := g.avroGoType(t.Values(), file)
		return "map[string]" + vt, err
	case *hamba.UnionSchema:
		types := t.Types()
		if t.Nullable() && len(types) == 2 {
			other := types[0]
			if other.Type() == hamba.Null {
				other = types[1]
			}
			ot, err := g.avroGoType(other, file)
			if err != nil {
				return "", err
			}
			if strings.HasPrefix(ot, "*") {
				return ot, nil
			}
			return "*" + ot, nil
		}
		return "any", nil
	case *hamba.PrimitiveSchema:
		var logical hamba.LogicalType
		if t.Logical() != nil {
			logical = t.Logical().Type()
		}
		switch t.Type() {
		case hamba.Null:
			return "any", nil
		case hamba.Boolean:
			return "bool", nil
		case hamba.Int:
			switch logical {
			case hamba.Date:
				return g.e.use("time") + ".Time", nil
			case hamba.TimeMillis:
				return g.e.use("time") + ".Duration", nil
			}
			return "int32", nil
		case hamba.Long:
			switch logical {
			case hamba.TimestampMillis, hamba.TimestampMicros:
				return g.e.use("time") + ".Time", nil
			case hamba.TimeMicros:
				return g.e.use("time") + ".Duration", nil
			}
			return "int64", nil
		case hamba.Float:
			return "float32", nil
		case hamba.Double:
			return "float64", nil
		case hamba.Bytes:
			if logical == hamba.Decimal {
				return "*" + g.e.use("math/big") + ".Rat", nil
			}
			return "[]byte", nil
		case hamba.String:
			return "string", nil
		}
	}
	return "", fmt.Errorf("%s: Avro type %s has no Go mapping", file, s.Type())
}

// avroRecord emits the struct of a record once and returns its name.
func (g *manifestGen) avroRecord(r *hamba.RecordSchema, file string) (string, error) {
	key := "avro:" + r.FullName()
	if n, ok := g.e.typeNames[key]; ok {
		return n, nil
	}
	name := exportName(r.Name())
	if err := g.e.claim(name, "Avro record "+r.FullName()); err != nil {
		return "", err
	}
	g.e.typeNames[key] = name
	type field struct{ name, typ, tag, doc string }
	var fields []field
	for _, f := range r.Fields() {
		ft, err := g.avroGoType(f.Type(), file)
		if err != nil {
			return "", fmt.Errorf("record %s field %s: %w", r.FullName(), f.Name(), err)
		}
		fields = append(fields, field{exportName(f.Name()), ft, f.Name(), f.Doc()})
	}
	var b strings.Builder
	doc := "is the Avro record " + r.FullName() + "."
	if r.Doc() != "" {
		doc = "is the Avro record " + r.FullName() + ": " + oneLine(r.Doc())
	}
	fmt.Fprintf(&b, "// %s %s\ntype %s struct {\n", name, doc, name)
	seen := map[string]bool{}
	for _, f := range fields {
		if seen[f.name] {
			return "", fmt.Errorf("record %s: two fields map to the Go name %s", r.FullName(), f.name)
		}
		seen[f.name] = true
		if f.doc != "" {
			fmt.Fprintf(&b, "\t// %s\n", oneLine(f.doc))
		}
		fmt.Fprintf(&b, "\t%s %s `avro:%q`\n", f.name, f.typ, f.tag)
	}
	b.WriteString("}\n\n")
	g.e.types.WriteString(b.String())
	return name, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
