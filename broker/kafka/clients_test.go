package kafka_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/server"
)

// Interoperability with the Kafka clients of other languages, each run as a
// subprocess against a whole node: kafkajs 2.2.4 (pure JavaScript; no
// flexible versions, read_committed by default) and python3-confluent-kafka
// 1.7.0 on librdkafka 2.0.2 (Debian 12's). Each test skips, naming what is
// missing, when its client is not installed; .ci/run installs both.

// kafkajs runs testdata/kafkajs/client.js with args and decodes its JSON
// answer into out.
func kafkajs(t *testing.T, out any, args ...string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		missingClient(t, "node is not installed (apt-get install nodejs npm; .ci/run does)")
	}
	dir, _ := filepath.Abs(filepath.Join("testdata", "kafkajs"))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "kafkajs")); err != nil {
		missingClient(t, "kafkajs is not installed: run `npm ci` in %s (.ci/run does)", dir)
	}
	runClient(t, out, node, append([]string{filepath.Join(dir, "client.js")}, args...)...)
}

// python runs testdata/python/client.py under Debian's /usr/bin/python3,
// which has python3-confluent-kafka, and decodes its JSON answer into out.
func python(t *testing.T, out any, args ...string) {
	t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import confluent_kafka").Run(); err != nil {
		missingClient(t, "%s cannot import confluent_kafka (apt-get install python3-confluent-kafka; .ci/run does): %v", py, err)
	}
	script, _ := filepath.Abs(filepath.Join("testdata", "python", "client.py"))
	runClient(t, out, py, append([]string{script}, args...)...)
}

// runClient runs one client script and decodes the JSON it prints.
func runClient(t *testing.T, out any, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\nstdout: %s\nstderr: %s", filepath.Base(name), args, err, stdout.String(), stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("%s %v: answer %q: %v\nstderr: %s", filepath.Base(name), args, stdout.String(), err, stderr.String())
	}
}

// consumed is what the consume modes of both scripts print.
type consumed struct {
	Consumed int `json:"consumed"`
	Records  []struct {
		Partition int32  `json:"partition"`
		Offset    any    `json:"offset"` // kafkajs: a string; python: a number
		Key       string `json:"key"`
		Value     string `json:"value"`
	} `json:"records"`
}

// checkRoundTrip checks that got holds k<i> -> v<i> for i < n, each once,
// and that the group has committed everything (lag 0).
func checkRoundTrip(t *testing.T, got consumed, n int, groupLag func() int64) {
	t.Helper()
	if got.Consumed != n || len(got.Records) != n {
		t.Fatalf("consumed %d records, want %d", got.Consumed, n)
	}
	seen := map[string]bool{}
	for _, r := range got.Records {
		if seen[r.Key] {
			t.Fatalf("record %s delivered twice", r.Key)
		}
		seen[r.Key] = true
		if want := "v" + r.Key[1:]; r.Value != want {
			t.Fatalf("record %s has value %q, want %q", r.Key, r.Value, want)
		}
	}
	for i := range n {
		if !seen[fmt.Sprintf("k%d", i)] {
			t.Fatalf("record k%d never consumed", i)
		}
	}
	if lag := groupLag(); lag != 0 {
		t.Fatalf("group lag after the commit is %d, want 0", lag)
	}
}

// refusal is what the refused modes of both scripts print.
type refusal struct {
	Refused bool   `json:"refused"`
	Type    string `json:"type"` // kafkajs
	Code    int    `json:"code"` // python
	Name    string `json:"name"`
	Text    string `json:"text"`
	Message string `json:"message"`
}

