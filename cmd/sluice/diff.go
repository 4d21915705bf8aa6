package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/internal/manifest"
	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/protobuf"
)

// This file is `sluice schema diff OLD NEW` for schema files: every
// structural change, each marked breaking when the registry's rules find a
// violation at (or under) its path under --level.

const diffUsage = `Show every change between two schemas, breaking or safe.

Usage:
  sluice schema diff OLD NEW [--level LEVEL] [--registry URL]

OLD and NEW are schema files, or, with --registry, versions of subjects in
that registry: SUBJECT:VERSION (a number or latest) or just SUBJECT (its
latest version). A file may be compared with a registered version:
  sluice schema diff --registry http://sr:8081 orders-value:1 orders-value:3
  sluice schema diff --registry http://sr:8081 orders-value:latest ./order.avsc
A file that references other schemas (an Avro named type, a Protobuf
import) is parsed with the references of the registered version it is
compared with.

Each change is marked "breaking" when the compatibility rules of the level
report a violation at or under its path, else "safe". Violations that match
no structural change are listed as breaking too. The level is --level, else
(with --registry) the subject's effective level in the registry, else
BACKWARD. Avro and JSON Schema are compared as JSON documents (fields matched
by name); Protobuf by messages, fields (by number) and enum values, with
paths as the rules name them ("pkg.Msg.field (field 2)").
Exit codes: 0 no breaking change, 1 breaking changes, 2 usage or I/O error.
`

// diffChange is one change between two schemas.
type diffChange struct {
	Path     string `json:"path"`
	Change   string `json:"change"` // added, removed, changed, rule
	Old      string `json:"old,omitempty"`
	New      string `json:"new,omitempty"`
	Breaking bool   `json:"breaking"`
	Rule     string `json:"rule,omitempty"`
	Message  string `json:"message,omitempty"`
}

// diffSide is one operand of a diff.
type diffSide struct {
	arg     string
	text    string
	format  serde.Format
	subject string // registry operands only
	version int
	refs    []serde.Referenced
	schema  serde.Schema
}

