package pgsink

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluicehq/sluice/serde/avro"
)

// FuzzKeyIdentity: a datum of every scalar column type, used as a key,
// has one identity whichever path decoded it: the binary COPY fields of
// the Avro transcoder, the direct decoder's values, or hamba/avro's
// values converted.
func FuzzKeyIdentity(f *testing.F) {
	s := avro.MustParse(avroFlat)
	sh, err := avroShape(s)
	if err != nil {
		f.Fatal(err)
	}
	cols, _ := columnsOf(sh, NestedFlatten, "id")
	data, _ := s.AppendEncode(nil, flatValue())
	f.Add(data)
	v := flatValue()
	v["addr"], v["color"], v["i"], v["d"] = nil, nil, nil, nil
	data, _ = s.AppendEncode(nil, v)
	f.Add(data)
	f.Fuzz(func(t *testing.T, b []byte) {
		vals, err := decodeAvroFast(sh, b, len(cols))
		if err != nil {
			return // not a datum of the schema
		}
		sink := &Sink{}
		id := func(d *datum) string {
			t.Helper()
			out, err := sink.appendKeyIdentity(nil, d)
			if err != nil {
				t.Fatal(err)
			}
			return string(out)
		}
		want := id(&datum{cols: cols, slow: &slowDatum{vals: vals}})
		enc, err := encodeAvroCopy(sh, b, nil)
		switch {
		case err == nil:
			if got := id(&datum{cols: cols, enc: enc}); got != want {
				t.Fatalf("from binary COPY fields:\n%q\nfrom values:\n%q", got, want)
			}
		case !errors.Is(err, errNoBinary):
			t.Fatalf("the transcoder refuses what the decoder takes: %v", err)
		}
		var hv any
		if err := s.Decode(b, &hv); err != nil {
			t.Fatalf("hamba: %v", err)
		}
		rec, err := fromAvroNative(sh, hv)
		if err != nil {
			t.Fatal(err)
		}
		if got := id(&datum{cols: cols, slow: &slowDatum{rec: rec}}); got != want {
			t.Fatalf("from hamba/avro's values:\n%q\nfrom the direct decoder's:\n%q", got, want)
		}
	})
}

