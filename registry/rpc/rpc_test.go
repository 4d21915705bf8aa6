package rpc_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"github.com/sluicehq/sluice/internal/metadb"
	registryv1 "github.com/sluicehq/sluice/proto/gen/sluice/registry/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/registry/v1/registryv1connect"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/registry/rpc"
)

const (
	orderV1 = `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"id","type":"long"}]}`
	orderV2 = `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"id","type":"long"},{"name":"note","type":"string","default":""}]}`
	orderV3 = `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"id","type":"long"},{"name":"qty","type":"int"},{"name":"price","type":"double"}]}`
)

type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newServer serves a fresh registry's RegistryService on a loopback server
// speaking HTTP/1.1 and h2c, as `sluice serve` does, and returns its URL and
// an HTTP client that speaks both (gRPC needs HTTP/2).
func newServer(t *testing.T) (string, *http.Client) {
	t.Helper()
	db, err := metadb.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Open(context.Background(), registry.Config{DB: db})
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	logger := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	mux.Handle(rpc.NewHandler(reg, rpc.Config{Logger: logger}))
	srv := httptest.NewUnstartedServer(mux)
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = &p
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		reg.Close()
		db.Close()
	})
	var cp http.Protocols
	cp.SetUnencryptedHTTP2(true)
	return srv.URL, &http.Client{Transport: &http.Transport{Protocols: &cp}}
}

func avro(text string) *registryv1.Schema {
	return &registryv1.Schema{Type: registryv1.SchemaType_SCHEMA_TYPE_AVRO, Text: text}
}

// TestService runs a whole session over each protocol the handler speaks.
func TestService(t *testing.T) {
	protocols := map[string][]connect.ClientOption{
		"connect":     nil,
		"connect+get": {connect.WithHTTPGet(), connect.WithProtoJSON()},
		"grpc":        {connect.WithGRPC()},
		"grpcweb":     {connect.WithGRPCWeb()},
	}
	for name, opts := range protocols {
		t.Run(name, func(t *testing.T) {
			url, hc := newServer(t)
			session(t, registryv1connect.NewRegistryServiceClient(hc, url, opts...))
		})
	}
}

