package pgsink

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
)

// TestCopyStreamMatchesWholeStream: the binary COPY stream read a piece at
// a time (any read size, rows straddling reads, no rows at all) is byte for
// byte the stream laid out whole.
func TestCopyStreamMatchesWholeStream(t *testing.T) {
	const text = `{"type":"record","name":"Row","fields":[{"name":"id","type":"string"},{"name":"note","type":["null","string"]},{"name":"qty","type":"long"}]}`
	s := avro.MustParse(text)
	vdec, err := (&codec{nested: NestedFlatten, single: "value"}).Decoder(&client.WriterSchema{ID: 1, Format: serde.Avro, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	kdec, _ := (&codec{single: "id", raw: true}).Decoder(nil)
	for _, n := range []int{0, 1, 3, 500} {
		batch := make([]message, n)
		for i := range batch {
			note := any(nil)
			if i%2 == 0 {
				note = map[string]any{"string": fmt.Sprintf("note %d %s", i, bytes.Repeat([]byte("x"), i%300))}
			}
			raw, err := s.AppendEncode(nil, map[string]any{"id": fmt.Sprint("v", i), "note": note, "qty": int64(i)})
			if err != nil {
				t.Fatal(err)
			}
			kdec([]byte(fmt.Sprint("k", i)), &batch[i].Key)
			vdec(raw, &batch[i].Value)
		}
		sink := &Sink{cfg: Config{Mode: ModeInsert}}
		newResolver(newIntake(len(batch))).convert(batch)
		ops, bad := sink.plan(&batchBufs{msgs: batch})
		if len(bad) > 0 {
			t.Fatal(bad[0])
		}
		table := tableState{layouts: map[[2]*column]*layout{}}
		g := &group{}
		target := map[string]string{}
		for _, o := range ops {
			l := table.layoutOf(o.m.Key, o.m.Value)
			g.layout = l
			g.rows = append(g.rows, row{l: l, key: o.m.Key, val: o.m.Value})
		}
		if g.layout == nil {
			g.layout = &layout{}
		}
		for _, c := range g.cols {
			target[c.name] = c.pgType
		}
		whole, ok := binaryCopy(g, target, nil)
		if !ok {
			t.Fatalf("%d rows: no binary COPY", n)
		}
		for _, size := range []int{1, 7, 100, 65531} {
			st := &copyStream{g: g}
			var got []byte
			p := make([]byte, size)
			for {
				k, err := st.Read(p)
				got = append(got, p[:k]...)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, whole) {
				t.Fatalf("%d rows read %d bytes at a time: %d bytes, want %d", n, size, len(got), len(whole))
			}
		}
	}
}
