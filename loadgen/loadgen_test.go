package loadgen_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/loadgen"
	"github.com/sluicehq/sluice/sluicetest"
)

// base is a small load against srv; tests change what they measure.
func base(url string) loadgen.Config {
	return loadgen.Config{
		Mode: "produce", Addr: url, Topic: "lg", Partitions: 2, RecordBytes: 64,
		Batch: 8, Inflight: 2, Producers: 1, Consumers: 1, Duration: 300 * time.Millisecond,
		Backlog: 500, Command: "loadgen test", Validation: loadgen.Validation{Format: "avro", Runs: 1, Pool: 32},
	}
}

// TestRunProduceTSV runs a closed-loop produce through the Go API and checks
// the summary rows and the leftovers line.
func TestRunProduceTSV(t *testing.T) {
	srv := sluicetest.Start(t)
	c := base(srv.URL)
	c.TSV = true
	var out, progress bytes.Buffer
	c.Out, c.Progress = &out, &progress
	if err := loadgen.Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"produce_records_per_s", "produce_MBps", "produce_ack_p50_us", "produce_ack_p99_us", "produce_ack_p999_us"} {
		if !strings.Contains(out.String(), "sluice\t"+m+"\t") {
			t.Errorf("no row %s in\n%s", m, out.String())
		}
	}
	if !strings.HasPrefix(progress.String(), "loadgen test: topic lg, 2 partitions, 64-byte records, batch 8, 1 producer x 2 in flight") {
		t.Errorf("opening line:\n%s", progress.String())
	}
	if !strings.Contains(progress.String(), "left topic lg on "+srv.URL) {
		t.Errorf("leftovers not named:\n%s", progress.String())
	}
}

// TestRunGroupConsumeCleanup reads a backlog as a two-member group and
// deletes the topic and group afterwards; a second run with Cleanup is
// refused for neither (they are gone), a third on a kept topic is.
func TestRunGroupConsumeCleanup(t *testing.T) {
	srv := sluicetest.Start(t)
	c := base(srv.URL)
	c.Mode, c.Group, c.Consumers, c.Cleanup, c.Duration = "consume", "lg-group", 2, true, 30*time.Second
	var out, progress bytes.Buffer
	c.Out, c.Progress = &out, &progress
	if err := loadgen.Run(context.Background(), c); err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if !strings.Contains(out.String(), "consume: 500 records in ") {
		t.Errorf("summary:\n%s", out.String())
	}
	if !strings.Contains(progress.String(), "deleted consumer group lg-group and topic lg (--cleanup)") {
		t.Errorf("progress:\n%s", progress.String())
	}
	// Leave the topic, then ask for a cleanup run on it: refused.
	c.Cleanup, c.Group = false, ""
	if err := loadgen.Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	c.Cleanup = true
	if err := loadgen.Run(context.Background(), c); err == nil || !strings.Contains(err.Error(), "topic lg already exists") {
		t.Errorf("cleanup on an existing topic: %v", err)
	}
}

// TestRunStart: the load runs against the server Start returns, and a
// failing Start is reported as the in-process server's.
func TestRunStart(t *testing.T) {
	srv := sluicetest.Start(t)
	c := base("")
	c.Fsync = "never"
	var dirs []string
	c.Start = func(ctx context.Context, dir string) (string, func() error, error) {
		dirs = append(dirs, dir)
		return srv.URL, func() error { return nil }, nil
	}
	if err := loadgen.Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if len(dirs) != 1 || dirs[0] == "" {
		t.Errorf("Start called with %q, want one temporary directory", dirs)
	}
	c.Start = func(ctx context.Context, dir string) (string, func() error, error) {
		return "", nil, errors.New("no room")
	}
	if err := loadgen.Run(context.Background(), c); err == nil || err.Error() != "in-process server: no room" {
		t.Errorf("failing Start: %v", err)
	}
}

