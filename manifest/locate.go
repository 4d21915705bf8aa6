package manifest

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// LocatePointer finds the value that a JSON pointer (RFC 6901) designates in
// a JSON text and returns its 1-based line and column (in characters). When
// the pointer goes past what the text holds it returns the position of the
// deepest value that exists, with ok still true if at least the document
// root was found; ok is false for text that is not JSON up to that value.
//
// It scans the bytes itself, because encoding/json reports no positions, and
// it never panics on malformed input.
func LocatePointer(text []byte, pointer string) (line, col int, ok bool) {
	var tokens []string
	if pointer != "" {
		if !strings.HasPrefix(pointer, "/") {
			return 0, 0, false
		}
		for _, t := range strings.Split(pointer[1:], "/") {
			tokens = append(tokens, strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~"))
		}
	}
	s := &scanner{b: text}
	s.space()
	if s.i >= len(s.b) {
		return 0, 0, false
	}
	best := s.i
	for _, tok := range tokens {
		next, found := s.child(tok)
		if !found {
			break
		}
		best = next
	}
	l, c := position(text, best)
	return l, c, true
}

// position converts a byte offset into a line and a character column.
func position(b []byte, off int) (int, int) {
	line, start := 1, 0
	for i := 0; i < off && i < len(b); i++ {
		if b[i] == '\n' {
			line++
			start = i + 1
		}
	}
	return line, utf8.RuneCount(b[start:min(off, len(b))]) + 1
}

// scanner walks a JSON text; i is the offset of the next byte.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

// child moves from the value at s.i to its member or element named tok and
// returns that value's offset.
func (s *scanner) child(tok string) (int, bool) {
	if s.i >= len(s.b) {
		return 0, false
	}
	switch s.b[s.i] {
	case '{':
		s.i++
		for {
			s.space()
			if s.i >= len(s.b) || s.b[s.i] != '"' {
				return 0, false
			}
			key, ok := s.str()
			if !ok {
				return 0, false
			}
			s.space()
			if s.i >= len(s.b) || s.b[s.i] != ':' {
				return 0, false
			}
			s.i++
			s.space()
			if key == tok {
				return s.i, s.i < len(s.b)
			}
			if !s.skip() {
				return 0, false
			}
			s.space()
			if s.i >= len(s.b) || s.b[s.i] != ',' {
				return 0, false
			}
			s.i++
		}
	case '[':
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 {
			return 0, false
		}
		s.i++
		for k := 0; ; k++ {
			s.space()
			if s.i >= len(s.b) || s.b[s.i] == ']' {
				return 0, false
			}
			if k == n {
				return s.i, true
			}
			if !s.skip() {
				return 0, false
			}
			s.space()
			if s.i >= len(s.b) || s.b[s.i] != ',' {
				return 0, false
			}
			s.i++
		}
	}
	return 0, false
}

// str reads a string at s.i and returns it decoded well enough to compare
// keys (escapes other than \uXXXX are resolved).
func (s *scanner) str() (string, bool) {
	s.i++ // opening quote
	var sb strings.Builder
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return sb.String(), true
		case c == '\\' && s.i+1 < len(s.b):
			e := s.b[s.i+1]
			s.i += 2
			switch e {
			case 'n':
				sb.WriteByte('\n')
			case 't':
				sb.WriteByte('\t')
			case 'r':
				sb.WriteByte('\r')
			case 'b':
				sb.WriteByte('\b')
			case 'f':
				sb.WriteByte('\f')
			case 'u':
				if s.i+4 <= len(s.b) {
					if r, err := strconv.ParseUint(string(s.b[s.i:s.i+4]), 16, 32); err == nil {
						sb.WriteRune(rune(r))
					}
					s.i += 4
				}
			default:
				sb.WriteByte(e)
			}
		default:
			sb.WriteByte(c)
			s.i++
		}
	}
	return "", false
}

// skip moves past the value at s.i.
func (s *scanner) skip() bool {
	if s.i >= len(s.b) {
		return false
	}
	switch s.b[s.i] {
	case '"':
		_, ok := s.str()
		return ok
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				if _, ok := s.str(); !ok {
					return false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return true
				}
			}
			s.i++
		}
		return false
	default:
		start := s.i
		for s.i < len(s.b) && !strings.ContainsRune(",}] \t\r\n", rune(s.b[s.i])) {
			s.i++
		}
		return s.i > start
	}
}
