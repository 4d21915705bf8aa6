package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/internal/manifest"
	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/serde"
)

// This file is `sluice schema check`: the manifest's schemas (or explicit
// files) against a baseline — a live registry, a folder or a git ref —
// under each subject's level, with the registry's own rules
// (registry/compat). Exit codes: 0 compatible, 1 incompatible, 2 usage or
// I/O error, including schema files that do not parse.

const checkUsage = `Check schemas against a baseline before they ship.

Usage:
  sluice schema check --registry URL | --against DIR | --against git:REF
        [--manifest sluice.yaml | --subject SUBJECT FILE ...]
        [--level LEVEL] [--verdict local|registry] [--output text|json|github]

What is checked: every subject the manifest implies (topic keys and values,
and the files they reference), or, without a manifest, each FILE under the
SUBJECT given before it:
  --subject orders-value schemas/order.avsc --subject payments-value payment.proto
(--subject orders-value=schemas/order.avsc is the same). References between
the files (Avro named types in sibling files, Protobuf imports, JSON $refs)
are inferred as for a manifest, and the referenced files are checked too.

The baseline:
  --registry URL   a live Confluent-compatible registry (Sluice or another).
                   Each subject is checked against the versions a
                   registration would be: all live versions under a
                   transitive level, the latest otherwise. Credentials come
                   from the URL (https://user:secret@host), from
                   --registry-user/--registry-password, or from
                   $SLUICE_REGISTRY_USER and $SLUICE_REGISTRY_PASSWORD.
  --against DIR    the same manifest (or the same file paths) in another folder.
  --against git:REF  the same, at a git ref of the repository; no checkout.
A subject missing from the baseline is new and passes.

The level is --level, else the manifest's (the subject's topic, then the
manifest default), else, with --registry, the subject's effective level in
the registry (its own, falling back to the global one), else BACKWARD. With
--registry the subject's compatibilityPolicy (STRICT or LENIENT) applies too.

Who decides, with --registry (--verdict):
  local     (default) sluice fetches the versions, the level and the policy
            from the registry and runs the registry's own rules
            (registry/compat) here: every violation comes with file:line:col
            and the old and new values, and the verdict is the one Sluice's
            registry gives.
  registry  sluice asks the registry's POST /compatibility/subjects/{s}/versions
            ?verbose=true for each subject, under the registry's own level.
            Authoritative for a non-Sluice registry where implementations
            differ (Karapace, Redpanda, ...), but its messages carry no
            positions. A subject whose references are not registered in the
            form the files have cannot be asked; it is checked locally, and
            a note says so.
"sluice apply" registers through the registry, so it has the last word there.

Exit codes: 0 compatible, 1 incompatible, 2 usage or I/O error (schema files
that do not parse are reported with their positions).
`

// checkFinding is one violation as printed and in --output json.
type checkFinding struct {
	Subject string `json:"subject"`
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Col     int    `json:"col,omitempty"`
	Level   string `json:"level"`
	// Version is the baseline's version the schema was checked against (0
	// for a folder or git baseline, which has one).
	Version   int    `json:"version,omitempty"`
	Direction string `json:"direction"`
	Kind      string `json:"kind"`
	Path      string `json:"path"`
	// Old and New are the values at Path before and after, compact JSON;
	// empty when absent on that side or unknown (Protobuf).
	Old     string `json:"old,omitempty"`
	New     string `json:"new,omitempty"`
	Message string `json:"message"`
}

// baseVersion is one version of a subject in a baseline.
type baseVersion struct {
	Number int
	Text   string
	Schema serde.Schema
}

// checkBaseline is where the previous schemas come from.
type checkBaseline interface {
	// lookup returns the history of subject to check against, oldest
	// first (empty when the baseline lacks the subject), and the level and
	// options to check with; want is the level asked for ("" for the
	// baseline's own).
	lookup(ctx context.Context, subject string, want compat.Level) ([]baseVersion, compat.Level, compat.Options, error)
	name() string
}

// setBaseline is a folder or git ref holding the previous schemas.
type setBaseline struct {
	set   *manifest.Set
	label string
}

