package client_test

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/client/protobuf"
	"github.com/sluicehq/sluice/serde"
	sproto "github.com/sluicehq/sluice/serde/protobuf"
	"github.com/sluicehq/sluice/sluicetest"
)

const shopV1Proto = `syntax = "proto3";
package shop;
message Created { string id = 1; }
`

const shopV2Proto = `syntax = "proto3";
package shop;
message Created { string id = 1; }
message Shipped { string id = 1; string carrier = 2; }
`

// TestProtobufUnionVersions: one .proto file holding two event types of a
// topic_record topic. The file is one schema id under both subjects, at
// version 2 of shop-shop.Created (v1 held only Created) and version 1 of
// shop-shop.Shipped; each record reports the version of its own message's
// subject, read from its message-index path.
func TestProtobufUnionVersions(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "pshop", 1, map[string]string{"value.subject.name.strategy": "topic_record"})
	st := client.ValueStrategy(serde.TopicRecordName)
	codec := func(text string, msg protoreflect.Name) (*protobuf.Codec[*dynamicpb.Message], protoreflect.MessageDescriptor) {
		s, err := sproto.Parse(text, nil)
		if err != nil {
			t.Fatal(err)
		}
		md := s.File().Messages().ByName(msg)
		return protobuf.Must[*dynamicpb.Message](protobuf.WithDescriptor(md), protobuf.WithSource(text)), md
	}
	created1, _ := codec(shopV1Proto, "Created")
	created2, cmd := codec(shopV2Proto, "Created")
	shipped2, smd := codec(shopV2Proto, "Shipped")
	mustProducer(t, ctx, srv.Conn, "pshop", primitive.String(), created1, client.AutoRegister(), st)
	pc := mustProducer(t, ctx, srv.Conn, "pshop", primitive.String(), created2, client.AutoRegister(), st)
	ps := mustProducer(t, ctx, srv.Conn, "pshop", primitive.String(), shipped2, client.AutoRegister(), st)
	if pc.ValueSchemaID() != ps.ValueSchemaID() || pc.ValueVersion() != 2 || ps.ValueVersion() != 1 {
		t.Fatalf("producers: ids %d and %d, versions %d and %d; want one id, versions 2 and 1", pc.ValueSchemaID(), ps.ValueSchemaID(), pc.ValueVersion(), ps.ValueVersion())
	}
	c := dynamicpb.NewMessage(cmd)
	c.Set(cmd.Fields().ByName("id"), protoreflect.ValueOfString("o1"))
	s := dynamicpb.NewMessage(smd)
	s.Set(smd.Fields().ByName("id"), protoreflect.ValueOfString("o1"))
	s.Set(smd.Fields().ByName("carrier"), protoreflect.ValueOfString("post"))
	for i := 0; i < 2; i++ {
		if _, err := pc.Produce(ctx, "o1", c); err != nil {
			t.Fatal(err)
		}
		if _, err := ps.Produce(ctx, "o1", s); err != nil {
			t.Fatal(err)
		}
	}
	u, err := client.NewUnion(client.Event[*dynamicpb.Message](created2), client.Event[*dynamicpb.Message](shipped2))
	if err != nil {
		t.Fatal(err)
	}
	cons := mustConsumer(t, srv.Conn, "pshop", primitive.String(), client.Codec[any](u), client.FromEarliest(), client.ConsumerValueStrategy(serde.TopicRecordName))
	for i, m := range readN(t, ctx, cons, 4) {
		want, wantVersion := proto.Message(c), int32(2)
		if i%2 == 1 {
			want, wantVersion = s, 1
		}
		got, ok := m.Value.(*dynamicpb.Message)
		if !ok || !proto.Equal(got, want) {
			t.Errorf("record %d: %v, want %v", i, m.Value, want)
		}
		if m.Version != wantVersion || m.SchemaID != pc.ValueSchemaID() {
			t.Errorf("record %d (%s): schema id %d version %d, want %d and %d", i, got.Descriptor().FullName(), m.SchemaID, m.Version, pc.ValueSchemaID(), wantVersion)
		}
	}
}
