// Package registry is Sluice's schema registry core: subjects, versions,
// global schema ids, references, compatibility configuration, modes and
// deletes, with the semantics of Confluent Schema Registry
// (shared/spec/registry-api.md). It knows nothing of HTTP: registry/rest and
// registry/rpc translate requests and map errors.
//
// # Storage and concurrency
//
// Writes are serialised, validated completely, persisted in meta.db in one
// transaction (registry/internal/store) and only then applied to memory; a
// write that fails changes nothing. Reads are served from the in-memory copy,
// so lookups by id never touch the database. Open on the same database
// restores everything.
//
// # Deviations
//
// Only the default context exists: ":.:" qualifiers are stripped, other
// contexts are refused with ErrInvalidSubject. The empty subject name is
// refused (the API uses "" for the global level). Config keys beyond those
// typed in SubjectConfig are stored and echoed, and defaultMetadata,
// overrideMetadata, defaultRuleSet and overrideRuleSet are applied on
// register; compatibilityPolicy (STRICT or LENIENT) reaches the rules. Alias
// redirection and validateFields checks are not implemented.
//
// # Errors
//
// Errors wrap the sentinels and types of errors.go with the subject, version
// or id concerned; transports branch with errors.Is and errors.As.
package registry

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/registry/internal/store"
	"github.com/sluicehq/sluice/serde"
)

// DefaultMaxSchemaBytes is the default limit on a schema's text.
const DefaultMaxSchemaBytes = 1 << 20

// Config configures a Registry.
type Config struct {
	// DB is meta.db, opened with internal/metadb. Required. The registry
	// applies its own migrations; the caller closes DB after Close.
	DB *sql.DB
	// Logger receives lifecycle logs; nil discards.
	Logger *slog.Logger
	// MaxSchemaBytes limits a schema's text; 0 means DefaultMaxSchemaBytes.
	MaxSchemaBytes int
}

