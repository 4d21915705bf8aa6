package evolution

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/srclient"
)

// This file is AskRegistry (`sluice schema check --registry URL --verdict
// registry`): the registry itself judges each subject through its compatibility endpoint,
// for registries whose rules may differ from Sluice's.

// AskRegistry checks every subject of in with the registry's
// POST /compatibility/subjects/{s}/versions?verbose=true, in dependency
// order, so that a subject's references can name the versions its
// dependencies are registered as. It returns the violations and how many
// subjects the registry does not know, in a Report. A subject whose
// references the registry cannot be asked about yet (not registered in the
// form the files have) is checked with local rules instead, and a note on
// notes says so.
func AskRegistry(ctx context.Context, notes io.Writer, in *Input, base *RegistryBaseline) (*Report, error) {
	set, r, display := in.Set, base.Reader, in.Display
	var findings []Finding
	var rcs []RuleChange
	fresh := 0
	registered := map[string]int{} // subject -> version holding the local text
	for _, s := range set.Subjects {
		req := srclient.Schema{Schema: s.Text}
		if t := srclient.TypeOf(s.Format); t != "AVRO" {
			req.SchemaType = t
		}
		var missing []string
		for _, ref := range s.References {
			v, ok := registered[ref.Subject]
			if !ok {
				missing = append(missing, ref.Subject)
			}
			req.References = append(req.References, srclient.Reference{Name: ref.Name, Subject: ref.Subject, Version: v})
		}
		vs, err := r.Versions(ctx, s.Name)
		if err != nil {
			return nil, err
		}
		if len(vs) == 0 {
			fresh++
		}
		if fd, bad := compileRules(s, display); bad {
			findings = append(findings, fd)
		}
		if s.RuleSet != nil && len(vs) > 0 {
			latest, err := r.Version(ctx, s.Name, strconv.Itoa(vs[len(vs)-1]))
			if err != nil {
				return nil, err
			}
			for _, c := range ruleChanges(latest.RuleSet, json.RawMessage(s.RuleSet)) {
				rcs = append(rcs, describeRuleChange(s, latest.Version, c, display))
			}
		}
		if len(missing) == 0 {
			var found srclient.Schema
			err := r.Client.Do(ctx, http.MethodPost, "/subjects/"+srclient.SubjectPath(s.Name), nil, req, &found)
			if err == nil {
				registered[s.Name] = found.Version
				continue // registered as it is: compatible by definition
			}
			if c := srclient.Code(err); c != 40401 && c != 40403 && c != 404 {
				return nil, fmt.Errorf("subject %s: looking the schema up: %w", s.Name, err)
			}
		}
		if len(vs) == 0 {
			continue
		}
		if len(missing) > 0 {
			fmt.Fprintf(notes, "note: %s: checked with local rules: the registry cannot judge it before %s is registered in the form the files have\n", s.Name, strings.Join(missing, ", "))
			hist, level, opts, err := base.Lookup(ctx, s.Name, "")
			if err != nil {
				return nil, err
			}
			cvs, err := checkSubject(s, level, opts, hist)
			if err != nil {
				return nil, err
			}
			for _, v := range cvs {
				findings = append(findings, describeFinding(s, level, v, hist, display))
			}
			continue
		}
		var resp struct {
			IsCompatible bool     `json:"is_compatible"`
			Messages     []string `json:"messages"`
		}
		if err := r.Client.Do(ctx, http.MethodPost, "/compatibility/subjects/"+srclient.SubjectPath(s.Name)+"/versions", url.Values{"verbose": {"true"}}, req, &resp); err != nil {
			return nil, fmt.Errorf("subject %s: asking the registry: %w", s.Name, err)
		}
		if resp.IsCompatible {
			continue
		}
		findings = append(findings, verdictFindings(s, resp.Messages, display)...)
	}
	return &Report{Baseline: base.Name(), Subjects: len(set.Subjects), New: fresh, Findings: findings, RuleChanges: rcs}, nil
}

// verdictFindings turns the registry's verbose messages into findings: the
// trailer (old version, old text, level) labels them, every other message
// is one violation. The message text is the registry's, kept whole; a
// trailing "[KIND]" becomes the kind.
func verdictFindings(s *manifest.Subject, msgs []string, display func(string) string) []Finding {
	var level string
	var version int
	var body []string
	for _, m := range msgs {
		switch {
		case strings.HasPrefix(m, "{oldSchema: "):
		case strings.HasPrefix(m, "{oldSchemaVersion: "):
			fmt.Sscanf(strings.TrimPrefix(m, "{oldSchemaVersion: "), "%d", &version)
		case strings.HasPrefix(m, "{compatibility: '"):
			level = strings.TrimSuffix(strings.TrimPrefix(m, "{compatibility: '"), "'}")
		default:
			body = append(body, m)
		}
	}
	if len(body) == 0 {
		body = []string{"the registry found the schema incompatible and gave no reason"}
	}
	if l, err := compat.ParseLevel(level); err == nil {
		level = string(l)
	}
	out := make([]Finding, 0, len(body))
	for _, m := range body {
		fd := Finding{Subject: s.Name, Level: level, Version: version, Kind: "REGISTRY", Message: m}
		if s.File != "" {
			fd.File = display(s.File)
		} else if s.Pos.File != "" {
			fd.File, fd.Line, fd.Col = display(s.Pos.File), s.Pos.Line, s.Pos.Col
		}
		if i := strings.LastIndexByte(m, '['); i > 0 && strings.HasSuffix(m, "]") {
			fd.Kind = m[i+1 : len(m)-1]
			fd.Message = strings.TrimSpace(m[:i])
		}
		out = append(out, fd)
	}
	return out
}
