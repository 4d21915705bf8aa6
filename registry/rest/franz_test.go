package rest_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/registry/rest"
)

// TestFranzGoClient drives the REST API with franz-go's sr client, an
// unmodified third-party Confluent client, through the calls producers,
// consumers and admin tools make.
func TestFranzGoClient(t *testing.T) {
	s := newServer(t, registry.Config{}, rest.Config{})
	cl, err := sr.NewClient(sr.URLs(s.URL))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	subject := "orders-value"

	types, err := cl.SupportedTypes(ctx)
	if err != nil || len(types) != 3 {
		t.Fatalf("SupportedTypes = %v, %v; want three types", types, err)
	}

	// Register, then register again: same id, as producers do on start.
	ss, err := cl.CreateSchema(ctx, subject, sr.Schema{Schema: orderV1})
	if err != nil {
		t.Fatalf("CreateSchema: %v", err)
	}
	if ss.Subject != subject || ss.Version != 1 || ss.ID < 1 {
		t.Fatalf("CreateSchema = %+v; want %s version 1 with an id", ss, subject)
	}
	id, err := cl.RegisterSchema(ctx, subject, sr.Schema{Schema: orderV1Spaced}, -1, -1)
	if err != nil || id != ss.ID {
		t.Fatalf("RegisterSchema again = %d, %v; want id %d", id, err, ss.ID)
	}

	// Lookup (auto.register.schemas=false) and read back by id and version.
	got, err := cl.LookupSchema(ctx, subject, sr.Schema{Schema: orderV1})
	if err != nil || got.ID != ss.ID || got.Version != 1 {
		t.Fatalf("LookupSchema = %+v, %v", got, err)
	}
	byID, err := cl.SchemaByID(ctx, ss.ID)
	if err != nil || byID.Schema != ss.Schema.Schema || byID.Type != sr.TypeAvro {
		t.Fatalf("SchemaByID = %+v, %v; want %q", byID, err, ss.Schema.Schema)
	}
	text, err := cl.SchemaTextByID(ctx, ss.ID)
	if err != nil || text != ss.Schema.Schema {
		t.Fatalf("SchemaTextByID = %q, %v", text, err)
	}
	latest, err := cl.SchemaByVersion(ctx, subject, -1)
	if err != nil || latest.Version != 1 || latest.ID != ss.ID {
		t.Fatalf("SchemaByVersion(latest) = %+v, %v", latest, err)
	}
	subjects, err := cl.Subjects(ctx)
	if err != nil || !slices.Equal(subjects, []string{subject}) {
		t.Fatalf("Subjects = %v, %v", subjects, err)
	}
	versions, err := cl.SubjectVersions(ctx, subject)
	if err != nil || !slices.Equal(versions, []int{1}) {
		t.Fatalf("SubjectVersions = %v, %v", versions, err)
	}
	usages, err := cl.SchemaUsagesByID(ctx, ss.ID)
	if err != nil || len(usages) != 1 || usages[0].Subject != subject {
		t.Fatalf("SchemaUsagesByID = %+v, %v", usages, err)
	}

	// Compatibility: franz-go checks with verbose and reads is_compatible.
	vctx := sr.WithParams(ctx, sr.Verbose)
	res, err := cl.CheckCompatibility(vctx, subject, -1, sr.Schema{Schema: orderV2})
	if err != nil || !res.Is {
		t.Fatalf("CheckCompatibility(v2) = %+v, %v; want compatible", res, err)
	}
	res, err = cl.CheckCompatibility(vctx, subject, -2, sr.Schema{Schema: orderV3})
	if err != nil || res.Is || len(res.Messages) == 0 {
		t.Fatalf("CheckCompatibility(v3) = %+v, %v; want incompatible with messages", res, err)
	}
	_, err = cl.CreateSchema(ctx, subject, sr.Schema{Schema: orderV3})
	var re *sr.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusConflict || re.ErrorCode != 409 {
		t.Fatalf("CreateSchema(incompatible) = %v; want a 409", err)
	}

	// Config: franz-go sends defaultToGlobal=true and decodes the PUT echo.
	cfgs := cl.Compatibility(sr.WithParams(ctx, sr.DefaultToGlobal), subject)
	if cfgs[0].Err != nil || cfgs[0].Level != sr.CompatBackward {
		t.Fatalf("Compatibility = %+v; want BACKWARD", cfgs[0])
	}
	set := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatFull}, subject)
	if set[0].Err != nil || set[0].Level != sr.CompatFull {
		t.Fatalf("SetCompatibility = %+v; want FULL", set[0])
	}
	cfgs = cl.Compatibility(ctx, subject)
	if cfgs[0].Err != nil || cfgs[0].Level != sr.CompatFull {
		t.Fatalf("Compatibility after set = %+v; want FULL", cfgs[0])
	}
	reset := cl.ResetCompatibility(ctx, subject)
	if reset[0].Err != nil {
		t.Fatalf("ResetCompatibility: %v", reset[0].Err)
	}
	cfgs = cl.Compatibility(ctx, subject)
	if !errors.As(cfgs[0].Err, &re) || re.ErrorCode != 40408 {
		t.Fatalf("Compatibility after reset = %+v; want 40408", cfgs[0])
	}

	// Mode.
	modes := cl.SetMode(sr.WithParams(ctx, sr.Force), sr.ModeReadOnly)
	if modes[0].Err != nil || modes[0].Mode != sr.ModeReadOnly {
		t.Fatalf("SetMode = %+v", modes[0])
	}
	modes = cl.Mode(ctx)
	if modes[0].Err != nil || modes[0].Mode != sr.ModeReadOnly {
		t.Fatalf("Mode = %+v", modes[0])
	}
	if _, err := cl.CreateSchema(ctx, "other", sr.Schema{Schema: address}); !errors.As(err, &re) || re.ErrorCode != 42205 {
		t.Fatalf("CreateSchema in READONLY = %v; want 42205", err)
	}
	if modes = cl.SetMode(ctx, sr.ModeReadWrite); modes[0].Err != nil {
		t.Fatalf("SetMode(READWRITE): %v", modes[0].Err)
	}

	// Deletes: soft, then permanent; the id stops resolving at the end.
	v2, err := cl.CreateSchema(ctx, subject, sr.Schema{Schema: orderV2})
	if err != nil || v2.Version != 2 {
		t.Fatalf("CreateSchema(v2) = %+v, %v", v2, err)
	}
	if err := cl.DeleteSchema(ctx, subject, 2, sr.SoftDelete); err != nil {
		t.Fatalf("DeleteSchema soft: %v", err)
	}
	if err := cl.DeleteSchema(ctx, subject, 2, sr.HardDelete); err != nil {
		t.Fatalf("DeleteSchema hard: %v", err)
	}
	deleted, err := cl.DeleteSubject(ctx, subject, sr.SoftDelete)
	if err != nil || !slices.Equal(deleted, []int{1}) {
		t.Fatalf("DeleteSubject soft = %v, %v", deleted, err)
	}
	if _, err := cl.DeleteSubject(ctx, subject, sr.SoftDelete); !errors.As(err, &re) || re.ErrorCode != 40404 {
		t.Fatalf("second soft DeleteSubject = %v; want 40404", err)
	}
	deleted, err = cl.DeleteSubject(ctx, subject, sr.HardDelete)
	if err != nil || !slices.Equal(deleted, []int{1}) {
		t.Fatalf("DeleteSubject hard = %v, %v", deleted, err)
	}
	if _, err := cl.SchemaByID(ctx, ss.ID); !errors.As(err, &re) || re.ErrorCode != 40403 {
		t.Fatalf("SchemaByID after hard delete = %v; want 40403", err)
	}
}
