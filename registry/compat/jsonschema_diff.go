package compat

import (
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// This file compares two loaded schemas the way Confluent's SchemaDiff does:
// original (the writer) against update (the reader), recording typed
// differences under a JSON path. A difference is a violation when its kind
// is outside the policy's compatible set. Several rules ask "is this
// sub-comparison compatible?" (a property covered by a partially open
// model, a combinator branch matching another, not): those run in a
// sub-context whose differences are kept or dropped as a whole.

// jsonMaxSteps bounds the node comparisons of one check. Combinators
// compare every pair of branches, so nested oneOfs cost the product of
// their widths; real schemas stay far below this, and a crafted one gets
// an error instead of pinning a core.
const jsonMaxSteps = 1 << 18

// jsonDiff is one difference found.
type jsonDiff struct {
	kind, path, msg string
}

// jsonRun is the state shared by a comparison and its sub-contexts.
type jsonRun struct {
	compatible map[string]bool
	active     map[[2]*jsonNode]bool // pairs being compared: a cycle
	cuts       int                   // times a cycle was cut (assumed compatible)
	probes     map[[2]*jsonNode]jsonProbe
	steps      int
	err        error
}

// jsonProbe is the memoised answer of a probe: compatible, or the first
// incompatible difference with its path relative to the pair's.
type jsonProbe struct {
	ok             bool
	kind, rel, msg string
}

// jsonCtx is a comparison context: a path and the differences found under
// it. Sub-contexts share the run and start with a copy of the path.
type jsonCtx struct {
	*jsonRun
	path  []string
	diffs []jsonDiff
	// probe marks a context that only asks "compatible or not?": it stops
	// at the first incompatible difference. Combinator matching asks this
	// of every pair of branches, so stopping early is what keeps nested
	// combinators affordable.
	probe bool
}

// sub returns a context for a comparison whose differences the caller
// keeps (a property covered by a partially open model).
func (c *jsonCtx) sub() *jsonCtx {
	return &jsonCtx{jsonRun: c.jsonRun, path: slices.Clone(c.path), probe: c.probe}
}

// probeSub returns a context that stops at the first incompatible
// difference, which it keeps for messages.
func (c *jsonCtx) probeSub() *jsonCtx {
	return &jsonCtx{jsonRun: c.jsonRun, path: slices.Clone(c.path), probe: true}
}

// done reports whether a probe has its answer.
func (c *jsonCtx) done() bool { return c.probe && len(c.diffs) > 0 }

func (c *jsonCtx) push(tokens ...string) { c.path = append(c.path, tokens...) }
func (c *jsonCtx) pop(n int)             { c.path = c.path[:len(c.path)-n] }

// add records a difference at the current path. Compatible differences
// are dropped at once: nothing downstream reads them (verdicts look only
// at incompatible ones, and only those are reported).
func (c *jsonCtx) add(kind, format string, args ...any) {
	if c.compatible[kind] || c.done() {
		return
	}
	c.diffs = append(c.diffs, jsonDiff{kind: kind, path: jsonPath(c.path), msg: fmt.Sprintf(format, args...)})
}

// addAt records a difference at the current path plus one keyword.
func (c *jsonCtx) addAt(keyword, kind, format string, args ...any) {
	c.push(keyword)
	c.add(kind, format, args...)
	c.pop(1)
}

// ok reports whether everything found in this context is compatible.
func (c *jsonCtx) ok() bool { return len(c.diffs) == 0 }

func (c *jsonCtx) merge(o *jsonCtx) { c.diffs = append(c.diffs, o.diffs...) }

// jsonPath renders Confluent's path form: "#/" and the tokens, escaped as
// JSON pointer tokens ("#/" alone is the root).
func jsonPath(tokens []string) string {
	var b strings.Builder
	b.WriteString("#/")
	for i, t := range tokens {
		if i > 0 {
			b.WriteByte('/')
		}
		t = strings.ReplaceAll(t, "~", "~0")
		b.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return b.String()
}

// compare records the differences from original o to update u.
func (c *jsonCtx) compare(o, u *jsonNode) {
	if c.err != nil || c.done() {
		return
	}
	if c.steps++; c.steps > jsonMaxSteps {
		c.err = fmt.Errorf("compat: comparing these JSON Schemas takes more than %d steps (nested combinators compare every pair of branches); simplify the oneOf/anyOf/allOf nesting", jsonMaxSteps)
		return
	}
	switch {
	case o == nil && u == nil:
		return
	case o == nil:
		c.add(jsonSchemaAdded, "schema %s added where there was none", jsonDescribe(u))
		return
	case u == nil:
		c.add(jsonSchemaRemoved, "schema %s removed", jsonDescribe(o))
		return
	}
	var err error
	if o, err = o.resolve(); err == nil {
		u, err = u.resolve()
	}
	if err != nil {
		c.err = err
		return
	}
	if !c.probe || !jsonHasChildren(o) {
		c.compareResolved(o, u)
		return
	}
	// A probe's answer depends only on the pair, unless a cycle was cut
	// (assumed compatible) on the way: memoise the others. Without this,
	// combinators nested in combinators re-compare the same pairs for
	// every pairing of their parents.
	pair := [2]*jsonNode{o, u}
	if p, ok := c.probes[pair]; ok {
		if !p.ok {
			c.diffs = append(c.diffs, jsonDiff{kind: p.kind, path: jsonRebase(c.path, p.rel), msg: p.msg})
		}
		return
	}
	cuts := c.cuts
	c.compareResolved(o, u)
	if c.cuts != cuts || c.err != nil {
		return
	}
	p := jsonProbe{ok: len(c.diffs) == 0}
	if !p.ok {
		d := c.diffs[0]
		p.kind, p.msg, p.rel = d.kind, d.msg, jsonRelative(c.path, d.path)
	}
	if c.probes == nil {
		c.probes = map[[2]*jsonNode]jsonProbe{}
	}
	c.probes[pair] = p
}

// jsonHasChildren reports whether comparing n may recurse, the only case
// where memoising a probe pays for the map entry.
func jsonHasChildren(n *jsonNode) bool {
	switch n.kind {
	case jsonKindObject, jsonKindArray, jsonKindCombined, jsonKindNot:
		return true
	}
	return false
}

// jsonRelative returns path relative to the JSON path of base.
func jsonRelative(base []string, path string) string {
	prefix := jsonPath(base)
	if path == prefix {
		return ""
	}
	if len(base) == 0 {
		return path[len(prefix):]
	}
	return path[len(prefix)+1:]
}

// jsonRebase is the inverse of jsonRelative.
func jsonRebase(base []string, rel string) string {
	switch {
	case rel == "":
		return jsonPath(base)
	case len(base) == 0:
		return "#/" + rel
	}
	return jsonPath(base) + "/" + rel
}

// compareResolved compares two schemas that are not $refs.
func (c *jsonCtx) compareResolved(o, u *jsonNode) {
	// Kafka Connect marks byte arrays with connect.type: bytes; two such
	// schemas hold the same data whatever JSON types they spell it with.
	if o.connectBytes && u.connectBytes {
		return
	}

	// A plain schema becoming a combinator, or the reverse, is accepted
	// when one branch is a compatible match (Confluent's special cases).
	if o.kind != jsonKindCombined && u.kind == jsonKindCombined {
		if len(u.subs) == 1 {
			if s := c.try(o, u.subs[0]); s != nil {
				c.merge(s)
				return
			}
		} else if u.criterion == jsonAnyOf || u.criterion == jsonOneOf {
			for _, b := range u.subs {
				if s := c.try(o, b); s != nil {
					c.merge(s)
					c.add(jsonSumTypeExtended, "widened from %s to %s", jsonDescribe(o), jsonDescribe(u))
					return
				}
			}
		}
	} else if o.kind == jsonKindCombined && u.kind != jsonKindCombined {
		if len(o.subs) == 1 {
			if s := c.try(o.subs[0], u); s != nil {
				c.merge(s)
				return
			}
		} else if o.criterion == jsonAllOf {
			for _, b := range o.subs {
				if s := c.try(b, u); s != nil {
					c.merge(s)
					c.add(jsonProductTypeNarrowed, "narrowed from %s to %s", jsonDescribe(o), jsonDescribe(u))
					return
				}
			}
		}
	}

	if o.kind != u.kind {
		// Anything may become {} or true, and false may become anything.
		if o.kind != jsonKindFalse && u.kind != jsonKindEmpty && u.kind != jsonKindTrue {
			c.addAt("type", jsonTypeChanged, "%s", jsonTypeChangeMessage(o, u))
		}
		return
	}

	// A pair already being compared further up is a cycle: assume it
	// compatible here; any real difference shows on the first visit.
	pair := [2]*jsonNode{o, u}
	if c.active[pair] {
		c.cuts++
		return
	}
	c.active[pair] = true
	defer delete(c.active, pair)

	switch o.kind {
	case jsonKindString:
		c.compareString(o.str, u.str)
	case jsonKindNumber:
		c.compareNumber(o.num, u.num)
	case jsonKindEnum:
		c.compareEnum(o.values, u.values)
	case jsonKindConst:
		if !jsonEqual(o.constant, u.constant) {
			c.addAt("const", jsonEnumArrayChanged, "const changed from %s to %s", jsonText(o.constant), jsonText(u.constant))
		}
	case jsonKindCombined:
		c.compareCombined(o, u)
	case jsonKindNot:
		c.compareNot(o, u)
	case jsonKindObject:
		c.compareObject(o.obj, u.obj)
	case jsonKindArray:
		c.compareArray(o.arr, u.arr)
	}
	// Empty, true, false, boolean, null and if/then/else have nothing more
	// to compare (Confluent does not look inside if/then/else).
}

// try compares o and u in a probe and returns it if compatible. (A
// compatible comparison records nothing, compatible differences being
// dropped, so a probe loses nothing the caller would merge.)
func (c *jsonCtx) try(o, u *jsonNode) *jsonCtx {
	s := c.probeSub()
	s.compare(o, u)
	if s.ok() {
		return s
	}
	return nil
}

func jsonTypeChangeMessage(o, u *jsonNode) string {
	od, ud := jsonDescribe(o), jsonDescribe(u)
	if o.typeArray && !u.typeArray {
		for _, s := range o.subs {
			if jsonDescribe(s) == ud {
				return fmt.Sprintf("narrowed from %s to %s", od, ud)
			}
		}
	}
	return fmt.Sprintf("changed from %s to %s", od, ud)
}

// compareBound reports the change of one numeric keyword with the kinds
// for each case; the compatible set decides which direction is harmless.
func (c *jsonCtx) compareBound(keyword string, o, u *jsonNum, added, removed, increased, decreased string) {
	switch {
	case o == nil && u == nil:
	case o == nil:
		c.addAt(keyword, added, "%s %s added", keyword, u.lit)
	case u == nil:
		c.addAt(keyword, removed, "%s %s removed", keyword, o.lit)
	default:
		switch o.cmp(u) {
		case -1:
			c.addAt(keyword, increased, "%s increased from %s to %s", keyword, o.lit, u.lit)
		case 1:
			c.addAt(keyword, decreased, "%s decreased from %s to %s", keyword, o.lit, u.lit)
		}
	}
}

func (c *jsonCtx) compareString(o, u *jsonStringPart) {
	c.compareBound("maxLength", o.maxLength, u.maxLength, jsonMaxLengthAdded, jsonMaxLengthRemoved, jsonMaxLengthIncreased, jsonMaxLengthDecreased)
	c.compareBound("minLength", o.minLength, u.minLength, jsonMinLengthAdded, jsonMinLengthRemoved, jsonMinLengthIncreased, jsonMinLengthDecreased)
	switch {
	case o.pattern == nil && u.pattern != nil:
		c.addAt("pattern", jsonPatternAdded, "pattern %q added", *u.pattern)
	case o.pattern != nil && u.pattern == nil:
		c.addAt("pattern", jsonPatternRemoved, "pattern %q removed", *o.pattern)
	case o.pattern != nil && *o.pattern != *u.pattern:
		// No regex reasoning: any change may reject old values.
		c.addAt("pattern", jsonPatternChanged, "pattern changed from %q to %q", *o.pattern, *u.pattern)
	}
}

func (c *jsonCtx) compareNumber(o, u *jsonNumberPart) {
	c.compareBound("maximum", o.maximum, u.maximum, jsonMaximumAdded, jsonMaximumRemoved, jsonMaximumIncreased, jsonMaximumDecreased)
	c.compareBound("minimum", o.minimum, u.minimum, jsonMinimumAdded, jsonMinimumRemoved, jsonMinimumIncreased, jsonMinimumDecreased)
	c.compareBound("exclusiveMaximum", o.exclusiveMaximum, u.exclusiveMaximum, jsonExclusiveMaximumAdded, jsonExclusiveMaximumRemoved, jsonExclusiveMaximumIncreased, jsonExclusiveMaximumDecreased)
	c.compareBound("exclusiveMinimum", o.exclusiveMinimum, u.exclusiveMinimum, jsonExclusiveMinimumAdded, jsonExclusiveMinimumRemoved, jsonExclusiveMinimumIncreased, jsonExclusiveMinimumDecreased)
	switch om, um := o.multipleOf, u.multipleOf; {
	case om == nil && um == nil:
	case om == nil:
		c.addAt("multipleOf", jsonMultipleOfAdded, "multipleOf %s added", um.lit)
	case um == nil:
		c.addAt("multipleOf", jsonMultipleOfRemoved, "multipleOf %s removed", om.lit)
	case om.cmp(um) == 0:
	case jsonDivides(om.value(), um.value()):
		// Every new value is a multiple of the old divisor, not the
		// reverse: old values may be rejected.
		c.addAt("multipleOf", jsonMultipleOfExpanded, "multipleOf expanded from %s to %s", om.lit, um.lit)
	case jsonDivides(um.value(), om.value()):
		c.addAt("multipleOf", jsonMultipleOfReduced, "multipleOf reduced from %s to %s", om.lit, um.lit)
	default:
		c.addAt("multipleOf", jsonMultipleOfChanged, "multipleOf changed from %s to %s", om.lit, um.lit)
	}
	if o.integer != u.integer {
		if o.integer {
			c.addAt("type", jsonTypeExtended, "widened from integer to number")
		} else {
			c.addAt("type", jsonTypeNarrowed, "narrowed from number to integer")
		}
	}
}

// jsonDivides reports whether b is an integer multiple of a (a != 0).
func jsonDivides(a, b *big.Rat) bool {
	if a.Sign() == 0 {
		return false
	}
	return new(big.Rat).Quo(b, a).IsInt()
}

func (c *jsonCtx) compareEnum(o, u []any) {
	removed := jsonMissing(o, u)
	added := jsonMissing(u, o)
	switch {
	case len(removed) == 0 && len(added) == 0:
	case len(removed) == 0:
		c.addAt("enum", jsonEnumArrayExtended, "enum extended with %s", jsonList(added))
	case len(added) == 0:
		c.addAt("enum", jsonEnumArrayNarrowed, "enum narrowed: %s removed", jsonList(removed))
	default:
		c.addAt("enum", jsonEnumArrayChanged, "enum changed: %s removed, %s added", jsonList(removed), jsonList(added))
	}
}

// jsonMissing lists the values of a that b lacks.
func jsonMissing(a, b []any) []any {
	var out []any
	for _, x := range a {
		if !slices.ContainsFunc(b, func(y any) bool { return jsonEqual(x, y) }) {
			out = append(out, x)
		}
	}
	return out
}

func (c *jsonCtx) compareNot(o, u *jsonNode) {
	c.push("not")
	defer c.pop(1)
	// not inverts the direction: the update's excluded set must be
	// within the original's.
	s := c.probeSub()
	s.compare(u.not, o.not)
	if s.ok() {
		c.add(jsonNotTypeNarrowed, "not narrowed")
		return
	}
	c.add(jsonNotTypeExtended, "the schema under not now excludes values the old one allowed (%s)", s.diffs[0].msg)
}

// compareCombined compares two combinators: their criteria, their sizes
// (duplicates collapsed), and a maximum matching of compatible branch pairs
// that must cover the smaller side.
func (c *jsonCtx) compareCombined(o, u *jsonNode) {
	if o.criterion != u.criterion {
		oneO, oneU := len(o.subs) == 1, len(u.subs) == 1
		if u.criterion == jsonAnyOf || (oneO && oneU) || (oneO && u.criterion == jsonOneOf) || (oneU && o.criterion == jsonAllOf) {
			c.add(jsonCombinedTypeExtended, "combinator changed from %s to %s", o.criterion, u.criterion)
		} else {
			c.add(jsonCombinedTypeChanged, "combinator changed from %s to %s", jsonCriterionName(o), jsonCriterionName(u))
			return
		}
	}
	os, us := jsonDedupe(o), jsonDedupe(u)
	switch {
	case len(os) < len(us) && u.criterion == jsonAllOf:
		c.add(jsonProductTypeExtended, "allOf extended from %s to %d: values must now match more", jsonSchemas(len(os)), len(us))
	case len(os) < len(us):
		c.add(jsonSumTypeExtended, "%s extended from %s to %d", u.criterion, jsonSchemas(len(os)), len(us))
	case len(os) > len(us) && o.criterion != jsonAllOf:
		c.add(jsonSumTypeNarrowed, "%s narrowed from %s to %d", o.criterion, jsonSchemas(len(os)), len(us))
	case len(os) > len(us):
		c.add(jsonProductTypeNarrowed, "allOf narrowed from %s to %d", jsonSchemas(len(os)), len(us))
	}

	edges := make([][]*jsonCtx, len(os))
	for i, ob := range os {
		c.push(o.criterion, fmt.Sprint(i))
		edges[i] = make([]*jsonCtx, len(us))
		found := false
		for j, ub := range us {
			edges[i][j] = c.try(ob, ub)
			found = found || edges[i][j] != nil
		}
		c.pop(2)
		// A probe needs only the verdict: an old branch with no
		// compatible partner settles it when the old side must be
		// covered.
		if c.probe && !found && len(os) <= len(us) {
			c.add(jsonCombinedTypeSubschemasChanged, "%s/%d has no compatible counterpart", o.criterion, i)
			return
		}
	}
	match := jsonMaxMatching(len(os), len(us), func(i, j int) bool { return edges[i][j] != nil })
	size := 0
	for i, j := range match {
		if j >= 0 {
			c.merge(edges[i][j])
			size++
		}
	}
	if size < min(len(os), len(us)) {
		if c.probe {
			c.add(jsonCombinedTypeSubschemasChanged, "the %s subschemas cannot be paired", o.criterion)
			return
		}
		c.add(jsonCombinedTypeSubschemasChanged, "%s", c.unpairedMessage(o, u, os, us, match))
	}
}

// unpairedMessage explains a failed matching. Confluent names no cause;
// we name the old subschemas left without a compatible new one and, where
// one unpaired new subschema has the same kind (typically the other half
// of a synthetic allOf), the first difference between the two.
func (c *jsonCtx) unpairedMessage(o, u *jsonNode, os, us []*jsonNode, match []int) string {
	taken := make([]bool, len(us))
	for _, j := range match {
		if j >= 0 {
			taken[j] = true
		}
	}
	kindOf := func(n *jsonNode) jsonKind {
		if r, err := n.resolve(); err == nil && r != nil {
			return r.kind
		}
		return jsonKindRef
	}
	var parts []string
	for i, j := range match {
		if j >= 0 {
			continue
		}
		part := fmt.Sprintf("old %s/%d (%s)", o.criterion, i, jsonDescribe(os[i]))
		for k, ub := range us {
			if taken[k] || kindOf(ub) != kindOf(os[i]) {
				continue
			}
			c.push(o.criterion, fmt.Sprint(i))
			s := c.probeSub()
			s.compare(os[i], ub)
			c.pop(2)
			if len(s.diffs) > 0 {
				d := s.diffs[0]
				msg := d.msg
				if d.kind == jsonCombinedTypeSubschemasChanged {
					msg = "its subschemas cannot be paired either"
				}
				part += fmt.Sprintf(" differs from new %s/%d: %s: %s", u.criterion, k, d.path, msg)
			}
			taken[k] = true
			break
		}
		parts = append(parts, part)
	}
	what := "subschemas"
	if o.synthetic {
		what = "parts"
	}
	if len(os) > len(us) {
		return fmt.Sprintf("the new %s %s cannot each be paired with a compatible old one", u.criterion, what)
	}
	return fmt.Sprintf("the old %s %s cannot each be paired with a compatible new one: %s", o.criterion, what, strings.Join(parts, "; "))
}

// jsonSchemas counts subschemas in words.
func jsonSchemas(n int) string {
	if n == 1 {
		return "1 subschema"
	}
	return fmt.Sprintf("%d subschemas", n)
}

func jsonCriterionName(n *jsonNode) string {
	if n.typeArray {
		return "a type array"
	}
	if n.synthetic {
		return "allOf (keywords of several kinds)"
	}
	return n.criterion
}

// jsonDedupe returns the subschemas of a combined node with those of the
// same text collapsed, as Confluent's set of subschemas does. It is
// computed once per node.
func jsonDedupe(n *jsonNode) []*jsonNode {
	if n.distinct != nil || len(n.subs) == 0 {
		return n.distinct
	}
	out := make([]*jsonNode, 0, len(n.subs))
	for i, s := range n.subs {
		k := jsonKey(s)
		if !slices.ContainsFunc(n.subs[:i], func(p *jsonNode) bool { return jsonKey(p) == k }) {
			out = append(out, s)
		}
	}
	n.distinct = out
	return out
}

// jsonKey identifies a subschema for deduplication: its text in its
// document, or, for one of several parts of a schema object, the part.
// The key is computed once per node: combinators nest, and rendering a
// subtree at every level would cost its size times its depth.
func jsonKey(n *jsonNode) string {
	if n == nil {
		return ""
	}
	if n.key == "" {
		doc, _, _ := strings.Cut(n.loc, "#")
		if n.raw != nil {
			n.key = doc + " " + jsonText(n.raw)
		} else {
			n.key = n.loc + " " + n.tag
		}
	}
	return n.key
}

// jsonMaxMatching returns a maximum bipartite matching between n left and
// m right vertices: match[i] is the right partner of i, or -1 (Kuhn's
// augmenting paths; n and m are combinator widths, so small).
func jsonMaxMatching(n, m int, edge func(i, j int) bool) []int {
	match := make([]int, n)
	owner := make([]int, m)
	for i := range match {
		match[i] = -1
	}
	for j := range owner {
		owner[j] = -1
	}
	var augment func(i int, seen []bool) bool
	augment = func(i int, seen []bool) bool {
		for j := range m {
			if seen[j] || !edge(i, j) {
				continue
			}
			seen[j] = true
			if owner[j] < 0 || augment(owner[j], seen) {
				owner[j], match[i] = i, j
				return true
			}
		}
		return false
	}
	for i := range n {
		augment(i, make([]bool, m))
	}
	return match
}

// compareObject follows Confluent's ObjectSchemaDiff: required, properties
// (judged by the content model), dependencies, additional and unevaluated
// properties, then the property counts.
func (c *jsonCtx) compareObject(o, u *jsonObjectPart) {
	c.push("required")
	for _, p := range o.props {
		if _, ok := u.byName[p.name]; !ok {
			continue
		}
		was, is := o.required[p.name], u.required[p.name]
		switch {
		case was && !is:
			c.addAt(p.name, jsonRequiredAttributeRemoved, "property %q is no longer required", p.name)
		case !was && is && u.byName[p.name].hasDefault:
			c.addAt(p.name, jsonRequiredAttributeWithDefaultAdded, "property %q became required (it has a default)", p.name)
		case !was && is:
			c.addAt(p.name, jsonRequiredAttributeAdded, "property %q became required: old data may lack it", p.name)
		}
	}
	c.pop(1)

	c.push("properties")
	for _, p := range o.props {
		c.push(p.name)
		if un, ok := u.byName[p.name]; ok {
			c.compare(p.node, un)
		} else {
			c.propertyRemoved(p.name, p.node, u)
		}
		c.pop(1)
	}
	for _, p := range u.props {
		if _, ok := o.byName[p.name]; ok {
			continue
		}
		c.push(p.name)
		c.propertyAdded(p.name, p.node, o, u)
		c.pop(1)
	}
	c.pop(1)

	c.compareDependencies(o, u)
	c.compareExtra("additionalProperties", o.additional, u.additional, "additional properties",
		jsonAdditionalPropertiesAdded, jsonAdditionalPropertiesRemoved, jsonAdditionalPropertiesExtended, jsonAdditionalPropertiesNarrowed)
	c.compareExtra("unevaluatedProperties", o.unevaluated, u.unevaluated, "unevaluated properties",
		jsonUnevaluatedPropertiesAdded, jsonUnevaluatedPropertiesRemoved, jsonUnevaluatedPropertiesExtended, jsonUnevaluatedPropertiesNarrowed)
	c.compareBound("maxProperties", o.maxProps, u.maxProps, jsonMaxPropertiesAdded, jsonMaxPropertiesRemoved, jsonMaxPropertiesIncreased, jsonMaxPropertiesDecreased)
	c.compareBound("minProperties", o.minProps, u.minProps, jsonMinPropertiesAdded, jsonMinPropertiesRemoved, jsonMinPropertiesIncreased, jsonMinPropertiesDecreased)
}

// jsonOpen reports an open content model: any extra property allowed with
// any value.
func jsonOpen(p *jsonObjectPart) bool {
	return len(p.patterns) == 0 && p.additional.schema == nil && p.additional.permits() &&
		p.unevaluated.schema == nil && p.unevaluated.permits()
}

// jsonPartial returns the schema a partially open model gives an extra
// property of this name: the first matching pattern property's, else the
// additionalProperties schema, else the unevaluatedProperties schema; nil
// when the name is not covered (a closed model).
func jsonPartial(p *jsonObjectPart, name string) *jsonNode {
	for _, pat := range p.patterns {
		if pat.re != nil && pat.re.MatchString(name) {
			return pat.node
		}
	}
	if !p.additional.permits() {
		return nil
	}
	if p.additional.schema != nil {
		return p.additional.schema
	}
	if p.unevaluated.permits() {
		return p.unevaluated.schema
	}
	return nil
}

// propertyRemoved judges a property the update no longer names by the
// update's content model: where the update still accepts it, old data
// holding it stays valid.
func (c *jsonCtx) propertyRemoved(name string, was *jsonNode, u *jsonObjectPart) {
	if jsonOpen(u) {
		c.add(jsonPropertyRemovedFromOpen, "property %q removed from an open content model", name)
		return
	}
	if partial := jsonPartial(u, name); partial != nil {
		s := c.sub()
		s.compare(was, partial)
		c.merge(s)
		if s.ok() {
			c.add(jsonPropertyRemovedIsCoveredByPartiallyOpen, "property %q removed; the partially open content model still accepts it", name)
		} else {
			c.add(jsonPropertyRemovedNotCoveredByPartiallyOpen, "property %q removed, and the partially open content model does not accept its old values", name)
		}
		return
	}
	if was != nil && was.kind == jsonKindFalse {
		c.add(jsonPropertyWithFalseRemovedFromClosed, "property %q (schema false) removed from a closed content model", name)
		return
	}
	c.add(jsonPropertyRemovedFromClosed, "property %q removed from a closed content model: old data holding it is rejected", name)
}

// propertyAdded judges a property the original did not name by the
// original's content model: an open model may already hold any value
// under that name.
func (c *jsonCtx) propertyAdded(name string, is *jsonNode, o, u *jsonObjectPart) {
	required := u.required[name]
	if jsonOpen(o) {
		switch {
		case required && is.hasDefault:
			c.add(jsonRequiredPropertyWithDefaultAddedToOpen, "required property %q (with a default) added to an open content model", name)
		case required:
			c.add(jsonRequiredPropertyAddedToOpen, "required property %q added to an open content model: old data may lack it or hold any value there", name)
		case is.kind == jsonKindEmpty || is.kind == jsonKindTrue:
			c.add(jsonPropertyWithEmptySchemaAddedToOpen, "property %q with an empty schema added to an open content model", name)
		default:
			c.add(jsonOptionalPropertyAddedToOpen, "optional property %q added to an open content model: old data may hold any value there", name)
		}
		return
	}
	if partial := jsonPartial(o, name); partial != nil {
		s := c.sub()
		s.compare(partial, is)
		c.merge(s)
		if s.ok() {
			c.add(jsonPropertyAddedIsCoveredByPartiallyOpen, "property %q added; the partially open content model already constrained it compatibly", name)
		} else {
			c.add(jsonPropertyAddedNotCoveredByPartiallyOpen, "property %q added with a schema that rejects values the old partially open content model allowed", name)
		}
	}
	switch {
	case required && is.hasDefault:
		c.add(jsonRequiredPropertyWithDefaultAddedToUnopen, "required property %q (with a default) added", name)
	case required:
		c.add(jsonRequiredPropertyAddedToUnopen, "required property %q added: old data lacks it", name)
	default:
		c.add(jsonOptionalPropertyAddedToUnopen, "optional property %q added", name)
	}
}

func (c *jsonCtx) compareDependencies(o, u *jsonObjectPart) {
	uDeps := map[string]jsonDep{}
	for _, d := range u.propDeps {
		uDeps[d.name] = d
	}
	oDeps := map[string]bool{}
	for _, od := range o.propDeps {
		oDeps[od.name] = true
		c.push("dependencies", od.name)
		ud, ok := uDeps[od.name]
		switch {
		case !ok:
			c.add(jsonDependencyArrayRemoved, "dependency of %q removed", od.name)
		default:
			less, more := jsonMissingStrings(od.needs, ud.needs), jsonMissingStrings(ud.needs, od.needs)
			switch {
			case len(less) == 0 && len(more) == 0:
			case len(less) == 0:
				c.add(jsonDependencyArrayExtended, "%q now also requires %s", od.name, jsonQuoted(more))
			case len(more) == 0:
				c.add(jsonDependencyArrayNarrowed, "%q no longer requires %s", od.name, jsonQuoted(less))
			default:
				c.add(jsonDependencyArrayChanged, "%q now requires %s instead of %s", od.name, jsonQuoted(ud.needs), jsonQuoted(od.needs))
			}
		}
		c.pop(2)
	}
	for _, ud := range u.propDeps {
		if !oDeps[ud.name] {
			c.push("dependencies", ud.name)
			c.add(jsonDependencyArrayAdded, "dependency added: %q requires %s", ud.name, jsonQuoted(ud.needs))
			c.pop(2)
		}
	}

	uSchemas := map[string]*jsonNode{}
	for _, d := range u.schemaDeps {
		uSchemas[d.name] = d.node
	}
	oSchemas := map[string]bool{}
	for _, od := range o.schemaDeps {
		oSchemas[od.name] = true
		c.push("dependencies", od.name)
		if un, ok := uSchemas[od.name]; ok {
			c.compare(od.node, un)
		} else {
			c.add(jsonDependencySchemaRemoved, "schema dependency of %q removed", od.name)
		}
		c.pop(2)
	}
	for _, ud := range u.schemaDeps {
		if !oSchemas[ud.name] {
			c.push("dependencies", ud.name)
			c.add(jsonDependencySchemaAdded, "schema dependency added: when %q is present the object must match %s", ud.name, jsonDescribe(ud.node))
			c.pop(2)
		}
	}
}

func jsonMissingStrings(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// compareExtra compares additionalProperties, additionalItems or an
// unevaluated keyword: allowed or not, then restricted by a schema or not.
func (c *jsonCtx) compareExtra(keyword string, o, u jsonExtra, what, added, removed, extended, narrowed string) {
	c.push(keyword)
	defer c.pop(1)
	switch {
	case o.permits() != u.permits() && u.permits():
		c.add(added, "%s now allowed", what)
	case o.permits() != u.permits():
		c.add(removed, "%s no longer allowed", what)
	case o.schema == nil && u.schema != nil:
		c.add(narrowed, "%s now restricted to %s", what, jsonDescribe(u.schema))
	case o.schema != nil && u.schema == nil:
		c.add(extended, "%s no longer restricted by a schema", what)
	default:
		c.compare(o.schema, u.schema)
	}
}

// compareArray follows Confluent's ArraySchemaDiff, plus contains and
// unevaluatedItems.
func (c *jsonCtx) compareArray(o, u *jsonArrayPart) {
	c.push("items")
	c.compare(o.items, u.items)
	c.pop(1)

	const key = "items"
	shared := min(len(o.tuple), len(u.tuple))
	for i := range shared {
		c.push(key, fmt.Sprint(i))
		c.compare(o.tuple[i], u.tuple[i])
		c.pop(2)
	}
	for i := shared; i < len(o.tuple); i++ {
		c.push(key, fmt.Sprint(i))
		c.itemRemoved(i, o.tuple[i], u)
		c.pop(2)
	}
	for i := shared; i < len(u.tuple); i++ {
		c.push(key, fmt.Sprint(i))
		c.itemAdded(i, u.tuple[i], o)
		c.pop(2)
	}

	c.compareExtra("additionalItems", o.additional, u.additional, "additional items",
		jsonAdditionalItemsAdded, jsonAdditionalItemsRemoved, jsonAdditionalItemsExtended, jsonAdditionalItemsNarrowed)
	c.compareBound("maxItems", o.maxItems, u.maxItems, jsonMaxItemsAdded, jsonMaxItemsRemoved, jsonMaxItemsIncreased, jsonMaxItemsDecreased)
	c.compareBound("minItems", o.minItems, u.minItems, jsonMinItemsAdded, jsonMinItemsRemoved, jsonMinItemsIncreased, jsonMinItemsDecreased)
	if o.unique != u.unique {
		if o.unique {
			c.addAt("uniqueItems", jsonUniqueItemsRemoved, "uniqueItems removed")
		} else {
			c.addAt("uniqueItems", jsonUniqueItemsAdded, "uniqueItems added: old arrays may hold duplicates")
		}
	}
	c.push("contains")
	c.compare(o.contains, u.contains)
	c.pop(1)
	c.compareBound("maxContains", o.maxContains, u.maxContains, jsonMaxContainsAdded, jsonMaxContainsRemoved, jsonMaxContainsIncreased, jsonMaxContainsDecreased)
	c.compareBound("minContains", o.minContains, u.minContains, jsonMinContainsAdded, jsonMinContainsRemoved, jsonMinContainsIncreased, jsonMinContainsDecreased)
	c.compareExtra("unevaluatedItems", o.unevaluated, u.unevaluated, "unevaluated items",
		jsonUnevaluatedItemsAdded, jsonUnevaluatedItemsRemoved, jsonUnevaluatedItemsExtended, jsonUnevaluatedItemsNarrowed)
}

func jsonOpenArray(p *jsonArrayPart) bool {
	return p.additional.schema == nil && p.additional.permits() && p.unevaluated.schema == nil && p.unevaluated.permits()
}

func jsonPartialArray(p *jsonArrayPart) *jsonNode {
	if !p.additional.permits() {
		return nil
	}
	if p.additional.schema != nil {
		return p.additional.schema
	}
	if p.unevaluated.permits() {
		return p.unevaluated.schema
	}
	return nil
}

// itemRemoved judges a tuple position the update no longer names, by the
// update's content model.
func (c *jsonCtx) itemRemoved(i int, was *jsonNode, u *jsonArrayPart) {
	if jsonOpenArray(u) {
		c.add(jsonItemRemovedFromOpen, "item %d removed from an open content model", i)
		return
	}
	if partial := jsonPartialArray(u); partial != nil {
		s := c.sub()
		s.compare(was, partial)
		c.merge(s)
		if s.ok() {
			c.add(jsonItemRemovedIsCoveredByPartiallyOpen, "item %d removed; the additional items schema still accepts it", i)
		} else {
			c.add(jsonItemRemovedNotCoveredByPartiallyOpen, "item %d removed, and the additional items schema does not accept its old values", i)
		}
		return
	}
	if was != nil && was.kind == jsonKindFalse {
		c.add(jsonItemWithFalseRemovedFromClosed, "item %d (schema false) removed from a closed content model", i)
		return
	}
	c.add(jsonItemRemovedFromClosed, "item %d removed from a closed content model: old arrays that long are rejected", i)
}

// itemAdded judges a tuple position the original did not name, by the
// original's content model.
func (c *jsonCtx) itemAdded(i int, is *jsonNode, o *jsonArrayPart) {
	if jsonOpenArray(o) {
		if is.kind == jsonKindEmpty || is.kind == jsonKindTrue {
			c.add(jsonItemWithEmptySchemaAddedToOpen, "item %d with an empty schema added to an open content model", i)
		} else {
			c.add(jsonItemAddedToOpen, "item %d added to an open content model: old arrays may hold any value there", i)
		}
		return
	}
	if partial := jsonPartialArray(o); partial != nil {
		s := c.sub()
		s.compare(partial, is)
		c.merge(s)
		if s.ok() {
			c.add(jsonItemAddedIsCoveredByPartiallyOpen, "item %d added; the old additional items schema constrained it compatibly", i)
		} else {
			c.add(jsonItemAddedNotCoveredByPartiallyOpen, "item %d added with a schema that rejects values the old additional items schema allowed", i)
		}
		return
	}
	c.add(jsonItemAddedToClosed, "item %d added to a closed content model", i)
}
