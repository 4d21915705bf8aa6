package registry

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/registry/internal/store"
	"github.com/sluicehq/sluice/serde"
)

// Register and Lookup (spec §4.3, §4.4). The numbered steps in comments are
// those of §4.3.

// prepared is a request schema in stored form.
type prepared struct {
	schema Schema
	hash   string
	parsed serde.Schema // nil only for an IMPORT-mode schema that does not parse
}

// checkInput fills the default type (Avro, as the REST API does for an
// absent schemaType) and enforces the size limit.
func (r *Registry) checkInput(subj string, in *Schema) error {
	if in.Type == "" {
		in.Type = serde.Avro
	}
	if !in.Type.Valid() {
		return fmt.Errorf("subject %q: %w", subj, &InvalidSchemaError{Reason: fmt.Sprintf("unknown schema type %q: want AVRO, PROTOBUF or JSON", in.Type)})
	}
	if len(in.Text) > r.cfg.MaxSchemaBytes {
		return fmt.Errorf("subject %q: schema text is %d bytes, over the limit of %d: %w", subj, len(in.Text), r.cfg.MaxSchemaBytes, ErrSchemaTooLarge)
	}
	return nil
}

// canonicalMeta validates and canonicalises the request's metadata and rule
// set (absent or null gives nil).
func canonicalMeta(subj string, in Schema) (md, rs json.RawMessage, err error) {
	if md, err = canonicalObject(in.Metadata, "metadata"); err != nil {
		return nil, nil, fmt.Errorf("subject %q: %w", subj, &InvalidSchemaError{Reason: err.Error()})
	}
	if rs, err = canonicalObject(in.RuleSet, "ruleSet"); err != nil {
		return nil, nil, fmt.Errorf("subject %q: %w: %v", subj, ErrInvalidRuleSet, err)
	}
	if msg := validateRuleSet(rs); msg != "" {
		return nil, nil, fmt.Errorf("subject %q: %w: %s", subj, ErrInvalidRuleSet, msg)
	}
	return md, rs, nil
}

// parseHint carries a parse done by the register fast path to the slow
// path, which reuses it when the text and the resolved references are still
// the same, so a new schema is parsed once, not twice.
type parseHint struct {
	typ    serde.Format
	text   string
	refs   []Reference // concrete, before normalisation
	parsed serde.Schema
}

func (h *parseHint) fits(typ serde.Format, text string, concrete []Reference) bool {
	return h != nil && h.parsed != nil && h.typ == typ && h.text == text && slices.Equal(h.refs, concrete)
}

// build parses a schema whose references are resolved and returns its
// stored form. lenient (IMPORT mode) keeps a text that does not parse as it
// is, because an import must accept whatever the source registry held.
// hint, when it fits, replaces the parse.
func (r *Registry) build(subj string, typ serde.Format, text string, concrete []Reference, flat []serde.Referenced, md, rs json.RawMessage, normalize, lenient bool, hint *parseHint) (prepared, error) {
	var p serde.Schema
	var err error
	hinted := hint.fits(typ, text, concrete)
	if hinted {
		p = hint.parsed
	} else {
		p, err = parse(typ, text, flat)
	}
	if err != nil {
		if !lenient {
			return prepared{}, fmt.Errorf("subject %q: %w", subj, &InvalidSchemaError{Reason: err.Error(), Err: err})
		}
		r.log.Debug("importing a schema that does not parse, stored verbatim", "subject", subj, "err", err)
	}
	stored := text
	if p != nil {
		if normalize {
			stored = p.Normalized()
		} else {
			stored = p.Canonical()
		}
	}
	if normalize {
		concrete = normalizeRefs(concrete)
	}
	digest := sha256.Sum256([]byte(stored))
	if p != nil && len(concrete) == 0 && !hinted {
		r.rememberCanonical(canonKey{raw: sha256.Sum256([]byte(text)), typ: typ, normalize: normalize}, digest)
	}
	return prepared{
		schema: Schema{Type: typ, Text: stored, References: concrete, Metadata: md, RuleSet: rs},
		hash:   identity(typ, digest, concrete, md, rs),
		parsed: p,
	}, nil
}

