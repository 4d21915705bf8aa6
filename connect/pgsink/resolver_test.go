package pgsink

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"unsafe"

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
