// Package store persists the schema registry. It is the registry core's only
// view of persistence, deliberately narrow so that a second backend
// (PostgreSQL, for several nodes sharing one registry) is a small job:
//
//   - Load reads the whole registry once, when the registry opens; afterwards
//     the core serves every read from memory.
//   - Apply commits one Write (every row a registry operation touches) in a
//     single transaction: all of it or none of it.
//
// The store does no validation of registry rules (version numbering, modes,
// references, compatibility): the core decides, the store records. It does
// keep referential integrity (a version's schema id must exist), as a last
// line of defence against a core bug.
//
// Every backend must pass the shared suite in storetest.
package store

import (
	"context"
	"errors"
)

// ErrConflict is returned (wrapped) by Apply when a write would create a
// schema id that already exists, or leave a version pointing at a missing
// schema: the core's view and the database disagree.
var ErrConflict = errors.New("store: write conflicts with stored rows")

// Reference is one entry of a schema's references: the dependency's name as
// the schema uses it, and the concrete subject version it resolves to.
type Reference struct {
	Name    string
	Subject string
	Version int
}

// Schema is one stored schema: a global id and the identity-bearing content.
// Schemas are immutable once stored; they are deleted when no version uses
// them any more.
type Schema struct {
	ID   int
	Type string
	Text string
	// References are stored in order; order is part of the identity.
	References []Reference
	// Metadata and RuleSet are compact JSON objects, or empty when absent.
	Metadata string
	RuleSet  string
	// Hash is the identity digest the core computed (hex); the store keeps it
	// so that the core need not recompute it at load.
	Hash string
}

// Version is one version of a subject.
type Version struct {
	Subject  string
	Version  int
	SchemaID int
	Deleted  bool
}

// VersionKey names a version.
type VersionKey struct {
	Subject string
	Version int
}

// Setting is a subject's configuration or mode; Subject "" is the global one.
// Value is opaque to the store (a JSON object for configs, a mode name for
// modes).
type Setting struct {
	Subject string
	Value   string
}

// State is everything the store holds.
type State struct {
	Schemas  []Schema
	Versions []Version
	Configs  []Setting
	Modes    []Setting
	// MaxID is the id high-water mark: the highest id ever allocated or
	// imported, including ids whose schemas were since deleted.
	MaxID int
	// Version is the store version of this snapshot (see Shared); always 0
	// in a store that one node owns alone (SQLite).
	Version int64
}

// Write is one atomic change. Apply runs its parts in the order of the
// fields: schemas are inserted before versions that use them, and versions
// are deleted before the schemas they used.
type Write struct {
	// PutSchemas inserts new schemas; an id that exists already is a conflict.
	PutSchemas []Schema
	// PutVersions inserts or replaces versions (a soft delete is a put with
	// Deleted set).
	PutVersions []Version
	// DeleteVersions removes versions; a missing one is not an error.
	DeleteVersions []VersionKey
	// DeleteSchemas removes schemas by id; every version using them must be
	// gone by then.
	DeleteSchemas []int
	// PutConfigs and PutModes insert or replace; DeleteConfigs and
	// DeleteModes remove by subject ("" is the global one).
	PutConfigs    []Setting
	DeleteConfigs []string
	PutModes      []Setting
	DeleteModes   []string
	// MaxID, when greater than the stored high-water mark, raises it. It never
	// lowers it.
	MaxID int
}

// Empty reports whether w changes nothing.
func (w *Write) Empty() bool {
	return len(w.PutSchemas) == 0 && len(w.PutVersions) == 0 && len(w.DeleteVersions) == 0 &&
		len(w.DeleteSchemas) == 0 && len(w.PutConfigs) == 0 && len(w.DeleteConfigs) == 0 &&
		len(w.PutModes) == 0 && len(w.DeleteModes) == 0 && w.MaxID == 0
}

// Store is a registry backend. Implementations are safe for concurrent use,
// though the core serialises its writes anyway.
type Store interface {
	// Load returns everything stored, schemas ordered by id and versions by
	// subject then version.
	Load(ctx context.Context) (*State, error)
	// Apply commits w atomically. On error nothing of w is stored.
	Apply(ctx context.Context, w *Write) error
}