// TestRunValidation measures two levels through the Go API: one summary
// per run, then the medians and the ratio.
func TestRunValidation(t *testing.T) {
	srv := sluicetest.Start(t)
	c := base(srv.URL)
	c.Validation.Levels, c.Cleanup = "none,payload", true
	var out, progress bytes.Buffer
	c.Out, c.Progress = &out, &progress
	if err := loadgen.Run(context.Background(), c); err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	for _, want := range []string{"avro, produce, 1 run per level:", "  none     median ", "  payload  median ", "  payload/none: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

// TestValidate: each bad setting is refused naming its flag, and Name gets
// its default.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(c *loadgen.Config)
		want string
	}{
		{"mode", func(c *loadgen.Config) { c.Mode = "explode" }, `mode "explode"`},
		{"e2e record bytes", func(c *loadgen.Config) { c.Mode, c.RecordBytes = "e2e", 4 }, "--record-bytes 4"},
		{"negative record bytes", func(c *loadgen.Config) { c.RecordBytes = -1 }, "--record-bytes -1"},
		{"partitions", func(c *loadgen.Config) { c.Partitions = 0 }, "--partitions 0"},
		{"batch", func(c *loadgen.Config) { c.Batch = 0 }, "--batch 0"},
		{"inflight", func(c *loadgen.Config) { c.Inflight = 0 }, "--inflight 0"},
		{"producers", func(c *loadgen.Config) { c.Producers = 0 }, "--producers 0"},
		{"consumers", func(c *loadgen.Config) { c.Consumers = 0 }, "--consumers 0"},
		{"rate", func(c *loadgen.Config) { c.Rate = -1 }, "--rate -1"},
		{"duration", func(c *loadgen.Config) { c.Duration = 0 }, "--duration 0s"},
		{"backlog", func(c *loadgen.Config) { c.Backlog = -1 }, "--backlog -1"},
		{"group", func(c *loadgen.Config) { c.Group = "g" }, "--group g: only bench consume"},
		{"no server", func(c *loadgen.Config) { c.Addr = "" }, "no server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base("http://127.0.0.1:1")
			tc.edit(&c)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate: %v, want an error with %q", err, tc.want)
			}
		})
	}
	c := base("http://127.0.0.1:1")
	c.Mode, c.Decode, c.Fsync = "consume", true, "interval:5ms"
	c.Start = func(context.Context, string) (string, func() error, error) { return "", nil, errors.New("unused") }
	if err := c.Validate(); err != nil || c.Name != "consume_fsync-interval-5ms_decode" {
		t.Errorf("Validate: %v, name %q", err, c.Name)
	}
}

// TestRunConsumeSampleRSS samples the server's memory (this process: the
// test server runs here) during a catch-up read and reports it, as rows
// and as text; a process that does not exist is refused before any load.
func TestRunConsumeSampleRSS(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc:", err)
	}
	srv := sluicetest.Start(t)
	c := base(srv.URL)
	c.Mode, c.Duration, c.SampleRSS, c.TSV = "consume", 30*time.Second, os.Getpid(), true
	var out, progress bytes.Buffer
	c.Out, c.Progress = &out, &progress
	if err := loadgen.Run(context.Background(), c); err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	for _, m := range []string{"server_rss_min_MiB", "server_rss_median_MiB", "server_rss_max_MiB", "server_rss_peak_MiB", "client_rss_max_MiB", "client_rss_peak_MiB", "client_heap_live_max_MiB"} {
		row := "sluice\tconsume_" + m + "\t"
		i := strings.Index(out.String(), row)
		if i < 0 {
			t.Errorf("no row %s in\n%s", m, out.String())
			continue
		}
		v, _, _ := strings.Cut(out.String()[i+len(row):], "\t")
		if f, err := strconv.ParseFloat(v, 64); err != nil || f <= 0 {
			t.Errorf("%s = %q, want a size", m, v)
		}
	}
	c.TSV = false
	out.Reset()
	if err := loadgen.Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "\nserver rss (pid "+strconv.Itoa(os.Getpid())+", ") {
		t.Errorf("text summary:\n%s", out.String())
	}
	c.Topic, c.SampleRSS = "lg-none", 1<<30
	if err := loadgen.Run(context.Background(), c); err == nil || !strings.HasPrefix(err.Error(), "--sample-rss 1073741824: open /proc/1073741824/status") {
		t.Errorf("no such process: %v", err)
	}
	c.SampleRSS = -1
	if err := loadgen.Run(context.Background(), c); err == nil || err.Error() != "--sample-rss -1: want the server's process id" {
		t.Errorf("negative: %v", err)
	}
}

// TestRunProduceStream pipelines the producer's requests on one
// ProduceStream: the run reports its rows and the topic holds at least
// every acknowledged record.
func TestRunProduceStream(t *testing.T) {
	srv := sluicetest.Start(t)
	c := base(srv.URL)
	c.TSV, c.Stream, c.Inflight = true, true, 4
	var out, progress bytes.Buffer
	c.Out, c.Progress = &out, &progress
	if err := loadgen.Run(context.Background(), c); err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if !strings.HasPrefix(progress.String(), "loadgen test: topic lg, 2 partitions, 64-byte records, batch 8, 1 producer x 4 in flight on one ProduceStream") {
		t.Errorf("opening line:\n%s", progress.String())
	}
	var rate float64
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Split(line, "\t"); len(f) > 2 && f[1] == "produce_records_per_s" {
			rate, _ = strconv.ParseFloat(f[2], 64)
		}
	}
	if rate <= 0 {
		t.Errorf("no positive produce_records_per_s row in\n%s", out.String())
	}
}
