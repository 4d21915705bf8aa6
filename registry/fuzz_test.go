package registry_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/registry"
)

// FuzzRegister registers untrusted schema texts and checks the registry's
// invariants: a refusal is a typed error; an accepted schema is found again
// by id, by lookup (in the client's spelling and in the stored one) and by
// an idempotent re-registration, and the registry stays usable.
func FuzzRegister(f *testing.F) {
	for _, s := range []string{orderV1, orderV1Spaced, orderV2, orderV3, other, `"string"`, `{"type":"string"}`, `["null","int"]`, `{`, ``, `{"type":"enum","name":"E","symbols":["A","A"]}`} {
		f.Add(s)
	}
	e := newEnvLogger(f, slog.New(slog.DiscardHandler))
	e.setLevel("", "NONE")
	f.Fuzz(func(t *testing.T, text string) {
		sv, err := e.Register(ctx, "fuzz", avroSchema(text), registry.RegisterOptions{})
		if err != nil {
			var ise *registry.InvalidSchemaError
			if !errors.As(err, &ise) && !errors.Is(err, registry.ErrSchemaTooLarge) {
				t.Fatalf("Register(%q) failed with an untyped error: %v", text, err)
			}
			return
		}
		got, err := e.SchemaByID(ctx, sv.ID)
		if err != nil || got.Text != sv.Text {
			t.Fatalf("SchemaByID(%d) = %q, %v; want %q", sv.ID, got.Text, err, sv.Text)
		}
		spellings := []string{text, sv.Text}
		if strings.TrimSpace(text) == "" {
			spellings = spellings[1:] // an empty text re-used the latest version's schema
		}
		for _, spelling := range spellings {
			again, err := e.Register(ctx, "fuzz", avroSchema(spelling), registry.RegisterOptions{})
			if err != nil || again.ID != sv.ID || again.Version != sv.Version {
				t.Fatalf("re-register %q = %+v, %v; want id %d version %d", spelling, again, err, sv.ID, sv.Version)
			}
			found, err := e.Lookup(ctx, "fuzz", avroSchema(spelling), registry.LookupOptions{})
			if err != nil || found.ID != sv.ID {
				t.Fatalf("Lookup %q = %+v, %v; want id %d", spelling, found, err, sv.ID)
			}
		}
	})
}
