package avro

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The parser builds its own tree (node, named, field) rather than using
// hamba/avro's parser directly, for three reasons: errors must name a JSON
// pointer into the document, the canonical texts need attribute-level
// control (docs, aliases, props, definition vs. reference sites), and the
// validation of spec §7 is stricter than hamba's in places (union
// duplicates that differ only by logical type, int defaults of 1.5, fixed
// defaults of the wrong length). The hamba schema is then built from the
// validated tree (hamba.go), so both views always agree.

// kind is an Avro schema type.
type kind uint8

const (
	kindNull kind = iota
	kindBoolean
	kindInt
	kindLong
	kindFloat
	kindDouble
	kindBytes
	kindString
	kindRecord
	kindEnum
	kindFixed
	kindArray
	kindMap
	kindUnion
)

var kindNames = [...]string{"null", "boolean", "int", "long", "float", "double", "bytes", "string", "record", "enum", "fixed", "array", "map", "union"}

func (k kind) String() string { return kindNames[k] }

// primitives maps primitive type names to kinds.
var primitives = map[string]kind{
	"null": kindNull, "boolean": kindBoolean, "int": kindInt, "long": kindLong,
	"float": kindFloat, "double": kindDouble, "bytes": kindBytes, "string": kindString,
}

// node is one occurrence of a schema in a document. Named types occur once
// as a definition (def true) and then as references to the same *named.
type node struct {
	kind     kind
	named    *named       // records, enums, fixed
	def      bool         // this occurrence defines named
	props    []jsonMember // custom properties of primitives, arrays and maps
	items    *node        // arrays
	values   *node        // maps
	branches []*node      // unions
}

// named is a record, enum or fixed type.
type named struct {
	kind    kind
	name    string // unqualified
	space   string // namespace, "" for the null namespace
	full    string
	doc     *string
	aliases []string // full names, as written order
	props   []jsonMember
	path    string // where it is defined, for messages
	ref     string // reference that defines it, "" for the schema itself
	isError bool
	fields  []*field
	symbols []string
	enumDef *string
	size    int
	// broken marks a type whose definition had errors, so that checks of
	// defaults that use it do not pile follow-on errors onto the real one.
	broken bool
}

// field is one field of a record.
type field struct {
	name    string
	typ     *node
	doc     *string
	aliases []string
	def     *jsonValue
	order   string // "ascending" (the default), "descending" or "ignore"
	props   []jsonMember
	path    string
	owner   *named
	state   defaultState
}

// defaultState memoises default validation per field, so that a record
// default that omits a field can rely on that field's own default, and a
// default that (through omissions) depends on itself is caught.
type defaultState uint8

const (
	defaultUnchecked defaultState = iota
	defaultChecking
	defaultValid
	defaultInvalid
)

// Reserved attribute names per schema kind; every other key is a custom
// property and is kept.
var (
	reservedPrimitive = []string{"type"}
	reservedRecord    = []string{"type", "name", "namespace", "doc", "aliases", "fields"}
	reservedEnum      = []string{"type", "name", "namespace", "doc", "aliases", "symbols", "default"}
	reservedFixed     = []string{"type", "name", "namespace", "doc", "aliases", "size"}
	reservedArray     = []string{"type", "items"}
	reservedMap       = []string{"type", "values"}
	reservedField     = []string{"name", "type", "doc", "aliases", "default", "order"}
)

// parser parses one schema and its references into a shared name table.
type parser struct {
	names   map[string]*named
	all     []*named // every type defined so far, in definition order
	ref     string   // reference being parsed, "" for the schema itself
	errs    ParseErrors
	defined []*named // types defined by the document being parsed
	fields  []*field // fields of the document being parsed, for the default pass
}

func (p *parser) errorf(path, format string, args ...any) {
	if len(p.errs) >= maxErrors {
		return
	}
	p.errs = append(p.errs, &ParseError{Ref: p.ref, Path: path, Reason: fmt.Sprintf(format, args...)})
}

