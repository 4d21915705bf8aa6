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
	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/serde/jsonschema"
	"github.com/sluicehq/sluice/serde/protobuf"
)

// This file is `sluice schema diff OLD NEW` for schema files: every
// structural change, each marked breaking when the registry's rules find a
// violation at (or under) its path under --level.

const diffUsage = `Show every change between two schema files, breaking or safe.

Usage:
  sluice schema diff OLD NEW [--level BACKWARD]

Each change is marked "breaking" when the compatibility rules of the level
report a violation at or under its path, else "safe". Violations that match
no structural change are listed as breaking too. Avro and JSON Schema files
are compared structurally; Protobuf files list the rule violations only.
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

func runSchemaDiff(ctx context.Context, e *env, args []string) int {
	f := newSchemaFlags(e, "diff", diffUsage)
	levelName := f.String("level", "BACKWARD", "compatibility `LEVEL` that decides what is breaking")
	pos, code, ok := f.parse(args, "OLD NEW", 2, 2)
	if !ok {
		return code
	}
	level, err := compat.ParseLevel(*levelName)
	if err != nil {
		return f.usageError("--level: %v", err)
	}
	var texts [2]string
	var parsed [2]serde.Schema
	for i, file := range pos {
		format, err := manifest.FormatOf(file)
		if err != nil {
			return f.usageError("%v", err)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintf(e.stderr, "%s: %v\n", f.Name(), err)
			return 2
		}
		texts[i] = string(data)
		switch format {
		case serde.Avro:
			parsed[i], err = avro.Parse(texts[i], nil)
		case serde.Protobuf:
			parsed[i], err = protobuf.Parse(texts[i], nil)
		case serde.JSON:
			parsed[i], err = jsonschema.Parse(texts[i], nil)
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "%s: %s: %v\n", f.Name(), filepath.ToSlash(file), err)
			return 2
		}
	}
	vs, err := compat.Pair(level, parsed[1], parsed[0])
	if err != nil {
		fmt.Fprintf(e.stderr, "%s: %v\n", f.Name(), err)
		return 2
	}
	var changes []diffChange
	if parsed[0].Format() != serde.Protobuf {
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
		writeJSON(e.stdout, map[string]any{"level": level, "changes": nonNil(changes), "breaking": breaking})
	} else {
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
		fmt.Fprintf(e.stdout, "%d changes, %d breaking under %s\n", len(changes), breaking, level)
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
