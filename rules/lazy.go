package rules

import (
	"errors"
	"slices"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	hamba "github.com/hamba/avro/v2"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Records are decoded only as far as the rules read them: when every use
// of `message` in a set's expressions is a field selection, only those
// top-level fields are built (Avro skips the others' bytes; Protobuf
// unmarshals only their tags); the rest of the record is not allocated.

// fieldSet is a small set of top-level field names.
type fieldSet struct{ names []string }

func (f *fieldSet) add(names ...string) {
	for _, n := range names {
		if !slices.Contains(f.names, n) {
			f.names = append(f.names, n)
		}
	}
}

func (f *fieldSet) has(name string) bool { return slices.Contains(f.names, name) }

// topFields returns the fields selected directly on `message`, and all
// true when `message` is also used otherwise (passed whole, compared,
// iterated), which needs the whole record.
func topFields(a *cel.Ast) (names []string, all bool) {
	idents, selected := 0, 0
	ast.PreOrderVisit(a.NativeRep().Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		switch e.Kind() {
		case ast.IdentKind:
			if e.AsIdent() == "message" {
				idents++
			}
		case ast.SelectKind:
			op := e.AsSelect().Operand()
			if op.Kind() == ast.IdentKind && op.AsIdent() == "message" {
				selected++
				names = append(names, e.AsSelect().FieldName())
			}
		}
	}))
	return names, idents != selected
}

// skip passes over one datum of s without building it.
func (d *avroDecoder) skip(s hamba.Schema) error {
	if d.depth >= maxAvroDepth {
		return errors.New("datum nested too deeply")
	}
	d.depth++
	err := d.skip1(s)
	d.depth--
	return err
}

func (d *avroDecoder) skip1(s hamba.Schema) error {
	switch s.Type() {
	case hamba.Null:
		return nil
	case hamba.Boolean:
		_, err := d.take(1)
		return err
	case hamba.Int, hamba.Long, hamba.Enum:
		_, err := d.long()
		return err
	case hamba.Float:
		_, err := d.take(4)
		return err
	case hamba.Double:
		_, err := d.take(8)
		return err
	case hamba.Bytes, hamba.String:
		n, err := d.long()
		if err != nil {
			return err
		}
		_, err = d.take(n)
		return err
	case hamba.Fixed:
		_, err := d.take(int64(s.(*hamba.FixedSchema).Size()))
		return err
	case hamba.Ref:
		return d.skip(s.(*hamba.RefSchema).Schema())
	case hamba.Union:
		i, err := d.long()
		if err != nil {
			return err
		}
		types := s.(*hamba.UnionSchema).Types()
		if i < 0 || i >= int64(len(types)) {
			return errAvroShort
		}
		return d.skip(types[i])
	case hamba.Array, hamba.Map:
		isMap := s.Type() == hamba.Map
		var item hamba.Schema
		if isMap {
			item = s.(*hamba.MapSchema).Values()
		} else {
			item = s.(*hamba.ArraySchema).Items()
		}
		for {
			n, err := d.count()
			if err != nil {
				return err
			}
			if n == 0 {
				return nil
			}
			if (item.Type() != hamba.Null && n > int64(len(d.b))) || n > maxNullItems {
				return errAvroShort
			}
			for ; n > 0; n-- {
				if isMap {
					kl, err := d.long()
					if err != nil {
						return err
					}
					if _, err := d.take(kl); err != nil {
						return err
					}
				}
				if err := d.skip(item); err != nil {
					return err
				}
			}
		}
	case hamba.Record, hamba.Error:
		for _, f := range s.(*hamba.RecordSchema).Fields() {
			if err := d.skip(f.Type()); err != nil {
				return err
			}
		}
		return nil
	}
	return errAvroShort
}

// record decodes the top-level record, building only the fields in need.
func (d *avroDecoder) record(s hamba.Schema, need *fieldSet) (any, error) {
	for s.Type() == hamba.Ref {
		s = s.(*hamba.RefSchema).Schema()
	}
	rs, ok := s.(*hamba.RecordSchema)
	if !ok || need == nil {
		return d.value(s)
	}
	out := make(map[string]any, len(need.names))
	for _, f := range rs.Fields() {
		if !need.has(f.Name()) {
			if err := d.skip(f.Type()); err != nil {
				return nil, err
			}
			continue
		}
		v, err := d.value(f.Type())
		if err != nil {
			return nil, err
		}
		out[f.Name()] = v
	}
	return out, nil
}

// protoFilter returns the bytes of the fields of md in need, in wire
// order; ok is false when need is nil (the whole message).
func protoFilter(md protoreflect.MessageDescriptor, need *fieldSet, b []byte) (out []byte, ok bool) {
	if need == nil {
		return b, false
	}
	keep := func(num protowire.Number) bool {
		fd := md.Fields().ByNumber(num)
		if fd == nil {
			return false
		}
		if need.has(string(fd.Name())) {
			return true
		}
		// A oneof member selected through its oneof's name.
		return fd.ContainingOneof() != nil && need.has(string(fd.ContainingOneof().Name()))
	}
	out = make([]byte, 0, 64)
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return b, false // malformed: let Unmarshal report it
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return b, false
		}
		if keep(num) {
			out = append(out, b[:n+m]...)
		}
		b = b[n+m:]
	}
	return out, true
}
