package evolution

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/serde/protobuf"
	"github.com/sluicehq/sluice/srclient"
)

// This file is Diff (`sluice schema diff OLD NEW`): every structural change
// between two schemas, each marked breaking when the registry's rules find
// a violation at (or under) its path under the level.

// Change is one change between two schemas.
type Change struct {
	// Path is a JSON pointer (Avro, JSON Schema) or a Protobuf element as
	// the rules name it ("pkg.Msg.field (field 2)").
	Path string `json:"path"`
	// Change is added, removed, changed, or rule (a violation that matches
	// no structural change).
	Change   string `json:"change"`
	Old      string `json:"old,omitempty"`
	New      string `json:"new,omitempty"`
	Breaking bool   `json:"breaking"`
	// Rule and Message are the violation's kind and message when Breaking.
	Rule    string `json:"rule,omitempty"`
	Message string `json:"message,omitempty"`
}

// Operand is one side of a diff: a schema file or a version of a subject
// in a registry.
type Operand struct {
	// Arg is the operand as given.
	Arg    string
	Text   string
	Format serde.Format
	// Subject and Version are set for registry operands.
	Subject string
	Version int
	// Refs are a registry operand's references, with their texts.
	Refs   []serde.Referenced
	Schema serde.Schema
	// RuleSet is a registry operand's ruleSet (rules_diff.go).
	RuleSet json.RawMessage
}

// Label names an operand in reports: the file, or subject version N.
func (d *Operand) Label() string {
	if d.Subject != "" {
		return fmt.Sprintf("%s version %d", d.Subject, d.Version)
	}
	return filepath.ToSlash(d.Arg)
}

// ResolveOperands loads OLD and NEW. With a reader, an operand that is not
// a schema file is a registered version: SUBJECT:VERSION (a number or
// latest) or SUBJECT (its latest version). A file that references other
// schemas is parsed with references inferred from the files around it, as
// a manifest would, else with the references of the registered operand.
// The level is level, else (with a reader) the effective level of the
// first registered operand's subject, else BACKWARD.
func ResolveOperands(ctx context.Context, reader *srclient.Reader, args [2]string, level compat.Level) ([2]*Operand, compat.Level, error) {
	var sides [2]*Operand
	// Registry operands first: their references parse the files.
	var refs []serde.Referenced
	for i, arg := range args {
		if reader == nil || isSchemaFile(arg) {
			continue
		}
		subject, version := arg, "latest"
		if j := strings.LastIndexByte(arg, ':'); j > 0 && isVersion(arg[j+1:]) {
			subject, version = arg[:j], arg[j+1:]
		}
		s, err := reader.Version(ctx, subject, strings.ToLower(version))
		if err != nil {
			return sides, "", err
		}
		r, err := reader.References(ctx, s)
		if err != nil {
			return sides, "", err
		}
		sd := &Operand{Arg: arg, Text: s.Schema, Subject: subject, Version: s.Version, Refs: r, RuleSet: s.RuleSet}
		if sd.Schema, err = srclient.ParseSchema(s.TypeName(), s.Schema, r); err != nil {
			return sides, "", fmt.Errorf("%s: %w", arg, err)
		}
		sd.Format = sd.Schema.Format()
		sides[i] = sd
		if refs == nil {
			refs = r
		}
		if level == "" {
			cfg, err := reader.Config(ctx, subject)
			if err != nil {
				return sides, "", err
			}
			level = cfg.Level
		}
	}
	for i, file := range args {
		if sides[i] != nil {
			continue
		}
		format, err := manifest.FormatOf(file)
		if err != nil {
			if reader == nil && strings.Contains(file, ":") {
				return sides, "", argErr("%s: subject versions need --registry URL", file)
			}
			return sides, "", &ArgumentError{err}
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return sides, "", err
		}
		sd := &Operand{Arg: file, Text: string(data), Format: format}
		if sd.Schema, err = srclient.ParseSchema(srclient.TypeOf(format), sd.Text, nil); err != nil {
			// It references other schemas: infer them from the files
			// around it as a manifest would, else borrow the registered
			// version's.
			if p, ierr := parseWithNeighbours(file); ierr == nil {
				sd.Schema, err = p, nil
			} else if refs != nil {
				if p, rerr := srclient.ParseSchema(srclient.TypeOf(format), sd.Text, refs); rerr == nil {
					sd.Schema, err = p, nil
				}
			} else {
				err = ierr
			}
		}
		if err != nil {
			return sides, "", fmt.Errorf("%s: %w", filepath.ToSlash(file), err)
		}
		sides[i] = sd
	}
	if level == "" {
		level = compat.Backward
	}
	return sides, level, nil
}

