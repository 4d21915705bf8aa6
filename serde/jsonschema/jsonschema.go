package jsonschema

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	js "github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/sluicehq/sluice/serde"
)

// MaxSchemaBytes is the largest schema or reference text Parse accepts
// (DESIGN.md §6: 1 MiB per schema text).
const MaxSchemaBytes = 1 << 20

// Draft is a JSON Schema specification version.
type Draft int

// The drafts Parse supports. The values order the drafts by age.
const (
	Draft4    Draft = 4
	Draft6    Draft = 6
	Draft7    Draft = 7
	Draft2019 Draft = 2019 // 2019-09
	Draft2020 Draft = 2020 // 2020-12
)

// DefaultDraft is the draft of a document without $schema, as in Confluent
// Schema Registry.
const DefaultDraft = Draft7

// String returns the draft's usual name: "draft-04" … "draft-07",
// "2019-09", "2020-12".
func (d Draft) String() string {
	switch d {
	case Draft4, Draft6, Draft7:
		return fmt.Sprintf("draft-%02d", int(d))
	case Draft2019:
		return "2019-09"
	case Draft2020:
		return "2020-12"
	}
	return fmt.Sprintf("Draft(%d)", int(d))
}

// URL returns the draft's metaschema URL, the value $schema takes to ask
// for it.
func (d Draft) URL() string {
	switch d {
	case Draft4, Draft6, Draft7:
		return fmt.Sprintf("http://json-schema.org/draft-%02d/schema#", int(d))
	case Draft2019:
		return "https://json-schema.org/draft/2019-09/schema"
	case Draft2020:
		return "https://json-schema.org/draft/2020-12/schema"
	}
	return ""
}

// draftOf maps a $schema value to a draft the way the compiler does: http
// and https alike, a trailing empty fragment ignored.
func draftOf(schemaURL string) (Draft, bool) {
	u := schemaURL
	if rest, ok := strings.CutPrefix(u, "http://"); ok {
		u = "https://" + rest
	}
	u = strings.TrimSuffix(strings.TrimSuffix(u, "#/"), "#")
	switch u {
	case "https://json-schema.org/draft-04/schema":
		return Draft4, true
	case "https://json-schema.org/draft-06/schema":
		return Draft6, true
	case "https://json-schema.org/draft-07/schema":
		return Draft7, true
	case "https://json-schema.org/draft/2019-09/schema":
		return Draft2019, true
	case "https://json-schema.org/draft/2020-12/schema", "https://json-schema.org/schema":
		return Draft2020, true
	}
	return 0, false
}

// libraryDraft maps a draft to the compiler's.
func libraryDraft(d Draft) *js.Draft {
	switch d {
	case Draft4:
		return js.Draft4
	case Draft6:
		return js.Draft6
	case Draft2019:
		return js.Draft2019
	case Draft2020:
		return js.Draft2020
	}
	return js.Draft7
}

// fromLibraryDraft maps the compiler's draft back, for documents whose
// $schema is a custom metaschema given as a reference.
func fromLibraryDraft(d *js.Draft) Draft {
	switch d {
	case js.Draft4:
		return Draft4
	case js.Draft6:
		return Draft6
	case js.Draft2019:
		return Draft2019
	case js.Draft2020:
		return Draft2020
	}
	return Draft7
}

// Schema is a parsed, validated JSON Schema. It is immutable and safe for
// concurrent use.
type Schema struct {
	doc        any
	byURL      map[string]any // decoded value of every document and embedded $id, by URL
	canonical  string
	normalized string
	draft      Draft
	compiled   *js.Schema

	// fastState is ValidatePayload's accept-only fast path, compiled on
	// first use (fastvalidate.go).
	fastState
}

var _ serde.Schema = (*Schema)(nil)

// document is one decoded input document: the root or a reference.
type document struct {
	name  string // reference name; "" for the root
	text  string
	url   string // where it is loaded
	doc   any
	draft Draft // from $schema; DefaultDraft when absent or custom
}

