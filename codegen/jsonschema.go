package codegen

import (
	"fmt"
	"path"
	"sort"
	"strings"

	js "github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/sluicehq/sluice/manifest"
	sjson "github.com/sluicehq/sluice/serde/jsonschema"
)

// jsonType emits the Go types of a JSON Schema subject and returns the Go
// type of its values. Objects with properties become structs (named by
// their title, else by where they are), in property order, with `json`
// tags; properties that are not required get omitempty, and objects among
// them become pointers. Arrays become slices, objects with only
// additionalProperties maps, "integer" int64, "number" float64, a type
// that also allows null a pointer; anything else (several types, oneOf
// without a type) any.
func (g *manifestGen) jsonType(sub *manifest.Subject, hint string) (string, error) {
	s, ok := sub.Schema.(*sjson.Schema)
	if !ok {
		return "", fmt.Errorf("subject %s: not a parsed JSON Schema", sub.Name)
	}
	jg := &jsonGen{g: g, s: s, file: path.Base(sub.File), path: sub.File}
	return jg.goType(s.Compiled(), hint, 0)
}

type jsonGen struct {
	g    *manifestGen
	s    *sjson.Schema
	file string // the subject's file, for the main document's "$root" location
	path string // its full path: every main document is "$root", so types are keyed by it
}

// doc returns the schema object at the compiled schema's location.
func (jg *jsonGen) doc(c *js.Schema) sjson.Object {
	v, _ := jg.s.DocumentAt(c.Location)
	o, _ := v.(sjson.Object)
	return o
}

func (jg *jsonGen) goType(c *js.Schema, hint string, depth int) (string, error) {
	if depth > 64 {
		return "", fmt.Errorf("%s: schema nests deeper than 64", c.Location)
	}
	if c.Ref != nil && len(c.Properties) == 0 && len(c.Types) == 0 {
		return jg.goType(c.Ref, hint, depth+1)
	}
	types := c.Types
	nullable := false
	var nonNull []string
	for _, t := range types {
		if t == "null" {
			nullable = true
		} else {
			nonNull = append(nonNull, t)
		}
	}
	if len(nonNull) == 0 && len(c.Properties) > 0 {
		nonNull = []string{"object"}
	}
	if len(nonNull) != 1 {
		return "any", nil
	}
	var t string
	switch nonNull[0] {
	case "object":
		if len(c.Properties) == 0 {
			vt := "any"
			if ap, ok := c.AdditionalProperties.(*js.Schema); ok {
				var err error
				if vt, err = jg.goType(ap, hint+"Value", depth+1); err != nil {
					return "", err
				}
			}
			return "map[string]" + vt, nil
		}
		name, err := jg.object(c, hint, depth)
		if err != nil {
			return "", err
		}
		t = name
	case "array":
		it := "any"
		var items *js.Schema
		switch v := c.Items.(type) {
		case *js.Schema:
			items = v
		}
		if c.Items2020 != nil {
			items = c.Items2020
		}
		if items != nil {
			var err error
			if it, err = jg.goType(items, hint+"Item", depth+1); err != nil {
				return "", err
			}
		}
		return "[]" + it, nil
	case "string":
		t = "string"
	case "integer":
		t = "int64"
	case "number":
		t = "float64"
	case "boolean":
		t = "bool"
	default:
		return "any", nil
	}
	if nullable {
		return "*" + t, nil
	}
	return t, nil
}

// object emits a struct for an object schema once and returns its name.
func (jg *jsonGen) object(c *js.Schema, hint string, depth int) (string, error) {
	e := jg.g.e
	key := "json:" + c.Location
	if i := strings.Index(c.Location, "$root#"); i >= 0 {
		key = "json:" + c.Location[:i] + jg.path + c.Location[i+len("$root"):]
	}
	if n, ok := e.typeNames[key]; ok {
		return n, nil
	}
	d := jg.doc(c)
	name := hint
	if title, ok := d.Get("title"); ok {
		if ts, ok := title.(string); ok && exportName(ts) != "" {
			name = exportName(ts)
		}
	}
	if err := e.claim(name, "JSON Schema object at "+c.Location); err != nil {
		return "", err
	}
	e.typeNames[key] = name
	// Property order: as written, when the document says it.
	var order []string
	if props, ok := d.Get("properties"); ok {
		if po, ok := props.(sjson.Object); ok {
			for _, m := range po {
				order = append(order, m.Key)
			}
		}
	}
	if len(order) != len(c.Properties) {
		order = order[:0]
		for k := range c.Properties {
			order = append(order, k)
		}
		sort.Strings(order)
	}
	required := map[string]bool{}
	for _, r := range c.Required {
		required[r] = true
	}
	var b strings.Builder
	loc := c.Location
	if i := strings.LastIndex(loc, "/"); i >= 0 && !strings.Contains(loc[i:], "#/") {
		loc = loc[i+1:] // "mem://sluice/postal.json#" -> "postal.json#"
	}
	if rest, ok := strings.CutPrefix(loc, "$root"); ok {
		loc = jg.file + rest
	}
	desc := "is the JSON Schema object at " + loc + "."
	if dv, ok := d.Get("description"); ok {
		if ds, ok := dv.(string); ok && ds != "" {
			desc = "is the JSON Schema object at " + loc + ": " + oneLine(ds)
		}
	}
	fmt.Fprintf(&b, "// %s %s\ntype %s struct {\n", name, desc, name)
	seen := map[string]bool{}
	for _, p := range order {
		ps := c.Properties[p]
		fname := exportName(p)
		if fname == "" || seen[fname] {
			return "", fmt.Errorf("%s: property %q has no distinct Go name", c.Location, p)
		}
		seen[fname] = true
		ft, err := jg.goType(ps, name+fname, depth+1)
		if err != nil {
			return "", err
		}
		tag := p
		if !required[p] {
			tag += ",omitempty"
			if !strings.HasPrefix(ft, "*") && !strings.HasPrefix(ft, "[]") && !strings.HasPrefix(ft, "map[") && ft != "any" && isStructName(ft) {
				ft = "*" + ft
			}
		}
		fmt.Fprintf(&b, "\t%s %s `json:%q`\n", fname, ft, tag)
	}
	b.WriteString("}\n\n")
	e.types.WriteString(b.String())
	return name, nil
}

// isStructName reports whether t is a generated struct (not a builtin).
func isStructName(t string) bool {
	switch t {
	case "string", "int64", "float64", "bool":
		return false
	}
	return true
}
