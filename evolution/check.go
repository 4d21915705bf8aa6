package evolution

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/serde"
)

// Finding is one violation as reported (text, JSON, annotations).
type Finding struct {
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

// Version is one version of a subject in a baseline.
type Version struct {
	// Number is the registry's version number; 0 in a folder or git
	// baseline.
	Number int
	Text   string
	Schema serde.Schema
	// RuleSet is the version's data-contract rule set (compact JSON); nil
	// when it has none.
	RuleSet json.RawMessage
}

// Baseline is where the previous schemas come from.
type Baseline interface {
	// Lookup returns the history of subject to check against, oldest
	// first (empty when the baseline lacks the subject), and the level and
	// options to check with; want is the level asked for ("" for the
	// baseline's own).
	Lookup(ctx context.Context, subject string, want compat.Level) ([]Version, compat.Level, compat.Options, error)
	// Name names the baseline in reports.
	Name() string
}

// SetBaseline is a folder or git ref holding the previous schemas: one
// version per subject, checked under the level asked for, else BACKWARD.
type SetBaseline struct {
	Set   *manifest.Set
	Label string
}

// Name is the label.
func (b *SetBaseline) Name() string { return b.Label }

// Lookup returns the subject's schema in the set, if any.
func (b *SetBaseline) Lookup(_ context.Context, subject string, want compat.Level) ([]Version, compat.Level, compat.Options, error) {
	if want == "" {
		want = compat.Backward
	}
	old := b.Set.Lookup(subject)
	if old == nil {
		return nil, want, compat.Options{}, nil
	}
	return []Version{{Text: old.Text, Schema: old.Schema, RuleSet: old.RuleSet}}, want, compat.Options{}, nil
}

// ArgumentError is an input that the arguments given cannot make: a FILE
// without a SUBJECT, files that do not form a valid set, a file outside the
// current folder compared with a folder. Commands report it as a usage
// error.
type ArgumentError struct{ Err error }

// Error is the wrapped error's message.
func (e *ArgumentError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *ArgumentError) Unwrap() error { return e.Err }

func argErr(format string, a ...any) error { return &ArgumentError{fmt.Errorf(format, a...)} }

// ParseLevel parses a level name; "" is no level.
func ParseLevel(s string) (compat.Level, error) {
	if s == "" {
		return "", nil
	}
	return compat.ParseLevel(s)
}

// PairSubjects pairs --subject values with files: SUBJECT=FILE carries its
// file (when FILE has a schema extension); a bare SUBJECT takes the next
// file, in order. Each pair is {subject, file}.
func PairSubjects(subjects, files []string) ([][2]string, error) {
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
			return nil, argErr("--subject %s has no FILE: write --subject %s FILE", s, s)
		}
		out = append(out, [2]string{s, files[next]})
		next++
	}
	if next < len(files) {
		return nil, argErr("file %s has no --subject: write --subject SUBJECT %s", files[next], files[next])
	}
	return out, nil
}

// Input is what a check compares: the current schemas and how to load the
// same input from a baseline's file system.
type Input struct {
	// Set is the current schemas, resolved.
	Set *manifest.Set
	// Display turns a path of the current file system into what reports
	// print.
	Display func(p string) string

	// manifestFile is the manifest's name inside a baseline folder; ""
	// for explicit files.
	manifestFile string
	// files are the explicit files relative to the current folder.
	files []manifest.SchemaFile
	level compat.Level
	// gitDir is the folder a git:REF baseline is read for.
	gitDir string
}

// FromManifest loads the manifest at manifestPath with the schemas it
// names. A level other than "" replaces every subject's.
func FromManifest(manifestPath string, level compat.Level) (*Input, error) {
	dir, file := filepath.Split(manifestPath)
	if dir == "" {
		dir = "."
	}
	cur, err := LoadManifest(os.DirFS(dir), file)
	if err != nil {
		return nil, err
	}
	if level != "" {
		for _, s := range cur.Subjects {
			s.Level = level
		}
	}
	in := &Input{Set: cur, manifestFile: file, gitDir: baselineDir(dir), level: level}
	in.Display = func(p string) string { return filepath.ToSlash(filepath.Join(dir, p)) }
	return in, nil
}