func session(t *testing.T, cl registryv1connect.RegistryServiceClient) {
	ctx := context.Background()
	reg, err := cl.Register(ctx, connect.NewRequest(&registryv1.RegisterRequest{Subject: "orders-value", Schema: avro(orderV1)}))
	if err != nil || reg.Msg.GetVersion() != 1 || reg.Msg.GetId() < 1 {
		t.Fatalf("Register = %v, %v", reg, err)
	}
	id := reg.Msg.GetId()
	again, err := cl.Register(ctx, connect.NewRequest(&registryv1.RegisterRequest{Subject: "orders-value", Schema: &registryv1.Schema{Text: orderV1}}))
	if err != nil || again.Msg.GetId() != id || again.Msg.GetVersion() != 1 {
		t.Fatalf("Register again (unspecified type means Avro) = %v, %v; want id %d version 1", again, err, id)
	}

	look, err := cl.Lookup(ctx, connect.NewRequest(&registryv1.LookupRequest{Subject: "orders-value", Schema: avro(orderV1)}))
	if err != nil || look.Msg.GetVersion().GetId() != id || look.Msg.GetVersion().GetSubject() != "orders-value" {
		t.Fatalf("Lookup = %v, %v", look, err)
	}
	got, err := cl.GetSchema(ctx, connect.NewRequest(&registryv1.GetSchemaRequest{Id: id}))
	if err != nil || got.Msg.GetSchema().GetText() != orderV1 || got.Msg.GetSchema().GetType() != registryv1.SchemaType_SCHEMA_TYPE_AVRO {
		t.Fatalf("GetSchema = %v, %v", got, err)
	}
	guid := uuid.MustParse("c62016b2-c254-0594-14bc-52f5d3bc6ee7") // §8 GUID of orderV1
	// Every message that carries a stored schema carries its GUID, as
	// Confluent 8.x's register, lookup and version answers do.
	for what, g := range map[string][]byte{
		"Register":   reg.Msg.GetGuid(),
		"Lookup":     look.Msg.GetVersion().GetGuid(),
		"GetSchema":  got.Msg.GetGuid(),
		"Register 2": again.Msg.GetGuid(),
	} {
		if !slices.Equal(g, guid[:]) {
			t.Errorf("%s guid = %x, want %x", what, g, guid[:])
		}
	}
	byGUID, err := cl.GetSchemaByGUID(ctx, connect.NewRequest(&registryv1.GetSchemaByGUIDRequest{Guid: guid[:]}))
	if err != nil || byGUID.Msg.GetId() != id || byGUID.Msg.GetSchema().GetText() != orderV1 || !slices.Equal(byGUID.Msg.GetIds(), []int32{id}) {
		t.Fatalf("GetSchemaByGUID = %v, %v", byGUID, err)
	}
	unknown := uuid.MustParse("123e4567-e89b-12d3-a456-426614174000")
	if _, err := cl.GetSchemaByGUID(ctx, connect.NewRequest(&registryv1.GetSchemaByGUIDRequest{Guid: unknown[:]})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("GetSchemaByGUID(unknown) err %v, want NotFound", err)
	}
	if _, err := cl.GetSchemaByGUID(ctx, connect.NewRequest(&registryv1.GetSchemaByGUIDRequest{Guid: []byte{1, 2}})); connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "2 bytes") {
		t.Fatalf("GetSchemaByGUID(2 bytes) err %v, want InvalidArgument naming the length", err)
	}
	ver, err := cl.GetVersion(ctx, connect.NewRequest(&registryv1.GetVersionRequest{Subject: "orders-value"}))
	if err != nil || ver.Msg.GetVersion().GetVersion() != 1 || ver.Msg.GetVersion().GetId() != id || !slices.Equal(ver.Msg.GetVersion().GetGuid(), guid[:]) {
		t.Fatalf("GetVersion(latest) = %v, %v; want version 1, id %d, guid %s", ver, err, id, guid)
	}

	// Compatibility: a successful answer either way, with violations.
	ok, err := cl.CheckCompatibility(ctx, connect.NewRequest(&registryv1.CheckCompatibilityRequest{Subject: "orders-value", Schema: avro(orderV2)}))
	if err != nil || !ok.Msg.GetCompatible() || ok.Msg.GetCompatibility() != registryv1.Compatibility_COMPATIBILITY_BACKWARD {
		t.Fatalf("CheckCompatibility(v2) = %v, %v", ok, err)
	}
	latest := int32(-1)
	bad, err := cl.CheckCompatibility(ctx, connect.NewRequest(&registryv1.CheckCompatibilityRequest{Subject: "orders-value", Schema: avro(orderV3), Version: &latest}))
	if err != nil || bad.Msg.GetCompatible() || len(bad.Msg.GetViolations()) != 2 {
		t.Fatalf("CheckCompatibility(v3) = %v, %v; want two violations", bad, err)
	}
	if v := bad.Msg.GetViolations()[0]; v.GetPath() != "/fields/1" || v.GetVersion() != 1 || !strings.Contains(v.GetMessage(), "qty") {
		t.Errorf("first violation = %v; want /fields/1 of version 1 naming qty", v)
	}

	// An incompatible registration: FailedPrecondition with every violation
	// in an IncompatibilityDetail.
	_, err = cl.Register(ctx, connect.NewRequest(&registryv1.RegisterRequest{Subject: "orders-value", Schema: avro(orderV3)}))
	if connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("Register(v3) = %v; want FailedPrecondition", err)
	}
	var ce *connect.Error
	if !errors.As(err, &ce) || len(ce.Details()) != 1 {
		t.Fatalf("Register(v3) error has no detail: %v", err)
	}
	dv, err := ce.Details()[0].Value()
	detail, isDetail := dv.(*registryv1.IncompatibilityDetail)
	if err != nil || !isDetail || detail.GetSubject() != "orders-value" || len(detail.GetViolations()) != 2 || detail.GetCompatibility() != registryv1.Compatibility_COMPATIBILITY_BACKWARD {
		t.Fatalf("detail = %v, %v; want orders-value, BACKWARD, two violations", dv, err)
	}

	// Config.
	set, err := cl.SetConfig(ctx, connect.NewRequest(&registryv1.SetConfigRequest{Subject: "orders-value", Compatibility: registryv1.Compatibility_COMPATIBILITY_FULL}))
	if err != nil || set.Msg.GetCompatibility() != registryv1.Compatibility_COMPATIBILITY_FULL {
		t.Fatalf("SetConfig = %v, %v", set, err)
	}
	cfg, err := cl.GetConfig(ctx, connect.NewRequest(&registryv1.GetConfigRequest{Subject: "orders-value"}))
	if err != nil || cfg.Msg.GetCompatibility() != registryv1.Compatibility_COMPATIBILITY_FULL {
		t.Fatalf("GetConfig = %v, %v", cfg, err)
	}
	global, err := cl.GetConfig(ctx, connect.NewRequest(&registryv1.GetConfigRequest{}))
	if err != nil || global.Msg.GetCompatibility() != registryv1.Compatibility_COMPATIBILITY_BACKWARD {
		t.Fatalf("GetConfig(global) = %v, %v", global, err)
	}

	// Lists and deletes.
	if _, err := cl.Register(ctx, connect.NewRequest(&registryv1.RegisterRequest{Subject: "orders-value", Schema: avro(orderV2)})); err != nil {
		t.Fatalf("Register(v2): %v", err)
	}
	subs, err := cl.ListSubjects(ctx, connect.NewRequest(&registryv1.ListSubjectsRequest{}))
	if err != nil || !slices.Equal(subs.Msg.GetSubjects(), []string{"orders-value"}) {
		t.Fatalf("ListSubjects = %v, %v", subs, err)
	}
	vs, err := cl.ListVersions(ctx, connect.NewRequest(&registryv1.ListVersionsRequest{Subject: "orders-value"}))
	if err != nil || !slices.Equal(vs.Msg.GetVersions(), []int32{1, 2}) {
		t.Fatalf("ListVersions = %v, %v", vs, err)
	}
	dv2, err := cl.DeleteVersion(ctx, connect.NewRequest(&registryv1.DeleteVersionRequest{Subject: "orders-value", Version: -1}))
	if err != nil || dv2.Msg.GetVersion() != 2 {
		t.Fatalf("DeleteVersion(latest) = %v, %v", dv2, err)
	}
	deleted, err := cl.GetVersion(ctx, connect.NewRequest(&registryv1.GetVersionRequest{Subject: "orders-value", Version: 2, Deleted: true}))
	if err != nil || !deleted.Msg.GetVersion().GetDeleted() {
		t.Fatalf("GetVersion(2, deleted) = %v, %v; want a deleted version", deleted, err)
	}
	ds, err := cl.DeleteSubject(ctx, connect.NewRequest(&registryv1.DeleteSubjectRequest{Subject: "orders-value"}))
	if err != nil || !slices.Equal(ds.Msg.GetVersions(), []int32{1}) {
		t.Fatalf("DeleteSubject = %v, %v", ds, err)
	}
	ds, err = cl.DeleteSubject(ctx, connect.NewRequest(&registryv1.DeleteSubjectRequest{Subject: "orders-value", Permanent: true}))
	if err != nil || !slices.Equal(ds.Msg.GetVersions(), []int32{1, 2}) {
		t.Fatalf("DeleteSubject(permanent) = %v, %v", ds, err)
	}
	if _, err := cl.GetSchema(ctx, connect.NewRequest(&registryv1.GetSchemaRequest{Id: id})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("GetSchema after hard delete = %v; want NotFound", err)
	}
}

