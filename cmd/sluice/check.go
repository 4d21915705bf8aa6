package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/evolution"
	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/srclient"
)

// This file is `sluice schema check`: flags onto package evolution (the
// input, the baseline, who decides) and its report. Exit codes: 0
// compatible, 1 incompatible, 2 usage or I/O error, including schema files
// that do not parse.

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
                   from the URL (https://user:secret@host), from --user with
                   --password (Confluent's basic.auth.user.info; the
                   password also from $SLUICE_PASSWORD) or --token, from
                   --registry-user/--registry-password, or from
                   $SLUICE_REGISTRY_USER and $SLUICE_REGISTRY_PASSWORD,
                   $SLUICE_USER or $SLUICE_TOKEN; an https:// registry with
                   a private CA takes --tls-ca FILE.
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
that do not parse are reported with their positions), 3 the registry refused
the credentials, 4 permission denied.
`

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

// subjectFlag collects --subject SUBJECT[=FILE].
type subjectFlag []string

func (s *subjectFlag) String() string     { return strings.Join(*s, ",") }
func (s *subjectFlag) Set(v string) error { *s = append(*s, v); return nil }

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
	level, err := evolution.ParseLevel(*levelName)
	if err != nil {
		return f.usageError("--level: %v", err)
	}
	// fail reports err: a usage error when the arguments cannot make an
	// input, else an I/O or parse error; both exit 2.
	fail := func(err error) int {
		var ae *evolution.ArgumentError
		if errors.As(err, &ae) {
			return f.usageError("%v", err)
		}
		if code, ok := authExit(e.stderr, "schema check", err); ok {
			return code
		}
		fmt.Fprintf(e.stderr, "%s: %v\n", f.Name(), err)
		if h := tlsHint(err); h != "" {
			fmt.Fprintf(e.stderr, "  %s\n", h)
		}
		return 2
	}

	var in *evolution.Input
	if len(subjects) > 0 {
		pairs, err := evolution.PairSubjects(subjects, pos)
		if err != nil {
			return fail(err)
		}
		in, err = evolution.FromFiles(pairs, level)
		if err != nil {
			return fail(err)
		}
	} else if in, err = evolution.FromManifest(*manifestPath, level); err != nil {
		return fail(err)
	}

	var rep *evolution.Report
	if registrySet {
		cl, err := f.client.registryClient(f.client.addr, *user, *password)
		if err != nil {
			return f.usageError("%v", err)
		}
		base := &evolution.RegistryBaseline{Reader: srclient.NewReader(cl)}
		if *verdict == "registry" {
			rep, err = evolution.AskRegistry(ctx, e.stderr, in, base)
		} else {
			rep, err = evolution.Check(ctx, in, base)
		}
		if err != nil {
			return fail(err)
		}
	} else {
		base, err := in.Against(*against)
		if err != nil {
			return fail(err)
		}
		if rep, err = evolution.Check(ctx, in, base); err != nil {
			return fail(err)
		}
	}
	rep.Write(e.stdout, out)
	if !rep.Compatible() {
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
