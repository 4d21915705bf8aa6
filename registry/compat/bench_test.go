package compat_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/serde/avro"
)

// benchRecord is a 50-field record; version v (0-based) differs from the
// others by its doc and by one optional field, so that every version in a
// history is a distinct, mutually compatible schema.
func benchRecord(v int) string {
	types := []string{`"int"`, `"long"`, `"string"`, `["null","string"]`, `{"type":"array","items":"double"}`,
		`{"type":"map","values":"long"}`, `"boolean"`, `"bytes"`, `{"type":"long","logicalType":"timestamp-millis"}`, `"float"`}
	var fields []string
	for i := range 50 {
		t := types[i%len(types)]
		def := ""
		if i%2 == 1 {
			switch t {
			case `["null","string"]`:
				def = `,"default":null`
			case `{"type":"array","items":"double"}`:
				def = `,"default":[]`
			case `{"type":"map","values":"long"}`:
				def = `,"default":{}`
			case `"string"`, `"bytes"`:
				def = `,"default":""`
			case `"boolean"`:
				def = `,"default":false`
			default:
				def = `,"default":0`
			}
		}
		fields = append(fields, fmt.Sprintf(`{"name":"f%d","type":%s,"doc":"field %d"%s}`, i, t, i, def))
	}
	fields[49] = fmt.Sprintf(`{"name":"opt%d","type":["null","string"],"default":null}`, v)
	fields = append(fields, `{"name":"status","type":{"type":"enum","name":"Status","symbols":["A","B","C"],"default":"A"},"default":"A"}`)
	return fmt.Sprintf(`{"type":"record","name":"Event","namespace":"com.acme.bench","doc":"version %d","fields":[%s]}`, v, strings.Join(fields, ","))
}

// BenchmarkCheckFullTransitive checks a candidate against 100 compatible
// versions in both directions: the registry's worst case for one register.
func BenchmarkCheckFullTransitive(b *testing.B) {
	history := make([]compat.Version, 100)
	for i := range history {
		history[i] = compat.Version{Number: i + 1, Schema: avro.MustParse(benchRecord(i))}
	}
	candidate := avro.MustParse(benchRecord(100))
	if vs, err := compat.Check(compat.FullTransitive, candidate, history); err != nil || len(vs) != 0 {
		b.Fatalf("benchmark history is not compatible: %v %v", vs, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := compat.Check(compat.FullTransitive, candidate, history); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse parses the 50-field record, canonical texts and codec
// schema included.
func BenchmarkParse(b *testing.B) {
	text := benchRecord(0)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := avro.Parse(text, nil); err != nil {
			b.Fatal(err)
		}
	}
}