func (b *setBaseline) name() string { return b.label }

func (b *setBaseline) lookup(_ context.Context, subject string, want compat.Level) ([]baseVersion, compat.Level, compat.Options, error) {
	if want == "" {
		want = compat.Backward
	}
	old := b.set.Lookup(subject)
	if old == nil {
		return nil, want, compat.Options{}, nil
	}
	return []baseVersion{{Text: old.Text, Schema: old.Schema}}, want, compat.Options{}, nil
}

// given reports whether any of the named flags was set on the command line.
func (f *schemaFlags) given(names ...string) bool {
	set := false
	f.Visit(func(fl *flag.Flag) {
		if slices.Contains(names, fl.Name) {
			set = true
		}
	})
	return set
}

// optionalLevel parses a --level value; "" is no level.
func optionalLevel(s string) (compat.Level, error) {
	if s == "" {
		return "", nil
	}
	return compat.ParseLevel(s)
}

// subjectFlag collects --subject SUBJECT[=FILE].
type subjectFlag []string

func (s *subjectFlag) String() string     { return strings.Join(*s, ",") }
func (s *subjectFlag) Set(v string) error { *s = append(*s, v); return nil }

// pairSubjects pairs --subject values with files: SUBJECT=FILE carries its
// file (when FILE has a schema extension); a bare SUBJECT takes the next
// positional argument, in order.
func pairSubjects(subjects, files []string) ([][2]string, error) {
	var out [][2]string
	next := 0
	for _, s := range subjects {
		if i := strings.LastIndexByte(s, '='); i > 0 {
			if _, err := manifest.FormatOf(s[i+1:]); err == nil {
				out = append(out, [2]string{s[:i], s[i+1:]})
				continue
			}
		}
		if next >= len(files) {
			return nil, fmt.Errorf("--subject %s has no FILE: write --subject %s FILE", s, s)
		}
		out = append(out, [2]string{s, files[next]})
		next++
	}
	if next < len(files) {
		return nil, fmt.Errorf("file %s has no --subject: write --subject SUBJECT %s", files[next], files[next])
	}
	return out, nil
}

// checkInput is what a check compares: the current schemas and how to
// load the same input from a baseline file system.
type checkInput struct {
	set *manifest.Set
	// manifestFile is the manifest's name inside a baseline folder; ""
	// for explicit files.
	manifestFile string
	// files are the explicit files relative to the current folder.
	files []manifest.SchemaFile
	level compat.Level
	// display turns a path of the current file system into what is printed.
	display func(p string) string
	// gitDir is the folder a git:REF baseline is read for.
	gitDir string
}

// loadBaseline loads the same input from a baseline file system.
func (in *checkInput) loadBaseline(fsys fs.FS) (*manifest.Set, error) {
	if in.manifestFile != "" {
		return loadSet(fsys, in.manifestFile)
	}
	// Files the baseline lacks are new subjects: leave them out.
	var present []manifest.SchemaFile
	for _, f := range in.files {
		if _, err := fs.Stat(fsys, f.File); err == nil {
			present = append(present, f)
		}
	}
	if len(present) == 0 {
		return &manifest.Set{}, nil
	}
	m, err := manifest.FromFiles(".", present, in.level)
	if err != nil {
		return nil, err
	}
	return m.Resolve(fsys)
}