func TestKafkaJS(t *testing.T) {
	addr, url, srv := startServer(t)
	lag := func(group string) func() int64 {
		return func() int64 {
			d, err := srv.Broker.DescribeGroup(context.Background(), group)
			if err != nil {
				t.Fatalf("describe group %s: %v", group, err)
			}
			return d.TotalLag
		}
	}

	t.Run("produce and consume in a group", func(t *testing.T) {
		createTopicCore(t, srv, "js-orders", 3, nil)
		var prod struct {
			Produced int `json:"produced"`
		}
		kafkajs(t, &prod, "produce", addr, "js-orders", "200")
		var got consumed
		kafkajs(t, &got, "consume", addr, "js-orders", "200", "js-group")
		checkRoundTrip(t, got, 200, lag("js-group"))
	})

	t.Run("refused record", func(t *testing.T) {
		registerAvro(t, url, "js-typed-value", `{"type":"record","name":"R","fields":[{"name":"id","type":"long"}]}`)
		createTopicCore(t, srv, "js-typed", 1, map[string]string{"value.schema.validation": "payload"})
		var r refusal
		kafkajs(t, &r, "refused", addr, "js-typed", "6e6f742061767230") // "not avr0": no schema envelope
		if !r.Refused || r.Type != "INVALID_RECORD" {
			t.Fatalf("kafkajs answer %+v, want a refusal of type INVALID_RECORD", r)
		}
		if hwm := highWatermark(t, srv, "js-typed", 0); hwm != 0 {
			t.Fatalf("high watermark after the refusal is %d, want 0", hwm)
		}
	})

	t.Run("admin", func(t *testing.T) {
		var a struct {
			Created     bool   `json:"created"`
			Partitions  int    `json:"partitions"`
			RetentionMs string `json:"retentionMs"`
		}
		kafkajs(t, &a, "admin", addr, "js-admin")
		if !a.Created || a.Partitions != 3 || a.RetentionMs != "3600000" {
			t.Fatalf("kafkajs admin answer %+v, want created, 3 partitions, retention.ms 3600000", a)
		}
	})
}

func TestConfluentKafkaPython(t *testing.T) {
	addr, url, srv := startServer(t)

	t.Run("idempotent produce and group consume", func(t *testing.T) {
		createTopicCore(t, srv, "py-orders", 3, nil)
		var prod struct {
			Produced int `json:"produced"`
		}
		python(t, &prod, "produce", addr, "py-orders", "300")
		var got consumed
		python(t, &got, "consume", addr, "py-orders", "300", "py-group")
		checkRoundTrip(t, got, 300, func() int64 {
			d, err := srv.Broker.DescribeGroup(context.Background(), "py-group")
			if err != nil {
				t.Fatalf("describe group: %v", err)
			}
			return d.TotalLag
		})
	})

	t.Run("refused record", func(t *testing.T) {
		registerAvro(t, url, "py-typed-value", `{"type":"record","name":"R","fields":[{"name":"id","type":"long"}]}`)
		createTopicCore(t, srv, "py-typed", 1, map[string]string{"value.schema.validation": "payload"})
		var r refusal
		python(t, &r, "refused", addr, "py-typed", "6e6f742061767230")
		if !r.Refused || r.Code != 87 {
			t.Fatalf("delivery report %+v, want error code 87 (INVALID_RECORD)", r)
		}
		if hwm := highWatermark(t, srv, "py-typed", 0); hwm != 0 {
			t.Fatalf("high watermark after the refusal is %d, want 0", hwm)
		}
	})

	t.Run("admin", func(t *testing.T) {
		var a struct {
			RetentionMs string   `json:"retention.ms"`
			Partitions  int      `json:"partitions"`
			Brokers     []string `json:"brokers"`
			Groups      []string `json:"groups"`
		}
		python(t, &a, "admin", addr, "py-admin")
		if a.RetentionMs != "3600000" || a.Partitions != 4 || !slices.Equal(a.Brokers, []string{addr}) {
			t.Fatalf("AdminClient answer %+v, want retention.ms 3600000, 4 partitions after create_partitions, brokers [%s]", a, addr)
		}
		if !slices.Contains(a.Groups, "py-group") {
			t.Fatalf("list_groups %v does not list py-group", a.Groups)
		}
	})
}

// highWatermark is the partition's high watermark as the broker core sees it.
func highWatermark(t *testing.T, srv *server.Server, topic string, partition int32) int64 {
	t.Helper()
	info, err := srv.Broker.DescribeTopic(topic)
	if err != nil {
		t.Fatalf("describe %s: %v", topic, err)
	}
	for _, p := range info.Partitions {
		if p.Partition == partition {
			return p.HighWatermark
		}
	}
	t.Fatalf("%s has no partition %d", topic, partition)
	return 0
}
