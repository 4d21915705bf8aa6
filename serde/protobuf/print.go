package protobuf

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// The printer turns a linked descriptor back into .proto text. Both outputs
// (Canonical and Normalized) must parse back, with the same references, to
// a descriptor with the same meaning and, above all, the same message-index
// paths, because the stored text is what consumers resolve paths against.
//
// Layout, at every level: options, then fields (oneofs as blocks where their
// first member is), nested messages, enums, extension ranges, reserved
// ranges and names, then extend blocks; at the top level syntax, package,
// imports, options, messages, enums, services, extend blocks.
//
// One wrinkle keeps nested-message order intact: a map field declares a
// synthetic entry message, and a proto2 group field declares its message,
// at the field's position among the nested messages. The printer therefore
// treats those messages as owned by their field and, before printing an
// owner, prints the free messages that precede the owned one (msgQueue).

// render prints the Canonical and Normalized texts of a linked file. weak
// lists imports to print as weak although fd does not say so: the protobuf
// runtime, which builds descriptors from binary input, drops weak-ness.
func render(fd protoreflect.FileDescriptor, weak ...string) (canonical, normalized string) {
	env := newPrintEnv(fd, weak)
	return env.print(false), env.print(true)
}

// renderWithoutExtensions prints the Canonical layout of fd with its
// extensions dropped (Schema.WithoutExtensions).
func renderWithoutExtensions(fd protoreflect.FileDescriptor) string {
	env := newPrintEnv(fd, nil)
	env.noExt = true
	return env.print(false)
}

func newPrintEnv(fd protoreflect.FileDescriptor, weak []string) *printEnv {
	env := &printEnv{
		file:  fd,
		syms:  newSymbols(fd),
		types: extensionTypes(fd),
		weak:  weak,
	}
	if fd.Syntax() == protoreflect.Editions {
		// Both protocompile's and the runtime's descriptors carry the edition
		// behind this method; protoreflect has no accessor for it.
		env.edition = "2023" // the only edition protocompile v0.14 supports
		if e, ok := fd.(interface{ Edition() int32 }); ok {
			env.edition = strings.TrimPrefix(descriptorpb.Edition(e.Edition()).String(), "EDITION_")
		}
	}
	return env
}

// printEnv is what both prints share: the file, its symbol table and the
// extension types that options may carry.
type printEnv struct {
	file    protoreflect.FileDescriptor
	edition string
	syms    symbols
	types   *protoregistry.Types
	weak    []string
	// noExt drops extend blocks, extension ranges and custom options
	// except confluent.* ones (Schema.WithoutExtensions).
	noExt bool
}

type printer struct {
	*printEnv
	norm   bool
	b      bytes.Buffer
	indent int
}

func (env *printEnv) print(norm bool) string {
	p := &printer{printEnv: env, norm: norm}
	p.printFile()
	if p.b.Len() == 0 {
		// A proto2 file that declares nothing normalises to nothing, which
		// is not a schema text; keep its syntax line after all.
		return "syntax = \"proto2\";\n"
	}
	return p.b.String()
}

// line writes one indented line.
func (p *printer) line(format string, args ...any) {
	for i := 0; i < p.indent; i++ {
		p.b.WriteString("  ")
	}
	fmt.Fprintf(&p.b, format, args...)
	p.b.WriteByte('\n')
}

// blank separates top-level sections and declarations.
func (p *printer) blank() {
	if p.indent == 0 && p.b.Len() > 0 {
		p.b.WriteByte('\n')
	}
}

func (p *printer) printFile() {
	f := p.file
	switch f.Syntax() {
	case protoreflect.Proto2:
		// §5.3: normalization drops the proto2 syntax line (proto2 is the
		// default); the canonical text states it.
		if !p.norm {
			p.line(`syntax = "proto2";`)
		}
	case protoreflect.Proto3:
		p.line(`syntax = "proto3";`)
	case protoreflect.Editions:
		p.line(`edition = %s;`, quote(p.edition, true))
	}
	if f.Package() != "" {
		p.blank()
		p.line("package %s;", f.Package())
	}
	p.imports()
	scope := string(f.Package())
	if opts := p.options(f.Options(), scope); len(opts) > 0 {
		p.blank()
		p.optionLines(opts)
	}
	q := p.newQueue(f.Messages(), nil, f.Extensions())
	q.emitUntilBlocked()
	for i := 0; i < f.Enums().Len(); i++ {
		p.enum(f.Enums().Get(i))
	}
	for i := 0; i < f.Services().Len(); i++ {
		p.service(f.Services().Get(i))
	}
	p.extends(f.Extensions(), q, scope)
	q.emitRest()
}

