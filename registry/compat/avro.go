package compat

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	havro "github.com/hamba/avro/v2"

	"github.com/sluicehq/sluice/serde/avro"
)

// The Avro rules are Apache Avro's reader/writer resolution checker
// (SchemaCompatibility.checkReaderWriterCompatibility), which Confluent
// delegates to: spec/registry-api.md §11.1. Like Avro's checker this one
// walks the reader and writer together and collects every incompatibility
// with its location, a JSON pointer built from the reader's structure as
// the walk goes ("/fields/2/type/items"); when a named type is used twice
// the pointer follows the use, as Avro's locations do.
//
// Deliberately not checked (rule 10): logical types, docs, custom
// properties, field order, the values of field defaults (only their
// presence), and the sort "order" attribute.

// Incompatibility kinds, named after Avro's SchemaIncompatibilityType.
const (
	kindNameMismatch       = "NAME_MISMATCH"
	kindFixedSizeMismatch  = "FIXED_SIZE_MISMATCH"
	kindMissingEnumSymbols = "MISSING_ENUM_SYMBOLS"
	kindMissingDefault     = "READER_FIELD_MISSING_DEFAULT_VALUE"
	kindTypeMismatch       = "TYPE_MISMATCH"
	kindMissingUnionBranch = "MISSING_UNION_BRANCH"
	// kindAmbiguousField is not one of Avro's incompatibility types: Avro's
	// SchemaCompatibility.lookupWriterField throws "reader record field ...
	// matches multiple fields in writer record schema ..." instead, which
	// aborts the whole check, and Confluent reports the change incompatible
	// with the exception's message.
	kindAmbiguousField = "READER_FIELD_MATCHES_MULTIPLE_WRITER_FIELDS"
)

// maxAvroViolations bounds the violations kept per record pair. A named
// type used at many places reports its problems at each use, which a
// hostile schema (types used twice at every level) could multiply without
// end.
const maxAvroViolations = 1000

// avroReads implements Apache Avro's reader/writer resolution rules
// (spec/registry-api.md §11.1).
func avroReads(reader, writer *avro.Schema) []Violation {
	c := &avroChecker{
		memo:      map[avroPair]*avroResult{},
		quietMemo: map[avroPair]*avroResult{},
	}
	vs := c.check(reader.Avro(), writer.Avro())
	// An ambiguous field met only while testing union branches still makes
	// the pair incompatible, as Avro's exception does wherever it is thrown.
	for _, f := range c.fatal {
		if len(vs) >= maxAvroViolations {
			break
		}
		if !slices.ContainsFunc(vs, func(v Violation) bool { return v.Kind == f.Kind && v.Message == f.Message }) {
			vs = append(vs, f)
		}
	}
	return vs
}

type avroPair struct{ reader, writer havro.Schema }

// avroResult memoises the check of one pair of records: the violations
// relative to the pair's own location, or done == false while the pair is
// still being checked further up the stack (recursive types, rule 9: such a
// pair counts as compatible there, and is judged where it started).
type avroResult struct {
	done       bool
	violations []Violation
}

// avroChecker holds the state of one Reads call.
type avroChecker struct {
	// path is the reader location being checked, as JSON pointer tokens. It
	// is rendered only when a violation is recorded: most checks find none.
	path []string
	// quiet > 0 while only a yes/no answer is wanted (which branch of a
	// reader union reads a writer type): violations then carry only a Kind.
	quiet int
	// Loud and quiet results are memoised apart, so that a record pair first
	// met while testing a union branch still gets messages when reported.
	memo, quietMemo map[avroPair]*avroResult
	// fatal collects, with messages, the ambiguous fields found while quiet:
	// in Avro they abort the check, so they are reported whatever the
	// union search around them concluded.
	fatal []Violation
}

func (c *avroChecker) push(tok string) { c.path = append(c.path, tok) }
func (c *avroChecker) pop()            { c.path = c.path[:len(c.path)-1] }

// indexTokens avoids formatting small field indexes on every visit.
var indexTokens = func() []string {
	out := make([]string, 256)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}()

func indexToken(i int) string {
	if i < len(indexTokens) {
		return indexTokens[i]
	}
	return strconv.Itoa(i)
}

func renderPath(toks []string) string {
	if len(toks) == 0 {
		return ""
	}
	return "/" + strings.Join(toks, "/")
}

// violation records one incompatibility at the current path plus suffix.
func (c *avroChecker) violation(kind, suffix, format string, args ...any) Violation {
	if c.quiet > 0 {
		return Violation{Kind: kind}
	}
	return Violation{Kind: kind, Path: renderPath(c.path) + suffix, Message: fmt.Sprintf(format, args...)}
}

