package rules_test

import (
	"encoding/json"
	"errors"
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

const avroOrder = `{"type":"record","name":"Order","namespace":"shop","fields":[
 {"name":"id","type":"string"},
 {"name":"total","type":"double"},
 {"name":"qty","type":"int"},
 {"name":"email","type":"string","confluent:tags":["PII"]},
 {"name":"note","type":["null","string"],"default":null},
 {"name":"ssn","type":"string"},
 {"name":"lines","type":{"type":"array","items":{"type":"record","name":"Line","fields":[{"name":"sku","type":"string"},{"name":"n","type":"long"}]}}}
]}`

const jsonOrder = `{"type":"object","title":"Order","properties":{
 "id":{"type":"string"},"total":{"type":"number"},"qty":{"type":"integer"},
 "email":{"type":"string","confluent:tags":["PII"]},"note":{"type":["null","string"]},"ssn":{"type":"string"},
 "lines":{"type":"array","items":{"type":"object","properties":{"sku":{"type":"string"},"n":{"type":"integer"}}}}}}`

const protoOrder = `syntax = "proto3";
package shop;
import "confluent/meta.proto";
message Order {
  string id = 1;
  double total = 2;
  int32 qty = 3;
  string email = 4 [(confluent.field_meta) = {tags: ["PII"]}];
  string note = 5;
  string ssn = 6;
  repeated Line lines = 7;
}
message Line {
  string sku = 1;
  int64 n = 2;
}
`

// order is the test record, the same in every format.
type order struct {
	ID, Email, Note, SSN string
	Total                float64
	Qty                  int
	Lines                [][2]any
}

func goodOrder() order {
	return order{ID: "o-1", Email: "ann@example.com", Note: "hi", SSN: "123-45-6789", Total: 12.5, Qty: 2, Lines: [][2]any{{"A1", 1}, {"B2", 3}}}
}

type format struct {
	name   string
	schema serde.Schema
	encode func(t *testing.T, o order) []byte
}

func formats(t *testing.T) []format {
	t.Helper()
	as, err := avro.Parse(avroOrder, nil)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jsonschema.Parse(jsonOrder, nil)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := protobuf.Parse(protoOrder, nil)
	if err != nil {
		t.Fatal(err)
	}
	return []format{
		{"avro", as, func(t *testing.T, o order) []byte {
			lines := []any{}
			for _, l := range o.Lines {
				lines = append(lines, map[string]any{"sku": l[0], "n": int64(l[1].(int))})
			}
			var note any
			if o.Note != "" {
				note = o.Note
			}
			b, err := as.AppendEncode(nil, map[string]any{"id": o.ID, "total": o.Total, "qty": o.Qty, "email": o.Email, "note": note, "ssn": o.SSN, "lines": lines})
			if err != nil {
				t.Fatal(err)
			}
			return b
		}},
		{"json", js, func(t *testing.T, o order) []byte {
			lines := []any{}
			for _, l := range o.Lines {
				lines = append(lines, map[string]any{"sku": l[0], "n": l[1]})
			}
			b, _ := json.Marshal(map[string]any{"id": o.ID, "total": o.Total, "qty": o.Qty, "email": o.Email, "note": o.Note, "ssn": o.SSN, "lines": lines})
			return b
		}},
		{"protobuf", ps, func(t *testing.T, o order) []byte {
			md, _ := ps.MessageByIndexes([]int{0})
			m := dynamicpb.NewMessage(md)
			f := md.Fields()
			m.Set(f.ByName("id"), protoreflect.ValueOfString(o.ID))
			m.Set(f.ByName("total"), protoreflect.ValueOfFloat64(o.Total))
			m.Set(f.ByName("qty"), protoreflect.ValueOfInt32(int32(o.Qty)))
			m.Set(f.ByName("email"), protoreflect.ValueOfString(o.Email))
			m.Set(f.ByName("note"), protoreflect.ValueOfString(o.Note))
			m.Set(f.ByName("ssn"), protoreflect.ValueOfString(o.SSN))
			lines := m.Mutable(f.ByName("lines")).List()
			for _, l := range o.Lines {
				lm := lines.NewElement()
				lm.Message().Set(lm.Message().Descriptor().Fields().ByName("sku"), protoreflect.ValueOfString(l[0].(string)))
				lm.Message().Set(lm.Message().Descriptor().Fields().ByName("n"), protoreflect.ValueOfInt64(int64(l[1].(int))))
				lines.Append(lm)
			}
			b, err := proto.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}},
	}
}

func ruleSet(rs ...string) json.RawMessage {
	return json.RawMessage(`{"domainRules":[` + strings.Join(rs, ",") + `]}`)
}

// TestCheck runs each rule kind over each format: conditions true, false
// and erroring; guards; field rules by tag (inline and metadata), by name
// and by type; disabled, READ and TRANSFORM rules skipped; actions.
func TestCheck(t *testing.T) {
	md := json.RawMessage(`{"tags":{"**.ssn":["PII"]}}`)
	tests := []struct {
		name   string
		rules  json.RawMessage
		edit   func(o *order)
		action string // "" passes
		reason string // substring of the failure's reason
	}{
		{"condition holds", ruleSet(`{"name":"positive","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.total > 0.0"}`), nil, "", ""},
		{"condition false", ruleSet(`{"name":"positive","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.total > 0.0"}`), func(o *order) { o.Total = -1 }, "ERROR", "message.total > 0.0 is false"},
		{"int compared with double", ruleSet(`{"name":"qty","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.qty < 10"}`), func(o *order) { o.Qty = 11 }, "ERROR", "message.qty < 10 is false"},
		{"nested list", ruleSet(`{"name":"lines","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.lines.all(l, l.n > 0)"}`), func(o *order) { o.Lines[1][1] = 0 }, "ERROR", "is false"},
		{"runtime error", ruleSet(`{"name":"div","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"1 / (message.qty - 2) > 0"}`), nil, "ERROR", "division by zero"},
		{"guard skips", ruleSet(`{"name":"g","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.qty > 5 ; message.total > 100.0"}`), nil, "", ""},
		{"guard applies", ruleSet(`{"name":"g","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.qty > 1 ; message.total > 100.0"}`), nil, "ERROR", "message.total > 100.0 is false"},
		{"onFailure NONE", ruleSet(`{"name":"positive","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.total > 0.0","onFailure":"NONE"}`), func(o *order) { o.Total = -1 }, "", ""},
		{"onFailure DLQ", ruleSet(`{"name":"positive","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.total > 0.0","onFailure":"DLQ","params":{"dlq.topic":"bad"}}`), func(o *order) { o.Total = -1 }, "DLQ", "is false"},
		{"WRITEREAD pair", ruleSet(`{"name":"positive","kind":"CONDITION","mode":"WRITEREAD","type":"CEL","expr":"message.total > 0.0","onFailure":"DLQ,NONE","params":{"dlq.topic":"bad"}}`), func(o *order) { o.Total = -1 }, "DLQ", "is false"},
		{"onSuccess ERROR", ruleSet(`{"name":"never","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"true","onSuccess":"ERROR"}`), nil, "ERROR", "onSuccess is ERROR"},
		{"disabled", ruleSet(`{"name":"positive","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.total > 0.0","disabled":true}`), func(o *order) { o.Total = -1 }, "", ""},
		{"READ mode", ruleSet(`{"name":"positive","kind":"CONDITION","mode":"READ","type":"CEL","expr":"message.total > 0.0"}`), func(o *order) { o.Total = -1 }, "", ""},
		{"TRANSFORM", ruleSet(`{"name":"t","kind":"TRANSFORM","mode":"WRITE","type":"CEL","expr":"message"}`), nil, "", ""},
		{"second rule fails", ruleSet(`{"name":"a","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.total > 0.0"}`, `{"name":"b","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.id.startsWith('x-')"}`), nil, "ERROR", "message.id.startsWith('x-') is false"},
		{"builtin isEmail", ruleSet(`{"name":"mail","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.email.isEmail()"}`), func(o *order) { o.Email = "not an email" }, "ERROR", "is false"},
		{"field by inline tag", ruleSet(`{"name":"pii","kind":"CONDITION","mode":"WRITE","type":"CEL_FIELD","tags":["PII"],"expr":"value != ''"}`), func(o *order) { o.Email = "" }, "ERROR", "email: value != '' is false"},
		{"field by metadata tag", ruleSet(`{"name":"pii","kind":"CONDITION","mode":"WRITE","type":"CEL_FIELD","tags":["PII"],"expr":"value != ''"}`), func(o *order) { o.SSN = "" }, "ERROR", "ssn: value != '' is false"},
		{"field tags pass", ruleSet(`{"name":"pii","kind":"CONDITION","mode":"WRITE","type":"CEL_FIELD","tags":["PII"],"expr":"value != ''"}`), func(o *order) { o.Note = ""; o.ID = "" }, "", ""},
		{"field by name guard", ruleSet(`{"name":"sku","kind":"CONDITION","mode":"WRITE","type":"CEL_FIELD","expr":"name == 'sku' ; value.matches('^[A-Z][0-9]$')"}`), func(o *order) { o.Lines[0][0] = "bad" }, "ERROR", "sku: value.matches('^[A-Z][0-9]$') is false"},
		{"field by type", ruleSet(`{"name":"str","kind":"CONDITION","mode":"WRITE","type":"CEL_FIELD","expr":"typeName == 'STRING' ; size(value) < 20"}`), func(o *order) { o.Note = strings.Repeat("x", 30) }, "ERROR", "note: size(value) < 20 is false"},
		{"field tags variable", ruleSet(`{"name":"t","kind":"CONDITION","mode":"WRITE","type":"CEL_FIELD","expr":"'PII' in tags ; value.size() > 3"}`), func(o *order) { o.SSN = "1" }, "ERROR", "ssn: value.size() > 3 is false"},
	}
	for _, f := range formats(t) {
		for _, tt := range tests {
			t.Run(f.name+"/"+tt.name, func(t *testing.T) {
				set, err := rules.Compile(f.schema, md, tt.rules)
				if err != nil {
					t.Fatalf("Compile: %v", err)
				}
				o := goodOrder()
				o.Lines = [][2]any{{"A1", 1}, {"B2", 3}}
				if tt.edit != nil {
					tt.edit(&o)
				}
				fail, err := set.Check(nil, f.encode(t, o))
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				switch {
				case tt.action == "" && fail != nil:
					t.Fatalf("Check failed: %v (action %s)", fail, fail.Action)
				case tt.action != "" && fail == nil:
					t.Fatalf("Check passed, want %s", tt.action)
				case fail != nil:
					if fail.Action != tt.action || !strings.Contains(fail.Reason, tt.reason) {
						t.Fatalf("Check = %s %q, want %s containing %q", fail.Action, fail.Reason, tt.action, tt.reason)
					}
					if !strings.HasPrefix(fail.Error(), "rule \"") || !strings.Contains(fail.Error(), "failed: ") {
						t.Fatalf("Error() = %q", fail.Error())
					}
				}
			})
		}
	}
}

// TestCompileErrors: an expression that does not compile against the
// schema is a *CompileError quoting the compiler.
func TestCompileErrors(t *testing.T) {
	fs := formats(t)
	tests := []struct {
		name    string
		formats string // the formats that refuse it
		rule    string
		want    string
	}{
		{"syntax", "avro json protobuf", `{"name":"r","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.total >"}`, "Syntax error"},
		{"unknown variable", "avro json protobuf", `{"name":"r","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"msg.total > 0"}`, "undeclared reference to 'msg'"},
		{"unknown field", "avro protobuf", `{"name":"r","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.totl > 0.0"}`, "totl"},
		{"not a bool", "avro json protobuf", `{"name":"r","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"1 + 2"}`, "must be a bool"},
		{"empty", "avro json protobuf", `{"name":"r","kind":"CONDITION","mode":"WRITE","type":"CEL_FIELD","expr":""}`, "expr is empty"},
		{"proto type error", "protobuf", `{"name":"r","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.id > 3"}`, "no matching overload"},
	}
	for _, f := range fs {
		for _, tt := range tests {
			t.Run(f.name+"/"+tt.name, func(t *testing.T) {
				_, err := rules.Compile(f.schema, nil, ruleSet(tt.rule))
				if !strings.Contains(tt.formats, f.name) {
					if err != nil {
						t.Fatalf("Compile: %v, want success", err)
					}
					return
				}
				var ce *rules.CompileError
				if !errors.As(err, &ce) || ce.Rule != "r" || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Compile = %v, want a CompileError containing %q", err, tt.want)
				}
			})
		}
	}
	// Disabled rules are compiled neither.
	if _, err := rules.Compile(fs[0].schema, nil, ruleSet(`{"name":"r","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"(","disabled":true}`)); err != nil {
		t.Fatalf("disabled rule compiled: %v", err)
	}
}

// TestCheckGarbage: bytes that are not a datum of the schema are an error
// or a failure, never a panic.
func TestCheckGarbage(t *testing.T) {
	for _, f := range formats(t) {
		set, err := rules.Compile(f.schema, nil, ruleSet(`{"name":"r","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.total > 0.0"}`, `{"name":"f","kind":"CONDITION","mode":"WRITE","type":"CEL_FIELD","expr":"true"}`))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range [][]byte{nil, {0xff}, {0x02, 0x41}, []byte(`{"total":"x"}`), []byte(`[1,2]`)} {
			fail, err := set.Check(nil, b)
			if err == nil && fail == nil && f.name != "protobuf" {
				t.Errorf("%s: Check(%q) passed", f.name, b)
			}
		}
	}
}