// Reference names a subject version that a schema depends on.
type Reference struct {
	// Name is how the schema refers to the dependency: an Avro full name, a
	// Protobuf import path or a JSON Schema $ref.
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// Schema is a schema as stored: its type, canonical text, references and
// optional metadata and rule set (kept verbatim as compact JSON).
type Schema struct {
	Type       serde.Format
	Text       string
	References []Reference
	Metadata   json.RawMessage
	RuleSet    json.RawMessage
}

// SubjectVersion is one version of a subject.
type SubjectVersion struct {
	Subject string
	Version int
	ID      int
	Deleted bool
	Schema
}

// SubjectVersionRef is a (subject, version) pair.
type SubjectVersionRef struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// Latest is the version number meaning "the highest live version".
const Latest = -1

// Mode is a registry mode.
type Mode string

// The modes.
const (
	ReadWrite        Mode = "READWRITE"
	ReadOnly         Mode = "READONLY"
	ReadOnlyOverride Mode = "READONLY_OVERRIDE"
	Import           Mode = "IMPORT"
)

// SubjectConfig is a configuration (global or per subject). Nil fields are
// unset and inherit from the global level.
type SubjectConfig struct {
	Compatibility      *compat.Level
	Normalize          *bool
	ValidateFields     *bool
	CompatibilityGroup *string
	// Other holds the remaining Confluent config keys (alias,
	// defaultMetadata, overrideMetadata, defaultRuleSet, overrideRuleSet,
	// compatibilityPolicy), stored and echoed verbatim.
	Other map[string]json.RawMessage
}

// RegisterOptions tune Register.
type RegisterOptions struct {
	// Normalize registers the normalized form (or set config normalize).
	Normalize bool
	// ID is the id to use in IMPORT mode; 0 otherwise.
	ID int
	// Version, when > 0, must be the next version number (any in IMPORT mode);
	// -1 means register only if different from the latest.
	Version int
	// Force skips the compatibility check (Confluent 8.x force=true).
	Force bool
}

// LookupOptions tune Lookup.
type LookupOptions struct {
	Normalize bool
	// Deleted also matches soft-deleted versions.
	Deleted bool
}

// ListOptions filter list operations.
type ListOptions struct {
	// Deleted includes soft-deleted entries; DeletedOnly returns only them.
	Deleted, DeletedOnly bool
}

// CompatibilityResult is the answer of CheckCompatibility.
type CompatibilityResult struct {
	Compatible bool
	Level      compat.Level
	Violations []compat.Violation
}

// Registry is the schema registry. It is safe for concurrent use.
//
// Reads are answered from memory under a read lock. Writes are serialised
// by one mutex, validated completely, committed to the store in one
// transaction, and only then applied to memory: a write that fails changes
// nothing, in memory or on disk.
type Registry struct {
	cfg    Config
	log    *slog.Logger
	store  store.Store
	closed atomic.Bool

	writeMu writeLock    // serialises writers (across nodes in cluster mode, cluster.go); see the lock order in state.go
	mu      sync.RWMutex // guards st
	st      *state

	watchMu sync.Mutex
	watch   chan struct{} // closed and replaced on every committed change

	canonMu sync.Mutex
	canon   map[canonKey][32]byte // raw text -> digest of its canonical text, see canonicalDigest

	cluster *cluster // cluster mode (cluster.go); nil on a store of its own
}

// Open applies the registry's migrations to cfg.DB and loads the whole
// registry into memory.
func Open(ctx context.Context, cfg Config) (*Registry, error) {
	if cfg.DB == nil {
		return nil, errors.New("registry: Config.DB is nil")
	}
	if cfg.MaxSchemaBytes < 0 {
		return nil, fmt.Errorf("registry: Config.MaxSchemaBytes is negative (%d)", cfg.MaxSchemaBytes)
	}
	if cfg.MaxSchemaBytes == 0 {
		cfg.MaxSchemaBytes = DefaultMaxSchemaBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := store.NewSQLite(ctx, cfg.DB)
	if err != nil {
		return nil, fmt.Errorf("registry: %w: %w", ErrStore, err)
	}
	return openStore(ctx, cfg, s)
}

// openStore loads a registry from any store (tests use it to inject one).
func openStore(ctx context.Context, cfg Config, s store.Store) (*Registry, error) {
	return openStoreAs(ctx, cfg, s, clusterNode{})
}

// openStoreAs is openStore naming the node in a cluster (for a shared
// store; ignored otherwise).
func openStoreAs(ctx context.Context, cfg Config, s store.Store, node clusterNode) (*Registry, error) {
	data, err := s.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("registry: %w: %w", ErrStore, err)
	}
	st, err := load(data)
	if err != nil {
		return nil, fmt.Errorf("registry: %w: %w", ErrStore, err)
	}
	r := &Registry{
		cfg:   cfg,
		log:   cfg.Logger,
		store: s,
		st:    st,
		watch: make(chan struct{}),
		canon: map[canonKey][32]byte{},
	}
	r.startCluster(s, data.Version, node)
	r.log.Info("registry loaded", "subjects", len(st.subjects), "schemas", len(st.schemas), "max_id", st.maxID)
	return r, nil
}

// Close releases the registry; it does not close cfg.DB. Later writes fail
// with ErrStore; reads keep answering from memory. Close is idempotent.
func (r *Registry) Close() error {
	r.closed.Store(true)
	r.closeCluster()
	return nil
}

// commit persists w and then applies it to memory and wakes watchers. The
// caller holds writeMu. what names the operation in errors.
func (r *Registry) commit(ctx context.Context, w *store.Write, parsed map[int]serde.Schema, what string) error {
	if r.closed.Load() {
		return fmt.Errorf("%s: registry is closed: %w", what, ErrStore)
	}
	if w.Empty() {
		return nil
	}
	if err := r.storeWrite(ctx, w); err != nil {
		return fmt.Errorf("%s: %w: %w", what, ErrStore, err)
	}
	r.mu.Lock()
	err := r.st.apply(w, parsed)
	r.mu.Unlock()
	if err != nil {
		// Only stored configs can fail to decode, and we encoded them: this
		// is a bug, and memory may now lag the database until restart.
		r.log.Error("registry: apply committed write", "op", what, "err", err)
		return fmt.Errorf("%s: %w: %w", what, ErrStore, err)
	}
	r.watchMu.Lock()
	close(r.watch)
	r.watch = make(chan struct{})
	r.watchMu.Unlock()
	return nil
}

// Watch returns a channel that is closed after the next committed change of
// any kind (register, delete, config, mode). Caches of registry data (the
// broker's schema cache) drop or revalidate their entries when it fires and
// then call Watch again; changes between two calls coalesce into one wake-up.
func (r *Registry) Watch() <-chan struct{} {
	r.watchMu.Lock()
	defer r.watchMu.Unlock()
	return r.watch
}

// SchemaByID returns the schema with id. Soft-deleted uses keep an id
// readable; once no version uses it, ErrSchemaNotFound.
func (r *Registry) SchemaByID(ctx context.Context, id int) (Schema, error) {
	r.mu.RLock()
	e := r.st.schemas[id]
	r.mu.RUnlock()
	if e == nil && r.refreshAfterMiss(ctx) { // cluster mode: look once in the store
		r.mu.RLock()
		e = r.st.schemas[id]
		r.mu.RUnlock()
	}
	if e == nil {
		return Schema{}, fmt.Errorf("schema id %d: %w", id, ErrSchemaNotFound)
	}
	return e.schema.clone(), nil
}

// SchemaByIDParsed returns the parsed form of the schema with id, for
// validating payloads. It is parsed once and cached for the life of the
// id; the result is immutable and shared. A schema stored in IMPORT mode
// that does not parse answers an *InvalidSchemaError every time.
func (r *Registry) SchemaByIDParsed(ctx context.Context, id int) (serde.Schema, error) {
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
	return r.parsed(e)
}

// LiveVersionByID returns the highest live version of subject whose schema
// has id, and whether there is one. It is the produce-path check "is this
// id registered under the topic's subject"; subject is used as given
// (no context qualifier stripping or validation).
func (r *Registry) LiveVersionByID(subject string, id int) (int, bool) {
	r.mu.RLock()
	v := r.st.subjects[subject].matchVersion([]int{id}, false)
	r.mu.RUnlock()
	if v == nil && r.cluster != nil { // cluster mode: look once in the store
		ctx, cancel := context.WithTimeout(context.Background(), missTimeout)
		ok := r.refreshAfterMiss(ctx)
		cancel()
		if ok {
			r.mu.RLock()
			v = r.st.subjects[subject].matchVersion([]int{id}, false)
			r.mu.RUnlock()
		}
	}
	if v == nil {
		return 0, false
	}
	return v.version, true
}

// MaxID returns the id high-water mark: the highest id ever allocated or
// imported, including ids whose schemas were since hard-deleted.
func (r *Registry) MaxID() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.st.maxID
}

