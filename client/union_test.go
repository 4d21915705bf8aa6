package client_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/avro"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/sluicetest"
)

const createdSchema = `{"type":"record","name":"OrderCreated","namespace":"shop","fields":[{"name":"id","type":"string"},{"name":"amount","type":"long"}]}`
const shippedSchema = `{"type":"record","name":"OrderShipped","namespace":"shop","fields":[{"name":"id","type":"string"},{"name":"carrier","type":"string"}]}`
const cancelledSchema = `{"type":"record","name":"OrderCancelled","namespace":"shop","fields":[{"name":"id","type":"string"}]}`

type orderCreated struct {
	ID     string `avro:"id"`
	Amount int64  `avro:"amount"`
}

type orderShipped struct {
	ID      string `avro:"id"`
	Carrier string `avro:"carrier"`
}

type orderCancelled struct {
	ID string `avro:"id"`
}

// TestUnion: a topic carrying several event types under topic_record
// subjects; one producer per type, one consumer decoding each record into
// its type; a type the consumer does not know is an unknown event.
func TestUnion(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "shop", 1, map[string]string{"value.subject.name.strategy": "topic_record"})
	st := client.ValueStrategy(serde.TopicRecordName)
	created := avro.Must[orderCreated](createdSchema)
	shipped := avro.Must[orderShipped](shippedSchema)
	pc := mustProducer(t, ctx, srv.Conn, "shop", primitive.String(), created, client.AutoRegister(), st)
	ps := mustProducer(t, ctx, srv.Conn, "shop", primitive.String(), shipped, client.AutoRegister(), st)
	px := mustProducer(t, ctx, srv.Conn, "shop", primitive.String(), avro.Must[orderCancelled](cancelledSchema), client.AutoRegister(), st)
	if _, err := pc.Produce(ctx, "o1", orderCreated{"o1", 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := ps.Produce(ctx, "o1", orderShipped{"o1", "post"}); err != nil {
		t.Fatal(err)
	}
	if _, err := px.Produce(ctx, "o1", orderCancelled{"o1"}); err != nil {
		t.Fatal(err)
	}

	u, err := client.NewUnion(client.Event[orderCreated](created), client.Event[orderShipped](shipped))
	if err != nil {
		t.Fatal(err)
	}
	c := mustConsumer(t, srv.Conn, "shop", primitive.String(), client.Codec[any](u), client.FromEarliest(), client.ConsumerValueStrategy(serde.TopicRecordName))
	var got []any
	var last error
	for m, err := range c.All(ctx) {
		if err != nil {
			last = err
			break
		}
		got = append(got, m.Value)
		if m.Version != 1 {
			t.Errorf("record %d: version %d, want 1 (each type's subject has one version)", m.Offset, m.Version)
		}
	}
	if diff := cmp.Diff([]any{orderCreated{"o1", 5}, orderShipped{"o1", "post"}}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	var de *client.DecodeError
	if !errors.As(last, &de) || !errors.Is(last, client.ErrUnknownEvent) || de.Offset != 2 {
		t.Errorf("third record: %v, want an unknown event at offset 2", last)
	}

	if _, err := client.NewUnion(client.Event[string](primitive.String())); err == nil {
		t.Error("a union of a type without record name was accepted")
	}
	if _, err := client.NewUnion(client.Event[orderCreated](created), client.Event[orderCreated](created)); err == nil {
		t.Error("a union listing a type twice was accepted")
	}
	if _, err := u.AppendEncode(nil, orderCreated{}); err == nil {
		t.Error("a union encoded")
	}
}
