package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/internal/manifest"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
	"github.com/sluicehq/sluice/registry/compat"
)

// This file is `sluice apply`: make the registry and the broker match the
// manifest. It computes a plan first (subject levels, schema registrations
// in dependency order, topic creations and config changes), prints it, and
// then carries it out. A plan that would break a subject's compatibility or
// shrink a topic is refused as a whole, before anything changes.

const applyUsage = `Make the registry and the broker match the manifest.

Usage:
  sluice apply [--manifest sluice.yaml] [--dry-run] [--addr URL] [--registry URL]

sluice apply reads the manifest and computes a plan, printed first:
  + something to create: a schema version to register, a compatibility
    level to set on a subject, a topic to create
  ~ something to change: a topic config whose value differs, a subject's
    compatibility level; lowering a level (to one that checks less, as
    FULL to BACKWARD, or a _TRANSITIVE level to its plain one) is a change
    even where the subject inherited the level, and gets a warning naming
    the guarantee it drops
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
$SLUICE_REGISTRY_USER and $SLUICE_REGISTRY_PASSWORD).

Exit codes: 0 applied or nothing to do, 1 refused (or a server refused a
step), 2 usage error or a manifest that does not load.
`

// planStep is one line of the plan and the action that carries it out.
type planStep struct {
	Op     string `json:"op"`   // "+", "~" or "="
	Kind   string `json:"kind"` // subject, compatibility or topic
	Name   string `json:"name"`
	Detail string `json:"detail"`
	run    func(ctx context.Context) (string, error)
}

// plan is the plan of one apply.
type plan struct {
	steps    []*planStep
	refusals []string
	// findings are the compatibility violations behind the refusals.
	findings []checkFinding
	// warnings are changes the plan carries out but a user should know
	// about: a subject's compatibility level lowered.
	warnings []string
}

func (p *plan) add(s *planStep) { p.steps = append(p.steps, s) }

func (p *plan) count(op string) int {
	n := 0
	for _, s := range p.steps {
		if s.Op == op {
			n++
		}
	}
	return n
}

// applier holds what planning and applying need.
type applier struct {
	set      *manifest.Set
	reader   *srReader
	topics   brokerv1connect.TopicServiceClient
	display  func(string) string
	versions map[string]int // subject -> version the references name
	pending  map[string]bool
}

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
	set, err := loadSet(os.DirFS(dir), file)
	if err != nil {
		fmt.Fprintf(e.stderr, "sluice apply: %v\n", err)
		return 2
	}
	regAddr := *registryURL
	if regAddr == "" {
		regAddr = cf.baseURL()
	}
	cl, err := newRegistryClient(e, regAddr, *user, *password)
	if err != nil {
		return usageErr("%v", err)
	}
	topics, _ := cf.brokerClients()
	a := &applier{
		set:      set,
		reader:   newSRReader(cl),
		topics:   topics,
		display:  func(p string) string { return filepath.ToSlash(filepath.Join(dir, p)) },
		versions: map[string]int{},
		pending:  map[string]bool{},
	}
	p, err := a.plan(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "sluice apply: %v\n", err)
		return 1
	}
	if cf.json() {
		return a.runJSON(ctx, e, p, *dryRun)
	}
	printPlan(e.stdout, *manifestPath, p)
	p.printWarnings(e.stderr)
	if len(p.refusals) > 0 {
		fmt.Fprintf(e.stderr, "sluice apply: refused, nothing was changed:\n")
		for _, r := range p.refusals {
			fmt.Fprintf(e.stderr, "  - %s\n", r)
		}
		if len(p.findings) > 0 {
			writeFindings(e.stderr, "text", p.findings, len(set.Subjects), 0, cl.base)
		}
		return 1
	}
	changes := p.count("+") + p.count("~")
	if changes == 0 {
		fmt.Fprintf(e.stdout, "No changes: the registry and the broker match %s.\n", *manifestPath)
		return 0
	}
	if *dryRun {
		fmt.Fprintln(e.stdout, "Dry run: nothing was changed.")
		return 0
	}
	fmt.Fprintln(e.stdout, "\nApplying:")
	done := 0
	for _, s := range p.steps {
		if s.run == nil {
			continue
		}
		msg, err := s.run(ctx)
		if err != nil {
			fmt.Fprintf(e.stderr, "sluice apply: %s %s: %s\n", s.Kind, s.Name, explainStepError(err))
			fmt.Fprintf(e.stderr, "sluice apply: stopped after %d of %s; run it again once this is fixed\n", done, plural(changes, "change"))
			return 1
		}
		done++
		fmt.Fprintf(e.stdout, "  %s\n", msg)
	}
	fmt.Fprintf(e.stdout, "Apply complete: %d created, %d changed.\n", p.count("+"), p.count("~"))
	return 0
}

