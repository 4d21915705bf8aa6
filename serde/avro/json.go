package avro

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/sluicehq/sluice/serde/internal/jsonstr"
)

// This file holds a small JSON document model. The schema parser needs three
// things encoding/json's map-based decoding loses: the order of object keys
// (custom properties are re-serialised, and error paths must be stable), the
// exact text of numbers (an int default of 1.5 or 1e2 must be rejected, and a
// long default must not lose precision through float64), and duplicate-key
// detection (a schema whose "type" appears twice is ambiguous).

// maxDepth bounds JSON nesting so that hostile input cannot drive the
// recursive parts of the parser (and later the compatibility checker and
// codecs) into unbounded recursion. Real schemas nest a few dozen levels.
const maxDepth = 1000

type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

func (k jsonKind) String() string {
	switch k {
	case jsonNull:
		return "null"
	case jsonBool:
		return "boolean"
	case jsonNumber:
		return "number"
	case jsonString:
		return "string"
	case jsonArray:
		return "array"
	default:
		return "object"
	}
}

// jsonValue is one parsed JSON value. For numbers str holds the literal as
// written; for strings, the decoded string.
type jsonValue struct {
	kind jsonKind
	b    bool
	str  string
	arr  []*jsonValue
	obj  []jsonMember
}

// jsonMember is one key of a JSON object, in document order.
type jsonMember struct {
	key string
	val *jsonValue
}

// get returns the value of key in an object, or nil.
func (v *jsonValue) get(key string) *jsonValue {
	for _, m := range v.obj {
		if m.key == key {
			return m.val
		}
	}
	return nil
}

// isInteger reports whether a number literal has neither fraction nor
// exponent, the way Jackson (and so Apache Avro) tells ints from doubles.
func (v *jsonValue) isInteger() bool {
	return v.kind == jsonNumber && !strings.ContainsAny(v.str, ".eE")
}

// describe renders v for "got ..." in messages: its kind, and its text
// when short.
func (v *jsonValue) describe() string {
	switch v.kind {
	case jsonNull, jsonBool:
		return v.short()
	case jsonNumber, jsonString:
		return v.kind.String() + " " + v.short()
	}
	return v.kind.String()
}

// short renders v for an error message, truncated so that a huge default
// does not flood the message.
func (v *jsonValue) short() string {
	b := appendJSON(nil, v, false)
	const limit = 40
	if utf8.RuneCount(b) > limit {
		r := []rune(string(b))
		return string(r[:limit]) + "…"
	}
	return string(b)
}

// syntaxError is a malformed-JSON error with its position.
type syntaxError struct {
	line, col int
	msg       string
}

// parseJSON parses one JSON document (RFC 8259). Trailing non-space text is
// an error. Like encoding/json, invalid UTF-8 and lone surrogates in
// strings become U+FFFD. It is a small recursive-descent parser rather than
// encoding/json's Token API, which is several times slower and reports
// positions less precisely.
func parseJSON(text string) (*jsonValue, *syntaxError) {
	p := &jsonParser{s: text}
	p.space()
	v := p.value(0)
	if p.err == "" {
		p.space()
		if p.i < len(p.s) {
			p.fail("unexpected text after the schema")
		}
	}
	if p.err != "" {
		line, col := lineCol(text, int64(p.i))
		return nil, &syntaxError{line: line, col: col, msg: p.err}
	}
	return v, nil
}

type jsonParser struct {
	s   string
	i   int
	err string // first error; p.i is then its position
}

func (p *jsonParser) fail(msg string) {
	if p.err == "" {
		p.err = msg
	}
}

// unexpected records an error at the current character, in the words
// encoding/json uses.
func (p *jsonParser) unexpected(context string) {
	if p.i >= len(p.s) {
		p.fail("unexpected end of JSON input")
		return
	}
	r, _ := utf8.DecodeRuneInString(p.s[p.i:])
	p.fail(fmt.Sprintf("invalid character %s %s", quoteChar(r), context))
}

