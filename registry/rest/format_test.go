package rest_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/registry/rest"
)

// Protobuf schemas of the format tests: an order that imports a money type
// from another subject and a well-known type.
const (
	moneyProto = `syntax = "proto3";
package acme.common;

// Money is an amount in a currency.
message Money {
  string currency = 1;
  int64 units = 2;
}
`
	orderProto = `syntax = "proto3";
package acme.shop;

import "acme/common/money.proto";
import "google/protobuf/timestamp.proto";

message Order {
  string id = 1;
  acme.common.Money total = 2;
  google.protobuf.Timestamp placed_at = 3;
  repeated Line lines = 4;
  message Line {
    string sku = 1;
    int32 qty = 2;
  }
}
`
	moneyRef = `"references":[{"name":"acme/common/money.proto","subject":"money-value","version":1}]`
)

// schemaMember is the subset of a Confluent schema answer the format tests
// read.
type schemaMember struct {
	ID         int    `json:"id"`
	GUID       string `json:"guid"`
	Schema     string `json:"schema"`
	References []struct {
		Name    string `json:"name"`
		Subject string `json:"subject"`
		Version int    `json:"version"`
	} `json:"references"`
}

// registerOrder registers moneyProto and orderProto (referencing it) and
// returns the order's registration answer.
func registerOrder(t *testing.T, s *testServer) schemaMember {
	t.Helper()
	var money, order schemaMember
	decode(t, s.do(t, "POST", "/subjects/money-value/versions", schemaBody(moneyProto, `"schemaType":"PROTOBUF"`)), &money)
	decode(t, s.do(t, "POST", "/subjects/orders-value/versions", schemaBody(orderProto, `"schemaType":"PROTOBUF"`, `"metadata":{"properties":{"owner":"shop"}}`, moneyRef)), &order)
	return order
}

// decodeSerialized decodes format=serialized text as Confluent's clients
// do: standard base64 of a google.protobuf.FileDescriptorProto.
func decodeSerialized(t *testing.T, text string) *descriptorpb.FileDescriptorProto {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		t.Fatalf("not standard base64: %v: %.80q", err, text)
	}
	fdp := &descriptorpb.FileDescriptorProto{}
	if err := proto.Unmarshal(b, fdp); err != nil {
		t.Fatalf("not a FileDescriptorProto: %v", err)
	}
	return fdp
}

// protocompileFile compiles text with refs (import path -> text) straight
// through protocompile, as the independent reference for the descriptor.
func protocompileFile(t *testing.T, text string, refs map[string]string) *descriptorpb.FileDescriptorProto {
	t.Helper()
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(protocompile.ResolverFunc(func(p string) (protocompile.SearchResult, error) {
		if p == "main.proto" {
			return protocompile.SearchResult{Source: strings.NewReader(text)}, nil
		}
		if src, ok := refs[p]; ok {
			return protocompile.SearchResult{Source: strings.NewReader(src)}, nil
		}
		return protocompile.SearchResult{}, fs.ErrNotExist
	}))}
	files, err := c.Compile(context.Background(), "main.proto")
	if err != nil {
		t.Fatalf("protocompile: %v", err)
	}
	fdp := proto.Clone(files[0].(linker.Result).FileDescriptorProto()).(*descriptorpb.FileDescriptorProto)
	fdp.SourceCodeInfo = nil
	return fdp
}