// SubjectsByID lists subjects using id, sorted; only subjects where the use
// is live unless opt.Deleted (DeletedOnly: only soft-deleted uses). An id
// whose uses are all soft-deleted gives an empty list, not an error.
func (r *Registry) SubjectsByID(ctx context.Context, id int, opt ListOptions) ([]string, error) {
	refs, err := r.VersionsByID(ctx, id, opt)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, ref := range refs {
		if len(out) == 0 || out[len(out)-1] != ref.Subject {
			out = append(out, ref.Subject)
		}
	}
	return out, nil
}

// VersionsByID lists subject versions using id, by subject then version,
// filtered as SubjectsByID.
func (r *Registry) VersionsByID(ctx context.Context, id int, opt ListOptions) ([]SubjectVersionRef, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.st.schemas[id] == nil {
		return nil, fmt.Errorf("schema id %d: %w", id, ErrSchemaNotFound)
	}
	out := []SubjectVersionRef{}
	for name, sub := range r.st.subjects {
		for _, v := range sub.versions {
			if v.id == id && opt.keep(v.deleted) {
				out = append(out, SubjectVersionRef{Subject: name, Version: v.version})
			}
		}
	}
	slices.SortFunc(out, func(a, b SubjectVersionRef) int {
		return cmp.Or(strings.Compare(a.Subject, b.Subject), a.Version-b.Version)
	})
	return out, nil
}

// keep reports whether a version with this deleted flag passes the filter.
func (o ListOptions) keep(deleted bool) bool {
	switch {
	case o.DeletedOnly:
		return deleted
	case o.Deleted:
		return true
	}
	return !deleted
}

