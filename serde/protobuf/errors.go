package protobuf

import (
	"errors"
	"fmt"
	"strings"
)

// ParseError is one problem found while parsing or validating a schema. Parse
// returns a *ParseError, or several joined with errors.Join when the compiler
// found more than one; use errors.As to reach the first.
type ParseError struct {
	// File is the import path of the referenced file the problem is in, or ""
	// when it is in the schema text itself.
	File string
	// Line and Col are 1-based; both are 0 when the problem has no position
	// (a bad reference list, or a binary descriptor without source info).
	Line, Col int
	// Reason says what is wrong, without the position.
	Reason string
}

// Error formats the problem as "protobuf: [file:]line:col: reason".
func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString("protobuf: ")
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
		if e.Line <= 0 {
			b.WriteByte(' ')
		}
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:%d: ", e.Line, e.Col)
	}
	b.WriteString(e.Reason)
	return b.String()
}

// ErrNoSuchMessage is wrapped by the errors of MessageByIndexes and IndexesOf
// when a message-index path or a name does not denote a message of the file.
var ErrNoSuchMessage = errors.New("protobuf: no such message")

// errInternal marks a bug of ours (a recovered panic) rather than bad input,
// so that fuzz tests can tell the two apart.
var errInternal = errors.New("protobuf: internal error")
