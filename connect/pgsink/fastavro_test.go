package pgsink

import (
	"math/big"
	"testing"
	"time"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
)

const avroFlat = `{"type":"record","name":"Flat","namespace":"t","fields":[
 {"name":"b","type":"boolean"},
 {"name":"i","type":["int","null"]},
 {"name":"l","type":"long"},
 {"name":"f","type":"float"},
 {"name":"d","type":["null","double"]},
 {"name":"s","type":"string"},
 {"name":"by","type":"bytes"},
 {"name":"day","type":{"type":"int","logicalType":"date"}},
 {"name":"ms","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"us","type":{"type":"long","logicalType":"timestamp-micros"}},
 {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
 {"name":"famount","type":{"type":"fixed","name":"FD","size":4,"logicalType":"decimal","precision":8,"scale":3}},
 {"name":"color","type":["null",{"type":"enum","name":"Color","symbols":["RED","BLUE"]}]},
 {"name":"fx","type":{"type":"fixed","name":"F2","size":2}},
 {"name":"addr","type":["null",{"type":"record","name":"Addr","fields":[
   {"name":"city","type":"string"},{"name":"zip","type":["null","int"]}]}]},
 {"name":"one","type":["string"]}]}`

func flatValue() map[string]any {
	return map[string]any{
		"b": true, "i": map[string]any{"int": 7}, "l": int64(-1) << 40, "f": float32(-1.5), "d": map[string]any{"double": 2.25},
		"s": "héllo", "by": []byte{0, 255}, "day": time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC),
		"ms": time.Date(2024, 2, 29, 10, 11, 12, 123000000, time.UTC), "us": time.Date(2024, 2, 29, 10, 11, 12, 123456000, time.UTC),
		"amount": big.NewRat(-12345, 100), "famount": big.NewRat(123456, 1000), "color": map[string]any{"t.Color": "BLUE"},
		"fx": [2]byte{0xab, 0xcd}, "addr": map[string]any{"t.Addr": map[string]any{"city": "Lyon", "zip": nil}},
		"one": map[string]any{"string": "x"},
	}
}

// TestAvroFastMatchesHamba: the direct decoder gives the values the
// hamba/avro path gives.
func TestAvroFastMatchesHamba(t *testing.T) {
	s := avro.MustParse(avroFlat)
	sh, err := avroShape(s)
	if err != nil {
		t.Fatal(err)
	}
	if !fastAvroOK(sh) {
		t.Fatal("the flat schema should decode directly")
	}
	ws := &client.WriterSchema{ID: 1, Format: serde.Avro, Text: avroFlat}
	for _, tweak := range []func(map[string]any){
		func(map[string]any) {},
		func(v map[string]any) { v["addr"], v["color"], v["i"], v["d"] = nil, nil, nil, nil },
	} {
		v := flatValue()
		tweak(v)
		data, err := s.AppendEncode(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		fast := show(decode(t, &codec{nested: NestedFlatten, single: "value"}, ws, data))
		slow := show(decode(t, &codec{nested: NestedJSONB, single: "value"}, ws, data))
		// The jsonb codec takes the hamba path; compare all but addr.
		var hv any
		if err := s.Decode(data, &hv); err != nil {
			t.Fatal(err)
		}
		rec, err := fromAvroNative(sh, hv)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := columnsOf(sh, NestedFlatten, "value")
		viaHamba := show(&datum{cols: cols, slow: &slowDatum{rec: rec}})
		if fast != viaHamba {
			t.Errorf("direct:\n%s\nhamba:\n%s", fast, viaHamba)
		}
		_ = slow
	}
}

// FuzzAvroFast: on any bytes the direct decoder accepts exactly what
// serde/avro's validation accepts, and then agrees with hamba/avro; the
// binary COPY transcoder agrees with both and with pgx (checkAvroCopy).
func FuzzAvroFast(f *testing.F) {
	s := avro.MustParse(avroFlat)
	sh, err := avroShape(s)
	if err != nil {
		f.Fatal(err)
	}
	cols, _ := columnsOf(sh, NestedFlatten, "value")
	data, _ := s.AppendEncode(nil, flatValue())
	f.Add(data)
	v := flatValue()
	v["addr"], v["color"] = nil, nil
	data, _ = s.AppendEncode(nil, v)
	f.Add(data)
	f.Fuzz(func(t *testing.T, b []byte) {
		checkAvroCopy(t, sh, cols, b)
		vals, ferr := decodeAvroFast(sh, b, len(cols))
		verr := s.ValidateDatum(b)
		if (ferr == nil) != (verr == nil) {
			t.Fatalf("direct decoder: %v; validation: %v", ferr, verr)
		}
		if ferr != nil {
			return
		}
		var hv any
		if err := s.Decode(b, &hv); err != nil {
			t.Fatalf("hamba: %v", err)
		}
		rec, err := fromAvroNative(sh, hv)
		if err != nil {
			t.Fatal(err)
		}
		if a, b := show(&datum{cols: cols, slow: &slowDatum{vals: vals}}), show(&datum{cols: cols, slow: &slowDatum{rec: rec}}); a != b {
			t.Fatalf("direct:\n%s\nhamba:\n%s", a, b)
		}
	})
}
