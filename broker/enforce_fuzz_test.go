package broker_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluicehq/sluice/broker"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/serde/jsonschema"
	"github.com/sluicehq/sluice/serde/protobuf"
	"github.com/sluicehq/sluice/server"
)

// fuzzTopic is one typed topic of FuzzEnforce with the real decoder of its
// format.
type fuzzTopic struct {
	name   string
	format serde.Format
	schema string
	id     int32
	// decodes reports whether the format's reference decoder accepts the
	// datum (the bytes after the envelope).
	decodes func(datum []byte) bool
}

// FuzzEnforce sends arbitrary bytes as the value of one record to typed
// topics (value.schema.validation=payload) over the real Connect API. The
// broker must never fail otherwise than with InvalidArgument; a refusal
// appends nothing; an accepted value is a well-framed envelope with a live
// id of the topic's subject whose datum the format's reference decoder
// (hamba/avro, protobuf-go dynamicpb, encoding/json plus jsonschema/v5)
// accepts.
func FuzzEnforce(f *testing.F) {
	fsync, err := broker.ParseFsyncPolicy("never")
	if err != nil {
		f.Fatal(err)
	}
	srv, url, stop, err := server.Start(context.Background(), server.Config{DataDir: f.TempDir(), Fsync: fsync}, "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { stop() })
	topics := brokerv1connect.NewTopicServiceClient(h2cClient(), url)
	client := brokerv1connect.NewBrokerServiceClient(h2cClient(), url)

	av := avro.MustParse(benchAvroSchema)
	pb, err := protobuf.Parse(benchProtoSchema, nil)
	if err != nil {
		f.Fatal(err)
	}
	js, err := jsonschema.Parse(benchJSONSchema, nil)
	if err != nil {
		f.Fatal(err)
	}
	md, err := pb.MessageByIndexes(nil)
	if err != nil {
		f.Fatal(err)
	}
	fts := []*fuzzTopic{
		{name: "fz-avro", format: serde.Avro, schema: benchAvroSchema, decodes: func(d []byte) bool {
			var v any
			return av.Decode(d, &v) == nil
		}},
		{name: "fz-proto", format: serde.Protobuf, schema: benchProtoSchema, decodes: func(d []byte) bool {
			return proto.Unmarshal(d, dynamicpb.NewMessage(md)) == nil
		}},
		{name: "fz-json", format: serde.JSON, schema: benchJSONSchema, decodes: func(d []byte) bool {
			return json.Valid(d) && js.Validate(d) == nil
		}},
	}
	ctx := context.Background()
	for _, ft := range fts {
		sv, err := srv.Registry.Register(ctx, ft.name+"-value", registry.Schema{Type: ft.format, Text: ft.schema}, registry.RegisterOptions{})
		if err != nil {
			f.Fatal(err)
		}
		ft.id = int32(sv.ID)
		if _, err := topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{
			Name: ft.name, Partitions: 1, Configs: map[string]string{"value.schema.validation": "payload"},
		})); err != nil {
			f.Fatal(err)
		}
	}
	// Seeds: a valid framed value per format, and some damage.
	for i, ft := range fts {
		valid := benchRequest(f, ft.format, ft.id)[0].Value
		f.Add(uint8(i), valid)
		f.Add(uint8(i), valid[:len(valid)-1])
		f.Add(uint8(i), append(append([]byte{}, valid...), 0))
		f.Add(uint8(i), valid[:5])
	}
	f.Add(uint8(0), []byte{0})
	f.Add(uint8(1), []byte{0, 0, 0, 0, 2, 2, 1, 0})
	f.Add(uint8(2), []byte{1, 2, 3})

	hw := func(t *testing.T, topic string) int64 {
		resp, err := client.ListOffsets(ctx, connect.NewRequest(&brokerv1.ListOffsetsRequest{
			Topic: topic, Query: &brokerv1.ListOffsetsRequest_Spec{Spec: brokerv1.OffsetSpec_OFFSET_SPEC_LATEST},
		}))
		if err != nil {
			t.Fatalf("list offsets %s: %v", topic, err)
		}
		var n int64
		for _, o := range resp.Msg.GetOffsets() {
			n += o.GetOffset()
		}
		return n
	}
	f.Fuzz(func(t *testing.T, which uint8, value []byte) {
		ft := fts[int(which)%len(fts)]
		before := hw(t, ft.name)
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := client.Produce(rctx, connect.NewRequest(&brokerv1.ProduceRequest{
			Topic: ft.name, Records: []*brokerv1.ProduceRecord{{Value: value}},
		}))
		after := hw(t, ft.name)
		if err != nil {
			if code := connect.CodeOf(err); code != connect.CodeInvalidArgument {
				t.Fatalf("%s: value %x: refused with %v, want InvalidArgument: %v", ft.name, value, code, err)
			}
			if after != before {
				t.Fatalf("%s: refused, but the high watermark moved from %d to %d", ft.name, before, after)
			}
			return
		}
		if after != before+1 {
			t.Fatalf("%s: accepted, but the high watermark moved from %d to %d", ft.name, before, after)
		}
		id, rest, perr := serde.ParseIdentity(value)
		if perr != nil || id.Magic != serde.MagicID || id.ID != ft.id {
			t.Fatalf("%s: accepted %x whose envelope is %+v, %v; want schema id %d", ft.name, value, id, perr, ft.id)
		}
		if ft.format == serde.Protobuf {
			var path []int
			path, rest, perr = serde.ReadIndexes(nil, rest)
			if perr != nil {
				t.Fatalf("%s: accepted %x with bad message indexes: %v", ft.name, value, perr)
			}
			if _, err := pb.MessageByIndexes(path); err != nil {
				t.Fatalf("%s: accepted %x with message-index path %v: %v", ft.name, value, path, err)
			}
		}
		if !ft.decodes(rest) {
			t.Fatalf("%s: accepted %x, but the reference decoder refuses the datum %x", ft.name, value, rest)
		}
	})
}