// Parse parses and validates the JSON Schema text, whose $refs into other
// documents are resolved among refs (dependencies first, as serde.Referenced
// documents). See the package documentation for how reference names match
// $ref URLs.
//
// Every problem found is returned as a ParseErrors list. Syntax problems stop
// the parse of a document at the first one; metaschema violations are all
// reported; of $ref problems the compiler reports the first.
func Parse(text string, refs []serde.Referenced) (*Schema, error) {
	s, errs := parse(text, refs)
	if len(errs) > maxErrors {
		rest := len(errs) - maxErrors
		errs = append(errs[:maxErrors:maxErrors], &ParseError{Reason: fmt.Sprintf("and %d more problems", rest)})
	}
	if errs != nil {
		return nil, errs
	}
	return s, nil
}

func parse(text string, refs []serde.Referenced) (s *Schema, errs ParseErrors) {
	defer func() {
		// The compiler is third-party code fed untrusted input: contain
		// anything it did not anticipate rather than crash the registry.
		if r := recover(); r != nil {
			s, errs = nil, ParseErrors{{Reason: fmt.Sprintf("internal error in the JSON Schema compiler: %v", r)}}
		}
	}()

	root, docs, errs := decodeAll(text, refs)
	if errs != nil {
		return nil, errs
	}
	c, byURL, errs := newCompiler(root, docs)
	if errs != nil {
		return nil, errs
	}
	for _, d := range append(slices.Clone(docs), root) {
		if errs := checkSchemaKeyword(d, byURL); errs != nil {
			return nil, errs
		}
	}

	// Compile the references first, in dependency order, so that a problem
	// is reported against the document it is in: by the time a document is
	// compiled, everything it depends on has compiled cleanly.
	for _, d := range docs {
		if _, err := c.Compile(d.url); err != nil {
			return nil, compileErrors(err, d)
		}
	}
	compiled, err := c.Compile(root.url)
	if err != nil {
		return nil, compileErrors(err, root)
	}

	draft := root.draft
	if _, ok := rootSchemaURL(root.doc); ok {
		draft = fromLibraryDraft(compiled.Draft)
	}
	index := map[string]any{}
	for u, d := range byURL {
		index[u] = d.doc
	}
	for _, d := range append(slices.Clone(docs), root) {
		indexIDs(d.doc, d.draft, d.url, index)
	}
	return &Schema{
		byURL:      index,
		doc:        root.doc,
		canonical:  string(appendJSON(nil, root.doc, false)),
		normalized: string(appendJSON(nil, root.doc, true)),
		draft:      draft,
		compiled:   compiled,
	}, nil
}

// decodeAll decodes the root and the references and gives each the URL at
// which $refs will look for it.
func decodeAll(text string, refs []serde.Referenced) (root *document, docs []*document, errs ParseErrors) {
	root, errs = decodeSchemaDocument("", text)
	if errs != nil {
		return nil, nil, errs
	}
	root.url = rootURL
	base := rootURL
	if id := documentID(root.doc, root.draft, rootURL); id != "" {
		base = id
	}
	byURL := map[string]*document{rootURL: root}
	seen := map[string]bool{}
	for _, ref := range refs {
		if ref.Name == "" {
			return nil, nil, ParseErrors{{Reason: "a reference has an empty name"}}
		}
		if strings.Contains(ref.Name, "#") {
			return nil, nil, ParseErrors{{Ref: ref.Name, Reason: "a reference name must not contain a fragment ('#')"}}
		}
		if seen[ref.Name] {
			return nil, nil, ParseErrors{{Ref: ref.Name, Reason: "reference given twice"}}
		}
		seen[ref.Name] = true
		d, errs := decodeSchemaDocument(ref.Name, ref.Text)
		if errs != nil {
			return nil, nil, errs
		}
		u, err := resolveURL(base, ref.Name)
		if err != nil {
			return nil, nil, ParseErrors{{Ref: ref.Name, Reason: fmt.Sprintf("reference name is not a URL: %v", err)}}
		}
		d.url, _ = splitFragment(u)
		if other, ok := byURL[d.url]; ok {
			return nil, nil, ParseErrors{{Ref: ref.Name, Reason: fmt.Sprintf("reference resolves to %s, the URL of %s", displayURL(d.url), describeDoc(other))}}
		}
		byURL[d.url] = d
		docs = append(docs, d)
	}
	return root, docs, nil
}

