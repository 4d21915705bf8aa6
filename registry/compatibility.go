package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/serde"
)

// Compatibility (spec §4.17, §4.18, §10). The rules themselves live in
// registry/compat; this file picks the history and the level.
//
// The subject's compatibilityPolicy config (STRICT or LENIENT) is passed to
// the rules. Should a format ever lack rules (compat answers
// compat.ErrNotSupported), it is never reported compatible: registering or
// testing fails with an *InvalidSchemaError (Confluent 42201) wrapping it.

// histEntry is one version of a compatibility history.
type histEntry struct {
	number int
	entry  *schemaEntry
}

// history returns the live versions of subj that a registration is checked
// against, oldest first: all of them, filtered by the configured
// compatibilityGroup (only versions whose metadata property of that name
// equals the candidate's; both absent counts as equal). The caller holds mu
// or writeMu.
func (s *state) history(subj string, cfg SubjectConfig, md json.RawMessage) []histEntry {
	sub := s.subjects[subj]
	if sub == nil {
		return nil
	}
	group := ""
	if cfg.CompatibilityGroup != nil {
		group = *cfg.CompatibilityGroup
	}
	want, wantOK := metadataProperty(md, group)
	var out []histEntry
	for _, v := range sub.versions {
		if v.deleted {
			continue
		}
		e := s.schemas[v.id]
		if e == nil {
			continue
		}
		if group != "" {
			got, gotOK := metadataProperty(e.schema.Metadata, group)
			if got != want || gotOK != wantOK {
				continue
			}
		}
		out = append(out, histEntry{number: v.version, entry: e})
	}
	return out
}

// checkHistory runs compat.Check of candidate against hist under level and
// returns the violations of the first failing version. The caller must not
// hold mu (stored schemas are parsed on first use).
func (r *Registry) checkHistory(subj string, level compat.Level, opts compat.Options, candidate serde.Schema, hist []histEntry) ([]compat.Violation, error) {
	versions := make([]compat.Version, 0, len(hist))
	for _, h := range hist {
		p, err := r.parsed(h.entry)
		if err != nil {
			return nil, fmt.Errorf("subject %q version %d: the stored schema cannot be parsed to check compatibility: %w", subj, h.number, err)
		}
		versions = append(versions, compat.Version{Number: h.number, Schema: p})
	}
	vs, err := safeCompat(func() ([]compat.Violation, error) { return compat.CheckWith(level, opts, candidate, versions) })
	return vs, r.compatError(subj, level, err)
}

// safeCompat runs a compat function and turns a panic (a bug in a rule set
// that is still being written) into an error, so a bad rule cannot take the
// registry down with it.
func safeCompat(fn func() ([]compat.Violation, error)) (vs []compat.Violation, err error) {
	defer func() {
		if p := recover(); p != nil {
			vs, err = nil, fmt.Errorf("compatibility rules failed: %v", p)
		}
	}()
	return fn()
}

// compatError turns a compat failure into the registry's error.
func (r *Registry) compatError(subj string, level compat.Level, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, compat.ErrNotSupported) {
		return fmt.Errorf("subject %q: %w", subj, &InvalidSchemaError{
			Reason: fmt.Sprintf("cannot check compatibility level %s: %v", level, err),
			Err:    err,
		})
	}
	return fmt.Errorf("subject %q: compatibility check: %w", subj, err)
}

// CheckCompatibility checks in against subject without registering it,
// under the subject's effective compatibility level.
//
// version 0 checks the whole live history exactly as Register would (§4.18;
// an unknown or empty subject is compatible). Latest or a positive number
// checks only that one version, in the direction(s) the level implies
// (§4.17): Latest on a subject with no live version is compatible; a
// missing or soft-deleted numbered version is ErrVersionNotFound even when
// the subject is unknown. Level NONE is always compatible. normalize is
// accepted for symmetry with Register; normalisation never changes a
// verdict.
//
// Errors: ErrInvalidVersion, ErrInvalidSubject, ErrSchemaTooLarge,
// ErrVersionNotFound, *InvalidSchemaError (in does not parse, or the level
// cannot be checked for the format yet).
func (r *Registry) CheckCompatibility(ctx context.Context, subject string, in Schema, version int, normalize bool) (CompatibilityResult, error) {
	subj, err := canonicalSubject(subject)
	if err != nil {
		return CompatibilityResult{}, err
	}
	if version < Latest {
		return CompatibilityResult{}, fmt.Errorf("subject %q version %d: %w: want a positive number, -1 (latest) or 0 (all)", subj, version, ErrInvalidVersion)
	}
	if err := r.checkInput(subj, &in); err != nil {
		return CompatibilityResult{}, err
	}
	md, rs, err := canonicalMeta(subj, in)
	if err != nil {
		return CompatibilityResult{}, err
	}

	r.mu.RLock()
	cfg := r.st.effectiveConfig(subj)
	level := *cfg.Compatibility
	var hist []histEntry
	sub := r.st.subjects[subj]
	switch {
	case version == 0:
		hist = r.st.history(subj, cfg, md)
	case version == Latest:
		if l := sub.latestLive(); l != nil {
			hist = []histEntry{{number: l.version, entry: r.st.schemas[l.id]}}
		}
	default:
		v := sub.find(version)
		if v == nil || v.deleted {
			r.mu.RUnlock()
			return CompatibilityResult{}, fmt.Errorf("subject %q version %d: %w", subj, version, ErrVersionNotFound)
		}
		hist = []histEntry{{number: v.version, entry: r.st.schemas[v.id]}}
	}
	text := in.Text
	if text == "" {
		r.mu.RUnlock()
		return CompatibilityResult{}, fmt.Errorf("subject %q: %w", subj, &InvalidSchemaError{Reason: "empty schema"})
	}
	concrete, flat, err := resolveRefs(r.st, in.References)
	r.mu.RUnlock()
	if err != nil {
		return CompatibilityResult{}, fmt.Errorf("subject %q: %w", subj, err)
	}
	p, err := r.build(subj, in.Type, text, concrete, flat, md, rs, normalize, false, nil)
	if err != nil {
		return CompatibilityResult{}, err
	}

	res := CompatibilityResult{Compatible: true, Level: level}
	if level == compat.None || len(hist) == 0 {
		return res, nil
	}
	var vs []compat.Violation
	if version == 0 {
		vs, err = r.checkHistory(subj, level, cfg.policy(), p.parsed, hist)
	} else {
		// One named version: transitivity is moot, check the pair.
		var old serde.Schema
		if old, err = r.parsed(hist[0].entry); err == nil {
			vs, err = safeCompat(func() ([]compat.Violation, error) { return compat.PairWith(level, cfg.policy(), p.parsed, old) })
			err = r.compatError(subj, level, err)
			for i := range vs {
				vs[i].Version = hist[0].number
			}
		} else {
			err = fmt.Errorf("subject %q version %d: the stored schema cannot be parsed to check compatibility: %w", subj, hist[0].number, err)
		}
	}
	if err != nil {
		return CompatibilityResult{}, err
	}
	res.Compatible = len(vs) == 0
	res.Violations = vs
	return res, nil
}
