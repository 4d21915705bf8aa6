package client_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/avro"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/sluicetest"
)

const orderV1 = `{"type":"record","name":"Order","namespace":"com.acme","fields":[
  {"name":"id","type":"string"},
  {"name":"amount","type":"long"}]}`

// orderV2 adds a field with a default: BACKWARD compatible.
const orderV2 = `{"type":"record","name":"Order","namespace":"com.acme","fields":[
  {"name":"id","type":"string"},
  {"name":"amount","type":"long"},
  {"name":"note","type":"string","default":"none"}]}`

// orderV3 adds a field without a default and changes a type: incompatible.
const orderV3 = `{"type":"record","name":"Order","namespace":"com.acme","fields":[
  {"name":"id","type":"string"},
  {"name":"amount","type":"string"},
  {"name":"currency","type":"string"}]}`

type avroOrderV1 struct {
	ID     string `avro:"id"`
	Amount int64  `avro:"amount"`
}

type avroOrderV2 struct {
	ID     string `avro:"id"`
	Amount int64  `avro:"amount"`
	Note   string `avro:"note"`
}

type avroOrderV3 struct {
	ID       string `avro:"id"`
	Amount   string `avro:"amount"`
	Currency string `avro:"currency"`
}

func TestAvroRoundTrip(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "orders", 3, nil)
	p := mustProducer(t, ctx, srv.Conn, "orders", primitive.String(), avro.Must[avroOrderV1](orderV1), client.AutoRegister())
	var want []avroOrderV1
	for i := range 20 {
		o := avroOrderV1{ID: fmt.Sprintf("o-%d", i), Amount: int64(i * 100)}
		want = append(want, o)
		if _, err := p.Produce(ctx, o.ID, o); err != nil {
			t.Fatal(err)
		}
	}
	c := mustConsumer(t, srv.Conn, "orders", primitive.String(), avro.Must[avroOrderV1](orderV1), client.FromEarliest())
	got := map[string]avroOrderV1{}
	for _, m := range readN(t, ctx, c, len(want)) {
		if m.Key != m.Value.ID {
			t.Errorf("record %d/%d: key %q, value id %q", m.Partition, m.Offset, m.Key, m.Value.ID)
		}
		if m.SchemaID != p.ValueSchemaID() || m.Version != 1 || m.KeySchemaID != p.KeySchemaID() {
			t.Errorf("record %d/%d: schema id %d version %d key id %d, want %d, 1, %d", m.Partition, m.Offset, m.SchemaID, m.Version, m.KeySchemaID, p.ValueSchemaID(), p.KeySchemaID())
		}
		got[m.Key] = m.Value
	}
	for _, o := range want {
		if diff := cmp.Diff(o, got[o.ID]); diff != "" {
			t.Errorf("order %s (-sent +read):\n%s", o.ID, diff)
		}
	}
}

// TestAvroEvolution: a v1 producer, a compatible v2 registered by a v2
// producer, both producing; v1 and v2 consumers read every record, each in
// its own shape, and say which version wrote it; an incompatible v3 fails
// at producer construction with every violation.
func TestAvroEvolution(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "orders", 1, nil)
	p1 := mustProducer(t, ctx, srv.Conn, "orders", primitive.String(), avro.Must[avroOrderV1](orderV1), client.AutoRegister())
	p2 := mustProducer(t, ctx, srv.Conn, "orders", primitive.String(), avro.Must[avroOrderV2](orderV2), client.AutoRegister())
	if p1.ValueVersion() != 1 || p2.ValueVersion() != 2 {
		t.Fatalf("versions %d and %d, want 1 and 2", p1.ValueVersion(), p2.ValueVersion())
	}
	if _, err := p1.Produce(ctx, "a", avroOrderV1{ID: "a", Amount: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := p2.Produce(ctx, "b", avroOrderV2{ID: "b", Amount: 2, Note: "gift"}); err != nil {
		t.Fatal(err)
	}
	// A v1 producer built after v2 exists still finds its version.
	p1again := mustProducer(t, ctx, srv.Conn, "orders", primitive.String(), avro.Must[avroOrderV1](orderV1))
	if _, err := p1again.Produce(ctx, "c", avroOrderV1{ID: "c", Amount: 3}); err != nil {
		t.Fatal(err)
	}

	c1 := mustConsumer(t, srv.Conn, "orders", primitive.String(), avro.Must[avroOrderV1](orderV1), client.FromEarliest())
	var got1 []avroOrderV1
	var versions []int32
	for _, m := range readN(t, ctx, c1, 3) {
		got1 = append(got1, m.Value)
		versions = append(versions, m.Version)
	}
	want1 := []avroOrderV1{{"a", 1}, {"b", 2}, {"c", 3}}
	if diff := cmp.Diff(want1, got1); diff != "" {
		t.Errorf("v1 consumer (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int32{1, 2, 1}, versions); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}

	c2 := mustConsumer(t, srv.Conn, "orders", primitive.String(), avro.Must[avroOrderV2](orderV2), client.FromEarliest())
	var got2 []avroOrderV2
	for _, m := range readN(t, ctx, c2, 3) {
		got2 = append(got2, m.Value)
	}
	want2 := []avroOrderV2{{"a", 1, "none"}, {"b", 2, "gift"}, {"c", 3, "none"}}
	if diff := cmp.Diff(want2, got2); diff != "" {
		t.Errorf("v2 consumer (-want +got):\n%s", diff)
	}

	// v3 is refused when the producer is built, registering or not.
	for _, opts := range [][]client.ProducerOption{{client.AutoRegister()}, nil} {
		_, err := client.NewProducer(ctx, srv.Conn, "orders", primitive.String(), avro.Must[avroOrderV3](orderV3), opts...)
		var ie *client.IncompatibleError
		if !errors.As(err, &ie) {
			t.Fatalf("v3 producer (register %v): err = %v, want *IncompatibleError", len(opts) > 0, err)
		}
		if ie.Subject != "orders-value" || len(ie.Violations) < 2 {
			t.Errorf("v3: subject %s, %d violations, want orders-value and at least 2:\n%v", ie.Subject, len(ie.Violations), err)
		}
		for _, want := range []string{"/fields/1/type", "TYPE_MISMATCH", "currency"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("v3 error does not mention %s:\n%v", want, err)
			}
		}
	}
}

func TestNotRegistered(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "orders", 1, nil)
	_, err := client.NewProducer(ctx, srv.Conn, "orders", primitive.String(), avro.Must[avroOrderV1](orderV1))
	var nr *client.NotRegisteredError
	if !errors.As(err, &nr) || nr.Subject != "orders-key" {
		t.Fatalf("err = %v, want *NotRegisteredError for orders-key", err)
	}
}