func runSchemaCheck(ctx context.Context, e *env, args []string) int {
	f := newSchemaFlags(e, "check", checkUsage)
	against := f.String("against", "", "baseline `DIR` (or git:REF) holding the previous manifest and schemas")
	manifestPath := f.String("manifest", manifest.DefaultFile, "manifest `FILE`")
	var subjects subjectFlag
	f.Var(&subjects, "subject", "check FILE (the next argument, or SUBJECT=FILE) under `SUBJECT` instead of a manifest (repeatable)")
	levelName := f.String("level", "", "check every subject under this `LEVEL` instead of the manifest's or the registry's")
	user := f.String("registry-user", "", "basic auth `user` for --registry (also $SLUICE_REGISTRY_USER)")
	password := f.String("registry-password", "", "basic auth `password` for --registry (also $SLUICE_REGISTRY_PASSWORD)")
	verdict := f.String("verdict", "local", "with --registry, who decides (`MODE`): local (the registry's rules run here, with positions) or registry (its /compatibility endpoint)")
	out := "text"
	// --output is the shared flag, widened to github annotations: the
	// shared validation knows only text and json.
	of := f.Lookup("output")
	of.Value = outputFlag{&out}
	of.Usage = "output format: text, json or github (workflow annotations)"
	pos, code, ok := f.parse(args, "FILE arguments only after --subject SUBJECT", 0, 1<<20)
	if !ok {
		return code
	}
	registrySet := f.given("registry", "addr")
	manifestSet := f.given("manifest")
	switch {
	case *against == "" && !registrySet:
		return f.usageError("missing baseline: give --registry URL, --against DIR or --against git:REF")
	case *against != "" && registrySet:
		return f.usageError("give one baseline: --registry or --against, not both")
	case len(subjects) > 0 && manifestSet:
		return f.usageError("give --manifest or --subject, not both")
	case *verdict != "local" && *verdict != "registry":
		return f.usageError("--verdict %q: want local or registry", *verdict)
	case *verdict == "registry" && !registrySet:
		return f.usageError("--verdict registry needs --registry URL")
	case len(subjects) == 0 && len(pos) > 0:
		return f.usageError("unexpected argument %q: files need --subject SUBJECT before them", pos[0])
	}
	level, err := optionalLevel(*levelName)
	if err != nil {
		return f.usageError("--level: %v", err)
	}
	fail := func(format string, args ...any) int {
		fmt.Fprintf(e.stderr, "%s: %s\n", f.Name(), fmt.Sprintf(format, args...))
		return 2
	}

	in := &checkInput{level: level}
	if len(subjects) > 0 {
		pairs, err := pairSubjects(subjects, pos)
		if err != nil {
			return f.usageError("%v", err)
		}
		cwd, err := os.Getwd()
		if err != nil {
			return fail("%v", err)
		}
		for _, p := range pairs {
			abs, err := filepath.Abs(p[1])
			if err != nil {
				return fail("%v", err)
			}
			if _, err := os.Stat(abs); err != nil {
				return fail("schema file %s: %v", p[1], unwrapPathErr(err))
			}
			rel, err := filepath.Rel(cwd, abs)
			if err != nil {
				return fail("%v", err)
			}
			in.files = append(in.files, manifest.SchemaFile{File: filepath.ToSlash(rel), Subject: p[0], Pos: manifest.Pos{File: p[1]}})
		}
		// The current folder plays the manifest's: paths (and so the
		// subjects of referenced JSON Schema files) are relative to it.
		// Files outside it are read through the file system root.
		root, fsys := ".", os.DirFS(cwd)
		for _, fl := range in.files {
			if strings.HasPrefix(fl.File, "../") {
				root, fsys = strings.TrimPrefix(filepath.ToSlash(cwd), "/"), os.DirFS("/")
				break
			}
		}
		m, err := manifest.FromFiles(root, slices.Clone(in.files), level)
		if err != nil {
			return f.usageError("%v", err)
		}
		if in.set, err = m.Resolve(fsys); err != nil {
			return fail("%v", err)
		}
		absOf := func(p string) string {
			if root == "." {
				return filepath.Join(cwd, p)
			}
			return "/" + p
		}
		// Print the files as they were given; files found through
		// references relative to the current folder when inside it.
		given := map[string]string{}
		for _, fl := range in.files {
			given[path.Join(root, fl.File)] = fl.Pos.File
		}
		in.display = func(p string) string {
			if g, ok := given[p]; ok {
				return g
			}
			if rel, err := filepath.Rel(cwd, absOf(p)); err == nil && !strings.HasPrefix(rel, "..") {
				return filepath.ToSlash(rel)
			}
			return absOf(p)
		}
		in.gitDir = cwd
	} else {
		dir, file := filepath.Split(*manifestPath)
		if dir == "" {
			dir = "."
		}
		cur, err := loadSet(os.DirFS(dir), file)
		if err != nil {
			return fail("%v", err)
		}
		if level != "" {
			for _, s := range cur.Subjects {
				s.Level = level
			}
		}
		in.set, in.manifestFile, in.gitDir = cur, file, baselineDir(dir)
		in.display = func(p string) string { return filepath.ToSlash(filepath.Join(dir, p)) }
	}

	var base checkBaseline
	switch ref, isGit := strings.CutPrefix(*against, "git:"); {
	case registrySet:
		cl, err := newRegistryClient(e, f.client.addr, *user, *password)
		if err != nil {
			return f.usageError("%v", err)
		}
		base = &registryBaseline{r: newSRReader(cl), label: cl.base}
	default:
		var fsys fs.FS = os.DirFS(*against)
		if isGit {
			gfs, err := gitBaseline(in.gitDir, ref)
			if err != nil {
				return fail("%v", err)
			}
			fsys = gfs
		}
		if in.manifestFile == "" {
			for _, fl := range in.files {
				if strings.HasPrefix(fl.File, "../") {
					return f.usageError("with --against, files must be inside the current folder (their path there is looked up in the baseline): %s is not", fl.Pos.File)
				}
			}
		}
		set, err := in.loadBaseline(fsys)
		if err != nil {
			return fail("baseline %s: %v", *against, err)
		}
		base = &setBaseline{set: set, label: *against}
	}

	var (
		findings []checkFinding
		fresh    int
	)
	if rb, ok := base.(*registryBaseline); ok && *verdict == "registry" {
		findings, fresh, err = askRegistry(ctx, e.stderr, in.set, rb.r, in.display)
	} else {
		findings, fresh, err = checkSet(ctx, in.set, base, in.display)
	}
	if err != nil {
		return fail("%v", err)
	}
	writeFindings(e.stdout, out, findings, len(in.set.Subjects), fresh, base.name())
	if len(findings) > 0 {
		return 1
	}
	return 0
}

