package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/serde/jsonschema"
	"github.com/sluicehq/sluice/serde/protobuf"
)

// Subject is one subject the manifest implies: a topic's key or value, or a
// schema file that another one references.
type Subject struct {
	// Name is the subject, derived with the topic's strategy; a referenced
	// file's subject is its SchemaFile.Subject or its reference name.
	Name string
	// Topic and Side say whose records the subject describes; Topic is ""
	// for a schema that is registered only because others reference it.
	Topic string
	Side  serde.Side
	// File is the schema file's path inside the file system; "" for a
	// primitive.
	File string
	// Record is the record or message the topic carries ("" for the
	// file's first).
	Record string
	Format serde.Format
	// Level is the compatibility level the manifest asks for; "" leaves it
	// to the registry.
	Level compat.Level
	// Text is the schema text as registered.
	Text string
	// References are the schema's direct references, as the registry
	// records them.
	References []Reference
	// Schema is the parsed schema.
	Schema serde.Schema
	// Pos is where the manifest declares the subject.
	Pos Pos
	// RuleSet is the data-contract rule set the manifest declares for the
	// subject (compact JSON), registered with the schema; nil when it
	// declares none (the registry then keeps the latest version's).
	// RulesFile is the file it came from ("" when inline), RulesPos where
	// the manifest names it.
	RuleSet   []byte
	RulesFile string
	RulesPos  Pos
}

// Reference is one direct reference of a schema: the name the schema uses
// for it and the subject it is registered under.
type Reference struct {
	Name    string
	Subject string
	File    string
}

// File is one loaded schema file and what it references.
type File struct {
	Path   string
	Format serde.Format
	Text   string
	// Name is the name other files use for it: the Avro full name of its
	// top-level type, or its path for Protobuf and JSON Schema.
	Name string
	// Subject is the subject it is registered under when referenced.
	Subject string
	// Deps are its direct references.
	Deps []Reference
}

// Set is every subject of a manifest, parsed, in dependency order: a
// referenced schema's subject comes before the subjects that use it.
type Set struct {
	Manifest *Manifest
	Subjects []*Subject
	Files    map[string]*File
}

// Lookup returns the subject of that name, or nil.
func (s *Set) Lookup(name string) *Subject {
	for _, sub := range s.Subjects {
		if sub.Name == name {
			return sub
		}
	}
	return nil
}

// SchemaError is a schema file that does not parse, with every problem at
// its position where the parser knows one.
type SchemaError struct {
	File     string
	Problems []Error
}

func (e *SchemaError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Error()
	}
	return strings.Join(parts, "\n")
}