// DiffReport is the answer of Diff.
type DiffReport struct {
	Old, New *Operand
	Level    compat.Level
	// Changes are the structural changes, then the violations that match
	// none.
	Changes []Change
	// Breaking counts the breaking changes.
	Breaking int
}

// Diff lists every change from old to new, each marked breaking when the
// rules of level report a violation at or under its path. Avro and JSON
// Schema are compared as JSON documents (fields matched by name); Protobuf
// by messages, fields (by number) and enum values.
func Diff(level compat.Level, old, new *Operand) (*DiffReport, error) {
	texts := [2]string{old.Text, new.Text}
	parsed := [2]serde.Schema{old.Schema, new.Schema}
	// Avro sides are compared in the form the registry stores (Canonical):
	// a file or a candidate that names a type by its full name where the
	// stored version has the short one, orders attributes otherwise or
	// wraps a primitive as {"type":"string"} has not changed.
	for i, p := range parsed {
		if a, ok := p.(*avro.Schema); ok {
			texts[i] = a.Canonical()
		}
	}
	vs, err := compat.Pair(level, parsed[1], parsed[0])
	if err != nil {
		return nil, err
	}
	var changes []Change
	if pa, ok := parsed[0].(*protobuf.Schema); ok {
		if pb, ok := parsed[1].(*protobuf.Schema); ok {
			protoDiff(pa.File(), pb.File(), &changes)
		}
	} else if parsed[1].Format() != serde.Protobuf {
		var a, b any
		json.Unmarshal([]byte(texts[0]), &a)
		json.Unmarshal([]byte(texts[1]), &b)
		jsonDiff("", a, b, &changes)
	}
	used := make([]bool, len(vs))
	for i := range changes {
		for j, v := range vs {
			p := strings.TrimPrefix(v.Path, "#")
			if p == changes[i].Path || strings.HasPrefix(p, changes[i].Path+"/") || strings.HasPrefix(changes[i].Path, p+"/") {
				changes[i].Breaking = true
				changes[i].Rule = v.Kind
				changes[i].Message = v.Message
				used[j] = true
			}
		}
	}
	for j, v := range vs {
		if !used[j] {
			changes = append(changes, Change{Path: v.Path, Change: "rule", Breaking: true, Rule: v.Kind, Message: v.Message})
		}
	}
	// Two registered versions: their rule sets too (rules_diff.go).
	if old.Subject != "" && new.Subject != "" {
		changes = append(changes, ruleChanges(old.RuleSet, new.RuleSet)...)
	}
	breaking := 0
	for _, c := range changes {
		if c.Breaking {
			breaking++
		}
	}
	return &DiffReport{Old: old, New: new, Level: level, Changes: changes, Breaking: breaking}, nil
}

