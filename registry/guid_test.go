package registry_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/serde"
)

const guidVectorText = `{"type":"record","name":"Order","namespace":"shop.v1","fields":[{"name":"id","type":"long"},{"name":"name","type":"string"}]}`

// TestGUIDVector checks the wire-format spec §8 example and that each
// hash input changes the GUID.
func TestGUIDVector(t *testing.T) {
	base := registry.Schema{Type: serde.Avro, Text: guidVectorText}
	if got, want := base.GUID().String(), "ba16ede5-7227-dee9-c639-002f26227050"; got != want {
		t.Fatalf("GUID = %s, want %s", got, want)
	}
	tests := []struct {
		name string
		s    registry.Schema
	}{
		{"reference", registry.Schema{Text: guidVectorText, References: []registry.Reference{{Name: "a", Subject: "b", Version: 1}}}},
		{"reference version", registry.Schema{Text: guidVectorText, References: []registry.Reference{{Name: "a", Subject: "b", Version: 2}}}},
		{"metadata", registry.Schema{Text: guidVectorText, Metadata: json.RawMessage(`{"properties":{"a":"b"}}`)}},
		{"rule set", registry.Schema{Text: guidVectorText, RuleSet: json.RawMessage(`{"domainRules":[]}`)}},
	}
	seen := map[uuid.UUID]string{base.GUID(): "base"}
	for _, tt := range tests {
		g := tt.s.GUID()
		if prev, dup := seen[g]; dup {
			t.Errorf("%s: GUID %s equals that of %s", tt.name, g, prev)
		}
		seen[g] = tt.name
	}
}

// TestGUIDLookup registers the §8 schema under two subjects and looks it
// up by GUID, across a reopen (the index is rebuilt from stored rows) and
// after a permanent delete.
func TestGUIDLookup(t *testing.T) {
	e := newEnv(t)
	a := e.register("a", guidVectorText)
	b := e.register("b", guidVectorText)
	if a.ID != b.ID {
		t.Fatalf("ids %d and %d, want one id", a.ID, b.ID)
	}
	g := uuid.MustParse("ba16ede5-7227-dee9-c639-002f26227050")
	if got := a.Schema.GUID(); got != g {
		t.Fatalf("stored text hashes to %s, want %s (stored %q)", got, g, a.Text)
	}
	for _, phase := range []string{"fresh", "reopened"} {
		ids, err := e.IDsByGUID(ctx, g)
		if err != nil || len(ids) != 1 || ids[0] != a.ID {
			t.Fatalf("%s: IDsByGUID = %v, %v; want [%d]", phase, ids, err, a.ID)
		}
		s, id, err := e.SchemaByGUID(ctx, g)
		if err != nil || id != a.ID || s.Text != a.Text {
			t.Fatalf("%s: SchemaByGUID = %d %q, %v", phase, id, s.Text, err)
		}
		e.reopen()
	}
	if _, err := e.IDsByGUID(ctx, uuid.New()); !errors.Is(err, registry.ErrSchemaNotFound) {
		t.Fatalf("unknown GUID: err %v, want ErrSchemaNotFound", err)
	}
	for _, subj := range []string{"a", "b"} {
		if _, err := e.DeleteSubject(ctx, subj, false); err != nil {
			t.Fatal(err)
		}
		if _, err := e.DeleteSubject(ctx, subj, true); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := e.SchemaByGUID(ctx, g); !errors.Is(err, registry.ErrSchemaNotFound) {
		t.Fatalf("after permanent delete: err %v, want ErrSchemaNotFound", err)
	}
}

// BenchmarkSchemaByGUID is the indexed lookup a header-mode record costs.
func BenchmarkSchemaByGUID(b *testing.B) {
	e := newEnv(b)
	sv := e.register("a", guidVectorText)
	g := sv.Schema.GUID()
	for b.Loop() {
		if _, _, err := e.SchemaByGUID(ctx, g); err != nil {
			b.Fatal(err)
		}
	}
}