// document parses one schema text. It returns nil when the text had errors
// (recorded in p.errs).
func (p *parser) document(text string) *node {
	v, serr := parseJSON(text)
	if serr != nil {
		p.errs = append(p.errs, &ParseError{Ref: p.ref, Line: serr.line, Column: serr.col, Reason: "malformed JSON: " + serr.msg})
		return nil
	}
	before := len(p.errs)
	p.defined = nil
	p.fields = nil
	n := p.schema(v, "", "")
	// Defaults are checked once the whole document is known, so that a
	// default of a recursive record type sees every field of that record.
	for _, f := range p.fields {
		p.fieldDefault(f)
	}
	p.checkAliases()
	if len(p.errs) > before {
		return nil
	}
	return n
}

// schema parses the schema at v (located at path) with enclosing namespace ns.
func (p *parser) schema(v *jsonValue, path, ns string) *node {
	switch v.kind {
	case jsonString:
		return p.typeName(v.str, path, ns)
	case jsonArray:
		return p.union(v, path, ns)
	case jsonObject:
		return p.object(v, path, ns)
	}
	p.errorf(path, "a schema must be a type name, a JSON object or a union array, got %s", v.describe())
	return nil
}

// typeName resolves a type named by a string: a primitive or a named type
// defined earlier.
func (p *parser) typeName(name, path, ns string) *node {
	if k, ok := primitives[name]; ok {
		return &node{kind: k}
	}
	if nm := p.lookup(name, ns); nm != nil {
		return &node{kind: nm.kind, named: nm}
	}
	switch name {
	case "record", "error", "enum", "fixed", "array", "map":
		p.errorf(path, "type %q must be written as a JSON object with its attributes, e.g. {\"type\":%q,...}", name, name)
	default:
		p.errorf(path, "unknown type %q: not a primitive type and no named type of that name is defined before this point (types defined by other schemas must be passed as references)", name)
	}
	return nil
}

// lookup finds a named type the way Apache Avro does: a dotted name is a
// full name; otherwise the enclosing namespace is tried first and then the
// null namespace.
func (p *parser) lookup(name, ns string) *named {
	if strings.Contains(name, ".") || ns == "" {
		return p.names[name]
	}
	if nm := p.names[ns+"."+name]; nm != nil {
		return nm
	}
	return p.names[name]
}

func (p *parser) union(v *jsonValue, path, ns string) *node {
	if len(v.arr) == 0 {
		p.errorf(path, "union has no branches")
		return nil
	}
	n := &node{kind: kindUnion}
	seen := map[string]int{}
	ok := true
	for i, b := range v.arr {
		bp := index(path, i)
		if b.kind == jsonArray {
			p.errorf(bp, "a union cannot directly contain another union")
			ok = false
			continue
		}
		bn := p.schema(b, bp, ns)
		if bn == nil {
			ok = false
			continue
		}
		key := bn.kind.String()
		if bn.named != nil {
			key = bn.named.full
		}
		if j, dup := seen[key]; dup {
			if bn.named != nil {
				p.errorf(bp, "union contains named type %q twice (branches %d and %d)", key, j, i)
			} else {
				p.errorf(bp, "union contains two branches of type %s (branches %d and %d); unnamed types may appear once each, whatever their logical type", key, j, i)
			}
			ok = false
			continue
		}
		seen[key] = i
		n.branches = append(n.branches, bn)
	}
	if !ok {
		return nil
	}
	return n
}

func (p *parser) object(v *jsonValue, path, ns string) *node {
	t := v.get("type")
	if t == nil {
		p.errorf(path, `schema object has no "type"`)
		return nil
	}
	if t.kind != jsonString {
		hint := ""
		if t.kind == jsonArray {
			hint = " (write a union as a bare JSON array, not inside \"type\")"
		} else if t.kind == jsonObject {
			hint = ` (in a schema object "type" names the kind; nesting a schema there is only allowed in a field)`
		}
		p.errorf(pointer(path, "type"), `"type" must be a string, got %s%s`, t.kind, hint)
		return nil
	}
	switch t.str {
	case "record", "error":
		return p.record(v, path, ns, t.str == "error")
	case "enum":
		return p.enum(v, path, ns)
	case "fixed":
		return p.fixed(v, path, ns)
	case "array":
		items := v.get("items")
		if items == nil {
			p.errorf(path, `array schema has no "items"`)
			return nil
		}
		in := p.schema(items, pointer(path, "items"), ns)
		if in == nil {
			return nil
		}
		return &node{kind: kindArray, items: in, props: customProps(v, reservedArray)}
	case "map":
		values := v.get("values")
		if values == nil {
			p.errorf(path, `map schema has no "values"`)
			return nil
		}
		vn := p.schema(values, pointer(path, "values"), ns)
		if vn == nil {
			return nil
		}
		return &node{kind: kindMap, values: vn, props: customProps(v, reservedMap)}
	}
	if k, ok := primitives[t.str]; ok {
		return &node{kind: k, props: customProps(v, reservedPrimitive)}
	}
	// {"type": "com.example.Name"} refers to a named type; Avro ignores any
	// other attributes of such an object, and so do we.
	return p.typeName(t.str, pointer(path, "type"), ns)
}

