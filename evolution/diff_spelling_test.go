package evolution_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/evolution"
	"github.com/sluicehq/sluice/registry/compat"
)

// TestDiffAvroSpelling: two spellings of one Avro schema have no change
// between them. The registry stores its canonical form (a named type by
// its short name inside its namespace, attributes in Avro's order, bare
// primitives), so a file or a web console candidate written as the user
// wrote it showed "changed /fields/1/type: "A" -> "n.A"" against the
// registered version. A real change next to them is still found.
func TestDiffAvroSpelling(t *testing.T) {
	const stored = `{"type":"record","name":"R","namespace":"n","fields":[{"name":"a","type":{"type":"record","name":"A","fields":[{"name":"x","type":"int"}]}},{"name":"b","type":"A"},{"name":"c","type":"string"}]}`
	const written = `{
  "fields": [
    {"name": "a", "type": {"type": "record", "name": "A", "fields": [{"name": "x", "type": "int"}]}},
    {"name": "b", "type": "n.A"},
    {"name": "c", "type": {"type": "string"}}
  ],
  "namespace": "n",
  "name": "R",
  "type": "record"
}`
	const changed = `{"type":"record","name":"R","namespace":"n","fields":[{"name":"a","type":{"type":"record","name":"A","fields":[{"name":"x","type":"int"}]}},{"name":"b","type":"n.A"},{"name":"c","type":{"type":"string"}},{"name":"d","type":"int","default":0}]}`
	dir := t.TempDir()
	file := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	diff := func(a, b string) *evolution.DiffReport {
		t.Helper()
		ops, level, err := evolution.ResolveOperands(context.Background(), nil, [2]string{a, b}, compat.Backward)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := evolution.Diff(level, ops[0], ops[1])
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	s, w, c := file("stored.avsc", stored), file("written.avsc", written), file("changed.avsc", changed)
	if rep := diff(s, w); len(rep.Changes) != 0 {
		t.Errorf("two spellings of one schema: %+v", rep.Changes)
	}
	rep := diff(s, c)
	if len(rep.Changes) != 1 || rep.Changes[0].Change != "added" || rep.Changes[0].Path != "/fields/3" || rep.Changes[0].Breaking {
		t.Errorf("one safe added field, and nothing for the spelling: %+v", rep.Changes)
	}
}
