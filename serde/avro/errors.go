package avro

import (
	"strconv"
	"strings"
)

// maxErrors bounds how many problems one Parse reports. Past it the schema is
// clearly not worth annotating further, and the message must stay readable.
const maxErrors = 20

// ParseError is one problem found in a schema or in one of its references.
type ParseError struct {
	// Ref is the name of the reference whose text has the problem, or "" when
	// the problem is in the schema itself.
	Ref string
	// Path is a JSON pointer (RFC 6901) to the offending value in the schema
	// document, e.g. "/fields/2/default"; "" is the whole document. It is ""
	// for malformed JSON, which has Line and Column instead.
	Path string
	// Line and Column (1-based, Column in characters) locate malformed JSON;
	// both are 0 for every other problem.
	Line, Column int
	// Reason says what is wrong.
	Reason string
}

// Error renders "avro: [reference "R": ]where: reason".
func (e *ParseError) Error() string { return "avro: " + e.detail() }

// detail is the message without the package prefix.
func (e *ParseError) detail() string {
	var b strings.Builder
	if e.Ref != "" {
		b.WriteString("reference ")
		b.WriteString(strconv.Quote(e.Ref))
		b.WriteString(": ")
	}
	switch {
	case e.Line > 0:
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(", column ")
		b.WriteString(strconv.Itoa(e.Column))
		b.WriteString(": ")
	case e.Path != "":
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// ParseErrors is every problem Parse found (up to a limit): problems in
// references first, then the schema's own; within a text, structural
// problems in document order and then invalid defaults, which are checked
// once the whole text is known. Parse returns it only when it holds at least
// one problem; errors.As with a *ParseError target finds the first.
type ParseErrors []*ParseError

// Error renders every problem, separated by "; ", with one "avro: " prefix.
func (es ParseErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.detail()
	}
	return "avro: " + strings.Join(parts, "; ")
}

// Unwrap exposes the individual problems to errors.Is and errors.As.
func (es ParseErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// pointer appends one reference token to a JSON pointer, escaping "~" and
// "/" as RFC 6901 requires.
func pointer(path, token string) string {
	if strings.ContainsAny(token, "~/") {
		token = strings.ReplaceAll(token, "~", "~0")
		token = strings.ReplaceAll(token, "/", "~1")
	}
	return path + "/" + token
}

// index appends an array index to a JSON pointer.
func index(path string, i int) string { return path + "/" + strconv.Itoa(i) }