// Write prints the report: one line per change and a summary line, or,
// with asJSON, one document (old, new, level, changes, breaking).
func (r *DiffReport) Write(w io.Writer, asJSON bool) error {
	if asJSON {
		return writeJSON(w, map[string]any{"old": r.Old.Label(), "new": r.New.Label(), "level": r.Level, "changes": nonNil(r.Changes), "breaking": r.Breaking})
	}
	if r.Old.Subject != "" || r.New.Subject != "" {
		fmt.Fprintf(w, "--- %s\n+++ %s\n", r.Old.Label(), r.New.Label())
	}
	for _, c := range r.Changes {
		mark := "safe    "
		if c.Breaking {
			mark = "BREAKING"
		}
		line := fmt.Sprintf("%s %-7s %s", mark, c.Change, c.Path)
		switch c.Change {
		case "added":
			line += " = " + c.New
		case "removed":
			line += " (was " + c.Old + ")"
		case "changed":
			line += ": " + c.Old + " -> " + c.New
		}
		if c.Rule != "" {
			line += fmt.Sprintf(" [%s: %s]", c.Rule, c.Message)
		} else if c.Message != "" {
			line += " (" + c.Message + ")"
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "%s, %d breaking under %s\n", plural(len(r.Changes), "change"), r.Breaking, r.Level)
	return nil
}

// jsonDiff appends the differences between two decoded JSON values. Arrays
// of objects that all carry a "name" (Avro fields, enum symbols) are matched
// by name, so inserting a field is one addition, not a cascade of changes.
func jsonDiff(ptr string, a, b any, out *[]Change) {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			break
		}
		keys := map[string]bool{}
		for k := range av {
			keys[k] = true
		}
		for k := range bv {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			p := ptr + "/" + strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
			x, inA := av[k]
			y, inB := bv[k]
			switch {
			case !inA:
				*out = append(*out, Change{Path: p, Change: "added", New: compact(y)})
			case !inB:
				*out = append(*out, Change{Path: p, Change: "removed", Old: compact(x)})
			default:
				jsonDiff(p, x, y, out)
			}
		}
		return
	case []any:
		bv, ok := b.([]any)
		if !ok {
			break
		}
		an, bn := names(av), names(bv)
		if an != nil && bn != nil {
			for i, x := range av {
				if j, ok := bn[nameOf(x)]; ok {
					jsonDiff(ptr+"/"+strconv.Itoa(j), x, bv[j], out)
				} else {
					*out = append(*out, Change{Path: ptr + "/" + strconv.Itoa(i), Change: "removed", Old: compact(x)})
				}
			}
			for j, y := range bv {
				if _, ok := an[nameOf(y)]; !ok {
					*out = append(*out, Change{Path: ptr + "/" + strconv.Itoa(j), Change: "added", New: compact(y)})
				}
			}
			return
		}
		if len(av) == len(bv) {
			for i := range av {
				jsonDiff(ptr+"/"+strconv.Itoa(i), av[i], bv[i], out)
			}
			return
		}
	default:
		if compact(a) == compact(b) {
			return
		}
	}
	if compact(a) != compact(b) {
		*out = append(*out, Change{Path: ptr, Change: "changed", Old: compact(a), New: compact(b)})
	}
}

// names indexes an array of objects by their "name"; nil when not all
// elements are named objects.
func names(xs []any) map[string]int {
	if len(xs) == 0 {
		return nil
	}
	m := map[string]int{}
	for i, x := range xs {
		n := nameOf(x)
		if n == "" {
			return nil
		}
		m[n] = i
	}
	return m
}

func nameOf(x any) string {
	if o, ok := x.(map[string]any); ok {
		n, _ := o["name"].(string)
		return n
	}
	return ""
}

func compact(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// isSchemaFile reports whether arg names a schema file: it exists, or it
// has a schema file extension and no version suffix.
func isSchemaFile(arg string) bool {
	if st, err := os.Stat(arg); err == nil && !st.IsDir() {
		return true
	}
	if j := strings.LastIndexByte(arg, ':'); j > 0 && isVersion(arg[j+1:]) {
		return false
	}
	_, err := manifest.FormatOf(arg)
	return err == nil
}

// isVersion reports whether s is a version: a positive number or latest.
func isVersion(s string) bool {
	if strings.EqualFold(s, "latest") {
		return true
	}
	n, err := strconv.Atoi(s)
	return err == nil && n > 0
}

// parseWithNeighbours parses a schema file whose references are other
// files, inferred as for a manifest (Avro named types in sibling files,
// Protobuf imports, JSON $refs). Imports are looked up from a root: the
// current folder when the file is inside it, else the file's folder and
// then up to two folders above it (Protobuf imports name paths from an
// include root such as the project's).
func parseWithNeighbours(file string) (serde.Schema, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	roots := []string{filepath.Dir(abs), filepath.Dir(filepath.Dir(abs)), filepath.Dir(filepath.Dir(filepath.Dir(abs)))}
	if cwd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(cwd, abs); err == nil && !strings.HasPrefix(rel, "..") {
			roots = []string{cwd}
		}
	}
	var first error
	for _, root := range roots {
		rel, err := filepath.Rel(root, abs)
		if err != nil {
			return nil, err
		}
		m, err := manifest.FromFiles(".", []manifest.SchemaFile{{File: filepath.ToSlash(rel), Subject: "diff"}}, "")
		if err != nil {
			return nil, err
		}
		set, err := m.Resolve(os.DirFS(root))
		if err == nil {
			if s := set.Lookup("diff"); s != nil {
				return s.Schema, nil
			}
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		first = fmt.Errorf("%s: no schema", file)
	}
	return nil, first
}
