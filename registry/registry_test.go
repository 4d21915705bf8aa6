package registry_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/serde"
)

func compatLevel(s string) compat.Level { return compat.Level(s) }

func TestRegisterSharesIDsAcrossSubjects(t *testing.T) {
	e := newEnv(t)
	a := e.register("a-value", orderV1)
	b := e.register("b-value", orderV1Spaced) // whitespace and key order do not matter
	c := e.register("c-value", other)
	if a.ID != 1 || a.Version != 1 {
		t.Errorf("first registration = id %d version %d, want id 1 version 1", a.ID, a.Version)
	}
	if b.ID != a.ID || b.Version != 1 {
		t.Errorf("same schema in a second subject = id %d version %d, want id %d version 1", b.ID, b.Version, a.ID)
	}
	if c.ID != 2 {
		t.Errorf("a different schema got id %d, want 2", c.ID)
	}
	if b.Text != orderV1 {
		t.Errorf("stored text = %s, want the canonical %s", b.Text, orderV1)
	}
	subs, err := e.SubjectsByID(ctx, a.ID, registry.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a-value", "b-value"}, subs); diff != "" {
		t.Errorf("SubjectsByID (-want +got):\n%s", diff)
	}
	vs, err := e.VersionsByID(ctx, a.ID, registry.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]registry.SubjectVersionRef{{Subject: "a-value", Version: 1}, {Subject: "b-value", Version: 1}}, vs); diff != "" {
		t.Errorf("VersionsByID (-want +got):\n%s", diff)
	}
	if got := e.MaxID(); got != 2 {
		t.Errorf("MaxID = %d, want 2", got)
	}
}

func TestRegisterIsIdempotent(t *testing.T) {
	e := newEnv(t)
	first := e.register("s", orderV1)
	e.register("s", orderV2)
	// Re-registering an older version returns it, even through another
	// spelling and even in READONLY mode (the fast path runs first).
	e.setMode("", registry.ReadOnly, false)
	again, err := e.Register(ctx, "s", avroSchema(orderV1Spaced), registry.RegisterOptions{})
	if err != nil {
		t.Fatalf("re-register in READONLY: %v", err)
	}
	if again.ID != first.ID || again.Version != first.Version {
		t.Errorf("re-register = id %d version %d, want id %d version %d", again.ID, again.Version, first.ID, first.Version)
	}
	_, err = e.Register(ctx, "s", avroSchema(orderV3), registry.RegisterOptions{})
	wantErr(t, err, registry.ErrOperationNotPermitted)
}

func TestVersionNumbering(t *testing.T) {
	tests := []struct {
		name string
		ops  func(e *env)
		// next is the version a new schema gets after ops.
		next int
	}{
		{"fresh subject", func(e *env) {}, 1},
		{"after two versions", func(e *env) { e.register("s", orderV1); e.register("s", orderV2) }, 3},
		{"soft-deleted versions still count", func(e *env) {
			e.register("s", orderV1)
			e.register("s", orderV2)
			e.deleteSubject("s", false)
		}, 3},
		{"a hard-deleted latest version does not count", func(e *env) {
			e.register("s", orderV1)
			e.register("s", orderV2)
			e.deleteVersion("s", 2, false)
			e.deleteVersion("s", 2, true)
		}, 2},
		{"a hard-deleted subject starts again", func(e *env) {
			e.register("s", orderV1)
			e.deleteSubject("s", false)
			e.deleteSubject("s", true)
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.setLevel("", "NONE")
			tt.ops(e)
			got := e.register("s", other)
			if got.Version != tt.next {
				t.Errorf("new version = %d, want %d", got.Version, tt.next)
			}
		})
	}
}

func TestReRegisterAfterSoftDeleteReusesIDAndTombstones(t *testing.T) {
	e := newEnv(t)
	v1 := e.register("s", orderV1)
	e.register("s", orderV2)
	e.deleteSubject("s", false)
	again := e.register("s", orderV1)
	if again.ID != v1.ID || again.Version != 3 {
		t.Fatalf("re-register after soft delete = id %d version %d, want id %d version 3", again.ID, again.Version, v1.ID)
	}
	// Step 12: the soft-deleted v1 with the same id is gone; v2 stays.
	vs, err := e.Versions(ctx, "s", registry.ListOptions{Deleted: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{2, 3}, vs); diff != "" {
		t.Errorf("versions incl. deleted (-want +got):\n%s", diff)
	}
}

func TestIDsAreNeverReused(t *testing.T) {
	e := newEnv(t)
	e.register("s", orderV1)
	b := e.register("t", other)
	e.deleteSubject("t", false)
	e.deleteSubject("t", true)
	if _, err := e.SchemaByID(ctx, b.ID); !errors.Is(err, registry.ErrSchemaNotFound) {
		t.Fatalf("SchemaByID of a hard-deleted id = %v, want ErrSchemaNotFound", err)
	}
	e.reopen()
	c := e.register("t", other)
	if c.ID != b.ID+1 {
		t.Errorf("re-registered after hard delete and restart got id %d, want %d (high-water mark + 1)", c.ID, b.ID+1)
	}
}

func TestSoftDeletedIDStaysReadable(t *testing.T) {
	e := newEnv(t)
	sv := e.register("s", orderV1)
	e.deleteSubject("s", false)
	got, err := e.SchemaByID(ctx, sv.ID)
	if err != nil {
		t.Fatalf("SchemaByID after soft delete: %v", err)
	}
	if got.Text != orderV1 {
		t.Errorf("text = %s", got.Text)
	}
	subs, err := e.SubjectsByID(ctx, sv.ID, registry.ListOptions{})
	if err != nil || len(subs) != 0 {
		t.Errorf("SubjectsByID live only = %v, %v; want empty list", subs, err)
	}
	subs, err = e.SubjectsByID(ctx, sv.ID, registry.ListOptions{Deleted: true})
	if err != nil || !slices.Equal(subs, []string{"s"}) {
		t.Errorf("SubjectsByID deleted = %v, %v; want [s]", subs, err)
	}
}

// refSchemas registers a dependency "dep" (Avro record com.x.Dep) and a
// schema in "app" referencing it.
func refSchemas(t *testing.T, e *env) (dep, app registry.SubjectVersion) {
	t.Helper()
	dep = e.register("dep", `{"type":"record","name":"Dep","namespace":"com.x","fields":[{"name":"a","type":"int"}]}`)
	app = e.registerSchema("app", registry.Schema{
		Type:       serde.Avro,
		Text:       `{"type":"record","name":"App","fields":[{"name":"d","type":"com.x.Dep"}]}`,
		References: []registry.Reference{{Name: "com.x.Dep", Subject: "dep", Version: registry.Latest}},
	}, registry.RegisterOptions{})
	return dep, app
}

func TestReferences(t *testing.T) {
	e := newEnv(t)
	_, app := refSchemas(t, e)
	if diff := cmp.Diff([]registry.Reference{{Name: "com.x.Dep", Subject: "dep", Version: 1}}, app.References); diff != "" {
		t.Errorf("stored references: version -1 must become the concrete latest (-want +got):\n%s", diff)
	}
	ids, err := e.ReferencedBy(ctx, "dep", 1, false)
	if err != nil || !slices.Equal(ids, []int{app.ID}) {
		t.Errorf("ReferencedBy = %v, %v; want [%d]", ids, err, app.ID)
	}
	p, err := e.SchemaByIDParsed(ctx, app.ID)
	if err != nil {
		t.Fatalf("SchemaByIDParsed of a schema with references: %v", err)
	}
	if p.Format() != serde.Avro {
		t.Errorf("parsed format = %s", p.Format())
	}

	// Delete protection.
	_, err = e.DeleteVersion(ctx, "dep", 1, false)
	wantErr(t, err, registry.ErrReferenceExists)
	_, err = e.DeleteSubject(ctx, "dep", false)
	wantErr(t, err, registry.ErrReferenceExists)
	// Once the referrer is only soft-deleted, a soft delete is allowed but
	// a hard delete is still refused.
	e.deleteSubject("app", false)
	if ids, _ := e.ReferencedBy(ctx, "dep", 1, false); len(ids) != 0 {
		t.Errorf("ReferencedBy live after soft-deleting the referrer = %v, want none", ids)
	}
	if ids, _ := e.ReferencedBy(ctx, "dep", 1, true); !slices.Equal(ids, []int{app.ID}) {
		t.Errorf("ReferencedBy deleted = %v, want [%d]", ids, app.ID)
	}
	e.deleteVersion("dep", 1, false)
	_, err = e.DeleteVersion(ctx, "dep", 1, true)
	wantErr(t, err, registry.ErrReferenceExists)
	_, err = e.DeleteSubject(ctx, "dep", true)
	wantErr(t, err, registry.ErrReferenceExists)
	// After the referrer is gone for good, the dependency can go too.
	e.deleteSubject("app", true)
	e.deleteSubject("dep", true)
}

func TestReferenceErrors(t *testing.T) {
	e := newEnv(t)
	e.register("dep", `{"type":"record","name":"Dep","fields":[{"name":"a","type":"int"}]}`)
	text := `{"type":"record","name":"App","fields":[{"name":"d","type":"Dep"}]}`
	tests := []struct {
		name string
		ref  registry.Reference
		want string
	}{
		{"missing subject", registry.Reference{Name: "Dep", Subject: "nope", Version: 1}, `subject "nope" not found`},
		{"missing version", registry.Reference{Name: "Dep", Subject: "dep", Version: 7}, `subject "dep" has no version 7`},
		{"no name", registry.Reference{Subject: "dep", Version: 1}, "reference has no name"},
		{"version zero", registry.Reference{Name: "Dep", Subject: "dep", Version: 0}, "version must be a positive number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Register(ctx, "app", registry.Schema{Type: serde.Avro, Text: text, References: []registry.Reference{tt.ref}}, registry.RegisterOptions{})
			var ise *registry.InvalidSchemaError
			wantErr(t, err, &ise)
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "references[0]") {
				t.Errorf("error %q does not name the reference and say %q", err, tt.want)
			}
		})
	}
}

