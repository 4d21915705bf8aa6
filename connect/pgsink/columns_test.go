package pgsink

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/serde/protobuf"
)

// show renders columns and values as "name type = value" lines.
func show(d *datum) string {
	var b strings.Builder
	vals, err := d.values()
	if err != nil {
		return "error: " + err.Error()
	}
	for i, c := range d.cols {
		v := vals[i]
		switch x := v.(type) {
		case json.RawMessage:
			v = string(x)
		case time.Time:
			v = x.UTC().Format(time.RFC3339Nano)
		case pgtype.Numeric:
			f, _ := x.Value()
			v = f
		case []byte:
			v = fmt.Sprintf("0x%x", x)
		}
		fmt.Fprintf(&b, "%s %s = %v (%T)\n", c.name, c.pgType, v, vals[i])
	}
	return b.String()
}

func decode(t *testing.T, c *codec, ws *client.WriterSchema, raw []byte) *datum {
	t.Helper()
	dec, err := c.Decoder(ws)
	if err != nil {
		t.Fatal(err)
	}
	var d *datum
	if err := dec(raw, &d); err != nil {
		t.Fatal(err)
	}
	if err := d.resolve(&arena{}); err != nil {
		t.Fatal(err)
	}
	return d
}

const avroAll = `{"type":"record","name":"All","namespace":"t","fields":[
 {"name":"b","type":"boolean"},
 {"name":"i","type":"int"},
 {"name":"l","type":"long"},
 {"name":"f","type":"float"},
 {"name":"d","type":"double"},
 {"name":"s","type":["null","string"]},
 {"name":"by","type":"bytes"},
 {"name":"day","type":{"type":"int","logicalType":"date"}},
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-micros"}},
 {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
 {"name":"color","type":{"type":"enum","name":"Color","symbols":["RED","BLUE"]}},
 {"name":"fx","type":{"type":"fixed","name":"F2","size":2}},
 {"name":"addr","type":["null",{"type":"record","name":"Addr","fields":[
   {"name":"city","type":"string"},
   {"name":"geo","type":{"type":"record","name":"Geo","fields":[{"name":"lat","type":"double"}]}}]}]},
 {"name":"tags","type":{"type":"array","items":"string"}},
 {"name":"attrs","type":{"type":"map","values":["null","long"]}},
 {"name":"either","type":["long","string"]}]}`

func TestAvroColumns(t *testing.T) {
	s := avro.MustParse(avroAll)
	val := map[string]any{
		"b": true, "i": 7, "l": int64(1) << 40, "f": float32(1.5), "d": 2.25, "s": "hi",
		"by": []byte{1, 2}, "day": time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
		"ts":     time.Date(2024, 2, 29, 10, 11, 12, 123456000, time.UTC),
		"amount": big.NewRat(-12345, 100), "color": "BLUE", "fx": [2]byte{0xab, 0xcd},
		"addr": map[string]any{"t.Addr": map[string]any{"city": "Lyon", "geo": map[string]any{"lat": 45.75}}},
		"tags": []any{"x", "y"}, "attrs": map[string]any{"n": int64(3)}, "either": "str",
	}
	data, err := s.AppendEncode(nil, val)
	if err != nil {
		t.Fatal(err)
	}
	ws := &client.WriterSchema{ID: 9, Format: serde.Avro, Text: avroAll}
	for _, tt := range []struct{ nested, want string }{
		{NestedFlatten, `b boolean = true (bool)
i integer = 7 (int32)
l bigint = 1099511627776 (int64)
f real = 1.5 (float32)
d double precision = 2.25 (float64)
s text = hi (string)
by bytea = 0x0102 ([]uint8)
day date = 2024-02-29T00:00:00Z (time.Time)
ts timestamp with time zone = 2024-02-29T10:11:12.123456Z (time.Time)
amount numeric(9,2) = -123.45 (pgtype.Numeric)
color text = BLUE (string)
fx bytea = 0xabcd ([]uint8)
addr_city text = Lyon (string)
addr_geo_lat double precision = 45.75 (float64)
tags jsonb = ["x","y"] (json.RawMessage)
attrs jsonb = {"n":3} (json.RawMessage)
either jsonb = "str" (json.RawMessage)
`},
		{NestedJSONB, `addr jsonb = {"city":"Lyon","geo":{"lat":45.75}} (json.RawMessage)`},
	} {
		d := decode(t, &codec{nested: tt.nested, single: "value"}, ws, data)
		got := show(d)
		if tt.nested == NestedFlatten && got != tt.want || !strings.Contains(got, tt.want) {
			t.Errorf("nested %s:\n%s\nwant:\n%s", tt.nested, got, tt.want)
		}
	}
	// A null nested record: its flattened columns are null.
	val["addr"] = nil
	data, _ = s.AppendEncode(nil, val)
	got := show(decode(t, &codec{nested: NestedFlatten, single: "value"}, ws, data))
	if !strings.Contains(got, "addr_city text = <nil>") || !strings.Contains(got, "addr_geo_lat double precision = <nil>") {
		t.Errorf("null record:\n%s", got)
	}
}

