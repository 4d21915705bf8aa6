package rpc_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/internal/metadb"
	registryv1 "github.com/sluicehq/sluice/proto/gen/sluice/registry/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/registry/v1/registryv1connect"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/registry/rpc"
)

// TestGetSchemaAfterIDReused checks that GetSchema, whose answers are
// cached with the stored schema, answers NotFound after a hard delete and
// the new schema once IMPORT mode gives the id again, never the old one.
func TestGetSchemaAfterIDReused(t *testing.T) {
	ctx := context.Background()
	db, err := metadb.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	reg, err := registry.Open(ctx, registry.Config{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	_, h := rpc.NewHandler(reg, rpc.Config{Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(h)
	defer srv.Close()
	cl := registryv1connect.NewRegistryServiceClient(srv.Client(), srv.URL)
	get := func(format string) (*registryv1.GetSchemaResponse, error) {
		resp, err := cl.GetSchema(ctx, connect.NewRequest(&registryv1.GetSchemaRequest{Id: 1, Format: format}))
		if err != nil {
			return nil, err
		}
		return resp.Msg, nil
	}

	if _, err := reg.Register(ctx, "s", registry.Schema{Type: "AVRO", Text: orderV1}, registry.RegisterOptions{}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second answer comes from the cache
		for _, format := range []string{"", "resolved"} {
			got, err := get(format)
			if err != nil {
				t.Fatal(err)
			}
			if got.GetSchema().GetText() != orderV1 || got.GetId() != 1 {
				t.Errorf("GetSchema(1, %q) = %v, want %s", format, got, orderV1)
			}
		}
	}

	if _, err := reg.DeleteVersion(ctx, "s", 1, false); err != nil {
		t.Fatal(err)
	}
	if got, err := get(""); err != nil || got.GetSchema().GetText() != orderV1 {
		t.Errorf("GetSchema(1) after a soft delete = %v, %v; want %s", got, err, orderV1)
	}
	if _, err := reg.DeleteVersion(ctx, "s", 1, true); err != nil {
		t.Fatal(err)
	}
	if _, err := get(""); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("GetSchema(1) after a hard delete: %v, want NotFound", err)
	}

	if _, err := reg.SetMode(ctx, "imported", registry.Import, false); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Register(ctx, "imported", registry.Schema{Type: "AVRO", Text: orderV2}, registry.RegisterOptions{ID: 1, Version: 1}); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"", "resolved"} {
		got, err := get(format)
		if err != nil {
			t.Fatal(err)
		}
		if got.GetSchema().GetText() != orderV2 {
			t.Errorf("GetSchema(1, %q) after importing id 1 again = %s, want %s", format, got.GetSchema().GetText(), orderV2)
		}
	}
}