func (p *printer) imports() {
	type imp struct {
		path, kind string
	}
	var list []imp
	for i := 0; i < p.file.Imports().Len(); i++ {
		fi := p.file.Imports().Get(i)
		kind := ""
		switch {
		case fi.IsPublic:
			kind = "public "
		case fi.IsWeak || slices.Contains(p.weak, fi.Path()):
			kind = "weak "
		}
		list = append(list, imp{fi.Path(), kind})
	}
	if p.norm {
		sort.SliceStable(list, func(i, j int) bool { return list[i].path < list[j].path })
		list = slices.CompactFunc(list, func(a, b imp) bool { return a.path == b.path })
	}
	if len(list) > 0 {
		p.blank()
	}
	for _, im := range list {
		p.line("import %s%s;", im.kind, quote(im.path, true))
	}
}

// typeName spells a reference to a message, enum or extendee: fully
// qualified when normalising, otherwise the shortest name that provably
// resolves back from the given scopes.
func (p *printer) typeName(target protoreflect.FullName, scopes ...string) string {
	if p.norm {
		return "." + string(target)
	}
	return p.syms.shortest(target, scopes...)
}

func (p *printer) message(m protoreflect.MessageDescriptor) {
	p.blank()
	p.block(fmt.Sprintf("message %s {", m.Name()), func() { p.messageBody(m) })
}

// block prints "head", the body indented, and "}"; an empty body gives
// "head}" on one line.
func (p *printer) block(head string, body func()) {
	p.line("%s", head)
	mark := p.b.Len()
	p.indent++
	body()
	p.indent--
	if p.b.Len() == mark {
		p.b.Truncate(mark - 1) // drop the newline after head
		p.b.WriteString("}\n")
		return
	}
	p.line("}")
}

// item is one entry of a message's field list: a field, or a oneof block.
type item struct {
	field protoreflect.FieldDescriptor
	oneof protoreflect.OneofDescriptor
	// members are the oneof's fields in print order.
	members []protoreflect.FieldDescriptor
	// owned is the index of the first nested message the item declares
	// (map entry, group), or -1.
	owned int
}

func (p *printer) messageBody(m protoreflect.MessageDescriptor) {
	scope := string(m.FullName())
	p.optionLines(p.options(m.Options(), scope, parentName(scope)))

	q := p.newQueue(m.Messages(), m.Fields(), m.Extensions())
	for _, it := range p.items(m, q) {
		if it.owned >= 0 {
			q.flushBefore(it.owned)
		}
		if it.oneof != nil {
			p.oneof(it.oneof, it.members, q)
			continue
		}
		p.field(it.field, q)
	}
	q.emitUntilBlocked()
	for i := 0; i < m.Enums().Len(); i++ {
		p.enum(m.Enums().Get(i))
	}
	p.extensionRanges(m)
	p.reservedFields(m.ReservedRanges())
	p.reservedNames(m.ReservedNames())
	p.extends(m.Extensions(), q, scope)
	q.emitRest()
}

// items lists a message's fields and oneofs in print order: declaration
// order, or number order when normalising. Owners of nested messages keep
// their relative order either way (see the file comment), so number order
// yields to them: owners are re-slotted among themselves by owned index.
func (p *printer) items(m protoreflect.MessageDescriptor, q *msgQueue) []item {
	fields := make([]protoreflect.FieldDescriptor, m.Fields().Len())
	for i := range fields {
		fields[i] = m.Fields().Get(i)
	}
	if p.norm {
		sort.SliceStable(fields, func(i, j int) bool { return fields[i].Number() < fields[j].Number() })
	}
	var out []item
	seen := map[protoreflect.Name]bool{}
	for _, f := range fields {
		od := f.ContainingOneof()
		if od == nil || od.IsSynthetic() {
			out = append(out, item{field: f, owned: q.ownedBy(f)})
			continue
		}
		if seen[od.Name()] {
			continue
		}
		seen[od.Name()] = true
		it := item{oneof: od, owned: -1}
		for _, g := range fields {
			if g.ContainingOneof() == od {
				it.members = append(it.members, g)
			}
		}
		it.members = reslot(it.members, func(f protoreflect.FieldDescriptor) int { return q.ownedBy(f) })
		for _, g := range it.members {
			if o := q.ownedBy(g); o >= 0 && (it.owned < 0 || o < it.owned) {
				it.owned = o
			}
		}
		out = append(out, it)
	}
	return reslot(out, func(it item) int { return it.owned })
}