func TestDeleteErrors(t *testing.T) {
	// setup: "s" has v1 live, v2 soft-deleted; "gone" is fully soft-deleted;
	// "dep" v1 is referenced by a live schema.
	setup := func(t *testing.T) *env {
		e := newEnv(t)
		e.setLevel("", "NONE")
		e.register("s", orderV1)
		e.register("s", orderV2)
		e.deleteVersion("s", 2, false)
		e.register("gone", other)
		e.deleteSubject("gone", false)
		refSchemas(t, e)
		return e
	}
	tests := []struct {
		name string
		op   func(e *env) error
		want error
	}{
		{"version of unknown subject", func(e *env) error { _, err := e.DeleteVersion(ctx, "nope", 1, false); return err }, registry.ErrSubjectNotFound},
		{"unknown version", func(e *env) error { _, err := e.DeleteVersion(ctx, "s", 9, false); return err }, registry.ErrVersionNotFound},
		{"invalid version", func(e *env) error { _, err := e.DeleteVersion(ctx, "s", 0, false); return err }, registry.ErrInvalidVersion},
		{"soft delete twice", func(e *env) error { _, err := e.DeleteVersion(ctx, "s", 2, false); return err }, registry.ErrVersionSoftDeleted},
		{"hard delete of live version", func(e *env) error { _, err := e.DeleteVersion(ctx, "s", 1, true); return err }, registry.ErrVersionNotSoftDeleted},
		{"referenced version", func(e *env) error { _, err := e.DeleteVersion(ctx, "dep", 1, false); return err }, registry.ErrReferenceExists},
		{"unknown subject", func(e *env) error { _, err := e.DeleteSubject(ctx, "nope", false); return err }, registry.ErrSubjectNotFound},
		{"soft delete subject twice", func(e *env) error { _, err := e.DeleteSubject(ctx, "gone", false); return err }, registry.ErrSubjectSoftDeleted},
		{"hard delete of live subject", func(e *env) error { _, err := e.DeleteSubject(ctx, "s", true); return err }, registry.ErrSubjectNotSoftDeleted},
		{"referenced subject", func(e *env) error { _, err := e.DeleteSubject(ctx, "dep", false); return err }, registry.ErrReferenceExists},
		{"readonly", func(e *env) error {
			e.setMode("s", registry.ReadOnly, false)
			_, err := e.DeleteVersion(ctx, "s", 1, false)
			return err
		}, registry.ErrOperationNotPermitted},
		{"invalid subject", func(e *env) error { _, err := e.DeleteSubject(ctx, "__GLOBAL", false); return err }, registry.ErrInvalidSubject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t)
			before := registry.Dump(e.Registry)
			err := tt.op(e)
			wantErr(t, err, tt.want)
			if tt.name != "readonly" {
				if diff := cmp.Diff(before, registry.Dump(e.Registry)); diff != "" {
					t.Errorf("failed delete changed the state (-before +after):\n%s", diff)
				}
			}
		})
	}
}

func TestDeleteResults(t *testing.T) {
	e := newEnv(t)
	e.setLevel("", "NONE")
	e.register("s", orderV1)
	e.register("s", orderV2)
	e.register("s", orderV3)
	if n, err := e.DeleteVersion(ctx, "s", registry.Latest, false); err != nil || n != 3 {
		t.Fatalf("DeleteVersion(latest) = %d, %v; want 3", n, err)
	}
	latest, err := e.Version(ctx, "s", registry.Latest, false)
	if err != nil || latest.Version != 2 {
		t.Fatalf("latest after soft-deleting v3 = %d, %v; want 2", latest.Version, err)
	}
	if vs := e.deleteSubject("s", false); !slices.Equal(vs, []int{1, 2}) {
		t.Errorf("soft DeleteSubject = %v, want [1 2] (the live versions)", vs)
	}
	if vs := e.deleteSubject("s", true); !slices.Equal(vs, []int{1, 2, 3}) {
		t.Errorf("hard DeleteSubject = %v, want [1 2 3] (every stored version)", vs)
	}
}