func TestColumnCollision(t *testing.T) {
	s := avro.MustParse(`{"type":"record","name":"R","fields":[{"name":"a_b","type":"int"},{"name":"a","type":{"type":"record","name":"A","fields":[{"name":"b","type":"int"}]}}]}`)
	sh, err := avroShape(s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := columnsOf(sh, NestedFlatten, "value"); err == nil || !strings.Contains(err.Error(), `fields a_b and a.b both map to column "a_b"`) {
		t.Fatalf("err %v", err)
	}
	if _, err := columnsOf(sh, NestedJSONB, "value"); err != nil {
		t.Fatalf("jsonb: %v", err)
	}
}

const jsonAll = `{"type":"object","title":"J","properties":{
 "n":{"type":"integer"},"x":{"type":["number","null"]},"s":{"type":"string"},"ok":{"type":"boolean"},
 "addr":{"$ref":"#/$defs/addr"},
 "list":{"type":"array","items":{"type":"string"}},
 "free":{}},
 "$defs":{"addr":{"type":"object","properties":{"city":{"type":"string"}}}}}`

func TestJSONSchemaColumns(t *testing.T) {
	ws := &client.WriterSchema{ID: 3, Format: serde.JSON, Text: jsonAll}
	d := decode(t, &codec{nested: NestedFlatten, single: "value"}, ws, []byte(`{"n":12345678901,"x":null,"s":"é","ok":false,"addr":{"city":"Nice"},"list":["a"],"free":{"k":[1]}}`))
	want := `n bigint = 12345678901 (int64)
x double precision = <nil> (<nil>)
s text = é (string)
ok boolean = false (bool)
addr_city text = Nice (string)
list jsonb = ["a"] (json.RawMessage)
free jsonb = {"k":[1]} (json.RawMessage)
`
	if got := show(d); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

const protoAll = `syntax = "proto3";
package t;
import "google/protobuf/timestamp.proto";
message Other { string x = 1; }
message Order {
  string id = 1;
  int32 qty = 2;
  uint64 big = 3;
  Status status = 4;
  Customer customer = 5;
  repeated string tags = 6;
  google.protobuf.Timestamp at = 7;
  optional double discount = 8;
  bytes raw = 9;
  message Customer { string name = 1; int64 since = 2; }
  enum Status { NEW = 0; PAID = 1; }
}`

func TestProtobufColumns(t *testing.T) {
	s, err := protobuf.Parse(protoAll, nil)
	if err != nil {
		t.Fatal(err)
	}
	md, err := s.MessageByIndexes([]int{1})
	if err != nil {
		t.Fatal(err)
	}
	m := dynamicpb.NewMessage(md)
	fs := md.Fields()
	set := func(name string, v any) {
		fd := fs.ByName(protoName(name))
		m.Set(fd, protoValue(fd, v))
	}
	set("id", "o-1")
	set("qty", int32(3))
	set("big", uint64(1)<<63)
	set("status", int32(1))
	cust := dynamicpb.NewMessage(fs.ByName("customer").Message())
	cust.Set(cust.Descriptor().Fields().ByName("name"), protoValue(nil, "ada"))
	m.Set(fs.ByName("customer"), protoValue(nil, cust))
	tags := m.Mutable(fs.ByName("tags")).List()
	tags.Append(protoValue(nil, "a"))
	ts := dynamicpb.NewMessage(fs.ByName("at").Message())
	ts.Set(ts.Descriptor().Fields().ByName("seconds"), protoValue(nil, int64(1700000000)))
	m.Set(fs.ByName("at"), protoValue(nil, ts))
	set("raw", []byte{9})
	body, err := protobuf.AppendEncode(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	raw := append(serde.AppendIndexes(nil, []int{1}), body...)
	ws := &client.WriterSchema{ID: 4, Format: serde.Protobuf, Text: protoAll}
	got := show(decode(t, &codec{nested: NestedFlatten, single: "value"}, ws, raw))
	want := `id text = o-1 (string)
qty integer = 3 (int32)
big numeric(20,0) = 9223372036854775808 (pgtype.Numeric)
status text = PAID (string)
customer_name text = ada (string)
customer_since bigint = 0 (int64)
tags jsonb = ["a"] (json.RawMessage)
at timestamp with time zone = 2023-11-14T22:13:20Z (time.Time)
discount double precision = <nil> (<nil>)
raw bytea = 0x09 ([]uint8)
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