func customProps(v *jsonValue, reserved []string) []jsonMember {
	var out []jsonMember
	for _, m := range v.obj {
		if !slices.Contains(reserved, m.key) {
			out = append(out, m)
		}
	}
	return out
}

// declare reads the name, namespace, aliases and doc of a named type and
// registers it. It returns nil (after recording why) when the name itself
// is unusable; other attribute problems are recorded and parsing goes on.
func (p *parser) declare(v *jsonValue, path, ns string, k kind) *named {
	nv := v.get("name")
	if nv == nil {
		p.errorf(path, `%s has no "name"`, k)
		return nil
	}
	if nv.kind != jsonString {
		p.errorf(pointer(path, "name"), `"name" must be a string, got %s`, nv.kind)
		return nil
	}
	nm := &named{kind: k, path: path, ref: p.ref, broken: true}
	space := ns
	if sv := v.get("namespace"); sv != nil {
		switch {
		case sv.kind == jsonNull:
			space = ""
		case sv.kind != jsonString:
			p.errorf(pointer(path, "namespace"), `"namespace" must be a string, got %s`, sv.kind)
		case sv.str != "" && !validFullName(sv.str):
			p.errorf(pointer(path, "namespace"), "invalid namespace %s: each dot-separated part must match [A-Za-z_][A-Za-z0-9_]*", quote(sv.str))
		default:
			space = sv.str
		}
	}
	name := nv.str
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		// A dotted name carries its namespace and overrides "namespace".
		space, name = name[:i], name[i+1:]
	}
	if !validFullName(nv.str) {
		p.errorf(pointer(path, "name"), "invalid name %s: names must match [A-Za-z_][A-Za-z0-9_]* (dot-separated for a namespace)", quote(nv.str))
		return nil
	}
	nm.name, nm.space = name, space
	nm.full = name
	if space != "" {
		nm.full = space + "." + name
	}
	if _, prim := primitives[name]; prim {
		// The spec: primitive type names may not be defined in any namespace.
		p.errorf(pointer(path, "name"), "%s cannot be named %q: that is a primitive type name", k, nm.full)
		return nil
	}
	if prev := p.names[nm.full]; prev != nil {
		where := "at " + prev.path
		if prev.path == "" {
			where = "at the top level"
		}
		if prev.ref != p.ref {
			where = "in reference " + strconv.Quote(prev.ref)
			if prev.ref == "" {
				where = "in the schema"
			}
		}
		p.errorf(pointer(path, "name"), "type %q is already defined (%s)", nm.full, where)
		return nil
	}
	p.names[nm.full] = nm
	p.all = append(p.all, nm)
	p.defined = append(p.defined, nm)

	if dv := v.get("doc"); dv != nil {
		if dv.kind != jsonString {
			p.errorf(pointer(path, "doc"), `"doc" must be a string, got %s`, dv.kind)
		} else {
			nm.doc = &dv.str
		}
	}
	for i, a := range p.aliases(v, path, true) {
		if !strings.Contains(a, ".") && space != "" {
			a = space + "." + a
		}
		if slices.Contains(nm.aliases, a) {
			p.errorf(index(pointer(path, "aliases"), i), "duplicate alias %q", a)
			continue
		}
		nm.aliases = append(nm.aliases, a)
	}
	return nm
}

