package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// runBenchTSV runs "sluice bench ... --tsv" and returns the rows by metric,
// checking their shape: suite metric median unit runs min max command.
func runBenchTSV(t *testing.T, args ...string) map[string]float64 {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if code := run(ctx, append([]string{"bench"}, append(args, "--tsv")...), strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
	rows := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 8 || f[0] != "sluice" || f[4] != "1" || f[2] != f[5] || f[2] != f[6] || !strings.HasPrefix(f[7], "sluice bench ") {
			t.Fatalf("bad TSV row %q", line)
		}
		v, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			t.Fatalf("row %q: %v", line, err)
		}
		rows[f[1]] = v
	}
	// Progress goes to stderr with --tsv; the per-second lines depend on the
	// clock, so only the opening line is checked.
	if !strings.Contains(errb.String(), "sluice bench "+args[0]) {
		t.Errorf("no opening line on stderr:\n%s", errb.String())
	}
	return rows
}

func TestBenchProduceInProcess(t *testing.T) {
	rows := runBenchTSV(t, "produce", "--in-process", "--fsync", "never", "--duration", "1500ms",
		"--partitions", "2", "--batch", "4", "--inflight", "2", "--record-bytes", "100")
	for _, m := range []string{"records_per_s", "ack_p50_us", "ack_p99_us", "ack_p999_us"} {
		v, ok := rows["produce_fsync-never_"+m]
		if !ok || v <= 0 {
			t.Errorf("metric produce_fsync-never_%s = %v (present %v) in %v", m, v, ok, rows)
		}
	}
	// MB/s is printed with one decimal, so a slow run (the race detector on a
	// loaded machine) can print 0.0: check it against the record rate
	// instead of requiring it to be positive.
	mbps, ok := rows["produce_fsync-never_MBps"]
	if want := rows["produce_fsync-never_records_per_s"] * 100 / 1e6; !ok || mbps < 0 || math.Abs(mbps-want) > 0.05+want/100 {
		t.Errorf("metric produce_fsync-never_MBps = %v (present %v), want %.3f from the record rate of 100-byte records", mbps, ok, want)
	}
	if rows["produce_fsync-never_ack_p50_us"] > rows["produce_fsync-never_ack_p999_us"] {
		t.Errorf("p50 above p99.9: %v", rows)
	}
}

func TestBenchConsumeInProcess(t *testing.T) {
	rows := runBenchTSV(t, "consume", "--in-process", "--fsync", "never", "--backlog", "3000", "--duration", "30s",
		"--partitions", "3", "--consumers", "2", "--record-bytes", "100", "--name", "catchup")
	// The whole backlog is read: 3000 records of 100 bytes.
	if rows["catchup_records_per_s"] <= 0 || rows["catchup_MBps"] < 0 {
		t.Errorf("rows %v", rows)
	}
}

func TestBenchE2EInProcess(t *testing.T) {
	rows := runBenchTSV(t, "e2e", "--in-process", "--fsync", "never", "--duration", "1500ms", "--rate", "2000",
		"--partitions", "2", "--batch", "10", "--record-bytes", "64")
	for _, m := range []string{"e2e_fsync-never_records_per_s", "e2e_fsync-never_e2e_p50_us", "e2e_fsync-never_e2e_p99_us"} {
		if rows[m] <= 0 {
			t.Errorf("%s = %v in %v", m, rows[m], rows)
		}
	}
}

func TestBenchFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"bench"},
		{"bench", "explode"},
		{"bench", "produce", "--batch", "0"},
		{"bench", "e2e", "--record-bytes", "4"},
		{"bench", "produce", "--in-process", "--fsync", "sometimes"},
		{"bench", "produce", "--rate", "-1"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, strings.NewReader(""), &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %s)", args, code, errb.String())
		}
	}
}

// TestBenchCountsAgree: one record is "1 record" in the progress and the
// summary.
func TestBenchCountsAgree(t *testing.T) {
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := []string{"bench", "consume", "--in-process", "--fsync", "never", "--backlog", "1", "--partitions", "1", "--record-bytes", "10"}
	if code := run(ctx, args, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
	for _, want := range []string{"topic bench, 1 partition, 10-byte records", "1 producer x 16 in flight, 1 consumer,", "preloading 1 record\n", "consume: 1 record in "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, out.String())
		}
	}
}

