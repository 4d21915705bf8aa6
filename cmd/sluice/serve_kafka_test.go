package main

import (
	"bytes"
	"context"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestServeKafka: serve names the Kafka address in its startup line, Kafka
// clients reach node 0 at the advertised address, and --kafka-addr ""
// turns the listener off.
func TestServeKafka(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, done, stderr := startServe(t, ctx, "--addr", "127.0.0.1:0", "--kafka-addr", "127.0.0.1:0",
		"--kafka-advertised-addr", "localhost:0", "--data-dir", t.TempDir(), "--fsync", "never", "--kafka-auto-create-topics")
	m := regexp.MustCompile(`kafka_addr=(\S+) kafka_advertised_addr=(\S+)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no Kafka address in the startup line:\n%s", stderr.String())
	}
	kaddr, adv := m[1], m[2]
	_, port, _ := net.SplitHostPort(kaddr)
	if adv != "localhost:"+port {
		t.Fatalf("advertised %s, want localhost:%s (the real port)", adv, port)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(kaddr), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	mctx, mcancel := context.WithTimeout(ctx, 20*time.Second)
	defer mcancel()
	md, err := adm.Metadata(mctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Brokers) != 1 || md.Brokers[0].Host != "localhost" {
		t.Fatalf("brokers %+v", md.Brokers)
	}
	bc, err := adm.DescribeBrokerConfigs(mctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(bc) != 1 || bc[0].Err != nil {
		t.Fatalf("broker configs %+v", bc)
	}
	found := false
	for _, c := range bc[0].Configs {
		if c.Key == "auto.create.topics.enable" && c.MaybeValue() == "true" {
			found = true
		}
	}
	if !found {
		t.Fatalf("auto.create.topics.enable is not true: %+v", bc[0].Configs)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited with %d:\n%s", code, stderr.String())
	}

	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	_, done2, stderr2 := startServe(t, ctx2, "--addr", "127.0.0.1:0", "--kafka-addr", "", "--data-dir", t.TempDir(), "--fsync", "never")
	if !strings.Contains(stderr2.String(), "kafka_addr=off") {
		t.Fatalf("--kafka-addr \"\" does not say the listener is off:\n%s", stderr2.String())
	}
	cancel2()
	if code := <-done2; code != 0 {
		t.Fatalf("serve exited with %d:\n%s", code, stderr2.String())
	}
}

// TestServeKafkaFlags: bad Kafka flags are refused before anything starts;
// a taken Kafka port names --kafka-addr.
func TestServeKafkaFlags(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--kafka-max-request-bytes", "0"}, 2, "--kafka-max-request-bytes 0: want 1 to 2147483647"},
		{[]string{"--kafka-advertised-addr", "nohost"}, 2, `--kafka-advertised-addr "nohost": want host:port`},
		{[]string{"--kafka-advertised-addr", "0.0.0.0:9092"}, 2, "wildcard host"},
		{[]string{"--kafka-advertised-addr", "h:x"}, 2, `port "x"`},
		{[]string{"--kafka-addr", "", "--kafka-advertised-addr", "h:1"}, 2, "without a Kafka listener"},
		{[]string{"--kafka-addr", taken.Addr().String()}, 1, "--kafka-addr"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stderr bytes.Buffer
			e := &env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &stderr, getenv: func(string) string { return "" }}
			args := append([]string{"--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, tc.args...)
			if code := runServe(context.Background(), e, args); code != tc.code {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("stderr does not say %q:\n%s", tc.want, stderr.String())
			}
		})
	}
}

// TestServeHelpListsKafkaFlags: --help documents the Kafka flags.
func TestServeHelpListsKafkaFlags(t *testing.T) {
	var stdout bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }}
	if code := runServe(context.Background(), e, []string{"--help"}); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	for _, want := range []string{"-kafka-addr address", `(default "localhost:9092")`, "-kafka-advertised-addr host:port", "-kafka-max-request-bytes", "-kafka-auto-create-topics", `"" turns the Kafka listener off`} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("--help does not say %q:\n%s", want, stdout.String())
		}
	}
}