// quickHashes returns the identities the request could have without parsing
// it: its text taken as already canonical, and the canonical digest a
// previous parse recorded. The caller holds mu or writeMu.
func (r *Registry) quickHashes(st *state, in Schema, md, rs json.RawMessage, normalize bool) []string {
	concrete, _, err := resolveRefs(st, in.References)
	if err != nil {
		return nil
	}
	if normalize {
		concrete = normalizeRefs(concrete)
	}
	raw := sha256.Sum256([]byte(in.Text))
	out := []string{identity(in.Type, raw, concrete, md, rs)}
	if len(in.References) == 0 {
		if d, ok := r.canonicalDigest(canonKey{raw: raw, typ: in.Type, normalize: normalize}); ok && d != raw {
			out = append(out, identity(in.Type, d, concrete, md, rs))
		}
	}
	return out
}

// matchIn returns the version of sub holding a schema with one of hashes:
// the latest live version only when onlyLatest, else the highest matching
// version (live only unless deleted).
func (st *state) matchIn(sub *subjectEntry, hashes []string, onlyLatest, deleted bool) *versionEntry {
	if sub == nil {
		return nil
	}
	for _, h := range hashes {
		ids := st.idsByHash[h]
		if len(ids) == 0 {
			continue
		}
		if onlyLatest {
			if l := sub.latestLive(); l != nil && containsInt(ids, l.id) {
				return l
			}
			continue
		}
		if v := sub.matchVersion(ids, deleted); v != nil {
			return v
		}
	}
	return nil
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Register adds in to subject and returns the new version, or the existing
// live version already holding the same schema (the same canonical text,
// references, metadata and rule set). See spec §4.3 for every rule; in
// short: an already registered schema is answered before mode checks (so
// even in READONLY mode); READONLY refuses; IMPORT mode requires opt.ID and
// skips validation and compatibility; an empty text re-uses the latest live
// version's schema; omitted metadata and rule set are inherited from the
// latest live version; identical schemas share one id across subjects; the
// candidate must be compatible with the live history under the subject's
// level.
//
// Errors: ErrInvalidSubject, ErrSchemaTooLarge, ErrInvalidRuleSet,
// ErrInvalidVersion, ErrOperationNotPermitted, *InvalidSchemaError (also
// when the level cannot be checked for the format yet: errors.Is(err,
// compat.ErrNotSupported)), *IncompatibleError, ErrStore.
func (r *Registry) Register(ctx context.Context, subject string, in Schema, opt RegisterOptions) (SubjectVersion, error) {
	subj, err := canonicalSubject(subject)
	if err != nil {
		return SubjectVersion{}, err
	}
	if err := r.checkInput(subj, &in); err != nil {
		return SubjectVersion{}, err
	}
	if opt.Version < Latest {
		return SubjectVersion{}, fmt.Errorf("subject %q version %d: %w: want a positive number, -1 or 0 (next)", subj, opt.Version, ErrInvalidVersion)
	}
	if opt.ID < 0 {
		return SubjectVersion{}, fmt.Errorf("subject %q: id %d: %w: ids are positive", subj, opt.ID, ErrOperationNotPermitted)
	}
	md, rs, err := canonicalMeta(subj, in)
	if err != nil {
		return SubjectVersion{}, err
	}
	// 1. The idempotent fast path, under the read lock only.
	sv, ok, hint := r.registered(subj, in, md, rs, opt)
	if ok {
		return sv, nil
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	return r.registerLocked(ctx, subj, in, md, rs, opt, hint)
}

// registered answers the fast path: in is already a live version of subj.
// It first tries the identities known without parsing (quickHashes), then
// parses outside the lock, so that any spelling of a registered schema is
// answered here, in every mode.
// When it had to parse, it returns the parse as a hint for the slow path.
func (r *Registry) registered(subj string, in Schema, md, rs json.RawMessage, opt RegisterOptions) (SubjectVersion, bool, *parseHint) {
	if strings.TrimSpace(in.Text) == "" {
		return SubjectVersion{}, false, nil
	}
	match := func(hashes []string) (SubjectVersion, bool) {
		st := r.st
		v := st.matchIn(st.subjects[subj], hashes, opt.Version == Latest, false)
		if v == nil || (opt.ID != 0 && v.id != opt.ID) || (opt.Version > 0 && v.version != opt.Version) {
			return SubjectVersion{}, false
		}
		return st.subjectVersion(subj, v), true
	}

	r.mu.RLock()
	st := r.st
	cfgNormalize, defaults := st.fastConfig(subj)
	if st.subjects[subj] == nil || defaults {
		r.mu.RUnlock()
		return SubjectVersion{}, false, nil
	}
	normalize := opt.Normalize || cfgNormalize
	if sv, ok := match(r.quickHashes(st, in, md, rs, normalize)); ok {
		r.mu.RUnlock()
		return sv, true, nil
	}
	concrete, flat, err := resolveRefs(st, in.References)
	r.mu.RUnlock()
	if err != nil {
		return SubjectVersion{}, false, nil // the slow path reports it
	}
	p, err := r.build(subj, in.Type, in.Text, concrete, flat, md, rs, normalize, false, nil)
	if err != nil {
		return SubjectVersion{}, false, nil
	}
	hint := &parseHint{typ: in.Type, text: in.Text, refs: concrete, parsed: p.parsed}
	r.mu.RLock()
	defer r.mu.RUnlock()
	sv, ok := match([]string{p.hash})
	return sv, ok, hint
}

func (r *Registry) registerLocked(ctx context.Context, subj string, in Schema, md, rs json.RawMessage, opt RegisterOptions, hint *parseHint) (SubjectVersion, error) {
	st := r.st // writeMu held: no lock needed to read
	cfg := st.effectiveConfig(subj)
	mode := st.effectiveMode(subj)

	// 2. Modes.
	switch {
	case mode == ReadOnly || mode == ReadOnlyOverride:
		return SubjectVersion{}, fmt.Errorf("subject %q: cannot register in %s mode: %w", subj, mode, ErrOperationNotPermitted)
	case opt.ID != 0 && mode != Import:
		return SubjectVersion{}, fmt.Errorf("subject %q: a schema id (%d) may only be given in IMPORT mode, the mode is %s: %w", subj, opt.ID, mode, ErrOperationNotPermitted)
	case mode == Import && opt.ID == 0:
		return SubjectVersion{}, fmt.Errorf("subject %q: IMPORT mode requires a schema id: %w", subj, ErrOperationNotPermitted)
	}
	importing := mode == Import

	sub := st.subjects[subj]
	var latest *versionEntry
	if sub != nil {
		latest = sub.latestLive()
	}

	// 3. An empty schema re-uses the latest live version's schema.
	if strings.TrimSpace(in.Text) == "" {
		if latest == nil {
			return SubjectVersion{}, fmt.Errorf("subject %q: %w", subj, &InvalidSchemaError{Reason: "empty schema, and the subject has no live version whose schema could be re-used"})
		}
		prev := st.schemas[latest.id].schema
		in.Type, in.Text, in.References = prev.Type, prev.Text, prev.References
	}

	// 4. Metadata and rule set: inherit when omitted, then lay the
	// configured defaults under and overrides over.
	if latest != nil {
		prev := st.schemas[latest.id].schema
		if md == nil {
			md = prev.Metadata
		}
		if rs == nil {
			rs = prev.RuleSet
		}
	}
	var err error
	if md, err = layer(md, cfg.Other["defaultMetadata"], cfg.Other["overrideMetadata"], mergeMetadata); err != nil {
		return SubjectVersion{}, fmt.Errorf("subject %q: merge configured metadata: %w", subj, &InvalidSchemaError{Reason: err.Error(), Err: err})
	}
	if rs, err = layer(rs, cfg.Other["defaultRuleSet"], cfg.Other["overrideRuleSet"], mergeRuleSet); err != nil {
		return SubjectVersion{}, fmt.Errorf("subject %q: merge configured rule set: %w: %v", subj, ErrInvalidRuleSet, err)
	}

	// 5, 6. Resolve references, parse, canonicalise or normalise.
	concrete, flat, err := resolveRefs(st, in.References)
	if err != nil {
		return SubjectVersion{}, fmt.Errorf("subject %q: %w", subj, err)
	}
	normalize := opt.Normalize || (cfg.Normalize != nil && *cfg.Normalize)
	p, err := r.build(subj, in.Type, in.Text, concrete, flat, md, rs, normalize, importing, hint)
	if err != nil {
		return SubjectVersion{}, err
	}
	if !importing {
		if err := compileRules(subj, p); err != nil {
			return SubjectVersion{}, err
		}
	}
	// The schema may already be a live version once inherited metadata or
	// normalisation are applied: answer it like the fast path.
	if v := st.matchIn(sub, []string{p.hash}, opt.Version == Latest, false); v != nil && (opt.ID == 0 || v.id == opt.ID) && (opt.Version <= 0 || v.version == opt.Version) {
		return st.subjectVersion(subj, v), nil
	}

	// 8, 11. The version number.
	next := sub.maxVersion() + 1
	n := next
	if opt.Version > 0 {
		if importing {
			n = opt.Version
			if ex := sub.find(n); ex != nil {
				return SubjectVersion{}, fmt.Errorf("subject %q version %d: already exists with schema id %d, cannot import id %d over it: %w", subj, n, ex.id, opt.ID, ErrOperationNotPermitted)
			}
		} else if opt.Version != next {
			return SubjectVersion{}, fmt.Errorf("subject %q: %w", subj, &InvalidSchemaError{Reason: fmt.Sprintf("version %d is not the next version of the subject, which is %d", opt.Version, next)})
		}
	}
	// 4 (end). Pin the version number in the metadata when asked.
	if _, pinned := metadataProperty(p.schema.Metadata, confluentVersionKey); opt.Version != 0 || pinned {
		if p.schema.Metadata, err = withVersionProperty(p.schema.Metadata, n); err != nil {
			return SubjectVersion{}, fmt.Errorf("subject %q: set %s: %w", subj, confluentVersionKey, &InvalidSchemaError{Reason: err.Error(), Err: err})
		}
		p.hash = identity(p.schema.Type, sha256.Sum256([]byte(p.schema.Text)), p.schema.References, p.schema.Metadata, p.schema.RuleSet)
	}

	// 7. The id: the existing one of an identical schema, the imported one,
	// or a fresh one above the high-water mark.
	var id int
	newSchema := false
	switch ids := st.idsByHash[p.hash]; {
	case importing:
		id = opt.ID
		if e := st.schemas[id]; e == nil {
			newSchema = true
		} else if e.hash != p.hash {
			return SubjectVersion{}, fmt.Errorf("subject %q: schema id %d already holds a different schema, overwriting it is not permitted: %w", subj, id, ErrOperationNotPermitted)
		}
	case len(ids) > 0:
		id = ids[0]
	default:
		id = st.maxID + 1
		newSchema = true
	}

	// 9. Compatibility with the live history.
	level := *cfg.Compatibility
	if !importing && !opt.Force && level != compat.None {
		vs, err := r.checkHistory(subj, level, cfg.policy(), p.parsed, st.history(subj, cfg, p.schema.Metadata))
		if err != nil {
			return SubjectVersion{}, err
		}
		if len(vs) > 0 {
			return SubjectVersion{}, &IncompatibleError{Subject: subj, Level: level, Violations: vs}
		}
	}

	w := &store.Write{PutVersions: []store.Version{{Subject: subj, Version: n, SchemaID: id}}}
	parsed := map[int]serde.Schema{}
	if newSchema {
		w.PutSchemas = []store.Schema{rowFromEntry(id, p.schema, p.hash)}
		w.MaxID = max(id, st.maxID)
		parsed[id] = p.parsed
	}
	// 12. A soft-deleted older version with the same id is tombstoned, unless
	// something still references it.
	if sub != nil {
		for _, v := range sub.versions {
			if v.deleted && v.id == id && len(st.referrers(subj, v.version)) == 0 {
				w.DeleteVersions = append(w.DeleteVersions, store.VersionKey{Subject: subj, Version: v.version})
			}
		}
	}
	if err := r.commit(ctx, w, parsed, fmt.Sprintf("subject %q: register version %d", subj, n)); err != nil {
		return SubjectVersion{}, err
	}
	r.log.Debug("registered", "subject", subj, "version", n, "schema_id", id)
	var stored Schema
	if e := st.schemas[id]; e != nil {
		stored = e.schema.clone()
	} else {
		stored = p.schema
	}
	return SubjectVersion{Subject: subj, Version: n, ID: id, Schema: stored}, nil
}

// layer returns merge(merge(def, v), over), skipping absent layers.
func layer(v, def, over json.RawMessage, merge func(base, over json.RawMessage) (json.RawMessage, error)) (json.RawMessage, error) {
	if isNull(def) {
		def = nil
	}
	if isNull(over) {
		over = nil
	}
	out, err := merge(def, v)
	if err != nil {
		return nil, err
	}
	return merge(out, over)
}

func isNull(b json.RawMessage) bool { return len(b) == 0 || string(b) == "null" }

// Lookup finds the version of subject holding in (same canonical text under
// the same normalisation, references, metadata and rule set) without
// registering anything; the highest matching live version wins, or any
// version with opt.Deleted. Errors: ErrSubjectNotFound (no version visible),
// ErrSchemaNotFound (no match), *InvalidSchemaError (in does not parse).
func (r *Registry) Lookup(ctx context.Context, subject string, in Schema, opt LookupOptions) (SubjectVersion, error) {
	subj, err := canonicalSubject(subject)
	if err != nil {
		return SubjectVersion{}, err
	}
	if err := r.checkInput(subj, &in); err != nil {
		return SubjectVersion{}, err
	}
	if strings.TrimSpace(in.Text) == "" {
		return SubjectVersion{}, fmt.Errorf("subject %q: %w", subj, &InvalidSchemaError{Reason: "empty schema"})
	}
	md, rs, err := canonicalMeta(subj, in)
	if err != nil {
		return SubjectVersion{}, err
	}

	r.mu.RLock()
	sub := r.st.subjects[subj]
	if !sub.visible(opt.Deleted) {
		r.mu.RUnlock()
		return SubjectVersion{}, fmt.Errorf("subject %q: %w", subj, ErrSubjectNotFound)
	}
	cfg := r.st.effectiveConfig(subj)
	normalize := opt.Normalize || (cfg.Normalize != nil && *cfg.Normalize)
	if v := r.st.matchIn(sub, r.quickHashes(r.st, in, md, rs, normalize), false, opt.Deleted); v != nil {
		sv := r.st.subjectVersion(subj, v)
		r.mu.RUnlock()
		return sv, nil
	}
	concrete, flat, err := resolveRefs(r.st, in.References)
	r.mu.RUnlock()
	if err != nil {
		return SubjectVersion{}, fmt.Errorf("subject %q: %w", subj, err)
	}

	// Parse without holding the lock; writers may commit meanwhile, which a
	// read may or may not observe.
	p, err := r.build(subj, in.Type, in.Text, concrete, flat, md, rs, normalize, false, nil)
	if err != nil {
		return SubjectVersion{}, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	sub = r.st.subjects[subj]
	if v := r.st.matchIn(sub, []string{p.hash}, false, opt.Deleted); v != nil {
		return r.st.subjectVersion(subj, v), nil
	}
	if !sub.visible(opt.Deleted) {
		return SubjectVersion{}, fmt.Errorf("subject %q: %w", subj, ErrSubjectNotFound)
	}
	return SubjectVersion{}, fmt.Errorf("subject %q: %w", subj, ErrSchemaNotFound)
}