// aliases reads an "aliases" array. Type aliases may be dotted full names;
// field aliases may not.
func (p *parser) aliases(v *jsonValue, path string, dotted bool) []string {
	av := v.get("aliases")
	if av == nil {
		return nil
	}
	ap := pointer(path, "aliases")
	if av.kind != jsonArray {
		p.errorf(ap, `"aliases" must be an array of strings, got %s`, av.kind)
		return nil
	}
	var out []string
	for i, e := range av.arr {
		switch {
		case e.kind != jsonString:
			p.errorf(index(ap, i), "alias must be a string, got %s", e.kind)
		case dotted && !validFullName(e.str), !dotted && !validName(e.str):
			p.errorf(index(ap, i), "invalid alias %s: names must match [A-Za-z_][A-Za-z0-9_]*", quote(e.str))
		default:
			out = append(out, e.str)
		}
	}
	return out
}

func (p *parser) record(v *jsonValue, path, ns string, isError bool) *node {
	nm := p.declare(v, path, ns, kindRecord)
	fv := v.get("fields")
	if fv == nil {
		p.errorf(path, `record has no "fields"`)
		return nil
	}
	if fv.kind != jsonArray {
		p.errorf(pointer(path, "fields"), `"fields" must be an array, got %s`, fv.kind)
		return nil
	}
	space := ns
	if nm != nil {
		nm.isError = isError
		nm.props = customProps(v, reservedRecord)
		space = nm.space
	}
	// Fields are parsed even when the name was bad, to report their problems too.
	ok := nm != nil
	seen := map[string]int{}
	var fields []*field
	for i, f := range fv.arr {
		fp := index(pointer(path, "fields"), i)
		fd := p.field(f, fp, space)
		if fd == nil {
			ok = false
			continue
		}
		if j, dup := seen[fd.name]; dup {
			p.errorf(pointer(fp, "name"), "duplicate field name %q (also field %d)", fd.name, j)
			ok = false
			continue
		}
		seen[fd.name] = i
		fd.owner = nm
		fields = append(fields, fd)
	}
	if !ok {
		return nil
	}
	nm.fields, nm.broken = fields, false
	return &node{kind: kindRecord, named: nm, def: true}
}

func (p *parser) field(v *jsonValue, path, ns string) *field {
	if v.kind != jsonObject {
		p.errorf(path, "field must be a JSON object, got %s", v.kind)
		return nil
	}
	f := &field{path: path, order: "ascending"}
	ok := true
	nv := v.get("name")
	switch {
	case nv == nil:
		p.errorf(path, `field has no "name"`)
		ok = false
	case nv.kind != jsonString:
		p.errorf(pointer(path, "name"), `"name" must be a string, got %s`, nv.kind)
		ok = false
	case !validName(nv.str):
		p.errorf(pointer(path, "name"), "invalid field name %s: names must match [A-Za-z_][A-Za-z0-9_]*", quote(nv.str))
		ok = false
	default:
		f.name = nv.str
	}
	if dv := v.get("doc"); dv != nil {
		if dv.kind != jsonString {
			p.errorf(pointer(path, "doc"), `"doc" must be a string, got %s`, dv.kind)
		} else {
			f.doc = &dv.str
		}
	}
	for i, a := range p.aliases(v, path, false) {
		if slices.Contains(f.aliases, a) {
			p.errorf(index(pointer(path, "aliases"), i), "duplicate alias %q", a)
			continue
		}
		f.aliases = append(f.aliases, a)
	}
	if ov := v.get("order"); ov != nil {
		o := ""
		if ov.kind == jsonString {
			o = strings.ToLower(ov.str) // Avro reads the order case-insensitively
		}
		switch o {
		case "ascending", "descending", "ignore":
			f.order = o
		default:
			p.errorf(pointer(path, "order"), `"order" must be "ascending", "descending" or "ignore", got %s`, ov.short())
		}
	}
	f.props = customProps(v, reservedField)
	tv := v.get("type")
	if tv == nil {
		p.errorf(path, `field %q has no "type"`, f.name)
		return nil
	}
	f.typ = p.schema(tv, pointer(path, "type"), ns)
	if f.typ == nil || !ok {
		return nil
	}
	f.def = v.get("default")
	if f.def != nil {
		p.fields = append(p.fields, f)
	}
	return f
}

