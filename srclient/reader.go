package srclient

import (
	"context"
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

// Reader reads subjects from a registry and remembers the versions it
// fetched (a version's text never changes), so that checks run
// registry/compat locally on exactly what the registry holds. Not safe for
// concurrent use.
type Reader struct {
	// Client is the registry read.
	Client  *Client
	schemas map[string]*Schema // "subject\x00version"
}

// NewReader returns a Reader of c's registry.
func NewReader(c *Client) *Reader {
	return &Reader{Client: c, schemas: map[string]*Schema{}}
}

// SubjectConfig is a subject's effective configuration as far as checks
// care.
type SubjectConfig struct {
	// Level is the effective compatibility level: the subject's own, else
	// the global one, else BACKWARD.
	Level compat.Level
	// Policy is the compatibilityPolicy; policies the rules do not know
	// read as STRICT, which is never more permissive.
	Policy compat.Policy
	// Own is the level set on the subject itself ("" when it inherits).
	Own compat.Level
	// Group is the compatibilityGroup: the metadata property whose value
	// selects the versions a schema is checked against ("" for all).
	Group string
}

// Config returns the subject's effective level and policy: its own config,
// falling back to the global one. Registries that do not know
// defaultToGlobal (or predate subject configs) are asked for the global
// config.
func (r *Reader) Config(ctx context.Context, subject string) (SubjectConfig, error) {
	var cfg SubjectConfig
	var own map[string]any
	err := r.Client.Do(ctx, http.MethodGet, "/config/"+SubjectPath(subject), nil, nil, &own)
	switch c := Code(err); {
	case err == nil:
		if l, ok := own["compatibilityLevel"].(string); ok {
			cfg.Own, _ = compat.ParseLevel(l)
		}
	case c == 40408 || c == 40401 || c == 404:
	default:
		return cfg, fmt.Errorf("subject %s: reading its compatibility config: %w", subject, err)
	}
	var eff map[string]any
	err = r.Client.Do(ctx, http.MethodGet, "/config/"+SubjectPath(subject), url.Values{"defaultToGlobal": {"true"}}, nil, &eff)
	if c := Code(err); c == 40408 || c == 40401 || c == 404 {
		err = r.Client.Do(ctx, http.MethodGet, "/config", nil, nil, &eff)
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

// Versions lists the subject's live versions, oldest first; nil when the
// registry does not know the subject.
func (r *Reader) Versions(ctx context.Context, subject string) ([]int, error) {
	var vs []int
	err := r.Client.Do(ctx, http.MethodGet, "/subjects/"+SubjectPath(subject)+"/versions", nil, nil, &vs)
	if c := Code(err); c == 40401 || c == 404 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("subject %s: listing versions: %w", subject, err)
	}
	return vs, nil
}

// Version fetches one version ("latest" or a number) of subject. The
// result is shared with later calls: do not modify it.
func (r *Reader) Version(ctx context.Context, subject, version string) (*Schema, error) {
	key := subject + "\x00" + version
	if s, ok := r.schemas[key]; ok {
		return s, nil
	}
	var s Schema
	if err := r.Client.Do(ctx, http.MethodGet, "/subjects/"+SubjectPath(subject)+"/versions/"+url.PathEscape(version), nil, nil, &s); err != nil {
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

// References returns the transitive references of s, dependencies first,
// with their texts, as the parsers want them.
func (r *Reader) References(ctx context.Context, s *Schema) ([]serde.Referenced, error) {
	var out []serde.Referenced
	seen := map[string]bool{}
	var walk func(refs []Reference, depth int) error
	walk = func(refs []Reference, depth int) error {
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
			dep, err := r.Version(ctx, ref.Subject, v)
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

// Parse parses a stored schema with its references.
func (r *Reader) Parse(ctx context.Context, s *Schema) (serde.Schema, error) {
	refs, err := r.References(ctx, s)
	if err != nil {
		return nil, err
	}
	p, err := ParseSchema(s.TypeName(), s.Schema, refs)
	if err != nil {
		return nil, fmt.Errorf("subject %s version %d: the registry's schema does not parse here: %w", s.Subject, s.Version, err)
	}
	return p, nil
}

// ParseSchema parses text of a REST schema type (AVRO, PROTOBUF, JSON).
func ParseSchema(typ, text string, refs []serde.Referenced) (serde.Schema, error) {
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

// TypeOf is the REST API's name of a format: AVRO, PROTOBUF or JSON.
func TypeOf(f serde.Format) string {
	switch f {
	case serde.Protobuf:
		return "PROTOBUF"
	case serde.JSON:
		return "JSON"
	}
	return "AVRO"
}
