package log

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/broker/internal/log/vfs"
)

// appendTxn appends recs as producer pid's transactional batch.
func appendTxn(t *testing.T, p *Partition, pid int64, seq int32, recs ...Record) int64 {
	t.Helper()
	raw := producerBatch(t, recs, pid, 0, seq, attrTransactional)
	off, err := p.AppendBatch(context.Background(), mustParse(t, bytes.Clone(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return off
}

func marker(t *testing.T, p *Partition, pid int64, commit bool) int64 {
	t.Helper()
	off, err := p.WriteTxnMarker(context.Background(), pid, 0, commit, 7)
	if err != nil {
		t.Fatal(err)
	}
	return off
}

func keysOf(recs []Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, string(r.Key))
	}
	return out
}

func TestTransactionsLSOAndAbortedIndex(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	clock := newFakeClock()
	p := mustOpen(t, "/p", testConfig(t, fs, clock))
	mustAppend(t, p, kv("plain0", "x"))                 // 0
	appendTxn(t, p, 1, 0, kv("a1", "x"), kv("a2", "x")) // 1-2, aborted later
	appendTxn(t, p, 2, 0, kv("c1", "x"))                // 3, committed later
	mustAppend(t, p, kv("plain1", "x"))                 // 4
	appendTxn(t, p, 1, 2, kv("a3", "x"))                // 5
	if got := p.LastStableOffset(); got != 1 {
		t.Fatalf("LSO with two open transactions = %d, want 1", got)
	}
	if got := p.HighWatermark(); got != 6 {
		t.Fatalf("HWM = %d, want 6", got)
	}
	// Record readers stop at the LSO.
	if got := keysOf(readAll(t, p, 0)); !slices.Equal(got, []string{"plain0"}) {
		t.Fatalf("read before any marker: %q", got)
	}
	if off := marker(t, p, 1, false); off != 6 {
		t.Fatalf("abort marker at %d, want 6", off)
	}
	if got := p.LastStableOffset(); got != 3 {
		t.Fatalf("LSO after the abort = %d, want 3 (producer 2 still open)", got)
	}
	if off := marker(t, p, 2, true); off != 7 {
		t.Fatalf("commit marker at %d, want 7", off)
	}
	mustAppend(t, p, kv("plain2", "x")) // 8
	if got := p.LastStableOffset(); got != 9 {
		t.Fatalf("LSO with nothing open = %d, want the HWM 9", got)
	}
	wantAborted := []AbortedTxn{{ProducerID: 1, FirstOffset: 1, LastOffset: 6}}
	check := func(p *Partition) {
		t.Helper()
		if got := keysOf(readAll(t, p, 0)); !slices.Equal(got, []string{"plain0", "c1", "plain1", "plain2"}) {
			t.Fatalf("committed read: %q", got)
		}
		if got := p.AbortedTxns(0, 9); !slices.Equal(got, wantAborted) {
			t.Fatalf("AbortedTxns(0, 9) = %v, want %v", got, wantAborted)
		}
		if got := p.AbortedTxns(7, 9); len(got) != 0 {
			t.Fatalf("AbortedTxns(7, 9) = %v, want none (the marker is at 6)", got)
		}
		if got := p.AbortedTxns(0, 1); len(got) != 0 {
			t.Fatalf("AbortedTxns(0, 1) = %v, want none (it starts at 1)", got)
		}
		if got, hw := p.LastStableOffset(), p.HighWatermark(); got != hw {
			t.Fatalf("LSO = %d, want the HWM %d", got, hw)
		}
	}
	check(p)
	// A repeated marker (a retried EndTxn) changes nothing.
	marker(t, p, 1, false)
	if got := p.AbortedTxns(0, 100); !slices.Equal(got, wantAborted) {
		t.Fatalf("after a repeated marker: %v", got)
	}
	// Reopening rebuilds the same state from the log.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p2 := mustOpen(t, "/p", testConfig(t, fs, clock))
	check(p2)
}

func TestTransactionOpenAcrossReopen(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	clock := newFakeClock()
	p := mustOpen(t, "/p", testConfig(t, fs, clock))
	mustAppend(t, p, kv("plain", "x"))
	if _, err := fs.Open("/p/" + TxnSentinel); err == nil {
		t.Fatal("a partition without transactions is marked transactional")
	}
	appendTxn(t, p, 9, 0, kv("open", "x"))
	if _, err := fs.Open("/p/" + TxnSentinel); err != nil {
		t.Fatalf("the first transactional batch did not mark the partition: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p = mustOpen(t, "/p", testConfig(t, fs, clock))
	if got := p.OpenTxns(); !slices.Equal(got, []OpenTxn{{ProducerID: 9, FirstOffset: 1}}) {
		t.Fatalf("open transactions after reopen: %v", got)
	}
	if got := p.LastStableOffset(); got != 1 {
		t.Fatalf("LSO = %d, want 1", got)
	}
	// A reader parked at the LSO wakes when the transaction ends.
	wake := p.Notify()
	marker(t, p, 9, false)
	select {
	case <-wake:
	default:
		t.Fatal("the marker did not wake readers")
	}
	if got := keysOf(readAll(t, p, 0)); !slices.Equal(got, []string{"plain"}) {
		t.Fatalf("read after the abort: %q", got)
	}
	if got := p.LastStableOffset(); got != 3 {
		t.Fatalf("LSO after the abort = %d, want 3", got)
	}
}

func TestParseControlKey(t *testing.T) {
	for _, tc := range []struct {
		key  []byte
		want int16
		ok   bool
	}{
		{[]byte{0, 0, 0, 0}, ControlAbort, true},
		{[]byte{0, 0, 0, 1}, ControlCommit, true},
		{[]byte{0, 1, 0, 1}, 0, false},
		{[]byte{0, 0}, 0, false},
		{nil, 0, false},
	} {
		got, err := ParseControlKey(tc.key)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseControlKey(% x) = %d, %v", tc.key, got, err)
		}
	}
}

// TestCompactionWithTransactions: compaction drops aborted records instead
// of letting them shadow a committed value of their key, keeps markers,
// and leaves segments at or past the last stable offset alone.
func TestCompactionWithTransactions(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	clock := newFakeClock()
	cfg := testConfig(t, fs, clock)
	cfg.SegmentBytes = 300
	cfg.Compact = true
	p := mustOpen(t, "/p", cfg)
	mustAppend(t, p, kv("k", "committed-1"))
	appendTxn(t, p, 1, 0, kv("k", "aborted"), kv("only-aborted", "x"))
	marker(t, p, 1, false)
	appendTxn(t, p, 2, 0, kv("j", "committed-2"))
	marker(t, p, 2, true)
	for i := range 12 {
		mustAppend(t, p, kv(fmt.Sprintf("filler%d", i), "................................"))
	}
	// An open transaction in a later segment pins the LSO.
	appendTxn(t, p, 3, 0, kv("k", "open"))
	for i := range 12 {
		mustAppend(t, p, kv(fmt.Sprintf("after%d", i), "................................"))
	}
	if n := len(*p.segs.Load()); n < 4 {
		t.Fatalf("test setup: %d segments", n)
	}
	lso := p.LastStableOffset()
	before := p.OpenTxns()
	if err := p.RunMaintenance(clock.Now()); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range readAll(t, p, 0) {
		got[string(r.Key)] = string(r.Value)
	}
	if got["k"] != "committed-1" || got["j"] != "committed-2" {
		t.Fatalf("after compaction: k=%q j=%q, want the committed values", got["k"], got["j"])
	}
	if _, ok := got["only-aborted"]; ok {
		t.Fatal("an aborted record is visible after compaction")
	}
	if p.LastStableOffset() != lso || !slices.Equal(p.OpenTxns(), before) {
		t.Fatalf("compaction changed the open transactions: LSO %d -> %d", lso, p.LastStableOffset())
	}
	// The markers survive (a reopen rebuilds the same index), and the
	// open transaction's records are untouched: committing it shows them.
	marker(t, p, 3, true)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p = mustOpen(t, "/p", cfg)
	got = map[string]string{}
	for _, r := range readAll(t, p, 0) {
		got[string(r.Key)] = string(r.Value)
	}
	if got["k"] != "open" || got["after11"] == "" {
		t.Fatalf("after commit and reopen: k=%q after11=%q", got["k"], got["after11"])
	}
}

// TestAbortedIndexPrunedByRetention: retention that deletes an aborted
// transaction's marker drops its index entry.
func TestAbortedIndexPrunedByRetention(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	clock := newFakeClock()
	cfg := testConfig(t, fs, clock)
	cfg.SegmentBytes = 300
	cfg.RetentionBytes = 600
	p := mustOpen(t, "/p", cfg)
	appendTxn(t, p, 1, 0, kv("a", "x"))
	marker(t, p, 1, false)
	for i := range 30 {
		mustAppend(t, p, kv(fmt.Sprintf("filler%d", i), "................................"))
	}
	if got := p.AbortedTxns(0, p.HighWatermark()); len(got) != 1 {
		t.Fatalf("before retention: %v", got)
	}
	if err := p.RunMaintenance(clock.Now()); err != nil {
		t.Fatal(err)
	}
	if p.LogStartOffset() <= 1 {
		t.Fatalf("test setup: retention kept the log start at %d", p.LogStartOffset())
	}
	if n := len(p.txn.aborted); n != 0 {
		t.Fatalf("%d aborted entries kept below the log start", n)
	}
}

// TestRetentionKeepsOpenTransactions: retention does not delete a segment
// holding an open transaction's records (the LSO would fall below the log
// start and stall read_committed readers); once it ends, it may.
func TestRetentionKeepsOpenTransactions(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	clock := newFakeClock()
	cfg := testConfig(t, fs, clock)
	cfg.SegmentBytes = 300
	cfg.RetentionBytes = 600
	p := mustOpen(t, "/p", cfg)
	appendTxn(t, p, 1, 0, kv("open", "x"))
	for i := range 30 {
		mustAppend(t, p, kv(fmt.Sprintf("filler%d", i), "................................"))
	}
	if err := p.RunMaintenance(clock.Now()); err != nil {
		t.Fatal(err)
	}
	if p.LogStartOffset() != 0 || p.LastStableOffset() != 0 {
		t.Fatalf("retention with an open transaction: log start %d, LSO %d; want both 0", p.LogStartOffset(), p.LastStableOffset())
	}
	marker(t, p, 1, true)
	if err := p.RunMaintenance(clock.Now()); err != nil {
		t.Fatal(err)
	}
	if p.LogStartOffset() == 0 {
		t.Fatal("retention kept everything after the transaction ended")
	}
}
