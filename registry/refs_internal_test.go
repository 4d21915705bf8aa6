package registry

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/registry/internal/store"
	"github.com/sluicehq/sluice/serde"
)

// refState builds a state directly, since the public API cannot create a
// reference cycle (a reference must name an existing version).
func refState(t *testing.T, schemas []store.Schema, versions []store.Version) *state {
	t.Helper()
	for i := range schemas {
		schemas[i].Type = "AVRO"
		schemas[i].Hash = hex.EncodeToString([]byte{byte(schemas[i].ID)})
	}
	st, err := load(&store.State{Schemas: schemas, Versions: versions})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestResolveRefsFlattensDependenciesFirst(t *testing.T) {
	// c -> b -> a, and c -> a directly under another name.
	st := refState(t, []store.Schema{
		{ID: 1, Text: "A"},
		{ID: 2, Text: "B", References: []store.Reference{{Name: "a", Subject: "a", Version: 1}}},
		{ID: 3, Text: "C", References: []store.Reference{{Name: "b", Subject: "b", Version: 1}, {Name: "a2", Subject: "a", Version: 1}}},
	}, []store.Version{
		{Subject: "a", Version: 1, SchemaID: 1},
		{Subject: "b", Version: 1, SchemaID: 2},
		{Subject: "c", Version: 1, SchemaID: 3},
		{Subject: "c", Version: 2, SchemaID: 3, Deleted: true},
	})
	concrete, flat, err := resolveRefs(st, []Reference{
		{Name: "c", Subject: ":.:c", Version: Latest},
		{Name: "a", Subject: "a", Version: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantFlat := []serde.Referenced{{Name: "a", Text: "A"}, {Name: "b", Text: "B"}, {Name: "a2", Text: "A"}, {Name: "c", Text: "C"}}
	if diff := cmp.Diff(wantFlat, flat); diff != "" {
		t.Errorf("flattened (-want +got):\n%s", diff)
	}
	wantConcrete := []Reference{{Name: "c", Subject: "c", Version: 1}, {Name: "a", Subject: "a", Version: 1}}
	if diff := cmp.Diff(wantConcrete, concrete); diff != "" {
		t.Errorf("concrete (-want +got):\n%s", diff)
	}
}

func TestResolveRefsReportsCycles(t *testing.T) {
	st := refState(t, []store.Schema{
		{ID: 1, Text: "A", References: []store.Reference{{Name: "b", Subject: "b", Version: 1}}},
		{ID: 2, Text: "B", References: []store.Reference{{Name: "a", Subject: "a", Version: 1}}},
	}, []store.Version{
		{Subject: "a", Version: 1, SchemaID: 1},
		{Subject: "b", Version: 1, SchemaID: 2},
	})
	_, _, err := resolveRefs(st, []Reference{{Name: "a", Subject: "a", Version: 1}})
	var ise *InvalidSchemaError
	if !errors.As(err, &ise) {
		t.Fatalf("resolveRefs of a cycle = %v, want *InvalidSchemaError", err)
	}
	if !strings.Contains(err.Error(), "reference cycle a/1 -> b/1 -> a/1") {
		t.Errorf("error %q does not name the cycle", err)
	}
}