// TestErrorCodes checks the Connect code of each kind of failure, over gRPC.
func TestErrorCodes(t *testing.T) {
	url, hc := newServer(t)
	cl := registryv1connect.NewRegistryServiceClient(hc, url, connect.WithGRPC())
	ctx := context.Background()
	if _, err := cl.Register(ctx, connect.NewRequest(&registryv1.RegisterRequest{Subject: "orders-value", Schema: avro(orderV1)})); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
		code connect.Code
		msg  string
	}{
		{"unknown id", func() error {
			_, err := cl.GetSchema(ctx, connect.NewRequest(&registryv1.GetSchemaRequest{Id: 999}))
			return err
		}, connect.CodeNotFound, "999"},
		{"zero id", func() error {
			_, err := cl.GetSchema(ctx, connect.NewRequest(&registryv1.GetSchemaRequest{}))
			return err
		}, connect.CodeNotFound, "schema id 0"},
		{"unknown subject", func() error {
			_, err := cl.ListVersions(ctx, connect.NewRequest(&registryv1.ListVersionsRequest{Subject: "nobody"}))
			return err
		}, connect.CodeNotFound, "nobody"},
		{"unknown version", func() error {
			_, err := cl.GetVersion(ctx, connect.NewRequest(&registryv1.GetVersionRequest{Subject: "orders-value", Version: 7}))
			return err
		}, connect.CodeNotFound, "version 7"},
		{"invalid version", func() error {
			_, err := cl.DeleteVersion(ctx, connect.NewRequest(&registryv1.DeleteVersionRequest{Subject: "orders-value", Version: 0}))
			return err
		}, connect.CodeInvalidArgument, "version 0"},
		{"invalid compatibility check version", func() error {
			v := int32(-5)
			_, err := cl.CheckCompatibility(ctx, connect.NewRequest(&registryv1.CheckCompatibilityRequest{Subject: "orders-value", Schema: avro(orderV2), Version: &v}))
			return err
		}, connect.CodeInvalidArgument, "version -5"},
		{"invalid schema", func() error {
			_, err := cl.Register(ctx, connect.NewRequest(&registryv1.RegisterRequest{Subject: "orders-value", Schema: avro(`{"type":"record"}`)}))
			return err
		}, connect.CodeInvalidArgument, "invalid schema"},
		{"unknown schema type", func() error {
			_, err := cl.Register(ctx, connect.NewRequest(&registryv1.RegisterRequest{Subject: "orders-value", Schema: &registryv1.Schema{Type: 9, Text: orderV1}}))
			return err
		}, connect.CodeInvalidArgument, "unknown schema type 9"},
		{"invalid level", func() error {
			_, err := cl.SetConfig(ctx, connect.NewRequest(&registryv1.SetConfigRequest{Compatibility: 42}))
			return err
		}, connect.CodeInvalidArgument, "compatibility 42"},
		{"invalid subject", func() error {
			_, err := cl.Register(ctx, connect.NewRequest(&registryv1.RegisterRequest{Subject: "__GLOBAL", Schema: avro(orderV1)}))
			return err
		}, connect.CodeInvalidArgument, "__GLOBAL"},
		{"hard delete of a live version", func() error {
			_, err := cl.DeleteVersion(ctx, connect.NewRequest(&registryv1.DeleteVersionRequest{Subject: "orders-value", Version: 1, Permanent: true}))
			return err
		}, connect.CodeFailedPrecondition, "not soft deleted"},
		{"hard delete of a live subject", func() error {
			_, err := cl.DeleteSubject(ctx, connect.NewRequest(&registryv1.DeleteSubjectRequest{Subject: "orders-value", Permanent: true}))
			return err
		}, connect.CodeFailedPrecondition, "not soft deleted"},
		{"subject without config", func() error {
			_, err := cl.GetConfig(ctx, connect.NewRequest(&registryv1.GetConfigRequest{Subject: "orders-value"}))
			return err
		}, connect.CodeNotFound, "orders-value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if connect.CodeOf(err) != tt.code || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got %v (%v); want %v containing %q", err, connect.CodeOf(err), tt.code, tt.msg)
			}
		})
	}
}