func quoteChar(r rune) string {
	switch {
	case r == '\'', r == '"':
		return "'\\" + string(r) + "'"
	case r < 0x20 || r == utf8.RuneError:
		return fmt.Sprintf("%U", r)
	}
	return "'" + string(r) + "'"
}

func (p *jsonParser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// value parses a value at p.i (whitespace already skipped) and leaves p.i
// just after it. It returns nil after an error.
func (p *jsonParser) value(depth int) *jsonValue {
	if p.i >= len(p.s) {
		p.unexpected("")
		return nil
	}
	switch c := p.s[p.i]; {
	case c == '{' || c == '[':
		if depth >= maxDepth {
			p.fail(fmt.Sprintf("JSON nested deeper than %d levels", maxDepth))
			return nil
		}
		if c == '{' {
			return p.object(depth)
		}
		return p.array(depth)
	case c == '"':
		s, ok := p.string()
		if !ok {
			return nil
		}
		return &jsonValue{kind: jsonString, str: s}
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case strings.HasPrefix(p.s[p.i:], "true"):
		p.i += 4
		return &jsonValue{kind: jsonBool, b: true}
	case strings.HasPrefix(p.s[p.i:], "false"):
		p.i += 5
		return &jsonValue{kind: jsonBool}
	case strings.HasPrefix(p.s[p.i:], "null"):
		p.i += 4
		return &jsonValue{kind: jsonNull}
	}
	p.unexpected("looking for beginning of value")
	return nil
}

func (p *jsonParser) object(depth int) *jsonValue {
	p.i++ // '{'
	v := &jsonValue{kind: jsonObject, obj: []jsonMember{}}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return v
	}
	for {
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			p.unexpected("looking for beginning of object key string")
			return nil
		}
		keyAt := p.i
		key, ok := p.string()
		if !ok {
			return nil
		}
		if v.get(key) != nil {
			p.i = keyAt
			p.fail(fmt.Sprintf("duplicate key %s", quote(key)))
			return nil
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			p.unexpected("after object key")
			return nil
		}
		p.i++
		p.space()
		e := p.value(depth + 1)
		if e == nil {
			return nil
		}
		v.obj = append(v.obj, jsonMember{key: key, val: e})
		p.space()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			p.space()
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return v
		}
		p.unexpected("after object key:value pair")
		return nil
	}
}

func (p *jsonParser) array(depth int) *jsonValue {
	p.i++ // '['
	v := &jsonValue{kind: jsonArray, arr: []*jsonValue{}}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return v
	}
	for {
		e := p.value(depth + 1)
		if e == nil {
			return nil
		}
		v.arr = append(v.arr, e)
		p.space()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			p.space()
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == ']' {
			p.i++
			return v
		}
		p.unexpected("after array element")
		return nil
	}
}

// number scans a number literal and keeps its text.
func (p *jsonParser) number() *jsonValue {
	start := p.i
	digits := func() bool {
		n := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		return p.i > n
	}
	if p.s[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.s) && p.s[p.i] == '0':
		p.i++
	case !digits():
		p.unexpected("in numeric literal")
		return nil
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if !digits() {
			p.unexpected("after decimal point in numeric literal")
			return nil
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if !digits() {
			p.unexpected("in exponent of numeric literal")
			return nil
		}
	}
	return &jsonValue{kind: jsonNumber, str: p.s[start:p.i]}
}