// TestFormatSerialized checks format=serialized on every endpoint that
// Confluent gives it: the answer is the base64 FileDescriptorProto of the
// schema, named "default" as Confluent names it, with the reference names as
// dependencies, equal to what protocompile makes of the schema; the guid
// stays that of the stored content.
func TestFormatSerialized(t *testing.T) {
	s := newServer(t, registry.Config{}, rest.Config{})
	order := registerOrder(t, s)

	var stored schemaMember
	decode(t, s.do(t, "GET", fmt.Sprintf("/schemas/ids/%d", order.ID), ""), &stored)
	refs := map[string]string{"acme/common/money.proto": moneyProto}
	registered := protocompileFile(t, orderProto, refs)
	if !proto.Equal(protocompileFile(t, stored.Schema, refs), registered) {
		t.Fatalf("the stored text compiles to another descriptor than the registered text")
	}
	want := proto.Clone(registered).(*descriptorpb.FileDescriptorProto)
	want.Name = proto.String("default")

	body := schemaBody(orderProto, `"schemaType":"PROTOBUF"`, `"metadata":{"properties":{"owner":"shop"}}`, moneyRef)
	requests := []struct{ method, path, body string }{
		{"GET", fmt.Sprintf("/schemas/ids/%d?format=serialized", order.ID), ""},
		{"GET", fmt.Sprintf("/schemas/ids/%d?format=SERIALIZED&subject=orders-value", order.ID), ""},
		{"GET", "/schemas/guids/" + order.GUID + "?format=serialized", ""},
		{"GET", "/subjects/orders-value/versions/1?format=serialized", ""},
		{"GET", "/subjects/orders-value/versions/latest?format=serialized", ""},
		{"GET", "/subjects/orders-value/metadata?key=owner&value=shop&format=serialized", ""},
		{"POST", "/subjects/orders-value?format=serialized", body},
		{"POST", "/subjects/orders-value/versions?format=serialized", body},
	}
	for _, rq := range requests {
		var got schemaMember
		decode(t, s.do(t, rq.method, rq.path, rq.body), &got)
		if got.GUID != order.GUID {
			t.Errorf("%s %s: guid %q, want that of the stored content %q", rq.method, rq.path, got.GUID, order.GUID)
		}
		if d := cmp.Diff(want, decodeSerialized(t, got.Schema), protocmp.Transform()); d != "" {
			t.Errorf("%s %s: descriptor differs from protocompile's (-want +got):\n%s", rq.method, rq.path, d)
		}
	}
	for _, path := range []string{
		fmt.Sprintf("/schemas/ids/%d/schema?format=serialized", order.ID),
		"/subjects/orders-value/versions/1/schema?format=serialized",
	} {
		resp := s.do(t, "GET", path, "")
		if resp.Status != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.Status, resp.Body)
		}
		if d := cmp.Diff(want, decodeSerialized(t, resp.Body), protocmp.Transform()); d != "" {
			t.Errorf("GET %s: descriptor differs from protocompile's (-want +got):\n%s", path, d)
		}
	}
}

// TestFormatSerializedClient decodes a record the way Confluent's Protobuf
// deserializers do (confluent-kafka-python's ProtobufDeserializer: the
// writer schema by id with format=serialized, each reference by subject and
// version with format=serialized added to a descriptor pool under its
// reference name, the schema itself under "default", then the message at
// the record's message indexes).
func TestFormatSerializedClient(t *testing.T) {
	s := newServer(t, registry.Config{}, rest.Config{})
	order := registerOrder(t, s)

	var writer schemaMember
	decode(t, s.do(t, "GET", fmt.Sprintf("/schemas/ids/%d?format=serialized", order.ID), ""), &writer)
	pool := &protoregistry.Files{}
	ts, err := protoregistry.GlobalFiles.FindFileByPath("google/protobuf/timestamp.proto")
	if err != nil {
		t.Fatal(err)
	}
	if err := pool.RegisterFile(ts); err != nil {
		t.Fatal(err)
	}
	add := func(name, serialized string) protoreflect.FileDescriptor {
		t.Helper()
		fdp := decodeSerialized(t, serialized)
		fdp.Name = proto.String(name)
		fd, err := protodesc.NewFile(fdp, pool)
		if err != nil {
			t.Fatalf("pool.Add(%s): %v", name, err)
		}
		if err := pool.RegisterFile(fd); err != nil {
			t.Fatal(err)
		}
		return fd
	}
	if len(writer.References) != 1 {
		t.Fatalf("references %+v, want one", writer.References)
	}
	for _, ref := range writer.References {
		var dep schemaMember
		decode(t, s.do(t, "GET", fmt.Sprintf("/subjects/%s/versions/%d?deleted=true&format=serialized", url.PathEscape(ref.Subject), ref.Version), ""), &dep)
		add(ref.Name, dep.Schema)
	}
	file := add("default", writer.Schema)

	// The producer's record: message indexes [0, 0] are Order.Line, the
	// first nested message of the first message.
	line := file.Messages().Get(0).Messages().Get(0)
	if line.FullName() != "acme.shop.Order.Line" {
		t.Fatalf("message at indexes [0 0] is %s, want acme.shop.Order.Line", line.FullName())
	}
	payload := []byte{0x0a, 0x03, 'a', 'b', 'c', 0x10, 0x07} // sku "abc", qty 7
	m := dynamicpb.NewMessage(line)
	if err := proto.Unmarshal(payload, m); err != nil {
		t.Fatal(err)
	}
	if sku, qty := m.Get(line.Fields().ByName("sku")).String(), m.Get(line.Fields().ByName("qty")).Int(); sku != "abc" || qty != 7 {
		t.Errorf("decoded sku %q qty %d, want abc 7", sku, qty)
	}
	total := file.Messages().Get(0).Fields().ByName("total")
	if total.Message().FullName() != "acme.common.Money" || total.Message().ParentFile().Path() != "acme/common/money.proto" {
		t.Errorf("total is %s from %s, want acme.common.Money from the reference", total.Message().FullName(), total.Message().ParentFile().Path())
	}
}