// checkSet checks every subject of set against base and returns the
// violations and the number of subjects the baseline lacks.
func checkSet(ctx context.Context, set *manifest.Set, base checkBaseline, display func(string) string) ([]checkFinding, int, error) {
	var findings []checkFinding
	fresh := 0
	for _, s := range set.Subjects {
		hist, level, opts, err := base.lookup(ctx, s.Name, s.Level)
		if err != nil {
			return nil, 0, err
		}
		if len(hist) == 0 {
			if level != compat.None {
				fresh++
			}
			continue
		}
		vs, err := checkSubject(s, level, opts, hist)
		if err != nil {
			return nil, 0, err
		}
		for _, v := range vs {
			findings = append(findings, describeFinding(s, level, v, hist, display))
		}
	}
	return findings, fresh, nil
}

// checkSubject runs the registry's rules, turning a panic in a rule into an
// error so that no input can crash the command.
func checkSubject(s *manifest.Subject, level compat.Level, opts compat.Options, hist []baseVersion) (vs []compat.Violation, err error) {
	defer func() {
		if p := recover(); p != nil {
			vs, err = nil, fmt.Errorf("subject %s: the compatibility rules failed: %v", s.Name, p)
		}
	}()
	versions := make([]compat.Version, len(hist))
	for i, h := range hist {
		versions[i] = compat.Version{Number: h.Number, Schema: h.Schema}
	}
	vs, err = compat.CheckWith(level, opts, s.Schema, versions)
	if err != nil {
		return nil, fmt.Errorf("subject %s: %w", s.Name, err)
	}
	return vs, nil
}

// describeFinding places a violation in the subject's file and adds the old
// and new values at its path.
func describeFinding(s *manifest.Subject, level compat.Level, v compat.Violation, hist []baseVersion, display func(string) string) checkFinding {
	fd := checkFinding{Subject: s.Name, Level: string(level), Version: v.Version, Direction: v.Direction, Kind: v.Kind, Path: v.Path, Message: v.Message}
	if s.File == "" {
		// A primitive declared in the manifest: point at the declaration.
		fd.File = display(s.Pos.File)
		fd.Line, fd.Col = s.Pos.Line, s.Pos.Col
		if s.Pos.File == "" {
			fd.File = ""
		}
	} else {
		fd.File = display(s.File)
	}
	old := hist[len(hist)-1]
	for _, h := range hist {
		if h.Number == v.Version {
			old = h
		}
	}
	loc := locateViolation(s.Format, s.Text, old.Text, v)
	if s.File != "" {
		fd.Line, fd.Col = loc.line, loc.col
	}
	fd.Old, fd.New = loc.old, loc.new
	return fd
}

