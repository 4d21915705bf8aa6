package jsonschema

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sluicehq/sluice/serde/internal/jsonstr"
)

// Object is a decoded JSON object with its members in document order. Keys
// are unique.
type Object []Member

// Member is one key and value of an [Object].
type Member struct {
	Key   string
	Value any
}

// Get returns the value of key, and whether it is present.
func (o Object) Get(key string) (any, bool) {
	for _, m := range o {
		if m.Key == key {
			return m.Value, true
		}
	}
	return nil, false
}

// maxDepth bounds the nesting of arrays and objects in a document. It is far
// beyond any real schema and keeps recursive walkers (ours and the compiler's)
// away from pathological inputs.
const maxDepth = 1000

// decodeError is a problem in the JSON text itself: malformed JSON at a line
// and column, or a well-formed value we refuse at a path.
type decodeError struct {
	path      string // JSON pointer, when the problem belongs to a value
	line, col int    // 1-based, for malformed JSON; 0 otherwise
	reason    string
}

func (e *decodeError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("line %d, column %d: %s", e.line, e.col, e.reason)
	}
	return displayPointer(e.path) + ": " + e.reason
}

// decodeDocument decodes one JSON text into nil, bool, json.Number, string,
// []any and Object values. It refuses invalid UTF-8, duplicate object keys,
// nesting deeper than maxDepth and anything after the first value.
func decodeDocument(text string) (any, error) {
	if i := invalidUTF8(text); i >= 0 {
		line, col := position(text, i)
		return nil, &decodeError{line: line, col: col, reason: "malformed JSON: invalid UTF-8"}
	}
	d := &docDecoder{dec: json.NewDecoder(strings.NewReader(text)), text: text}
	d.dec.UseNumber()
	tok, err := d.token()
	if err != nil {
		return nil, err
	}
	v, err := d.value(tok, "", 0)
	if err != nil {
		return nil, err
	}
	if _, err := d.dec.Token(); err != io.EOF {
		return nil, d.syntax(err, "unexpected data after the top-level value")
	}
	return v, nil
}

// invalidUTF8 returns the byte offset of the first invalid UTF-8 sequence in
// s, or -1.
func invalidUTF8(s string) int {
	if utf8.ValidString(s) {
		return -1
	}
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i
			}
		}
	}
	return -1
}

type docDecoder struct {
	dec  *json.Decoder
	text string
}

func (d *docDecoder) token() (json.Token, error) {
	tok, err := d.dec.Token()
	if err != nil {
		return nil, d.syntax(err, "")
	}
	return tok, nil
}

// syntax turns a decoder error into a decodeError naming line and column.
// The offsets in the Decoder's token-level errors are relative to where it
// resumed scanning, so the position comes from a whole-text check instead.
func (d *docDecoder) syntax(err error, fallback string) error {
	line, col, msg := malformed(d.text, err, fallback)
	return &decodeError{line: line, col: col, reason: "malformed JSON: " + msg}
}

// malformed locates and describes a JSON syntax problem of text. err is the
// decoder's error, used when the whole-text check finds nothing (a problem
// only the token-level decoder sees); fallback when err is nil too.
func malformed(text string, err error, fallback string) (line, col int, msg string) {
	var raw json.RawMessage
	uerr := json.Unmarshal([]byte(text), &raw)
	var se *json.SyntaxError
	off := len(text)
	msg = fallback
	switch {
	case errors.As(uerr, &se) && se.Error() == "unexpected end of JSON input":
		msg = se.Error()
	case errors.As(uerr, &se):
		// Offset counts the bytes read including the offending one.
		off, msg = int(se.Offset-1), se.Error()
	case err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF):
		msg = err.Error()
	case msg == "":
		msg = "unexpected end of JSON input"
	}
	line, col = position(text, off)
	return line, col, msg
}

func (d *docDecoder) value(tok json.Token, path string, depth int) (any, error) {
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxDepth {
			// A line and column, not the path: it would be thousands of
			// characters long.
			line, col := position(d.text, int(d.dec.InputOffset())-1)
			return nil, &decodeError{line: line, col: col, reason: fmt.Sprintf("arrays and objects nested deeper than %d levels", maxDepth)}
		}
		if t == '[' {
			return d.array(path, depth+1)
		}
		if t == '{' {
			return d.object(path, depth+1)
		}
		return nil, d.syntax(nil, fmt.Sprintf("unexpected %q", rune(t)))
	case json.Number:
		if err := checkNumber(string(t)); err != nil {
			return nil, &decodeError{path: path, reason: err.Error()}
		}
		return t, nil
	default:
		// nil, bool and string come out as they are.
		return t, nil
	}
}

