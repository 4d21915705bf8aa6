package pgsink

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
)

// TestResolverConvertsAndHandsChunksBack: records put through a resolver
// arrive converted (encoded columns set; a conversion error in the
// record's Err, which plan reports as a bad record), and each arena chunk
// goes with a batch holding the last record encoded in it: no record of a
// later batch uses a chunk of an earlier one, which is reused once that
// earlier batch is written.
func TestResolverConvertsAndHandsChunksBack(t *testing.T) {
	const text = `{"type":"record","name":"Row","fields":[{"name":"id","type":"string"},{"name":"qty","type":"long"}]}`
	s := avro.MustParse(text)
	vdec, err := (&codec{nested: NestedFlatten, single: "value"}).Decoder(&client.WriterSchema{ID: 1, Format: serde.Avro, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	kdec, _ := (&codec{single: "id", raw: true}).Decoder(nil)
	in := newIntake(2000)
	r := newResolver(in)
	ctx := context.Background()
	const perPut, puts = 700, 5 // 3500 records of about 70 encoded bytes: several chunks
	taken := make(chan *batchBufs, 10)
	takers := 0
	for p := range puts {
		ms := make([]message, perPut)
		for i := range ms {
			n := p*perPut + i
			raw, err := s.AppendEncode(nil, map[string]any{"id": fmt.Sprintf("v%d-%s", n, strings.Repeat("x", 40)), "qty": int64(n)})
			if err != nil {
				t.Fatal(err)
			}
			if n == 1234 {
				raw = raw[:len(raw)-1] // cut short: a conversion error
			}
			ms[i].Offset = int64(n)
			kdec([]byte(fmt.Sprint("k", n)), &ms[i].Key)
			vdec(raw, &ms[i].Value)
		}
		if in.len()+perPut > 2000 {
			// Make room as the sink's filler would (put waits for it).
			takers++
			go func() { <-in.ready; taken <- in.take() }()
		}
		if err := r.put(ctx, ms); err != nil {
			t.Fatal(err)
		}
	}
	var batches []*batchBufs
	for range takers {
		batches = append(batches, <-taken)
	}
	batches = append(batches, in.take())
	total := 0
	inChunk := func(enc, chunk []byte) bool {
		p, c := uintptr(unsafe.Pointer(unsafe.SliceData(enc))), uintptr(unsafe.Pointer(unsafe.SliceData(chunk[:1])))
		return p >= c && p < c+uintptr(cap(chunk))
	}
	for bi, b := range batches {
		for i, m := range b.msgs {
			if int(m.Offset) != total+i {
				t.Fatalf("batch %d record %d has offset %d", bi, i, m.Offset)
			}
			if m.Offset == 1234 {
				if m.Err == nil || !strings.HasPrefix(m.Err.Error(), "value: ") {
					t.Fatalf("record 1234 (cut short) has error %v, want its conversion error", m.Err)
				}
				continue
			}
			if m.Value.enc == nil || m.Err != nil {
				t.Fatalf("record %d not converted (error %v)", m.Offset, m.Err)
			}
		}
		total += len(b.msgs)
		for _, c := range b.arenas {
			for _, later := range batches[bi+1:] {
				for _, m := range later.msgs {
					if m.Value.enc != nil && inChunk(m.Value.enc, c) {
						t.Fatalf("record %d (a later batch) is in a chunk of batch %d", m.Offset, bi)
					}
				}
			}
		}
		sink := &Sink{cfg: Config{Mode: ModeInsert}}
		ops, bad := sink.plan(b)
		wantBad := 0
		if 1234 >= int(b.msgs[0].Offset) && 1234 <= int(b.msgs[len(b.msgs)-1].Offset) {
			wantBad = 1
			if len(bad) != 1 || bad[0].m.Offset != 1234 || !strings.HasPrefix(bad[0].reason, "value: ") {
				t.Fatalf("batch %d: bad records %v, want offset 1234's conversion error", bi, bad)
			}
		}
		if len(ops)+wantBad != len(b.msgs) || len(bad) != wantBad {
			t.Fatalf("batch %d: %d ops and %d bad of %d records", bi, len(ops), len(bad), len(b.msgs))
		}
	}
	if total != perPut*puts || len(batches) < 2 {
		t.Fatalf("%d records in %d batches", total, len(batches))
	}
	chunks := 0
	for _, b := range batches {
		chunks += len(b.arenas)
		in.recycle(b)
	}
	if chunks == 0 || len(in.chunks) != chunks {
		t.Fatalf("%d chunks went with the batches, %d came back", chunks, len(in.chunks))
	}
}

// TestDatumSize: two datums per record are allocated; what only the slower
// paths need stays out of them.
func TestDatumSize(t *testing.T) {
	if n := unsafe.Sizeof(datum{}); n > 88 {
		t.Errorf("a datum takes %d bytes, want at most 88", n)
	}
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
