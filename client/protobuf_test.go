package client_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/internal/testpb"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/client/protobuf"
	sproto "github.com/sluicehq/sluice/serde/protobuf"
	"github.com/sluicehq/sluice/sluicetest"
)

// orderV2Proto is order.proto with a field added (compatible).
const orderV2Proto = `syntax = "proto3";
package sluice.clienttest;
import "google/protobuf/timestamp.proto";
import "money.proto";
message Order {
  string id = 1;
  Money total = 2;
  google.protobuf.Timestamp placed_at = 3;
  repeated string items = 4;
  string coupon = 5;
}
`

// orderV3Proto changes a field's type: incompatible.
const orderV3Proto = `syntax = "proto3";
package sluice.clienttest;
import "google/protobuf/timestamp.proto";
import "money.proto";
message Order {
  int64 id = 1;
  Money total = 2;
  google.protobuf.Timestamp placed_at = 3;
  repeated string items = 4;
}
`

func dynamicOrder(t *testing.T, text string, refs []client.Reference) (*protobuf.Codec[*dynamicpb.Message], protoreflect.MessageDescriptor) {
	t.Helper()
	s, err := sproto.Parse(text, client.Flatten(refs))
	if err != nil {
		t.Fatal(err)
	}
	md := s.File().Messages().ByName("Order")
	c, err := protobuf.New[*dynamicpb.Message](protobuf.WithDescriptor(md), protobuf.WithSource(text))
	if err != nil {
		t.Fatal(err)
	}
	return c, md
}

func TestProtobufRoundTripAndEvolution(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "orders", 2, nil)
	v1 := protobuf.Must[*testpb.Order]()
	if refs := v1.Schema().References; len(refs) != 1 || refs[0].Name != "money.proto" || refs[0].Subject != "money.proto" {
		t.Fatalf("references %+v, want money.proto only (timestamp.proto is bundled)", refs)
	}
	p1 := mustProducer(t, ctx, srv.Conn, "orders", primitive.String(), v1, client.AutoRegister())
	placed := timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	sent := &testpb.Order{Id: "o1", Total: &testpb.Money{Currency: "EUR", Units: 1250}, PlacedAt: placed, Items: []string{"a", "b"}}
	if _, err := p1.Produce(ctx, "o1", sent); err != nil {
		t.Fatal(err)
	}

	// v2, a dynamic message with one more field, registered as version 2.
	v2, md2 := dynamicOrder(t, orderV2Proto, v1.Schema().References)
	p2 := mustProducer(t, ctx, srv.Conn, "orders", primitive.String(), v2, client.AutoRegister())
	if p2.ValueVersion() != 2 {
		t.Fatalf("v2 registered as version %d", p2.ValueVersion())
	}
	sent2 := dynamicpb.NewMessage(md2)
	fields := md2.Fields()
	sent2.Set(fields.ByName("id"), protoreflect.ValueOfString("o2"))
	sent2.Set(fields.ByName("coupon"), protoreflect.ValueOfString("WELCOME"))
	if _, err := p2.Produce(ctx, "o2", sent2); err != nil {
		t.Fatal(err)
	}

	// The v1 consumer reads both; the v2 field is kept as an unknown field.
	c1 := mustConsumer(t, srv.Conn, "orders", primitive.String(), v1, client.FromEarliest())
	got1 := map[string]*testpb.Order{}
	versions := map[string]int32{}
	for _, m := range readN(t, ctx, c1, 2) {
		got1[m.Key] = m.Value
		versions[m.Key] = m.Version
	}
	if diff := cmp.Diff(sent, got1["o1"], protocmp.Transform()); diff != "" {
		t.Errorf("v1 reads v1 (-sent +read):\n%s", diff)
	}
	if got1["o2"].GetId() != "o2" || len(got1["o2"].ProtoReflect().GetUnknown()) == 0 {
		t.Errorf("v1 reads v2: %v, unknown fields %x (want the coupon kept)", got1["o2"], got1["o2"].ProtoReflect().GetUnknown())
	}
	if diff := cmp.Diff(map[string]int32{"o1": 1, "o2": 2}, versions); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
	// Unknown fields survive a re-encode: forwarding a record loses nothing.
	again, err := proto.Marshal(got1["o2"])
	if err != nil {
		t.Fatal(err)
	}
	back := dynamicpb.NewMessage(md2)
	if err := proto.Unmarshal(again, back); err != nil || back.Get(fields.ByName("coupon")).String() != "WELCOME" {
		t.Errorf("re-encoded v1 value lost the coupon: %v %v", back, err)
	}

	// The v2 consumer reads both.
	c2 := mustConsumer(t, srv.Conn, "orders", primitive.String(), v2, client.FromEarliest())
	got2 := map[string]*dynamicpb.Message{}
	for _, m := range readN(t, ctx, c2, 2) {
		got2[m.Key] = m.Value
	}
	if got2["o1"].Get(fields.ByName("id")).String() != "o1" || got2["o1"].Get(fields.ByName("total")).Message().Get(md2.Fields().ByName("total").Message().Fields().ByName("units")).Int() != 1250 {
		t.Errorf("v2 reads v1: %v", got2["o1"])
	}
	if got2["o2"].Get(fields.ByName("coupon")).String() != "WELCOME" {
		t.Errorf("v2 reads v2: %v", got2["o2"])
	}

	// v3 is refused at construction with its violations.
	v3, _ := dynamicOrder(t, orderV3Proto, v1.Schema().References)
	_, err = client.NewProducer(ctx, srv.Conn, "orders", primitive.String(), v3, client.AutoRegister())
	var ie *client.IncompatibleError
	if !errors.As(err, &ie) || len(ie.Violations) == 0 || !strings.Contains(err.Error(), "id") {
		t.Fatalf("v3: err = %v, want *IncompatibleError naming id", err)
	}
	t.Logf("v3 refused as expected:\n%v", err)

	// A codec of another message refuses the records with a clear error.
	wrong := protobuf.Must[*testpb.Money]()
	cw := mustConsumer(t, srv.Conn, "orders", primitive.String(), wrong, client.FromEarliest())
	for _, err := range cw.All(ctx) {
		var de *client.DecodeError
		if !errors.As(err, &de) || !strings.Contains(err.Error(), "holds a sluice.clienttest.Order") {
			t.Errorf("wrong codec: err = %v", err)
		}
		break
	}
}
