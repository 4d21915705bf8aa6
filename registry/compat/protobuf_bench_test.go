package compat_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/registry/compat"
)

// protoBenchFile renders a 200-message file, version v of a subject's
// history: every message has scalars, an enum, a map, a oneof, a nested
// message and a reference to the previous message (so referenced messages
// are compared through fields as well as by name); version v adds one
// field to each of v messages spread over the file, so every version is
// compatible with every other (added fields only).
func protoBenchFile(v int) string {
	const messages = 200
	var b strings.Builder
	b.WriteString("syntax = \"proto3\";\npackage bench.v1;\nimport \"google/protobuf/timestamp.proto\";\n")
	b.WriteString("enum Status { STATUS_UNSPECIFIED = 0; ACTIVE = 1; CLOSED = 2; }\n")
	for i := range messages {
		fmt.Fprintf(&b, "message M%d {\n  string id = 1;\n  int64 count = 2;\n  Status status = 3;\n", i)
		fmt.Fprintf(&b, "  map<string, int32> tags = 4;\n  google.protobuf.Timestamp at = 5;\n")
		fmt.Fprintf(&b, "  oneof choice { string text = 6; double amount = 7; Inner inner = 8; }\n")
		if i > 0 {
			fmt.Fprintf(&b, "  repeated M%d previous = 9;\n", i-1)
		}
		fmt.Fprintf(&b, "  optional bytes blob = 10;\n  message Inner { int32 x = 1; repeated string names = 2; }\n")
		for k := 1; k <= v; k++ {
			if (i*7+k)%messages < k*10 {
				fmt.Fprintf(&b, "  sint64 extra_%d = %d;\n", k, 100+k)
			}
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// BenchmarkProtoCheckFullTransitive checks a candidate 200-message file
// against 20 versions under FULL_TRANSITIVE: 40 whole-file diffs, since
// every version passes and the walk never stops early.
func BenchmarkProtoCheckFullTransitive(b *testing.B) {
	texts := make([]string, 20)
	for v := range texts {
		texts[v] = protoBenchFile(v + 1)
	}
	hist := protoHistory(b, texts...)
	cand := protoParse(b, protoBenchFile(21))
	// The benchmark is only meaningful if the whole history is walked.
	if vs, err := compat.Check(compat.FullTransitive, cand, hist); err != nil || len(vs) > 0 {
		b.Fatalf("candidate not compatible: %v %v", vs, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := compat.Check(compat.FullTransitive, cand, hist); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProtoReads is one diff of the 200-message file against its
// previous version, the unit of work of the benchmark above.
func BenchmarkProtoReads(b *testing.B) {
	old := protoParse(b, protoBenchFile(19))
	cand := protoParse(b, protoBenchFile(20))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := compat.Reads(cand, old); err != nil {
			b.Fatal(err)
		}
	}
}
