// Package registry is Sluice's schema registry core: subjects, versions,
// global schema ids, references, compatibility configuration, modes and
// deletes, with the semantics of Confluent Schema Registry
// (shared/spec/registry-api.md). It knows nothing of HTTP: registry/rest and
// the Connect adapter translate requests and map errors.
//
// Writes are serialised and persisted in meta.db before they return; reads are
// served from an in-memory copy of the registry, so lookups by id never touch
// the database.
package registry

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/serde"
)

var errTODO = errors.New("registry: not implemented")

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
type Registry struct{}

// Open loads the registry from cfg.DB, applying migrations first.
func Open(ctx context.Context, cfg Config) (*Registry, error) { return nil, errTODO }

// Close releases the registry; it does not close cfg.DB.
func (r *Registry) Close() error { return nil }

// Register adds in to subject, or returns the existing version holding it.
func (r *Registry) Register(ctx context.Context, subject string, in Schema, opt RegisterOptions) (SubjectVersion, error) {
	return SubjectVersion{}, errTODO
}

// Lookup finds the version of subject holding in without registering it.
func (r *Registry) Lookup(ctx context.Context, subject string, in Schema, opt LookupOptions) (SubjectVersion, error) {
	return SubjectVersion{}, errTODO
}

// SchemaByID returns the schema with id, including soft-deleted uses.
func (r *Registry) SchemaByID(ctx context.Context, id int) (Schema, error) { return Schema{}, errTODO }

// MaxID returns the highest id allocated so far.
func (r *Registry) MaxID() int { return 0 }

// SubjectsByID lists subjects using id, sorted.
func (r *Registry) SubjectsByID(ctx context.Context, id int, opt ListOptions) ([]string, error) {
	return nil, errTODO
}

// VersionsByID lists subject versions using id.
func (r *Registry) VersionsByID(ctx context.Context, id int, opt ListOptions) ([]SubjectVersionRef, error) {
	return nil, errTODO
}

// Subjects lists subjects whose name starts with prefix, sorted.
func (r *Registry) Subjects(ctx context.Context, prefix string, opt ListOptions) ([]string, error) {
	return nil, errTODO
}

// Versions lists the version numbers of subject, ascending.
func (r *Registry) Versions(ctx context.Context, subject string, opt ListOptions) ([]int, error) {
	return nil, errTODO
}

// Version returns a version of subject; Latest means the highest live one.
func (r *Registry) Version(ctx context.Context, subject string, version int, deleted bool) (SubjectVersion, error) {
	return SubjectVersion{}, errTODO
}

// Schemas lists versions of subjects starting with prefix, by subject then version.
func (r *Registry) Schemas(ctx context.Context, prefix string, opt ListOptions, latestOnly bool) ([]SubjectVersion, error) {
	return nil, errTODO
}

// ReferencedBy lists the ids of schemas referencing subject's version.
func (r *Registry) ReferencedBy(ctx context.Context, subject string, version int, deleted bool) ([]int, error) {
	return nil, errTODO
}

// DeleteVersion soft- or hard-deletes one version and returns its number.
func (r *Registry) DeleteVersion(ctx context.Context, subject string, version int, permanent bool) (int, error) {
	return 0, errTODO
}

// DeleteSubject soft- or hard-deletes every version of subject.
func (r *Registry) DeleteSubject(ctx context.Context, subject string, permanent bool) ([]int, error) {
	return nil, errTODO
}

// CheckCompatibility checks in against version of subject (Latest or a
// number), or against the history the level names when version is 0.
func (r *Registry) CheckCompatibility(ctx context.Context, subject string, in Schema, version int, normalize bool) (CompatibilityResult, error) {
	return CompatibilityResult{}, errTODO
}

// Config returns the configuration of subject ("" for global); with
// defaultToGlobal, the effective one.
func (r *Registry) Config(ctx context.Context, subject string, defaultToGlobal bool) (SubjectConfig, error) {
	return SubjectConfig{}, errTODO
}

// SetConfig merges update into the configuration of subject ("" for global).
func (r *Registry) SetConfig(ctx context.Context, subject string, update SubjectConfig) (SubjectConfig, error) {
	return SubjectConfig{}, errTODO
}

// DeleteConfig removes the configuration of subject ("" resets the global
// one) and returns what it was.
func (r *Registry) DeleteConfig(ctx context.Context, subject string) (SubjectConfig, error) {
	return SubjectConfig{}, errTODO
}

// Mode returns the mode of subject ("" for global); with defaultToGlobal, the
// effective one.
func (r *Registry) Mode(ctx context.Context, subject string, defaultToGlobal bool) (Mode, error) {
	return "", errTODO
}

// SetMode sets the mode of subject ("" for global).
func (r *Registry) SetMode(ctx context.Context, subject string, m Mode, force bool) (Mode, error) {
	return "", errTODO
}

// DeleteMode removes the mode of subject ("" resets global) and returns it.
func (r *Registry) DeleteMode(ctx context.Context, subject string) (Mode, error) {
	return "", errTODO
}
