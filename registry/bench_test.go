package registry_test

import (
	"testing"

	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
)

// BenchmarkRegisterExisting measures the idempotent fast path that every
// producer start takes: the schema is already a version of the subject.
func BenchmarkRegisterExisting(b *testing.B) {
	for _, bc := range []struct{ name, text string }{
		{"canonical", orderV2},
		{"other-spelling", `{ "name": "Order", "type": "record", "fields": [ {"name": "id", "type": "long"}, {"name": "note", "type": "string", "default": ""} ] }`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEnv(b)
			e.register("s", orderV1)
			want := e.register("s", bc.text)
			in := avroSchema(bc.text)
			b.ReportAllocs()
			for b.Loop() {
				sv, err := e.Register(ctx, "s", in, registry.RegisterOptions{})
				if err != nil || sv.ID != want.ID {
					b.Fatalf("Register = %+v, %v", sv, err)
				}
			}
		})
	}
}

// BenchmarkSchemaByID measures the consumer-side lookup by id.
func BenchmarkSchemaByID(b *testing.B) {
	e := newEnv(b)
	sv := e.register("s", orderV2)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.SchemaByID(ctx, sv.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSchemaByIDParsed measures the broker-side lookup of the cached
// parsed form.
func BenchmarkSchemaByIDParsed(b *testing.B) {
	e := newEnv(b)
	sv := e.register("s", orderV2)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.SchemaByIDParsed(ctx, sv.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseBaseline is what the register fast path avoids for a text it
// has seen: parsing and canonicalising the schema.
func BenchmarkParseBaseline(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := avro.Parse(orderV2, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFormatSchema measures the formats consumers ask for on every
// new writer id: Protobuf serialized (Confluent's Protobuf deserializers)
// and Avro resolved. The parse is cached with the id; each call renders.
func BenchmarkFormatSchema(b *testing.B) {
	e := newEnv(b)
	pb := e.registerSchema("p", registry.Schema{Type: serde.Protobuf, Text: "syntax = \"proto3\";\npackage acme;\nmessage Order {\n  string id = 1;\n  int64 cents = 2;\n  repeated string tags = 3;\n  map<string, string> attrs = 4;\n}\n"}, registry.RegisterOptions{})
	av := e.register("a", orderV2)
	for _, bc := range []struct {
		name, format string
		id           int
	}{
		{"protobuf-serialized", registry.FormatSerialized, pb.ID},
		{"protobuf-ignore_extensions", registry.FormatIgnoreExtensions, pb.ID},
		{"avro-resolved", registry.FormatResolved, av.ID},
		{"unknown", "nope", av.ID},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.FormatSchema(ctx, bc.id, bc.format); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
