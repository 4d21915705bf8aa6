package compat

import (
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	js "github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/sluicehq/sluice/serde/jsonschema"
)

// This file loads a JSON Schema document into the model Confluent's checker
// compares: the one the everit-json-schema library builds (Confluent's
// SchemaDiff walks everit objects, and SchemaTranslator maps 2019-09/2020-12
// documents onto the same classes). Agreeing with Confluent's verdicts
// depends far more on loading a document the way everit does than on the
// comparison itself, so the loader follows everit's rules closely:
//
//   - A schema object becomes one node per "extractor" that finds its
//     keywords, in everit's order: enum, allOf/anyOf/oneOf (one node each),
//     not, const, the explicit type, then one node per kind of keyword not
//     yet claimed ("sniffed" array, object, number and string keywords, and
//     if/then/else). One node is the schema; several become a synthetic
//     allOf. So {"type":"string","enum":[…]} is allOf(string, enum), which
//     is why adding an enum to a plain string is TYPE_CHANGED (§11.5).
//   - An explicit type claims only its own kind's keywords; a type array is
//     an anyOf of one node per type, each with its kind's keywords (from
//     2019-09, as Confluent's SchemaTranslator does it: an anyOf of bare
//     types, the keywords being parts of their own).
//   - Up to draft-07 a $ref hides its siblings; from 2019-09 the $ref is one
//     more part of the synthetic allOf.
//   - additionalProperties/additionalItems: a boolean is a flag, an object a
//     schema, so {} is a (permissive) schema, not the same as true.
//
// The raw documents are walked, not the compiled form, because the compiled
// form drops what everit keeps (a draft-04 boolean exclusiveMaximum, an
// additionalItems beside a single items schema, unknown keywords such as
// "connect.type"); the compiled form is used only to resolve $refs, which it
// has already done across $id scopes and referenced documents.

// jsonKind is a node's class, the unit of Confluent's "same class" test.
type jsonKind uint8

const (
	jsonKindEmpty       jsonKind = iota // {} or annotations only
	jsonKindTrue                        // the boolean schema true
	jsonKindFalse                       // the boolean schema false
	jsonKindObject                      // type object, or object keywords
	jsonKindArray                       // type array, or array keywords
	jsonKindString                      // type string, or string keywords
	jsonKindNumber                      // type number or integer, or number keywords
	jsonKindBoolean                     // type boolean
	jsonKindNull                        // type null
	jsonKindEnum                        // enum
	jsonKindConst                       // const (draft-06 and later)
	jsonKindCombined                    // allOf, anyOf, oneOf, a type array, or several parts
	jsonKindNot                         // not
	jsonKindConditional                 // if/then/else (never compared, as in Confluent)
	jsonKindRef                         // $ref, resolved lazily
)

// The combinator keywords, which are also the criteria of combined nodes.
const (
	jsonAllOf = "allOf"
	jsonAnyOf = "anyOf"
	jsonOneOf = "oneOf"
)

// jsonNode is one loaded schema. Nodes loaded from the same location are the
// same pointer, so a recursive schema is a cyclic graph and the comparison
// can recognise a pair it is already comparing.
type jsonNode struct {
	kind jsonKind
	loc  string // where the schema value is: document URL, '#', JSON pointer
	raw  any    // the decoded schema value; nil for a part of one
	tag  string // which part of raw this node is, when raw holds several
	key  string // deduplication key, computed on first use (see jsonKey)

	// Annotations. Confluent compares them, but every such difference is
	// compatible under every policy, so only the default's presence
	// matters (a required property added with a default is compatible).
	hasDefault   bool
	connectBytes bool // "connect.type": "bytes" (Kafka Connect), see compare

	num *jsonNumberPart
	str *jsonStringPart
	obj *jsonObjectPart
	arr *jsonArrayPart

	values   []any // enum values
	constant any   // const value

	criterion string      // combined: allOf, anyOf or oneOf
	subs      []*jsonNode // combined subschemas
	distinct  []*jsonNode // subs without duplicates (see jsonDedupe)
	typeArray bool        // combined: built from a "type" array
	synthetic bool        // combined: several parts of one schema object

	not *jsonNode // the schema under not

	ref *jsonRef
}

