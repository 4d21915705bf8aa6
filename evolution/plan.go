package evolution

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/manifest"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/srclient"
)

// This file plans and applies a manifest (`sluice apply`): make the
// registry and the broker match it. The plan comes first (subject levels,
// schema registrations in dependency order, topic creations and config
// changes); a plan that would break a subject's compatibility or shrink a
// topic is refused as a whole, before anything changes.

// Step is one line of a plan and the action that carries it out.
type Step struct {
	// Op is "+" (create), "~" (change) or "=" (already matches).
	Op string `json:"op"`
	// Kind is subject, compatibility or topic.
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Detail string `json:"detail"`
	// Run carries the step out and says what it did; nil when there is
	// nothing to do (or the step cannot be done: see Plan.Refusals).
	Run func(ctx context.Context) (string, error) `json:"-"`
}

// Plan is what applying a manifest would do.
type Plan struct {
	Steps []*Step
	// Refusals say why the plan must not be carried out; empty when it
	// may.
	Refusals []string
	// Findings are the compatibility violations behind the refusals.
	Findings []Finding
	// Warnings are changes the plan carries out but a user should know
	// about: a subject's compatibility level lowered.
	Warnings []string
}

func (p *Plan) add(s *Step) { p.Steps = append(p.Steps, s) }

// Count returns how many steps have op ("+", "~" or "=").
func (p *Plan) Count(op string) int {
	n := 0
	for _, s := range p.Steps {
		if s.Op == op {
			n++
		}
	}
	return n
}

// Changes is how many steps create or change something.
func (p *Plan) Changes() int { return p.Count("+") + p.Count("~") }

// Write prints the plan as a table headed with the manifest's name, and a
// count line.
func (p *Plan) Write(w io.Writer, manifestPath string) {
	fmt.Fprintf(w, "Plan for %s:\n", manifestPath)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range p.Steps {
		fmt.Fprintf(tw, "  %s %s\t%s\t%s\n", s.Op, s.Kind, s.Name, s.Detail)
	}
	tw.Flush()
	fmt.Fprintf(w, "Plan: %d to create, %d to change, %d unchanged.\n", p.Count("+"), p.Count("~"), p.Count("="))
}

// WriteWarnings prints the plan's warnings, one "warning:" line each.
func (p *Plan) WriteWarnings(w io.Writer) {
	for _, s := range p.Warnings {
		fmt.Fprintf(w, "warning: %s\n", s)
	}
}

// StepError is a step of Apply that failed.
type StepError struct {
	Step *Step
	Err  error
	// Done is how many steps were carried out before.
	Done int
}

// Error names the step and explains the failure: an incompatible
// registration lists the registry's violations one per line.
func (e *StepError) Error() string {
	return fmt.Sprintf("%s %s: %s", e.Step.Kind, e.Step.Name, ExplainStepError(e.Err))
}

// Unwrap returns the step's error.
func (e *StepError) Unwrap() error { return e.Err }

// Apply carries out the steps in order, calling done with what each did,
// and stops at the first failure, a *StepError. The caller checks
// Refusals first: Apply does not.
func (p *Plan) Apply(ctx context.Context, done func(msg string)) error {
	n := 0
	for _, s := range p.Steps {
		if s.Run == nil {
			continue
		}
		msg, err := s.Run(ctx)
		if err != nil {
			return &StepError{Step: s, Err: err, Done: n}
		}
		n++
		if done != nil {
			done(msg)
		}
	}
	return nil
}

// Planner computes the plan of a manifest against a registry and a broker.
type Planner struct {
	set      *manifest.Set
	reader   *srclient.Reader
	topics   brokerv1connect.TopicServiceClient
	display  func(string) string
	versions map[string]int // subject -> version the references name
	pending  map[string]bool
}

// NewPlanner returns a planner of set (LoadManifest) against the registry
// that reader reads and the broker that topics reaches; display turns the
// manifest's paths into what the plan prints.
func NewPlanner(set *manifest.Set, reader *srclient.Reader, topics brokerv1connect.TopicServiceClient, display func(string) string) *Planner {
	return &Planner{set: set, reader: reader, topics: topics, display: display, versions: map[string]int{}, pending: map[string]bool{}}
}

// undoneError is a failed step whose earlier changes were undone.
type undoneError struct {
	err  error
	note string
}

func (e *undoneError) Error() string { return e.err.Error() + " (" + e.note + ")" }
func (e *undoneError) Unwrap() error { return e.err }

// ExplainStepError renders a failed step: an incompatible registration
// lists the registry's violations one per line.
func ExplainStepError(err error) string {
	var ue *undoneError
	if errors.As(err, &ue) {
		return ExplainStepError(ue.err) + "\n  " + ue.note
	}
	var se *srclient.Error
	if errors.As(err, &se) && (se.Code == 409 || se.Code == 40901) {
		return "the registry refused it as incompatible:\n    " + strings.ReplaceAll(se.Message, "; ", "\n    ")
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Message() + " (" + ce.Code().String() + ")"
	}
	return err.Error()
}

