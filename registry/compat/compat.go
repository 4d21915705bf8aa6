// Package compat decides whether one schema can evolve into another under a
// compatibility level. Its functions are pure: they take parsed schemas
// (serde.Schema values from serde/avro, serde/protobuf, serde/jsonschema) and
// return every violation found, so the registry and offline tools such as
// `sluice schema check` share exactly the same rules.
package compat

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/serde/jsonschema"
	"github.com/sluicehq/sluice/serde/protobuf"
)

// Level is a compatibility level (spec/registry-api.md §10).
type Level string

// The compatibility levels.
const (
	None               Level = "NONE"
	Backward           Level = "BACKWARD"
	BackwardTransitive Level = "BACKWARD_TRANSITIVE"
	Forward            Level = "FORWARD"
	ForwardTransitive  Level = "FORWARD_TRANSITIVE"
	Full               Level = "FULL"
	FullTransitive     Level = "FULL_TRANSITIVE"
)

// Levels lists every level in a stable order.
var Levels = []Level{None, Backward, BackwardTransitive, Forward, ForwardTransitive, Full, FullTransitive}

// ParseLevel parses a level case-insensitively, ignoring surrounding spaces.
func ParseLevel(s string) (Level, error) {
	l := Level(strings.ToUpper(strings.TrimSpace(s)))
	for _, v := range Levels {
		if l == v {
			return l, nil
		}
	}
	return "", fmt.Errorf("invalid compatibility level %q: want one of NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE", s)
}

// Transitive reports whether the level checks every version, not only the latest.
func (l Level) Transitive() bool {
	return l == BackwardTransitive || l == ForwardTransitive || l == FullTransitive
}

// Backward reports whether the candidate must read the history's data.
func (l Level) Backward() bool {
	return l == Backward || l == BackwardTransitive || l == Full || l == FullTransitive
}

// Forward reports whether the history must read the candidate's data.
func (l Level) Forward() bool {
	return l == Forward || l == ForwardTransitive || l == Full || l == FullTransitive
}

// Policy is a compatibility policy (spec/registry-api.md §10, §11.6): how
// strictly JSON Schema differences are judged. The zero value means Strict.
type Policy string

// The compatibility policies.
const (
	// Strict is Confluent's default: every difference outside the
	// compatible set of §11.4 is a violation.
	Strict Policy = "STRICT"
	// Lenient additionally accepts the open/closed content-model changes
	// listed in §11.6 (adding and removing optional properties freely, as
	// Avro does). It affects JSON Schema only.
	Lenient Policy = "LENIENT"
)

// ParsePolicy parses a policy case-insensitively, ignoring surrounding
// spaces; the empty string is Strict.
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(strings.ToUpper(strings.TrimSpace(s))); p {
	case "", Strict:
		return Strict, nil
	case Lenient:
		return Lenient, nil
	}
	return "", fmt.Errorf("invalid compatibility policy %q: want STRICT or LENIENT", s)
}

// Options tune a check. The zero value is the default: the Strict policy.
type Options struct {
	// Policy is the compatibility policy; "" means Strict.
	Policy Policy
}

// Version is one registered version of a subject's history.
type Version struct {
	// Number is the subject version number, used only to label violations.
	Number int
	Schema serde.Schema
}

// Violation is one reason a candidate cannot evolve from a version.
type Violation struct {
	// Version is the number of the history version the candidate was checked
	// against (0 when checking two schemas directly).
	Version int
	// Direction is "backward" when the candidate failed to read the version's
	// data, "forward" when the version failed to read the candidate's.
	Direction string
	// Kind is a stable machine-readable name of the rule, e.g.
	// "READER_FIELD_MISSING_DEFAULT_VALUE" or "FIELD_SCALAR_KIND_CHANGED".
	Kind string
	// Path locates the difference: a JSON pointer into the schema for Avro and
	// JSON Schema ("/fields/2/type"), a full name for Protobuf.
	Path string
	// Message says what is wrong, in words.
	Message string
}

// String renders "path: message".
func (v Violation) String() string {
	if v.Path == "" {
		return v.Message
	}
	return v.Path + ": " + v.Message
}

// ErrNotSupported is returned (wrapped) when no rules exist yet for a format.
var ErrNotSupported = errors.New("compatibility check not available")

// Check checks candidate against history (oldest first, live versions only)
// under level and returns every violation of the first failing version,
// newest first, as the registry does. An empty result means compatible.
//
// Non-transitive levels look only at the last element of history. A version
// of a different format is a violation under every level but NONE.
func Check(level Level, candidate serde.Schema, history []Version) ([]Violation, error) {
	return CheckWith(level, Options{}, candidate, history)
}

// CheckWith is Check with options (the compatibility policy).
func CheckWith(level Level, opts Options, candidate serde.Schema, history []Version) ([]Violation, error) {
	if level == None || len(history) == 0 {
		return nil, nil
	}
	scope := history
	if !level.Transitive() {
		scope = history[len(history)-1:]
	}
	for i := len(scope) - 1; i >= 0; i-- {
		v := scope[i]
		vs, err := PairWith(level, opts, candidate, v.Schema)
		if err != nil {
			return nil, err
		}
		if len(vs) > 0 {
			for j := range vs {
				vs[j].Version = v.Number
			}
			return vs, nil
		}
	}
	return nil, nil
}

// Pair checks candidate against one existing schema in the direction(s) the
// level implies, ignoring whether the level is transitive.
func Pair(level Level, candidate, existing serde.Schema) ([]Violation, error) {
	return PairWith(level, Options{}, candidate, existing)
}

// PairWith is Pair with options (the compatibility policy).
func PairWith(level Level, opts Options, candidate, existing serde.Schema) ([]Violation, error) {
	var out []Violation
	if level.Backward() {
		vs, err := ReadsWith(opts, candidate, existing)
		if err != nil {
			return nil, err
		}
		out = append(out, tag(vs, "backward")...)
	}
	if level.Forward() {
		vs, err := ReadsWith(opts, existing, candidate)
		if err != nil {
			return nil, err
		}
		out = append(out, tag(vs, "forward")...)
	}
	return out, nil
}

func tag(vs []Violation, dir string) []Violation {
	for i := range vs {
		vs[i].Direction = dir
	}
	return vs
}

// Reads reports why data written with writer cannot be read with reader: for
// Avro, reader/writer schema resolution; for Protobuf and JSON Schema, the
// differences from writer (original) to reader (update) that are not in the
// compatible set. An empty result means reader reads writer.
func Reads(reader, writer serde.Schema) ([]Violation, error) {
	return ReadsWith(Options{}, reader, writer)
}

// ReadsWith is Reads with options (the compatibility policy).
func ReadsWith(opts Options, reader, writer serde.Schema) ([]Violation, error) {
	if reader.Format() != writer.Format() {
		return []Violation{{Kind: "TYPE_MISMATCH", Message: fmt.Sprintf("different schema type: %s cannot read %s", reader.Format(), writer.Format())}}, nil
	}
	switch r := reader.(type) {
	case *avro.Schema:
		return avroReads(r, writer.(*avro.Schema)), nil
	case *protobuf.Schema:
		return protobufReads(r, writer.(*protobuf.Schema))
	case *jsonschema.Schema:
		return jsonReadsPolicy(r, writer.(*jsonschema.Schema), opts.Policy)
	}
	return nil, fmt.Errorf("%w for schema type %T", ErrNotSupported, reader)
}
