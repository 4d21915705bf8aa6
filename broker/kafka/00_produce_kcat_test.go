package kafka_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// kcat runs kcat (librdkafka 2.0.2 on Debian 12) with args and stdin, and
// returns its stdout, stderr and exit error. The test is skipped when kcat
// is not installed (`apt-get install kcat`; .ci/run installs it).
func kcat(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		missingClient(t, "kcat is not installed (apt-get install kcat)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// TestKcatCodecsRoundTrip: kcat produces keyed records with each codec and
// reads them back.
func TestKcatCodecsRoundTrip(t *testing.T) {
	addr, _, srv := startServer(t)
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			topic := "kcat-" + codec
			createTopicCore(t, srv, topic, 3, nil)
			var in strings.Builder
			for i := range 300 {
				fmt.Fprintf(&in, "key%d:value %d %s\n", i, i, strings.Repeat("x", i%50))
			}
			if _, stderr, err := kcat(t, in.String(), "-b", addr, "-P", "-t", topic, "-K:", "-z", codec); err != nil {
				t.Fatalf("kcat -P -z %s: %v\n%s", codec, err, stderr)
			}
			out, stderr, err := kcat(t, "", "-b", addr, "-C", "-t", topic, "-e", "-o", "beginning", "-f", "%k:%s\n")
			if err != nil {
				t.Fatalf("kcat -C: %v\n%s", err, stderr)
			}
			got := strings.Split(strings.TrimSpace(out), "\n")
			want := strings.Split(strings.TrimSpace(in.String()), "\n")
			if len(got) != len(want) {
				t.Fatalf("read %d records, produced %d\n%s", len(got), len(want), stderr)
			}
			seen := map[string]bool{}
			for _, l := range got {
				seen[l] = true
			}
			for _, l := range want {
				if !seen[l] {
					t.Fatalf("record %q not read back", l)
				}
			}
		})
	}
}

// TestKcatRefusedRecord: a record refused by schema enforcement makes kcat
// report librdkafka's text for INVALID_RECORD and exit 1.
func TestKcatRefusedRecord(t *testing.T) {
	addr, url, srv := startServer(t)
	registerAvro(t, url, "typed-value", `{"type":"record","name":"R","fields":[{"name":"id","type":"long"}]}`)
	createTopicCore(t, srv, "typed", 1, map[string]string{"value.schema.validation": "payload"})
	_, stderr, err := kcat(t, "not avro\n", "-b", addr, "-P", "-t", "typed")
	t.Logf("kcat: %v\n%s", err, stderr)
	var ee *exec.ExitError
	if err == nil || !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("kcat exit: %v, want status 1", err)
	}
	if !strings.Contains(stderr, "Broker failed to validate record") {
		t.Fatalf("kcat stderr does not name the refusal:\n%s", stderr)
	}
}

// TestKcatIdempotentProducer: librdkafka with enable.idempotence=true gets
// a producer id (InitProducerId) and its sequenced batches are stored.
func TestKcatIdempotentProducer(t *testing.T) {
	addr, _, srv := startServer(t)
	createTopicCore(t, srv, "idem", 2, nil)
	var in strings.Builder
	for i := range 500 {
		fmt.Fprintf(&in, "k%d:v%d\n", i%7, i)
	}
	if _, stderr, err := kcat(t, in.String(), "-b", addr, "-P", "-t", "idem", "-K:", "-X", "enable.idempotence=true"); err != nil {
		t.Fatalf("kcat -P idempotent: %v\n%s", err, stderr)
	}
	got := consumeAll(t, addr, "idem", 2, 500)
	n := 0
	for _, rs := range got {
		for _, r := range rs {
			if r.ProducerID < 0 {
				t.Fatalf("record at %d/%d has no producer id", r.Partition, r.Offset)
			}
			n++
		}
	}
	info, err := srv.Broker.DescribeTopic("idem")
	if err != nil {
		t.Fatal(err)
	}
	if hw := info.Partitions[0].HighWatermark + info.Partitions[1].HighWatermark; n != 500 || hw != 500 {
		t.Fatalf("%d records read, %d stored, want 500", n, hw)
	}
}
