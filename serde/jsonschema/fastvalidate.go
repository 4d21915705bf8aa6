package jsonschema

import (
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"sync"
	"unicode/utf8"
)

// The accept-only fast path of ValidatePayload. For schemas written with a
// common subset of JSON Schema (type, properties, required,
// additionalProperties, enum of strings, pattern, minLength, maxLength,
// minimum, maximum, items as one schema, minItems, maxItems, and
// annotations), a compiled tree of checks walks the payload bytes once,
// without building any value, and answers "valid" or "not sure". Only
// "valid" is trusted: "not sure" (an invalid payload, or a construct the
// walker does not decide exactly: escaped strings where a string is
// constrained, non-integer literals against integer or close bounds, nesting
// beyond maxDepth) sends the payload down the full path (decode, then the
// jsonschema/v5 validator), which decides and explains. So the fast path can
// only ever save time, never change a verdict; FuzzFastValidate checks it
// against the full path.
//
// A schema using anything else ($ref, combinators, conditionals, const,
// exclusive bounds, asserted formats, uniqueItems, patternProperties, ...)
// has no fast path.

// fastNode is the compiled check of one subschema; nil accepts anything.
type fastNode struct {
	types uint8 // fastType bits; 0 allows every type

	// strings
	minLen, maxLen int // -1: absent
	pattern        *regexp.Regexp
	enum           map[string]bool // string enum; nil: absent

	// numbers
	min, max *fastBound

	// objects
	props      map[string]*fastNode
	required   map[string]int // name -> bit in the seen mask
	noExtra    bool           // additionalProperties: false
	additional *fastNode      // additionalProperties as a schema; nil: any

	// arrays
	items              *fastNode
	minItems, maxItems int // -1: absent
}

const (
	ftNull uint8 = 1 << iota
	ftBool
	ftInteger
	ftNumber // includes integers
	ftString
	ftArray
	ftObject
)

// fastBound is a minimum or maximum.
type fastBound struct {
	f float64
	// exactInt: f is an integer of magnitude below 2^53, so comparisons
	// with such integers are exact in float64.
	exactInt bool
}

// fastPlan returns the schema's fast path, compiled on first use; nil when
// the schema uses anything the walker does not decide exactly.
func (s *Schema) fastPlan() *fastNode {
	s.fastOnce.Do(func() {
		c := fastCompiler{draft: s.draft}
		n, ok := c.node(s.doc, 0)
		if ok {
			s.fast = n
			s.fastOK = true
		}
	})
	if !s.fastOK {
		return nil
	}
	if s.fast == nil {
		return anyNode
	}
	return s.fast
}

// anyNode stands for a schema that accepts everything (a nil *fastNode is
// also "anything" inside the tree).
var anyNode = &fastNode{minLen: -1, maxLen: -1, minItems: -1, maxItems: -1}

// fastState is per-Schema lazily compiled state.
type fastState struct {
	fastOnce sync.Once
	fast     *fastNode
	fastOK   bool
}

type fastCompiler struct{ draft Draft }

// annotations are keywords that never fail a validation here.
var annotations = map[string]bool{
	"$schema": true, "$id": true, "$comment": true, "title": true, "description": true,
	"default": true, "examples": true, "readOnly": true, "writeOnly": true, "deprecated": true,
	"contentEncoding": true, "contentMediaType": true,
}

func (c *fastCompiler) node(v any, depth int) (*fastNode, bool) {
	if depth > 64 {
		return nil, false
	}
	switch v := v.(type) {
	case bool:
		return nil, v // true accepts anything; false is left to the full path
	case Object:
		n := &fastNode{minLen: -1, maxLen: -1, minItems: -1, maxItems: -1}
		for _, m := range v {
			if annotations[m.Key] {
				continue
			}
			if !c.keyword(n, m.Key, m.Value, depth) {
				return nil, false
			}
		}
		return n, true
	}
	return nil, false
}