func TestReadsAfterDeletes(t *testing.T) {
	e := newEnv(t)
	e.register("s", orderV1)
	e.register("s", orderV2)
	e.register("t", other)
	e.deleteVersion("s", 1, false)
	e.deleteSubject("t", false)

	check := func(name string, got any, err error, want any) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	vs, err := e.Versions(ctx, "s", registry.ListOptions{})
	check("Versions", vs, err, []int{2})
	vs, err = e.Versions(ctx, "s", registry.ListOptions{Deleted: true})
	check("Versions deleted", vs, err, []int{1, 2})
	vs, err = e.Versions(ctx, "s", registry.ListOptions{DeletedOnly: true})
	check("Versions deletedOnly", vs, err, []int{1})
	_, err = e.Versions(ctx, "t", registry.ListOptions{})
	wantErr(t, err, registry.ErrSubjectNotFound)

	subs, err := e.Subjects(ctx, "", registry.ListOptions{})
	check("Subjects", subs, err, []string{"s"})
	subs, err = e.Subjects(ctx, ":*:", registry.ListOptions{Deleted: true})
	check("Subjects deleted", subs, err, []string{"s", "t"})
	subs, err = e.Subjects(ctx, ":.:t", registry.ListOptions{DeletedOnly: true})
	check("Subjects deletedOnly with prefix", subs, err, []string{"t"})
	subs, err = e.Subjects(ctx, ":.other:", registry.ListOptions{})
	check("Subjects in another context", subs, err, []string{})

	_, err = e.Version(ctx, "s", 1, false)
	wantErr(t, err, registry.ErrVersionNotFound)
	if sv, err := e.Version(ctx, "s", 1, true); err != nil || !sv.Deleted {
		t.Errorf("Version(1, deleted) = %+v, %v; want the soft-deleted version", sv, err)
	}
	_, err = e.Version(ctx, "t", registry.Latest, true)
	wantErr(t, err, registry.ErrSubjectNotFound)
	_, err = e.Version(ctx, "t", 1, false)
	wantErr(t, err, registry.ErrSubjectNotFound)
	_, err = e.Version(ctx, "s", -2, false)
	wantErr(t, err, registry.ErrInvalidVersion)

	all, err := e.Schemas(ctx, "", registry.ListOptions{Deleted: true}, false)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, sv := range all {
		got = append(got, fmt.Sprintf("%s/%d/%d/%v", sv.Subject, sv.Version, sv.ID, sv.Deleted))
	}
	check("Schemas deleted", got, nil, []string{"s/1/1/true", "s/2/2/false", "t/1/3/true"})
	latest, err := e.Schemas(ctx, "s", registry.ListOptions{}, true)
	if err != nil || len(latest) != 1 || latest[0].Version != 2 || latest[0].Text != orderV2 {
		t.Errorf("Schemas latestOnly = %+v, %v", latest, err)
	}
}

func TestSubjectNames(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		subject string
		want    error // nil: accepted
		stored  string
	}{
		{"orders-value", nil, "orders-value"},
		{`we:ird/"{name}*`, nil, `we:ird/"{name}*`},
		{":.:orders-value", nil, "orders-value"},
		{":.foo", nil, ":.foo"},
		{"__GLOBAL", registry.ErrInvalidSubject, ""},
		{"__EMPTY", registry.ErrInvalidSubject, ""},
		{":.:__EMPTY", registry.ErrInvalidSubject, ""},
		{"", registry.ErrInvalidSubject, ""},
		{"tab\there", registry.ErrInvalidSubject, ""},
		{"nul\x00", registry.ErrInvalidSubject, ""},
		{"bad\xffutf8", registry.ErrInvalidSubject, ""},
		{":.staging:orders", registry.ErrInvalidSubject, ""},
		{":.__GLOBAL:orders", registry.ErrInvalidSubject, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.subject), func(t *testing.T) {
			sv, err := e.Register(ctx, tt.subject, avroSchema(orderV1), registry.RegisterOptions{})
			if tt.want != nil {
				wantErr(t, err, tt.want)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sv.Subject != tt.stored {
				t.Errorf("subject = %q, want %q", sv.Subject, tt.stored)
			}
		})
	}
}

func TestSchemaTooLarge(t *testing.T) {
	e := newEnv(t)
	big := `{"type":"record","name":"Big","doc":"` + strings.Repeat("x", registry.DefaultMaxSchemaBytes) + `","fields":[]}`
	_, err := e.Register(ctx, "s", avroSchema(big), registry.RegisterOptions{})
	wantErr(t, err, registry.ErrSchemaTooLarge)
	if !strings.Contains(err.Error(), fmt.Sprint(len(big))) || !strings.Contains(err.Error(), fmt.Sprint(registry.DefaultMaxSchemaBytes)) {
		t.Errorf("error %q does not give the size and the limit", err)
	}
}

func TestInvalidSchema(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		in   registry.Schema
	}{
		{"malformed", avroSchema(`{"type":"record"`)},
		{"unknown type name", avroSchema(`{"type":"record","name":"A","fields":[{"name":"a","type":"nope"}]}`)},
		{"unknown schema type", registry.Schema{Type: "avro", Text: orderV1}},
		{"empty with no previous version", avroSchema("")},
		{"metadata not an object", registry.Schema{Type: serde.Avro, Text: orderV1, Metadata: json.RawMessage(`[1]`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Register(ctx, "s", tt.in, registry.RegisterOptions{})
			var ise *registry.InvalidSchemaError
			wantErr(t, err, &ise)
		})
	}
}

func TestEmptySchemaReusesPrevious(t *testing.T) {
	e := newEnv(t)
	v1 := e.register("s", orderV1)
	md := json.RawMessage(`{"properties":{"owner":"team-a"}}`)
	v2 := e.registerSchema("s", registry.Schema{Metadata: md}, registry.RegisterOptions{})
	if v2.Version != 2 || v2.ID == v1.ID || v2.Text != orderV1 {
		t.Fatalf("metadata-only update = version %d id %d text %s; want version 2, a new id, the same text", v2.Version, v2.ID, v2.Text)
	}
	if string(v2.Metadata) != string(md) {
		t.Errorf("metadata = %s, want %s", v2.Metadata, md)
	}
	// A bare re-registration of v1's text is v1 itself (an exact match).
	if again := e.register("s", orderV1); again.Version != 1 {
		t.Errorf("bare re-register of v1 = version %d, want 1", again.Version)
	}
	// A new text without metadata inherits the latest version's metadata.
	v3 := e.register("s", orderV2)
	if v3.Version != 3 || string(v3.Metadata) != string(md) {
		t.Errorf("new version = %d with metadata %s, want 3 with %s (inherited)", v3.Version, v3.Metadata, md)
	}
}

func TestMetadataIsPartOfIdentity(t *testing.T) {
	e := newEnv(t)
	a := e.registerSchema("a", registry.Schema{Type: serde.Avro, Text: orderV1, Metadata: json.RawMessage(`{"properties":{"k":"1","j":"2"}}`)}, registry.RegisterOptions{})
	b := e.registerSchema("b", registry.Schema{Type: serde.Avro, Text: orderV1, Metadata: json.RawMessage(` { "properties" : {"j":"2","k":"1"} }`)}, registry.RegisterOptions{})
	c := e.register("c", orderV1)
	if a.ID != b.ID {
		t.Errorf("same metadata in another key order got ids %d and %d, want one", a.ID, b.ID)
	}
	if c.ID == a.ID {
		t.Errorf("schema without metadata shares id %d with one with metadata", c.ID)
	}
	if string(a.Metadata) != `{"properties":{"j":"2","k":"1"}}` {
		t.Errorf("stored metadata = %s, want compact with sorted keys", a.Metadata)
	}
}

