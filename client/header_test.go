package client_test

import (
	"encoding/hex"
	"errors"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/avro"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/client/protobuf"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	registryv1 "github.com/sluicehq/sluice/proto/gen/sluice/registry/v1"
	"github.com/sluicehq/sluice/serde"
	sproto "github.com/sluicehq/sluice/serde/protobuf"
	"github.com/sluicehq/sluice/sluicetest"
)

// TestSchemaGUID is the vector of wire-format.md §8.
func TestSchemaGUID(t *testing.T) {
	g := client.SchemaGUID(`{"type":"record","name":"Order","namespace":"shop.v1","fields":[{"name":"id","type":"long"},{"name":"name","type":"string"}]}`, nil)
	if got := hex.EncodeToString(g[:]); got != "ba16ede57227dee9c639002f26227050" {
		t.Fatalf("GUID %s", got)
	}
}

// registeredGUID is the GUID of the schema with id, from the text and
// references the registry stores.
func registeredGUID(t *testing.T, conn *client.Conn, id int32) [16]byte {
	t.Helper()
	res, err := conn.Registry().GetSchema(testCtx(t), connect.NewRequest(&registryv1.GetSchemaRequest{Id: id}))
	if err != nil {
		t.Fatal(err)
	}
	return client.SchemaGUID(res.Msg.GetSchema().GetText(), res.Msg.GetSchema().GetReferences())
}

