package rules_test

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluicehq/sluice/rules"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/serde/jsonschema"
	"github.com/sluicehq/sluice/serde/protobuf"
)

// TestConfluentExamples: agreement with Confluent's serializers. Each case
// is one of Confluent's documented rule examples (the data-contracts
// page's checkSsnLen, and the CEL and CEL_FIELD conditions their serde
// tests run over a record with stringField "hi"): a value their
// serializer refuses under the rule is refused here, and one it accepts is
// accepted, in each format.
func TestConfluentExamples(t *testing.T) {
	const (
		avroText  = `{"type":"record","name":"test","fields":[{"name":"intField","type":"int"},{"name":"stringField","type":"string","confluent:tags":["PII"]},{"name":"ssn","type":"string"}]}`
		jsonText  = `{"type":"object","title":"test","properties":{"intField":{"type":"integer"},"stringField":{"type":"string","confluent:tags":["PII"]},"ssn":{"type":"string"}}}`
		protoText = "syntax = \"proto3\";\nimport \"confluent/meta.proto\";\nmessage test {\n  int32 intField = 1;\n  string stringField = 2 [(confluent.field_meta) = {tags: [\"PII\"]}];\n  string ssn = 3;\n}\n"
	)
	as, err := avro.Parse(avroText, nil)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jsonschema.Parse(jsonText, nil)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := protobuf.Parse(protoText, nil)
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		i        int
		str, ssn string
	}
	encode := map[string]func(rec) []byte{
		"avro": func(r rec) []byte {
			b, err := as.AppendEncode(nil, map[string]any{"intField": r.i, "stringField": r.str, "ssn": r.ssn})
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		"json": func(r rec) []byte {
			b, _ := json.Marshal(map[string]any{"intField": r.i, "stringField": r.str, "ssn": r.ssn})
			return b
		},
		"protobuf": func(r rec) []byte {
			md, _ := ps.MessageByIndexes(nil)
			m := dynamicpb.NewMessage(md)
			m.Set(md.Fields().ByName("intField"), protoreflect.ValueOfInt32(int32(r.i)))
			m.Set(md.Fields().ByName("stringField"), protoreflect.ValueOfString(r.str))
			m.Set(md.Fields().ByName("ssn"), protoreflect.ValueOfString(r.ssn))
			b, _ := proto.Marshal(m)
			return b
		},
	}
	schemas := map[string]serde.Schema{"avro": as, "json": js, "protobuf": ps}
	hi := rec{123, "hi", "123456789"}
	tests := []struct {
		name   string
		rule   string
		value  rec
		action string // "" accepted
	}{
		{"checkSsnLen passes", `{"name":"checkSsnLen","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"size(message.ssn) == 9"}`, hi, ""},
		{"checkSsnLen fails", `{"name":"checkSsnLen","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"size(message.ssn) == 9"}`, rec{123, "hi", "12345"}, "ERROR"},
		{"checkSsnLen to the DLQ", `{"name":"checkSsnLen","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"size(message.ssn) == 9","onFailure":"DLQ","params":{"dlq.topic":"bad-data"}}`, rec{123, "hi", "12345"}, "DLQ"},
		{"condition", `{"name":"test-cel","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.stringField == 'hi'"}`, hi, ""},
		{"condition fail", `{"name":"test-cel","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.stringField != 'hi'"}`, hi, "ERROR"},
		{"condition ignore fail", `{"name":"test-cel","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.stringField != 'hi'","onFailure":"NONE"}`, hi, ""},
		{"condition disabled", `{"name":"test-cel","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.stringField != 'hi'","disabled":true}`, hi, ""},
		{"field condition", `{"name":"test-cel","kind":"CONDITION","mode":"WRITE","type":"CEL_FIELD","expr":"name == 'stringField' ; value == 'hi'"}`, hi, ""},
		{"field condition fail", `{"name":"test-cel","kind":"CONDITION","mode":"WRITE","type":"CEL_FIELD","expr":"name == 'stringField' ; value == 'bye'"}`, hi, "ERROR"},
		{"field condition by tag", `{"name":"test-cel","kind":"CONDITION","mode":"WRITE","type":"CEL_FIELD","tags":["PII"],"expr":"value == 'hi'"}`, hi, ""},
		{"field condition by tag fail", `{"name":"test-cel","kind":"CONDITION","mode":"WRITE","type":"CEL_FIELD","tags":["PII"],"expr":"value == 'bye'"}`, hi, "ERROR"},
		{"field condition by type", `{"name":"test-cel","kind":"CONDITION","mode":"WRITE","type":"CEL_FIELD","expr":"typeName == 'INT' ; value == 123"}`, hi, ""},
		{"read-only condition", `{"name":"test-cel","kind":"CONDITION","mode":"READ","type":"CEL","expr":"message.stringField != 'hi'"}`, hi, ""},
	}
	for _, f := range []string{"avro", "json", "protobuf"} {
		for _, tt := range tests {
			t.Run(f+"/"+tt.name, func(t *testing.T) {
				set, err := rules.Compile(schemas[f], nil, json.RawMessage(`{"domainRules":[`+tt.rule+`]}`))
				if err != nil {
					t.Fatal(err)
				}
				fail, err := set.Check(nil, encode[f](tt.value))
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case tt.action == "" && fail != nil:
					t.Fatalf("refused: %v", fail)
				case tt.action != "" && (fail == nil || fail.Action != tt.action):
					t.Fatalf("Check = %+v, want %s", fail, tt.action)
				case fail != nil && !strings.Contains(fail.Error(), `rule "`):
					t.Fatalf("Error() = %q", fail.Error())
				}
			})
		}
	}
}