func TestRuleSetValidation(t *testing.T) {
	e := newEnv(t)
	good := `{"domainRules":[{"name":"r1","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"true"}]}`
	if _, err := e.Register(ctx, "s", registry.Schema{Type: serde.Avro, Text: orderV1, RuleSet: json.RawMessage(good)}, registry.RegisterOptions{}); err != nil {
		t.Fatalf("valid rule set refused: %v", err)
	}
	tests := []struct{ name, rs, want string }{
		{"not an object", `[]`, "must be a JSON object"},
		{"rules not an array", `{"domainRules":{}}`, "domainRules must be an array"},
		{"missing name", `{"domainRules":[{"kind":"CONDITION","mode":"WRITE","type":"CEL"}]}`, "domainRules[0]: missing rule name"},
		{"bad kind", `{"domainRules":[{"name":"r","kind":"X","mode":"WRITE","type":"CEL"}]}`, `kind "X"`},
		{"migration mode", `{"migrationRules":[{"name":"r","kind":"TRANSFORM","mode":"WRITE","type":"JSONATA"}]}`, `mode "WRITE"`},
		{"missing type", `{"domainRules":[{"name":"r","kind":"CONDITION","mode":"READ"}]}`, "missing rule type"},
		{"duplicate name", `{"domainRules":[{"name":"r","kind":"CONDITION","mode":"READ","type":"CEL"}],"encodingRules":[{"name":"r","kind":"TRANSFORM","mode":"WRITE","type":"ENCRYPT"}]}`, `"r" is already used by domainRules[0]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Register(ctx, "s", registry.Schema{Type: serde.Avro, Text: orderV2, RuleSet: json.RawMessage(tt.rs)}, registry.RegisterOptions{})
			wantErr(t, err, registry.ErrInvalidRuleSet)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestVersionOption(t *testing.T) {
	e := newEnv(t)
	e.register("s", orderV1)
	_, err := e.Register(ctx, "s", avroSchema(orderV2), registry.RegisterOptions{Version: 5})
	var ise *registry.InvalidSchemaError
	wantErr(t, err, &ise)
	v2 := e.registerSchema("s", avroSchema(orderV2), registry.RegisterOptions{Version: 2})
	if v2.Version != 2 {
		t.Fatalf("version = %d", v2.Version)
	}
	// An explicit version pins confluent:version in the metadata.
	if got := string(v2.Metadata); got != `{"properties":{"confluent:version":"2"}}` {
		t.Errorf("metadata = %s, want confluent:version 2", got)
	}
	// -1: register only if different from the latest.
	same := e.registerSchema("s", registry.Schema{Type: serde.Avro, Text: orderV2, Metadata: v2.Metadata}, registry.RegisterOptions{Version: registry.Latest})
	if same.Version != 2 {
		t.Errorf("version -1 with the latest schema = %d, want 2", same.Version)
	}
	_, err = e.Register(ctx, "s", avroSchema(orderV2), registry.RegisterOptions{Version: -2})
	wantErr(t, err, registry.ErrInvalidVersion)
}

func TestModes(t *testing.T) {
	t.Run("READONLY refuses writes but allows mode changes", func(t *testing.T) {
		e := newEnv(t)
		e.register("s", orderV1)
		e.setMode("s", registry.ReadOnly, false)
		_, err := e.Register(ctx, "s", avroSchema(orderV2), registry.RegisterOptions{})
		wantErr(t, err, registry.ErrOperationNotPermitted)
		_, err = e.SetConfig(ctx, "s", registry.SubjectConfig{})
		wantErr(t, err, registry.ErrOperationNotPermitted)
		_, err = e.DeleteSubject(ctx, "s", false)
		wantErr(t, err, registry.ErrOperationNotPermitted)
		// Other subjects are unaffected.
		e.register("t", orderV1)
		e.setMode("s", registry.ReadWrite, false)
		e.register("s", orderV2)
	})
	t.Run("READONLY_OVERRIDE beats subject modes", func(t *testing.T) {
		e := newEnv(t)
		e.setMode("s", registry.ReadWrite, false)
		e.setMode("", registry.ReadOnlyOverride, false)
		_, err := e.Register(ctx, "s", avroSchema(orderV1), registry.RegisterOptions{})
		wantErr(t, err, registry.ErrOperationNotPermitted)
		if m, _ := e.Mode(ctx, "s", true); m != registry.ReadOnlyOverride {
			t.Errorf("effective mode = %s", m)
		}
	})
	t.Run("ids only in IMPORT", func(t *testing.T) {
		e := newEnv(t)
		_, err := e.Register(ctx, "s", avroSchema(orderV1), registry.RegisterOptions{ID: 7})
		wantErr(t, err, registry.ErrOperationNotPermitted)
		e.setMode("", registry.Import, false)
		_, err = e.Register(ctx, "s", avroSchema(orderV1), registry.RegisterOptions{})
		wantErr(t, err, registry.ErrOperationNotPermitted)
	})
	t.Run("IMPORT honours ids and versions, skips checks", func(t *testing.T) {
		e := newEnv(t)
		e.setMode("", registry.Import, false)
		a := e.registerSchema("s", avroSchema(orderV1), registry.RegisterOptions{ID: 10, Version: 4})
		if a.ID != 10 || a.Version != 4 {
			t.Fatalf("import = id %d version %d, want 10 and 4", a.ID, a.Version)
		}
		// Incompatible under BACKWARD, but IMPORT skips the check; and the
		// same text under a second id is accepted.
		b := e.registerSchema("s", avroSchema(orderV3), registry.RegisterOptions{ID: 3})
		c := e.registerSchema("t", avroSchema(orderV1), registry.RegisterOptions{ID: 11})
		if b.Version != 5 || c.ID != 11 {
			t.Errorf("imports = %+v, %+v", b, c)
		}
		// An id holding another schema cannot be overwritten.
		_, err := e.Register(ctx, "u", avroSchema(other), registry.RegisterOptions{ID: 10})
		wantErr(t, err, registry.ErrOperationNotPermitted)
		// An existing version cannot be overwritten.
		_, err = e.Register(ctx, "s", avroSchema(other), registry.RegisterOptions{ID: 12, Version: 4})
		wantErr(t, err, registry.ErrOperationNotPermitted)
		// Later allocation skips imported ids.
		e.setMode("", registry.ReadWrite, false)
		d := e.register("u", other)
		if d.ID != 12 {
			t.Errorf("id after imports up to 11 = %d, want 12", d.ID)
		}
	})
	t.Run("IMPORT needs an empty scope unless forced", func(t *testing.T) {
		e := newEnv(t)
		e.register("s", orderV1)
		e.register("gone", other)
		e.deleteSubject("gone", false)
		_, err := e.SetMode(ctx, "", registry.Import, false)
		wantErr(t, err, registry.ErrOperationNotPermitted)
		_, err = e.SetMode(ctx, "s", registry.Import, false)
		wantErr(t, err, registry.ErrOperationNotPermitted)
		// A subject-level switch on a soft-deleted subject purges it.
		e.setMode("gone", registry.Import, false)
		if _, err := e.Versions(ctx, "gone", registry.ListOptions{Deleted: true}); !errors.Is(err, registry.ErrSubjectNotFound) {
			t.Errorf("soft-deleted versions survived the switch to IMPORT: %v", err)
		}
		if m, err := e.Mode(ctx, "gone", false); err != nil || m != registry.Import {
			t.Errorf("mode of the purged subject = %s, %v; want IMPORT", m, err)
		}
		e.setMode("", registry.Import, true)
	})
	t.Run("get and delete", func(t *testing.T) {
		e := newEnv(t)
		if m, err := e.Mode(ctx, "", false); err != nil || m != registry.ReadWrite {
			t.Errorf("global mode = %s, %v", m, err)
		}
		_, err := e.Mode(ctx, "s", false)
		wantErr(t, err, registry.ErrSubjectModeNotFound)
		_, err = e.DeleteMode(ctx, "s")
		wantErr(t, err, registry.ErrSubjectNotFound)
		_, err = e.SetMode(ctx, "s", "WRONG", false)
		wantErr(t, err, registry.ErrInvalidMode)
		e.setMode("s", "readonly", false)
		if m, err := e.DeleteMode(ctx, "s"); err != nil || m != registry.ReadOnly {
			t.Errorf("DeleteMode = %s, %v; want READONLY", m, err)
		}
		e.setMode("", registry.ReadOnly, false)
		if m, err := e.DeleteMode(ctx, ""); err != nil || m != registry.ReadOnly {
			t.Errorf("DeleteMode global = %s, %v", m, err)
		}
		if m, _ := e.Mode(ctx, ":.:", false); m != registry.ReadWrite {
			t.Errorf("global mode after delete = %s", m)
		}
	})
}

func TestConfig(t *testing.T) {
	e := newEnv(t)
	g, err := e.Config(ctx, "", false)
	if err != nil || *g.Compatibility != compat.Backward {
		t.Fatalf("default global config = %+v, %v; want BACKWARD", g, err)
	}
	_, err = e.Config(ctx, "s", false)
	wantErr(t, err, registry.ErrSubjectConfigNotFound)
	eff, err := e.Config(ctx, "s", true)
	if err != nil || *eff.Compatibility != compat.Backward {
		t.Errorf("effective = %+v, %v", eff, err)
	}

	full := compat.Level("full") // case-insensitive on input
	yes := true
	set, err := e.SetConfig(ctx, "s", registry.SubjectConfig{Compatibility: &full, Normalize: &yes, Other: map[string]json.RawMessage{"alias": json.RawMessage(`"t"`)}})
	if err != nil {
		t.Fatal(err)
	}
	if *set.Compatibility != compat.Full || string(set.Other["alias"]) != `"t"` {
		t.Errorf("SetConfig echo = %+v", set)
	}
	// A second update merges.
	grp := "team"
	if _, err := e.SetConfig(ctx, "s", registry.SubjectConfig{CompatibilityGroup: &grp}); err != nil {
		t.Fatal(err)
	}
	e.reopen()
	got, err := e.Config(ctx, "s", false)
	if err != nil {
		t.Fatal(err)
	}
	want := registry.SubjectConfig{Compatibility: &[]compat.Level{compat.Full}[0], Normalize: &yes, CompatibilityGroup: &grp, Other: map[string]json.RawMessage{"alias": json.RawMessage(`"t"`)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config after merge and restart (-want +got):\n%s", diff)
	}
	bad := compat.Level("SIDEWAYS")
	_, err = e.SetConfig(ctx, "s", registry.SubjectConfig{Compatibility: &bad})
	wantErr(t, err, registry.ErrInvalidCompatibility)
	_, err = e.SetConfig(ctx, "__GLOBAL", registry.SubjectConfig{Compatibility: &full})
	wantErr(t, err, registry.ErrInvalidSubject)

	// Global changes show through defaultToGlobal where the subject is silent.
	e.setLevel("", "FORWARD")
	eff, _ = e.Config(ctx, "other", true)
	if *eff.Compatibility != compat.Forward {
		t.Errorf("inherited level = %s", *eff.Compatibility)
	}
	prev, err := e.DeleteConfig(ctx, "s")
	if err != nil || *prev.Compatibility != compat.Full {
		t.Errorf("DeleteConfig = %+v, %v", prev, err)
	}
	_, err = e.DeleteConfig(ctx, "s")
	wantErr(t, err, registry.ErrSubjectNotFound)
	prev, err = e.DeleteConfig(ctx, "")
	if err != nil || *prev.Compatibility != compat.Forward {
		t.Errorf("DeleteConfig global = %+v, %v", prev, err)
	}
	if g, _ := e.Config(ctx, "", false); *g.Compatibility != compat.Backward {
		t.Errorf("global after reset = %s", *g.Compatibility)
	}
}

func TestSubjectConfigAndModeGoWithLastVersion(t *testing.T) {
	e := newEnv(t)
	e.register("s", orderV1)
	e.setLevel("s", "NONE")
	e.setMode("s", registry.ReadWrite, false)
	e.deleteSubject("s", false)
	if _, err := e.Config(ctx, "s", false); err != nil {
		t.Errorf("config after a soft delete: %v (must survive)", err)
	}
	e.deleteSubject("s", true)
	_, err := e.Config(ctx, "s", false)
	wantErr(t, err, registry.ErrSubjectConfigNotFound)
	_, err = e.Mode(ctx, "s", false)
	wantErr(t, err, registry.ErrSubjectModeNotFound)
}

func TestNormalize(t *testing.T) {
	e := newEnv(t)
	// A reference by full name vs a nested definition; normalisation writes
	// full names, so spellings differing only there share an id.
	a := `{"type":"record","name":"A","namespace":"n","fields":[{"name":"b","type":{"type":"record","name":"B","fields":[]}},{"name":"c","type":"B"}]}`
	b := `{"type":"record","name":"A","namespace":"n","fields":[{"name":"b","type":{"type":"record","name":"B","fields":[]}},{"name":"c","type":"n.B"}]}`
	plainA := e.register("plain", a)
	plainB := e.registerSchema("plain2", avroSchema(b), registry.RegisterOptions{})
	normA := e.registerSchema("norm", avroSchema(a), registry.RegisterOptions{Normalize: true})
	yes := true
	if _, err := e.SetConfig(ctx, "norm2", registry.SubjectConfig{Normalize: &yes}); err != nil {
		t.Fatal(err)
	}
	normB := e.register("norm2", b)
	if normA.ID != normB.ID {
		t.Errorf("normalized registrations (option and config) got ids %d and %d, want one", normA.ID, normB.ID)
	}
	t.Logf("plain ids %d %d, normalized %d; normalized text %s", plainA.ID, plainB.ID, normA.ID, normA.Text)
	// Lookup applies the same normalisation.
	if sv, err := e.Lookup(ctx, "norm", avroSchema(b), registry.LookupOptions{Normalize: true}); err != nil || sv.ID != normA.ID {
		t.Errorf("normalized lookup = %+v, %v", sv, err)
	}
}

func TestLookup(t *testing.T) {
	e := newEnv(t)
	v1 := e.register("s", orderV1)
	e.register("s", orderV2)
	e.register("gone", other)
	e.deleteSubject("gone", false)

	sv, err := e.Lookup(ctx, "s", avroSchema(orderV1Spaced), registry.LookupOptions{})
	if err != nil || sv.Version != 1 || sv.ID != v1.ID || sv.Text != orderV1 {
		t.Errorf("Lookup = %+v, %v", sv, err)
	}
	_, err = e.Lookup(ctx, "s", avroSchema(orderV3), registry.LookupOptions{})
	wantErr(t, err, registry.ErrSchemaNotFound)
	_, err = e.Lookup(ctx, "nope", avroSchema(orderV1), registry.LookupOptions{})
	wantErr(t, err, registry.ErrSubjectNotFound)
	_, err = e.Lookup(ctx, "gone", avroSchema(other), registry.LookupOptions{})
	wantErr(t, err, registry.ErrSubjectNotFound)
	if sv, err := e.Lookup(ctx, "gone", avroSchema(other), registry.LookupOptions{Deleted: true}); err != nil || !sv.Deleted {
		t.Errorf("Lookup deleted = %+v, %v", sv, err)
	}
	var ise *registry.InvalidSchemaError
	_, err = e.Lookup(ctx, "s", avroSchema(`{"type":`), registry.LookupOptions{})
	wantErr(t, err, &ise)
	if e.MaxID() != 3 {
		t.Errorf("Lookup allocated ids: MaxID = %d", e.MaxID())
	}
}

func TestCompatibilityOnRegister(t *testing.T) {
	tests := []struct {
		level   string
		history []string
		cand    string
		ok      bool
	}{
		{"BACKWARD", []string{orderV1}, orderV2, true},
		{"BACKWARD", []string{orderV1}, orderV3, false},
		{"BACKWARD", []string{orderV1}, orderNoID, true},
		{"FORWARD", []string{orderV1}, orderNoID, false},
		{"FORWARD", []string{orderV1}, orderV3, true},
		{"FULL", []string{orderV1}, orderV2, true},
		{"FULL", []string{orderV1}, orderV3, false},
		{"NONE", []string{orderV1}, other, true},
		// Non-transitive checks only the latest; transitive all.
		{"BACKWARD", []string{orderV1, orderV3}, orderV4, true},
		{"BACKWARD_TRANSITIVE", []string{orderV1, orderV3}, orderV4, false},
		{"FORWARD_TRANSITIVE", []string{orderV3, orderV1}, orderNoID, false},
		{"FULL_TRANSITIVE", []string{orderV1, orderV2}, orderV2 + " ", true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %d", tt.level, len(tt.history)), func(t *testing.T) {
			e := newEnv(t)
			e.setLevel("", "NONE")
			for _, h := range tt.history {
				e.register("s", h)
			}
			e.setLevel("s", tt.level)
			before := registry.Dump(e.Registry)
			_, err := e.Register(ctx, "s", avroSchema(tt.cand), registry.RegisterOptions{})
			if tt.ok {
				if err != nil {
					t.Fatalf("Register: %v", err)
				}
				return
			}
			var ie *registry.IncompatibleError
			wantErr(t, err, &ie)
			if len(ie.Violations) == 0 || ie.Level != compat.Level(tt.level) || ie.Subject != "s" {
				t.Errorf("IncompatibleError = %+v", ie)
			}
			if diff := cmp.Diff(before, registry.Dump(e.Registry)); diff != "" {
				t.Errorf("refused registration changed the state (-before +after):\n%s", diff)
			}
		})
	}
}

func TestCompatibilitySkipsSoftDeleted(t *testing.T) {
	e := newEnv(t)
	e.register("s", orderV1)
	e.setLevel("s", "NONE")
	e.register("s", orderNoID)
	e.setLevel("s", "BACKWARD")
	// orderV3 is incompatible with v1 only. v2 (orderNoID) is the latest.
	e.deleteVersion("s", 2, false)
	// Now v1 is the latest live version: refused.
	_, err := e.Register(ctx, "s", avroSchema(orderV3), registry.RegisterOptions{})
	var ie *registry.IncompatibleError
	wantErr(t, err, &ie)
	if ie.Violations[0].Version != 1 {
		t.Errorf("violation names version %d, want 1", ie.Violations[0].Version)
	}
	// Force skips the check.
	if _, err := e.Register(ctx, "s", avroSchema(orderV3), registry.RegisterOptions{Force: true}); err != nil {
		t.Errorf("forced register: %v", err)
	}
}

func TestCheckCompatibility(t *testing.T) {
	e := newEnv(t)
	e.register("s", orderV1)
	e.setLevel("s", "NONE")
	e.register("s", orderV3)
	e.register("s", orderV2)
	e.deleteVersion("s", 3, false)
	e.setLevel("s", "BACKWARD_TRANSITIVE")
	tests := []struct {
		name    string
		subject string
		cand    string
		version int
		ok      bool
		err     error
	}{
		{"latest", "s", orderV4, registry.Latest, true, nil}, // latest live is v2 (orderV3)
		{"version 1", "s", orderV4, 1, false, nil},
		{"whole history", "s", orderV4, 0, false, nil},
		{"compatible history", "s", orderV2, 0, true, nil},
		{"soft-deleted version", "s", orderV1, 3, false, registry.ErrVersionNotFound},
		{"missing version of unknown subject", "nope", orderV1, 2, false, registry.ErrVersionNotFound},
		{"latest of unknown subject", "nope", orderV1, registry.Latest, true, nil},
		{"history of unknown subject", "nope", orderV1, 0, true, nil},
		{"invalid version", "s", orderV1, -5, false, registry.ErrInvalidVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.CheckCompatibility(ctx, tt.subject, avroSchema(tt.cand), tt.version, false)
			if tt.err != nil {
				wantErr(t, err, tt.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Compatible != tt.ok || (tt.ok != (len(res.Violations) == 0)) {
				t.Errorf("result = %+v, want compatible %v", res, tt.ok)
			}
		})
	}
	var ise *registry.InvalidSchemaError
	_, err := e.CheckCompatibility(ctx, "s", avroSchema("{"), 0, false)
	wantErr(t, err, &ise)
}

func TestCompatibilityAcrossTypes(t *testing.T) {
	e := newEnv(t)
	e.register("s", orderV1)
	_, err := e.Register(ctx, "s", registry.Schema{Type: serde.JSON, Text: `{"type":"object"}`}, registry.RegisterOptions{})
	if err == nil {
		t.Fatal("a JSON schema was registered over an Avro history under BACKWARD")
	}
	var ie *registry.IncompatibleError
	if !errors.As(err, &ie) {
		t.Skipf("JSON schema parser not ready? %v", err)
	}
	if ie.Violations[0].Kind != "TYPE_MISMATCH" {
		t.Errorf("violation = %+v, want TYPE_MISMATCH", ie.Violations[0])
	}
}

// TestProtobufAndJSONCompatibility checks that registrations of the two
// non-Avro formats reach their rules: a breaking change is refused with every
// violation, a compatible one is accepted.
func TestProtobufAndJSONCompatibility(t *testing.T) {
	tests := []struct {
		name             string
		format           serde.Format
		v1, ok, breaking string
		wantKind         string
	}{
		{
			name:     "protobuf",
			format:   serde.Protobuf,
			v1:       "syntax = \"proto3\";\npackage shop.v1;\nmessage Order { string id = 1; int32 qty = 2; }\n",
			ok:       "syntax = \"proto3\";\npackage shop.v1;\nmessage Order { string id = 1; int64 qty = 2; string note = 3; }\n",
			breaking: "syntax = \"proto3\";\npackage shop.v1;\nmessage Order { string id = 1; string qty = 2; }\n",
			wantKind: "FIELD_SCALAR_KIND_CHANGED",
		},
		{
			name:     "json",
			format:   serde.JSON,
			v1:       `{"type":"object","properties":{"total":{"type":"number"}},"additionalProperties":false}`,
			ok:       `{"type":"object","properties":{"total":{"type":"number"},"note":{"type":"string"}},"additionalProperties":false}`,
			breaking: `{"type":"object","properties":{"total":{"type":"integer"},"note":{"type":"string"}},"additionalProperties":false}`,
			wantKind: "TYPE_NARROWED",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.registerSchema("s", registry.Schema{Type: tt.format, Text: tt.v1}, registry.RegisterOptions{})
			e.registerSchema("s", registry.Schema{Type: tt.format, Text: tt.ok}, registry.RegisterOptions{})
			_, err := e.Register(ctx, "s", registry.Schema{Type: tt.format, Text: tt.breaking}, registry.RegisterOptions{})
			var ie *registry.IncompatibleError
			if !errors.As(err, &ie) {
				t.Fatalf("breaking change: err = %v, want *IncompatibleError", err)
			}
			found := false
			for _, v := range ie.Violations {
				found = found || v.Kind == tt.wantKind
			}
			if !found {
				t.Errorf("violations %v do not include %s", ie.Violations, tt.wantKind)
			}
			if vs, _ := e.Versions(ctx, "s", registry.ListOptions{}); len(vs) != 2 {
				t.Errorf("versions after refusal = %v, want [1 2]", vs)
			}
		})
	}
}

// TestCompatibilityPolicy checks the per-subject compatibilityPolicy config:
// LENIENT accepts an optional property added to an open JSON content model,
// which STRICT (the default) refuses; unknown policies are refused.
func TestCompatibilityPolicy(t *testing.T) {
	e := newEnv(t)
	v1 := registry.Schema{Type: serde.JSON, Text: `{"type":"object","properties":{"id":{"type":"string"}}}`}
	v2 := registry.Schema{Type: serde.JSON, Text: `{"type":"object","properties":{"id":{"type":"string"},"note":{"type":"string"}}}`}
	e.registerSchema("j", v1, registry.RegisterOptions{})
	var ie *registry.IncompatibleError
	if _, err := e.Register(ctx, "j", v2, registry.RegisterOptions{}); !errors.As(err, &ie) {
		t.Fatalf("STRICT: err = %v, want *IncompatibleError", err)
	}
	if _, err := e.SetConfig(ctx, "j", registry.SubjectConfig{Other: map[string]json.RawMessage{"compatibilityPolicy": json.RawMessage(`"bogus"`)}}); !errors.Is(err, registry.ErrInvalidCompatibility) {
		t.Errorf("bogus policy: err = %v, want ErrInvalidCompatibility", err)
	}
	if _, err := e.SetConfig(ctx, "j", registry.SubjectConfig{Other: map[string]json.RawMessage{"compatibilityPolicy": json.RawMessage(`"lenient"`)}}); err != nil {
		t.Fatal(err)
	}
	res, err := e.CheckCompatibility(ctx, "j", v2, 0, false)
	if err != nil || !res.Compatible {
		t.Fatalf("LENIENT check = %+v, %v; want compatible", res, err)
	}
	if _, err := e.Register(ctx, "j", v2, registry.RegisterOptions{}); err != nil {
		t.Errorf("LENIENT register: %v", err)
	}
}

func TestCompatibilityGroup(t *testing.T) {
	e := newEnv(t)
	grp := "major"
	if _, err := e.SetConfig(ctx, "s", registry.SubjectConfig{CompatibilityGroup: &grp}); err != nil {
		t.Fatal(err)
	}
	md := func(v string) json.RawMessage { return json.RawMessage(`{"properties":{"major":"` + v + `"}}`) }
	e.registerSchema("s", registry.Schema{Type: serde.Avro, Text: orderV1, Metadata: md("1")}, registry.RegisterOptions{})
	// Incompatible with v1, but in another group: accepted.
	if _, err := e.Register(ctx, "s", registry.Schema{Type: serde.Avro, Text: orderV3, Metadata: md("2")}, registry.RegisterOptions{}); err != nil {
		t.Fatalf("register in a new compatibility group: %v", err)
	}
	_, err := e.Register(ctx, "s", registry.Schema{Type: serde.Avro, Text: orderV3, Metadata: md("1")}, registry.RegisterOptions{})
	var ie *registry.IncompatibleError
	wantErr(t, err, &ie)
}

func TestConfiguredMetadataDefaults(t *testing.T) {
	e := newEnv(t)
	_, err := e.SetConfig(ctx, "s", registry.SubjectConfig{Other: map[string]json.RawMessage{
		"defaultMetadata":  json.RawMessage(`{"properties":{"owner":"default","tier":"2"}}`),
		"overrideMetadata": json.RawMessage(`{"properties":{"tier":"1"}}`),
		"overrideRuleSet":  json.RawMessage(`{"domainRules":[{"name":"r","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"true"}]}`),
	}})
	if err != nil {
		t.Fatal(err)
	}
	sv := e.registerSchema("s", registry.Schema{Type: serde.Avro, Text: orderV1, Metadata: json.RawMessage(`{"properties":{"owner":"me","tier":"3"}}`)}, registry.RegisterOptions{})
	if got := string(sv.Metadata); got != `{"properties":{"owner":"me","tier":"1"}}` {
		t.Errorf("merged metadata = %s", got)
	}
	if !strings.Contains(string(sv.RuleSet), `"name":"r"`) {
		t.Errorf("override rule set not applied: %s", sv.RuleSet)
	}
	_, err = e.SetConfig(ctx, "s", registry.SubjectConfig{Other: map[string]json.RawMessage{"defaultRuleSet": json.RawMessage(`{"domainRules":[{"name":"x"}]}`)}})
	wantErr(t, err, registry.ErrInvalidRuleSet)
}

func TestRestartRestoresEverything(t *testing.T) {
	e := newEnv(t)
	refSchemas(t, e)
	e.register("s", orderV1)
	e.register("s", orderV2)
	e.deleteVersion("s", 1, false)
	e.register("t", other)
	e.deleteSubject("t", false)
	e.deleteSubject("t", true)
	e.setLevel("", "FULL")
	e.setLevel("s", "NONE")
	e.setMode("s", registry.ReadOnly, false)
	before := registry.Dump(e.Registry)
	e.reopen()
	if diff := cmp.Diff(before, registry.Dump(e.Registry)); diff != "" {
		t.Errorf("state after restart (-before +after):\n%s", diff)
	}
	if e.MaxID() != 5 {
		t.Errorf("MaxID after restart = %d, want 5", e.MaxID())
	}
}

func TestFailedCommitChangesNothing(t *testing.T) {
	e := newEnv(t)
	db, err := openDB(e.path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fail := false
	r, err := registry.OpenWithFailingApply(ctx, registry.Config{DB: db, Logger: testLogger(t)}, &fail)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Register(ctx, "s", avroSchema(orderV1), registry.RegisterOptions{}); err != nil {
		t.Fatal(err)
	}
	fail = true
	before := registry.Dump(r)
	watch := r.Watch()
	ops := map[string]func() error{
		"register": func() error {
			_, err := r.Register(ctx, "s", avroSchema(orderV2), registry.RegisterOptions{})
			return err
		},
		"delete":     func() error { _, err := r.DeleteSubject(ctx, "s", false); return err },
		"set config": func() error { _, err := r.SetConfig(ctx, "", registry.SubjectConfig{Normalize: new(bool)}); return err },
		"set mode":   func() error { _, err := r.SetMode(ctx, "", registry.ReadOnly, false); return err },
	}
	for name, op := range ops {
		err := op()
		if !errors.Is(err, registry.ErrStore) {
			t.Errorf("%s with a failing store = %v, want ErrStore", name, err)
		}
		if diff := cmp.Diff(before, registry.Dump(r)); diff != "" {
			t.Errorf("%s: failed commit changed memory (-before +after):\n%s", name, diff)
		}
	}
	select {
	case <-watch:
		t.Error("Watch fired for failed writes")
	default:
	}
	// And the next registration, once the store works, gets id 2: nothing
	// was allocated by the failures.
	fail = false
	sv, err := r.Register(ctx, "s", avroSchema(orderV2), registry.RegisterOptions{})
	if err != nil || sv.ID != 2 || sv.Version != 2 {
		t.Errorf("register after failures = %+v, %v", sv, err)
	}
}

func TestWatch(t *testing.T) {
	e := newEnv(t)
	w := e.Watch()
	select {
	case <-w:
		t.Fatal("Watch fired before any change")
	default:
	}
	e.register("s", orderV1)
	<-w // must be closed by now: the commit happened before Register returned
	w2 := e.Watch()
	e.register("s", orderV1) // idempotent: no change
	select {
	case <-w2:
		t.Error("Watch fired for an idempotent registration")
	default:
	}
	e.deleteSubject("s", false)
	<-w2
}

func TestSchemaByIDParsedIsCached(t *testing.T) {
	e := newEnv(t)
	sv := e.register("s", orderV1)
	e.reopen() // start from an unparsed entry
	a, err := e.SchemaByIDParsed(ctx, sv.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := e.SchemaByIDParsed(ctx, sv.ID)
	if a != b {
		t.Error("SchemaByIDParsed parsed twice")
	}
	if a.Canonical() != orderV1 {
		t.Errorf("canonical = %s", a.Canonical())
	}
	_, err = e.SchemaByIDParsed(ctx, 99)
	wantErr(t, err, registry.ErrSchemaNotFound)
	if v, ok := e.LiveVersionByID("s", sv.ID); !ok || v != 1 {
		t.Errorf("LiveVersionByID = %d, %v", v, ok)
	}
	if _, ok := e.LiveVersionByID("t", sv.ID); ok {
		t.Error("LiveVersionByID found the id under another subject")
	}
}

func TestReturnedValuesAreCopies(t *testing.T) {
	e := newEnv(t)
	_, app := refSchemas(t, e)
	got, _ := e.SchemaByID(ctx, app.ID)
	got.References[0].Subject = "mutated"
	again, _ := e.SchemaByID(ctx, app.ID)
	if again.References[0].Subject != "dep" {
		t.Error("a caller changed the registry's references through a returned value")
	}
}

func TestConcurrentRegister(t *testing.T) {
	e := newEnv(t)
	e.setLevel("", "NONE")
	const workers, schemas = 8, 12
	text := func(i int) string {
		return fmt.Sprintf(`{"type":"record","name":"R%d","fields":[]}`, i)
	}
	type result struct {
		subject string
		i       int
		sv      registry.SubjectVersion
	}
	results := make(chan result, workers*schemas*2)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range schemas {
				i := (j + w) % schemas // different orders per worker
				for _, subject := range []string{"shared", fmt.Sprintf("own-%d", w)} {
					sv, err := e.Register(ctx, subject, avroSchema(text(i)), registry.RegisterOptions{})
					if err != nil {
						t.Errorf("worker %d: %v", w, err)
						return
					}
					results <- result{subject, i, sv}
				}
			}
		}()
	}
	wg.Wait()
	close(results)
	idOf := map[int]int{}
	textOf := map[int]int{}
	versions := map[string]map[int]int{}
	for r := range results {
		if id, ok := idOf[r.i]; ok && id != r.sv.ID {
			t.Errorf("schema %d got ids %d and %d", r.i, id, r.sv.ID)
		}
		idOf[r.i] = r.sv.ID
		if i, ok := textOf[r.sv.ID]; ok && i != r.i {
			t.Errorf("id %d given to schemas %d and %d", r.sv.ID, i, r.i)
		}
		textOf[r.sv.ID] = r.i
		if versions[r.subject] == nil {
			versions[r.subject] = map[int]int{}
		}
		if v, ok := versions[r.subject][r.i]; ok && v != r.sv.Version {
			t.Errorf("subject %s schema %d got versions %d and %d", r.subject, r.i, v, r.sv.Version)
		}
		versions[r.subject][r.i] = r.sv.Version
	}
	if e.MaxID() != schemas {
		t.Errorf("MaxID = %d, want %d", e.MaxID(), schemas)
	}
	for subject, vs := range versions {
		got, err := e.Versions(ctx, subject, registry.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != schemas || got[len(got)-1] != schemas {
			t.Errorf("subject %s versions = %v, want 1..%d", subject, got, schemas)
		}
		_ = vs
	}
}

func TestLatestWithMetadata(t *testing.T) {
	e := newEnv(t)
	e.setLevel("", "NONE")
	md := func(s string) json.RawMessage { return json.RawMessage(s) }
	e.registerSchema("s", registry.Schema{Type: serde.Avro, Text: orderV1, Metadata: md(`{"properties":{"app":"a","env":"prod"}}`)}, registry.RegisterOptions{})
	e.registerSchema("s", registry.Schema{Type: serde.Avro, Text: orderV2, Metadata: md(`{"properties":{"app":"a","env":"dev"}}`)}, registry.RegisterOptions{})
	e.registerSchema("s", registry.Schema{Type: serde.Avro, Text: orderV3, Metadata: md(`{"properties":{"app":"b"}}`)}, registry.RegisterOptions{})
	tests := []struct {
		props map[string]string
		want  int
	}{
		{map[string]string{"app": "a"}, 2},
		{map[string]string{"app": "a", "env": "prod"}, 1},
		{map[string]string{}, 3},
		{map[string]string{"app": "c"}, 0},
	}
	for _, tt := range tests {
		sv, err := e.LatestWithMetadata(ctx, "s", tt.props, false)
		if tt.want == 0 {
			wantErr(t, err, registry.ErrSchemaNotFound)
			continue
		}
		if err != nil || sv.Version != tt.want {
			t.Errorf("LatestWithMetadata(%v) = version %d, %v; want %d", tt.props, sv.Version, err, tt.want)
		}
	}
	_, err := e.LatestWithMetadata(ctx, "nope", nil, false)
	wantErr(t, err, registry.ErrSubjectNotFound)
}

func TestImportSkipsValidation(t *testing.T) {
	e := newEnv(t)
	e.setMode("", registry.Import, false)
	junk := `{"type":"record","name":"Broken","fields":[{"name":"a","type":"nope"}]}`
	sv := e.registerSchema("s", avroSchema(junk), registry.RegisterOptions{ID: 5})
	got, err := e.SchemaByID(ctx, 5)
	if err != nil || got.Text != junk || sv.ID != 5 {
		t.Fatalf("imported schema = %+v, %v; want the text verbatim under id 5", got, err)
	}
	_, err = e.SchemaByIDParsed(ctx, 5)
	var ise *registry.InvalidSchemaError
	wantErr(t, err, &ise)
}

func TestClosedRegistryRefusesWrites(t *testing.T) {
	e := newEnv(t)
	sv := e.register("s", orderV1)
	e.Close()
	_, err := e.Register(ctx, "s", avroSchema(orderV2), registry.RegisterOptions{})
	wantErr(t, err, registry.ErrStore)
	if _, err := e.SchemaByID(ctx, sv.ID); err != nil {
		t.Errorf("read after Close: %v", err)
	}
}

// TestAvroAmbiguousFieldRefused is issue #21's case end to end: a new
// version whose field matches one old field by name and another through an
// alias is refused under BACKWARD, as Confluent refuses it (Avro's checker
// throws "matches multiple fields"), with a violation naming all three.
func TestAvroAmbiguousFieldRefused(t *testing.T) {
	e := newEnv(t)
	e.register("s", `{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},{"name":"legacy_id","type":"long"}]}`)
	_, err := e.Register(ctx, "s", avroSchema(`{"type":"record","name":"Order","fields":[{"name":"id","type":"long","aliases":["legacy_id"]}]}`), registry.RegisterOptions{})
	var ie *registry.IncompatibleError
	wantErr(t, err, &ie)
	if len(ie.Violations) != 1 || ie.Violations[0].Path != "/fields/0" ||
		!strings.Contains(ie.Violations[0].Message, `reader field "id"`) || !strings.Contains(ie.Violations[0].Message, `"legacy_id" (through alias "legacy_id")`) {
		t.Errorf("violations %+v; want one at /fields/0 naming id and legacy_id", ie.Violations)
	}
}
