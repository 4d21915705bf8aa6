package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/server"
)

// TestBenchProduceKafka: --kafka sends a produce run's records through the
// server's Kafka listener with franz-go; with --validate the schema-framed
// records pass enforcement there, and the rows carry both levels and their
// ratio.
func TestBenchProduceKafka(t *testing.T) {
	never, err := broker.ParseFsyncPolicy("never")
	if err != nil {
		t.Fatal(err)
	}
	s, url, stop, err := server.Start(context.Background(), server.Config{
		DataDir:   t.TempDir(),
		Fsync:     never,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		KafkaAddr: "127.0.0.1:0",
	}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	rows := runBenchTSV(t, "produce", "--addr", url, "--kafka", s.KafkaAddr(), "--duration", "600ms",
		"--partitions", "2", "--batch", "8", "--inflight", "2", "--pool", "64", "--validate", "none,payload", "--format", "avro")
	for _, m := range []string{"none_records_per_s", "payload_records_per_s", "payload_over_none"} {
		name := "produce_avro_" + m
		if v, ok := rows[name]; !ok || v <= 0 {
			t.Errorf("metric %s = %v (present %v) in %v", name, v, ok, rows)
		}
	}
	rows = runBenchTSV(t, "produce", "--addr", url, "--kafka", s.KafkaAddr(), "--duration", "400ms", "--record-bytes", "100")
	if v := rows["produce_records_per_s"]; v <= 0 {
		t.Errorf("plain produce over Kafka: %v records/s in %v", v, rows)
	}
}

func TestBenchKafkaUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "consume", "--addr", "http://127.0.0.1:1", "--kafka", "127.0.0.1:9092"}, "--kafka 127.0.0.1:9092: only bench produce"},
		{[]string{"bench", "produce", "--in-process", "--kafka", "127.0.0.1:9092"}, "not --in-process"},
		{[]string{"bench", "produce", "--addr", "http://127.0.0.1:1", "--kafka", "127.0.0.1:9092", "--rate", "10"}, "drop --rate"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), tc.args, strings.NewReader(""), &out, &errb); code == 0 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("sluice %v: exit %d, stderr %q; want a failure naming %q", tc.args, code, errb.String(), tc.want)
		}
	}
}