// benchRun runs sluice bench with args and returns stdout and stderr.
func benchRunArgs(t *testing.T, wantCode int, args ...string) (string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if code := run(ctx, append([]string{"bench"}, args...), strings.NewReader(""), &out, &errb); code != wantCode {
		t.Fatalf("sluice bench %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantCode, out.String(), errb.String())
	}
	return out.String(), errb.String()
}

// TestBenchLeftovers: a run against a server names the topic (and group)
// it leaves there, with the commands that delete them; --cleanup deletes
// them instead, and refuses a topic or group that existed before the run.
func TestBenchLeftovers(t *testing.T) {
	addr := apServer(t)
	common := []string{"--addr", addr, "--partitions", "1", "--record-bytes", "10", "--backlog", "5", "--duration", "30s"}
	out, _ := benchRunArgs(t, 0, append([]string{"consume", "--topic", "left", "--group", "g1"}, common...)...)
	want := "left topic left and consumer group g1 on " + addr + "; --cleanup deletes what a run creates; to delete them now: sluice topic delete left --addr " + addr + "; sluice group delete g1 --addr " + addr + "\n"
	if !strings.HasSuffix(out, want) {
		t.Errorf("stdout does not end with\n%s\n%s", want, out)
	}
	// The topic and the group are there.
	topics := brokerv1connect.NewTopicServiceClient(httpClient(), addr)
	groups := brokerv1connect.NewGroupServiceClient(httpClient(), addr)
	if _, err := topics.DescribeTopic(context.Background(), connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: "left"})); err != nil {
		t.Errorf("topic left: %v", err)
	}
	if _, err := groups.DescribeGroup(context.Background(), connect.NewRequest(&brokerv1.DescribeGroupRequest{Group: "g1"})); err != nil {
		t.Errorf("group g1: %v", err)
	}
	// --cleanup refuses what existed before: nothing changes.
	_, errOut := benchRunArgs(t, 1, append([]string{"consume", "--topic", "left", "--cleanup"}, common...)...)
	if !strings.Contains(errOut, "topic left already exists") {
		t.Errorf("stderr: %s", errOut)
	}
	_, errOut = benchRunArgs(t, 1, append([]string{"consume", "--topic", "other", "--group", "g1", "--cleanup"}, common...)...)
	if !strings.Contains(errOut, "consumer group g1 already exists") {
		t.Errorf("stderr: %s", errOut)
	}
	// --cleanup deletes what the run created, with --tsv on stderr.
	out, errOut = benchRunArgs(t, 0, append([]string{"consume", "--topic", "fresh", "--group", "g2", "--cleanup", "--tsv"}, common...)...)
	if !strings.Contains(errOut, "deleted consumer group g2 and topic fresh (--cleanup)\n") || strings.Contains(out, "deleted") {
		t.Errorf("stdout: %s\nstderr: %s", out, errOut)
	}
	for _, name := range []string{"fresh", "other"} {
		if _, err := topics.DescribeTopic(context.Background(), connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: name})); connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("topic %s: %v, want not found", name, err)
		}
	}
	if _, err := groups.DescribeGroup(context.Background(), connect.NewRequest(&brokerv1.DescribeGroupRequest{Group: "g2"})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("group g2: %v, want not found", err)
	}
	// In process, a temporary data directory leaves nothing to name.
	out, _ = benchRunArgs(t, 0, "produce", "--in-process", "--fsync", "never", "--duration", "200ms", "--partitions", "1")
	if strings.Contains(out, "left ") {
		t.Errorf("in-process run names leftovers:\n%s", out)
	}
}

// TestBenchConsumeSaysWhyItEnded: a catch-up read that finishes the
// backlog before --duration says so; one that --duration cuts short says
// how far it got.
func TestBenchConsumeSaysWhyItEnded(t *testing.T) {
	out, _ := benchRunArgs(t, 0, "consume", "--in-process", "--fsync", "never", "--backlog", "20", "--partitions", "1", "--record-bytes", "10", "--duration", "1m")
	if !strings.Contains(out, "before --duration 1m0s: the whole backlog (20 records) was read; a larger --backlog measures longer\n") {
		t.Errorf("stdout:\n%s", out)
	}
	// A duration far below what reading the backlog takes.
	out, _ = benchRunArgs(t, 0, "consume", "--in-process", "--fsync", "never", "--backlog", "1000", "--partitions", "1", "--record-bytes", "1", "--batch", "500", "--duration", "1ns")
	if !strings.Contains(out, "consume: --duration 1ns ran out after ") || !strings.Contains(out, " of the backlog of 1000\n") {
		t.Errorf("stdout:\n%s", out)
	}
}

// TestBenchConsumeCountsEveryRecord runs the catch-up read both ways, the
// counting walk and --decode, and checks that each reads the whole backlog
// (3000 records of 100 bytes, on 3 partitions, 2 consumers).
func TestBenchConsumeCountsEveryRecord(t *testing.T) {
	for _, mode := range [][]string{nil, {"--decode"}} {
		t.Run(fmt.Sprint("flags", mode), func(t *testing.T) {
			var out, errb bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			args := append([]string{"bench", "consume", "--in-process", "--fsync", "never", "--backlog", "3000", "--duration", "30s",
				"--partitions", "3", "--consumers", "2", "--record-bytes", "100"}, mode...)
			if code := run(ctx, args, strings.NewReader(""), &out, &errb); code != 0 {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), "\nconsume: 3000 records in ") {
				t.Fatalf("want the whole backlog of 3000 records read:\n%s", out.String())
			}
		})
	}
}