func (c *fastCompiler) keyword(n *fastNode, key string, v any, depth int) bool {
	switch key {
	case "format":
		// An annotation from draft 2019-09 on (the compiler does not assert
		// formats there); asserted in earlier drafts: not decided here.
		return c.draft >= Draft2019
	case "type":
		return c.types(n, v)
	case "properties":
		obj, ok := v.(Object)
		if !ok {
			return false
		}
		n.props = make(map[string]*fastNode, len(obj))
		for _, m := range obj {
			sub, ok := c.node(m.Value, depth+1)
			if !ok {
				return false
			}
			n.props[m.Key] = sub
		}
		return true
	case "required":
		arr, ok := v.([]any)
		if !ok || len(arr) > 64 {
			return false
		}
		n.required = make(map[string]int, len(arr))
		for _, e := range arr {
			name, ok := e.(string)
			if !ok {
				return false
			}
			if _, dup := n.required[name]; !dup {
				n.required[name] = len(n.required)
			}
		}
		return true
	case "additionalProperties":
		if b, ok := v.(bool); ok {
			n.noExtra = !b
			return true
		}
		sub, ok := c.node(v, depth+1)
		n.additional = sub
		return ok
	case "items":
		if _, isArr := v.([]any); isArr {
			return false // tuple form
		}
		sub, ok := c.node(v, depth+1)
		n.items = sub
		return ok
	case "enum":
		arr, ok := v.([]any)
		if !ok {
			return false
		}
		n.enum = make(map[string]bool, len(arr))
		for _, e := range arr {
			s, ok := e.(string)
			if !ok {
				return false
			}
			n.enum[s] = true
		}
		return true
	case "pattern":
		p, ok := v.(string)
		if !ok {
			return false
		}
		re, err := regexp.Compile(p)
		if err != nil {
			return false
		}
		n.pattern = re
		return true
	case "minLength", "maxLength", "minItems", "maxItems":
		i, ok := nonNegInt(v)
		if !ok {
			return false
		}
		switch key {
		case "minLength":
			n.minLen = i
		case "maxLength":
			n.maxLen = i
		case "minItems":
			n.minItems = i
		default:
			n.maxItems = i
		}
		return true
	case "minimum", "maximum":
		b, ok := bound(v)
		if !ok {
			return false
		}
		if key == "minimum" {
			n.min = b
		} else {
			n.max = b
		}
		return true
	}
	return false
}

func (c *fastCompiler) types(n *fastNode, v any) bool {
	names := []any{v}
	if arr, ok := v.([]any); ok {
		names = arr
	}
	for _, t := range names {
		s, _ := t.(string)
		switch s {
		case "null":
			n.types |= ftNull
		case "boolean":
			n.types |= ftBool
		case "integer":
			n.types |= ftInteger
		case "number":
			n.types |= ftNumber
		case "string":
			n.types |= ftString
		case "array":
			n.types |= ftArray
		case "object":
			n.types |= ftObject
		default:
			return false
		}
	}
	return n.types != 0
}

func numberText(v any) (string, bool) {
	switch v := v.(type) {
	case json.Number:
		return string(v), true
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), true
	}
	return "", false
}

func nonNegInt(v any) (int, bool) {
	t, ok := numberText(v)
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(t)
	if err != nil || i < 0 {
		return 0, false
	}
	return i, true
}

func bound(v any) (*fastBound, bool) {
	t, ok := numberText(v)
	if !ok {
		return nil, false
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, false
	}
	b := &fastBound{f: f}
	if i, err := strconv.ParseInt(t, 10, 64); err == nil && i > -(1<<53) && i < 1<<53 {
		b.exactInt = true
	}
	return b, true
}

// fastWalker walks payload bytes against fast nodes.
type fastWalker struct {
	b []byte
	i int
}

// fastValid reports whether b is certainly valid under n: one JSON value,
// surrounding whitespace only. false means "not sure".
func fastValid(n *fastNode, b []byte) bool {
	w := fastWalker{b: b}
	if !w.value(n, 0) {
		return false
	}
	w.space()
	return w.i == len(w.b)
}

func (w *fastWalker) space() {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

func (n *fastNode) allows(t uint8) bool {
	if n == nil || n.types == 0 {
		return true
	}
	if t == ftInteger {
		return n.types&(ftInteger|ftNumber) != 0
	}
	return n.types&t != 0
}

func (w *fastWalker) value(n *fastNode, depth int) bool {
	w.space()
	if w.i >= len(w.b) || depth >= maxDepth {
		return false
	}
	if n != nil && n.enum != nil && w.b[w.i] != '"' {
		return false // only string enums are compiled
	}
	switch c := w.b[w.i]; {
	case c == '{':
		return n.allows(ftObject) && w.object(n, depth+1)
	case c == '[':
		return n.allows(ftArray) && w.array(n, depth+1)
	case c == '"':
		return n.allows(ftString) && w.str(n)
	case c == 't':
		return n.allows(ftBool) && w.literal("true")
	case c == 'f':
		return n.allows(ftBool) && w.literal("false")
	case c == 'n':
		return n.allows(ftNull) && w.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return w.number(n)
	}
	return false
}

func (w *fastWalker) literal(word string) bool {
	if len(w.b)-w.i < len(word) || string(w.b[w.i:w.i+len(word)]) != word {
		return false
	}
	w.i += len(word)
	return true
}

// rawString scans the string at w.i (its opening quote) and returns its
// raw contents and whether it has escapes; ok is false for malformed text.
func (w *fastWalker) rawString() (raw []byte, escaped, ok bool) {
	start := w.i + 1
	w.i++
	for w.i < len(w.b) {
		c := w.b[w.i]
		switch {
		case c == '"':
			w.i++
			return w.b[start : w.i-1], escaped, true
		case c == '\\':
			escaped = true
			if w.i+1 >= len(w.b) {
				return nil, false, false
			}
			switch w.b[w.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				w.i += 2
			case 'u':
				if w.i+6 > len(w.b) {
					return nil, false, false
				}
				for _, h := range w.b[w.i+2 : w.i+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return nil, false, false
					}
				}
				w.i += 6
			default:
				return nil, false, false
			}
		case c < 0x20:
			return nil, false, false
		default:
			w.i++
		}
	}
	return nil, false, false
}

