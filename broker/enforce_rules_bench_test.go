package broker_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/server"
)

// The cost of one CEL condition on produce, beside payload validation
// alone: BenchmarkProduceRules/<format>/{payload,rule} append requests of
// 64 records through Broker.Produce (the log included, fsync never), the
// ratio of the two is the figure; BenchmarkEnforceRules* time the
// validator alone.

const benchRule = `{"domainRules":[{"name":"positive_total","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.total > 0"}]}`

// rulesBench starts a node with subject bench-value registered (with the
// rule when withRule) and topic bench created.
func rulesBench(b *testing.B, f serde.Format, schema string, withRule bool) (*server.Server, int32) {
	b.Helper()
	fsync, _ := broker.ParseFsyncPolicy("never")
	srv, err := server.New(context.Background(), server.Config{DataDir: b.TempDir(), Fsync: fsync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	s := registry.Schema{Type: f, Text: schema}
	if withRule {
		s.RuleSet = json.RawMessage(benchRule)
	}
	sv, err := srv.Registry.Register(context.Background(), "bench-value", s, registry.RegisterOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := srv.Broker.CreateTopic(context.Background(), "bench", 1, map[string]string{"value.schema.validation": "payload"}); err != nil {
		b.Fatal(err)
	}
	return srv, int32(sv.ID)
}

func BenchmarkProduceRules(b *testing.B) {
	for _, f := range []struct {
		name   string
		typ    serde.Format
		schema string
	}{{"avro", serde.Avro, benchAvroSchema}, {"protobuf", serde.Protobuf, benchProtoSchema}, {"json", serde.JSON, benchJSONSchema}} {
		for _, withRule := range []bool{false, true} {
			name := f.name + "/payload"
			if withRule {
				name = f.name + "/rule"
			}
			b.Run(name, func(b *testing.B) {
				srv, id := rulesBench(b, f.typ, f.schema, withRule)
				recs := benchRequest(b, f.typ, id)
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					in := make([]broker.ProduceRecord, len(recs))
					copy(in, recs)
					if _, err := srv.Broker.Produce(ctx, "bench", in); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*benchRecords)/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}

func benchEnforceRules(b *testing.B, f serde.Format, schema string) {
	srv, id := rulesBench(b, f, schema, true)
	enf := broker.NewEnforcer(srv.Registry, nil)
	cfg := &broker.TopicConfig{KeyValidation: broker.ValidationNone, ValueValidation: broker.ValidationPayload, KeyStrategy: serde.TopicName, ValueStrategy: serde.TopicName}
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

func BenchmarkEnforceRulesAvro(b *testing.B) {
	benchEnforceRules(b, serde.Avro, benchAvroSchema)
}

func BenchmarkEnforceRulesProtobuf(b *testing.B) {
	benchEnforceRules(b, serde.Protobuf, benchProtoSchema)
}

func BenchmarkEnforceRulesJSON(b *testing.B) {
	benchEnforceRules(b, serde.JSON, benchJSONSchema)
}