func (p *parser) enum(v *jsonValue, path, ns string) *node {
	nm := p.declare(v, path, ns, kindEnum)
	sv := v.get("symbols")
	if sv == nil {
		p.errorf(path, `enum has no "symbols"`)
		return nil
	}
	sp := pointer(path, "symbols")
	if sv.kind != jsonArray {
		p.errorf(sp, `"symbols" must be an array of strings, got %s`, sv.kind)
		return nil
	}
	if len(sv.arr) == 0 {
		p.errorf(sp, "enum has no symbols")
		return nil
	}
	ok := nm != nil
	var symbols []string
	for i, s := range sv.arr {
		switch {
		case s.kind != jsonString:
			p.errorf(index(sp, i), "symbol must be a string, got %s", s.kind)
			ok = false
		case !validName(s.str):
			p.errorf(index(sp, i), "invalid symbol %s: symbols must match [A-Za-z_][A-Za-z0-9_]*", quote(s.str))
			ok = false
		case slices.Contains(symbols, s.str):
			p.errorf(index(sp, i), "duplicate symbol %q", s.str)
			ok = false
		default:
			symbols = append(symbols, s.str)
		}
	}
	var def *string
	if dv := v.get("default"); dv != nil {
		switch {
		case dv.kind != jsonString:
			p.errorf(pointer(path, "default"), "enum default must be a string naming a symbol, got %s", dv.short())
			ok = false
		case ok && !slices.Contains(symbols, dv.str):
			p.errorf(pointer(path, "default"), "enum default %q is not one of the symbols", dv.str)
			ok = false
		default:
			def = &dv.str
		}
	}
	if !ok {
		return nil
	}
	nm.symbols, nm.enumDef, nm.broken = symbols, def, false
	nm.props = customProps(v, reservedEnum)
	return &node{kind: kindEnum, named: nm, def: true}
}

func (p *parser) fixed(v *jsonValue, path, ns string) *node {
	nm := p.declare(v, path, ns, kindFixed)
	sv := v.get("size")
	if sv == nil {
		p.errorf(path, `fixed has no "size"`)
		return nil
	}
	size, err := strconv.ParseInt(sv.str, 10, 32)
	if sv.kind != jsonNumber || !sv.isInteger() || err != nil || size < 0 {
		p.errorf(pointer(path, "size"), "fixed size must be an integer from 0 to %d, got %s", math.MaxInt32, sv.short())
		return nil
	}
	if nm == nil {
		return nil
	}
	nm.size, nm.broken = int(size), false
	nm.props = customProps(v, reservedFixed)
	return &node{kind: kindFixed, named: nm, def: true}
}

// checkAliases rejects an alias that is also the full name of a type. Avro
// does not resolve type references through aliases, but a name that means
// two types makes schema resolution ambiguous (and hamba/avro registers
// aliases as names, so it would resolve references differently from us).
// It looks at the aliases of the current document's types against every
// name, and at the current document's names against earlier aliases.
func (p *parser) checkAliases() {
	mine := map[*named]bool{}
	for _, nm := range p.defined {
		mine[nm] = true
	}
	for _, nm := range p.defined {
		for i, a := range nm.aliases {
			if other := p.names[a]; other != nil && other != nm {
				p.errorf(index(pointer(nm.path, "aliases"), i), "alias %q of %s %s is the name of another type", a, nm.kind, nm.full)
			}
		}
	}
	for _, nm := range p.all {
		if mine[nm] {
			continue
		}
		for _, a := range nm.aliases {
			if other := p.names[a]; other != nil && mine[other] {
				p.errorf(pointer(other.path, "name"), "type %q is already an alias of %s %s (in reference %q)", a, nm.kind, nm.full, nm.ref)
			}
		}
	}
}

// fieldDefault validates the default of f once.
func (p *parser) fieldDefault(f *field) bool {
	switch f.state {
	case defaultValid:
		return true
	case defaultInvalid, defaultChecking:
		return false
	}
	f.state = defaultChecking
	at, reason := p.checkDefault(f.typ, f.def, pointer(f.path, "default"), true)
	if reason != "" {
		f.state = defaultInvalid
		p.errorf(at, "%s", reason)
		return false
	}
	f.state = defaultValid
	return true
}

