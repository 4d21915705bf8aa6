package rpc_test

import (
	"context"
	"encoding/base64"
	"slices"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	registryv1 "github.com/sluicehq/sluice/proto/gen/sluice/registry/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/registry/v1/registryv1connect"
)

// TestFormat checks the format field of GetSchema, GetSchemaByGUID,
// GetVersion and Lookup, the REST API's format parameter: serialized
// Protobuf is the base64 FileDescriptorProto (named "default", the
// reference names as dependencies), resolved Avro inlines references, and
// an unknown format gives the stored text. The GUID is the stored
// content's either way.
func TestFormat(t *testing.T) {
	url, hc := newServer(t)
	cl := registryv1connect.NewRegistryServiceClient(hc, url, connect.WithGRPC())
	ctx := context.Background()
	pb := func(text string, refs ...*registryv1.Reference) *registryv1.Schema {
		return &registryv1.Schema{Type: registryv1.SchemaType_SCHEMA_TYPE_PROTOBUF, Text: text, References: refs}
	}
	money := "syntax = \"proto3\";\npackage acme.common;\nmessage Money {\n  int64 units = 1;\n}\n"
	order := "syntax = \"proto3\";\npackage acme.shop;\nimport \"acme/common/money.proto\";\nmessage Order {\n  acme.common.Money total = 1;\n}\n"
	ref := &registryv1.Reference{Name: "acme/common/money.proto", Subject: "money-value", Version: 1}
	if _, err := cl.Register(ctx, connect.NewRequest(&registryv1.RegisterRequest{Subject: "money-value", Schema: pb(money)})); err != nil {
		t.Fatal(err)
	}
	reg, err := cl.Register(ctx, connect.NewRequest(&registryv1.RegisterRequest{Subject: "orders-value", Schema: pb(order, ref)}))
	if err != nil {
		t.Fatal(err)
	}
	id := reg.Msg.GetId()

	checkSerialized := func(what string, s *registryv1.Schema) {
		t.Helper()
		b, err := base64.StdEncoding.DecodeString(s.GetText())
		if err != nil {
			t.Fatalf("%s: not base64: %v", what, err)
		}
		fdp := &descriptorpb.FileDescriptorProto{}
		if err := proto.Unmarshal(b, fdp); err != nil {
			t.Fatalf("%s: not a FileDescriptorProto: %v", what, err)
		}
		if fdp.GetName() != "default" || !slices.Equal(fdp.GetDependency(), []string{"acme/common/money.proto"}) ||
			fdp.GetMessageType()[0].GetField()[0].GetTypeName() != ".acme.common.Money" {
			t.Errorf("%s: descriptor %v; want default importing acme/common/money.proto", what, fdp)
		}
		if s.GetType() != registryv1.SchemaType_SCHEMA_TYPE_PROTOBUF || len(s.GetReferences()) != 1 {
			t.Errorf("%s: type %v, references %v; want PROTOBUF with one reference", what, s.GetType(), s.GetReferences())
		}
	}
	got, err := cl.GetSchema(ctx, connect.NewRequest(&registryv1.GetSchemaRequest{Id: id, Format: "serialized"}))
	if err != nil {
		t.Fatal(err)
	}
	checkSerialized("GetSchema", got.Msg.GetSchema())
	if !slices.Equal(got.Msg.GetGuid(), reg.Msg.GetGuid()) {
		t.Errorf("GetSchema guid %x, want the stored content's %x", got.Msg.GetGuid(), reg.Msg.GetGuid())
	}
	byGUID, err := cl.GetSchemaByGUID(ctx, connect.NewRequest(&registryv1.GetSchemaByGUIDRequest{Guid: reg.Msg.GetGuid(), Format: "Serialized"}))
	if err != nil {
		t.Fatal(err)
	}
	checkSerialized("GetSchemaByGUID", byGUID.Msg.GetSchema())
	ver, err := cl.GetVersion(ctx, connect.NewRequest(&registryv1.GetVersionRequest{Subject: "orders-value", Format: "serialized"}))
	if err != nil {
		t.Fatal(err)
	}
	checkSerialized("GetVersion", ver.Msg.GetVersion().GetSchema())
	look, err := cl.Lookup(ctx, connect.NewRequest(&registryv1.LookupRequest{Subject: "orders-value", Schema: pb(order, ref), Format: "serialized"}))
	if err != nil {
		t.Fatal(err)
	}
	checkSerialized("Lookup", look.Msg.GetVersion().GetSchema())
	if !slices.Equal(look.Msg.GetVersion().GetGuid(), reg.Msg.GetGuid()) {
		t.Errorf("Lookup guid %x, want %x", look.Msg.GetVersion().GetGuid(), reg.Msg.GetGuid())
	}

	plain, err := cl.GetSchema(ctx, connect.NewRequest(&registryv1.GetSchemaRequest{Id: id}))
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := cl.GetSchema(ctx, connect.NewRequest(&registryv1.GetSchemaRequest{Id: id, Format: "resolved"}))
	if err != nil || unknown.Msg.GetSchema().GetText() != plain.Msg.GetSchema().GetText() {
		t.Errorf("GetSchema(format=resolved) of a Protobuf schema = %v, %v; want the stored text", unknown, err)
	}

	// Avro resolved.
	address := `{"type":"record","name":"Address","namespace":"com.acme","fields":[{"name":"street","type":"string"}]}`
	customer := `{"type":"record","name":"Customer","namespace":"com.acme","fields":[{"name":"home","type":"Address"}]}`
	if _, err := cl.Register(ctx, connect.NewRequest(&registryv1.RegisterRequest{Subject: "address-value", Schema: avro(address)})); err != nil {
		t.Fatal(err)
	}
	cs := avro(customer)
	cs.References = []*registryv1.Reference{{Name: "com.acme.Address", Subject: "address-value", Version: 1}}
	creg, err := cl.Register(ctx, connect.NewRequest(&registryv1.RegisterRequest{Subject: "customer-value", Schema: cs}))
	if err != nil {
		t.Fatal(err)
	}
	resolved, err := cl.GetSchema(ctx, connect.NewRequest(&registryv1.GetSchemaRequest{Id: creg.Msg.GetId(), Format: "resolved"}))
	want := `{"type":"record","name":"Customer","namespace":"com.acme","fields":[{"name":"home","type":{"type":"record","name":"Address","fields":[{"name":"street","type":"string"}]}}]}`
	if err != nil || resolved.Msg.GetSchema().GetText() != want {
		t.Errorf("GetSchema(format=resolved) = %v, %v; want %s", resolved, err, want)
	}
}
