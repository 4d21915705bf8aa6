package avro

import (
	"slices"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/serde/internal/jsonstr"
)

// The two texts of spec/registry-api.md §5 are written from the validated
// tree, never from the input, so that whitespace and key order cannot leak
// into schema identity.
//
// Canonical (§5.2) follows Apache Avro's Schema.toString: attributes in a
// fixed order (type, name, namespace, doc, aliases, then fields / symbols /
// items / values / size, default, then custom properties), namespaces
// written only where they differ from the enclosing one, later uses of a
// named type written as its name, relative to the enclosing namespace.
// Custom properties are sorted by key so that their key order does not
// matter either (Avro keeps insertion order; the spec asks for key-order
// variants to share an ID).
//
// Normalized (§5.3) additionally writes every name as a full name, sorts
// aliases, and sorts object keys inside property values and defaults.

type writer struct {
	buf        []byte
	normalized bool
	// written, when not nil, asks for the resolved text (Schema.Resolved):
	// every named type, those of the references included, is defined where
	// it is first used, and it records which are.
	written map[*named]bool
}

func writeSchema(n *node, normalized bool) string {
	w := &writer{normalized: normalized}
	w.schema(n, "")
	return string(w.buf)
}

// writeResolved writes the Canonical layout with the named types of the
// references defined inline at their first use, as Apache Avro's
// Schema.toString() prints a schema parsed together with its references.
func writeResolved(n *node) string {
	w := &writer{written: map[*named]bool{}}
	w.schema(n, "")
	return string(w.buf)
}

func (w *writer) str(s string) { w.buf = jsonstr.Append(w.buf, s) }

func (w *writer) key(k string) {
	if b := w.buf; len(b) > 0 && b[len(b)-1] != '{' {
		w.buf = append(w.buf, ',')
	}
	w.str(k)
	w.buf = append(w.buf, ':')
}

func (w *writer) value(v *jsonValue) { w.buf = appendJSON(w.buf, v, w.normalized) }

func (w *writer) props(ms []jsonMember) {
	for _, m := range sortedMembers(ms) {
		w.key(m.key)
		w.value(m.val)
	}
}

// schema writes n inside enclosing namespace ns.
func (w *writer) schema(n *node, ns string) {
	switch {
	case n.named != nil && w.written != nil:
		// Resolved: the first occurrence in writing order defines the type,
		// whichever document defined it; a reference's type may thus be
		// defined inline before a definition site that follows, which then
		// becomes a use.
		if w.written[n.named] {
			w.str(w.reference(n.named, ns))
		} else {
			w.written[n.named] = true
			w.definition(n.named, ns)
		}
	case n.named != nil && !n.def:
		w.str(w.reference(n.named, ns))
	case n.named != nil:
		w.definition(n.named, ns)
	case n.kind == kindUnion:
		w.buf = append(w.buf, '[')
		for i, b := range n.branches {
			if i > 0 {
				w.buf = append(w.buf, ',')
			}
			w.schema(b, ns)
		}
		w.buf = append(w.buf, ']')
	case n.kind == kindArray || n.kind == kindMap:
		w.buf = append(w.buf, '{')
		w.key("type")
		w.str(n.kind.String())
		if n.kind == kindArray {
			w.key("items")
			w.schema(n.items, ns)
		} else {
			w.key("values")
			w.schema(n.values, ns)
		}
		w.props(n.props)
		w.buf = append(w.buf, '}')
	case len(n.props) == 0:
		w.str(n.kind.String()) // {"type":"string"} is stored as "string"
	default:
		w.buf = append(w.buf, '{')
		w.key("type")
		w.str(n.kind.String())
		w.props(n.props)
		w.buf = append(w.buf, '}')
	}
}

// reference writes a later use of a named type. A type in the null
// namespace is written by its bare name even inside another namespace:
// Avro resolves such a name in the enclosing namespace first and then in
// the null one, and the parser accepted the original only because that
// resolution found this type at this point, which the rewritten text
// preserves (definitions keep their order).
func (w *writer) reference(nm *named, ns string) string {
	if !w.normalized && nm.space == ns {
		return nm.name
	}
	return nm.full
}

func (w *writer) definition(nm *named, ns string) {
	w.buf = append(w.buf, '{')
	w.key("type")
	switch {
	case nm.isError:
		w.str("error")
	default:
		w.str(nm.kind.String())
	}
	if w.normalized {
		w.key("name")
		w.str(nm.full)
		if nm.space == "" && ns != "" {
			w.key("namespace")
			w.str("")
		}
	} else {
		w.key("name")
		w.str(nm.name)
		if nm.space != ns {
			w.key("namespace")
			w.str(nm.space)
		}
	}
	if nm.doc != nil {
		w.key("doc")
		w.str(*nm.doc)
	}
	if len(nm.aliases) > 0 {
		aliases := nm.aliases
		if w.normalized {
			aliases = slices.Clone(aliases)
			slices.Sort(aliases)
		} else {
			aliases = make([]string, len(nm.aliases))
			for i, a := range nm.aliases {
				if j := strings.LastIndexByte(a, '.'); j >= 0 && a[:j] == nm.space {
					a = a[j+1:]
				}
				aliases[i] = a
			}
		}
		w.key("aliases")
		w.strings(aliases)
	}
	switch nm.kind {
	case kindRecord:
		w.key("fields")
		w.buf = append(w.buf, '[')
		for i, f := range nm.fields {
			if i > 0 {
				w.buf = append(w.buf, ',')
			}
			w.field(f, nm.space)
		}
		w.buf = append(w.buf, ']')
	case kindEnum:
		w.key("symbols")
		w.strings(nm.symbols)
		if nm.enumDef != nil {
			w.key("default")
			w.str(*nm.enumDef)
		}
	case kindFixed:
		w.key("size")
		w.buf = strconv.AppendInt(w.buf, int64(nm.size), 10)
	}
	w.props(nm.props)
	w.buf = append(w.buf, '}')
}

func (w *writer) strings(ss []string) {
	w.buf = append(w.buf, '[')
	for i, s := range ss {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		w.str(s)
	}
	w.buf = append(w.buf, ']')
}

func (w *writer) field(f *field, ns string) {
	w.buf = append(w.buf, '{')
	w.key("name")
	w.str(f.name)
	w.key("type")
	w.schema(f.typ, ns)
	if f.doc != nil {
		w.key("doc")
		w.str(*f.doc)
	}
	if len(f.aliases) > 0 {
		aliases := f.aliases
		if w.normalized {
			aliases = slices.Clone(aliases)
			slices.Sort(aliases)
		}
		w.key("aliases")
		w.strings(aliases)
	}
	if f.def != nil {
		w.key("default")
		w.value(f.def)
	}
	if f.order != "ascending" {
		w.key("order")
		w.str(f.order)
	}
	w.props(f.props)
	w.buf = append(w.buf, '}')
}