// newCompiler returns a compiler that knows every document and fetches
// nothing, and the documents by every URL they were added under.
func newCompiler(root *document, docs []*document) (*js.Compiler, map[string]*document, ParseErrors) {
	c := js.NewCompiler()
	c.Draft = libraryDraft(DefaultDraft)
	c.ExtractAnnotations = true // compatibility checks compare titles, descriptions, defaults
	c.LoadURL = refuseLoad
	byURL := map[string]*document{}
	add := func(u string, d *document) ParseErrors {
		byURL[u] = d
		if err := c.AddResource(u, strings.NewReader(d.text)); err != nil {
			return ParseErrors{{Ref: d.name, Reason: displayURLs(strings.TrimPrefix(err.Error(), "jsonschema: "))}}
		}
		return nil
	}
	for _, d := range append([]*document{root}, docs...) {
		if errs := add(d.url, d); errs != nil {
			return nil, nil, errs
		}
	}
	// A reference with its own $id resolves its relative $refs against
	// that $id: make the other references reachable from there too.
	for _, d := range docs {
		id := documentID(d.doc, d.draft, d.url)
		if id == "" || id == d.url {
			continue
		}
		for _, other := range docs {
			u, err := resolveURL(id, other.name)
			if err != nil {
				continue
			}
			if u, _ = splitFragment(u); byURL[u] != nil {
				continue
			}
			if errs := add(u, other); errs != nil {
				return nil, nil, errs
			}
		}
	}
	return c, byURL, nil
}

func describeDoc(d *document) string {
	if d.name == "" {
		return "the schema itself"
	}
	return fmt.Sprintf("reference %q", d.name)
}

// decodeSchemaDocument decodes one document and checks what the metaschema
// cannot: size, syntax, and that the root is a schema at all.
func decodeSchemaDocument(name, text string) (*document, ParseErrors) {
	if len(text) > MaxSchemaBytes {
		return nil, ParseErrors{{Ref: name, Reason: fmt.Sprintf("schema text is %d bytes, more than the limit of %d", len(text), MaxSchemaBytes)}}
	}
	v, err := decodeDocument(text)
	if err != nil {
		var de *decodeError
		if errors.As(err, &de) {
			return nil, ParseErrors{{Ref: name, Path: de.path, Line: de.line, Column: de.col, Reason: de.reason}}
		}
		return nil, ParseErrors{{Ref: name, Reason: err.Error()}}
	}
	switch v.(type) {
	case Object, bool:
	default:
		return nil, ParseErrors{{Ref: name, Reason: fmt.Sprintf("a schema must be a JSON object or boolean, not %s", jsonTypeName(v))}}
	}
	d := &document{name: name, text: text, doc: v, draft: DefaultDraft}
	if u, ok := rootSchemaURL(v); ok {
		if draft, ok := draftOf(u); ok {
			d.draft = draft
		}
	}
	return d, nil
}

// rootSchemaURL returns the string value of a document's $schema.
func rootSchemaURL(doc any) (string, bool) {
	obj, ok := doc.(Object)
	if !ok {
		return "", false
	}
	v, ok := obj.Get("$schema")
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	return s, ok
}

