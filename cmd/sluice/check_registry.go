package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/serde/jsonschema"
	"github.com/sluicehq/sluice/serde/protobuf"
)

// This file reads a live registry as a baseline over the Confluent REST
// API: a subject's live versions, its effective compatibility level and
// policy, and stored schemas parsed with their references, so that
// `sluice schema check --registry`, `sluice schema diff` and `sluice apply`
// run registry/compat locally on exactly what the registry holds.

// srReader reads subjects from a registry and remembers what it fetched.
type srReader struct {
	c       *srClient
	schemas map[string]*srSchema // "subject\x00version"
}

func newSRReader(c *srClient) *srReader {
	return &srReader{c: c, schemas: map[string]*srSchema{}}
}

// srConfig is a subject's effective configuration as far as checks care.
type srConfig struct {
	Level  compat.Level
	Policy compat.Policy
	// Own is the level set on the subject itself ("" when it inherits).
	Own compat.Level
	// Group is the compatibilityGroup: the metadata property whose value
	// selects the versions a schema is checked against ("" for all).
	Group string
}

// config returns the subject's effective level and policy: its own config,
// falling back to the global one. Registries that do not know
// defaultToGlobal (or predate subject configs) are asked for the global
// config.
func (r *srReader) config(ctx context.Context, subject string) (srConfig, error) {
	var cfg srConfig
	var own map[string]any
	err := r.c.do(ctx, http.MethodGet, "/config/"+subjectPath(subject), nil, nil, &own)
	switch c := srCode(err); {
	case err == nil:
		if l, ok := own["compatibilityLevel"].(string); ok {
			cfg.Own, _ = compat.ParseLevel(l)
		}
	case c == 40408 || c == 40401 || c == 404:
	default:
		return cfg, fmt.Errorf("subject %s: reading its compatibility config: %w", subject, err)
	}
	var eff map[string]any
	err = r.c.do(ctx, http.MethodGet, "/config/"+subjectPath(subject), url.Values{"defaultToGlobal": {"true"}}, nil, &eff)
	if c := srCode(err); c == 40408 || c == 40401 || c == 404 {
		err = r.c.do(ctx, http.MethodGet, "/config", nil, nil, &eff)
	}
	if err != nil {
		return cfg, fmt.Errorf("subject %s: reading the compatibility config: %w", subject, err)
	}
	level, _ := eff["compatibilityLevel"].(string)
	if level == "" {
		level = string(compat.Backward) // the registry default
	}
	if cfg.Level, err = compat.ParseLevel(level); err != nil {
		return cfg, fmt.Errorf("subject %s: the registry answered %w", subject, err)
	}
	cfg.Group, _ = eff["compatibilityGroup"].(string)
	policy, _ := eff["compatibilityPolicy"].(string)
	if cfg.Policy, err = compat.ParsePolicy(policy); err != nil {
		// LOGICAL and later policies: the rules here know STRICT and
		// LENIENT; STRICT is never more permissive.
		cfg.Policy = compat.Strict
	}
	return cfg, nil
}

// versions lists the subject's live versions, oldest first; nil when the
// registry does not know the subject.
func (r *srReader) versions(ctx context.Context, subject string) ([]int, error) {
	var vs []int
	err := r.c.do(ctx, http.MethodGet, "/subjects/"+subjectPath(subject)+"/versions", nil, nil, &vs)
	if c := srCode(err); c == 40401 || c == 404 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("subject %s: listing versions: %w", subject, err)
	}
	return vs, nil
}

// version fetches one version ("latest" or a number) of subject.
func (r *srReader) version(ctx context.Context, subject, version string) (*srSchema, error) {
	key := subject + "\x00" + version
	if s, ok := r.schemas[key]; ok {
		return s, nil
	}
	var s srSchema
	if err := r.c.do(ctx, http.MethodGet, "/subjects/"+subjectPath(subject)+"/versions/"+url.PathEscape(version), nil, nil, &s); err != nil {
		if strings.Contains(err.Error(), subject) {
			return nil, err // the registry's message names it already
		}
		return nil, fmt.Errorf("subject %s version %s: %w", subject, version, err)
	}
	if s.Subject == "" {
		s.Subject = subject
	}
	r.schemas[key] = &s
	if version != strconv.Itoa(s.Version) {
		r.schemas[subject+"\x00"+strconv.Itoa(s.Version)] = &s
	}
	return &s, nil
}