// reslot keeps the positions of the elements that own a nested message but
// reorders those elements among themselves by owned index; the others stay.
func reslot[T any](list []T, owned func(T) int) []T {
	var slots []int
	var owners []T
	for i, x := range list {
		if owned(x) >= 0 {
			slots = append(slots, i)
			owners = append(owners, x)
		}
	}
	sort.SliceStable(owners, func(i, j int) bool { return owned(owners[i]) < owned(owners[j]) })
	for k, i := range slots {
		list[i] = owners[k]
	}
	return list
}

func (p *printer) oneof(od protoreflect.OneofDescriptor, members []protoreflect.FieldDescriptor, q *msgQueue) {
	scope := string(od.FullName())
	p.line("oneof %s {", od.Name())
	p.indent++
	p.optionLines(p.options(od.Options(), scope, parentName(scope)))
	for _, f := range members {
		p.field(f, q)
	}
	p.indent--
	p.line("}")
}

// isGroup reports whether f is written with proto2 group syntax. Editions'
// delimited message fields also have GroupKind but are written as plain
// message fields with a features option.
func isGroup(f protoreflect.FieldDescriptor) bool {
	return f.Kind() == protoreflect.GroupKind && f.ParentFile().Syntax() == protoreflect.Proto2
}

func (p *printer) label(f protoreflect.FieldDescriptor) string {
	if f.IsMap() {
		return ""
	}
	if od := f.ContainingOneof(); od != nil && !od.IsSynthetic() {
		return ""
	}
	switch {
	case f.Cardinality() == protoreflect.Repeated:
		return "repeated "
	case f.ParentFile().Syntax() == protoreflect.Proto2:
		if f.Cardinality() == protoreflect.Required {
			return "required "
		}
		return "optional "
	case f.ParentFile().Syntax() == protoreflect.Proto3 && hasOptionalKeyword(f):
		return "optional "
	}
	return ""
}

// hasOptionalKeyword is HasOptionalKeyword, except that it also sees the
// keyword on proto3 extensions, where the Go runtime (and the compiler's
// descriptors, to match it) answer false although proto3_optional is set.
func hasOptionalKeyword(f protoreflect.FieldDescriptor) bool {
	if fp, ok := f.(interface {
		FieldDescriptorProto() *descriptorpb.FieldDescriptorProto
	}); ok && f.IsExtension() {
		return fp.FieldDescriptorProto().GetProto3Optional()
	}
	return f.HasOptionalKeyword()
}

// field prints a field or extension; q is the scope whose nested messages a
// group field owns.
func (p *printer) field(f protoreflect.FieldDescriptor, q *msgQueue) {
	scope := string(f.FullName().Parent())
	var opts []optEntry
	if f.HasDefault() {
		opts = append(opts, optEntry{"default", defaultLiteral(f)})
	}
	if !f.IsExtension() && f.JSONName() != jsonCamelCase(string(f.Name())) {
		opts = append(opts, optEntry{"json_name", quote(f.JSONName(), true)})
	}
	opts = append(opts, p.options(f.Options(), string(f.FullName()), scope)...)
	compact := compactOptions(opts)
	if isGroup(f) {
		q.take(f.Message())
		p.block(fmt.Sprintf("%sgroup %s = %d%s {", p.label(f), f.Message().Name(), f.Number(), compact),
			func() { p.messageBody(f.Message()) })
		return
	}
	if f.IsMap() {
		q.take(f.Message())
	}
	p.line("%s%s %s = %d%s;", p.label(f), p.fieldType(f, scope), f.Name(), f.Number(), compact)
}

func (p *printer) fieldType(f protoreflect.FieldDescriptor, scope string) string {
	if f.IsMap() {
		return fmt.Sprintf("map<%s, %s>", p.fieldType(f.MapKey(), scope), p.fieldType(f.MapValue(), scope))
	}
	switch f.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return p.typeName(f.Message().FullName(), scope)
	case protoreflect.EnumKind:
		return p.typeName(f.Enum().FullName(), scope)
	}
	return f.Kind().String()
}

// jsonCamelCase is protoc's default json_name: underscores dropped, the
// letter after each one upper-cased.
func jsonCamelCase(name string) string {
	var b strings.Builder
	upper := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_':
			upper = true
		case upper && 'a' <= c && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
			upper = false
		default:
			b.WriteByte(c)
			upper = false
		}
	}
	return b.String()
}

