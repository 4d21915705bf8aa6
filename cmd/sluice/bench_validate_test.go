package main

import (
	"bytes"
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/srclient"
)

// TestBenchProduceValidate runs the unvalidated and the validated produce
// in one invocation per format, over the real API, and checks the rows:
// one set per level and the ratio of payload to none.
func TestBenchProduceValidate(t *testing.T) {
	for _, format := range []string{"avro", "protobuf", "json"} {
		t.Run(format, func(t *testing.T) {
			rows := runBenchTSV(t, "produce", "--in-process", "--fsync", "never", "--duration", "400ms",
				"--partitions", "2", "--batch", "8", "--inflight", "2", "--pool", "64",
				"--validate", "none,payload", "--format", format)
			for _, m := range []string{"none_records_per_s", "payload_records_per_s", "none_median_records_per_s", "payload_median_records_per_s", "payload_over_none"} {
				name := "produce_fsync-never_" + format + "_" + m
				if v, ok := rows[name]; !ok || v <= 0 {
					t.Errorf("metric %s = %v (present %v) in %v", name, v, ok, rows)
				}
			}
		})
	}
}

func TestBenchValidateUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "produce", "--in-process", "--validate", "none,strict"},
		{"bench", "produce", "--in-process", "--validate", "none,none"},
		{"bench", "produce", "--in-process", "--validate", "payload", "--format", "xml"},
		{"bench", "produce", "--in-process", "--validate", "payload", "--rate", "100"},
		{"bench", "consume", "--in-process", "--validate", "payload"},
		{"bench", "produce", "--in-process", "--validate", "payload", "--runs", "0"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, strings.NewReader(""), &out, &errb); code == 0 {
			t.Errorf("sluice %v: exit 0, want a failure", args)
		} else if !strings.Contains(errb.String(), "--") {
			t.Errorf("sluice %v: the error names no flag: %s", args, errb.String())
		}
	}
}

// TestBenchValidateLeftovers: against a server, --validate names each
// level's topic and subject it leaves, and --cleanup deletes them.
func TestBenchValidateLeftovers(t *testing.T) {
	addr := apServer(t)
	args := []string{"produce", "--addr", addr, "--validate", "none", "--format", "json", "--duration", "200ms", "--partitions", "1", "--pool", "50"}
	out, _ := benchRunArgs(t, 0, args...)
	if !strings.Contains(out, "left topic bench-json-none and subject bench-json-none-value on "+addr) {
		t.Errorf("stdout:\n%s", out)
	}
	_, errOut := benchRunArgs(t, 1, append(args, "--cleanup")...)
	if !strings.Contains(errOut, "subject bench-json-none-value already exists") {
		t.Errorf("stderr:\n%s", errOut)
	}
	out, _ = benchRunArgs(t, 0, append(args, "--topic", "once", "--cleanup")...)
	if !strings.Contains(out, "deleted topic once-json-none and subject once-json-none-value (--cleanup)\n") {
		t.Errorf("stdout:\n%s", out)
	}
	var subjects []string
	if err := (&srclient.Client{Base: addr, HTTP: httpClient()}).Do(context.Background(), "GET", "/subjects", url.Values{"deleted": {"true"}}, nil, &subjects); err != nil {
		t.Fatal(err)
	}
	if strings.Join(subjects, ",") != "bench-json-none-value" {
		t.Errorf("subjects %q, want only bench-json-none-value", subjects)
	}
}
