package registry

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/serde/jsonschema"
	"github.com/sluicehq/sluice/serde/protobuf"
)

// Schema identity (spec §5.1): a SHA-256 digest over the type, the digest of
// the stored text, the ordered references and the canonical metadata and
// rule set. Hashing the text's digest rather than the text lets the register
// fast path remember "this raw text canonicalises to that digest" in a few
// bytes per entry (canonicalDigest).

// identity computes the identity digest of a schema in stored form.
func identity(typ serde.Format, textDigest [32]byte, refs []Reference, md, rs json.RawMessage) string {
	h := sha256.New()
	var n [8]byte
	field := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field([]byte(typ))
	field(textDigest[:])
	binary.BigEndian.PutUint64(n[:], uint64(len(refs)))
	h.Write(n[:])
	for _, r := range refs {
		field([]byte(r.Name))
		field([]byte(r.Subject))
		binary.BigEndian.PutUint64(n[:], uint64(int64(r.Version)))
		h.Write(n[:])
	}
	field(md)
	field(rs)
	return string(h.Sum(nil))
}

// canonKey identifies a raw schema text as a client sent it.
type canonKey struct {
	raw       [32]byte
	typ       serde.Format
	normalize bool
}

// maxCanonEntries bounds the raw-to-canonical cache (about 80 bytes each).
const maxCanonEntries = 1 << 14

// canonicalDigest returns the digest of the stored text that raw text
// (without references) canonicalises to, if a previous parse recorded it.
// Parsing is a pure function of the text when there are no references, so
// the entry never goes stale. This keeps the register fast path (every
// producer start) free of parsing for texts the registry has seen.
func (r *Registry) canonicalDigest(k canonKey) ([32]byte, bool) {
	r.canonMu.Lock()
	defer r.canonMu.Unlock()
	d, ok := r.canon[k]
	return d, ok
}

func (r *Registry) rememberCanonical(k canonKey, d [32]byte) {
	r.canonMu.Lock()
	defer r.canonMu.Unlock()
	if len(r.canon) >= maxCanonEntries {
		clear(r.canon) // crude but bounded; the next calls refill it
	}
	r.canon[k] = d
}

// parse parses text of the given format with its flattened references.
func parse(typ serde.Format, text string, refs []serde.Referenced) (serde.Schema, error) {
	switch typ {
	case serde.Avro:
		s, err := avro.Parse(text, refs)
		if err != nil {
			return nil, err
		}
		return s, nil
	case serde.Protobuf:
		s, err := protobuf.Parse(text, refs)
		if err != nil {
			return nil, err
		}
		return s, nil
	case serde.JSON:
		s, err := jsonschema.Parse(text, refs)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("unknown schema type %q: want AVRO, PROTOBUF or JSON", typ)
}

// parsed returns e's parsed form, parsing it once. It RLocks mu to resolve
// references, so the caller must not hold mu.
func (r *Registry) parsed(e *schemaEntry) (serde.Schema, error) {
	e.once.Do(func() {
		r.mu.RLock()
		_, flat, err := resolveRefs(r.st, e.schema.References)
		r.mu.RUnlock()
		if err != nil {
			e.parseErr = fmt.Errorf("schema id %d: %w", e.id, err)
			return
		}
		p, err := parse(e.schema.Type, e.schema.Text, flat)
		if err != nil {
			e.parseErr = fmt.Errorf("schema id %d: %w", e.id, &InvalidSchemaError{Reason: err.Error(), Err: err})
			return
		}
		e.parsedVal = p
	})
	return e.parsedVal, e.parseErr
}

// resolveRefs resolves a schema's references against st: each version -1
// becomes the then-latest live version, and the schemas they name are
// flattened recursively into the list parsers take (dependencies first,
// names unique). It returns the concrete references. The caller holds mu
// (or writeMu).
func resolveRefs(st *state, refs []Reference) ([]Reference, []serde.Referenced, error) {
	if len(refs) == 0 {
		return nil, nil, nil
	}
	res := &resolver{st: st, names: map[string]bool{}, done: map[SubjectVersionRef]bool{}}
	concrete := make([]Reference, 0, len(refs))
	for i, ref := range refs {
		c, err := res.visit(ref, fmt.Sprintf("references[%d]", i))
		if err != nil {
			return nil, nil, err
		}
		concrete = append(concrete, c)
	}
	return concrete, res.flat, nil
}

type resolver struct {
	st    *state
	flat  []serde.Referenced
	names map[string]bool
	done  map[SubjectVersionRef]bool // dependencies already flattened
	stack []SubjectVersionRef        // the path being resolved, for cycles
}

func (res *resolver) visit(ref Reference, where string) (Reference, error) {
	bad := func(format string, args ...any) (Reference, error) {
		msg := fmt.Sprintf("%s (name %q, subject %q, version %d): ", where, ref.Name, ref.Subject, ref.Version) + fmt.Sprintf(format, args...)
		return Reference{}, &InvalidSchemaError{Reason: msg}
	}
	if ref.Name == "" {
		return bad("reference has no name")
	}
	subj, err := canonicalSubject(ref.Subject)
	if err != nil {
		return bad("%v", err)
	}
	sub := res.st.subjects[subj]
	var v *versionEntry
	switch {
	case ref.Version == Latest:
		if sub != nil {
			v = sub.latestLive()
		}
		if v == nil {
			return bad("subject %q has no live version", subj)
		}
	case ref.Version > 0:
		if sub == nil {
			return bad("subject %q not found", subj)
		}
		// A soft-deleted version can still be referenced: its schema stays
		// readable by id, and replication may bring such references.
		if v = sub.find(ref.Version); v == nil {
			return bad("subject %q has no version %d", subj, ref.Version)
		}
	default:
		return bad("version must be a positive number or -1 (latest)")
	}
	key := SubjectVersionRef{Subject: subj, Version: v.version}
	if i := slices.Index(res.stack, key); i >= 0 {
		var path []string
		for _, k := range append(res.stack[i:], key) {
			path = append(path, fmt.Sprintf("%s/%d", k.Subject, k.Version))
		}
		return bad("reference cycle %s", strings.Join(path, " -> "))
	}
	e := res.st.schemas[v.id]
	if e == nil {
		return bad("schema id %d of subject %q version %d is missing", v.id, subj, v.version)
	}
	if !res.done[key] {
		res.stack = append(res.stack, key)
		for i, dep := range e.schema.References {
			if _, err := res.visit(dep, fmt.Sprintf("%s -> %s/%d references[%d]", where, subj, v.version, i)); err != nil {
				return Reference{}, err
			}
		}
		res.stack = res.stack[:len(res.stack)-1]
		res.done[key] = true
	}
	if !res.names[ref.Name] {
		res.names[ref.Name] = true
		res.flat = append(res.flat, serde.Referenced{Name: ref.Name, Text: e.schema.Text})
	}
	return Reference{Name: ref.Name, Subject: subj, Version: v.version}, nil
}

// normalizeRefs sorts and de-duplicates references (§5.3).
func normalizeRefs(refs []Reference) []Reference {
	out := slices.Clone(refs)
	slices.SortFunc(out, func(a, b Reference) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		if c := strings.Compare(a.Subject, b.Subject); c != 0 {
			return c
		}
		return a.Version - b.Version
	})
	return slices.Compact(out)
}
