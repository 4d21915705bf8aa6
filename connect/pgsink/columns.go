package pgsink

import (
	"fmt"
	"strings"
)

// column is one table column derived from a shape.
type column struct {
	name   string
	pgType string
	// path is the field names from the root record to the value.
	path []string
}

// columnsOf derives the columns of a record shape (see the column rule in
// shape.go). A shape that is not a record is one column named single.
// Flattened names that collide are an error naming both fields.
func columnsOf(sh *shape, nested, single string) ([]column, error) {
	if sh.kind != kRecord {
		return []column{{name: single, pgType: sh.pgType()}}, nil
	}
	var cols []column
	seen := map[string]string{}
	var walk func(sh *shape, prefix string, path []string) error
	walk = func(sh *shape, prefix string, path []string) error {
		for _, f := range sh.fields {
			name := prefix + f.name
			p := append(append([]string(nil), path...), f.name)
			if f.shape.kind == kRecord && nested != NestedJSONB {
				if err := walk(f.shape, name+"_", p); err != nil {
					return err
				}
				continue
			}
			typ := f.shape.pgType()
			if f.shape.kind == kRecord {
				typ = "jsonb"
			}
			key := strings.ToLower(name)
			if prev, ok := seen[key]; ok {
				return fmt.Errorf("fields %s and %s both map to column %q", prev, strings.Join(p, "."), name)
			}
			seen[key] = strings.Join(p, ".")
			cols = append(cols, column{name: name, pgType: typ, path: p})
		}
		return nil
	}
	if err := walk(sh, "", nil); err != nil {
		return nil, err
	}
	return cols, nil
}

// valueAt returns the value of col in a converted record (nil when a
// record on the way is null). A record stored as jsonb is marshalled.
func valueAt(rec any, col column) any {
	v := rec
	for _, name := range col.path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[name]
	}
	if m, ok := v.(map[string]any); ok {
		return jsonValue(m)
	}
	return v
}