// runJSON is apply with --output json: one document with the plan, the
// refusals and whether it was applied.
func (a *applier) runJSON(ctx context.Context, e *env, p *plan, dryRun bool) int {
	doc := map[string]any{"plan": nonNil(p.steps), "refusals": nonNil(p.refusals), "violations": nonNil(p.findings), "warnings": nonNil(p.warnings), "applied": false}
	code := 0
	switch {
	case len(p.refusals) > 0:
		code = 1
	case dryRun || p.count("+")+p.count("~") == 0:
	default:
		var done []string
		for _, s := range p.steps {
			if s.run == nil {
				continue
			}
			msg, err := s.run(ctx)
			if err != nil {
				doc["error"] = fmt.Sprintf("%s %s: %s", s.Kind, s.Name, explainStepError(err))
				code = 1
				break
			}
			done = append(done, msg)
		}
		doc["done"] = nonNil(done)
		doc["applied"] = code == 0
	}
	writeJSON(e.stdout, doc)
	return code
}

// printPlan prints the plan as a table.
func printPlan(w io.Writer, manifestPath string, p *plan) {
	fmt.Fprintf(w, "Plan for %s:\n", manifestPath)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range p.steps {
		fmt.Fprintf(tw, "  %s %s\t%s\t%s\n", s.Op, s.Kind, s.Name, s.Detail)
	}
	tw.Flush()
	fmt.Fprintf(w, "Plan: %d to create, %d to change, %d unchanged.\n", p.count("+"), p.count("~"), p.count("="))
}

// undoneError is a failed step whose earlier changes were undone.
type undoneError struct {
	err  error
	note string
}

func (e *undoneError) Error() string { return e.err.Error() + " (" + e.note + ")" }
func (e *undoneError) Unwrap() error { return e.err }

// explainStepError renders a failed step: an incompatible registration
// lists the registry's violations one per line.
func explainStepError(err error) string {
	var ue *undoneError
	if errors.As(err, &ue) {
		return explainStepError(ue.err) + "\n  " + ue.note
	}
	var se *srError
	if errors.As(err, &se) && (se.Code == 409 || se.Code == 40901) {
		return "the registry refused it as incompatible:\n    " + strings.ReplaceAll(se.Message, "; ", "\n    ")
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Message() + " (" + ce.Code().String() + ")"
	}
	return err.Error()
}

// levelLowering lists the guarantees a subject loses when its
// compatibility level goes from one level to another: a direction the old
// level checks and the new one does not, or transitivity (checking against
// every earlier version rather than only the latest) in a direction both
// check. It is empty when to is at least as strict as from; lowering is
// this partial order (FULL_TRANSITIVE above FULL above BACKWARD and
// FORWARD, each _TRANSITIVE above its plain level, NONE below all), so
// BACKWARD to FORWARD lowers too.
func levelLowering(from, to compat.Level) []string {
	var lost []string
	if from.Backward() && !to.Backward() {
		lost = append(lost, "backward compatibility (consumers on a new schema reading earlier records)")
	}
	if from.Forward() && !to.Forward() {
		lost = append(lost, "forward compatibility (consumers on an earlier schema reading new records)")
	}
	keeps := (from.Backward() && to.Backward()) || (from.Forward() && to.Forward())
	if from.Transitive() && !to.Transitive() && keeps {
		lost = append(lost, "transitivity (new versions are checked against the latest version only, not every earlier one)")
	}
	return lost
}

// printWarnings prints the plan's warnings on w.
func (p *plan) printWarnings(w io.Writer) {
	for _, s := range p.warnings {
		fmt.Fprintf(w, "warning: %s\n", s)
	}
}