// jsonNum is a number keyword's value: the literal as written, for messages,
// and its exact value, for comparisons (parsed on first use: most bounds
// are equal literals, which compare without it).
type jsonNum struct {
	lit string
	rat *big.Rat
}

// value returns the exact value; Parse accepted the literal as a JSON
// number, which big.Rat always parses.
func (n *jsonNum) value() *big.Rat {
	if n.rat == nil {
		r, ok := new(big.Rat).SetString(n.lit)
		if !ok {
			r = new(big.Rat)
		}
		n.rat = r
	}
	return n.rat
}

// cmp compares two numbers by value.
func (n *jsonNum) cmp(m *jsonNum) int {
	if n.lit == m.lit {
		return 0
	}
	return n.value().Cmp(m.value())
}

type jsonNumberPart struct {
	integer                            bool
	minimum, maximum                   *jsonNum
	exclusiveMinimum, exclusiveMaximum *jsonNum // draft-06+ numeric forms only
	multipleOf                         *jsonNum
}

type jsonStringPart struct {
	minLength, maxLength *jsonNum
	pattern              *string
}

// jsonExtra is additionalProperties, additionalItems or unevaluated*: a
// boolean flag or a schema.
type jsonExtra struct {
	forbid bool      // false
	schema *jsonNode // a schema (possibly {}); nil when absent or a boolean
}

// permits reports whether extra members are allowed at all.
func (e jsonExtra) permits() bool { return !e.forbid }

type jsonNamed struct {
	name string
	node *jsonNode
}

type jsonDep struct {
	name  string
	needs []string
}

type jsonPattern struct {
	re   *regexp.Regexp
	node *jsonNode
}

type jsonObjectPart struct {
	props       []jsonNamed // in document order
	byName      map[string]*jsonNode
	required    map[string]bool
	minProps    *jsonNum
	maxProps    *jsonNum
	additional  jsonExtra
	patterns    []jsonPattern
	propDeps    []jsonDep
	schemaDeps  []jsonNamed
	unevaluated jsonExtra
}

type jsonArrayPart struct {
	items       *jsonNode   // one schema for every item
	tuple       []*jsonNode // positional schemas (items array, prefixItems)
	additional  jsonExtra   // additionalItems, or items after prefixItems
	minItems    *jsonNum
	maxItems    *jsonNum
	unique      bool
	contains    *jsonNode
	minContains *jsonNum
	maxContains *jsonNum
	unevaluated jsonExtra
}

// jsonRef is an unresolved $ref; resolution is lazy so that loading never
// follows a cycle.
type jsonRef struct {
	loader   *jsonLoader
	from     string // location of the $ref's schema object
	text     string // the $ref value
	draft    jsonschema.Draft
	compiled *js.Schema // the compiler's resolution, when it compiled this $ref
	target   *jsonNode
}

// jsonLoader loads the nodes of one parsed schema.
type jsonLoader struct {
	s        *jsonschema.Schema
	memo     map[string]*jsonNode
	compiled map[string]*js.Schema // by Location, built on the first $ref
}

// jsonLoad loads the root of s.
func jsonLoad(s *jsonschema.Schema) *jsonNode {
	l := &jsonLoader{s: s, memo: map[string]*jsonNode{}}
	return l.value(s.Document(), s.Compiled().Location, s.Draft(), s.Compiled())
}

