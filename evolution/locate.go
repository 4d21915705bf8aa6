package evolution

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/serde"
)

// This file places a compatibility violation in the new schema's text and
// digs out the old and new values at its path, for the reports of
// checks.

// violationPlace is where a violation is in the new text (line 0 when
// unknown) and the values at its path on each side.
type violationPlace struct {
	line, col int
	old, new  string
}

// maxValueLen bounds the old/new values printed per violation.
const maxValueLen = 160

// locateViolation places v. Avro and JSON Schema paths are JSON pointers
// into the reader schema: the candidate for backward findings, the old
// version for forward ones. The pointer is carried over to the other side
// by matching named array elements (Avro fields, enum symbols) by name, so
// a field that moved keeps its identity. Protobuf paths are full names; the
// line is found by the field's name and number, or the message's name.
func locateViolation(format serde.Format, newText, oldText string, v compat.Violation) violationPlace {
	var p violationPlace
	if format == serde.Protobuf {
		p.line, p.col = locateProto(newText, v.Path)
		return p
	}
	ptr := strings.TrimPrefix(v.Path, "#")
	if ptr != "" && !strings.HasPrefix(ptr, "/") {
		return p
	}
	toks := pointerTokens(ptr)
	if len(toks) == 0 {
		// The whole schema (a different format, say): no values to show.
		if l, c, ok := manifest.LocatePointer([]byte(newText), ""); ok {
			p.line, p.col = l, c
		}
		return p
	}
	var newDoc, oldDoc any
	newOK := json.Unmarshal([]byte(newText), &newDoc) == nil
	oldOK := json.Unmarshal([]byte(oldText), &oldDoc) == nil
	newToks, oldToks := toks, toks
	newFull, oldFull := newOK, oldOK
	if v.Direction == "forward" {
		if newOK && oldOK {
			newToks, newFull = translatePointer(oldDoc, newDoc, toks)
		}
	} else if newOK && oldOK {
		oldToks, oldFull = translatePointer(newDoc, oldDoc, toks)
	}
	if newOK {
		if l, c, ok := manifest.LocatePointer([]byte(newText), renderPointer(newToks)); ok {
			p.line, p.col = l, c
		}
		if newFull {
			if x, ok := valueAt(newDoc, newToks); ok {
				p.new = shorten(compact(x))
			}
		}
	}
	if oldOK && oldFull {
		if x, ok := valueAt(oldDoc, oldToks); ok {
			p.old = shorten(compact(x))
		}
	}
	return p
}

// pointerTokens splits a JSON pointer into unescaped tokens.
func pointerTokens(ptr string) []string {
	if ptr == "" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	for i, t := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return parts
}

// renderPointer joins tokens into a JSON pointer.
func renderPointer(toks []string) string {
	var b strings.Builder
	for _, t := range toks {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// translatePointer carries toks from the document from over to the
// document to: array elements that are objects with a "name" are matched
// by name, everything else by the same token. It returns the longest
// prefix that exists in to and whether all of toks did.
func translatePointer(from, to any, toks []string) ([]string, bool) {
	out := make([]string, 0, len(toks))
	for _, tok := range toks {
		switch f := from.(type) {
		case map[string]any:
			tm, ok := to.(map[string]any)
			if !ok {
				return out, false
			}
			nt, ok := tm[tok]
			if !ok {
				return out, false
			}
			from, to = f[tok], nt
			out = append(out, tok)
		case []any:
			ta, ok := to.([]any)
			i, err := strconv.Atoi(tok)
			if !ok || err != nil || i < 0 || i >= len(f) {
				return out, false
			}
			j := i
			if n := nameOf(f[i]); n != "" {
				j = -1
				for k, x := range ta {
					if nameOf(x) == n {
						j = k
						break
					}
				}
			}
			if j < 0 || j >= len(ta) {
				return out, false
			}
			from, to = f[i], ta[j]
			out = append(out, strconv.Itoa(j))
		default:
			return out, false
		}
	}
	return out, true
}

// valueAt returns the value toks designate in doc.
func valueAt(doc any, toks []string) (any, bool) {
	for _, tok := range toks {
		switch d := doc.(type) {
		case map[string]any:
			x, ok := d[tok]
			if !ok {
				return nil, false
			}
			doc = x
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(d) {
				return nil, false
			}
			doc = d[i]
		default:
			return nil, false
		}
	}
	return doc, true
}

func shorten(s string) string {
	if len(s) <= maxValueLen {
		return s
	}
	cut := maxValueLen
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

// protoFieldPathRE matches the compat package's field locations,
// "pkg.Msg.field (field 4)".
var protoFieldPathRE = regexp.MustCompile(`^([\w.]+) \(field (\d+)\)`)

// protoIdent is a Protobuf identifier; only identifiers go into patterns.
var protoIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// locateProto finds a Protobuf element named by a violation path in the
// .proto text: a field by its name and number, else a message, enum,
// oneof or enum value by its last name component. Best effort: 0, 0 when
// nothing matches.
func locateProto(text, p string) (int, int) {
	var expr string
	if m := protoFieldPathRE.FindStringSubmatch(p); m != nil {
		name := m[1][strings.LastIndexByte(m[1], '.')+1:]
		if !protoIdent.MatchString(name) {
			return 0, 0
		}
		expr = `\b` + name + `\s*=\s*` + m[2] + `\b`
	} else {
		full, _, _ := strings.Cut(p, " ")
		name := full[strings.LastIndexByte(full, '.')+1:]
		if !protoIdent.MatchString(name) {
			return 0, 0
		}
		expr = `\b(?:message|enum|oneof|service)\s+` + name + `\b|\b` + name + `\s*=\s*-?\d`
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return 0, 0
	}
	loc := re.FindStringIndex(text)
	if loc == nil {
		return 0, 0
	}
	return manifest.OffsetPos([]byte(text), loc[0])
}