func (w *fastWalker) str(n *fastNode) bool {
	raw, escaped, ok := w.rawString()
	if !ok {
		return false
	}
	if n == nil || (n.minLen < 0 && n.maxLen < 0 && n.pattern == nil && n.enum == nil) {
		return true
	}
	if escaped {
		return false // not decided here
	}
	if n.enum != nil && !n.enum[string(raw)] {
		return false
	}
	if n.minLen >= 0 || n.maxLen >= 0 {
		l := utf8.RuneCount(raw)
		if (n.minLen >= 0 && l < n.minLen) || (n.maxLen >= 0 && l > n.maxLen) {
			return false
		}
	}
	if n.pattern != nil && !n.pattern.Match(raw) {
		return false
	}
	return true
}

func (w *fastWalker) number(n *fastNode) bool {
	start := w.i
	end, integral, ok := scanNumber(w.b, w.i)
	if !ok {
		return false
	}
	w.i = end
	lit := w.b[start:w.i]
	if len(lit) > maxNumberLen || (!integral && checkNumber(string(lit)) != nil) {
		return false
	}
	if n == nil {
		return true
	}
	if n.types != 0 {
		if integral {
			if !n.allows(ftInteger) {
				return false
			}
		} else if n.types&ftNumber == 0 {
			return false // 1.0 may be an integer: not decided here
		}
	}
	if n.min == nil && n.max == nil {
		return true
	}
	var (
		f     float64
		exact bool
	)
	if integral {
		if i, err := strconv.ParseInt(string(lit), 10, 64); err == nil && i > -(1<<53) && i < 1<<53 {
			f, exact = float64(i), true
		}
	}
	if !exact {
		var err error
		if f, err = strconv.ParseFloat(string(lit), 64); err != nil {
			return false
		}
	}
	return within(f, exact, n.min, func(a, b float64) bool { return a >= b }) &&
		within(f, exact, n.max, func(a, b float64) bool { return a <= b })
}

// within compares f with b by ok, answering false when float64 cannot
// decide exactly (f and b too close and not both exact integers).
func within(f float64, exact bool, b *fastBound, ok func(a, b float64) bool) bool {
	if b == nil {
		return true
	}
	if exact && b.exactInt {
		return ok(f, b.f)
	}
	if math.Abs(f-b.f) <= 1e-9*math.Max(1, math.Abs(b.f)) {
		return false
	}
	return ok(f, b.f)
}

func (w *fastWalker) object(n *fastNode, depth int) bool {
	w.i++ // {
	var seen uint64
	w.space()
	if w.i < len(w.b) && w.b[w.i] == '}' {
		w.i++
		return n == nil || len(n.required) == 0
	}
	for {
		w.space()
		if w.i >= len(w.b) || w.b[w.i] != '"' {
			return false
		}
		key, escaped, ok := w.rawString()
		if !ok {
			return false
		}
		w.space()
		if w.i >= len(w.b) || w.b[w.i] != ':' {
			return false
		}
		w.i++
		var sub *fastNode
		if n != nil {
			if escaped && (n.props != nil || n.required != nil || n.noExtra) {
				return false // the key's text is not its value: not decided here
			}
			if p, ok := n.props[string(key)]; ok {
				sub = p
			} else if n.noExtra {
				return false
			} else {
				sub = n.additional
			}
			if bit, ok := n.required[string(key)]; ok {
				seen |= 1 << bit
			}
		}
		if !w.value(sub, depth) {
			return false
		}
		w.space()
		if w.i >= len(w.b) {
			return false
		}
		switch w.b[w.i] {
		case ',':
			w.i++
		case '}':
			w.i++
			return n == nil || seen == (uint64(1)<<len(n.required))-1
		default:
			return false
		}
	}
}

func (w *fastWalker) array(n *fastNode, depth int) bool {
	w.i++ // [
	var items *fastNode
	if n != nil {
		items = n.items
	}
	count := 0
	w.space()
	if w.i < len(w.b) && w.b[w.i] == ']' {
		w.i++
	} else {
		for {
			if !w.value(items, depth) {
				return false
			}
			count++
			w.space()
			if w.i >= len(w.b) {
				return false
			}
			if w.b[w.i] == ',' {
				w.i++
				continue
			}
			if w.b[w.i] != ']' {
				return false
			}
			w.i++
			break
		}
	}
	if n == nil {
		return true
	}
	return (n.minItems < 0 || count >= n.minItems) && (n.maxItems < 0 || count <= n.maxItems)
}
