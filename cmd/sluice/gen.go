package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/sluicehq/sluice/codegen"
	"github.com/sluicehq/sluice/evolution"
	"github.com/sluicehq/sluice/manifest"
)

// This file is `sluice gen`: Go bindings for the typed clients (package
// client) from sluice.yaml, or from schema files named on the command line.
// The generator is package codegen; this is its command-line front door.

const genUsage = `Generate Go bindings for the typed clients.

Usage:
  sluice gen [--manifest sluice.yaml] [--out DIR] [--package NAME] [-M FILE=IMPORT] [--check]
  sluice gen --topic NAME=FILE[#RECORD] ... [--key PRIMITIVE] [--strategy S] [--out DIR] [--package NAME]

Writes DIR/sluice_gen.go (default: the current folder), holding per topic:
its name constant, the key and value codecs (carrying the schema texts and
their references), the Go types of the schemas (Avro records and JSON Schema
objects become structs; Protobuf messages are protoc-gen-go's types, from
the file's go_package), and New<Topic>Producer / New<Topic>Consumer. A
topic of several event types (the manifest's value.schemas) gets
New<Topic><Event>Producer per type, one New<Topic>Consumer, and
<Topic>Handlers, with one function per type and exhaustive dispatch.

From a manifest (default ./sluice.yaml): every topic it declares.
From files: each --topic NAME=FILE[#RECORD] is a topic whose values are the
record (Avro), message (Protobuf) or title (JSON Schema) RECORD of FILE (the
file's first when absent); keys are the Avro primitive --key (string, long,
int, double, boolean, bytes) or absent. References between the files are
inferred as for a manifest.

Exit codes: 0 done (or up to date), 1 out of date (--check), 2 usage error
or a schema or manifest problem.

Flags:
`

// genPairs is a repeatable NAME=VALUE flag.
type genPairs [][2]string

func (p *genPairs) String() string { return "" }

func (p *genPairs) Set(v string) error {
	name, value, ok := strings.Cut(v, "=")
	if !ok || name == "" || value == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", v)
	}
	*p = append(*p, [2]string{name, value})
	return nil
}

func runGen(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "sluice gen", genUsage)
	manifestPath := fs.String("manifest", "", "the manifest `FILE` (default sluice.yaml)")
	out := fs.String("out", ".", "output `DIR`; the bindings go to DIR/sluice_gen.go")
	pkg := fs.String("package", "", "Go package `NAME` (default: the output folder's name)")
	check := fs.Bool("check", false, "write nothing; exit 1 if DIR/sluice_gen.go is not what would be generated (for CI)")
	key := fs.String("key", "", "--topic: key `PRIMITIVE` (string, long, int, double, boolean, bytes); default no key")
	strategy := fs.String("strategy", "", "--topic: subject-name `strategy`: topic, record or topic_record")
	var topics, protoPkgs genPairs
	fs.Var(&topics, "topic", "a topic `NAME=FILE[#RECORD]` (repeatable)")
	fs.Var(&protoPkgs, "M", "the Go import path of a .proto file's protoc-gen-go package, overriding its go_package: `FILE=IMPORT` (repeatable)")
	pos, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "sluice gen: %s\nRun \"sluice gen --help\" for usage.\n", fmt.Sprintf(format, a...))
		return 2
	}
	if len(pos) > 0 {
		return usageErr("unexpected argument %q", pos[0])
	}
	if len(topics) > 0 && *manifestPath != "" {
		return usageErr("--topic and --manifest exclude each other")
	}
	if len(topics) == 0 && (*key != "" || *strategy != "") {
		return usageErr("--key and --strategy go with --topic")
	}
	name := *pkg
	if name == "" {
		abs, err := filepath.Abs(*out)
		if err != nil {
			return usageErr("%v", err)
		}
		name = genPackageName(filepath.Base(abs))
	}

	var set *manifest.Set
	var source string
	var err error
	if len(topics) > 0 {
		set, err = genSetFromTopics(topics, *key, *strategy)
		source = "sluice gen --topic"
	} else {
		if *manifestPath == "" {
			*manifestPath = manifest.DefaultFile
		}
		dir, file := filepath.Split(*manifestPath)
		if dir == "" {
			dir = "."
		}
		set, err = evolution.LoadManifest(os.DirFS(dir), file)
		source = filepath.ToSlash(*manifestPath)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "sluice gen: %v\n", err)
		return 2
	}
	cfg := codegen.Config{Package: name, Source: source, ProtoGoPackages: map[string]string{}}
	for _, p := range protoPkgs {
		cfg.ProtoGoPackages[filepath.ToSlash(p[0])] = p[1]
	}
	f, err := codegen.FromManifest(set, cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "sluice gen: %v\n", err)
		return 2
	}
	target := filepath.Join(*out, f.Name)
	if *check {
		old, err := os.ReadFile(target)
		if err != nil || !bytes.Equal(old, f.Content) {
			state := "out of date"
			if errors.Is(err, os.ErrNotExist) {
				state = "missing"
			}
			fmt.Fprintf(e.stderr, "sluice gen: %s is %s: run %s\n", target, state, genRerun(args))
			return 1
		}
		fmt.Fprintf(e.stdout, "%s is up to date\n", target)
		return 0
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintf(e.stderr, "sluice gen: %v\n", err)
		return 2
	}
	if err := os.WriteFile(target, f.Content, 0o644); err != nil {
		fmt.Fprintf(e.stderr, "sluice gen: %v\n", err)
		return 2
	}
	fmt.Fprintf(e.stdout, "wrote %s (package %s, topics: %d)\n", target, name, len(set.Manifest.Topics))
	return 0
}

// genRerun is the command that brings the output up to date: the command
// line as given, without --check, quoted for a POSIX shell.
func genRerun(args []string) string {
	words := []string{"sluice", "gen"}
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == "check" {
			continue
		}
		words = append(words, shellQuote(a))
	}
	return strings.Join(words, " ")
}

// genSetFromTopics builds the manifest that --topic flags describe, in the
// current folder, and resolves it.
func genSetFromTopics(topics genPairs, key, strategy string) (*manifest.Set, error) {
	var b strings.Builder
	if strategy != "" {
		fmt.Fprintf(&b, "strategy: %q\n", strategy)
	}
	b.WriteString("topics:\n")
	for _, t := range topics {
		file, record, _ := strings.Cut(t[1], "#")
		fmt.Fprintf(&b, "  - name: %q\n", t[0])
		if key != "" {
			fmt.Fprintf(&b, "    key:\n      primitive: %q\n", key)
		}
		fmt.Fprintf(&b, "    value:\n      file: %q\n", filepath.ToSlash(file))
		if record != "" {
			fmt.Fprintf(&b, "      record: %q\n", record)
		}
	}
	m, err := manifest.Parse("--topic flags", []byte(b.String()))
	if err != nil {
		return nil, err
	}
	return m.Resolve(os.DirFS("."))
}

// genPackageName makes a Go package name of a folder name.
func genPackageName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	n := b.String()
	if n == "" || unicode.IsDigit(rune(n[0])) {
		n = "events" + n
	}
	return n
}