// references returns the transitive references of s, dependencies first,
// with their texts, as the parsers want them.
func (r *srReader) references(ctx context.Context, s *srSchema) ([]serde.Referenced, error) {
	var out []serde.Referenced
	seen := map[string]bool{}
	var walk func(refs []srReference, depth int) error
	walk = func(refs []srReference, depth int) error {
		if depth > 32 {
			return fmt.Errorf("subject %s version %d: references nest deeper than 32 levels", s.Subject, s.Version)
		}
		for _, ref := range refs {
			if seen[ref.Name] {
				continue
			}
			seen[ref.Name] = true
			v := strconv.Itoa(ref.Version)
			if ref.Version == -1 {
				v = "latest"
			}
			dep, err := r.version(ctx, ref.Subject, v)
			if err != nil {
				return fmt.Errorf("reference %s of %s: %w", ref.Name, s.Subject, err)
			}
			if err := walk(dep.References, depth+1); err != nil {
				return err
			}
			out = append(out, serde.Referenced{Name: ref.Name, Text: dep.Schema})
		}
		return nil
	}
	return out, walk(s.References, 0)
}

// parse parses a stored schema with its references.
func (r *srReader) parse(ctx context.Context, s *srSchema) (serde.Schema, error) {
	refs, err := r.references(ctx, s)
	if err != nil {
		return nil, err
	}
	p, err := parseSchemaText(s.typeName(), s.Schema, refs)
	if err != nil {
		return nil, fmt.Errorf("subject %s version %d: the registry's schema does not parse here: %w", s.Subject, s.Version, err)
	}
	return p, nil
}

// parseSchemaText parses text of a REST schema type (AVRO, PROTOBUF, JSON).
func parseSchemaText(typ, text string, refs []serde.Referenced) (serde.Schema, error) {
	switch typ {
	case "AVRO":
		return avro.Parse(text, refs)
	case "PROTOBUF":
		return protobuf.Parse(text, refs)
	case "JSON":
		return jsonschema.Parse(text, refs)
	}
	return nil, fmt.Errorf("unknown schema type %q", typ)
}

// restType is the REST API's name of a format.
func restType(f serde.Format) string {
	switch f {
	case serde.Protobuf:
		return "PROTOBUF"
	case serde.JSON:
		return "JSON"
	}
	return "AVRO"
}

// registryBaseline is the `--registry URL` baseline of schema check.
type registryBaseline struct {
	r     *srReader
	label string
}

func (b *registryBaseline) name() string { return b.label }

// lookup returns the versions a registration would be checked against: all
// live versions under a transitive level, the latest otherwise; the level is
// the one asked for, else the subject's effective level; the policy is the
// subject's.
func (b *registryBaseline) lookup(ctx context.Context, subject string, want compat.Level) ([]baseVersion, compat.Level, compat.Options, error) {
	cfg, err := b.r.config(ctx, subject)
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
	vs, err := b.r.versions(ctx, subject)
	if err != nil || len(vs) == 0 {
		return nil, level, opts, err
	}
	// With a compatibilityGroup, only versions whose metadata property of
	// that name equals the candidate's count; a manifest's schemas carry
	// no metadata, so those are the versions without the property.
	if !level.Transitive() && cfg.Group == "" {
		vs = vs[len(vs)-1:]
	}
	var stored []*srSchema
	for _, v := range vs {
		s, err := b.r.version(ctx, subject, strconv.Itoa(v))
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
	hist := make([]baseVersion, 0, len(stored))
	for _, s := range stored {
		v := s.Version
		p, err := b.r.parse(ctx, s)
		if err != nil {
			return nil, "", opts, err
		}
		hist = append(hist, baseVersion{Number: v, Text: s.Schema, Schema: p})
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