// LevelLowering lists the guarantees a subject loses when its
// compatibility level goes from one level to another: a direction the old
// level checks and the new one does not, or transitivity (checking against
// every earlier version rather than only the latest) in a direction both
// check. It is empty when to is at least as strict as from; lowering is
// this partial order (FULL_TRANSITIVE above FULL above BACKWARD and
// FORWARD, each _TRANSITIVE above its plain level, NONE below all), so
// BACKWARD to FORWARD lowers too.
func LevelLowering(from, to compat.Level) []string {
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

// Plan computes the steps: for each subject in dependency order its level,
// then its schema; then the topics. It changes nothing; a Step's Run
// does. A Planner plans once.
func (a *Planner) Plan(ctx context.Context) (*Plan, error) {
	p := &Plan{}
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

func (a *Planner) planSubject(ctx context.Context, p *Plan, s *manifest.Subject) error {
	cfg, err := a.reader.Config(ctx, s.Name)
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
					err = a.reader.Client.Do(ctx, http.MethodDelete, "/config/"+srclient.SubjectPath(name), nil, nil, nil)
				} else {
					err = a.reader.Client.Do(ctx, http.MethodPut, "/config/"+srclient.SubjectPath(name), nil, map[string]string{"compatibility": string(own)}, nil)
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
			if lost := LevelLowering(cfg.Level, s.Level); len(lost) > 0 {
				op = "~"
				was += ", lowered"
				p.Warnings = append(p.Warnings, fmt.Sprintf("%s: compatibility lowered from %s to %s, which drops %s", s.Name, cfg.Level, s.Level, strings.Join(lost, " and ")))
			}
			name, want := s.Name, s.Level
			p.add(&Step{Op: op, Kind: "compatibility", Name: s.Name, Detail: fmt.Sprintf("%s (%s)", want, was), Run: func(ctx context.Context) (string, error) {
				err := a.reader.Client.Do(ctx, http.MethodPut, "/config/"+srclient.SubjectPath(name), nil, map[string]string{"compatibility": string(want)}, nil)
				return fmt.Sprintf("set %s compatibility to %s", name, want), err
			}})
		}
	}

	// The references name the versions of the subjects they point at:
	// already registered ones are known; ones this plan registers are
	// filled in when it runs.
	req := srclient.Schema{Schema: s.Text, RuleSet: json.RawMessage(s.RuleSet)}
	if t := srclient.TypeOf(s.Format); t != "AVRO" {
		req.SchemaType = t
	}
	if fd, bad := compileRules(s, a.display); bad {
		p.Refusals = append(p.Refusals, fmt.Sprintf("subject %s: %s", s.Name, fd.Message))
		p.Findings = append(p.Findings, fd)
	}
	if s.RuleSet == nil {
		// The manifest leaves the rules alone: the registry gives a new
		// version the latest one's, so the lookup compares with them.
		if latest, err := a.reader.Version(ctx, s.Name, "latest"); err == nil {
			req.RuleSet = latest.RuleSet
		}
	}
	pendingRef := false
	for _, r := range s.References {
		if a.pending[r.Subject] {
			pendingRef = true
		}
		req.References = append(req.References, srclient.Reference{Name: r.Name, Subject: r.Subject, Version: a.versions[r.Subject]})
	}
	where := "(" + primitiveOr(s, a.display) + ")"
	if !pendingRef {
		var found srclient.Schema
		err := a.reader.Client.Do(ctx, http.MethodPost, "/subjects/"+srclient.SubjectPath(s.Name), nil, req, &found)
		switch c := srclient.Code(err); {
		case err == nil:
			a.versions[s.Name] = found.Version
			p.add(&Step{Op: "=", Kind: "subject", Name: s.Name, Detail: fmt.Sprintf("version %d %s", found.Version, where)})
			return nil
		case c == 40401 || c == 40403 || c == 404:
		default:
			return fmt.Errorf("subject %s: looking the schema up: %w", s.Name, err)
		}
	}

	// Not registered yet: check it as the registry will, under the level
	// it will have.
	base := &RegistryBaseline{Reader: a.reader}
	hist, level, opts, err := base.Lookup(ctx, s.Name, level)
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
			p.Refusals = append(p.Refusals, fmt.Sprintf("subject %s: %s is incompatible with version %d under %s (%s below)", s.Name, primitiveOr(s, a.display), vs[0].Version, level, plural(len(vs), "violation")))
			for _, v := range vs {
				p.Findings = append(p.Findings, describeFinding(s, level, v, hist, a.display))
			}
		}
	}
	detail := "register version 1 " + where
	if len(hist) > 0 {
		detail = fmt.Sprintf("register a new version after %d %s", hist[len(hist)-1].Number, where)
	} else if vs, _ := a.reader.Versions(ctx, s.Name); len(vs) > 0 {
		detail = fmt.Sprintf("register a new version after %d %s", vs[len(vs)-1], where)
	}
	if pendingRef && strings.HasPrefix(detail, "register a new") {
		detail += ", with updated references"
	}
	if s.RuleSet != nil {
		var prev json.RawMessage
		if len(hist) > 0 {
			prev = hist[len(hist)-1].RuleSet
		} else if latest, err := a.reader.Version(ctx, s.Name, "latest"); err == nil {
			prev = latest.RuleSet
		}
		if cs := ruleChanges(prev, json.RawMessage(s.RuleSet)); len(cs) > 0 {
			detail += ", " + plural(len(cs), "rule change")
			for _, c := range cs {
				if c.Message != "" {
					p.Warnings = append(p.Warnings, fmt.Sprintf("%s: rule %s %s: %s", s.Name, c.Change, c.Path, c.Message))
				}
			}
		}
	}
	if refused {
		detail += " (refused: incompatible, see below)"
	}
	a.pending[s.Name] = true
	subject, refs := s.Name, s.References
	p.add(&Step{Op: "+", Kind: "subject", Name: s.Name, Detail: detail, Run: func(ctx context.Context) (string, error) {
		for i, r := range refs {
			req.References[i].Version = a.versions[r.Subject]
		}
		var resp struct {
			ID      int `json:"id"`
			Version int `json:"version"`
		}
		if err := a.reader.Client.Do(ctx, http.MethodPost, "/subjects/"+srclient.SubjectPath(subject)+"/versions", nil, req, &resp); err != nil {
			if restore != nil {
				return "", &undoneError{err: err, note: restore(ctx)}
			}
			return "", err
		}
		if resp.Version == 0 {
			// Registries before 7.6 answer only the id: look the version up.
			var found srclient.Schema
			if err := a.reader.Client.Do(ctx, http.MethodPost, "/subjects/"+srclient.SubjectPath(subject), nil, req, &found); err != nil {
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

func (a *Planner) planTopic(ctx context.Context, p *Plan, t manifest.Topic) error {
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
		p.add(&Step{Op: "+", Kind: "topic", Name: t.Name, Detail: detail, Run: func(ctx context.Context) (string, error) {
			res, err := a.topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: name, Partitions: int32(parts), Configs: configs}))
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("created topic %s with %s", name, plural(len(res.Msg.GetTopic().GetPartitions()), "partition")), nil
		}})
		return nil
	}
	if err != nil {
		return fmt.Errorf("topic %s: %s", t.Name, ExplainStepError(err))
	}
	desc := res.Msg.GetTopic()
	have := len(desc.GetPartitions())
	var partsDiff string
	grow := int32(0) // the partition count to raise the topic to, if any
	switch {
	case t.Partitions > 0 && t.Partitions < have:
		partsDiff = fmt.Sprintf("partitions: %d -> %d (refused, see below)", have, t.Partitions)
		p.Refusals = append(p.Refusals, fmt.Sprintf("topic %s has %s and %s asks for %d: a topic cannot lose partitions (their records and the key-to-partition mapping would be lost); keep partitions: %d, or delete and recreate the topic", t.Name, plural(have, "partition"), a.display(a.set.Manifest.File), t.Partitions, have))
	case t.Partitions > have:
		// As in Kafka: stored records stay where they are, and keys map over
		// the new count from then on.
		partsDiff = fmt.Sprintf("partitions: %d -> %d (keys then map over %d)", have, t.Partitions, t.Partitions)
		grow = int32(t.Partitions)
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
	}
	if grow == 0 && partsDiff != "" {
		// Refused: the plan shows the change but never runs it.
		p.add(&Step{Op: "~", Kind: "topic", Name: t.Name, Detail: strings.Join(diffs, ", ")})
		return nil
	}
	if grow == 0 && len(set) == 0 {
		p.add(&Step{Op: "=", Kind: "topic", Name: t.Name, Detail: plural(have, "partition") + ", configs match"})
		return nil
	}
	name := t.Name
	p.add(&Step{Op: "~", Kind: "topic", Name: t.Name, Detail: strings.Join(diffs, ", "), Run: func(ctx context.Context) (string, error) {
		var done []string
		if grow > 0 {
			if _, err := a.topics.CreatePartitions(ctx, connect.NewRequest(&brokerv1.CreatePartitionsRequest{Name: name, Partitions: grow})); err != nil {
				return "", err
			}
			done = append(done, fmt.Sprintf("partitions %d -> %d", have, grow))
		}
		if len(set) > 0 {
			if _, err := a.topics.AlterTopicConfigs(ctx, connect.NewRequest(&brokerv1.AlterTopicConfigsRequest{Name: name, Set: set})); err != nil {
				if len(done) > 0 {
					return "", fmt.Errorf("%s done, configs not altered: %w", done[0], err)
				}
				return "", err
			}
			done = append(done, strings.Join(slices.Sorted(maps.Keys(set)), ", "))
		}
		return fmt.Sprintf("altered topic %s: %s", name, strings.Join(done, "; ")), nil
	}})
	return nil
}
