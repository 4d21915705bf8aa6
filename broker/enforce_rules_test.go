package broker_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/protobuf"
)

// registerRules registers f's schema under subject with a ruleSet.
func (e *enfEnv) registerRules(subject string, f format, ruleSet string) int32 {
	e.t.Helper()
	sv, err := e.srv.Registry.Register(ctxT(e.t), subject, registry.Schema{Type: f.typ, Text: f.text, RuleSet: json.RawMessage(ruleSet)}, registry.RegisterOptions{})
	if err != nil {
		e.t.Fatalf("register %s: %v", subject, err)
	}
	return int32(sv.ID)
}

// contract is, per format, a CEL condition, a datum that keeps it, one that
// breaks it, and one on which it fails at run time.
var contract = map[string]struct {
	expr, errExpr   string
	good, bad, oops []byte
}{
	"avro":     {"message.id < 100", "message.name.size() / (message.id - 42) > 0", avroOrder(7, "Ada"), avroOrder(420, "Ada"), avroOrder(42, "Ada")},
	"protobuf": {"message.amount < 1000", "message.id.size() / (message.amount - 42) > 0", protoOrder("A1", 300), protoOrder("A1", 3000), protoOrder("A1", 42)},
	"json":     {"message.id < 100", "message.name.size() / (message.id - 42) > 0", []byte(`{"id":7,"name":"Ada"}`), []byte(`{"id":420,"name":"Ada"}`), []byte(`{"id":42,"name":"Ada"}`)},
}

func condition(name, expr, extra string) string {
	return `{"domainRules":[{"name":"` + name + `","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":` + jsonQuote(expr) + extra + `}]}`
}

func jsonQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// TestDataContractConnect: over Connect, per format, a record breaking a
// CEL rule is refused with the rule's name and nothing appended; a rule
// that errors at run time refuses with its reason; a good record is
// accepted; value.rules=skip turns the rules off.
func TestDataContractConnect(t *testing.T) {
	e := newEnfEnv(t)
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			c := contract[f.name]
			topic := "dc-" + f.name
			e.create(topic, 1, nil)
			id := e.registerRules(topic+"-value", f, condition("small", c.expr, ""))
			frame := func(d []byte) *brokerv1.ProduceRecord { return &brokerv1.ProduceRecord{Value: f.frame(id, d)} }

			res := e.accepted(topic, &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{frame(c.good)}})
			if len(res) != 1 || res[0].GetOffset() != 0 {
				t.Fatalf("good record: %v", res)
			}
			ce := e.refused(topic, connect.CodeInvalidArgument, &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{frame(c.good), frame(c.bad)}})
			want := `record 1: rule "small" (CEL) failed: ` + c.expr + ` is false`
			if !strings.Contains(ce.Message(), want) {
				t.Fatalf("refusal %q does not say %q", ce.Message(), want)
			}
			rej := rejection(t, ce)
			if len(rej.GetRecords()) != 1 || rej.GetRecords()[0].GetIndex() != 1 || rej.GetRecords()[0].GetSubject() != topic+"-value" {
				t.Fatalf("rejection detail %v", rej)
			}

			// A rule that fails at run time: a version with another rule.
			id2 := e.registerRules(topic+"-value", f, condition("ratio", c.errExpr, ""))
			ce = e.refused(topic, connect.CodeInvalidArgument, &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{{Value: f.frame(id2, c.oops)}}})
			if want := `record 0: rule "ratio" (CEL) failed: division by zero`; !strings.Contains(ce.Message(), want) {
				t.Fatalf("runtime error refusal %q does not say %q", ce.Message(), want)
			}

			// value.rules=skip: the same record is accepted.
			if _, err := e.topics.AlterTopicConfigs(ctxT(t), connect.NewRequest(&brokerv1.AlterTopicConfigsRequest{Name: topic, Set: map[string]string{"value.rules": "skip"}})); err != nil {
				t.Fatal(err)
			}
			e.accepted(topic, &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{frame(c.bad)}})
		})
	}
}

