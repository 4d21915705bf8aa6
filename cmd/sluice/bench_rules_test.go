package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestBenchProduceRules: --validate payload,rules --rules N measures payload
// validation and payload plus N CEL rules (data contracts) in one run, per
// format, with the ratio of the two; the level rules without --rules is a
// usage error naming the flag.
func TestBenchProduceRules(t *testing.T) {
	for _, format := range []string{"avro", "protobuf"} {
		t.Run(format, func(t *testing.T) {
			rows := runBenchTSV(t, "produce", "--in-process", "--fsync", "never", "--duration", "400ms",
				"--partitions", "1", "--batch", "8", "--inflight", "2", "--pool", "64",
				"--validate", "payload,rules", "--rules", "2", "--format", format)
			for _, m := range []string{"payload_records_per_s", "rules_records_per_s", "rules_over_payload"} {
				name := "produce_fsync-never_" + format + "_" + m
				if v, ok := rows[name]; !ok || v <= 0 {
					t.Errorf("metric %s = %v (present %v) in %v", name, v, ok, rows)
				}
			}
		})
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"bench", "produce", "--in-process", "--validate", "payload,rules"}, strings.NewReader(""), &out, &errb); code == 0 || !strings.Contains(errb.String(), "--rules") {
		t.Errorf("--validate rules without --rules: exit %d, %s", code, errb.String())
	}
}
