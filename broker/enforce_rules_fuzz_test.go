package broker_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/server"
)

// FuzzEnforceRules: arbitrary datums framed with the id of a schema whose
// ruleSet has message and field conditions (Avro, Protobuf, JSON) go
// through the Enforcer: the answer is nil or a *ProduceError, never a
// panic, and never a recovered panic of the rules ("evaluation failed").
func FuzzEnforceRules(f *testing.F) {
	srv, err := server.New(context.Background(), server.Config{DataDir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	const rs = `{"domainRules":[
	 {"name":"m","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.total >= 0 && size(message.id) < 100"},
	 {"name":"f","kind":"CONDITION","mode":"WRITE","type":"CEL_FIELD","expr":"typeName == 'STRING' ; value != 'x'"},
	 {"name":"d","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.customer != 'dlq'","onFailure":"DLQ","params":{"dlq.topic":"dead"}}]}`
	type target struct {
		f  serde.Format
		id int32
	}
	var targets []target
	for i, s := range []struct {
		f    serde.Format
		text string
	}{{serde.Avro, benchAvroSchema}, {serde.Protobuf, benchProtoSchema}, {serde.JSON, benchJSONSchema}} {
		sv, err := srv.Registry.Register(context.Background(), "fz"+string(rune('a'+i))+"-value", registry.Schema{Type: s.f, Text: s.text, RuleSet: json.RawMessage(rs)}, registry.RegisterOptions{})
		if err != nil {
			f.Fatal(err)
		}
		targets = append(targets, target{s.f, int32(sv.ID)})
		f.Add(uint8(i), benchDatum(f, s.f, 1))
	}
	f.Add(uint8(0), []byte{0x02, 'x', 0x02, 'x', 0x01})
	f.Add(uint8(2), []byte(`{"id":"x","customer":"dlq","total":-1}`))
	enf := broker.NewEnforcer(srv.Registry, nil)
	f.Fuzz(func(t *testing.T, which uint8, datum []byte) {
		i := int(which) % len(targets)
		tg := targets[i]
		v := serde.AppendPrefix(nil, tg.id)
		if tg.f == serde.Protobuf {
			v = serde.AppendIndexes(v, []int{0})
		}
		cfg := &broker.TopicConfig{KeyValidation: broker.ValidationNone, ValueValidation: broker.ValidationPayload, KeyStrategy: serde.TopicName, ValueStrategy: serde.TopicName}
		err := enf.ValidateProduce(context.Background(), "fz"+string(rune('a'+i)), cfg, []broker.ProduceRecord{{Value: append(v, datum...)}})
		var pe *broker.ProduceError
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("ValidateProduce: %T %v", err, err)
		}
		if err != nil && strings.Contains(err.Error(), "evaluation failed") {
			t.Fatalf("a rule panicked: %v", err)
		}
	})
}
