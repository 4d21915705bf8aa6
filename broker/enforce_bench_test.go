package broker_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/serde/protobuf"
	"github.com/sluicehq/sluice/server"
)

// The per-record cost of enforcement, without the RPC and the log: one
// Enforcer over a real registry, ValidateProduce on requests of 64 framed
// records that share one schema id (the common case the per-request
// dedupe serves), reported as ns/record.

const (
	benchAvroSchema  = `{"type":"record","name":"Order","namespace":"shop.v1","fields":[{"name":"id","type":"string"},{"name":"customer","type":"string"},{"name":"total","type":"long"},{"name":"price","type":"double"},{"name":"tags","type":{"type":"array","items":"string"}},{"name":"note","type":["null","string"],"default":null}]}`
	benchProtoSchema = "syntax = \"proto3\";\npackage shop.v1;\nmessage Order { string id = 1; string customer = 2; int64 total = 3; double price = 4; repeated string tags = 5; optional string note = 6; }\n"
	benchJSONSchema  = `{"title":"Order","type":"object","required":["id","customer","total"],"additionalProperties":false,"properties":{"id":{"type":"string"},"customer":{"type":"string","minLength":1},"total":{"type":"integer","minimum":0},"price":{"type":"number"},"tags":{"type":"array","items":{"type":"string"}},"note":{"type":["string","null"]}}}`
	benchRecords     = 64
)

// enforceBench registers schema under bench-value and returns an Enforcer,
// the topic config for mode, and the schema's id.
func enforceBench(b *testing.B, f serde.Format, schema, mode string) (*broker.Enforcer, *broker.TopicConfig, int32) {
	b.Helper()
	srv, err := server.New(context.Background(), server.Config{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	sv, err := srv.Registry.Register(context.Background(), "bench-value", registry.Schema{Type: f, Text: schema}, registry.RegisterOptions{})
	if err != nil {
		b.Fatal(err)
	}
	cfg := &broker.TopicConfig{KeyValidation: broker.ValidationNone, ValueValidation: mode, KeyStrategy: serde.TopicName, ValueStrategy: serde.TopicName}
	return broker.NewEnforcer(srv.Registry, nil), cfg, int32(sv.ID)
}

// benchDatum encodes record i in format f.
func benchDatum(b testing.TB, f serde.Format, i int) []byte {
	b.Helper()
	switch f {
	case serde.Avro:
		s := avro.MustParse(benchAvroSchema)
		d, err := s.AppendEncode(nil, map[string]any{
			"id": fmt.Sprintf("order-%06d", i), "customer": "c-42", "total": int64(1000 + i),
			"price": 12.5, "tags": []any{"gift", "express"}, "note": nil,
		})
		if err != nil {
			b.Fatal(err)
		}
		return d
	case serde.Protobuf:
		// Hand-written wire bytes: id, customer, total, price, two tags.
		id := fmt.Sprintf("order-%06d", i)
		d := append([]byte{0x0a, byte(len(id))}, id...)
		d = append(d, 0x12, 4, 'c', '-', '4', '2')
		d = append(d, 0x18, 0xe8, 0x07)
		d = append(d, 0x21, 0, 0, 0, 0, 0, 0, 0x29, 0x40)
		d = append(d, 0x2a, 4, 'g', 'i', 'f', 't', 0x2a, 7, 'e', 'x', 'p', 'r', 'e', 's', 's')
		if _, err := protobuf.Parse(benchProtoSchema, nil); err != nil {
			b.Fatal(err)
		}
		return d
	default:
		return fmt.Appendf(nil, `{"id":"order-%06d","customer":"c-42","total":%d,"price":12.5,"tags":["gift","express"],"note":null}`, i, 1000+i)
	}
}

// benchRequest frames benchRecords datums with id.
func benchRequest(b testing.TB, f serde.Format, id int32) []broker.ProduceRecord {
	recs := make([]broker.ProduceRecord, benchRecords)
	for i := range recs {
		v := serde.AppendPrefix(nil, id)
		if f == serde.Protobuf {
			v = serde.AppendIndexes(v, []int{0})
		}
		recs[i].Value = append(v, benchDatum(b, f, i)...)
	}
	return recs
}

func benchEnforce(b *testing.B, f serde.Format, schema, mode string) {
	enf, cfg, id := enforceBench(b, f, schema, mode)
	recs := benchRequest(b, f, id)
	ctx := context.Background()
	if err := enf.ValidateProduce(ctx, "bench", cfg, recs); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := enf.ValidateProduce(ctx, "bench", cfg, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchRecords), "ns/record")
}

func BenchmarkEnforceID(b *testing.B) {
	benchEnforce(b, serde.Avro, benchAvroSchema, broker.ValidationID)
}

func BenchmarkEnforcePayloadAvro(b *testing.B) {
	benchEnforce(b, serde.Avro, benchAvroSchema, broker.ValidationPayload)
}

func BenchmarkEnforcePayloadProtobuf(b *testing.B) {
	benchEnforce(b, serde.Protobuf, benchProtoSchema, broker.ValidationPayload)
}

func BenchmarkEnforcePayloadJSON(b *testing.B) {
	benchEnforce(b, serde.JSON, benchJSONSchema, broker.ValidationPayload)
}
