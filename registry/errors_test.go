package registry_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	goldenfile "github.com/sluicehq/sluice/internal/golden"

	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/serde"
)

// TestErrorMessages pins the text of the registry's errors, which users
// read in REST and Connect responses: every one must say what is wrong and
// where. Regenerate with go test ./registry -run ErrorMessages -update.
func TestErrorMessages(t *testing.T) {
	e := newEnv(t)
	e.register("s", orderV1)
	e.register("s", orderV2)
	e.deleteVersion("s", 2, false)
	refSchemas(t, e)
	e.register("gone", other)
	e.deleteSubject("gone", false)
	bad := compat.Level("SIDEWAYS")

	cases := []struct {
		name string
		op   func() error
	}{
		{"invalid subject", func() error {
			_, err := e.Register(ctx, "a\nb", avroSchema(orderV1), registry.RegisterOptions{})
			return err
		}},
		{"reserved subject", func() error { _, err := e.Versions(ctx, "__GLOBAL", registry.ListOptions{}); return err }},
		{"other context", func() error { _, err := e.Versions(ctx, ":.stage:s", registry.ListOptions{}); return err }},
		{"unknown subject", func() error { _, err := e.Versions(ctx, "nope", registry.ListOptions{}); return err }},
		{"unknown version", func() error { _, err := e.Version(ctx, "s", 9, false); return err }},
		{"invalid version", func() error { _, err := e.Version(ctx, "s", 0, false); return err }},
		{"unknown id", func() error { _, err := e.SchemaByID(ctx, 99); return err }},
		{"parse error", func() error {
			_, err := e.Register(ctx, "s", avroSchema(`{"type":"record","name":"A","fields":[{"name":"a","type":"nope"}]}`), registry.RegisterOptions{})
			return err
		}},
		{"unknown type", func() error {
			_, err := e.Register(ctx, "s", registry.Schema{Type: "XML", Text: "<a/>"}, registry.RegisterOptions{})
			return err
		}},
		{"empty schema", func() error {
			_, err := e.Register(ctx, "new", avroSchema(" "), registry.RegisterOptions{})
			return err
		}},
		{"missing reference", func() error {
			_, err := e.Register(ctx, "s", registry.Schema{Type: serde.Avro, Text: orderV1, References: []registry.Reference{{Name: "X", Subject: "x", Version: 1}}}, registry.RegisterOptions{})
			return err
		}},
		{"incompatible", func() error {
			_, err := e.Register(ctx, "s", avroSchema(orderV3), registry.RegisterOptions{})
			return err
		}},
		{"wrong next version", func() error {
			_, err := e.Register(ctx, "s", avroSchema(orderNoID), registry.RegisterOptions{Version: 7})
			return err
		}},
		{"id outside import", func() error {
			_, err := e.Register(ctx, "s", avroSchema(other), registry.RegisterOptions{ID: 4})
			return err
		}},
		{"bad rule set", func() error {
			_, err := e.Register(ctx, "s", registry.Schema{Type: serde.Avro, Text: orderV1, RuleSet: json.RawMessage(`{"domainRules":[{"name":"r","kind":"CONDITION","type":"CEL"}]}`)}, registry.RegisterOptions{})
			return err
		}},
		{"soft delete twice", func() error { _, err := e.DeleteVersion(ctx, "s", 2, false); return err }},
		{"hard delete live", func() error { _, err := e.DeleteVersion(ctx, "s", 1, true); return err }},
		{"delete referenced", func() error { _, err := e.DeleteVersion(ctx, "dep", 1, false); return err }},
		{"delete referenced subject", func() error { _, err := e.DeleteSubject(ctx, "dep", false); return err }},
		{"subject soft deleted", func() error { _, err := e.DeleteSubject(ctx, "gone", false); return err }},
		{"subject not soft deleted", func() error { _, err := e.DeleteSubject(ctx, "s", true); return err }},
		{"no subject config", func() error { _, err := e.Config(ctx, "s", false); return err }},
		{"invalid level", func() error { _, err := e.SetConfig(ctx, "s", registry.SubjectConfig{Compatibility: &bad}); return err }},
		{"no subject mode", func() error { _, err := e.Mode(ctx, "s", false); return err }},
		{"invalid mode", func() error { _, err := e.SetMode(ctx, "", "SIDEWAYS", false); return err }},
		{"import with live subjects", func() error { _, err := e.SetMode(ctx, "", registry.Import, false); return err }},
		{"too large", func() error {
			_, err := e.Register(ctx, "s", avroSchema(strings.Repeat(" ", registry.DefaultMaxSchemaBytes+1)), registry.RegisterOptions{})
			return err
		}},
	}
	var b strings.Builder
	for _, c := range cases {
		err := c.op()
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		fmt.Fprintf(&b, "%s:\n\t%s\n", c.name, err)
	}
	golden(t, "errors.golden", b.String())
}

// golden compares got with testdata/name (internal/golden; -update rewrites it).
func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name), got)
}
