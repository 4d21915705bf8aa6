package registry_test

import (
	"errors"
	"testing"

	"github.com/sluicehq/sluice/registry"
)

// TestCachedAnswers checks the rules of CachedByID and CachedVersion: one
// build per (entry, kind, effective format), formats that serve the same
// text share an answer, kinds do not, a failed build is not kept, versions
// resolve as Version does, and deletes drop what was built.
func TestCachedAnswers(t *testing.T) {
	e := newEnv(t)
	e.register("money", `{"type":"record","name":"Money","fields":[{"name":"units","type":"long"}]}`)
	order := e.registerSchema("orders", registry.Schema{
		Type:       "AVRO",
		Text:       `{"type":"record","name":"Order","fields":[{"name":"total","type":"Money"}]}`,
		References: []registry.Reference{{Name: "Money", Subject: "money", Version: 1}},
	}, registry.RegisterOptions{})
	kindA, kindB := registry.NewAnswerKind(), registry.NewAnswerKind()
	if kindA == kindB {
		t.Fatal("NewAnswerKind gave the same kind twice")
	}
	builds := 0
	build := func(s registry.Schema, text string) (any, error) {
		builds++
		return s.Text + "|" + text, nil
	}
	byID := func(format string, kind registry.AnswerKind) string {
		t.Helper()
		v, err := e.CachedByID(ctx, order.ID, format, kind, build)
		if err != nil {
			t.Fatalf("CachedByID(%d, %q): %v", order.ID, format, err)
		}
		return v.(string)
	}
	stored := byID("", kindA)
	for _, f := range []string{"", "default", "DEFAULT", "serialized", "logical", " resolved"} {
		if got := byID(f, kindA); got != stored {
			t.Errorf("format %q: %q, want the stored text's answer %q", f, got, stored)
		}
	}
	if builds != 1 {
		t.Errorf("%d builds for formats that all serve the stored text, want 1", builds)
	}
	resolved := byID("resolved", kindA)
	if resolved == stored || byID("RESOLVED", kindA) != resolved {
		t.Errorf("resolved answer %q (stored %q)", resolved, stored)
	}
	want, err := e.FormatSchema(ctx, order.ID, "resolved")
	if err != nil {
		t.Fatal(err)
	}
	if resolved != order.Text+"|"+want {
		t.Errorf("resolved answer %q, want the text of FormatSchema %q", resolved, want)
	}
	byID("", kindB)
	if builds != 3 {
		t.Errorf("%d builds, want 3 (stored, resolved, another kind)", builds)
	}

	// A failed build is returned and not kept.
	boom := errors.New("boom")
	kindC := registry.NewAnswerKind()
	if _, err := e.CachedByID(ctx, order.ID, "", kindC, func(registry.Schema, string) (any, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("failing build: %v, want boom", err)
	}
	if v, err := e.CachedByID(ctx, order.ID, "", kindC, build); err != nil || v != stored {
		t.Errorf("after a failed build: %v, %v; want %q", v, err, stored)
	}
	if _, err := e.CachedByID(ctx, 99, "", kindA, build); !errors.Is(err, registry.ErrSchemaNotFound) {
		t.Errorf("unknown id: %v, want ErrSchemaNotFound", err)
	}

	// Versions: Latest and the number share the answer; a soft delete hides
	// it unless deleted is set; a hard delete removes it.
	vbuild := func(sv registry.SubjectVersion, text string) (any, error) {
		return sv, nil
	}
	version := func(v int, deleted bool) (registry.SubjectVersion, error) {
		a, err := e.CachedVersion(ctx, ":.:orders", v, deleted, "", kindA, vbuild)
		if err != nil {
			return registry.SubjectVersion{}, err
		}
		return a.(registry.SubjectVersion), nil
	}
	for _, v := range []int{1, registry.Latest} {
		sv, err := version(v, false)
		if err != nil || sv.Subject != "orders" || sv.Version != 1 || sv.ID != order.ID || sv.Deleted {
			t.Errorf("CachedVersion(orders, %d) = %+v, %v", v, sv, err)
		}
	}
	if _, err := e.DeleteVersion(ctx, "orders", 1, false); err != nil {
		t.Fatal(err)
	}
	if _, err := version(1, false); !errors.Is(err, registry.ErrVersionNotFound) && !errors.Is(err, registry.ErrSubjectNotFound) {
		t.Errorf("soft-deleted version without deleted: %v, want not found", err)
	}
	if sv, err := version(1, true); err != nil || !sv.Deleted {
		t.Errorf("soft-deleted version with deleted = %+v, %v; want it, marked deleted", sv, err)
	}
	if _, err := e.DeleteVersion(ctx, "orders", 1, true); err != nil {
		t.Fatal(err)
	}
	if _, err := version(1, true); err == nil {
		t.Error("hard-deleted version still answers")
	}
	if _, err := e.CachedByID(ctx, order.ID, "", kindA, build); !errors.Is(err, registry.ErrSchemaNotFound) {
		t.Errorf("id of a hard-deleted version: %v, want ErrSchemaNotFound", err)
	}
	if _, err := e.CachedVersion(ctx, "orders", 0, false, "", kindA, vbuild); !errors.Is(err, registry.ErrInvalidVersion) {
		t.Errorf("version 0: %v, want ErrInvalidVersion", err)
	}
}