// checkSchemaKeyword gives $schema a clear message: it must name one of the
// drafts or a metaschema among the references. The compiler would otherwise
// report a failed load of the metaschema URL.
func checkSchemaKeyword(d *document, byURL map[string]*document) ParseErrors {
	obj, ok := d.doc.(Object)
	if !ok {
		return nil
	}
	v, ok := obj.Get("$schema")
	if !ok {
		return nil
	}
	u, ok := v.(string)
	if !ok {
		return ParseErrors{{Ref: d.name, Path: "/$schema", Reason: fmt.Sprintf("must be a string, not %s", jsonTypeName(v))}}
	}
	if _, ok := draftOf(u); ok {
		return nil
	}
	if doc, _ := splitFragment(u); byURL[doc] != nil && doc != d.url {
		return nil // a custom metaschema given as a reference
	}
	return ParseErrors{{Ref: d.name, Path: "/$schema", Reason: fmt.Sprintf(
		"unknown metaschema %q: use one of %s, %s, %s, %s, %s, or give the metaschema as a reference",
		u, Draft4.URL(), Draft6.URL(), Draft7.URL(), Draft2019.URL(), Draft2020.URL())}}
}

// compileErrors turns a compiler error about document d into ParseErrors,
// pointing at the offending keyword where the compiler does not say.
func compileErrors(err error, d *document) ParseErrors {
	var ve *js.ValidationError
	if errors.As(err, &ve) {
		leaves := sortLeaves(flatten(ve))
		out := make(ParseErrors, 0, len(leaves))
		for _, l := range leaves {
			out = append(out, &ParseError{Ref: d.name, Path: l.instance, Reason: explainRegex(d.doc, l)})
		}
		if len(out) > 0 {
			return out
		}
	}
	var missing *missingDocumentError
	if errors.As(err, &missing) {
		return refErrors(d, missing.Error(), func(s refSite) bool {
			doc, _ := splitFragment(s.resolved)
			return doc == missing.url
		})
	}
	var loop js.InfiniteLoopError
	if errors.As(err, &loop) {
		return ParseErrors{{Ref: d.name, Reason: "$ref loop: " + displayURLs(string(loop))}}
	}
	inner := err
	var se *js.SchemaError
	if errors.As(err, &se) && se.Err != nil {
		inner = se.Err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// A $id or $ref that is not a URL at all.
		reason := fmt.Sprintf("%q is not a valid URL: %v", ue.URL, ue.Err)
		var out ParseErrors
		for _, p := range findStrings(d.doc, ue.URL, "$id", "id", "$ref", "$recursiveRef", "$dynamicRef", "$schema") {
			out = append(out, &ParseError{Ref: d.name, Path: p, Reason: reason})
		}
		if len(out) > 0 {
			return out
		}
		return ParseErrors{{Ref: d.name, Reason: reason}}
	}
	msg := strings.TrimPrefix(inner.Error(), "jsonschema: ")
	if target, ok := strings.CutSuffix(msg, " not found"); ok {
		return refErrors(d, fmt.Sprintf("$ref target %s not found", displayURL(target)), func(s refSite) bool {
			return s.resolved == target
		})
	}
	return ParseErrors{{Ref: d.name, Reason: displayURLs(msg)}}
}

// refErrors reports reason at every $ref of d that match selects, or at the
// document when none does (the $ref is then in another document).
func refErrors(d *document, reason string, match func(refSite) bool) ParseErrors {
	var out ParseErrors
	for _, s := range findRefs(d.doc, d.draft, d.url) {
		if s.resolved != "" && match(s) {
			out = append(out, &ParseError{Ref: d.name, Path: s.path, Reason: reason})
		}
	}
	if len(out) == 0 {
		out = ParseErrors{{Ref: d.name, Reason: reason}}
	}
	return out
}

// Format returns serde.JSON.
func (s *Schema) Format() serde.Format { return serde.JSON }

// Canonical returns the stored form of spec/registry-api.md §5.2: the
// document re-serialised compactly, object keys in their original order,
// number literals as written.
func (s *Schema) Canonical() string { return s.canonical }