func (p *printer) extensionRanges(m protoreflect.MessageDescriptor) {
	if p.noExt {
		return
	}
	type rng struct {
		r    [2]protoreflect.FieldNumber
		opts []optEntry
	}
	var list []rng
	for i := 0; i < m.ExtensionRanges().Len(); i++ {
		scope := string(m.FullName())
		list = append(list, rng{m.ExtensionRanges().Get(i), p.options(m.ExtensionRangeOptions(i), scope, parentName(scope))})
	}
	if p.norm {
		sort.SliceStable(list, func(i, j int) bool { return list[i].r[0] < list[j].r[0] })
	}
	for _, r := range list {
		p.line("extensions %s%s;", fieldRange(r.r), compactOptions(r.opts))
	}
}

// maxFieldNumber is the largest field number, written "max" in ranges.
const maxFieldNumber = 536870911

func fieldRange(r [2]protoreflect.FieldNumber) string {
	lo, hi := int64(r[0]), int64(r[1])-1 // descriptor ranges end exclusive
	return numRange(lo, hi, maxFieldNumber)
}

func numRange(lo, hi, max int64) string {
	switch {
	case lo == hi:
		return fmt.Sprint(lo)
	case hi == max:
		return fmt.Sprintf("%d to max", lo)
	}
	return fmt.Sprintf("%d to %d", lo, hi)
}

func (p *printer) reservedFields(rs protoreflect.FieldRanges) {
	var list [][2]int64
	for i := 0; i < rs.Len(); i++ {
		r := rs.Get(i)
		list = append(list, [2]int64{int64(r[0]), int64(r[1]) - 1})
	}
	p.reservedRanges(list, maxFieldNumber)
}

func (p *printer) reservedRanges(list [][2]int64, max int64) {
	if len(list) == 0 {
		return
	}
	if p.norm {
		slices.SortFunc(list, func(a, b [2]int64) int {
			if a[0] != b[0] {
				return int(a[0] - b[0])
			}
			return int(a[1] - b[1])
		})
		list = slices.Compact(list)
	}
	parts := make([]string, len(list))
	for i, r := range list {
		parts[i] = numRange(r[0], r[1], max)
	}
	p.line("reserved %s;", strings.Join(parts, ", "))
}

func (p *printer) reservedNames(ns protoreflect.Names) {
	if ns.Len() == 0 {
		return
	}
	names := make([]string, ns.Len())
	for i := range names {
		names[i] = string(ns.Get(i))
	}
	if p.norm {
		sort.Strings(names)
		names = slices.Compact(names)
	}
	for i, n := range names {
		// Editions write reserved names as identifiers, older syntaxes as strings.
		if p.file.Syntax() != protoreflect.Editions {
			names[i] = quote(n, true)
		}
	}
	p.line("reserved %s;", strings.Join(names, ", "))
}

func (p *printer) enum(e protoreflect.EnumDescriptor) {
	scope := string(e.FullName())
	p.blank()
	p.line("enum %s {", e.Name())
	p.indent++
	p.optionLines(p.options(e.Options(), scope, parentName(scope)))
	values := make([]protoreflect.EnumValueDescriptor, e.Values().Len())
	for i := range values {
		values[i] = e.Values().Get(i)
	}
	if p.norm {
		sort.SliceStable(values, func(i, j int) bool { return values[i].Number() < values[j].Number() })
	}
	for _, v := range values {
		opts := p.options(v.Options(), string(v.FullName()), scope)
		p.line("%s = %d%s;", v.Name(), v.Number(), compactOptions(opts))
	}
	var list [][2]int64
	for i := 0; i < e.ReservedRanges().Len(); i++ {
		r := e.ReservedRanges().Get(i) // enum ranges are inclusive
		list = append(list, [2]int64{int64(r[0]), int64(r[1])})
	}
	p.reservedRanges(list, 1<<31-1)
	p.reservedNames(e.ReservedNames())
	p.indent--
	p.line("}")
}

func (p *printer) service(s protoreflect.ServiceDescriptor) {
	scope := string(s.FullName())
	p.blank()
	p.line("service %s {", s.Name())
	p.indent++
	p.optionLines(p.options(s.Options(), scope, parentName(scope)))
	for i := 0; i < s.Methods().Len(); i++ {
		md := s.Methods().Get(i)
		in, out := p.typeName(md.Input().FullName(), scope), p.typeName(md.Output().FullName(), scope)
		if md.IsStreamingClient() {
			in = "stream " + in
		}
		if md.IsStreamingServer() {
			out = "stream " + out
		}
		opts := p.options(md.Options(), string(md.FullName()), scope)
		if len(opts) == 0 {
			p.line("rpc %s(%s) returns (%s);", md.Name(), in, out)
			continue
		}
		p.line("rpc %s(%s) returns (%s) {", md.Name(), in, out)
		p.indent++
		p.optionLines(opts)
		p.indent--
		p.line("}")
	}
	p.indent--
	p.line("}")
}

