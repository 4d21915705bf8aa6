package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/registry/internal/store"
)

// Configuration and modes (spec §4.19, §4.20). Both exist at two levels,
// global ("") and per subject; the effective value of a subject is its own
// where set, else the global one, else the default (BACKWARD, READWRITE).

// DefaultCompatibility is the global compatibility level until one is set.
const DefaultCompatibility = compat.Backward

// Config keys that the registry itself interprets; they are typed fields of
// SubjectConfig and may not also appear in Other.
var typedConfigKeys = map[string]bool{
	"compatibility": true, "compatibilityLevel": true, "normalize": true,
	"validateFields": true, "compatibilityGroup": true,
}

// Other keys holding a metadata object or a rule set, merged on register.
var objectConfigKeys = map[string]string{
	"defaultMetadata": "metadata", "overrideMetadata": "metadata",
	"defaultRuleSet": "ruleSet", "overrideRuleSet": "ruleSet",
}

// metadataConfigKeys are the keys of objectConfigKeys, as a slice.
var metadataConfigKeys = []string{"defaultMetadata", "overrideMetadata", "defaultRuleSet", "overrideRuleSet"}

// configJSON is the stored form of a SubjectConfig.
type configJSON struct {
	Compatibility      *compat.Level `json:"compatibility,omitempty"`
	Normalize          *bool         `json:"normalize,omitempty"`
	ValidateFields     *bool         `json:"validateFields,omitempty"`
	CompatibilityGroup *string       `json:"compatibilityGroup,omitempty"`
}

func encodeConfig(c SubjectConfig) (string, error) {
	m := map[string]json.RawMessage{}
	maps.Copy(m, c.Other)
	typed, err := json.Marshal(configJSON{c.Compatibility, c.Normalize, c.ValidateFields, c.CompatibilityGroup})
	if err != nil {
		return "", err
	}
	var tm map[string]json.RawMessage
	if err := json.Unmarshal(typed, &tm); err != nil {
		return "", err
	}
	maps.Copy(m, tm)
	b, err := marshalCompact(m)
	return string(b), err
}

func decodeConfig(s string) (SubjectConfig, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return SubjectConfig{}, err
	}
	var cj configJSON
	if err := json.Unmarshal([]byte(s), &cj); err != nil {
		return SubjectConfig{}, err
	}
	c := SubjectConfig{Compatibility: cj.Compatibility, Normalize: cj.Normalize, ValidateFields: cj.ValidateFields, CompatibilityGroup: cj.CompatibilityGroup}
	for k, v := range m {
		if typedConfigKeys[k] {
			continue
		}
		if c.Other == nil {
			c.Other = map[string]json.RawMessage{}
		}
		c.Other[k] = v
	}
	return c, nil
}

// clone deep-copies c so callers cannot alter the registry's copy.
func (c SubjectConfig) clone() SubjectConfig {
	out := c
	if c.Compatibility != nil {
		l := *c.Compatibility
		out.Compatibility = &l
	}
	if c.Normalize != nil {
		b := *c.Normalize
		out.Normalize = &b
	}
	if c.ValidateFields != nil {
		b := *c.ValidateFields
		out.ValidateFields = &b
	}
	if c.CompatibilityGroup != nil {
		s := *c.CompatibilityGroup
		out.CompatibilityGroup = &s
	}
	if c.Other != nil {
		out.Other = make(map[string]json.RawMessage, len(c.Other))
		for k, v := range c.Other {
			out.Other[k] = bytes.Clone(v)
		}
	}
	return out
}

// merge returns c with every field set in over replaced.
func (c SubjectConfig) merge(over SubjectConfig) SubjectConfig {
	out := c.clone()
	over = over.clone()
	if over.Compatibility != nil {
		out.Compatibility = over.Compatibility
	}
	if over.Normalize != nil {
		out.Normalize = over.Normalize
	}
	if over.ValidateFields != nil {
		out.ValidateFields = over.ValidateFields
	}
	if over.CompatibilityGroup != nil {
		out.CompatibilityGroup = over.CompatibilityGroup
	}
	for k, v := range over.Other {
		if out.Other == nil {
			out.Other = map[string]json.RawMessage{}
		}
		out.Other[k] = v
	}
	return out
}

// globalConfig is the stored global configuration with the default level
// filled in.
func (s *state) globalConfig() SubjectConfig {
	c := s.configs[""].clone()
	if c.Compatibility == nil {
		l := DefaultCompatibility
		c.Compatibility = &l
	}
	return c
}

// effectiveConfig is the configuration that applies to subject.
func (s *state) effectiveConfig(subject string) SubjectConfig {
	g := s.globalConfig()
	if subject == "" {
		return g
	}
	if sc, ok := s.configs[subject]; ok {
		return g.merge(sc)
	}
	return g
}

