package kafka_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/server"
)

// txnHelperEnv names the data directory and address when the test binary
// runs as a node for TestKafkaKill9ExactlyOnce.
const txnHelperEnv = "SLUICE_KAFKA_TXN_HELPER"

// TestHelperKafkaTxnNode is not a test: re-executed by the exactly-once
// kill -9 test with txnHelperEnv=DIR,ADDR set, it runs a whole node (fsync
// always) with its Kafka listener on ADDR and runs until killed.
func TestHelperKafkaTxnNode(t *testing.T) {
	env := os.Getenv(txnHelperEnv)
	if env == "" {
		t.Skip("helper process for TestKafkaKill9ExactlyOnce")
	}
	dir, addr, _ := cutLast(env, ",")
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, _, _, err := server.Start(context.Background(), server.Config{DataDir: dir, Logger: logger, KafkaAddr: addr}, "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(srv.KafkaAddr())
	select {}
}

func cutLast(s, sep string) (before, after string, ok bool) {
	for i := len(s) - len(sep); i >= 0; i-- {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

// startTxnHelper runs the test binary as a node on dir listening on addr,
// and returns once it serves.
func startTxnHelper(t *testing.T, dir, addr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperKafkaTxnNode$", "-test.v=false")
	cmd.Env = append(os.Environ(), txnHelperEnv+"="+dir+","+addr)
	cmd.Stderr = testWriter{t}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatalf("helper node did not start: %v", err)
	}
	return cmd
}

// TestKafkaKill9ExactlyOnce runs kgo's GroupTransactSession
// (consume-transform-produce) against a node in another process, kills
// that node with SIGKILL while a transaction is open (its records written
// and durable), restarts it on the same data directory and address, and
// lets the application carry on as a real one does (a session whose End
// fails is replaced by a new one with the same transactional id); then
// kills it again together with the application, whose successor's
// InitProducerId aborts the transaction left open. The output topic then
// holds each input exactly once under read_committed.
func TestKafkaKill9ExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: re-executes the test binary as a node")
	}
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := startTxnHelper(t, dir, addr)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []kgo.Opt{kgo.SeedBrokers(addr), kgo.WithLogger(kgo.BasicLogger(testWriter{t}, kgo.LogLevelWarn, nil))}
	admCl, err := kgo.NewClient(base...)
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	if _, err := adm.CreateTopics(ctx, 4, 1, nil, "eos-in", "eos-out"); err != nil {
		t.Fatal(err)
	}
	const total = 1500
	in, err := kgo.NewClient(append(base, kgo.DefaultProduceTopic("eos-in"))...)
	if err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := range total {
		recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "k%d", i%31), Value: fmt.Appendf(nil, "in-%d", i)})
	}
	if err := in.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	in.Close()

	newSession := func() *kgo.GroupTransactSession {
		s, err := kgo.NewGroupTransactSession(append(base,
			kgo.TransactionalID("eos-kill"),
			kgo.ConsumerGroup("eos-kill-group"),
			kgo.ConsumeTopics("eos-in"),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.DefaultProduceTopic("eos-out"),
			kgo.RequireStableFetchOffsets(),
			kgo.TransactionTimeout(20*time.Second),
			kgo.SessionTimeout(6*time.Second),
		)...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	lagZero := func() bool {
		lag, err := adm.Lag(ctx, "eos-kill-group")
		if err != nil {
			return false
		}
		l, ok := lag["eos-kill-group"]
		if !ok || l.FetchErr != nil || l.DescribeErr != nil {
			return false
		}
		return l.Lag.Total() == 0 && len(l.Lag) > 0
	}

	sess := newSession()
	defer func() { sess.Close() }()
	committed, killed, appCrashed, replaced := 0, false, false, 0
	for ctx.Err() == nil {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		fs := sess.PollRecords(pctx, 100)
		pcancel()
		if fs.NumRecords() == 0 {
			if lagZero() {
				break
			}
			continue
		}
		if err := sess.Begin(); err != nil {
			t.Fatalf("begin: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			sess.Produce(ctx, &kgo.Record{Key: r.Key, Value: append([]byte("out-"), r.Value...)}, nil)
		})
		if !killed && committed >= total/3 {
			// Make the open transaction's records durable, then kill; the
			// application carries on with the restarted node.
			if err := sess.Client().Flush(ctx); err != nil {
				t.Logf("flush before the kill: %v", err)
			}
			killed = true
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			t.Logf("killed the node with a transaction open after %d committed inputs", committed)
			cmd = startTxnHelper(t, dir, addr)
		} else if !appCrashed && committed >= 2*total/3 {
			// Kill the node and "crash" the application with it: its
			// transaction stays open in the log and in meta.db until the
			// next producer with its transactional id aborts it.
			if err := sess.Client().Flush(ctx); err != nil {
				t.Logf("flush before the kill: %v", err)
			}
			appCrashed = true
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			sess.Close()
			t.Logf("killed the node and the application with a transaction open after %d committed inputs", committed)
			cmd = startTxnHelper(t, dir, addr)
			sess = newSession()
			continue
		}
		ok, err := sess.End(ctx, kgo.TryCommit)
		if err != nil {
			// As an application would: start a new session (the new
			// producer fences the old one and aborts what it left open).
			t.Logf("end: %v; replacing the session", err)
			sess.Close()
			sess = newSession()
			replaced++
			continue
		}
		if ok {
			committed += fs.NumRecords()
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("did not finish: %d committed before the end, killed %v", committed, killed)
	}
	if !killed || !appCrashed {
		t.Fatalf("the node was not killed twice (with the application running %v, with it crashing %v)", killed, appCrashed)
	}
	t.Logf("sessions replaced: %d", replaced)

	// Each input exactly once in the committed output.
	rd, err := kgo.NewClient(append(base, kgo.ConsumeTopics("eos-out"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	// Read until every input could be there, then two seconds more: a
	// duplicate would show up in that time.
	var got []string
	for len(got) < total && ctx.Err() == nil {
		rd.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
	for pctx.Err() == nil {
		rd.PollFetches(pctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	pcancel()
	sort.Strings(got)
	var want []string
	for i := range total {
		want = append(want, fmt.Sprintf("out-in-%d", i))
	}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		dups, missing := 0, 0
		seen := map[string]int{}
		for _, g := range got {
			seen[g]++
		}
		for _, w := range want {
			switch seen[w] {
			case 0:
				missing++
			case 1:
			default:
				dups++
			}
		}
		t.Fatalf("output under read_committed: %d records for %d inputs (%d duplicated, %d missing)", len(got), total, dups, missing)
	}
	// The crashed application's open transaction is in the log (aborted):
	// read_uncommitted sees more than the inputs.
	ru, err := kgo.NewClient(append(base, kgo.ConsumeTopics("eos-out"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer ru.Close()
	uncommitted := 0
	uctx, ucancel := context.WithTimeout(ctx, 3*time.Second)
	for uctx.Err() == nil {
		uncommitted += ru.PollFetches(uctx).NumRecords()
	}
	ucancel()
	if uncommitted <= total {
		t.Fatalf("read_uncommitted saw %d records; the aborted transaction's records should be there too (> %d)", uncommitted, total)
	}
	t.Logf("read_uncommitted: %d records, read_committed: %d", uncommitted, len(got))
}