// extends prints extension declarations as extend blocks, one per run of
// consecutive extensions of the same message. A run is split where a group
// extension needs free messages printed before it.
func (p *printer) extends(exts protoreflect.ExtensionDescriptors, q *msgQueue, scope string) {
	if p.noExt {
		// A group extension's message goes with it.
		for i := 0; i < exts.Len(); i++ {
			if o := q.ownedBy(exts.Get(i)); o >= 0 {
				q.done[o] = true
			}
		}
		return
	}
	open := protoreflect.FullName("")
	closeBlock := func() {
		if open != "" {
			p.indent--
			p.line("}")
			open = ""
		}
	}
	for i := 0; i < exts.Len(); i++ {
		x := exts.Get(i)
		if o := q.ownedBy(x); o >= 0 && q.pendingBefore(o) {
			closeBlock()
			q.flushBefore(o)
		}
		if open != x.ContainingMessage().FullName() {
			closeBlock()
			open = x.ContainingMessage().FullName()
			p.blank()
			p.line("extend %s {", p.typeName(open, scope))
			p.indent++
		}
		p.field(x, q)
	}
	closeBlock()
}

// msgQueue prints the nested messages of one scope in index order,
// interleaved with the fields that own some of them (see the file comment).
type msgQueue struct {
	p     *printer
	msgs  protoreflect.MessageDescriptors
	owned []bool
	done  []bool
}

func (p *printer) newQueue(msgs protoreflect.MessageDescriptors, fields protoreflect.FieldDescriptors, exts protoreflect.ExtensionDescriptors) *msgQueue {
	q := &msgQueue{p: p, msgs: msgs, owned: make([]bool, msgs.Len()), done: make([]bool, msgs.Len())}
	mark := func(f protoreflect.FieldDescriptor) {
		if o := q.ownedBy(f); o >= 0 {
			q.owned[o] = true
		}
	}
	if fields != nil {
		for i := 0; i < fields.Len(); i++ {
			mark(fields.Get(i))
		}
	}
	for i := 0; i < exts.Len(); i++ {
		mark(exts.Get(i))
	}
	return q
}

// ownedBy returns the index in q of the message that f declares (its map
// entry or group body), or -1.
func (q *msgQueue) ownedBy(f protoreflect.FieldDescriptor) int {
	if !f.IsMap() && !isGroup(f) {
		return -1
	}
	m := f.Message()
	if i := m.Index(); i < q.msgs.Len() && q.msgs.Get(i) == m {
		return i
	}
	return -1
}

// take marks m as printed by its owner.
func (q *msgQueue) take(m protoreflect.MessageDescriptor) {
	if i := m.Index(); i < q.msgs.Len() && q.msgs.Get(i) == m {
		q.done[i] = true
	}
}

// pendingBefore reports whether a free message before index k is unprinted.
func (q *msgQueue) pendingBefore(k int) bool {
	for i := 0; i < k; i++ {
		if !q.done[i] && !q.owned[i] {
			return true
		}
	}
	return false
}

// flushBefore prints the unprinted free messages before index k.
func (q *msgQueue) flushBefore(k int) {
	for i := 0; i < k; i++ {
		if !q.done[i] && !q.owned[i] {
			q.done[i] = true
			q.p.message(q.msgs.Get(i))
		}
	}
}

// emitUntilBlocked prints free messages in order up to the first owned
// message that its owner has not printed yet.
func (q *msgQueue) emitUntilBlocked() {
	for i := range q.done {
		if q.done[i] {
			continue
		}
		if q.owned[i] {
			return
		}
		q.done[i] = true
		q.p.message(q.msgs.Get(i))
	}
}

// emitRest prints whatever is left. An owned message is left only if its
// owner was never printed, which would be our bug; printing it keeps it
// visible (and makes the re-parse tests fail) instead of losing it.
func (q *msgQueue) emitRest() {
	for i := range q.done {
		if !q.done[i] {
			q.done[i] = true
			q.p.message(q.msgs.Get(i))
		}
	}
}
