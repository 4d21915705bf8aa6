package compat

import "github.com/sluicehq/sluice/serde/avro"

// avroReads implements Apache Avro's reader/writer resolution rules
// (spec/registry-api.md §11.1).
func avroReads(reader, writer *avro.Schema) []Violation {
	panic("TODO(avro compat helper)")
}
