package compat

import (
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/serde/jsonschema"
)

// JSON Schema compatibility (spec/registry-api.md §11.3–§11.6).
//
// Confluent Schema Registry does not ask "is every document valid under the
// writer also valid under the reader?", which is undecidable in general.
// It diffs the two schemas structurally, after resolving $refs, and names
// each difference (TYPE_NARROWED, PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL,
// …); a change is compatible iff every difference is in the policy's
// compatible set. We do the same, difference by difference, because the
// goal is Confluent's verdicts, including its surprising ones (see
// TestJSONConfluentQuirks): a registry that is "more right" than Confluent
// breaks the pipelines of users who migrate to it.
//
// The work is split in three files: jsonschema_model.go loads a document
// into the schema model Confluent compares, jsonschema_diff.go compares two
// such models, jsonschema_kinds.go names the differences and the compatible
// sets of the STRICT and LENIENT policies.
//
// Where we knowingly differ from Confluent, always without changing a
// verdict Confluent's own test cases check:
//
//   - Only incompatible differences are reported; Confluent also lists
//     the compatible ones (TITLE_CHANGED, …), which never fail a check.
//   - Type differences are reported at ".../type" (Confluent: the schema's
//     own path), and path tokens are escaped as JSON pointer tokens.
//   - multipleOf changes are judged with exact arithmetic; Confluent
//     truncates to integers (and fails on divisors below 1).
//   - A cycle is cut when the same (original, update) pair recurs, where
//     Confluent cuts on the original alone; only recursive schemas that
//     unroll differently on the two sides can tell the difference.
//   - 2019-09 and 2020-12 documents are loaded by the draft-07 rules with
//     the newer keywords mapped onto the same model (prefixItems, items,
//     dependentRequired, dependentSchemas, unevaluated*), instead of
//     Confluent's separate translator; contains, minContains, maxContains
//     and unevaluated* are compared as spec §11.4 lists.
//   - The reserved-property checks driven by Confluent's schema metadata
//     (RESERVED_PROPERTY_*) need metadata this package is not given.

// jsonReadsPolicy reports the differences from writer (the original) to
// reader (the update) that policy does not accept. An empty result means
// reader reads writer.
func jsonReadsPolicy(reader, writer *jsonschema.Schema, policy Policy) ([]Violation, error) {
	var compatible map[string]bool
	switch policy {
	case "", Strict:
		compatible = jsonStrictCompatible
	case Lenient:
		compatible = jsonLenientCompatible
	default:
		return nil, fmt.Errorf("compat: unknown compatibility policy %q: want STRICT or LENIENT", policy)
	}
	run := &jsonRun{compatible: compatible, active: map[[2]*jsonNode]bool{}}
	c := &jsonCtx{jsonRun: run}
	c.compare(jsonLoad(writer), jsonLoad(reader))
	if run.err != nil {
		return nil, run.err
	}
	// The same difference can be reached twice (a branch matched in a
	// combinator and compared again elsewhere); report it once.
	out := make([]Violation, 0, len(c.diffs))
	seen := make(map[jsonDiff]bool, len(c.diffs))
	for _, d := range c.diffs {
		if seen[d] {
			continue
		}
		seen[d] = true
		out = append(out, Violation{Kind: d.kind, Path: d.path, Message: d.msg})
	}
	return out, nil
}

// jsonDescribe names a schema in a message: its type, "[number, string]"
// for a type array, "anyOf [string, null]" for a combinator.
func jsonDescribe(n *jsonNode) string {
	s := jsonDescribeDepth(n, 0)
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

func jsonDescribeDepth(n *jsonNode, depth int) string {
	if n == nil {
		return "nothing"
	}
	// $refs are named, not followed: the name says more than the target's
	// type, and a recursive target would not end.
	if depth > 3 {
		return "…"
	}
	switch n.kind {
	case jsonKindEmpty:
		return "{}"
	case jsonKindTrue:
		return "true"
	case jsonKindFalse:
		return "false"
	case jsonKindObject:
		return "object"
	case jsonKindArray:
		return "array"
	case jsonKindString:
		return "string"
	case jsonKindNumber:
		if n.num.integer {
			return "integer"
		}
		return "number"
	case jsonKindBoolean:
		return "boolean"
	case jsonKindNull:
		return "null"
	case jsonKindEnum:
		return "enum " + jsonList(n.values)
	case jsonKindConst:
		return "const " + jsonText(n.constant)
	case jsonKindNot:
		return "not " + jsonDescribeDepth(n.not, depth+1)
	case jsonKindConditional:
		return "if/then/else"
	case jsonKindCombined:
		parts := make([]string, len(n.subs))
		for i, s := range n.subs {
			parts[i] = jsonDescribeDepth(s, depth+1)
		}
		switch {
		case n.typeArray:
			return "[" + strings.Join(parts, ", ") + "]"
		case n.synthetic:
			return strings.Join(parts, " + ")
		}
		return n.criterion + " [" + strings.Join(parts, ", ") + "]"
	case jsonKindRef:
		return "$ref " + strconv.Quote(n.ref.text)
	}
	return "schema"
}

// jsonList renders values as a JSON array.
func jsonList(vs []any) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = jsonText(v)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func jsonQuoted(names []string) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = strconv.Quote(n)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// jsonText renders a decoded JSON value compactly, object keys sorted, so
// that equal schemas render equally.
func jsonText(v any) string { return string(jsonAppend(nil, v)) }

func jsonAppend(dst []byte, v any) []byte {
	switch t := v.(type) {
	case nil:
		return append(dst, "null"...)
	case bool:
		return strconv.AppendBool(dst, t)
	case json.Number:
		return append(dst, t...)
	case string:
		return strconv.AppendQuote(dst, t)
	case []any:
		dst = append(dst, '[')
		for i, e := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonAppend(dst, e)
		}
		return append(dst, ']')
	case jsonschema.Object:
		ms := slices.Clone(t)
		slices.SortFunc(ms, func(a, b jsonschema.Member) int { return strings.Compare(a.Key, b.Key) })
		dst = append(dst, '{')
		for i, m := range ms {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendQuote(dst, m.Key)
			dst = append(dst, ':')
			dst = jsonAppend(dst, m.Value)
		}
		return append(dst, '}')
	}
	return fmt.Appendf(dst, "%v", v)
}

// jsonEqual compares decoded JSON values: numbers by value (1 equals 1.0),
// objects regardless of member order.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		rx, okx := new(big.Rat).SetString(string(x))
		ry, oky := new(big.Rat).SetString(string(y))
		if !okx || !oky {
			return x == y
		}
		return rx.Cmp(ry) == 0
	case []any:
		y, ok := b.([]any)
		return ok && slices.EqualFunc(x, y, jsonEqual)
	case jsonschema.Object:
		y, ok := b.(jsonschema.Object)
		if !ok || len(x) != len(y) {
			return false
		}
		for _, m := range x {
			v, ok := y.Get(m.Key)
			if !ok || !jsonEqual(m.Value, v) {
				return false
			}
		}
		return true
	}
	return a == b
}
