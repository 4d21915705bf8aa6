package jsonschema

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strings"

	js "github.com/santhosh-tekuri/jsonschema/v5"
)

// maxErrors bounds how many problems one Parse or Validate reports; past it
// a last entry counts the rest. The input is clearly not worth annotating
// further, and the message must stay readable.
const maxErrors = 20

// ParseError is one problem found by [Parse].
type ParseError struct {
	// Ref is the Name of the reference whose text has the problem, or ""
	// when the problem is in the schema itself.
	Ref string
	// Path is the JSON pointer (RFC 6901) of the offending value inside the
	// document, e.g. "/properties/total/type"; "" is the whole document (and
	// the value for malformed JSON, which has Line and Column instead).
	Path string
	// Line and Column (1-based, Column in characters) locate malformed JSON;
	// both are 0 for every other problem.
	Line, Column int
	// Reason says what is wrong.
	Reason string
}

// Error formats the problem as
// "jsonschema: [reference "NAME": ]LOCATION: REASON", where LOCATION is
// "line L, column C" for malformed JSON, else the path ("(root)" for "").
func (e *ParseError) Error() string { return "jsonschema: " + e.describe() }

func (e *ParseError) describe() string {
	var b strings.Builder
	if e.Ref != "" {
		fmt.Fprintf(&b, "reference %q: ", e.Ref)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d, column %d", e.Line, e.Column)
	} else {
		b.WriteString(displayPointer(e.Path))
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// ParseErrors is every problem [Parse] found (up to 20, then one entry
// counting the rest), ordered by path. It is never empty when returned;
// errors.As with a *ParseError target finds the first.
type ParseErrors []*ParseError

// Error joins the problems with "; ".
func (es ParseErrors) Error() string {
	if len(es) == 1 {
		return es[0].Error()
	}
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.describe()
	}
	return fmt.Sprintf("jsonschema: %d problems: %s", len(es), strings.Join(parts, "; "))
}

// Unwrap returns the problems as errors, so errors.As(err, &*ParseError)
// finds the first one.
func (es ParseErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// ValidationError is one reason why an instance does not match a schema.
type ValidationError struct {
	// Path is the JSON pointer of the failing value in the instance; "" is the
	// whole instance.
	Path string
	// Keyword is the JSON pointer of the failing keyword in the schema, through
	// any $refs followed to reach it (e.g. "/properties/total/minimum").
	Keyword string
	// Reason says what is wrong.
	Reason string
}

// Error formats the failure as "jsonschema: PATH: REASON".
func (e *ValidationError) Error() string { return "jsonschema: " + e.describe() }

func (e *ValidationError) describe() string { return displayPointer(e.Path) + ": " + e.Reason }

// ValidationErrors is every failure [Schema.Validate] found (up to 20, then
// one entry counting the rest), ordered by instance path. It is never empty
// when returned; errors.As with a *ValidationError target finds the first.
type ValidationErrors []*ValidationError

// Error joins the failures with "; ".
func (es ValidationErrors) Error() string {
	if len(es) == 1 {
		return es[0].Error()
	}
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.describe()
	}
	return fmt.Sprintf("jsonschema: %d problems: %s", len(es), strings.Join(parts, "; "))
}

// Unwrap returns the failures as errors.
func (es ValidationErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// displayPointer shows the empty pointer, which would otherwise vanish from a
// message, as "(root)".
func displayPointer(p string) string {
	if p == "" {
		return "(root)"
	}
	return p
}

// leaf is one flattened failure of a library ValidationError tree.
type leaf struct {
	instance string // JSON pointer into the validated value
	keyword  string // JSON pointer into the schema that failed
	message  string
}

// flatten turns the library's tree of validation errors into its leaves: the
// inner nodes only say "doesn't validate with" or group their causes. For
// anyOf and oneOf it keeps the branches that got past the type check, because
// "value must be one of …" is more useful than "expected array, but got
// string" when only one branch could have been meant.
func flatten(ve *js.ValidationError) []leaf {
	if len(ve.Causes) == 0 {
		if ve.Message == "" {
			return nil
		}
		return []leaf{{instance: fromLibraryPointer(ve.InstanceLocation), keyword: fromLibraryPointer(ve.KeywordLocation), message: ve.Message}}
	}
	// The message, not just the location, identifies the node: a property
	// may be named "anyOf".
	if (ve.Message == "anyOf failed" && strings.HasSuffix(ve.KeywordLocation, "/anyOf")) ||
		(ve.Message == "oneOf failed" && strings.HasSuffix(ve.KeywordLocation, "/oneOf")) {
		return flattenAlternatives(ve)
	}
	var out []leaf
	for _, c := range ve.Causes {
		out = append(out, flatten(c)...)
	}
	return out
}

// flattenAlternatives handles a failed anyOf/oneOf node. Branches that
// failed only on the type of the value are dropped when others got further;
// of the rest, branches that failed inside the value (they matched its shape)
// are preferred over branches that failed on the value as a whole.
func flattenAlternatives(ve *js.ValidationError) []leaf {
	var kept [][]leaf
	var expected []string
	got := ""
	for _, c := range ve.Causes {
		branch := flatten(c)
		if want, actual, ok := typeMismatch(branch, fromLibraryPointer(ve.InstanceLocation)); ok {
			expected = append(expected, want)
			got = actual
			continue
		}
		kept = append(kept, branch)
	}
	if len(kept) == 0 {
		// Every branch wanted another type: say so once.
		slices.Sort(expected)
		expected = slices.Compact(expected)
		return []leaf{{
			instance: fromLibraryPointer(ve.InstanceLocation),
			keyword:  fromLibraryPointer(ve.KeywordLocation),
			message:  fmt.Sprintf("expected %s, but got %s", strings.Join(expected, " or "), got),
		}}
	}
	var deeper, rest []leaf
	for _, branch := range kept {
		inside := len(branch) > 0
		for _, l := range branch {
			if !strings.HasPrefix(l.instance, fromLibraryPointer(ve.InstanceLocation)+"/") {
				inside = false
			}
		}
		if inside {
			deeper = append(deeper, branch...)
		} else {
			rest = append(rest, branch...)
		}
	}
	if len(deeper) > 0 {
		return deeper
	}
	return rest
}

// typeMismatch reports whether a branch failed only because the value at
// instance has another JSON type, and the types wanted and found.
func typeMismatch(branch []leaf, instance string) (want, got string, ok bool) {
	if len(branch) != 1 || branch[0].instance != instance {
		return "", "", false
	}
	msg, ok := strings.CutPrefix(branch[0].message, "expected ")
	if !ok {
		return "", "", false
	}
	want, got, ok = strings.Cut(msg, ", but got ")
	return want, got, ok
}

// sortLeaves orders leaves by instance path, then keyword, then message, and
// drops exact duplicates, so that messages do not depend on map order inside
// the library.
func sortLeaves(ls []leaf) []leaf {
	slices.SortFunc(ls, func(a, b leaf) int {
		return cmp.Or(cmp.Compare(a.instance, b.instance), cmp.Compare(a.keyword, b.keyword), cmp.Compare(a.message, b.message))
	})
	return slices.Compact(ls)
}

// fromLibraryPointer turns the compiler's locations, JSON pointers in URI
// fragment form (each token percent-encoded), into plain JSON pointers, so
// that a property "a b" reads "/a b" and not "/a%20b".
func fromLibraryPointer(p string) string {
	if !strings.Contains(p, "%") {
		return p
	}
	tokens := strings.Split(p, "/")
	for i, t := range tokens {
		if u, err := url.PathUnescape(t); err == nil {
			tokens[i] = u
		}
	}
	return strings.Join(tokens, "/")
}