func deref(s havro.Schema) havro.Schema {
	if r, ok := s.(*havro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

// reads reports whether reader reads writer.
func (c *avroChecker) reads(reader, writer havro.Schema) bool {
	c.quiet++
	defer func() { c.quiet-- }()
	return len(c.check(reader, writer)) == 0
}

// check returns why reader cannot read writer, at c.path.
func (c *avroChecker) check(reader, writer havro.Schema) []Violation {
	r, w := deref(reader), deref(writer)

	if wu, ok := w.(*havro.UnionSchema); ok {
		if ru, ok := r.(*havro.UnionSchema); ok {
			// Both unions: every writer branch must be readable by some reader
			// branch; extra reader branches and branch order do not matter.
			var out []Violation
			for i, wb := range wu.Types() {
				if !c.readsSome(ru, wb) {
					out = append(out, c.violation(kindMissingUnionBranch, "",
						"reader union has no branch that reads writer union branch %d (%s)", i, describe(wb)))
				}
			}
			return out
		}
		// Writer union, reader not: the reader must read every writer branch.
		var out []Violation
		for _, wb := range wu.Types() {
			out = append(out, c.check(r, wb)...)
		}
		return out
	}
	if ru, ok := r.(*havro.UnionSchema); ok {
		// Reader union, writer not: some reader branch must read the writer
		// (promotions count: ["null","long"] reads int).
		if c.readsSome(ru, w) {
			return nil
		}
		return []Violation{c.violation(kindMissingUnionBranch, "", "reader union has no branch that reads writer type %s", describe(w))}
	}

	switch r.Type() {
	case havro.Record:
		if w.Type() == havro.Record {
			return c.records(r.(*havro.RecordSchema), w.(*havro.RecordSchema))
		}
	case havro.Enum:
		if we, ok := w.(*havro.EnumSchema); ok {
			return c.enums(r.(*havro.EnumSchema), we)
		}
	case havro.Fixed:
		if wf, ok := w.(*havro.FixedSchema); ok {
			rf := r.(*havro.FixedSchema)
			out := c.names(rf, wf)
			if rf.Size() != wf.Size() {
				out = append(out, c.violation(kindFixedSizeMismatch, "/size",
					"reader fixed %s has size %d, writer fixed %s has size %d", rf.FullName(), rf.Size(), wf.FullName(), wf.Size()))
			}
			return out
		}
	case havro.Array:
		if wa, ok := w.(*havro.ArraySchema); ok {
			c.push("items")
			defer c.pop()
			return c.check(r.(*havro.ArraySchema).Items(), wa.Items())
		}
	case havro.Map:
		if wm, ok := w.(*havro.MapSchema); ok {
			c.push("values")
			defer c.pop()
			return c.check(r.(*havro.MapSchema).Values(), wm.Values())
		}
	default:
		if promotes(r.Type(), w.Type()) {
			return nil
		}
	}
	return []Violation{c.violation(kindTypeMismatch, "", "reader type %s cannot read writer type %s", describe(r), describe(w))}
}

func (c *avroChecker) readsSome(ru *havro.UnionSchema, w havro.Schema) bool {
	for _, rb := range ru.Types() {
		if c.reads(rb, w) {
			return true
		}
	}
	return false
}

// promotes reports whether a reader of primitive type r reads a writer of
// primitive type w: equal types, or Avro's promotions (rule 2).
func promotes(r, w havro.Type) bool {
	if r == w {
		return true
	}
	switch r {
	case havro.Long:
		return w == havro.Int
	case havro.Float:
		return w == havro.Int || w == havro.Long
	case havro.Double:
		return w == havro.Int || w == havro.Long || w == havro.Float
	case havro.Bytes:
		return w == havro.String
	case havro.String:
		return w == havro.Bytes
	}
	return false
}

// names applies rule 8: unqualified names equal, or a reader alias equal to
// the writer's full name.
func (c *avroChecker) names(r, w havro.NamedSchema) []Violation {
	if r.Name() == w.Name() || slices.Contains(r.Aliases(), w.FullName()) {
		return nil
	}
	return []Violation{c.violation(kindNameMismatch, "/name",
		"reader %s name %s does not match writer name %s (to rename a type, give the reader an alias %q)", r.Type(), r.FullName(), w.FullName(), w.FullName())}
}

func (c *avroChecker) enums(r, w *havro.EnumSchema) []Violation {
	out := c.names(r, w)
	var missing []string
	for _, s := range w.Symbols() {
		if !slices.Contains(r.Symbols(), s) {
			missing = append(missing, s)
		}
	}
	// An enum-level default on the reader absorbs unknown writer symbols; a
	// field-level default does not.
	if len(missing) > 0 && !r.HasDefault() {
		out = append(out, c.violation(kindMissingEnumSymbols, "/symbols",
			"reader enum %s lacks writer symbols %s and has no default symbol", r.FullName(), strings.Join(missing, ", ")))
	}
	return out
}

func (c *avroChecker) records(r, w *havro.RecordSchema) []Violation {
	key := avroPair{r, w}
	memo := c.memo
	if c.quiet > 0 {
		// A pair the loud walk has started or finished answers quiet questions
		// too; in particular a pair under evaluation counts as compatible.
		if res := c.memo[key]; res != nil {
			if !res.done || len(res.violations) == 0 {
				return nil
			}
			return []Violation{{Kind: res.violations[0].Kind}}
		}
		memo = c.quietMemo
	}
	res := memo[key]
	switch {
	case res == nil:
		res = &avroResult{}
		memo[key] = res
		base := len(c.path)
		vs := c.fields(r, w)
		// Keep the violations relative to this pair, for reuse elsewhere.
		if c.quiet == 0 && len(vs) > 0 {
			prefix := len(renderPath(c.path[:base]))
			for i := range vs {
				vs[i].Path = vs[i].Path[prefix:]
			}
		}
		res.violations, res.done = vs, true
	case !res.done:
		return nil // recursion: judged where this pair started
	}
	if len(res.violations) == 0 {
		return nil
	}
	prefix := renderPath(c.path)
	out := make([]Violation, len(res.violations))
	for i, v := range res.violations {
		if c.quiet == 0 {
			v.Path = prefix + v.Path
		}
		out[i] = v
	}
	return out
}

// fields applies rule 3 to two records whose pair is being checked.
func (c *avroChecker) fields(r, w *havro.RecordSchema) []Violation {
	vs := c.names(r, w)
	c.push("fields")
	defer c.pop()
	for i, rf := range r.Fields() {
		if c.quiet > 0 && len(vs) > 0 {
			// The answer is known, but Avro would still have thrown on an
			// ambiguous field further on; look for one (cheaply, at this
			// level only).
			if matches := writerFields(w, rf); len(matches) > 1 {
				c.push(indexToken(i))
				c.ambiguous(rf, w, matches)
				c.pop()
			}
			continue
		}
		c.push(indexToken(i))
		matches := writerFields(w, rf)
		var wf *havro.Field
		if len(matches) > 0 {
			wf = matches[0].field
		}
		switch {
		case len(matches) > 1:
			vs = append(vs, c.ambiguous(rf, w, matches))
		case wf != nil:
			c.push("type")
			vs = append(vs, c.check(rf.Type(), wf.Type())...)
			c.pop()
		case rf.HasDefault():
			// Missing from the writer, filled from the default: fine.
		case isEnumWithDefault(rf.Type()):
			// Avro's special case: the enum is checked against the whole
			// writer record, which practically always fails.
			c.push("type")
			vs = append(vs, c.check(rf.Type(), w)...)
			c.pop()
		default:
			vs = append(vs, c.violation(kindMissingDefault, "", "field %q has no default and is missing from the writer", rf.Name()))
		}
		c.pop()
		if len(vs) >= maxAvroViolations {
			break
		}
	}
	if len(vs) > maxAvroViolations {
		vs = vs[:maxAvroViolations]
	}
	return vs
}

// fieldMatch is a writer field a reader field reads, and how it was found:
// by the reader field's name (alias "") or through one of its aliases.
type fieldMatch struct {
	field *havro.Field
	alias string
}

// writerFields lists the writer fields a reader field reads, as Avro's
// lookupWriterField collects them: the field with the same name, then the
// field named by each of the reader field's aliases, in alias order. Writer
// aliases are ignored. More than one match (even the same writer field
// twice, through an alias equal to the field's own name) is an error in
// Avro.
func writerFields(w *havro.RecordSchema, rf *havro.Field) []fieldMatch {
	var out []fieldMatch
	if wf := fieldNamed(w, rf.Name()); wf != nil {
		out = append(out, fieldMatch{field: wf})
	}
	for _, alias := range rf.Aliases() {
		if wf := fieldNamed(w, alias); wf != nil {
			out = append(out, fieldMatch{field: wf, alias: alias})
		}
	}
	return out
}

// ambiguous reports a reader field that matches several writer fields
// (rule 3: Avro refuses to guess which one to read). The violation always
// carries its message, and while quiet it is also kept in c.fatal.
func (c *avroChecker) ambiguous(rf *havro.Field, w *havro.RecordSchema, matches []fieldMatch) Violation {
	how := make([]string, len(matches))
	for i, m := range matches {
		if m.alias == "" {
			how[i] = fmt.Sprintf("%q (by name)", m.field.Name())
		} else {
			how[i] = fmt.Sprintf("%q (through alias %q)", m.field.Name(), m.alias)
		}
	}
	v := Violation{
		Kind: kindAmbiguousField,
		Path: renderPath(c.path),
		Message: fmt.Sprintf("reader field %q matches more than one field of writer record %s: %s; Avro cannot tell which to read (drop the alias or one of the writer fields)",
			rf.Name(), w.FullName(), joinAnd(how)),
	}
	if c.quiet > 0 && len(c.fatal) < maxAvroViolations {
		c.fatal = append(c.fatal, v)
	}
	return v
}

// joinAnd joins phrases as "a and b" or "a, b and c".
func joinAnd(xs []string) string {
	if len(xs) < 2 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

func fieldNamed(w *havro.RecordSchema, name string) *havro.Field {
	for _, wf := range w.Fields() {
		if wf.Name() == name {
			return wf
		}
	}
	return nil
}

func isEnumWithDefault(s havro.Schema) bool {
	e, ok := deref(s).(*havro.EnumSchema)
	return ok && e.HasDefault()
}

// describe names a type for messages: "long", "record com.acme.Order".
func describe(s havro.Schema) string {
	s = deref(s)
	if n, ok := s.(havro.NamedSchema); ok {
		return string(s.Type()) + " " + n.FullName()
	}
	return string(s.Type())
}