// fastConfig returns, without copying configurations, the two settings the
// register fast path needs: the effective normalize flag and whether
// metadata defaults or overrides apply (subject level, else global).
func (s *state) fastConfig(subject string) (normalize, metadataDefaults bool) {
	g, sc := s.configs[""], s.configs[subject]
	if sc.Normalize != nil {
		normalize = *sc.Normalize
	} else if g.Normalize != nil {
		normalize = *g.Normalize
	}
	return normalize, g.hasMetadataDefaults() || sc.hasMetadataDefaults()
}

// policyConfigKey is the config key of the compatibility policy (spec
// §1.3): STRICT (the default) or LENIENT, which relaxes the JSON Schema
// content-model rules of §11.6.
const policyConfigKey = "compatibilityPolicy"

// policy returns the compatibility options of an effective configuration.
// SetConfig validated the stored value, so a parse failure means STRICT.
func (c SubjectConfig) policy() compat.Options {
	var name string
	if v, ok := c.Other[policyConfigKey]; ok {
		_ = json.Unmarshal(v, &name)
	}
	p, _ := compat.ParsePolicy(name)
	return compat.Options{Policy: p}
}

// hasMetadataDefaults reports whether c would change a registration's
// metadata or rule set, which disables the register fast path (§4.3 step 1).
func (c SubjectConfig) hasMetadataDefaults() bool {
	if len(c.Other) == 0 {
		return false // the common case, on the register fast path
	}
	for _, k := range metadataConfigKeys {
		if v, ok := c.Other[k]; ok && len(v) > 0 && string(v) != "null" {
			return true
		}
	}
	return false
}

