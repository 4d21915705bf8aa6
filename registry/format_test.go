package registry_test

import (
	"testing"

	"github.com/sluicehq/sluice/registry"
)

// TestFormatSchema covers FormatSchema's rules that the transports' tests
// do not: an unknown id, a schema stored in IMPORT mode that does not parse
// (the stored text for the stored form, an InvalidSchemaError for a format
// that needs the parse), and format names matched case-insensitively.
func TestFormatSchema(t *testing.T) {
	e := newEnv(t)
	_, err := e.FormatSchema(ctx, 42, registry.FormatResolved)
	wantErr(t, err, registry.ErrSchemaNotFound)

	sv := e.register("s", orderV1)
	for _, f := range []string{"", registry.FormatDefault, "RESOLVED", "Resolved", registry.FormatSerialized, "resolved "} {
		got, err := e.FormatSchema(ctx, sv.ID, f)
		if err != nil || got != sv.Text {
			t.Errorf("FormatSchema(%q) = %q, %v; want the stored text", f, got, err)
		}
	}

	e.setMode("imported", registry.Import, false)
	junk := `{"type":"record","name":"Broken","fields":[{"name":"a","type":"nope"}]}`
	e.registerSchema("imported", avroSchema(junk), registry.RegisterOptions{ID: 5})
	if got, err := e.FormatSchema(ctx, 5, "nope"); err != nil || got != junk {
		t.Errorf("FormatSchema(unknown format) of an unparsable import = %q, %v; want the text", got, err)
	}
	_, err = e.FormatSchema(ctx, 5, registry.FormatResolved)
	var ise *registry.InvalidSchemaError
	wantErr(t, err, &ise)
}
