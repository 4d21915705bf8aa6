package pgsink

import (
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
)

// BenchmarkPlan measures the sink's work per record outside PostgreSQL:
// converting the key and value of a batch and laying out its rows as the
// binary COPY stream.
func BenchmarkPlan(b *testing.B) {
	const text = `{"type":"record","name":"Row","fields":[{"name":"id","type":"string"},{"name":"customer","type":"string"},
 {"name":"total","type":"double"},{"name":"qty","type":"long"},{"name":"city","type":"string"}]}`
	s := avro.MustParse(text)
	vdec, err := (&codec{nested: NestedFlatten, single: "value"}).Decoder(&client.WriterSchema{ID: 1, Format: serde.Avro, Text: text})
	if err != nil {
		b.Fatal(err)
	}
	kdec, _ := (&codec{single: "id", raw: true}).Decoder(nil)
	const n = 10000
	raws := make([][]byte, n)
	for i := range raws {
		raws[i], _ = s.AppendEncode(nil, map[string]any{"id": fmt.Sprint(i), "customer": "c", "total": 1.5, "qty": int64(i), "city": "Lyon"})
	}
	sink := &Sink{cfg: Config{Mode: ModeUpsert}}
	table := tableState{layouts: map[[2]*column]*layout{}}
	var target map[string]string
	b.ReportAllocs()
	for b.Loop() {
		batch := make([]message, n)
		for i := range batch {
			kdec([]byte(fmt.Sprint(i)), &batch[i].Key)
			vdec(raws[i], &batch[i].Value)
		}
		newResolver(newIntake(len(batch))).convert(batch)
		ops, _ := sink.plan(&batchBufs{msgs: batch})
		g := &group{}
		for _, o := range ops {
			l := table.layoutOf(o.m.Key, o.m.Value)
			g.layout = l
			g.rows = append(g.rows, row{l: l, key: o.m.Key, val: o.m.Value})
		}
		if target == nil {
			target = map[string]string{}
			for _, c := range g.cols {
				target[c.name] = c.pgType
			}
		}
		if _, ok := binaryCopy(g, target, nil); !ok {
			b.Fatal("no binary COPY")
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}