// Config returns the configuration of subject ("" for global). The global
// configuration always carries a compatibility level (BACKWARD by default).
// A subject without its own configuration answers ErrSubjectConfigNotFound,
// unless defaultToGlobal asks for the effective (merged) configuration.
func (r *Registry) Config(ctx context.Context, subject string, defaultToGlobal bool) (SubjectConfig, error) {
	subj, err := scopeSubject(subject)
	if err != nil {
		return SubjectConfig{}, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if subj == "" || defaultToGlobal {
		return r.st.effectiveConfig(subj), nil
	}
	c, ok := r.st.configs[subj]
	if !ok {
		return SubjectConfig{}, fmt.Errorf("subject %q: %w", subj, ErrSubjectConfigNotFound)
	}
	return c.clone(), nil
}

// SetConfig merges update into the configuration of subject ("" for
// global): fields set in update replace stored ones, others are kept; an
// Other key whose value is JSON null is removed. It returns the stored
// configuration of that level after the merge. Subjects need no versions to
// be configured. Refused with ErrOperationNotPermitted in READONLY mode.
func (r *Registry) SetConfig(ctx context.Context, subject string, update SubjectConfig) (SubjectConfig, error) {
	subj, err := scopeSubject(subject)
	if err != nil {
		return SubjectConfig{}, err
	}
	update = update.clone()
	if update.Compatibility != nil {
		l, err := compat.ParseLevel(string(*update.Compatibility))
		if err != nil {
			return SubjectConfig{}, fmt.Errorf("%s: %w %q: want one of %v", scopeName(subj), ErrInvalidCompatibility, *update.Compatibility, compat.Levels)
		}
		update.Compatibility = &l
	}
	for k, v := range update.Other {
		if typedConfigKeys[k] {
			return SubjectConfig{}, fmt.Errorf("%s: config key %q is a typed field, not an Other key: %w", scopeName(subj), k, ErrInvalidCompatibility)
		}
		if what, ok := objectConfigKeys[k]; ok && string(bytes.TrimSpace(v)) != "null" {
			obj, err := canonicalObject(v, fmt.Sprintf("config %s", k))
			if err != nil {
				return SubjectConfig{}, &InvalidSchemaError{Reason: fmt.Sprintf("%s: %v", scopeName(subj), err)}
			}
			if what == "ruleSet" {
				if msg := validateRuleSet(obj); msg != "" {
					return SubjectConfig{}, fmt.Errorf("%s: config %s: %w: %s", scopeName(subj), k, ErrInvalidRuleSet, msg)
				}
			}
			update.Other[k] = obj
		} else if !json.Valid(v) {
			return SubjectConfig{}, &InvalidSchemaError{Reason: fmt.Sprintf("%s: config %s is not valid JSON", scopeName(subj), k)}
		}
		if k == policyConfigKey && string(bytes.TrimSpace(v)) != "null" {
			var name string
			if err := json.Unmarshal(v, &name); err != nil {
				return SubjectConfig{}, fmt.Errorf("%s: config %s must be a string: %w", scopeName(subj), k, ErrInvalidCompatibility)
			}
			p, err := compat.ParsePolicy(name)
			if err != nil {
				return SubjectConfig{}, fmt.Errorf("%s: %w: %v", scopeName(subj), ErrInvalidCompatibility, err)
			}
			update.Other[k], _ = json.Marshal(string(p))
		}
	}

	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if err := r.writable(subj, "change the configuration"); err != nil {
		return SubjectConfig{}, err
	}
	next := r.st.configs[subj].merge(update)
	for k, v := range next.Other {
		if string(bytes.TrimSpace(v)) == "null" {
			delete(next.Other, k)
		}
	}
	if len(next.Other) == 0 {
		next.Other = nil
	}
	enc, err := encodeConfig(next)
	if err != nil {
		return SubjectConfig{}, fmt.Errorf("%s: encode config: %w", scopeName(subj), err)
	}
	w := &store.Write{PutConfigs: []store.Setting{{Subject: subj, Value: enc}}}
	if err := r.commit(ctx, w, nil, scopeName(subj)+": set config"); err != nil {
		return SubjectConfig{}, err
	}
	return next.clone(), nil
}

// DeleteConfig removes the configuration of subject and returns what it was.
// For the global level ("") it resets to the defaults and returns the
// previous global configuration (with its level filled in); a subject
// without its own configuration answers ErrSubjectNotFound (Confluent
// 40401).
func (r *Registry) DeleteConfig(ctx context.Context, subject string) (SubjectConfig, error) {
	subj, err := scopeSubject(subject)
	if err != nil {
		return SubjectConfig{}, err
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if err := r.writable(subj, "delete the configuration"); err != nil {
		return SubjectConfig{}, err
	}
	prev, ok := r.st.configs[subj]
	if subj == "" {
		prev = r.st.globalConfig()
	} else if !ok {
		return SubjectConfig{}, fmt.Errorf("subject %q has no configuration: %w", subj, ErrSubjectNotFound)
	}
	if ok {
		w := &store.Write{DeleteConfigs: []string{subj}}
		if err := r.commit(ctx, w, nil, scopeName(subj)+": delete config"); err != nil {
			return SubjectConfig{}, err
		}
	}
	return prev.clone(), nil
}

func scopeName(subj string) string {
	if subj == "" {
		return "global"
	}
	return fmt.Sprintf("subject %q", subj)
}

// ParseMode parses a mode name case-insensitively, ignoring surrounding
// spaces; an unknown name wraps ErrInvalidMode.
func ParseMode(s string) (Mode, error) {
	m := Mode(strings.ToUpper(strings.TrimSpace(s)))
	switch m {
	case ReadWrite, ReadOnly, ReadOnlyOverride, Import:
		return m, nil
	}
	return "", fmt.Errorf("%w %q: want READWRITE, READONLY, READONLY_OVERRIDE or IMPORT", ErrInvalidMode, s)
}

// effectiveMode is the mode that applies to subject: a global
// READONLY_OVERRIDE beats subject modes; otherwise the subject's own mode,
// else the global one, else READWRITE.
func (s *state) effectiveMode(subject string) Mode {
	g, ok := s.modes[""]
	if !ok {
		g = ReadWrite
	}
	if g == ReadOnlyOverride || subject == "" {
		return g
	}
	if m, ok := s.modes[subject]; ok {
		return m
	}
	return g
}

// writable refuses a write to subject ("" global) in a read-only mode.
func (r *Registry) writable(subj, what string) error {
	switch m := r.st.effectiveMode(subj); m {
	case ReadOnly, ReadOnlyOverride:
		return fmt.Errorf("%s: cannot %s in %s mode: %w", scopeName(subj), what, m, ErrOperationNotPermitted)
	}
	return nil
}

// Mode returns the mode of subject ("" for global, READWRITE unless set). A
// subject without its own mode answers ErrSubjectModeNotFound unless
// defaultToGlobal asks for the effective mode.
func (r *Registry) Mode(ctx context.Context, subject string, defaultToGlobal bool) (Mode, error) {
	subj, err := scopeSubject(subject)
	if err != nil {
		return "", err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if subj == "" || defaultToGlobal {
		return r.st.effectiveMode(subj), nil
	}
	m, ok := r.st.modes[subj]
	if !ok {
		return "", fmt.Errorf("subject %q: %w", subj, ErrSubjectModeNotFound)
	}
	return m, nil
}

// SetMode sets the mode of subject ("" for global) and returns it. Mode
// changes are allowed in every mode. Switching to IMPORT requires that no
// live version exists in scope (the subject, or every subject for global),
// else ErrOperationNotPermitted, unless force; without force the switch also
// hard-deletes the soft-deleted versions left in scope (except those still
// referenced from outside it), so that an import starts clean.
func (r *Registry) SetMode(ctx context.Context, subject string, m Mode, force bool) (Mode, error) {
	subj, err := scopeSubject(subject)
	if err != nil {
		return "", err
	}
	m, err = ParseMode(string(m))
	if err != nil {
		return "", fmt.Errorf("%s: %w", scopeName(subj), err)
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	w := &store.Write{PutModes: []store.Setting{{Subject: subj, Value: string(m)}}}
	if m == Import && r.st.effectiveMode(subj) != Import && !force {
		inScope := func(name string) bool { return subj == "" || name == subj }
		for _, name := range slices.Sorted(maps.Keys(r.st.subjects)) {
			if inScope(name) && r.st.subjects[name].hasLive() {
				return "", fmt.Errorf("%s: cannot switch to IMPORT mode while subject %q has live versions (use force): %w", scopeName(subj), name, ErrOperationNotPermitted)
			}
		}
		r.purgeLocked(w, inScope)
		// The purge may empty the subject, which drops its mode; the mode
		// being set here must survive.
		w.DeleteModes = slices.DeleteFunc(w.DeleteModes, func(s string) bool { return s == subj })
	}
	if err := r.commit(ctx, w, nil, scopeName(subj)+": set mode"); err != nil {
		return "", err
	}
	return m, nil
}

// purgeLocked adds to w the hard deletion of every (soft-deleted) version of
// the subjects inScope selects, skipping versions that a schema outside the
// purge still references, and of the schemas left unused.
func (r *Registry) purgeLocked(w *store.Write, inScope func(string) bool) {
	gone := map[store.VersionKey]bool{}
	for name, sub := range r.st.subjects {
		if !inScope(name) {
			continue
		}
		for _, v := range sub.versions {
			gone[store.VersionKey{Subject: name, Version: v.version}] = true
		}
	}
	// Keep versions referenced by a schema that survives; repeat because
	// keeping one can keep what it references.
	for changed := true; changed; {
		changed = false
		for id, e := range r.st.schemas {
			if !r.st.idUsed(id, gone) {
				continue // this referrer goes too
			}
			for _, ref := range e.schema.References {
				k := store.VersionKey{Subject: ref.Subject, Version: ref.Version}
				if gone[k] {
					delete(gone, k)
					changed = true
				}
			}
		}
	}
	r.hardDeleteLocked(w, gone)
}

// hardDeleteLocked adds to w the removal of the versions in gone, of the
// schemas no other version uses, and of the configuration and mode of
// subjects left with no version.
func (r *Registry) hardDeleteLocked(w *store.Write, gone map[store.VersionKey]bool) {
	ids := map[int]bool{}
	left := map[string]int{}
	for name, sub := range r.st.subjects {
		left[name] = len(sub.versions)
	}
	for k := range gone {
		sub := r.st.subjects[k.Subject]
		v := sub.find(k.Version)
		if v == nil {
			continue
		}
		w.DeleteVersions = append(w.DeleteVersions, k)
		ids[v.id] = true
		left[k.Subject]--
	}
	sortKeys(w.DeleteVersions)
	for id := range ids {
		if !r.st.idUsed(id, gone) {
			w.DeleteSchemas = append(w.DeleteSchemas, id)
		}
	}
	sortInts(w.DeleteSchemas)
	for name, n := range left {
		if n > 0 {
			continue
		}
		if _, ok := r.st.configs[name]; ok {
			w.DeleteConfigs = append(w.DeleteConfigs, name)
		}
		if _, ok := r.st.modes[name]; ok {
			w.DeleteModes = append(w.DeleteModes, name)
		}
	}
}

// DeleteMode removes the mode of subject and returns what it was. For the
// global level ("") it resets to READWRITE and returns the previous global
// mode; a subject without its own mode answers ErrSubjectNotFound
// (Confluent 40401).
func (r *Registry) DeleteMode(ctx context.Context, subject string) (Mode, error) {
	subj, err := scopeSubject(subject)
	if err != nil {
		return "", err
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	prev, ok := r.st.modes[subj]
	if !ok {
		if subj != "" {
			return "", fmt.Errorf("subject %q has no mode: %w", subj, ErrSubjectNotFound)
		}
		return ReadWrite, nil
	}
	w := &store.Write{DeleteModes: []string{subj}}
	if err := r.commit(ctx, w, nil, scopeName(subj)+": delete mode"); err != nil {
		return "", err
	}
	return prev, nil
}