// plan computes the steps: for each subject in dependency order its level,
// then its schema; then the topics.
func (a *applier) plan(ctx context.Context) (*plan, error) {
	p := &plan{}
	for _, s := range a.set.Subjects {
		if err := a.planSubject(ctx, p, s); err != nil {
			return nil, err
		}
	}
	for _, t := range a.set.Manifest.Topics {
		if err := a.planTopic(ctx, p, t); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (a *applier) planSubject(ctx context.Context, p *plan, s *manifest.Subject) error {
	cfg, err := a.reader.config(ctx, s.Name)
	if err != nil {
		return err
	}
	level := cfg.Level
	// restore undoes this plan's level change of the subject, should the
	// registry refuse its schema: the subject is then left as it was.
	var restore func(ctx context.Context) string
	if s.Level != "" {
		level = s.Level
		if cfg.Own != s.Level {
			name, own := s.Name, cfg.Own
			restore = func(ctx context.Context) string {
				var err error
				if own == "" {
					err = a.reader.c.do(ctx, http.MethodDelete, "/config/"+subjectPath(name), nil, nil, nil)
				} else {
					err = a.reader.c.do(ctx, http.MethodPut, "/config/"+subjectPath(name), nil, map[string]string{"compatibility": string(own)}, nil)
				}
				if err != nil {
					return fmt.Sprintf("could not restore the compatibility of %s: %v", name, err)
				}
				if own == "" {
					return fmt.Sprintf("restored %s to the global compatibility level", name)
				}
				return fmt.Sprintf("restored %s compatibility to %s", name, own)
			}
			was := "inherits " + string(cfg.Level)
			if cfg.Own != "" {
				was = "was " + string(cfg.Own)
			}
			op := "+"
			if cfg.Own != "" {
				op = "~"
			}
			// Lowering the level the subject has now, its own or the
			// inherited one, changes what the registry guarantees: a
			// change, with a warning, even where it creates an override.
			if lost := levelLowering(cfg.Level, s.Level); len(lost) > 0 {
				op = "~"
				was += ", lowered"
				p.warnings = append(p.warnings, fmt.Sprintf("%s: compatibility lowered from %s to %s, which drops %s", s.Name, cfg.Level, s.Level, strings.Join(lost, " and ")))
			}
			name, want := s.Name, s.Level
			p.add(&planStep{Op: op, Kind: "compatibility", Name: s.Name, Detail: fmt.Sprintf("%s (%s)", want, was), run: func(ctx context.Context) (string, error) {
				err := a.reader.c.do(ctx, http.MethodPut, "/config/"+subjectPath(name), nil, map[string]string{"compatibility": string(want)}, nil)
				return fmt.Sprintf("set %s compatibility to %s", name, want), err
			}})
		}
	}

	// The references name the versions of the subjects they point at:
	// already registered ones are known; ones this plan registers are
	// filled in when it runs.
	req := srSchema{Schema: s.Text}
	if t := restType(s.Format); t != "AVRO" {
		req.SchemaType = t
	}
	pendingRef := false
	for _, r := range s.References {
		if a.pending[r.Subject] {
			pendingRef = true
		}
		req.References = append(req.References, srReference{Name: r.Name, Subject: r.Subject, Version: a.versions[r.Subject]})
	}
	where := "(" + primitiveOr(s, a.display) + ")"
	if !pendingRef {
		var found srSchema
		err := a.reader.c.do(ctx, http.MethodPost, "/subjects/"+subjectPath(s.Name), nil, req, &found)
		switch c := srCode(err); {
		case err == nil:
			a.versions[s.Name] = found.Version
			p.add(&planStep{Op: "=", Kind: "subject", Name: s.Name, Detail: fmt.Sprintf("version %d %s", found.Version, where)})
			return nil
		case c == 40401 || c == 40403 || c == 404:
		default:
			return fmt.Errorf("subject %s: looking the schema up: %w", s.Name, err)
		}
	}

	// Not registered yet: check it as the registry will, under the level
	// it will have.
	base := &registryBaseline{r: a.reader, label: a.reader.c.base}
	hist, level, opts, err := base.lookup(ctx, s.Name, level)
	if err != nil {
		return err
	}
	refused := false
	if len(hist) > 0 {
		vs, err := checkSubject(s, level, opts, hist)
		if err != nil {
			return err
		}
		if refused = len(vs) > 0; refused {
			p.refusals = append(p.refusals, fmt.Sprintf("subject %s: %s is incompatible with version %d under %s (%s below)", s.Name, primitiveOr(s, a.display), vs[0].Version, level, plural(len(vs), "violation")))
			for _, v := range vs {
				p.findings = append(p.findings, describeFinding(s, level, v, hist, a.display))
			}
		}
	}
	detail := "register version 1 " + where
	if len(hist) > 0 {
		detail = fmt.Sprintf("register a new version after %d %s", hist[len(hist)-1].Number, where)
	} else if vs, _ := a.reader.versions(ctx, s.Name); len(vs) > 0 {
		detail = fmt.Sprintf("register a new version after %d %s", vs[len(vs)-1], where)
	}
	if pendingRef && strings.HasPrefix(detail, "register a new") {
		detail += ", with updated references"
	}
	if refused {
		detail += " (refused: incompatible, see below)"
	}
	a.pending[s.Name] = true
	subject, refs := s.Name, s.References
	p.add(&planStep{Op: "+", Kind: "subject", Name: s.Name, Detail: detail, run: func(ctx context.Context) (string, error) {
		for i, r := range refs {
			req.References[i].Version = a.versions[r.Subject]
		}
		var resp struct {
			ID      int `json:"id"`
			Version int `json:"version"`
		}
		if err := a.reader.c.do(ctx, http.MethodPost, "/subjects/"+subjectPath(subject)+"/versions", nil, req, &resp); err != nil {
			if restore != nil {
				return "", &undoneError{err: err, note: restore(ctx)}
			}
			return "", err
		}
		if resp.Version == 0 {
			// Registries before 7.6 answer only the id: look the version up.
			var found srSchema
			if err := a.reader.c.do(ctx, http.MethodPost, "/subjects/"+subjectPath(subject), nil, req, &found); err != nil {
				return "", err
			}
			resp.Version = found.Version
		}
		a.versions[subject] = resp.Version
		return fmt.Sprintf("registered %s version %d (schema id %d)", subject, resp.Version, resp.ID), nil
	}})
	return nil
}

// primitiveOr names where a subject's schema comes from.
func primitiveOr(s *manifest.Subject, display func(string) string) string {
	if s.File == "" {
		return "primitive " + strings.Trim(s.Text, `"`)
	}
	return display(s.File)
}

func (a *applier) planTopic(ctx context.Context, p *plan, t manifest.Topic) error {
	// The manifest's strategies become topic configs, so that the broker
	// looks records up under the subjects the manifest registers.
	t.Configs = t.EffectiveConfigs()
	res, err := a.topics.DescribeTopic(ctx, connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: t.Name}))
	if connect.CodeOf(err) == connect.CodeNotFound {
		parts := max(t.Partitions, 1)
		detail := "create with " + plural(parts, "partition")
		for _, k := range slices.Sorted(maps.Keys(t.Configs)) {
			detail += fmt.Sprintf(", %s=%s", k, t.Configs[k])
		}
		name, configs := t.Name, t.Configs
		p.add(&planStep{Op: "+", Kind: "topic", Name: t.Name, Detail: detail, run: func(ctx context.Context) (string, error) {
			res, err := a.topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: name, Partitions: int32(parts), Configs: configs}))
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("created topic %s with %s", name, plural(len(res.Msg.GetTopic().GetPartitions()), "partition")), nil
		}})
		return nil
	}
	if err != nil {
		return fmt.Errorf("topic %s: %s", t.Name, explainStepError(err))
	}
	desc := res.Msg.GetTopic()
	have := len(desc.GetPartitions())
	var partsDiff string
	switch {
	case t.Partitions > 0 && t.Partitions != have:
		partsDiff = fmt.Sprintf("partitions: %d -> %d (refused, see below)", have, t.Partitions)
	}
	switch {
	case t.Partitions > 0 && t.Partitions < have:
		p.refusals = append(p.refusals, fmt.Sprintf("topic %s has %s and %s asks for %d: a topic cannot lose partitions (their records and the key-to-partition mapping would be lost); keep partitions: %d, or delete and recreate the topic", t.Name, plural(have, "partition"), a.display(a.set.Manifest.File), t.Partitions, have))
	case t.Partitions > have:
		p.refusals = append(p.refusals, fmt.Sprintf("topic %s has %s and %s asks for %d: the broker cannot add partitions to a topic yet; keep partitions: %d", t.Name, plural(have, "partition"), a.display(a.set.Manifest.File), t.Partitions, have))
	}
	cur := desc.GetConfigs()
	set := map[string]string{}
	var diffs []string
	for _, k := range slices.Sorted(maps.Keys(t.Configs)) {
		if old, ok := cur[k]; !ok || old != t.Configs[k] {
			set[k] = t.Configs[k]
			if !ok {
				old = "(unset)"
			}
			diffs = append(diffs, fmt.Sprintf("%s: %s -> %s", k, old, t.Configs[k]))
		}
	}
	if partsDiff != "" {
		diffs = append([]string{partsDiff}, diffs...)
		p.add(&planStep{Op: "~", Kind: "topic", Name: t.Name, Detail: strings.Join(diffs, ", ")})
		return nil
	}
	if len(set) == 0 {
		p.add(&planStep{Op: "=", Kind: "topic", Name: t.Name, Detail: plural(have, "partition") + ", configs match"})
		return nil
	}
	name := t.Name
	p.add(&planStep{Op: "~", Kind: "topic", Name: t.Name, Detail: strings.Join(diffs, ", "), run: func(ctx context.Context) (string, error) {
		_, err := a.topics.AlterTopicConfigs(ctx, connect.NewRequest(&brokerv1.AlterTopicConfigsRequest{Name: name, Set: set}))
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("altered topic %s: %s", name, strings.Join(slices.Sorted(maps.Keys(set)), ", ")), nil
	}})
	return nil
}