func runSchemaDiff(ctx context.Context, e *env, args []string) int {
	f := newSchemaFlags(e, "diff", diffUsage)
	levelName := f.String("level", "", "compatibility `LEVEL` that decides what is breaking (default: the subject's, else BACKWARD)")
	user := f.String("registry-user", "", "basic auth `user` for --registry (also $SLUICE_REGISTRY_USER)")
	password := f.String("registry-password", "", "basic auth `password` for --registry (also $SLUICE_REGISTRY_PASSWORD)")
	pos, code, ok := f.parse(args, "OLD NEW", 2, 2)
	if !ok {
		return code
	}
	registrySet := f.given("registry", "addr")
	level, err := optionalLevel(*levelName)
	if err != nil {
		return f.usageError("--level: %v", err)
	}
	fail := func(err error) int {
		fmt.Fprintf(e.stderr, "%s: %v\n", f.Name(), err)
		return 2
	}
	var reader *srReader
	if registrySet {
		cl, err := newRegistryClient(e, f.client.addr, *user, *password)
		if err != nil {
			return f.usageError("%v", err)
		}
		reader = newSRReader(cl)
	}
	var sides [2]*diffSide
	// Registry operands first: their references parse the files.
	var refs []serde.Referenced
	for i, arg := range pos {
		if reader == nil || isSchemaFile(arg) {
			continue
		}
		subject, version := arg, "latest"
		if j := strings.LastIndexByte(arg, ':'); j > 0 && isVersion(arg[j+1:]) {
			subject, version = arg[:j], arg[j+1:]
		}
		s, err := reader.version(ctx, subject, strings.ToLower(version))
		if err != nil {
			return fail(err)
		}
		r, err := reader.references(ctx, s)
		if err != nil {
			return fail(err)
		}
		sd := &diffSide{arg: arg, text: s.Schema, subject: subject, version: s.Version, refs: r}
		if sd.schema, err = parseSchemaText(s.typeName(), s.Schema, r); err != nil {
			return fail(fmt.Errorf("%s: %w", arg, err))
		}
		sd.format = sd.schema.Format()
		sides[i] = sd
		if refs == nil {
			refs = r
		}
		if level == "" {
			cfg, err := reader.config(ctx, subject)
			if err != nil {
				return fail(err)
			}
			level = cfg.Level
		}
	}
	for i, file := range pos {
		if sides[i] != nil {
			continue
		}
		format, err := manifest.FormatOf(file)
		if err != nil {
			if reader == nil && strings.Contains(file, ":") {
				return f.usageError("%s: subject versions need --registry URL", file)
			}
			return f.usageError("%v", err)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return fail(err)
		}
		sd := &diffSide{arg: file, text: string(data), format: format}
		if sd.schema, err = parseSchemaText(restType(format), sd.text, nil); err != nil {
			// It references other schemas: infer them from the files
			// around it as a manifest would, else borrow the registered
			// version's.
			if p, ierr := parseWithNeighbours(file); ierr == nil {
				sd.schema, err = p, nil
			} else if refs != nil {
				if p, rerr := parseSchemaText(restType(format), sd.text, refs); rerr == nil {
					sd.schema, err = p, nil
				}
			} else {
				err = ierr
			}
		}
		if err != nil {
			return fail(fmt.Errorf("%s: %w", filepath.ToSlash(file), err))
		}
		sides[i] = sd
	}
	if level == "" {
		level = compat.Backward
	}
	texts := [2]string{sides[0].text, sides[1].text}
	parsed := [2]serde.Schema{sides[0].schema, sides[1].schema}
	vs, err := compat.Pair(level, parsed[1], parsed[0])
	if err != nil {
		fmt.Fprintf(e.stderr, "%s: %v\n", f.Name(), err)
		return 2
	}
	var changes []diffChange
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
			changes = append(changes, diffChange{Path: v.Path, Change: "rule", Breaking: true, Rule: v.Kind, Message: v.Message})
		}
	}
	breaking := 0
	for _, c := range changes {
		if c.Breaking {
			breaking++
		}
	}
	if f.client.json() {
		writeJSON(e.stdout, map[string]any{"old": sides[0].label(), "new": sides[1].label(), "level": level, "changes": nonNil(changes), "breaking": breaking})
	} else {
		if sides[0].subject != "" || sides[1].subject != "" {
			fmt.Fprintf(e.stdout, "--- %s\n+++ %s\n", sides[0].label(), sides[1].label())
		}
		for _, c := range changes {
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
			}
			fmt.Fprintln(e.stdout, line)
		}
		fmt.Fprintf(e.stdout, "%s, %d breaking under %s\n", plural(len(changes), "change"), breaking, level)
	}
	if breaking > 0 {
		return 1
	}
	return 0
}

// jsonDiff appends the differences between two decoded JSON values. Arrays
// of objects that all carry a "name" (Avro fields, enum symbols) are matched
// by name, so inserting a field is one addition, not a cascade of changes.
func jsonDiff(ptr string, a, b any, out *[]diffChange) {
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
				*out = append(*out, diffChange{Path: p, Change: "added", New: compact(y)})
			case !inB:
				*out = append(*out, diffChange{Path: p, Change: "removed", Old: compact(x)})
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
					*out = append(*out, diffChange{Path: ptr + "/" + strconv.Itoa(i), Change: "removed", Old: compact(x)})
				}
			}
			for j, y := range bv {
				if _, ok := an[nameOf(y)]; !ok {
					*out = append(*out, diffChange{Path: ptr + "/" + strconv.Itoa(j), Change: "added", New: compact(y)})
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
		*out = append(*out, diffChange{Path: ptr, Change: "changed", Old: compact(a), New: compact(b)})
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

// label names a side in the output: the file, or subject version N.
func (d *diffSide) label() string {
	if d.subject != "" {
		return fmt.Sprintf("%s version %d", d.subject, d.version)
	}
	return filepath.ToSlash(d.arg)
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
