package evolution

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/srclient"
)

// This file reads a live registry as a baseline over the Confluent REST
// API: a subject's live versions, its effective compatibility level and
// policy, and stored schemas parsed with their references, so that
// `sluice schema check --registry`, `sluice schema diff` and `sluice apply`
// run registry/compat locally on exactly what the registry holds.

// RegistryBaseline is a live Confluent-compatible registry as a baseline
// (`sluice schema check --registry URL`).
type RegistryBaseline struct {
	Reader *srclient.Reader
	// Label names the baseline in reports; "" is the registry's URL.
	Label string
}

// Name is the label, or the registry's URL.
func (b *RegistryBaseline) Name() string {
	if b.Label == "" {
		return b.Reader.Client.Base
	}
	return b.Label
}

// Lookup returns the versions a registration would be checked against: all
// live versions under a transitive level, the latest otherwise; the level is
// the one asked for, else the subject's effective level; the policy is the
// subject's.
func (b *RegistryBaseline) Lookup(ctx context.Context, subject string, want compat.Level) ([]Version, compat.Level, compat.Options, error) {
	cfg, err := b.Reader.Config(ctx, subject)
	if err != nil {
		return nil, "", compat.Options{}, err
	}
	level := cfg.Level
	if want != "" {
		level = want
	}
	opts := compat.Options{Policy: cfg.Policy}
	if level == compat.None {
		return nil, level, opts, nil
	}
	vs, err := b.Reader.Versions(ctx, subject)
	if err != nil || len(vs) == 0 {
		return nil, level, opts, err
	}
	// With a compatibilityGroup, only versions whose metadata property of
	// that name equals the candidate's count; a manifest's schemas carry
	// no metadata, so those are the versions without the property.
	if !level.Transitive() && cfg.Group == "" {
		vs = vs[len(vs)-1:]
	}
	var stored []*srclient.Schema
	for _, v := range vs {
		s, err := b.Reader.Version(ctx, subject, strconv.Itoa(v))
		if err != nil {
			return nil, "", opts, err
		}
		if cfg.Group != "" && hasProperty(s.Metadata, cfg.Group) {
			continue
		}
		stored = append(stored, s)
	}
	if !level.Transitive() && len(stored) > 1 {
		stored = stored[len(stored)-1:]
	}
	hist := make([]Version, 0, len(stored))
	for _, s := range stored {
		v := s.Version
		p, err := b.Reader.Parse(ctx, s)
		if err != nil {
			return nil, "", opts, err
		}
		hist = append(hist, Version{Number: v, Text: s.Schema, Schema: p, RuleSet: s.RuleSet})
	}
	return hist, level, opts, nil
}

// hasProperty reports whether schema metadata ({"properties": {...}}) has
// the property name.
func hasProperty(md json.RawMessage, name string) bool {
	if len(md) == 0 {
		return false
	}
	var m struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if json.Unmarshal(md, &m) != nil {
		return false
	}
	_, ok := m.Properties[name]
	return ok
}