// writeFindings prints the report in the chosen format.
func writeFindings(w io.Writer, format string, findings []checkFinding, subjects, fresh int, baseline string) {
	switch format {
	case "json":
		writeJSON(w, map[string]any{"compatible": len(findings) == 0, "baseline": baseline, "subjects": subjects, "new_subjects": fresh, "violations": nonNil(findings)})
	case "github":
		for _, fd := range findings {
			title := fd.Kind
			msg := fmt.Sprintf("%s (%s, %s) at %s: %s", fd.Subject, fd.Level, fd.Direction, fd.Path, fd.Message)
			if fd.Path == "" {
				msg = fmt.Sprintf("%s (%s): %s", fd.Subject, fd.Level, fd.Message)
			}
			if fd.Old != "" || fd.New != "" {
				msg += fmt.Sprintf(" (old %s, new %s)", orAbsent(fd.Old), orAbsent(fd.New))
			}
			fmt.Fprintf(w, "::error file=%s,line=%d,col=%d,title=%s::%s\n", ghProperty(fd.File), max(fd.Line, 1), max(fd.Col, 1), ghProperty(title), ghData(msg))
		}
		if len(findings) == 0 {
			fmt.Fprintf(w, "::notice title=sluice schema check::%s compatible with %s\n", plural(subjects, "subject"), ghData(baseline))
		}
	default:
		for _, fd := range findings {
			pos := fd.File
			if fd.Line > 0 {
				pos = fmt.Sprintf("%s:%d:%d", fd.File, fd.Line, fd.Col)
			}
			var against []string
			for _, x := range []string{fd.Level, fd.Direction} {
				if x != "" {
					against = append(against, x)
				}
			}
			if fd.Version > 0 {
				against = append(against, fmt.Sprintf("version %d", fd.Version))
			}
			what := fd.Message
			if fd.Path != "" {
				what = fd.Path + ": " + what
			}
			line := fmt.Sprintf("%s: %s (%s): %s [%s]", pos, fd.Subject, strings.Join(against, ", "), what, fd.Kind)
			if fd.Old != "" || fd.New != "" {
				line += fmt.Sprintf("\n    old: %s\n    new: %s", orAbsent(fd.Old), orAbsent(fd.New))
			}
			fmt.Fprintln(w, line)
		}
		newNote := ""
		if fresh > 0 {
			newNote = fmt.Sprintf(" (%d new)", fresh)
		}
		if len(findings) == 0 {
			fmt.Fprintf(w, "%s compatible with %s%s\n", plural(subjects, "subject"), baseline, newNote)
		} else {
			fmt.Fprintf(w, "%s\n", plural(len(findings), "incompatible change"))
		}
	}
}

func orAbsent(s string) string {
	if s == "" {
		return "(absent)"
	}
	return s
}

// ghData escapes the message of a workflow command.
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// ghProperty escapes a property value of a workflow command.
func ghProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// outputFlag is --output of check: text, json or github.
type outputFlag struct{ s *string }

func (o outputFlag) String() string {
	if o.s == nil {
		return "text"
	}
	return *o.s
}

func (o outputFlag) Set(v string) error {
	if v != "text" && v != "json" && v != "github" {
		return fmt.Errorf("want text, json or github")
	}
	*o.s = v
	return nil
}

// loadSet loads and resolves a manifest inside fsys.
func loadSet(fsys fs.FS, file string) (*manifest.Set, error) {
	m, err := manifest.Load(fsys, path.Clean(file))
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("manifest %s: %w", file, pe.Err)
		}
		return nil, err
	}
	return m.Resolve(fsys)
}

// unwrapPathErr drops the operation and path an *fs.PathError repeats.
func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