// The keywords each kind claims, per draft (everit's SpecificationVersion
// lists, extended with the 2019-09/2020-12 keywords SchemaTranslator maps).
var (
	jsonNumberKeywords = []string{"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
	jsonStringKeywords = []string{"minLength", "maxLength", "pattern", "format"}
	// From 2019-09 Confluent's SchemaTranslator ignores format, so a lone
	// format no longer makes a string part.
	jsonStringKeywords2019 = []string{"minLength", "maxLength", "pattern"}
)

// The object and array keyword lists per draft, built once.
var (
	jsonObjectKeywordsByDraft = jsonByDraft(func(d jsonschema.Draft) []string {
		kw := []string{"properties", "required", "minProperties", "maxProperties", "patternProperties", "additionalProperties"}
		if d >= jsonschema.Draft6 {
			kw = append(kw, "propertyNames")
		}
		if d >= jsonschema.Draft2019 {
			return append(kw, "dependentRequired", "dependentSchemas", "unevaluatedProperties")
		}
		return append(kw, "dependencies")
	})
	jsonArrayKeywordsByDraft = jsonByDraft(func(d jsonschema.Draft) []string {
		kw := []string{"items", "minItems", "maxItems", "uniqueItems"}
		if d <= jsonschema.Draft2019 {
			kw = append(kw, "additionalItems")
		}
		if d >= jsonschema.Draft6 {
			kw = append(kw, "contains")
		}
		if d >= jsonschema.Draft2019 {
			kw = append(kw, "minContains", "maxContains", "unevaluatedItems")
		}
		if d >= jsonschema.Draft2020 {
			kw = append(kw, "prefixItems")
		}
		return kw
	})
)

var jsonDrafts = []jsonschema.Draft{jsonschema.Draft4, jsonschema.Draft6, jsonschema.Draft7, jsonschema.Draft2019, jsonschema.Draft2020}

func jsonByDraft(f func(jsonschema.Draft) []string) map[jsonschema.Draft][]string {
	m := make(map[jsonschema.Draft][]string, len(jsonDrafts))
	for _, d := range jsonDrafts {
		m[d] = f(d)
	}
	return m
}

func jsonObjectKeywords(d jsonschema.Draft) []string {
	if kw, ok := jsonObjectKeywordsByDraft[d]; ok {
		return kw
	}
	return jsonObjectKeywordsByDraft[jsonschema.DefaultDraft]
}

func jsonArrayKeywords(d jsonschema.Draft) []string {
	if kw, ok := jsonArrayKeywordsByDraft[d]; ok {
		return kw
	}
	return jsonArrayKeywordsByDraft[jsonschema.DefaultDraft]
}

// value loads the schema value v found at loc.
//
// c is the compiled schema at the same location, when the compiler
// compiled one (it skips keywords it ignores, such as an additionalItems
// beside a single items schema); it carries the $ref resolutions down.
func (l *jsonLoader) value(v any, loc string, d jsonschema.Draft, c *js.Schema) *jsonNode {
	if n, ok := l.memo[loc]; ok {
		return n
	}
	if c != nil {
		if c.Location != loc {
			c = nil // not the schema we are at; resolve $refs the slow way
		} else {
			d = jsonDraftOf(c.Draft, d)
		}
	}
	var n *jsonNode
	switch t := v.(type) {
	case bool:
		n = &jsonNode{kind: jsonKindFalse}
		if t {
			n.kind = jsonKindTrue
		}
	case jsonschema.Object:
		n = l.object(t, loc, d, c)
	default:
		// Not a schema; the metaschema check makes this unreachable for
		// schema positions. Treat it as unconstrained rather than fail.
		n = &jsonNode{kind: jsonKindEmpty}
	}
	n.loc, n.raw = loc, v
	l.memo[loc] = n
	return n
}

// child loads the schema at key (and index, when idx >= 0) under o.
func (l *jsonLoader) child(o jsonschema.Object, loc, key string, idx int, d jsonschema.Draft, c *js.Schema) *jsonNode {
	v, ok := o.Get(key)
	if !ok {
		return nil
	}
	loc = jsonLocJoin(loc, key)
	if idx >= 0 {
		arr, _ := v.([]any)
		if idx >= len(arr) {
			return nil
		}
		v, loc = arr[idx], jsonLocJoin(loc, strconv.Itoa(idx))
	}
	return l.value(v, loc, d, jsonCompiledChild(c, key, "", idx))
}

// member loads the schema named name in the object at key under o
// (properties, patternProperties, dependencies, dependentSchemas).
// base is the location of the keyword (jsonLocJoin(loc, key)), computed
// once by the caller for all members.
func (l *jsonLoader) member(v any, base, key, name string, d jsonschema.Draft, c *js.Schema) *jsonNode {
	return l.value(v, jsonLocJoin(base, name), d, jsonCompiledChild(c, key, name, -1))
}

// jsonCompiledChild returns the compiled subschema of c at keyword key
// (with a member name or an index), or nil.
func jsonCompiledChild(c *js.Schema, key, name string, idx int) *js.Schema {
	if c == nil {
		return nil
	}
	at := func(ss []*js.Schema) *js.Schema {
		if idx >= 0 && idx < len(ss) {
			return ss[idx]
		}
		return nil
	}
	one := func(v any) *js.Schema {
		s, _ := v.(*js.Schema)
		return s
	}
	switch key {
	case jsonAllOf:
		return at(c.AllOf)
	case jsonAnyOf:
		return at(c.AnyOf)
	case jsonOneOf:
		return at(c.OneOf)
	case "not":
		return c.Not
	case "properties":
		return c.Properties[name]
	case "patternProperties":
		for re, s := range c.PatternProperties {
			if re.String() == name {
				return s
			}
		}
	case "additionalProperties":
		return one(c.AdditionalProperties)
	case "dependencies":
		return one(c.Dependencies[name])
	case "dependentSchemas":
		return c.DependentSchemas[name]
	case "unevaluatedProperties":
		return c.UnevaluatedProperties
	case "items":
		if idx >= 0 {
			ss, _ := c.Items.([]*js.Schema)
			return at(ss)
		}
		if c.Items2020 != nil {
			return c.Items2020
		}
		return one(c.Items)
	case "additionalItems":
		return one(c.AdditionalItems)
	case "prefixItems":
		return at(c.PrefixItems)
	case "contains":
		return c.Contains
	case "unevaluatedItems":
		return c.UnevaluatedItems
	}
	return nil
}

// object applies everit's extractors to one schema object.
func (l *jsonLoader) object(o jsonschema.Object, loc string, d jsonschema.Draft, c *js.Schema) *jsonNode {
	if rv, ok := o.Get("$ref"); ok && d <= jsonschema.Draft7 {
		n := l.refNode(rv, loc, d, c)
		l.annotate(n, o)
		return n
	}
	var claimed jsonClaims
	var parts []*jsonNode
	part := func(n *jsonNode, tag string) {
		n.loc, n.tag = loc, tag
		parts = append(parts, n)
	}
	if v, ok := o.Get("enum"); ok {
		vals, _ := v.([]any)
		part(&jsonNode{kind: jsonKindEnum, values: vals}, "enum")
	}
	for _, k := range []string{jsonAllOf, jsonAnyOf, jsonOneOf} {
		v, ok := o.Get(k)
		if !ok {
			continue
		}
		arr, _ := v.([]any)
		comb := &jsonNode{kind: jsonKindCombined, criterion: k}
		for i := range arr {
			comb.subs = append(comb.subs, l.child(o, loc, k, i, d, c))
		}
		part(comb, k)
	}
	if _, ok := o.Get("not"); ok {
		part(&jsonNode{kind: jsonKindNot, not: l.child(o, loc, "not", -1, d, c)}, "not")
	}
	if v, ok := o.Get("const"); ok && d >= jsonschema.Draft6 {
		part(&jsonNode{kind: jsonKindConst, constant: v}, "const")
	}
	if rv, ok := o.Get("$ref"); ok {
		part(l.refNode(rv, loc, d, c), "$ref")
	}
	if t, ok := o.Get("type"); ok {
		switch t := t.(type) {
		case string:
			part(l.typed(t, o, loc, d, c, &claimed), "type")
		case []any:
			comb := &jsonNode{kind: jsonKindCombined, criterion: jsonAnyOf, typeArray: true}
			for _, e := range t {
				name, _ := e.(string)
				var sub *jsonNode
				if d >= jsonschema.Draft2019 {
					// Confluent's SchemaTranslator makes a type array
					// an anyOf of bare types and leaves the keywords
					// to parts of their own; everit puts each type's
					// keywords in its branch.
					sub = jsonBareType(name)
				} else {
					sub = l.typed(name, o, loc, d, c, &claimed)
				}
				sub.loc, sub.tag = loc, "type:"+name
				comb.subs = append(comb.subs, sub)
			}
			part(comb, "type")
		}
	}
	// What the explicit type left unclaimed is sniffed, each kind becoming
	// a part that does not require its JSON type.
	if !claimed.array && jsonHasAny(o, jsonArrayKeywords(d)) {
		part(&jsonNode{kind: jsonKindArray, arr: l.arrayPart(o, loc, d, c)}, "array")
	}
	if !claimed.object && jsonHasAny(o, jsonObjectKeywords(d)) {
		part(&jsonNode{kind: jsonKindObject, obj: l.objectPart(o, loc, d, c)}, "object")
	}
	if !claimed.number && jsonHasAny(o, jsonNumberKeywords) {
		part(&jsonNode{kind: jsonKindNumber, num: jsonNumberOf(o, false, d)}, "number")
	}
	stringKeywords := jsonStringKeywords
	if d >= jsonschema.Draft2019 {
		stringKeywords = jsonStringKeywords2019
	}
	if !claimed.string && jsonHasAny(o, stringKeywords) {
		part(&jsonNode{kind: jsonKindString, str: jsonStringOf(o)}, "string")
	}
	if d >= jsonschema.Draft7 && jsonHasAny(o, jsonConditionalKeywords) {
		part(&jsonNode{kind: jsonKindConditional}, "if")
	}

	var n *jsonNode
	switch len(parts) {
	case 0:
		n = &jsonNode{kind: jsonKindEmpty}
	case 1:
		n = parts[0]
		n.tag = ""
	default:
		n = &jsonNode{kind: jsonKindCombined, criterion: jsonAllOf, subs: parts, synthetic: true}
	}
	l.annotate(n, o)
	return n
}

// typed builds the node of one explicit type name and claims its keywords.
func (l *jsonLoader) typed(name string, o jsonschema.Object, loc string, d jsonschema.Draft, c *js.Schema, claimed *jsonClaims) *jsonNode {
	switch name {
	case "string":
		claimed.string = true
		return &jsonNode{kind: jsonKindString, str: jsonStringOf(o)}
	case "integer", "number":
		claimed.number = true
		return &jsonNode{kind: jsonKindNumber, num: jsonNumberOf(o, name == "integer", d)}
	case "boolean":
		return &jsonNode{kind: jsonKindBoolean}
	case "null":
		return &jsonNode{kind: jsonKindNull}
	case "array":
		claimed.array = true
		return &jsonNode{kind: jsonKindArray, arr: l.arrayPart(o, loc, d, c)}
	case "object":
		claimed.object = true
		return &jsonNode{kind: jsonKindObject, obj: l.objectPart(o, loc, d, c)}
	}
	// Unknown type names fail the metaschema check before we get here.
	return &jsonNode{kind: jsonKindEmpty}
}

// jsonBareType is the node of a type name without any keyword.
func jsonBareType(name string) *jsonNode {
	switch name {
	case "string":
		return &jsonNode{kind: jsonKindString, str: &jsonStringPart{}}
	case "integer", "number":
		return &jsonNode{kind: jsonKindNumber, num: &jsonNumberPart{integer: name == "integer"}}
	case "boolean":
		return &jsonNode{kind: jsonKindBoolean}
	case "null":
		return &jsonNode{kind: jsonKindNull}
	case "array":
		return &jsonNode{kind: jsonKindArray, arr: &jsonArrayPart{}}
	case "object":
		return &jsonNode{kind: jsonKindObject, obj: &jsonObjectPart{byName: map[string]*jsonNode{}, required: map[string]bool{}}}
	}
	return &jsonNode{kind: jsonKindEmpty}
}

// jsonClaims records which kinds of keywords an explicit type took. The
// keyword lists of the kinds are disjoint, so a kind is claimed whole.
type jsonClaims struct{ array, object, number, string bool }

var jsonConditionalKeywords = []string{"if", "then", "else"}

func jsonHasAny(o jsonschema.Object, kws []string) bool {
	for _, m := range o {
		if slices.Contains(kws, m.Key) {
			return true
		}
	}
	return false
}

// annotate records what the comparison needs of the annotations.
func (l *jsonLoader) annotate(n *jsonNode, o jsonschema.Object) {
	_, n.hasDefault = o.Get("default")
	if v, ok := o.Get("connect.type"); ok {
		n.connectBytes = v == "bytes"
	}
}

func (l *jsonLoader) refNode(rv any, loc string, d jsonschema.Draft, c *js.Schema) *jsonNode {
	text, _ := rv.(string)
	r := &jsonRef{loader: l, from: loc, text: text, draft: d}
	if c != nil {
		r.compiled = c.Ref
	}
	return &jsonNode{kind: jsonKindRef, ref: r}
}

func jsonNumberOf(o jsonschema.Object, integer bool, d jsonschema.Draft) *jsonNumberPart {
	p := &jsonNumberPart{
		integer:    integer,
		minimum:    jsonNumAt(o, "minimum"),
		maximum:    jsonNumAt(o, "maximum"),
		multipleOf: jsonNumAt(o, "multipleOf"),
	}
	// Draft-04's boolean exclusiveMinimum/exclusiveMaximum only qualify
	// minimum/maximum; Confluent compares the limits, not the flags, so a
	// flag flip is no difference (see TestJSONConfluentQuirks).
	if d >= jsonschema.Draft6 {
		p.exclusiveMinimum = jsonNumAt(o, "exclusiveMinimum")
		p.exclusiveMaximum = jsonNumAt(o, "exclusiveMaximum")
	}
	return p
}

func jsonStringOf(o jsonschema.Object) *jsonStringPart {
	p := &jsonStringPart{minLength: jsonNumAt(o, "minLength"), maxLength: jsonNumAt(o, "maxLength")}
	if v, ok := o.Get("pattern"); ok {
		if s, ok := v.(string); ok {
			p.pattern = &s
		}
	}
	// "format" is deliberately not kept: Confluent does not compare it.
	return p
}

func jsonNumAt(o jsonschema.Object, key string) *jsonNum {
	v, ok := o.Get(key)
	if !ok {
		return nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return nil
	}
	return &jsonNum{lit: string(n)}
}

// extra reads additionalProperties/additionalItems/unevaluated*.
func (l *jsonLoader) extra(o jsonschema.Object, loc, key string, d jsonschema.Draft, c *js.Schema) jsonExtra {
	v, ok := o.Get(key)
	if !ok {
		return jsonExtra{}
	}
	if b, ok := v.(bool); ok {
		return jsonExtra{forbid: !b}
	}
	return jsonExtra{schema: l.child(o, loc, key, -1, d, c)}
}

func (l *jsonLoader) objectPart(o jsonschema.Object, loc string, d jsonschema.Draft, c *js.Schema) *jsonObjectPart {
	p := &jsonObjectPart{
		byName:   map[string]*jsonNode{},
		required: map[string]bool{},
		minProps: jsonNumAt(o, "minProperties"),
		maxProps: jsonNumAt(o, "maxProperties"),
	}
	if props, ok := o.Get("properties"); ok {
		if props, ok := props.(jsonschema.Object); ok {
			base := jsonLocJoin(loc, "properties")
			for _, m := range props {
				n := l.member(m.Value, base, "properties", m.Key, d, c)
				p.props = append(p.props, jsonNamed{name: m.Key, node: n})
				p.byName[m.Key] = n
			}
		}
	}
	if req, ok := o.Get("required"); ok {
		arr, _ := req.([]any)
		for _, e := range arr {
			if s, ok := e.(string); ok {
				p.required[s] = true
			}
		}
	}
	p.additional = l.extra(o, loc, "additionalProperties", d, c)
	if pats, ok := o.Get("patternProperties"); ok {
		if pats, ok := pats.(jsonschema.Object); ok {
			base := jsonLocJoin(loc, "patternProperties")
			for _, m := range pats {
				// Parse accepted only RE2 patterns; one that still fails
				// to compile matches nothing.
				re, _ := regexp.Compile(m.Key)
				p.patterns = append(p.patterns, jsonPattern{re: re, node: l.member(m.Value, base, "patternProperties", m.Key, d, c)})
			}
		}
	}
	// dependentRequired and dependentSchemas (2019-09) split draft-07's
	// dependencies; Confluent maps both back and reports paths under
	// "dependencies".
	depKeywords := []string{"dependencies"}
	if d >= jsonschema.Draft2019 {
		depKeywords = []string{"dependentRequired", "dependentSchemas"}
	}
	for _, kw := range depKeywords {
		deps, ok := o.Get(kw)
		if !ok {
			continue
		}
		obj, _ := deps.(jsonschema.Object)
		base := jsonLocJoin(loc, kw)
		for _, m := range obj {
			// As in everit: an array is a property dependency, anything
			// else a schema dependency.
			if arr, ok := m.Value.([]any); ok {
				var needs []string
				for _, e := range arr {
					if s, ok := e.(string); ok {
						needs = append(needs, s)
					}
				}
				p.propDeps = append(p.propDeps, jsonDep{name: m.Key, needs: needs})
				continue
			}
			p.schemaDeps = append(p.schemaDeps, jsonNamed{name: m.Key, node: l.member(m.Value, base, kw, m.Key, d, c)})
		}
	}
	if d >= jsonschema.Draft2019 {
		p.unevaluated = l.extra(o, loc, "unevaluatedProperties", d, c)
	}
	return p
}

func (l *jsonLoader) arrayPart(o jsonschema.Object, loc string, d jsonschema.Draft, c *js.Schema) *jsonArrayPart {
	p := &jsonArrayPart{
		minItems: jsonNumAt(o, "minItems"),
		maxItems: jsonNumAt(o, "maxItems"),
	}
	if u, ok := o.Get("uniqueItems"); ok {
		p.unique = u == true
	}
	items, hasItems := o.Get("items")
	if d >= jsonschema.Draft2020 {
		// 2020-12: prefixItems is the tuple and items what follows it; a
		// lone items is every item's schema, except that items: false
		// forbids items and items: true says nothing (SchemaTranslator).
		// Paths keep the draft-07 names, "items/N" and "additionalItems",
		// as Confluent reports them.
		if pre, ok := o.Get("prefixItems"); ok {
			arr, _ := pre.([]any)
			for i := range arr {
				p.tuple = append(p.tuple, l.child(o, loc, "prefixItems", i, d, c))
			}
		}
		if hasItems {
			switch b, isBool := items.(bool); {
			case isBool:
				p.additional = jsonExtra{forbid: !b}
			case len(p.tuple) > 0:
				p.additional = jsonExtra{schema: l.child(o, loc, "items", -1, d, c)}
			default:
				p.items = l.child(o, loc, "items", -1, d, c)
			}
		}
	} else {
		if hasItems {
			if arr, ok := items.([]any); ok {
				for i := range arr {
					p.tuple = append(p.tuple, l.child(o, loc, "items", i, d, c))
				}
			} else {
				p.items = l.child(o, loc, "items", -1, d, c)
			}
		}
		// everit reads additionalItems whatever form items has.
		p.additional = l.extra(o, loc, "additionalItems", d, c)
	}
	if d >= jsonschema.Draft6 {
		p.contains = l.child(o, loc, "contains", -1, d, c)
	}
	if d >= jsonschema.Draft2019 {
		p.minContains = jsonNumAt(o, "minContains")
		p.maxContains = jsonNumAt(o, "maxContains")
		p.unevaluated = l.extra(o, loc, "unevaluatedItems", d, c)
	}
	return p
}

// resolve follows $refs to the schema they name. A chain of $refs that
// loops is a schema no value can be checked against; it is compared as {}.
func (n *jsonNode) resolve() (*jsonNode, error) {
	seen := 0
	for n != nil && n.kind == jsonKindRef {
		if seen++; seen > 64 {
			return &jsonNode{kind: jsonKindEmpty, loc: n.loc}, nil
		}
		t, err := n.ref.resolve()
		if err != nil {
			return nil, err
		}
		n = t
	}
	return n, nil
}

// resolve loads the node the $ref names: where the compiler resolved the
// same $ref, its answer; otherwise (a $ref inside a keyword the compiler
// ignores) the URL resolved against the document.
func (r *jsonRef) resolve() (*jsonNode, error) {
	if r.target != nil {
		return r.target, nil
	}
	l := r.loader
	target := r.compiled
	if target == nil {
		// Reached without the compiled schema in hand (a $ref inside a
		// keyword the compiler skipped): look the location up.
		if l.compiled == nil {
			l.compiled = map[string]*js.Schema{}
			jsonIndexCompiled(l.s.Compiled(), l.compiled)
		}
		if c := l.compiled[r.from]; c != nil {
			target = c.Ref
		}
	}
	loc, d := "", r.draft
	if target != nil {
		loc = target.Location
		d = jsonDraftOf(target.Draft, d)
	} else {
		docURL, _, _ := strings.Cut(r.from, "#")
		base, err := url.Parse(docURL)
		ref, err2 := url.Parse(r.text)
		if err != nil || err2 != nil {
			return nil, fmt.Errorf("compat: $ref %q at %s is not a URL", r.text, jsonDisplayLoc(r.from))
		}
		u := base.ResolveReference(ref)
		frag := u.Fragment
		u.Fragment = ""
		loc = u.String() + "#" + frag
		target = l.compiled[loc]
	}
	if n, ok := l.memo[loc]; ok {
		r.target = n
		return n, nil
	}
	v, ok := l.s.DocumentAt(loc)
	if !ok {
		return nil, fmt.Errorf("compat: $ref %q at %s names no schema in the document or its references", r.text, jsonDisplayLoc(r.from))
	}
	r.target = l.value(v, loc, d, target)
	return r.target, nil
}

// jsonIndexCompiled records every compiled schema reachable from s by its
// Location.
func jsonIndexCompiled(s *js.Schema, into map[string]*js.Schema) {
	if s == nil {
		return
	}
	if _, ok := into[s.Location]; ok {
		return
	}
	into[s.Location] = s
	walk := func(ss ...*js.Schema) {
		for _, x := range ss {
			jsonIndexCompiled(x, into)
		}
	}
	walk(s.Ref, s.RecursiveRef, s.DynamicRef, s.Not, s.If, s.Then, s.Else, s.PropertyNames,
		s.UnevaluatedProperties, s.Items2020, s.Contains, s.UnevaluatedItems, s.ContentSchema)
	walk(s.AllOf...)
	walk(s.AnyOf...)
	walk(s.OneOf...)
	walk(s.PrefixItems...)
	for _, x := range s.Properties {
		walk(x)
	}
	for _, x := range s.PatternProperties {
		walk(x)
	}
	for _, x := range s.DependentSchemas {
		walk(x)
	}
	for _, x := range s.Dependencies {
		if x, ok := x.(*js.Schema); ok {
			walk(x)
		}
	}
	for _, x := range []any{s.AdditionalProperties, s.AdditionalItems, s.Items} {
		switch x := x.(type) {
		case *js.Schema:
			walk(x)
		case []*js.Schema:
			walk(x...)
		}
	}
}

func jsonDraftOf(d *js.Draft, fallback jsonschema.Draft) jsonschema.Draft {
	switch d {
	case js.Draft4:
		return jsonschema.Draft4
	case js.Draft6:
		return jsonschema.Draft6
	case js.Draft7:
		return jsonschema.Draft7
	case js.Draft2019:
		return jsonschema.Draft2019
	case js.Draft2020:
		return jsonschema.Draft2020
	}
	return fallback
}

// jsonLocJoin appends one reference token to a location the way the
// compiler spells its Locations, so that they can be looked up.
func jsonLocJoin(loc, token string) string {
	token = strings.ReplaceAll(token, "~", "~0")
	token = strings.ReplaceAll(token, "/", "~1")
	return loc + "/" + url.PathEscape(token)
}

// jsonDisplayLoc shortens the internal base URL of the root schema.
func jsonDisplayLoc(loc string) string {
	if rest, ok := strings.CutPrefix(loc, "mem://sluice/$root"); ok {
		return rest
	}
	return strings.TrimPrefix(loc, "mem://sluice/")
}