// Bounds on number literals. Keywords and instances compare numbers exactly
// with math/big, whose cost grows with the digits and the exponent: "1e999999999"
// is 11 bytes that would take minutes and gigabytes. These bounds are far
// beyond any real schema or payload (1e400 is fine).
const (
	maxNumberLen      = 1000
	maxNumberExponent = 1000
)

// checkNumber refuses number literals beyond maxNumberLen characters or
// with an exponent beyond ±maxNumberExponent.
func checkNumber(lit string) error {
	if len(lit) > maxNumberLen {
		return fmt.Errorf("number literal of %d characters is longer than the limit of %d", len(lit), maxNumberLen)
	}
	i := strings.IndexAny(lit, "eE")
	if i < 0 {
		return nil
	}
	exp, err := strconv.Atoi(strings.TrimPrefix(lit[i+1:], "+"))
	if err != nil || exp > maxNumberExponent || exp < -maxNumberExponent {
		return fmt.Errorf("number %s has an exponent beyond ±%d", lit, maxNumberExponent)
	}
	return nil
}

// checkNumbers applies checkNumber to every number of a value decoded by
// encoding/json with UseNumber, and returns the path of the first bad one.
func checkNumbers(v any, path string) (string, error) {
	switch v := v.(type) {
	case json.Number:
		return path, checkNumber(string(v))
	case []any:
		for i, e := range v {
			if p, err := checkNumbers(e, path+"/"+strconv.Itoa(i)); err != nil {
				return p, err
			}
		}
	case map[string]any:
		for k, e := range v {
			if p, err := checkNumbers(e, path+"/"+escapePointer(k)); err != nil {
				return p, err
			}
		}
	}
	return "", nil
}

func (d *docDecoder) array(path string, depth int) (any, error) {
	arr := []any{}
	for {
		tok, err := d.token()
		if err != nil {
			return nil, err
		}
		if tok == json.Delim(']') {
			return arr, nil
		}
		v, err := d.value(tok, path+"/"+strconv.Itoa(len(arr)), depth)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
	}
}

func (d *docDecoder) object(path string, depth int) (any, error) {
	obj := Object{}
	seen := map[string]bool{}
	for {
		tok, err := d.token()
		if err != nil {
			return nil, err
		}
		if tok == json.Delim('}') {
			return obj, nil
		}
		key, ok := tok.(string)
		if !ok {
			// The decoder's own state machine refuses non-string keys
			// before we get here; this guards against a change in it.
			return nil, d.syntax(nil, "object key is not a string")
		}
		if seen[key] {
			return nil, &decodeError{path: path, reason: fmt.Sprintf("duplicate key %q", key)}
		}
		seen[key] = true
		tok, err = d.token()
		if err != nil {
			return nil, err
		}
		v, err := d.value(tok, path+"/"+escapePointer(key), depth)
		if err != nil {
			return nil, err
		}
		obj = append(obj, Member{Key: key, Value: v})
	}
}

// position converts a byte offset into a 1-based line and a 1-based column
// counted in characters.
func position(text string, off int) (line, col int) {
	off = min(max(off, 0), len(text))
	before := text[:off]
	line = 1 + strings.Count(before, "\n")
	lineStart := strings.LastIndexByte(before, '\n') + 1
	col = 1 + utf8.RuneCountInString(before[lineStart:])
	return line, col
}

// escapePointer escapes one JSON pointer reference token (RFC 6901).
func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// appendJSON appends the compact serialisation of v. With sorted, object
// members are written in key order (byte order of the UTF-8 keys, which is
// code point order); otherwise in document order.
func appendJSON(dst []byte, v any, sorted bool) []byte {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...)
	case bool:
		return strconv.AppendBool(dst, v)
	case json.Number:
		// The literal as written: exactness matters more than a canonical
		// spelling of numbers (see the package documentation).
		return append(dst, v...)
	case string:
		return jsonstr.AppendShort(dst, v)
	case []any:
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSON(dst, e, sorted)
		}
		return append(dst, ']')
	case Object:
		members := v
		if sorted {
			members = slices.Clone(v)
			slices.SortFunc(members, func(a, b Member) int { return strings.Compare(a.Key, b.Key) })
		}
		dst = append(dst, '{')
		for i, m := range members {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonstr.AppendShort(dst, m.Key)
			dst = append(dst, ':')
			dst = appendJSON(dst, m.Value, sorted)
		}
		return append(dst, '}')
	default:
		// decodeDocument produces no other types.
		panic(fmt.Sprintf("jsonschema: appendJSON: unexpected %T", v))
	}
}

// jsonTypeName names the JSON type of a decoded value for messages.
func jsonTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	default:
		return "object"
	}
}