// TestKeyIdentity: plan tells rows apart by appendKeyIdentity. A key's
// identity depends on its column names and values only: not on whether
// they come as binary COPY fields (the Avro transcoder, schemaless keys)
// or as decoded values (JSON Schema, Protobuf, slower Avro), on the key
// schema's column order, or on the width of an integer or float column.
// Keys of one class render alike; keys of different classes differ.
func TestKeyIdentity(t *testing.T) {
	field := func(b []byte) []byte { return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...) }
	be32 := func(n int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }
	be64 := func(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }
	null := []byte{0xff, 0xff, 0xff, 0xff}
	cols := func(nameTypes ...string) []column {
		var cs []column
		for i := 0; i < len(nameTypes); i += 2 {
			cs = append(cs, column{name: nameTypes[i], pgType: nameTypes[i+1]})
		}
		return cs
	}
	enc := func(cs []column, fields ...[]byte) *datum {
		return &datum{cols: cs, enc: bytes.Join(fields, nil)}
	}
	vals := func(cs []column, vs ...any) *datum { return &datum{cols: cs, slow: &slowDatum{vals: vs}} }
	numeric := func(n int64, exp int32) []byte {
		b, err := numericPlan.Encode(pgtype.Numeric{Int: big.NewInt(n), Exp: exp, Valid: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	day := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
	instant := time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC)
	keys := []struct {
		class, name string
		k           *datum
	}{
		{"text 7", "encoded", enc(cols("id", "text"), field([]byte("7")))},
		{"text 7", "values", vals(cols("id", "text"), "7")},
		{"text 7", "another schema's equal columns", enc(cols("id", "text"), field([]byte("7")))},
		{"text 7", "schemaless", &datum{cols: cols("id", "text"), enc: field([]byte("7")), slow: &slowDatum{rec: "7"}}},
		{"text 8", "encoded", enc(cols("id", "text"), field([]byte("8")))},
		{"text 8", "values", vals(cols("id", "text"), "8")},
		{"bytea 7", "encoded", enc(cols("id", "bytea"), field([]byte("7")))},
		{"bytea 7", "values", vals(cols("id", "bytea"), []byte("7"))},
		{"int 7", "integer encoded", enc(cols("id", "integer"), field(be32(7)))},
		{"int 7", "bigint encoded", enc(cols("id", "bigint"), field(be64(7)))},
		{"int 7", "integer values", vals(cols("id", "integer"), int32(7))},
		{"int 7", "bigint values", vals(cols("id", "bigint"), int64(7))},
		{"int -7", "integer encoded", enc(cols("id", "integer"), field(be32(-7)))},
		{"int -7", "bigint values", vals(cols("id", "bigint"), int64(-7))},
		{"text of int 7's bytes", "encoded", enc(cols("id", "text"), field(be64(7)))},
		{"other column", "encoded", enc(cols("k", "text"), field([]byte("7")))},
		{"two columns", "encoded", enc(cols("id", "text", "n", "bigint"), field([]byte("7")), field(be64(1)))},
		{"two columns", "the other order", enc(cols("n", "bigint", "id", "text"), field(be64(1)), field([]byte("7")))},
		{"two columns", "values", vals(cols("n", "integer", "id", "text"), int32(1), "7")},
		{"two columns, null", "encoded", enc(cols("id", "text", "n", "bigint"), field([]byte("7")), null)},
		{"two columns, null", "values", vals(cols("id", "text", "n", "bigint"), "7", nil)},
		{"float 1.5", "real encoded", enc(cols("x", "real"), field(be32(int32(math.Float32bits(1.5)))))},
		{"float 1.5", "double values", vals(cols("x", "double precision"), 1.5)},
		{"float 0", "double -0 encoded", enc(cols("x", "double precision"), field(be64(int64(math.Float64bits(math.Copysign(0, -1))))))},
		{"float 0", "real 0 values", vals(cols("x", "real"), float32(0))},
		{"true", "encoded", enc(cols("b", "boolean"), field([]byte{1}))},
		{"true", "values", vals(cols("b", "boolean"), true)},
		{"false", "values", vals(cols("b", "boolean"), false)},
		{"date", "encoded", enc(cols("d", "date"), field(be32(int32(day.Unix()/86400-pgEpochDays))))},
		{"date", "values", vals(cols("d", "date"), day)},
		{"timestamp", "encoded", enc(cols("d", "timestamp with time zone"), field(be64(instant.UnixMicro()-pgEpochMicros)))},
		{"timestamp", "values", vals(cols("d", "timestamp with time zone"), instant)},
		{"numeric 1.5", "encoded 1.50", enc(cols("m", "numeric(10,2)"), field(numeric(150, -2)))},
		{"numeric 1.5", "values 1.5", vals(cols("m", "numeric(10,1)"), pgtype.Numeric{Int: big.NewInt(15), Exp: -1, Valid: true})},
		{"numeric 1500", "values", vals(cols("m", "numeric"), pgtype.Numeric{Int: big.NewInt(15), Exp: 2, Valid: true})},
		{"numeric 1500", "encoded", enc(cols("m", "numeric"), field(numeric(1500, 0)))},
		{"jsonb", "values", vals(cols("j", "jsonb"), json.RawMessage(`{"a":1}`))},
	}
	s := &Sink{}
	byID := map[string]string{} // identity -> class
	buf := []byte("junk")
	for _, k := range keys {
		var err error
		buf, err = s.appendKeyIdentity(buf[:0], k.k) // a used buffer
		if err != nil {
			t.Fatalf("%s (%s): %v", k.class, k.name, err)
		}
		if c, ok := byID[string(buf)]; ok && c != k.class {
			t.Errorf("%s (%s) renders as %s does: %q", k.class, k.name, c, buf)
		}
		byID[string(buf)] = k.class
	}
	classes := map[string]int{}
	for _, k := range keys {
		classes[k.class]++
	}
	if len(byID) != len(classes) {
		for _, k := range keys {
			id, _ := s.appendKeyIdentity(nil, k.k)
			t.Logf("%s (%s): %q", k.class, k.name, id)
		}
		t.Errorf("%d identities for %d classes of keys", len(byID), len(classes))
	}
}

// TestKeyIdentityMalformedFields: encoded fields that are not the key's
// columns (too few, a width its type does not have) fall back to the
// key's values rather than failing or rendering another key's identity.
func TestKeyIdentityMalformedFields(t *testing.T) {
	cs := []column{{name: "id", pgType: "bigint"}}
	s := &Sink{}
	want, err := s.appendKeyIdentity(nil, &datum{cols: cs, slow: &slowDatum{vals: rowVals{int64(7)}}})
	if err != nil {
		t.Fatal(err)
	}
	for name, enc := range map[string][]byte{
		"short field":  {0, 0, 0, 4, 0, 0, 0, 7},
		"truncated":    {0, 0, 0, 8, 0},
		"extra bytes":  {0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7, 1},
		"empty fields": {},
	} {
		got, err := s.appendKeyIdentity(nil, &datum{cols: cs, enc: enc, slow: &slowDatum{vals: rowVals{int64(7)}}})
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: %q, %v; want the values' identity %q", name, got, err, want)
		}
	}
}