// TestFormatPerType checks the other formats, each type's own and the
// rules for the rest: ignore_extensions (Protobuf), resolved (Avro), and a
// format a type does not have (or no one has) answering the stored text, as
// Confluent's formattedString does.
func TestFormatPerType(t *testing.T) {
	s := newServer(t, registry.Config{}, rest.Config{})
	order := registerOrder(t, s)
	var withExt, addr, cust, doc schemaMember
	decode(t, s.do(t, "POST", "/subjects/ext-value/versions", schemaBody(`syntax = "proto2";
package acme;
import "google/protobuf/descriptor.proto";
extend google.protobuf.FieldOptions {
  optional int32 weight = 50002;
}
message Item {
  optional string id = 1 [(weight) = 3];
  extensions 100 to 199;
}
`, `"schemaType":"PROTOBUF"`)), &withExt)
	decode(t, s.do(t, "POST", "/subjects/address-value/versions", schemaBody(address)), &addr)
	decode(t, s.do(t, "POST", "/subjects/customer-value/versions", schemaBody(customer, `"references":[{"name":"com.acme.Address","subject":"address-value","version":1}]`)), &cust)
	decode(t, s.do(t, "POST", "/subjects/doc-value/versions", schemaBody(jsonDoc, `"schemaType":"JSON"`)), &doc)
	stored := func(id int) string {
		var m schemaMember
		decode(t, s.do(t, "GET", fmt.Sprintf("/schemas/ids/%d", id), ""), &m)
		return m.Schema
	}

	cases := []struct {
		name string
		id   int
		path string // query, after the id
		want string
	}{
		{"protobuf ignore_extensions", withExt.ID, "?format=ignore_extensions", "syntax = \"proto2\";\n\npackage acme;\n\nimport \"google/protobuf/descriptor.proto\";\n\nmessage Item {\n  optional string id = 1;\n}\n"},
		{"protobuf default", order.ID, "?format=default", stored(order.ID)},
		{"protobuf resolved is Avro's", order.ID, "?format=resolved", stored(order.ID)},
		{"protobuf unknown", order.ID, "?format=nope", stored(order.ID)},
		{"protobuf blank", order.ID, "?format=%20", stored(order.ID)},
		{"avro resolved", cust.ID, "?format=RESOLVED", `{"type":"record","name":"Customer","namespace":"com.acme","fields":[{"name":"home","type":{"type":"record","name":"Address","fields":[{"name":"street","type":"string"}]}}]}`},
		{"avro without references resolved", addr.ID, "?format=resolved", stored(addr.ID)},
		{"avro serialized is Protobuf's", cust.ID, "?format=serialized", stored(cust.ID)},
		{"avro logical is not supported", cust.ID, "?format=logical", stored(cust.ID)},
		{"json has no format", doc.ID, "?format=serialized", stored(doc.ID)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got schemaMember
			decode(t, s.do(t, "GET", fmt.Sprintf("/schemas/ids/%d%s", tc.id, tc.path), ""), &got)
			if got.Schema != tc.want {
				t.Errorf("schema\n%s\nwant\n%s", got.Schema, tc.want)
			}
			raw := s.do(t, "GET", fmt.Sprintf("/schemas/ids/%d/schema%s", tc.id, tc.path), "")
			if raw.Status != 200 || raw.Body != tc.want {
				t.Errorf("/schema: %d %s, want the same text", raw.Status, raw.Body)
			}
		})
	}
	if stored(cust.ID) == cases[5].want {
		t.Fatal("the stored Avro text already inlines its reference; the resolved case proves nothing")
	}
}
