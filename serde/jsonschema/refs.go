package jsonschema

import (
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
)

// Base URLs of documents that have no absolute $id. The mem scheme is never
// fetched by anything, and it keeps relative names like "customer.json"
// resolvable: mem://sluice/customer.json.
const (
	baseURL = "mem://sluice/"
	// rootURL is where the schema being parsed is loaded. Its last segment
	// cannot be a reference name that a user would choose by accident.
	rootURL = baseURL + "$root"
)

// missingDocumentError is what the compiler's loader returns for a URL that
// is not one of the documents we were given: remote loading is disabled.
type missingDocumentError struct{ url string }

func (e *missingDocumentError) Error() string {
	return fmt.Sprintf("no document %s: it is not a reference of this schema, and remote $refs are not fetched", displayURL(e.url))
}

// refuseLoad is the compiler's LoadURL: every document it may use was added
// as a resource up front, so any other URL is an error, never a fetch.
func refuseLoad(u string) (io.ReadCloser, error) {
	return nil, &missingDocumentError{url: u}
}

// resolveURL resolves ref against base the way the compiler does, so that the
// URLs we register references under match the URLs its $refs ask for.
func resolveURL(base, ref string) (string, error) {
	if ref == "" {
		return base, nil
	}
	if strings.HasPrefix(ref, "urn:") {
		return ref, nil
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", err
	}
	if r.IsAbs() {
		return ref, nil
	}
	if strings.HasPrefix(base, "urn:") {
		b, _ := splitFragment(base)
		return b + ref, nil
	}
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	return b.ResolveReference(r).String(), nil
}

// splitFragment splits u into the document URL and the fragment with its
// leading '#' ("#" when there is none), as the compiler does.
func splitFragment(u string) (doc, fragment string) {
	i := strings.IndexByte(u, '#')
	if i < 0 {
		return u, "#"
	}
	fragment = u[i:]
	if fragment == "#/" {
		fragment = "#"
	}
	return u[:i], fragment
}

// displayURL shortens our internal URLs in messages: the root becomes "" (so
// "#/definitions/x" reads as a local pointer) and references lose the
// mem://sluice/ prefix, leaving the name the user chose.
func displayURL(u string) string {
	if rest, ok := strings.CutPrefix(u, rootURL); ok {
		if rest == "" {
			return "#"
		}
		return rest
	}
	if rest, ok := strings.CutPrefix(u, baseURL); ok {
		return rest
	}
	return u
}

// displayURLs applies displayURL to every internal URL inside a library
// message.
func displayURLs(msg string) string {
	msg = strings.ReplaceAll(msg, rootURL, "")
	return strings.ReplaceAll(msg, baseURL, "")
}

// idKeyword is the keyword that sets a schema's base URI in draft d.
func idKeyword(d Draft) string {
	if d == Draft4 {
		return "id"
	}
	return "$id"
}

// documentID returns the base URL that the $id (or draft-04 id) of a schema
// object establishes, resolved against base, or "" if it sets none. Up to
// draft-07 a $ref beside $id hides the $id, as in the compiler.
func documentID(doc any, d Draft, base string) string {
	obj, ok := doc.(Object)
	if !ok {
		return ""
	}
	if _, hasRef := obj.Get("$ref"); hasRef && d <= Draft7 {
		return ""
	}
	v, _ := obj.Get(idKeyword(d))
	id, ok := v.(string)
	if !ok {
		return ""
	}
	id, _ = splitFragment(id)
	if id == "" {
		return ""
	}
	u, err := resolveURL(base, id)
	if err != nil {
		return ""
	}
	u, _ = splitFragment(u)
	return u
}

// refSite is a $ref-like keyword found in a document.
type refSite struct {
	path     string // JSON pointer of the keyword's value
	resolved string // absolute URL with fragment; "" if it does not parse
	raw      string
}

// refKeywords are the keywords whose string value is a URL to another schema.
var refKeywords = []string{"$ref", "$recursiveRef", "$dynamicRef", "$schema"}

// notSchemas are keywords whose values are data, not schemas: a "$ref" key
// inside them is not a reference.
var notSchemas = map[string]bool{"enum": true, "const": true, "default": true, "examples": true}

// findRefs lists the $ref-like keywords of doc in document order with their
// resolved URLs, tracking base URI changes by $id. The compiler does not say
// where a failed $ref is; this lets us point at it.
func findRefs(doc any, d Draft, base string) []refSite {
	var out []refSite
	var walk func(v any, path, base string)
	walk = func(v any, path, base string) {
		switch v := v.(type) {
		case []any:
			for i, e := range v {
				walk(e, fmt.Sprintf("%s/%d", path, i), base)
			}
		case Object:
			if id := documentID(v, d, base); id != "" {
				base = id
			}
			for _, m := range v {
				p := path + "/" + escapePointer(m.Key)
				if s, ok := m.Value.(string); ok && isRefKeyword(m.Key) {
					site := refSite{path: p, raw: s}
					if u, err := resolveURL(base, s); err == nil {
						site.resolved = u
					}
					out = append(out, site)
					continue
				}
				if notSchemas[m.Key] {
					continue
				}
				walk(m.Value, p, base)
			}
		}
	}
	walk(doc, "", base)
	return out
}

func isRefKeyword(k string) bool { return slices.Contains(refKeywords, k) }

// findStrings returns the JSON pointers of the members named one of keys
// whose value is the string value, in document order.
func findStrings(doc any, value string, keys ...string) []string {
	var out []string
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch v := v.(type) {
		case []any:
			for i, e := range v {
				walk(e, fmt.Sprintf("%s/%d", path, i))
			}
		case Object:
			for _, m := range v {
				p := path + "/" + escapePointer(m.Key)
				if s, ok := m.Value.(string); ok && s == value && slices.Contains(keys, m.Key) {
					out = append(out, p)
				}
				walk(m.Value, p)
			}
		}
	}
	walk(doc, "")
	return out
}

// indexIDs records under into every value of doc that a $id (draft-04: id)
// gives a URL of its own, as the compiler names the schemas inside it.
func indexIDs(doc any, d Draft, base string, into map[string]any) {
	var walk func(v any, base string)
	walk = func(v any, base string) {
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				walk(e, base)
			}
		case Object:
			if id := documentID(v, d, base); id != "" {
				base = id
				if _, taken := into[id]; !taken {
					into[id] = v
				}
			}
			for _, m := range v {
				if !notSchemas[m.Key] {
					walk(m.Value, base)
				}
			}
		}
	}
	walk(doc, base)
}