// checkDefault checks that v is a valid value of n. It returns the JSON
// pointer of the first offending value and why, or "" when v is valid.
// top is true for the field's whole default, where a union's first-branch
// rule deserves an explanation.
func (p *parser) checkDefault(n *node, v *jsonValue, path string, top bool) (string, string) {
	if n.named != nil && n.named.broken {
		return "", "" // the definition's own error is already reported
	}
	mismatch := func() (string, string) {
		return path, fmt.Sprintf("default %s does not match type %s", v.short(), describe(n))
	}
	switch n.kind {
	case kindNull:
		if v.kind != jsonNull {
			return mismatch()
		}
	case kindBoolean:
		if v.kind != jsonBool {
			return mismatch()
		}
	case kindInt, kindLong:
		bits := 32
		if n.kind == kindLong {
			bits = 64
		}
		if !v.isInteger() {
			return mismatch()
		}
		if _, err := strconv.ParseInt(v.str, 10, bits); err != nil {
			return path, fmt.Sprintf("default %s is out of range for type %s", v.str, n.kind)
		}
	case kindFloat, kindDouble:
		if v.kind != jsonNumber {
			return mismatch()
		}
	case kindString:
		if v.kind != jsonString {
			return mismatch()
		}
	case kindBytes, kindFixed:
		if v.kind != jsonString {
			return mismatch()
		}
		for _, r := range v.str {
			if r > 0xFF {
				return path, fmt.Sprintf("default %s is not a valid %s value: character %U is above U+00FF (each character of a bytes default is one byte)", v.short(), describe(n), r)
			}
		}
		if n.kind == kindFixed {
			if l := utf8.RuneCountInString(v.str); l != n.named.size {
				return path, fmt.Sprintf("default %s has %d bytes, but %s has size %d", v.short(), l, describe(n), n.named.size)
			}
		}
	case kindEnum:
		if v.kind != jsonString {
			return mismatch()
		}
		if !slices.Contains(n.named.symbols, v.str) {
			return path, fmt.Sprintf("default %s is not a symbol of %s", v.short(), describe(n))
		}
	case kindArray:
		if v.kind != jsonArray {
			return mismatch()
		}
		for i, e := range v.arr {
			if at, why := p.checkDefault(n.items, e, index(path, i), false); why != "" {
				return at, why
			}
		}
	case kindMap:
		if v.kind != jsonObject {
			return mismatch()
		}
		for _, m := range v.obj {
			if at, why := p.checkDefault(n.values, m.val, pointer(path, m.key), false); why != "" {
				return at, why
			}
		}
	case kindUnion:
		at, why := p.checkDefault(n.branches[0], v, path, false)
		if why != "" && at == path {
			why = fmt.Sprintf("default %s does not match %s, the first branch of the union (a union's default must match its first branch)", v.short(), describe(n.branches[0]))
		}
		return at, why
	case kindRecord:
		if v.kind != jsonObject {
			return mismatch()
		}
		for _, f := range n.named.fields {
			if fv := v.get(f.name); fv != nil {
				if at, why := p.checkDefault(f.typ, fv, pointer(path, f.name), false); why != "" {
					return at, why
				}
				continue
			}
			switch {
			case f.def == nil:
				return path, fmt.Sprintf("default %s has no value for field %q of %s, which has no default of its own", v.short(), f.name, describe(n))
			case f.state == defaultChecking:
				return path, fmt.Sprintf("default %s has no value for field %q of %s, whose own default needs itself (the default would be infinitely deep)", v.short(), f.name, describe(n))
			case !p.fieldDefault(f):
				return path, fmt.Sprintf("default %s has no value for field %q of %s, whose own default is invalid", v.short(), f.name, describe(n))
			}
		}
	}
	return "", ""
}

// describe names a type for messages: "int", "record com.example.Order".
func describe(n *node) string {
	if n.named != nil {
		return n.kind.String() + " " + n.named.full
	}
	return n.kind.String()
}

// validName reports whether s matches [A-Za-z_][A-Za-z0-9_]*.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// validFullName reports whether every dot-separated part of s is a valid name.
func validFullName(s string) bool {
	for part := range strings.SplitSeq(s, ".") {
		if !validName(part) {
			return false
		}
	}
	return true
}