// FromFiles builds the input of explicit files, each {subject, file} (see
// PairSubjects), relative to the current folder. References between the
// files (Avro named types in sibling files, Protobuf imports, JSON $refs)
// are inferred as for a manifest, and the referenced files are checked
// too. Reports print the files as given.
func FromFiles(pairs [][2]string, level compat.Level) (*Input, error) {
	in := &Input{level: level}
	cwd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	for _, p := range pairs {
		abs, err := filepath.Abs(p[1])
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("schema file %s: %v", p[1], unwrapPathErr(err))
		}
		rel, err := filepath.Rel(cwd, abs)
		if err != nil {
			return nil, err
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
		return nil, &ArgumentError{err}
	}
	if in.Set, err = m.Resolve(fsys); err != nil {
		return nil, err
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
	in.Display = func(p string) string {
		if g, ok := given[p]; ok {
			return g
		}
		if rel, err := filepath.Rel(cwd, absOf(p)); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(rel)
		}
		return absOf(p)
	}
	in.gitDir = cwd
	return in, nil
}

// Against returns the baseline of the same input in the folder against, or,
// for "git:REF", in the tree of REF of the git repository holding the
// input (read with git archive: no checkout).
func (in *Input) Against(against string) (*SetBaseline, error) {
	var fsys fs.FS = os.DirFS(against)
	if ref, isGit := strings.CutPrefix(against, "git:"); isGit {
		gfs, err := GitFS(in.gitDir, ref)
		if err != nil {
			return nil, err
		}
		fsys = gfs
	}
	if in.manifestFile == "" {
		for _, fl := range in.files {
			if strings.HasPrefix(fl.File, "../") {
				return nil, argErr("with --against, files must be inside the current folder (their path there is looked up in the baseline): %s is not", fl.Pos.File)
			}
		}
	}
	set, err := in.loadBaseline(fsys)
	if err != nil {
		return nil, fmt.Errorf("baseline %s: %v", against, err)
	}
	return &SetBaseline{Set: set, Label: against}, nil
}

// loadBaseline loads the same input from a baseline file system.
func (in *Input) loadBaseline(fsys fs.FS) (*manifest.Set, error) {
	if in.manifestFile != "" {
		return LoadManifest(fsys, in.manifestFile)
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

// Check checks every subject of in against base with the registry's rules,
// run here.
func Check(ctx context.Context, in *Input, base Baseline) (*Report, error) {
	rep := &Report{Baseline: base.Name(), Subjects: len(in.Set.Subjects)}
	for _, s := range in.Set.Subjects {
		hist, level, opts, err := base.Lookup(ctx, s.Name, s.Level)
		if err != nil {
			return nil, err
		}
		if len(hist) == 0 {
			if level != compat.None {
				rep.New++
			}
			continue
		}
		vs, err := checkSubject(s, level, opts, hist)
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			rep.Findings = append(rep.Findings, describeFinding(s, level, v, hist, in.Display))
		}
		if s.RuleSet != nil {
			latest := hist[len(hist)-1]
			for _, c := range ruleChanges(latest.RuleSet, json.RawMessage(s.RuleSet)) {
				rep.RuleChanges = append(rep.RuleChanges, describeRuleChange(s, latest.Number, c, in.Display))
			}
		}
	}
	// Rules that the registry would refuse (42210) are findings: the
	// registration would fail.
	for _, s := range in.Set.Subjects {
		if fd, bad := compileRules(s, in.Display); bad {
			rep.Findings = append(rep.Findings, fd)
		}
	}
	return rep, nil
}

// checkSubject runs the registry's rules, turning a panic in a rule into an
// error so that no input can crash the caller.
func checkSubject(s *manifest.Subject, level compat.Level, opts compat.Options, hist []Version) (vs []compat.Violation, err error) {
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
func describeFinding(s *manifest.Subject, level compat.Level, v compat.Violation, hist []Version, display func(string) string) Finding {
	fd := Finding{Subject: s.Name, Level: string(level), Version: v.Version, Direction: v.Direction, Kind: v.Kind, Path: v.Path, Message: v.Message}
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

// LoadManifest loads and resolves the manifest file inside fsys.
func LoadManifest(fsys fs.FS, file string) (*manifest.Set, error) {
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