// TestDataContractDLQ: a record breaking a rule with onFailure DLQ lands in
// params["dlq.topic"] with headers naming the rule, the subject and the
// version, and is acknowledged (partition and offset -1); the good records
// of the same request are written to the topic.
func TestDataContractDLQ(t *testing.T) {
	e := newEnfEnv(t)
	f := formats[0]
	c := contract[f.name]
	e.create("pay", 1, nil)
	e.create("pay-dlq", 1, nil)
	id := e.registerRules("pay-value", f, condition("small", c.expr, `,"onFailure":"DLQ","params":{"dlq.topic":"pay-dlq"}`))
	res := e.accepted("pay", &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{
		{Value: f.frame(id, c.good)},
		{Value: f.frame(id, c.bad), Headers: []*brokerv1.Header{{Key: "trace", Value: []byte("t1")}}},
		{Value: f.frame(id, c.good)},
	}})
	if len(res) != 3 || res[0].GetOffset() != 0 || res[1].GetPartition() != -1 || res[1].GetOffset() != -1 || res[2].GetOffset() != 1 {
		t.Fatalf("results %v", res)
	}
	if n := e.highWatermarks("pay"); n != 2 {
		t.Fatalf("pay holds %d records, want 2", n)
	}
	got := e.fetchValue("pay-dlq", &brokerv1.ProduceResult{Partition: 0, Offset: 0})
	if string(got.GetValue()) != string(f.frame(id, c.bad)) {
		t.Fatalf("DLQ value %x", got.GetValue())
	}
	hs := map[string]string{}
	for _, h := range got.GetHeaders() {
		hs[h.GetKey()] = string(h.GetValue())
	}
	for k, v := range map[string]string{"trace": "t1", "__rule.name": "small", "__rule.subject": "pay-value", "__rule.version": "1", "__rule.topic": "pay", "__rule.mode": "WRITE"} {
		if hs[k] != v {
			t.Errorf("DLQ header %s = %q, want %q (all: %v)", k, hs[k], v, hs)
		}
	}
	if !strings.Contains(hs["__rule.exception"], `rule "small" (CEL) failed`) {
		t.Errorf("DLQ reason header %q", hs["__rule.exception"])
	}

	// A DLQ topic that does not exist refuses the record, writing nothing.
	e.create("lost", 1, nil)
	id = e.registerRules("lost-value", f, condition("small", c.expr, `,"onFailure":"DLQ","params":{"dlq.topic":"nowhere"}`))
	ce := e.refused("lost", connect.CodeInvalidArgument, &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{{Value: f.frame(id, c.good)}, {Value: f.frame(id, c.bad)}}})
	if !strings.Contains(ce.Message(), "record 1: rule \"small\"") || !strings.Contains(ce.Message(), "nowhere") {
		t.Fatalf("refusal %q", ce.Message())
	}
}

// TestDataContractProtovalidate: with value.rules.protovalidate=true, the
// buf.validate annotations of a Protobuf value schema (which imports
// buf/validate/validate.proto as a reference) refuse records over Connect;
// without it they are not enforced.
func TestDataContractProtovalidate(t *testing.T) {
	e := newEnfEnv(t)
	b, err := proto.Marshal(protodesc.ToFileDescriptorProto(validate.File_buf_validate_validate_proto))
	if err != nil {
		t.Fatal(err)
	}
	vp, err := protobuf.Parse(base64.StdEncoding.EncodeToString(b), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Registry.Register(ctxT(t), "buf/validate/validate.proto", registry.Schema{Type: serde.Protobuf, Text: vp.Canonical()}, registry.RegisterOptions{}); err != nil {
		t.Fatal(err)
	}
	sv, err := e.srv.Registry.Register(ctxT(t), "signups-value", registry.Schema{Type: serde.Protobuf,
		Text:       "syntax = \"proto3\";\npackage shop;\nimport \"buf/validate/validate.proto\";\nmessage Signup {\n  string email = 1 [(buf.validate.field).string.email = true];\n}\n",
		References: []registry.Reference{{Name: "buf/validate/validate.proto", Subject: "buf/validate/validate.proto", Version: 1}},
	}, registry.RegisterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	frame := func(email string) *brokerv1.ProduceRecord {
		v := serde.AppendIndexes(serde.AppendPrefix(nil, int32(sv.ID)), []int{0})
		v = append(v, 0x0a, byte(len(email)))
		return &brokerv1.ProduceRecord{Value: append(v, email...)}
	}
	e.create("signups", 1, nil)
	e.accepted("signups", &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{frame("nope")}}) // not enforced by default
	if _, err := e.topics.AlterTopicConfigs(ctxT(t), connect.NewRequest(&brokerv1.AlterTopicConfigsRequest{Name: "signups", Set: map[string]string{"value.rules.protovalidate": "true"}})); err != nil {
		t.Fatal(err)
	}
	e.accepted("signups", &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{frame("ann@example.com")}})
	ce := e.refused("signups", connect.CodeInvalidArgument, &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{frame("ann@example.com"), frame("nope")}})
	if want := `record 1: rule "string.email" (buf.validate) failed: email: `; !strings.Contains(ce.Message(), want) {
		t.Fatalf("refusal %q does not say %q", ce.Message(), want)
	}
}

// TestDataContractKey: the rules of the key's writer version run on keys
// ("key rule …"), and key.rules=skip turns them off.
func TestDataContractKey(t *testing.T) {
	e := newEnfEnv(t)
	f := formats[0]
	c := contract[f.name]
	e.create("keyed", 1, nil)
	id := e.registerRules("keyed-key", f, condition("small_key", c.expr, ""))
	rec := func(d []byte) *brokerv1.ProduceRecord {
		return &brokerv1.ProduceRecord{Key: f.frame(id, d), Value: []byte("v")}
	}
	e.accepted("keyed", &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{rec(c.good)}})
	ce := e.refused("keyed", connect.CodeInvalidArgument, &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{rec(c.bad)}})
	if want := `record 0: key rule "small_key" (CEL) failed: ` + c.expr + ` is false`; !strings.Contains(ce.Message(), want) {
		t.Fatalf("refusal %q does not say %q", ce.Message(), want)
	}
	if r := rejection(t, ce).GetRecords(); len(r) != 1 || r[0].GetSide() != brokerv1.RecordSide_RECORD_SIDE_KEY {
		t.Fatalf("rejection %v", r)
	}
	if _, err := e.topics.AlterTopicConfigs(ctxT(t), connect.NewRequest(&brokerv1.AlterTopicConfigsRequest{Name: "keyed", Set: map[string]string{"key.rules": "skip"}})); err != nil {
		t.Fatal(err)
	}
	e.accepted("keyed", &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{rec(c.bad)}})
}