// Resolve loads every schema file the manifest names from fsys (the file
// system the manifest was loaded from), infers the references between files,
// parses the schemas and derives the subjects.
func (m *Manifest) Resolve(fsys fs.FS) (*Set, error) {
	r := &resolver{m: m, fsys: fsys, files: map[string]*File{}, declared: map[string]SchemaFile{}}
	for _, sf := range m.Schemas {
		r.declared[m.Path(sf.File)] = sf
	}
	if err := r.index(); err != nil {
		return nil, err
	}
	set := &Set{Manifest: m, Files: r.files}
	var errs []error
	var topicSubjects []*Subject
	for _, t := range m.Topics {
		for _, side := range []serde.Side{serde.Key, serde.Value} {
			schemas := []*Schema{t.Key}
			if side == serde.Value {
				schemas = t.Values
			}
			mine := map[string]*Subject{}
			for _, sch := range schemas {
				if sch == nil {
					continue
				}
				sub, err := r.subject(t, side, sch)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if prev, ok := mine[sub.Name]; ok {
					errs = append(errs, &Error{Pos: sch.Pos, Reason: fmt.Sprintf("topic %q lists the event type of subject %q twice (first at %s)", t.Name, sub.Name, prev.Pos)})
					continue
				}
				mine[sub.Name] = sub
				topicSubjects = append(topicSubjects, sub)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// Referenced files first, in dependency order, then the topics'.
	done := map[string]bool{}
	var visit func(file string, stack []string) error
	visit = func(file string, stack []string) error {
		if slices.Contains(stack, file) {
			return fmt.Errorf("schema references form a cycle: %s", strings.Join(append(stack, file), " -> "))
		}
		f := r.files[file]
		for _, d := range f.Deps {
			if err := visit(d.File, append(stack, file)); err != nil {
				return err
			}
		}
		if done[file] || len(stack) == 0 {
			return nil
		}
		done[file] = true
		sub, err := r.refSubject(f)
		if err != nil {
			return err
		}
		set.Subjects = append(set.Subjects, sub)
		return nil
	}
	for _, s := range topicSubjects {
		if s.File != "" {
			if err := visit(s.File, nil); err != nil {
				return nil, err
			}
		}
	}
	for _, sf := range m.Schemas {
		// A declared file is a subject of its own even when no topic
		// uses it (explicit files of FromFiles are all declared).
		f, err := r.load(m.Path(sf.File))
		if err != nil {
			return nil, &Error{Pos: sf.Pos, Reason: err.Error()}
		}
		if err := visit(f.Path, []string{"(declared)"}); err != nil {
			return nil, err
		}
	}
	seen := map[string]*Subject{}
	for _, s := range set.Subjects {
		seen[s.Name] = s
	}
	for _, s := range topicSubjects {
		if prev, ok := seen[s.Name]; ok {
			if prev.Text != s.Text {
				return nil, &Error{Pos: s.Pos, Reason: fmt.Sprintf("subject %q is also derived from %s with a different schema: choose another strategy", s.Name, prev.Pos)}
			}
			continue // two topics sharing a record under the record strategy
		}
		seen[s.Name] = s
		set.Subjects = append(set.Subjects, s)
	}
	return set, nil
}

// resolver loads files on demand and remembers them.
type resolver struct {
	m        *Manifest
	fsys     fs.FS
	files    map[string]*File
	declared map[string]SchemaFile
	// avroNames maps every Avro full name defined by a candidate file to
	// that file.
	avroNames map[string]string
}

// index loads the Avro candidates: every .avsc file declared in the
// manifest, and the .avsc files beside them, so a named type can be found
// in a file the manifest does not mention.
func (r *resolver) index() error {
	r.avroNames = map[string]string{}
	dirs := map[string]bool{}
	var files []string
	add := func(rel string) {
		p := r.m.Path(rel)
		files = append(files, p)
		dirs[path.Dir(p)] = true
	}
	for _, sf := range r.m.Schemas {
		add(sf.File)
	}
	for _, t := range r.m.Topics {
		for _, s := range append([]*Schema{t.Key}, t.Values...) {
			if s != nil && s.File != "" {
				add(s.File)
			}
		}
	}
	for d := range dirs {
		entries, err := fs.ReadDir(r.fsys, d)
		if err != nil {
			continue // reported when the declared file is read
		}
		for _, e := range entries {
			if !e.IsDir() && (strings.HasSuffix(e.Name(), ".avsc") || strings.HasSuffix(e.Name(), ".avro")) {
				files = append(files, path.Join(d, e.Name()))
			}
		}
	}
	sort.Strings(files)
	for _, f := range slices.Compact(files) {
		if fmtOf, _ := FormatOf(f); fmtOf != serde.Avro {
			continue
		}
		text, err := fs.ReadFile(r.fsys, f)
		if err != nil {
			continue
		}
		var doc any
		if json.Unmarshal(text, &doc) != nil {
			continue // reported with a position when parsed
		}
		defined, _ := avroNames(doc)
		for _, n := range defined {
			if _, dup := r.avroNames[n]; !dup {
				r.avroNames[n] = f
			}
		}
	}
	return nil
}

// load reads one file and its direct references.
func (r *resolver) load(file string) (*File, error) {
	if f, ok := r.files[file]; ok {
		return f, nil
	}
	format, err := FormatOf(file)
	if err != nil {
		return nil, err
	}
	data, err := fs.ReadFile(r.fsys, file)
	if err != nil {
		return nil, fmt.Errorf("schema file %s: %w", file, unwrapPathError(err))
	}
	f := &File{Path: file, Format: format, Text: string(data), Name: file}
	r.files[file] = f
	switch format {
	case serde.Avro:
		var doc any
		if err := json.Unmarshal(data, &doc); err == nil {
			defined, used := avroNames(doc)
			if len(defined) > 0 {
				f.Name = defined[0]
			}
			for _, n := range used {
				target, ok := r.avroNames[n]
				if !ok || target == file {
					continue // the parser reports an unknown name with its path
				}
				tf, err := r.load(target)
				if err != nil {
					return nil, err
				}
				f.addDep(Reference{Name: tf.Name, File: target})
			}
		}
	case serde.Protobuf:
		for _, imp := range protoImports(f.Text) {
			if slices.Contains(protobuf.BundledImports(), imp) {
				continue
			}
			target := r.findImport(file, imp)
			if target == "" {
				continue // the parser reports the missing import at its line
			}
			if _, err := r.load(target); err != nil {
				return nil, err
			}
			f.addDep(Reference{Name: imp, File: target})
		}
	case serde.JSON:
		var doc any
		if err := json.Unmarshal(data, &doc); err == nil {
			for _, ref := range jsonRefs(doc) {
				target := path.Join(path.Dir(file), ref)
				if _, err := fs.Stat(r.fsys, target); err != nil {
					continue // the parser reports it
				}
				if _, err := r.load(target); err != nil {
					return nil, err
				}
				f.addDep(Reference{Name: ref, File: target})
			}
		}
	}
	// References the manifest declares, for what inference cannot see.
	if sf, ok := r.declared[file]; ok {
		if sf.Subject != "" {
			f.Subject = sf.Subject
		}
		for _, ref := range sf.References {
			target := r.m.Path(ref)
			tf, err := r.load(target)
			if err != nil {
				return nil, err
			}
			f.addDep(Reference{Name: tf.Name, File: target})
		}
	}
	for i, d := range f.Deps {
		f.Deps[i].Subject = r.files[d.File].subject()
	}
	return f, nil
}

func (f *File) addDep(ref Reference) {
	for _, d := range f.Deps {
		if d.File == ref.File {
			return
		}
	}
	f.Deps = append(f.Deps, ref)
}

// subject is the subject a referenced file is registered under.
func (f *File) subject() string {
	if f.Subject != "" {
		return f.Subject
	}
	return f.Name
}

// findImport resolves a Protobuf import path: relative to the manifest's
// folder first (the usual include root), then to the importing file's.
func (r *resolver) findImport(from, imp string) string {
	for _, c := range []string{r.m.Path(imp), path.Join(path.Dir(from), imp)} {
		if _, err := fs.Stat(r.fsys, c); err == nil {
			return c
		}
	}
	return ""
}

// flatten returns the transitive references of f, dependencies first, as
// the parsers want them.
func (r *resolver) flatten(f *File) []serde.Referenced {
	var out []serde.Referenced
	seen := map[string]bool{}
	var walk func(f *File)
	walk = func(f *File) {
		for _, d := range f.Deps {
			if seen[d.Name] {
				continue
			}
			seen[d.Name] = true
			walk(r.files[d.File])
			out = append(out, serde.Referenced{Name: d.Name, Text: r.files[d.File].Text})
		}
	}
	walk(f)
	return out
}

// parse parses a loaded file with its references.
func (r *resolver) parse(f *File) (serde.Schema, error) {
	refs := r.flatten(f)
	var (
		s   serde.Schema
		err error
	)
	switch f.Format {
	case serde.Avro:
		var a *avro.Schema
		if a, err = avro.Parse(f.Text, refs); err == nil {
			s = a
		}
	case serde.Protobuf:
		var p *protobuf.Schema
		if p, err = protobuf.Parse(f.Text, refs); err == nil {
			s = p
		}
	case serde.JSON:
		var j *jsonschema.Schema
		if j, err = jsonschema.Parse(f.Text, refs); err == nil {
			s = j
		}
	}
	if err != nil {
		return nil, r.schemaError(f, err)
	}
	return s, nil
}

// schemaError turns a parser's error into positions in the files.
func (r *resolver) schemaError(f *File, err error) error {
	se := &SchemaError{File: f.Path}
	fileOf := func(ref string) string {
		for _, d := range r.flattenFiles(f) {
			if d.Name == ref {
				return d.File
			}
		}
		return f.Path
	}
	add := func(ref string, line, col int, ptr, reason string) {
		file := f.Path
		if ref != "" {
			file = fileOf(ref)
		}
		if line == 0 && ptr != "" {
			if l, c, ok := LocatePointer([]byte(r.files[file].Text), ptr); ok {
				line, col = l, c
			}
			reason = ptr + ": " + reason
		}
		se.Problems = append(se.Problems, Error{Pos: Pos{File: file, Line: line, Col: col}, Reason: reason})
	}
	var aes avro.ParseErrors
	var jes jsonschema.ParseErrors
	switch {
	case errors.As(err, &aes):
		for _, e := range aes {
			add(e.Ref, e.Line, e.Column, e.Path, e.Reason)
		}
	case errors.As(err, &jes):
		for _, e := range jes {
			add(e.Ref, e.Line, e.Column, e.Path, e.Reason)
		}
	default:
		var pe *protobuf.ParseError
		for _, e := range unjoin(err) {
			if errors.As(e, &pe) {
				add(pe.File, pe.Line, pe.Col, "", pe.Reason)
			} else {
				add("", 0, 0, "", e.Error())
			}
		}
	}
	return se
}

// flattenFiles is flatten with the files the names stand for.
func (r *resolver) flattenFiles(f *File) []Reference {
	var out []Reference
	seen := map[string]bool{}
	var walk func(f *File)
	walk = func(f *File) {
		for _, d := range f.Deps {
			if !seen[d.Name] {
				seen[d.Name] = true
				walk(r.files[d.File])
				out = append(out, d)
			}
		}
	}
	walk(f)
	return out
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// subject builds a topic side's subject.
func (r *resolver) subject(t Topic, side serde.Side, sch *Schema) (*Subject, error) {
	sub := &Subject{Topic: t.Name, Side: side, Record: sch.Record, Format: sch.Format(), Level: t.Compatibility, Pos: sch.Pos}
	record := sch.Record
	if sch.Primitive != "" {
		sub.Text = `"` + sch.Primitive + `"`
		s, err := avro.Parse(sub.Text, nil)
		if err != nil {
			return nil, err
		}
		sub.Schema = s
	} else {
		sub.File = r.m.Path(sch.File)
		f, err := r.load(sub.File)
		if err != nil {
			return nil, &Error{Pos: sch.Pos, Reason: err.Error()}
		}
		sub.Text = f.Text
		for _, d := range f.Deps {
			sub.References = append(sub.References, d)
		}
		if sub.Schema, err = r.parse(f); err != nil {
			return nil, err
		}
		names := recordNames(sub.Schema)
		if record != "" && !slices.Contains(names, record) {
			return nil, &Error{Pos: sch.Pos, Reason: fmt.Sprintf("%s has no record or message %q (it has %s)", sch.File, record, strings.Join(names, ", "))}
		}
		if record == "" && len(names) > 0 {
			record = names[0]
		}
	}
	sub.RuleSet, sub.RulesPos = sch.RuleSet, sch.RulesPos
	if sch.RulesFile != "" {
		sub.RulesFile = r.m.Path(sch.RulesFile)
		data, err := fs.ReadFile(r.fsys, sub.RulesFile)
		if err != nil {
			return nil, &Error{Pos: sch.RulesPos, Reason: fmt.Sprintf("rules file %s: %v", sch.RulesFile, unwrapPathError(err))}
		}
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, &Error{Pos: Pos{File: sub.RulesFile}, Reason: fmt.Sprintf("rules file %s is not JSON: %v", sch.RulesFile, err)}
		}
		if msg := RuleSetProblem(data); msg != "" {
			return nil, &Error{Pos: Pos{File: sub.RulesFile}, Reason: fmt.Sprintf("rules file %s: %s", sch.RulesFile, msg)}
		}
		sub.RuleSet, _ = CompactJSON(v)
	}
	name, err := t.SideStrategy(side).Subject(t.Name, side, record)
	if err != nil {
		return nil, &Error{Pos: sch.Pos, Reason: fmt.Sprintf("topic %q %s: %v", t.Name, side, err)}
	}
	sub.Name = name
	return sub, nil
}

// refSubject builds the subject of a referenced file.
func (r *resolver) refSubject(f *File) (*Subject, error) {
	s, err := r.parse(f)
	if err != nil {
		return nil, err
	}
	sub := &Subject{Name: f.subject(), File: f.Path, Format: f.Format, Level: r.m.Compatibility, Text: f.Text, Schema: s, References: f.Deps, Pos: Pos{File: f.Path}}
	if sf, ok := r.declared[f.Path]; ok {
		sub.Pos = sf.Pos
	}
	return sub, nil
}

// recordNames lists the names a topic may select in a parsed schema.
func recordNames(s serde.Schema) []string {
	switch s := s.(type) {
	case *avro.Schema:
		return s.Names()
	case *protobuf.Schema:
		var out []string
		msgs := s.File().Messages()
		for i := 0; i < msgs.Len(); i++ {
			out = append(out, string(msgs.Get(i).FullName()))
		}
		return out
	case *jsonschema.Schema:
		if n := s.Name(); n != "" {
			return []string{n}
		}
	}
	return nil
}

var importRE = regexp.MustCompile(`(?m)^\s*import\s+(?:public\s+|weak\s+)?"([^"]+)"\s*;`)

// protoImports lists the import paths of a .proto text.
func protoImports(text string) []string {
	var out []string
	for _, m := range importRE.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

// jsonRefs lists the document parts of the relative $refs of a JSON Schema:
// "address.json#/x" gives "address.json"; fragments and absolute URLs are
// not files.
func jsonRefs(doc any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				docPart, _, _ := strings.Cut(ref, "#")
				if docPart != "" && !strings.Contains(docPart, ":") && !slices.Contains(out, docPart) {
					out = append(out, docPart)
				}
			}
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(v[k])
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	return out
}

var avroPrimitive = map[string]bool{"null": true, "boolean": true, "int": true, "long": true, "float": true, "double": true, "bytes": true, "string": true}

// avroNames lists the full names an Avro document defines (top-level first)
// and the full names it uses without defining them.
func avroNames(doc any) (defined, used []string) {
	var uses []string
	var walk func(v any, ns string)
	walk = func(v any, ns string) {
		switch v := v.(type) {
		case string:
			if !avroPrimitive[v] {
				uses = append(uses, fullName(v, ns))
			}
		case []any:
			for _, x := range v {
				walk(x, ns)
			}
		case map[string]any:
			t, _ := v["type"].(string)
			if name, ok := v["name"].(string); ok && (t == "record" || t == "error" || t == "enum" || t == "fixed") {
				if n, ok := v["namespace"].(string); ok {
					ns = n
				}
				full := fullName(name, ns)
				defined = append(defined, full)
				if i := strings.LastIndexByte(full, '.'); i >= 0 {
					ns = full[:i]
				} else {
					ns = ""
				}
			}
			switch t {
			case "record", "error":
				if fs, ok := v["fields"].([]any); ok {
					for _, f := range fs {
						if fm, ok := f.(map[string]any); ok {
							walk(fm["type"], ns)
						}
					}
				}
			case "array":
				walk(v["items"], ns)
			case "map":
				walk(v["values"], ns)
			case "enum", "fixed":
			default:
				walk(v["type"], ns)
			}
		}
	}
	walk(doc, "")
	for _, u := range uses {
		if !slices.Contains(defined, u) && !slices.Contains(used, u) {
			used = append(used, u)
		}
	}
	return defined, used
}

func fullName(name, ns string) string {
	if strings.Contains(name, ".") || ns == "" {
		return name
	}
	return ns + "." + name
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