// Normalized returns the normalized form of §5.3: Canonical with object keys
// sorted recursively.
func (s *Schema) Normalized() string { return s.normalized }

// Draft returns the draft the schema was compiled under: its $schema, or
// DefaultDraft.
func (s *Schema) Draft() Draft { return s.draft }

// Compiled returns the compiled form for validating instances and for
// compatibility checks. $refs are resolved into Ref pointers (which may form
// cycles); annotations (Title, Description, Default, …) are filled in. It is
// shared: callers must not modify it.
func (s *Schema) Compiled() *js.Schema { return s.compiled }

// Document returns the decoded schema: nil, bool, json.Number (the literal
// as written), string, []any or [Object] (members in document order, as
// code generators want them). It is shared: callers must not modify it.
func (s *Schema) Document() any { return s.doc }

// DocumentAt returns the decoded JSON value (as Document does) at loc, an
// absolute location of the form the compiler gives in js.Schema.Location:
// a document URL, '#' and a JSON pointer (with URI escaping). It finds
// values in the schema and in every reference, so a compatibility checker or
// code generator walking Compiled() can read what the compiled form drops:
// property order and unknown keywords such as "connect.type". Locations by
// anchor ("#name") are not supported.
func (s *Schema) DocumentAt(loc string) (any, bool) {
	u, frag := splitFragment(loc)
	v, ok := s.byURL[u]
	if !ok {
		return nil, false
	}
	if frag == "#" {
		return v, true
	}
	if !strings.HasPrefix(frag, "#/") {
		return nil, false
	}
	for _, tok := range strings.Split(frag[2:], "/") {
		if t, err := url.PathUnescape(tok); err == nil {
			tok = t
		}
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch t := v.(type) {
		case Object:
			if v, ok = t.Get(tok); !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(t) {
				return nil, false
			}
			v = t[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// Name returns the record name that record-based subject-name strategies use
// (spec/wire-format.md §7.1): the top-level "title", or "" when there is no
// such string, which those strategies must refuse.
func (s *Schema) Name() string {
	obj, ok := s.doc.(Object)
	if !ok {
		return ""
	}
	title, _ := obj.Get("title")
	name, _ := title.(string)
	return name
}

// explainRegex adds the regexp package's reason to the metaschema's bare
// "'…' is not valid 'regex'", so that users learn which construct RE2 lacks
// (lookarounds and backreferences are the usual ones).
func explainRegex(doc any, l leaf) string {
	if !strings.HasSuffix(l.message, " is not valid 'regex'") && !strings.HasSuffix(l.message, " is not valid regex") {
		return l.message
	}
	// The offending regex is the string at the path (pattern), a key of
	// the object there (draft-04 patternProperties), or the last token of
	// the path (propertyNames of patternProperties).
	var candidates []string
	if s, ok := valueAt(doc, l.instance).(string); ok {
		candidates = append(candidates, s)
	} else if obj, ok := valueAt(doc, l.instance).(Object); ok {
		for _, m := range obj {
			candidates = append(candidates, m.Key)
		}
	}
	candidates = append(candidates, lastToken(l.instance))
	for _, c := range candidates {
		if _, err := regexp.Compile(c); err != nil {
			return fmt.Sprintf("%s: %v", l.message, err)
		}
	}
	return l.message
}

// lastToken returns the unescaped last reference token of a JSON pointer.
func lastToken(pointer string) string {
	tok := pointer[strings.LastIndexByte(pointer, '/')+1:]
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
}

// valueAt returns the value at a JSON pointer in doc, or nil.
func valueAt(doc any, pointer string) any {
	if pointer == "" {
		return doc
	}
	v := doc
	for _, tok := range strings.Split(pointer[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch t := v.(type) {
		case Object:
			v, _ = t.Get(tok)
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(t) {
				return nil
			}
			v = t[i]
		default:
			return nil
		}
	}
	return v
}
