package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluicehq/sluice/internal/manifest"
	"github.com/sluicehq/sluice/registry/compat"
)

// This file is `sluice schema check`: the manifest's schemas against a
// baseline folder, under each subject's level, with the registry's rules
// (registry/compat). Exit codes: 0 compatible, 1 incompatible, 2 usage or
// I/O error, including schema files that do not parse.

const checkUsage = `Check the manifest's schemas against a baseline without a server.

Usage:
  sluice schema check --against DIR|git:REF [--manifest sluice.yaml] [--output text|json|github]

Every subject the manifest implies is checked against the same subject in
the baseline's manifest (a folder, or a git ref of the
repository the manifest is in, read with git archive), under the subject's compatibility level
(BACKWARD when the manifest sets none). A subject missing from the baseline
is new and passes.

Exit codes: 0 compatible, 1 incompatible, 2 usage or I/O error.
`

// checkFinding is one violation as printed and in --output json.
type checkFinding struct {
	Subject   string `json:"subject"`
	File      string `json:"file,omitempty"`
	Line      int    `json:"line,omitempty"`
	Col       int    `json:"col,omitempty"`
	Level     string `json:"level"`
	Direction string `json:"direction"`
	Kind      string `json:"kind"`
	Path      string `json:"path"`
	Message   string `json:"message"`
}

func runSchemaCheck(ctx context.Context, e *env, args []string) int {
	f := newSchemaFlags(e, "check", checkUsage)
	against := f.String("against", "", "baseline `DIR` holding the previous manifest and schemas")
	manifestPath := f.String("manifest", manifest.DefaultFile, "manifest `FILE`")
	out := "text"
	// --output is the shared flag, widened to github annotations: the
	// shared validation knows only text and json.
	of := f.Lookup("output")
	of.Value = outputFlag{&out}
	of.Usage = "output format: text, json or github (workflow annotations)"
	if _, code, ok := f.parse(args, "no arguments", 0, 0); !ok {
		return code
	}
	if *against == "" {
		return f.usageError("missing --against DIR")
	}
	dir, file := filepath.Split(*manifestPath)
	if dir == "" {
		dir = "."
	}
	cur, err := loadSet(os.DirFS(dir), file)
	if err != nil {
		fmt.Fprintf(e.stderr, "%s: %v\n", f.Name(), err)
		return 2
	}
	var baseFS fs.FS = os.DirFS(*against)
	if ref, ok := strings.CutPrefix(*against, "git:"); ok {
		gfs, err := gitBaseline(baselineDir(dir), ref)
		if err != nil {
			fmt.Fprintf(e.stderr, "%s: %v\n", f.Name(), err)
			return 2
		}
		baseFS = gfs
	}
	base, err := loadSet(baseFS, file)
	if err != nil {
		fmt.Fprintf(e.stderr, "%s: baseline %s: %v\n", f.Name(), *against, err)
		return 2
	}
	var findings []checkFinding
	for _, s := range cur.Subjects {
		old := base.Lookup(s.Name)
		if old == nil {
			continue
		}
		level := s.Level
		if level == "" {
			level = compat.Backward
		}
		vs, err := compat.Check(level, s.Schema, []compat.Version{{Number: 1, Schema: old.Schema}})
		if err != nil {
			fmt.Fprintf(e.stderr, "%s: subject %s: %v\n", f.Name(), s.Name, err)
			return 2
		}
		for _, v := range vs {
			fd := checkFinding{Subject: s.Name, File: filepath.ToSlash(filepath.Join(dir, s.File)), Level: string(level), Direction: v.Direction, Kind: v.Kind, Path: v.Path, Message: v.Message}
			if s.File == "" {
				fd.File = filepath.ToSlash(filepath.Join(dir, file))
				fd.Line = s.Pos.Line
				fd.Col = s.Pos.Col
			} else if ptr := strings.TrimPrefix(v.Path, "#"); strings.HasPrefix(ptr, "/") {
				// Avro and JSON Schema paths are JSON pointers ("#/..." for
				// JSON Schema); Protobuf's are full names, not located yet.
				if l, c, ok := manifest.LocatePointer([]byte(s.Text), ptr); ok {
					fd.Line, fd.Col = l, c
				}
			}
			findings = append(findings, fd)
		}
	}
	switch out {
	case "json":
		writeJSON(e.stdout, map[string]any{"compatible": len(findings) == 0, "subjects": len(cur.Subjects), "violations": nonNil(findings)})
	case "github":
		for _, fd := range findings {
			fmt.Fprintf(e.stdout, "::error file=%s,line=%d,col=%d,title=%s::%s %s at %s: %s\n", fd.File, max(fd.Line, 1), max(fd.Col, 1), fd.Kind, fd.Subject, fd.Level, fd.Path, fd.Message)
		}
	default:
		for _, fd := range findings {
			pos := fd.File
			if fd.Line > 0 {
				pos = fmt.Sprintf("%s:%d:%d", fd.File, fd.Line, fd.Col)
			}
			fmt.Fprintf(e.stdout, "%s: %s (%s, %s): %s: %s [%s]\n", pos, fd.Subject, fd.Level, fd.Direction, fd.Path, fd.Message, fd.Kind)
		}
		if len(findings) == 0 {
			fmt.Fprintf(e.stdout, "%d subjects compatible with %s\n", len(cur.Subjects), *against)
		} else {
			fmt.Fprintf(e.stdout, "%d incompatible changes\n", len(findings))
		}
	}
	if len(findings) > 0 {
		return 1
	}
	return 0
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
	m, err := manifest.Load(fsys, file)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("manifest %s: %w", file, pe.Err)
		}
		return nil, err
	}
	return m.Resolve(fsys)
}
