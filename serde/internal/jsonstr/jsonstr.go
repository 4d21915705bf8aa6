// Package jsonstr writes Go strings as JSON string literals with the least
// escaping: the quote, the backslash and control characters. Unlike
// encoding/json it leaves <, >, & and U+2028/U+2029 as they are: the text
// is stored, compared and read by people, never embedded in HTML or a
// script. The Avro and JSON Schema packages write their canonical forms,
// messages and decoded datums through it.
package jsonstr

import "unicode/utf8"

// Append appends s to dst as a JSON string. \n, \r and \t are written
// short, the other control characters as \u00XX; each byte of s that is
// not part of valid UTF-8 becomes \ufffd (as encoding/json writes it).
func Append(dst []byte, s string) []byte { return appendString(dst, s, false) }

// AppendShort is Append with \b and \f written short too.
func AppendShort(dst []byte, s string) []byte { return appendString(dst, s, true) }

func appendString(dst []byte, s string, short bool) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0 // s[start:i] is still to copy as it is
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(append(dst, s[start:i]...), `\ufffd`...)
				start = i + 1
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c == '\b' && short:
			dst = append(dst, '\\', 'b')
		case c == '\f' && short:
			dst = append(dst, '\\', 'f')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
