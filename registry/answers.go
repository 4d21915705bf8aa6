package registry

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// Cached answers. Transports answer the same reads over and over (every
// consumer asks for the schema of each id it meets), and what they answer
// for a stored schema never changes: an id's schema is immutable, and so is
// a stored version. CachedByID and CachedVersion let a transport build its
// answer once (an encoded response body, say) and keep it with the stored
// schema or version it was built from. The answer therefore lives exactly as
// long as that entry: a hard delete drops it with the entry, a soft delete
// replaces the version's entry (and its answers), and an id or version
// number given again later (IMPORT mode after a hard delete, a subject
// re-created after a hard delete) starts with none. No invalidation is
// needed, and a stale answer cannot be served.

// AnswerKind names one kind of answer a transport caches with stored
// schemas and versions (CachedByID, CachedVersion). Each kind comes from
// NewAnswerKind, so the kinds of different transports never collide.
type AnswerKind uint32

var answerKinds atomic.Uint32

// NewAnswerKind returns a kind of answer no other caller has; call it once
// per kind, at package initialisation.
func NewAnswerKind() AnswerKind { return AnswerKind(answerKinds.Add(1)) }

// maxAnswers bounds the answers kept with one entry: kinds times the few
// output formats.
const maxAnswers = 32

// answerKey names one cached answer of an entry: the transport's kind of
// answer and the effective output format ("" for the stored text, else one
// of the Format constants).
type answerKey struct {
	kind   AnswerKind
	format string
}

// answers holds the cached answers of one entry. Reads load an immutable
// map without locking; the rare store copies it.
type answers struct {
	mu sync.Mutex // serialises stores
	m  atomic.Pointer[map[answerKey]any]
}

func (a *answers) load(k answerKey) (any, bool) {
	m := a.m.Load()
	if m == nil {
		return nil, false
	}
	v, ok := (*m)[k]
	return v, ok
}

func (a *answers) store(k answerKey, v any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.m.Load()
	var n int
	if old != nil {
		n = len(*old)
	}
	if n >= maxAnswers {
		return
	}
	m := make(map[answerKey]any, n+1)
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	m[k] = v
	a.m.Store(&m)
}

// CachedByID returns the answer of the given kind for the schema with id in
// format (see
// FormatDefault). The first call for an (id, kind, effective format) calls
// build with a copy of the schema and its text in that format, and keeps
// what build returns with the schema, unless build fails; later calls return
// it without calling build or allocating. build must be a pure function of
// its arguments and kind, and its result must not be modified.
//
// Errors are those of SchemaByID and FormatSchema, and build's.
func (r *Registry) CachedByID(ctx context.Context, id int, format string, kind AnswerKind, build func(s Schema, text string) (any, error)) (any, error) {
	r.mu.RLock()
	e := r.st.schemas[id]
	r.mu.RUnlock()
	if e == nil && r.refreshAfterMiss(ctx) { // cluster mode: look once in the store
		r.mu.RLock()
		e = r.st.schemas[id]
		r.mu.RUnlock()
	}
	if e == nil {
		return nil, fmt.Errorf("schema id %d: %w", id, ErrSchemaNotFound)
	}
	k := answerKey{kind: kind, format: effectiveFormat(e.schema.Type, format)}
	if v, ok := e.answers.load(k); ok {
		return v, nil
	}
	text, err := r.formatEntry(e, k.format)
	if err != nil {
		return nil, err
	}
	v, err := build(e.schema.clone(), text)
	if err != nil {
		return nil, err
	}
	e.answers.store(k, v)
	return v, nil
}

// CachedVersion is CachedByID for a subject version, looked up as Version
// does (Latest, deleted): the first call for a stored version, kind and
// effective format calls build with the version (Subject is the subject's
// stored name) and its text in format, and keeps the result with the
// version; a soft or hard delete of the version drops it.
//
// Errors are those of Version and FormatSchema, and build's.
func (r *Registry) CachedVersion(ctx context.Context, subject string, version int, deleted bool, format string, kind AnswerKind, build func(sv SubjectVersion, text string) (any, error)) (any, error) {
	subj, err := canonicalSubject(subject)
	if err != nil {
		return nil, err
	}
	if err := checkVersion(subj, version); err != nil {
		return nil, err
	}
	r.mu.RLock()
	v, err := r.st.lookupVersion(subj, version, deleted)
	var e *schemaEntry
	if err == nil {
		e = r.st.schemas[v.id]
	}
	r.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	if e == nil {
		// The state keeps every id a version uses; this is a bug.
		return nil, fmt.Errorf("subject %q version %d: schema id %d is missing: %w", subj, v.version, v.id, ErrSchemaNotFound)
	}
	k := answerKey{kind: kind, format: effectiveFormat(e.schema.Type, format)}
	if a, ok := v.answers.load(k); ok {
		return a, nil
	}
	text, err := r.formatEntry(e, k.format)
	if err != nil {
		return nil, err
	}
	sv := SubjectVersion{Subject: subj, Version: v.version, ID: v.id, Deleted: v.deleted, Schema: e.schema.clone()}
	a, err := build(sv, text)
	if err != nil {
		return nil, err
	}
	v.answers.store(k, a)
	return a, nil
}
