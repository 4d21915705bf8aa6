package pgsink

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestPlan: in upsert mode only the last record of each key is written, a
// tombstone deletes its key, and records without a key are bad (or, for
// tombstones, dropped); in insert mode every record is written, tombstones
// last-per-key. A record that could not be decoded or converted is bad.
func TestPlan(t *testing.T) {
	kdec, _ := (&codec{single: "id", raw: true}).Decoder(nil)
	type rec struct {
		key   string // "" for none
		value bool   // false: a tombstone
		err   bool
	}
	for _, tc := range []struct {
		name string
		mode string
		recs []rec
		ops  string // the ops' offsets, "d" marking deletes
		bad  string // the bad records' offsets
	}{
		{"upsert, distinct keys", ModeUpsert, []rec{{key: "a", value: true}, {key: "b", value: true}, {key: "c", value: true}}, "0 1 2", ""},
		{"upsert, last wins", ModeUpsert, []rec{{key: "a", value: true}, {key: "b", value: true}, {key: "a", value: true}, {key: "a", value: true}}, "1 3", ""},
		{"upsert, delete then write", ModeUpsert, []rec{{key: "a", value: true}, {key: "a"}, {key: "b", value: true}, {key: "a", value: true}}, "2 3", ""},
		{"upsert, write then delete", ModeUpsert, []rec{{key: "a", value: true}, {key: "b", value: true}, {key: "a"}}, "1 2d", ""},
		{"upsert, no key", ModeUpsert, []rec{{value: true}, {key: "a", value: true}, {}}, "1", "0"},
		{"upsert, bad record", ModeUpsert, []rec{{key: "a", value: true}, {key: "a", value: true, err: true}}, "0", "1"},
		{"insert", ModeInsert, []rec{{key: "a", value: true}, {key: "a", value: true}, {value: true}, {key: "b"}, {key: "b"}, {}}, "0 1 2 4d", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			batch := make([]message, len(tc.recs))
			for i, r := range tc.recs {
				m := &batch[i]
				m.Offset = int64(i)
				if r.key != "" {
					kdec([]byte(r.key), &m.Key)
				}
				if r.value {
					m.Value = &datum{cols: []column{{name: "v", pgType: "text"}}, enc: []byte{0, 0, 0, 0}}
				}
				if r.err {
					m.Err = errors.New("cannot decode")
				}
			}
			s := &Sink{cfg: Config{Mode: tc.mode}}
			for round := range 2 { // the planner's memory is reused
				ops, bad := s.plan(&batchBufs{msgs: batch})
				var got, gotBad []string
				for _, o := range ops {
					x := fmt.Sprint(o.m.Offset)
					if o.delete {
						x += "d"
					}
					got = append(got, x)
				}
				for _, b := range bad {
					gotBad = append(gotBad, fmt.Sprint(b.m.Offset))
				}
				if strings.Join(got, " ") != tc.ops || strings.Join(gotBad, " ") != tc.bad {
					t.Errorf("round %d: ops %v, bad %v; want ops %s, bad %s", round, got, gotBad, tc.ops, tc.bad)
				}
			}
		})
	}
}

// TestPlanAllocs: planning an upsert batch of new keys allocates a few
// times per batch, not per record (the map of keys is kept from batch to
// batch; its keys share one string).
func TestPlanAllocs(t *testing.T) {
	kdec, _ := (&codec{single: "id", raw: true}).Decoder(nil)
	batch := make([]message, 1000)
	for i := range batch {
		kdec([]byte(fmt.Sprint("k", i)), &batch[i].Key)
		batch[i].Value = &datum{cols: []column{{name: "v", pgType: "text"}}, enc: []byte{0, 0, 0, 0}}
	}
	s := &Sink{cfg: Config{Mode: ModeUpsert}}
	b := &batchBufs{msgs: batch}
	s.plan(b)
	if n := testing.AllocsPerRun(20, func() { s.plan(b) }); n > 2 {
		t.Errorf("%v allocations to plan %d records", n, len(batch))
	}
	// With keys met twice, the last op of each.
	batch = append(batch, slices.Clone(batch[:10])...)
	b = &batchBufs{msgs: batch}
	ops, _ := s.plan(b)
	if len(ops) != 1000 || ops[0].m != &batch[10] || ops[len(ops)-1].m != &batch[len(batch)-1] {
		t.Errorf("%d ops, from %p to %p", len(ops), ops[0].m, ops[len(ops)-1].m)
	}
}

// BenchmarkPlanUpsert: plan alone on an upsert batch of 20,000 records
// (schemaless keys, converted already): new keys, or each key twice.
func BenchmarkPlanUpsert(b *testing.B) {
	kdec, _ := (&codec{single: "id", raw: true}).Decoder(nil)
	for _, bc := range []struct {
		name string
		keys int
	}{{"new-keys", 20000}, {"each-key-twice", 10000}} {
		b.Run(bc.name, func(b *testing.B) {
			batch := make([]message, 20000)
			for i := range batch {
				kdec([]byte(fmt.Sprintf("key-%06d", i%bc.keys)), &batch[i].Key)
				batch[i].Value = &datum{cols: []column{{name: "v", pgType: "text"}}, enc: []byte{0, 0, 0, 0}}
			}
			s := &Sink{cfg: Config{Mode: ModeUpsert}}
			bufs := &batchBufs{msgs: batch}
			b.ReportAllocs()
			for b.Loop() {
				s.plan(bufs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/record")
		})
	}
}
