package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluicehq/sluice/evolution"
	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/srclient"
)

// This file is `sluice apply`: flags onto evolution's Planner, the plan
// printed, then carried out. A plan that would break a subject's
// compatibility or shrink a topic is refused as a whole, before anything
// changes.

const applyUsage = `Make the registry and the broker match the manifest.

Usage:
  sluice apply [--manifest sluice.yaml] [--dry-run] [--addr URL] [--registry URL]

sluice apply reads the manifest and computes a plan, printed first:
  + something to create: a schema version to register, a compatibility
    level to set on a subject, a topic to create
  ~ something to change: a topic config whose value differs, a topic's
    partition count to raise (records stay where they are; keys then map
    over the new count, as in Kafka), a subject's compatibility level;
    lowering a level (to one that checks less, as FULL to BACKWARD, or a
    _TRANSITIVE level to its plain one) is a change even where the subject
    inherited the level, and gets a warning naming the guarantee it drops
  = something that already matches
Subjects come in dependency order (referenced schemas first, so each
reference can name the version just registered), then topics. Without
--dry-run the plan is then carried out; with it nothing changes. Running
apply again right after prints "No changes".

apply refuses the whole plan, before changing anything, when a schema is
incompatible with its subject's history under the level it will have (each
violation is listed with file:line:col, as "sluice schema check" does), or
when a topic would lose partitions. The registry checks every registration
again and has the last word: should it refuse one, apply stops there and
prints the registry's violations. Topic configs the manifest does not name
are left alone; apply never deletes topics, subjects or versions.

--addr is the Sluice server (broker and registry on one port, default
http://localhost:8080 or $SLUICE_ADDR); --registry points the schema steps at
another Confluent-compatible registry (credentials as for "sluice schema
check": URL userinfo, --registry-user/--registry-password, or
$SLUICE_REGISTRY_USER and $SLUICE_REGISTRY_PASSWORD; else the same
credentials as --addr).

Exit codes: 0 applied or nothing to do, 1 refused (or a server refused a
step), 2 usage error or a manifest that does not load, 3 a server refused
the credentials, 4 permission denied.
`

func runApply(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "sluice apply", applyUsage+"\nFlags:\n")
	var cf clientFlags
	cf.register(fs, e)
	manifestPath := fs.String("manifest", manifest.DefaultFile, "manifest `FILE`")
	dryRun := fs.Bool("dry-run", false, "print the plan and change nothing")
	registryURL := fs.String("registry", "", "registry `URL` when it is not the --addr server")
	user := fs.String("registry-user", "", "basic auth `user` for the registry (also $SLUICE_REGISTRY_USER)")
	password := fs.String("registry-password", "", "basic auth `password` for the registry (also $SLUICE_REGISTRY_PASSWORD)")
	pos, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "sluice apply: %s\nRun \"sluice apply --help\" for usage.\n", fmt.Sprintf(format, a...))
		return 2
	}
	if len(pos) > 0 {
		return usageErr("unexpected argument %q", pos[0])
	}
	if err := cf.validate(); err != nil {
		return usageErr("%v", err)
	}
	dir, file := filepath.Split(*manifestPath)
	if dir == "" {
		dir = "."
	}
	set, err := evolution.LoadManifest(os.DirFS(dir), file)
	if err != nil {
		fmt.Fprintf(e.stderr, "sluice apply: %v\n", err)
		return 2
	}
	regAddr := *registryURL
	if regAddr == "" {
		regAddr = cf.baseURL()
	}
	cl, err := cf.registryClient(regAddr, *user, *password)
	if err != nil {
		return usageErr("%v", err)
	}
	topics, _ := cf.brokerClients()
	display := func(p string) string { return filepath.ToSlash(filepath.Join(dir, p)) }
	p, err := evolution.NewPlanner(set, srclient.NewReader(cl), topics, display).Plan(ctx)
	if err != nil {
		return printErr(e.stderr, "apply", err)
	}
	if cf.json() {
		return applyJSON(ctx, e, p, *dryRun)
	}
	p.Write(e.stdout, *manifestPath)
	p.WriteWarnings(e.stderr)
	if len(p.Refusals) > 0 {
		fmt.Fprintf(e.stderr, "sluice apply: refused, nothing was changed:\n")
		for _, r := range p.Refusals {
			fmt.Fprintf(e.stderr, "  - %s\n", r)
		}
		if len(p.Findings) > 0 {
			rep := &evolution.Report{Baseline: cl.Base, Subjects: len(set.Subjects), Findings: p.Findings}
			rep.Write(e.stderr, evolution.FormatText)
		}
		return 1
	}
	changes := p.Changes()
	if changes == 0 {
		fmt.Fprintf(e.stdout, "No changes: the registry and the broker match %s.\n", *manifestPath)
		return 0
	}
	if *dryRun {
		fmt.Fprintln(e.stdout, "Dry run: nothing was changed.")
		return 0
	}
	fmt.Fprintln(e.stdout, "\nApplying:")
	err = p.Apply(ctx, func(msg string) { fmt.Fprintf(e.stdout, "  %s\n", msg) })
	if se := (*evolution.StepError)(nil); errors.As(err, &se) {
		fmt.Fprintf(e.stderr, "sluice apply: %v\n", se)
		fmt.Fprintf(e.stderr, "sluice apply: stopped after %d of %s; run it again once this is fixed\n", se.Done, plural(changes, "change"))
		return exitCode(se, 1)
	}
	fmt.Fprintf(e.stdout, "Apply complete: %d created, %d changed.\n", p.Count("+"), p.Count("~"))
	return 0
}

// applyJSON is apply with --output json: one document with the plan, the
// refusals and whether it was applied.
func applyJSON(ctx context.Context, e *env, p *evolution.Plan, dryRun bool) int {
	doc := map[string]any{"plan": nonNil(p.Steps), "refusals": nonNil(p.Refusals), "violations": nonNil(p.Findings), "warnings": nonNil(p.Warnings), "applied": false}
	code := 0
	switch {
	case len(p.Refusals) > 0:
		code = 1
	case dryRun || p.Changes() == 0:
	default:
		done := []string{}
		if err := p.Apply(ctx, func(msg string) { done = append(done, msg) }); err != nil {
			doc["error"] = err.Error()
			code = exitCode(err, 1)
		}
		doc["done"] = done
		doc["applied"] = code == 0
	}
	writeJSON(e.stdout, doc)
	return code
}
