package jsonschema

import (
	"encoding/json"
	"errors"
)

// The fast path of ValidatePayload: one pass over the bytes straight into
// the value model that the compiled jsonschema/v5 schema validates
// (map[string]any, []any, json.Number, string, bool, nil), instead of
// encoding/json's Decoder (which buffers the input, decodes through
// reflection and is followed by a second walk to check the numbers).
//
// It accepts exactly the JSON text of RFC 8259 (one value, surrounding
// whitespace) with numbers within checkNumber's limits and nesting within
// maxDepth; it reports nothing precise: on any failure the caller decodes
// again with decodeInstance, whose messages name line, column and path.
// Duplicate keys keep the last value, as encoding/json does.

// errFast is the fast path giving up; the slow path explains.
var errFast = errors.New("jsonschema: fast decode failed")

// fastDecoder is a cursor over the text.
type fastDecoder struct {
	b []byte
	i int
}

// fastDecode decodes b, which the caller has checked is valid UTF-8.
func fastDecode(b []byte) (any, error) {
	d := fastDecoder{b: b}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.space()
	if d.i != len(d.b) {
		return nil, errFast
	}
	return v, nil
}

func (d *fastDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *fastDecoder) value(depth int) (any, error) {
	d.space()
	if d.i >= len(d.b) {
		return nil, errFast
	}
	switch c := d.b[d.i]; {
	case c == '{':
		if depth >= maxDepth {
			return nil, errFast
		}
		return d.object(depth + 1)
	case c == '[':
		if depth >= maxDepth {
			return nil, errFast
		}
		return d.array(depth + 1)
	case c == '"':
		return d.str()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	}
	return nil, errFast
}

func (d *fastDecoder) literal(word string) error {
	if len(d.b)-d.i < len(word) || string(d.b[d.i:d.i+len(word)]) != word {
		return errFast
	}
	d.i += len(word)
	return nil
}

func (d *fastDecoder) object(depth int) (any, error) {
	d.i++ // {
	m := make(map[string]any, 8)
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return m, nil
	}
	for {
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return nil, errFast
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, errFast
		}
		d.i++
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		m[k] = v
		d.space()
		if d.i >= len(d.b) {
			return nil, errFast
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			return m, nil
		default:
			return nil, errFast
		}
	}
}

func (d *fastDecoder) array(depth int) (any, error) {
	d.i++ // [
	arr := []any{}
	d.space()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return arr, nil
	}
	for {
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
		d.space()
		if d.i >= len(d.b) {
			return nil, errFast
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			return arr, nil
		default:
			return nil, errFast
		}
	}
}

// str decodes a string at d.i (the opening quote). Strings without escapes
// are copied once; the rare escaped ones go through encoding/json.
func (d *fastDecoder) str() (string, error) {
	start := d.i
	d.i++
	escaped := false
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			if !escaped {
				return string(d.b[start+1 : d.i-1]), nil
			}
			var s string
			if err := json.Unmarshal(d.b[start:d.i], &s); err != nil {
				return "", errFast
			}
			return s, nil
		case c == '\\':
			escaped = true
			d.i += 2
		case c < 0x20:
			return "", errFast
		default:
			d.i++
		}
	}
	return "", errFast
}

// number checks the JSON number grammar and checkNumber's limits.
func (d *fastDecoder) number() (any, error) {
	end, _, ok := scanNumber(d.b, d.i)
	if !ok {
		return nil, errFast
	}
	lit := string(d.b[d.i:end])
	d.i = end
	if checkNumber(lit) != nil {
		return nil, errFast
	}
	return json.Number(lit), nil
}

// scanNumber scans the JSON number that starts at b[i] and returns where
// it ends, whether it is written as an integer (no fraction, no exponent),
// and whether it follows the grammar of RFC 8259.
func scanNumber(b []byte, i int) (end int, integral, ok bool) {
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if digits() == 0 {
		return i, false, false
	}
	integral = true
	if i < len(b) && b[i] == '.' {
		integral = false
		i++
		if digits() == 0 {
			return i, false, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		integral = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return i, false, false
		}
	}
	return i, integral, true
}
