package pgsink_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/primitive"
	cproto "github.com/sluicehq/sluice/client/protobuf"
	"github.com/sluicehq/sluice/connect/pgsink"
	"github.com/sluicehq/sluice/internal/pgtest"
	sproto "github.com/sluicehq/sluice/serde/protobuf"
	"github.com/sluicehq/sluice/sluicetest"
)

const shipmentProto = `syntax = "proto3";
package ship.v1;
import "google/protobuf/timestamp.proto";
message Shipment {
  string id = 1;
  Address to = 2;
  google.protobuf.Timestamp sent = 3;
  repeated string parcels = 4;
  message Address { string city = 1; int32 zip = 2; }
}`

// TestSinkProtobuf: a Protobuf topic (dynamic messages through the typed
// client) into a table: nested message flattened, Timestamp as
// timestamptz, repeated field as jsonb.
func TestSinkProtobuf(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.DB(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "shipments", 1, nil)
	s, err := sproto.Parse(shipmentProto, nil)
	if err != nil {
		t.Fatal(err)
	}
	md := s.File().Messages().ByName("Shipment")
	codec, err := cproto.New[*dynamicpb.Message](cproto.WithDescriptor(md), cproto.WithSource(shipmentProto))
	if err != nil {
		t.Fatal(err)
	}
	p, err := client.NewProducer(ctx, srv.Conn, "shipments", primitive.String(), codec, client.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	sent := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, id := range []string{"s1", "s2"} {
		m := dynamicpb.NewMessage(md)
		f := md.Fields()
		m.Set(f.ByName("id"), protoreflect.ValueOfString(id))
		to := dynamicpb.NewMessage(f.ByName("to").Message())
		to.Set(to.Descriptor().Fields().ByName("city"), protoreflect.ValueOfString("Nantes"))
		to.Set(to.Descriptor().Fields().ByName("zip"), protoreflect.ValueOfInt32(44000))
		m.Set(f.ByName("to"), protoreflect.ValueOfMessage(to))
		ts := dynamicpb.NewMessage(f.ByName("sent").Message())
		ts.Set(ts.Descriptor().Fields().ByName("seconds"), protoreflect.ValueOfInt64(sent.Unix()))
		m.Set(f.ByName("sent"), protoreflect.ValueOfMessage(ts))
		m.Mutable(f.ByName("parcels")).List().Append(protoreflect.ValueOfString(id + "-a"))
		if _, err := p.Produce(ctx, id, m); err != nil {
			t.Fatal(err)
		}
	}
	stop := runSink(t, srv.Conn, pgsink.Config{Name: "ship", Postgres: dbURL, Topic: "shipments", KeyFormat: "registry", KeyColumn: "id"})
	pg := pgConn(t, dbURL)
	waitOffsets(t, pg, "ship", 2)
	var (
		city    string
		zip     int32
		at      time.Time
		parcels string
	)
	if err := pg.QueryRow(ctx, `SELECT to_city, to_zip, sent, parcels::text FROM shipments WHERE id = 's2'`).Scan(&city, &zip, &at, &parcels); err != nil {
		t.Fatal(err)
	}
	if city != "Nantes" || zip != 44000 || !at.Equal(sent) || parcels != `["s2-a"]` {
		t.Fatalf("row: %s %d %v %s", city, zip, at, parcels)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