// TestHeaderMode produces header-mode records framed by hand (the identity
// in __key_schema_id / __value_schema_id, the bare datum as the payload) as
// a Confluent header serializer writes them, mixed with prefix-mode records
// of a typed producer, and consumes them all typed: Avro values named by
// GUID (magic 1) and by integer id (magic 0), keys by integer id; a
// Protobuf value by GUID with its message-index path in the header; a GUID
// that names no schema and a header that does not parse are decode errors.
func TestHeaderMode(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	// The broker refuses GUID identities when it validates (it has no GUID
	// index), so values go unchecked here; keys are checked.
	srv.CreateTopic(t, "hdr", 1, map[string]string{"value.schema.validation": "none"})
	codec := avro.Must[avroOrderV2](orderV2)
	p := mustProducer(t, ctx, srv.Conn, "hdr", primitive.String(), codec, client.AutoRegister())
	if _, err := p.Produce(ctx, "o1", avroOrderV2{ID: "o1", Amount: 1, Note: "prefix"}); err != nil {
		t.Fatal(err)
	}
	guid := registeredGUID(t, srv.Conn, p.ValueSchemaID())
	keyHeader := serde.AppendPrefix(nil, p.KeySchemaID())
	record := func(o avroOrderV2, valueIdentity []byte) *brokerv1.ProduceRecord {
		key, err := primitive.String().AppendEncode(nil, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		val, err := codec.AppendEncode(nil, o)
		if err != nil {
			t.Fatal(err)
		}
		return &brokerv1.ProduceRecord{Key: key, Value: val, Headers: []*brokerv1.Header{
			{Key: serde.KeySchemaIDHeader, Value: keyHeader},
			{Key: serde.ValueSchemaIDHeader, Value: []byte{0xff}}, // superseded: the last header counts
			{Key: serde.ValueSchemaIDHeader, Value: valueIdentity},
		}}
	}
	want := []avroOrderV2{
		{ID: "o1", Amount: 1, Note: "prefix"},
		{ID: "o2", Amount: 0, Note: "guid"}, // the datum starts with 0x00 by chance
		{ID: "o3", Amount: 3, Note: "int id in header"},
	}
	req := &brokerv1.ProduceRequest{Topic: "hdr", Records: []*brokerv1.ProduceRecord{
		record(want[1], serde.AppendGUID(nil, guid)),
		record(want[2], serde.AppendPrefix(nil, p.ValueSchemaID())),
	}}
	if _, err := srv.Conn.Broker().Produce(ctx, connect.NewRequest(req)); err != nil {
		t.Fatal(err)
	}
	c := mustConsumer(t, srv.Conn, "hdr", primitive.String(), codec, client.FromEarliest())
	for i, m := range readN(t, ctx, c, 3) {
		if m.Key != want[i].ID || m.Value != want[i] {
			t.Errorf("record %d: %q %+v, want %+v", i, m.Key, m.Value, want[i])
		}
		if m.SchemaID != p.ValueSchemaID() || m.Version != 1 || m.KeySchemaID != p.KeySchemaID() {
			t.Errorf("record %d: schema id %d version %d key id %d, want %d, 1, %d", i, m.SchemaID, m.Version, m.KeySchemaID, p.ValueSchemaID(), p.KeySchemaID())
		}
	}

	// A GUID no version holds, then a header that does not parse.
	unknown := guid
	unknown[0] ^= 0xff
	req = &brokerv1.ProduceRequest{Topic: "hdr", Records: []*brokerv1.ProduceRecord{
		record(avroOrderV2{ID: "o4"}, serde.AppendGUID(nil, unknown)),
		record(avroOrderV2{ID: "o5"}, []byte{0x01, 0x02}),
	}}
	if _, err := srv.Conn.Broker().Produce(ctx, connect.NewRequest(req)); err != nil {
		t.Fatal(err)
	}
	c = mustConsumer(t, srv.Conn, "hdr", primitive.String(), codec, client.FromOffset(3), client.OnDecodeError(client.DecodeRaw))
	var msgs []client.Message[string, avroOrderV2]
	for m := range c.All(ctx) {
		if msgs = append(msgs, m); len(msgs) == 2 {
			break
		}
	}
	if len(msgs) != 2 {
		t.Fatalf("read %d records, want 2", len(msgs))
	}
	var nf *client.GUIDNotFoundError
	if de := (*client.DecodeError)(nil); !errors.As(msgs[0].Err, &de) || de.Side != "value" || !errors.As(msgs[0].Err, &nf) {
		t.Errorf("unknown GUID: %v, want a value *DecodeError with a *GUIDNotFoundError", msgs[0].Err)
	}
	if !errors.Is(msgs[1].Err, serde.ErrMalformed) {
		t.Errorf("bad header: %v, want a malformed envelope", msgs[1].Err)
	}
}

// TestHeaderModeProtobuf: a Protobuf value named by GUID in the header,
// followed by the message-index path ([1]: the file's second message), the
// payload being the bare message.
func TestHeaderModeProtobuf(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "phdr", 1, map[string]string{"value.schema.validation": "none"})
	s, err := sproto.Parse(shopV2Proto, nil)
	if err != nil {
		t.Fatal(err)
	}
	md := s.File().Messages().ByName("Shipped")
	codec := protobuf.Must[*dynamicpb.Message](protobuf.WithDescriptor(md), protobuf.WithSource(shopV2Proto))
	p := mustProducer(t, ctx, srv.Conn, "phdr", primitive.String(), codec, client.AutoRegister())
	msg := dynamicpb.NewMessage(md)
	msg.Set(md.Fields().ByName("id"), protoreflect.ValueOfString("o1"))
	msg.Set(md.Fields().ByName("carrier"), protoreflect.ValueOfString("post"))
	body, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := primitive.String().AppendEncode(serde.AppendPrefix(nil, p.KeySchemaID()), "o1")
	header := serde.AppendIndexes(serde.AppendGUID(nil, registeredGUID(t, srv.Conn, p.ValueSchemaID())), []int{1})
	req := &brokerv1.ProduceRequest{Topic: "phdr", Records: []*brokerv1.ProduceRecord{{
		Key: key, Value: body, Headers: []*brokerv1.Header{{Key: serde.ValueSchemaIDHeader, Value: header}},
	}}}
	if _, err := srv.Conn.Broker().Produce(ctx, connect.NewRequest(req)); err != nil {
		t.Fatal(err)
	}
	c := mustConsumer(t, srv.Conn, "phdr", primitive.String(), codec, client.FromEarliest())
	m := readN(t, ctx, c, 1)[0]
	if !proto.Equal(m.Value, msg) || m.SchemaID != p.ValueSchemaID() || m.Version != 1 {
		t.Errorf("got %v (schema id %d version %d), want %v (%d, 1)", m.Value, m.SchemaID, m.Version, msg, p.ValueSchemaID())
	}
}