// string scans a string literal at p.i (a '"') and decodes it.
func (p *jsonParser) string() (string, bool) {
	p.i++ // opening quote
	start := p.i
	// Fast path: no escapes and valid UTF-8 means the literal is the value.
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '"' {
			if s := p.s[start:p.i]; utf8.ValidString(s) {
				p.i++
				return s, true
			}
			break
		}
		if c == '\\' || c < 0x20 {
			break
		}
		p.i++
	}
	p.i = start
	var b strings.Builder
	for {
		if p.i >= len(p.s) {
			p.fail("unexpected end of JSON input")
			return "", false
		}
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), true
		case c < 0x20:
			p.unexpected("in string literal")
			return "", false
		case c == '\\':
			if !p.escape(&b) {
				return "", false
			}
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			p.i++
		default:
			r, size := utf8.DecodeRuneInString(p.s[p.i:])
			b.WriteRune(r) // utf8.RuneError for invalid bytes, as encoding/json does
			p.i += size
		}
	}
}

func (p *jsonParser) escape(b *strings.Builder) bool {
	p.i++ // backslash
	if p.i >= len(p.s) {
		p.fail("unexpected end of JSON input")
		return false
	}
	c := p.s[p.i]
	p.i++
	switch c {
	case '"', '\\', '/':
		b.WriteByte(c)
	case 'b':
		b.WriteByte('\b')
	case 'f':
		b.WriteByte('\f')
	case 'n':
		b.WriteByte('\n')
	case 'r':
		b.WriteByte('\r')
	case 't':
		b.WriteByte('\t')
	case 'u':
		r, ok := p.hex4()
		if !ok {
			return false
		}
		if utf16.IsSurrogate(r) {
			// A high surrogate must be followed by an escaped low one.
			r2 := unicode.ReplacementChar
			if strings.HasPrefix(p.s[p.i:], "\\u") {
				save := p.i
				p.i += 2
				lo, ok := p.hex4()
				if !ok {
					return false
				}
				if r2 = utf16.DecodeRune(r, lo); r2 == unicode.ReplacementChar {
					p.i = save // not a pair: the second escape stands alone
				}
			}
			r = r2
		}
		b.WriteRune(r)
	default:
		p.i--
		p.unexpected("in string escape code")
		return false
	}
	return true
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		p.i = len(p.s)
		p.fail("unexpected end of JSON input")
		return 0, false
	}
	v, err := strconv.ParseUint(p.s[p.i:p.i+4], 16, 32)
	if err != nil {
		p.unexpected("in \\u hexadecimal character escape")
		return 0, false
	}
	p.i += 4
	return rune(v), true
}

// lineCol converts a byte offset to a 1-based line and a 1-based column
// counted in characters.
func lineCol(text string, off int64) (int, int) {
	if off > int64(len(text)) {
		off = int64(len(text))
	}
	before := text[:off]
	line := strings.Count(before, "\n") + 1
	if i := strings.LastIndexByte(before, '\n'); i >= 0 {
		before = before[i+1:]
	}
	return line, utf8.RuneCountInString(before) + 1
}

// appendJSON writes v compactly. With sorted, object keys are sorted
// (recursively); otherwise they keep document order.
func appendJSON(dst []byte, v *jsonValue, sorted bool) []byte {
	switch v.kind {
	case jsonNull:
		return append(dst, "null"...)
	case jsonBool:
		return strconv.AppendBool(dst, v.b)
	case jsonNumber:
		return append(dst, v.str...)
	case jsonString:
		return jsonstr.Append(dst, v.str)
	case jsonArray:
		dst = append(dst, '[')
		for i, e := range v.arr {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSON(dst, e, sorted)
		}
		return append(dst, ']')
	default:
		members := v.obj
		if sorted {
			members = sortedMembers(members)
		}
		dst = append(dst, '{')
		for i, m := range members {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonstr.Append(dst, m.key)
			dst = append(dst, ':')
			dst = appendJSON(dst, m.val, sorted)
		}
		return append(dst, '}')
	}
}

func sortedMembers(ms []jsonMember) []jsonMember {
	out := slices.Clone(ms)
	slices.SortFunc(out, func(a, b jsonMember) int { return strings.Compare(a.key, b.key) })
	return out
}

// quote renders a Go string as JSON (for messages).
func quote(s string) string { return string(jsonstr.Append(nil, s)) }