// Subjects lists subjects whose name starts with prefix, sorted. A subject
// is listed when it has a live version; with opt.Deleted also when all its
// versions are soft-deleted; with opt.DeletedOnly when it has a
// soft-deleted version. prefix may be qualified with the default context
// (":.:") or the all-contexts wildcard (":*:").
func (r *Registry) Subjects(ctx context.Context, prefix string, opt ListOptions) ([]string, error) {
	p, ok := stripPrefix(prefix)
	out := []string{}
	if !ok {
		return out, nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for name, sub := range r.st.subjects {
		if !strings.HasPrefix(name, p) {
			continue
		}
		if slices.ContainsFunc(sub.versions, func(v *versionEntry) bool { return opt.keep(v.deleted) }) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Versions lists the version numbers of subject, ascending, filtered by
// opt. ErrSubjectNotFound when the subject has no version at all, or only
// soft-deleted ones and neither Deleted nor DeletedOnly is set.
func (r *Registry) Versions(ctx context.Context, subject string, opt ListOptions) ([]int, error) {
	subj, err := canonicalSubject(subject)
	if err != nil {
		return nil, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	sub := r.st.subjects[subj]
	if !sub.visible(opt.Deleted || opt.DeletedOnly) {
		return nil, fmt.Errorf("subject %q: %w", subj, ErrSubjectNotFound)
	}
	out := []int{}
	for _, v := range sub.versions {
		if opt.keep(v.deleted) {
			out = append(out, v.version)
		}
	}
	return out, nil
}

// Version returns a version of subject; Latest means the highest live one.
// deleted allows a soft-deleted version to be returned (Latest still means
// the latest live one). Errors: ErrInvalidVersion for 0 or a negative
// other than Latest; ErrSubjectNotFound when the subject has no version
// visible with deleted (or no live one for Latest); ErrVersionNotFound.
func (r *Registry) Version(ctx context.Context, subject string, version int, deleted bool) (SubjectVersion, error) {
	subj, err := canonicalSubject(subject)
	if err != nil {
		return SubjectVersion{}, err
	}
	if err := checkVersion(subj, version); err != nil {
		return SubjectVersion{}, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	v, err := r.st.lookupVersion(subj, version, deleted)
	if err != nil {
		return SubjectVersion{}, err
	}
	return r.st.subjectVersion(subj, v), nil
}

// checkVersion refuses version numbers that are never valid.
func checkVersion(subj string, version int) error {
	if version == Latest || version > 0 {
		return nil
	}
	return fmt.Errorf("subject %q version %d: %w: want a positive number or -1 (latest)", subj, version, ErrInvalidVersion)
}

// lookupVersion finds a version for a read or a delete.
func (s *state) lookupVersion(subj string, version int, deleted bool) (*versionEntry, error) {
	sub := s.subjects[subj]
	if version == Latest {
		if sub != nil {
			if v := sub.latestLive(); v != nil {
				return v, nil
			}
		}
		return nil, fmt.Errorf("subject %q: %w (no live version for latest)", subj, ErrSubjectNotFound)
	}
	if !sub.visible(deleted) {
		return nil, fmt.Errorf("subject %q: %w", subj, ErrSubjectNotFound)
	}
	v := sub.find(version)
	if v == nil || (v.deleted && !deleted) {
		return nil, fmt.Errorf("subject %q version %d: %w", subj, version, ErrVersionNotFound)
	}
	return v, nil
}

// Schemas lists versions of subjects starting with prefix, by subject then
// version, filtered by opt; latestOnly keeps the highest listed version of
// each subject.
func (r *Registry) Schemas(ctx context.Context, prefix string, opt ListOptions, latestOnly bool) ([]SubjectVersion, error) {
	p, ok := stripPrefix(prefix)
	out := []SubjectVersion{}
	if !ok {
		return out, nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.st.subjects))
	for name := range r.st.subjects {
		if strings.HasPrefix(name, p) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		var kept []*versionEntry
		for _, v := range r.st.subjects[name].versions {
			if opt.keep(v.deleted) {
				kept = append(kept, v)
			}
		}
		if latestOnly && len(kept) > 0 {
			kept = kept[len(kept)-1:]
		}
		for _, v := range kept {
			out = append(out, r.st.subjectVersion(name, v))
		}
	}
	return out, nil
}

// ReferencedBy lists, ascending, the ids of schemas whose references point
// at subject's version (looked up including soft-deleted versions; Latest
// is the latest live one). Only referrers with a live version are listed
// unless deleted.
func (r *Registry) ReferencedBy(ctx context.Context, subject string, version int, deleted bool) ([]int, error) {
	subj, err := canonicalSubject(subject)
	if err != nil {
		return nil, err
	}
	if err := checkVersion(subj, version); err != nil {
		return nil, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	v, err := r.st.lookupVersion(subj, version, true)
	if err != nil {
		return nil, err
	}
	out := []int{}
	for _, id := range r.st.referrers(subj, v.version) {
		if deleted || r.st.liveID(id) {
			out = append(out, id)
		}
	}
	return out, nil
}

func sortKeys(ks []store.VersionKey) {
	slices.SortFunc(ks, func(a, b store.VersionKey) int {
		return cmp.Or(strings.Compare(a.Subject, b.Subject), a.Version-b.Version)
	})
}

func sortInts(xs []int) { slices.Sort(xs) }

// LatestWithMetadata returns the latest version of subject whose
// metadata.properties contain every pair of props (spec §4.12): live
// versions only unless deleted. Errors: ErrSubjectNotFound when no version
// is visible, ErrSchemaNotFound when none matches.
func (r *Registry) LatestWithMetadata(ctx context.Context, subject string, props map[string]string, deleted bool) (SubjectVersion, error) {
	subj, err := canonicalSubject(subject)
	if err != nil {
		return SubjectVersion{}, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	sub := r.st.subjects[subj]
	if !sub.visible(deleted) {
		return SubjectVersion{}, fmt.Errorf("subject %q: %w", subj, ErrSubjectNotFound)
	}
next:
	for i := len(sub.versions) - 1; i >= 0; i-- {
		v := sub.versions[i]
		if v.deleted && !deleted {
			continue
		}
		md := r.st.schemas[v.id].schema.Metadata
		for k, want := range props {
			if got, ok := metadataProperty(md, k); !ok || got != want {
				continue next
			}
		}
		return r.st.subjectVersion(subj, v), nil
	}
	return SubjectVersion{}, fmt.Errorf("subject %q: no version with metadata %v: %w", subj, props, ErrSchemaNotFound)
}

// Contexts lists the registry's contexts: only the default one, ".".
func (r *Registry) Contexts(ctx context.Context) []string { return []string{"."} }
