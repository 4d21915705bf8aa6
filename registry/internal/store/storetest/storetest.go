// Package storetest is the conformance suite every registry store backend
// must pass. A backend's test calls Run with a constructor returning a fresh,
// empty store; reopen, when not nil, returns a new Store on the same
// underlying database, to check that what was applied survives.
package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sluicehq/sluice/registry/internal/store"
)

// Opener returns a fresh, empty store and a function that opens a second
// Store on the same database (to test durability across reopen).
type Opener func(t *testing.T) (s store.Store, reopen func(t *testing.T) store.Store)

// Run runs every conformance test against the stores that open returns.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"Empty", testEmpty},
		{"RoundTrip", testRoundTrip},
		{"SoftDeleteIsAPut", testSoftDelete},
		{"HardDelete", testHardDelete},
		{"Settings", testSettings},
		{"MaxIDNeverLowers", testMaxID},
		{"DuplicateSchemaIDRollsBack", testDuplicateSchema},
		{"DanglingVersionRollsBack", testDanglingVersion},
		{"DeleteUsedSchemaRollsBack", testDeleteUsedSchema},
		{"Reopen", testReopen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

var emptyOpts = cmpopts.EquateEmpty()

func load(t *testing.T, s store.Store) *store.State {
	t.Helper()
	st, err := s.Load(context.Background())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return st
}

func apply(t *testing.T, s store.Store, w *store.Write) {
	t.Helper()
	if err := s.Apply(context.Background(), w); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func schema(id int, text string) store.Schema {
	return store.Schema{ID: id, Type: "AVRO", Text: text, Hash: "h-" + text}
}

// seed is a small registry: two schemas, one referencing the other, used by
// three versions in two subjects.
func seed() *store.Write {
	ref := schema(2, `{"type":"record","name":"B","fields":[{"name":"a","type":"A"}]}`)
	ref.References = []store.Reference{{Name: "A", Subject: "a", Version: 1}}
	ref.Metadata = `{"properties":{"owner":"x"}}`
	ref.RuleSet = `{"domainRules":[{"name":"r","kind":"CONDITION","mode":"WRITE","type":"CEL"}]}`
	return &store.Write{
		PutSchemas: []store.Schema{schema(1, `"string"`), ref},
		PutVersions: []store.Version{
			{Subject: "a", Version: 1, SchemaID: 1},
			{Subject: "b", Version: 1, SchemaID: 1},
			{Subject: "b", Version: 2, SchemaID: 2},
		},
		MaxID: 2,
	}
}

func testEmpty(t *testing.T, open Opener) {
	s, _ := open(t)
	got := load(t, s)
	if diff := cmp.Diff(&store.State{}, got, emptyOpts); diff != "" {
		t.Errorf("empty store loads non-empty state (-want +got):\n%s", diff)
	}
	// An empty write is a no-op, not an error.
	apply(t, s, &store.Write{})
}

func testRoundTrip(t *testing.T, open Opener) {
	s, _ := open(t)
	w := seed()
	apply(t, s, w)
	want := &store.State{Schemas: w.PutSchemas, Versions: w.PutVersions, MaxID: 2}
	if diff := cmp.Diff(want, load(t, s), emptyOpts, ignoreVersion); diff != "" {
		t.Errorf("Load after Apply (-want +got):\n%s", diff)
	}
}

func testSoftDelete(t *testing.T, open Opener) {
	s, _ := open(t)
	apply(t, s, seed())
	apply(t, s, &store.Write{PutVersions: []store.Version{{Subject: "b", Version: 1, SchemaID: 1, Deleted: true}}})
	got := load(t, s)
	want := []store.Version{
		{Subject: "a", Version: 1, SchemaID: 1},
		{Subject: "b", Version: 1, SchemaID: 1, Deleted: true},
		{Subject: "b", Version: 2, SchemaID: 2},
	}
	if diff := cmp.Diff(want, got.Versions); diff != "" {
		t.Errorf("versions after soft delete (-want +got):\n%s", diff)
	}
}

func testHardDelete(t *testing.T, open Opener) {
	s, _ := open(t)
	apply(t, s, seed())
	apply(t, s, &store.Write{
		DeleteVersions: []store.VersionKey{{Subject: "b", Version: 2}, {Subject: "nope", Version: 9}},
		DeleteSchemas:  []int{2},
	})
	got := load(t, s)
	if len(got.Schemas) != 1 || got.Schemas[0].ID != 1 {
		t.Errorf("schemas after hard delete = %+v, want only id 1", got.Schemas)
	}
	if len(got.Versions) != 2 {
		t.Errorf("versions after hard delete = %+v, want 2", got.Versions)
	}
	if got.MaxID != 2 {
		t.Errorf("MaxID after deleting id 2 = %d, want 2 (ids are never reused)", got.MaxID)
	}
}

func testSettings(t *testing.T, open Opener) {
	s, _ := open(t)
	apply(t, s, &store.Write{
		PutConfigs: []store.Setting{{Subject: "", Value: `{"compatibility":"FULL"}`}, {Subject: "a", Value: `{"normalize":true}`}},
		PutModes:   []store.Setting{{Subject: "", Value: "READONLY"}, {Subject: "b", Value: "IMPORT"}},
	})
	apply(t, s, &store.Write{
		PutConfigs:    []store.Setting{{Subject: "a", Value: `{"compatibility":"NONE"}`}},
		DeleteConfigs: []string{""},
		DeleteModes:   []string{"b", "never-set"},
	})
	got := load(t, s)
	if diff := cmp.Diff([]store.Setting{{Subject: "a", Value: `{"compatibility":"NONE"}`}}, got.Configs); diff != "" {
		t.Errorf("configs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]store.Setting{{Subject: "", Value: "READONLY"}}, got.Modes); diff != "" {
		t.Errorf("modes (-want +got):\n%s", diff)
	}
}

func testMaxID(t *testing.T, open Opener) {
	s, _ := open(t)
	apply(t, s, &store.Write{MaxID: 10})
	apply(t, s, &store.Write{MaxID: 4})
	if got := load(t, s).MaxID; got != 10 {
		t.Errorf("MaxID = %d, want 10: a lower MaxID must not lower the mark", got)
	}
}

// failApply applies w, expects ErrConflict, and checks that nothing of w
// (which starts with a valid part) was stored.
func failApply(t *testing.T, s store.Store, w *store.Write) {
	t.Helper()
	before := load(t, s)
	err := s.Apply(context.Background(), w)
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Apply = %v, want ErrConflict", err)
	}
	if diff := cmp.Diff(before, load(t, s), emptyOpts); diff != "" {
		t.Errorf("failed Apply changed the state (-before +after):\n%s", diff)
	}
}

func testDuplicateSchema(t *testing.T, open Opener) {
	s, _ := open(t)
	apply(t, s, seed())
	failApply(t, s, &store.Write{
		PutSchemas:  []store.Schema{schema(3, `"int"`), schema(1, `"long"`)},
		PutVersions: []store.Version{{Subject: "c", Version: 1, SchemaID: 3}},
		PutModes:    []store.Setting{{Subject: "", Value: "READONLY"}},
		MaxID:       3,
	})
}

func testDanglingVersion(t *testing.T, open Opener) {
	s, _ := open(t)
	apply(t, s, seed())
	failApply(t, s, &store.Write{
		PutConfigs:  []store.Setting{{Subject: "c", Value: `{}`}},
		PutVersions: []store.Version{{Subject: "c", Version: 1, SchemaID: 42}},
	})
}

func testDeleteUsedSchema(t *testing.T, open Opener) {
	s, _ := open(t)
	apply(t, s, seed())
	failApply(t, s, &store.Write{
		DeleteVersions: []store.VersionKey{{Subject: "a", Version: 1}},
		DeleteSchemas:  []int{1}, // still used by b/1
	})
}

func testReopen(t *testing.T, open Opener) {
	s, reopen := open(t)
	if reopen == nil {
		t.Skip("backend cannot reopen")
	}
	apply(t, s, seed())
	apply(t, s, &store.Write{PutModes: []store.Setting{{Subject: "a", Value: "READONLY"}}, MaxID: 7})
	want := load(t, s)
	got := load(t, reopen(t))
	if diff := cmp.Diff(want, got, emptyOpts); diff != "" {
		t.Errorf("state after reopen (-before +after):\n%s", diff)
	}
}
