package rules_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluicehq/sluice/rules"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/protobuf"
)

// validateProtoRef is buf/validate/validate.proto as a producer registers
// it: a reference.
func validateProtoRef(t testing.TB) serde.Referenced {
	t.Helper()
	b, err := proto.Marshal(protodesc.ToFileDescriptorProto(validate.File_buf_validate_validate_proto))
	if err != nil {
		t.Fatal(err)
	}
	// Confluent's base64 descriptor form, printed back as .proto text as
	// the registry stores it.
	s, err := protobuf.Parse(base64.StdEncoding.EncodeToString(b), nil)
	if err != nil {
		t.Fatal(err)
	}
	return serde.Referenced{Name: "buf/validate/validate.proto", Text: s.Canonical()}
}

const validatedProto = `syntax = "proto3";
package shop;
import "buf/validate/validate.proto";
message Signup {
  string email = 1 [(buf.validate.field).string.email = true];
  int32 age = 2 [(buf.validate.field).int32 = {gte: 18, lt: 150}];
  repeated string tags = 3 [(buf.validate.field).repeated.items.string.min_len = 2];
  option (buf.validate.message).cel = {id: "adult_tags", message: "adults need a tag", expression: "this.age < 21 || size(this.tags) > 0"};
}
`

// TestProtovalidate: buf.validate annotations of a registered Protobuf
// schema (field rules, nested item rules, message CEL) refuse records
// with the rule id and the field.
func TestProtovalidate(t *testing.T) {
	s, err := protobuf.Parse(validatedProto, []serde.Referenced{validateProtoRef(t)})
	if err != nil {
		t.Fatal(err)
	}
	pv, err := rules.NewProtovalidator(s)
	if err != nil {
		t.Fatal(err)
	}
	md, _ := s.MessageByIndexes([]int{0})
	enc := func(email string, age int32, tags ...string) []byte {
		m := dynamicpb.NewMessage(md)
		f := md.Fields()
		m.Set(f.ByName("email"), protoreflect.ValueOfString(email))
		m.Set(f.ByName("age"), protoreflect.ValueOfInt32(age))
		l := m.Mutable(f.ByName("tags")).List()
		for _, tg := range tags {
			l.Append(protoreflect.ValueOfString(tg))
		}
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name       string
		datum      []byte
		rule, want string // "" passes
	}{
		{"valid", enc("ann@example.com", 30, "vip"), "", ""},
		{"email", enc("not-an-email", 30, "vip"), "string.email", "email: "},
		{"age", enc("ann@example.com", 12), "int32.gte_lt", "age: "},
		{"item", enc("ann@example.com", 30, "x"), "string.min_len", "tags[0]: "},
		{"message cel", enc("ann@example.com", 30), "adult_tags", "adults need a tag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := pv.Check(nil, tt.datum)
			if err != nil {
				t.Fatal(err)
			}
			if tt.rule == "" {
				if f != nil {
					t.Fatalf("refused: %v", f)
				}
				return
			}
			if f == nil || f.Rule != tt.rule || f.Type != rules.TypeProtovalidate || f.Action != rules.ActionError || !strings.Contains(f.Reason, tt.want) {
				t.Fatalf("Check = %+v, want rule %s with %q", f, tt.rule, tt.want)
			}
			if !strings.HasPrefix(f.Error(), `rule "`+tt.rule+`" (buf.validate) failed: `) {
				t.Fatalf("Error() = %q", f.Error())
			}
		})
	}
	if _, err := pv.Check(nil, []byte{0xff}); err == nil {
		t.Fatal("garbage accepted")
	}
}
