package shared

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/broker/internal/log"
)

// setGate sets producer pid's transaction gate at epoch 0 to state, adding
// parts as members: the coordinator's part, which these tests play.
func setGate(t testing.TB, p *Partition, pid int64, state TxnGate, parts ...*Partition) {
	t.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, p.l.pool, func(tx pgx.Tx) error {
		if err := SetTxnGate(ctx, tx, pid, 0, state); err != nil {
			return err
		}
		return AddTxnMembers(ctx, tx, pid, parts)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// beginTxn opens producer pid's transaction (epoch 0) on p.
func beginTxn(t testing.TB, p *Partition, pid int64) { setGate(t, p, pid, GateOngoing, p) }

// endTxn writes producer pid's marker on p as a coordinator does: the
// gate prepared with the outcome, the marker, the gate closed.
func endTxn(t testing.TB, p *Partition, pid int64, commit bool) (int64, error) {
	t.Helper()
	state := GatePrepareAbort
	if commit {
		state = GatePrepareCommit
	}
	setGate(t, p, pid, state)
	off, err := p.WriteTxnMarker(context.Background(), pid, 0, commit, 0)
	setGate(t, p, pid, GateClosed)
	return off, err
}

// values reads p from offset from as a read_committed record reader does
// (Read) and returns the values.
func values(t *testing.T, p *Partition, from int64) []string {
	t.Helper()
	recs, err := p.Read(from, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Value)
	}
	return out
}

// checkOffsets checks p's high watermark and last stable offset.
func checkOffsets(t *testing.T, who string, p *Partition, hw, lso int64) {
	t.Helper()
	if got := p.HighWatermark(); got != hw {
		t.Fatalf("%s: high watermark %d, want %d", who, got, hw)
	}
	if got := p.LastStableOffset(); got != lso {
		t.Fatalf("%s: last stable offset %d, want %d", who, got, lso)
	}
}

// A transaction opened on one node is seen on the others with the high
// watermark that covers it: read_committed reads stop at its first
// offset; a commit marker written on another node releases its records,
// an abort hides them (the aborted index), and a node that opens the
// partition later learns all of it from PostgreSQL.
func TestTransactionsAcrossNodes(t *testing.T) {
	c := newCluster(t)
	a, b := c.node("a", nil), c.node("b", nil)
	pa, pb := openPart(t, a, "t", 0), openPart(t, b, "t", 0)
	ctx := context.Background()
	if _, err := pa.Append(ctx, recs("plain", 0, 1)); err != nil {
		t.Fatal(err)
	}
	beginTxn(t, pa, 7)
	off, err := pa.AppendBatch(ctx, txnBatch(t, 7, 0, 2))
	if err != nil || off != 1 {
		t.Fatalf("transactional batch: offset %d, %v; want 1", off, err)
	}
	checkOffsets(t, "node a, producer 7's transaction open", pa, 3, 1)
	waitHW(t, pb, 3)
	checkOffsets(t, "node b, producer 7's transaction open", pb, 3, 1)
	if got, want := values(t, pb, 0), []string{"plain-0"}; !slices.Equal(got, want) {
		t.Fatalf("node b reads %q before the commit, want %q", got, want)
	}
	if open := pb.OpenTxns(); len(open) != 1 || open[0] != (log.OpenTxn{ProducerID: 7, FirstOffset: 1}) {
		t.Fatalf("open transactions %v, want producer 7 from offset 1", open)
	}

	// The commit marker, written through node b.
	m, err := endTxn(t, pb, 7, true)
	if err != nil || m != 3 {
		t.Fatalf("commit marker: offset %d, %v; want 3", m, err)
	}
	checkOffsets(t, "node b, after the commit", pb, 4, 4)
	committed := []string{"plain-0", "p7-0", "p7-1"}
	if got := values(t, pb, 0); !slices.Equal(got, committed) {
		t.Fatalf("node b reads %q after the commit, want %q", got, committed)
	}
	waitHW(t, pa, 4)
	checkOffsets(t, "node a, after the commit", pa, 4, 4)

	// Producer 8's transaction, aborted.
	beginTxn(t, pa, 8)
	if off, err := pa.AppendBatch(ctx, txnBatch(t, 8, 0, 2)); err != nil || off != 4 {
		t.Fatalf("transactional batch: offset %d, %v; want 4", off, err)
	}
	if m, err := endTxn(t, pa, 8, false); err != nil || m != 6 {
		t.Fatalf("abort marker: offset %d, %v; want 6", m, err)
	}
	waitHW(t, pb, 7)
	checkOffsets(t, "node b, after the abort", pb, 7, 7)
	wantAborted := []log.AbortedTxn{{ProducerID: 8, FirstOffset: 4, LastOffset: 6}}
	for _, p := range []*Partition{pa, pb} {
		if got := p.AbortedTxns(0, 7); !slices.Equal(got, wantAborted) {
			t.Fatalf("aborted transactions %v, want %v", got, wantAborted)
		}
		if got := p.AbortedTxns(0, 4); len(got) != 0 {
			t.Fatalf("aborted transactions before offset 4: %v, want none", got)
		}
		if got := values(t, p, 0); !slices.Equal(got, committed) {
			t.Fatalf("reads %q after the abort, want %q", got, committed)
		}
	}

	// Producer 9's transaction left open; a node opening the partition now.
	beginTxn(t, pa, 9)
	if _, err := pa.AppendBatch(ctx, txnBatch(t, 9, 0, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := pa.Append(ctx, recs("after", 0, 1)); err != nil {
		t.Fatal(err)
	}
	pc := openPart(t, c.node("c", nil), "t", 0)
	checkOffsets(t, "node c, opened with producer 9's transaction open", pc, 9, 7)
	if got := pc.AbortedTxns(0, 7); !slices.Equal(got, wantAborted) {
		t.Fatalf("node c: aborted transactions %v, want %v", got, wantAborted)
	}
	if got := values(t, pc, 0); !slices.Equal(got, committed) {
		t.Fatalf("node c reads %q, want %q", got, committed)
	}
	if m, err := endTxn(t, pc, 9, true); err != nil || m != 9 {
		t.Fatalf("commit marker: offset %d, %v; want 9", m, err)
	}
	want := append(slices.Clone(committed), "p9-0", "after-0")
	waitHW(t, pa, 10)
	for _, p := range []*Partition{pa, pc} {
		checkOffsets(t, "after producer 9's commit", p, 10, 10)
		if got := values(t, p, 0); !slices.Equal(got, want) {
			t.Fatalf("reads %q, want %q", got, want)
		}
	}
}

// A node's own commit answers the transaction state with the high
// watermark: right after its append returns, before any notification of
// the other node's commit could have reached it, its last stable offset
// does not pass the transaction the other node opened first.
func TestTransactionStateComesWithTheHighWatermark(t *testing.T) {
	c := newCluster(t)
	a, b := c.node("a", nil), c.node("b", nil)
	pa, pb := openPart(t, a, "t", 0), openPart(t, b, "t", 0)
	ctx := context.Background()
	for i := range 20 {
		pid := int64(100 + i)
		beginTxn(t, pa, pid)
		first, err := pa.AppendBatch(ctx, txnBatch(t, pid, 0, 1))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pb.Append(ctx, recs(fmt.Sprint("b", i), 0, 1)); err != nil {
			t.Fatal(err)
		}
		if lso := pb.LastStableOffset(); lso > first {
			t.Fatalf("round %d: node b's last stable offset is %d, past producer %d's open transaction at %d", i, lso, pid, first)
		}
		if _, err := endTxn(t, pa, pid, i%2 == 0); err != nil {
			t.Fatal(err)
		}
	}
}

// A control batch from a client is refused: only the coordinator writes
// markers.
func TestControlBatchRefused(t *testing.T) {
	c := newCluster(t)
	p := openPart(t, c.node("a", nil), "t", 0)
	b := txnBatch(t, 5, -1, 1)
	raw := append([]byte(nil), b.Bytes()...)
	raw[22] |= 0x20 // control
	raw = fixCRC(raw)
	ctrl, _, err := log.ParseBatch(raw, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.EnqueueBatch(ctrl); !errors.Is(err, ErrControlBatch) {
		t.Fatalf("control batch: %v, want ErrControlBatch", err)
	}
}

// txnBatch is producer pid's transactional batch of n records from
// sequence seq (epoch 0).
func txnBatch(t *testing.T, pid int64, seq int32, n int) *log.Batch {
	t.Helper()
	raw := append([]byte(nil), producerBatch{pid, 0, seq, n}.encode(t).Bytes()...)
	raw[22] |= 0x10 // attributes: transactional
	b, _, err := log.ParseBatch(fixCRC(raw), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixCRC recomputes a batch's CRC-32C after its header was edited.
func fixCRC(raw []byte) []byte {
	crc := crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli))
	raw[17], raw[18], raw[19], raw[20] = byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc)
	return raw
}

// A transaction state read before the one held (a poll that read the row
// before a newer notification) is not taken.
func TestStaleTransactionStateIgnored(t *testing.T) {
	c := newCluster(t)
	p := openPart(t, c.node("a", nil), "t", 0)
	p.advanceTxn(10, 5, -1)
	p.advance(10, -1, -1)
	p.advanceTxn(8, -1, -1) // older: the transaction at 5 was not yet open
	if lso := p.LastStableOffset(); lso != 5 {
		t.Fatalf("last stable offset %d after a stale state, want 5", lso)
	}
	p.advanceTxn(12, -1, -1)
	p.advance(12, -1, -1)
	if lso := p.LastStableOffset(); lso != 12 {
		t.Fatalf("last stable offset %d, want 12", lso)
	}
}

// Key compaction of a partition holding transactions leaves what the local
// log's leaves: an aborted transaction's records go, markers stay, keys
// of committed transactions count, and nothing from the oldest open
// transaction on is compacted.
func TestKeyCompactionWithTransactionsLikeLocalLog(t *testing.T) {
	c := newCluster(t)
	l := c.node("kc", func(cfg *Config) {
		cfg.MergeAge = time.Millisecond
		cfg.GCGrace = time.Millisecond
	})
	ctx := context.Background()
	now := func() time.Time { return time.UnixMilli(compactBase).Add(-time.Hour) }
	local, err := log.Open(t.TempDir(), log.Config{Fsync: log.FsyncPolicy{Mode: log.FsyncNever}, MaintenanceInterval: -1,
		Compact: true, DeleteRetention: time.Hour, SegmentAge: time.Millisecond, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	sh, err := l.Partition(ctx, "kc-txn", 0, log.Config{Compact: true, DeleteRetention: time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	step := func(what string, lf func() (int64, error), sf func() (int64, error)) {
		t.Helper()
		lo, lerr := lf()
		so, serr := sf()
		if lerr != nil || serr != nil || lo != so {
			t.Fatalf("%s: local %d %v, shared %d %v", what, lo, lerr, so, serr)
		}
	}
	plain := func(who string, from, n int) {
		step("append "+who, func() (int64, error) { return local.Append(ctx, recs(who, from, n)) },
			func() (int64, error) { return sh.Append(ctx, recs(who, from, n)) })
	}
	txn := func(pid int64, n int) {
		beginTxn(t, sh, pid)
		step(fmt.Sprint("transaction of ", pid), func() (int64, error) { return local.AppendBatch(ctx, txnBatch(t, pid, 0, n)) },
			func() (int64, error) { return sh.AppendBatch(ctx, txnBatch(t, pid, 0, n)) })
	}
	marker := func(pid int64, commit bool) {
		step(fmt.Sprint("marker of ", pid), func() (int64, error) { return local.WriteTxnMarker(ctx, pid, 0, commit, 0) },
			func() (int64, error) { return endTxn(t, sh, pid, commit) })
	}
	plain("a", 0, 4) // keys k0..k3
	txn(7, 3)        // k0..k2, committed: they replace a's
	marker(7, true)  //
	txn(8, 2)        // k0, k1, aborted: they must not replace p7's
	plain("b", 3, 2) // k3, k4
	marker(8, false) //
	plain("c", 4, 1) // k4
	txn(9, 2)        // k0, k1, left open: no row holding it or after is compacted
	plain("d", 0, 2) // k0, k1
	compact := func(what string) (before, after int) {
		t.Helper()
		time.Sleep(5 * time.Millisecond) // the intake objects pass MergeAge
		at := time.UnixMilli(compactBase)
		b, _, _ := sh.ReadBatches(nil, 0, 1<<20, true)
		if err := local.RunMaintenance(at); err != nil {
			t.Fatal(err)
		}
		if err := sh.RunMaintenance(at); err != nil {
			t.Fatal(err)
		}
		a, _, _ := sh.ReadBatches(nil, 0, 1<<20, true)
		compareLogs(t, what, local, sh)
		return len(b), len(a)
	}
	compact("with producer 9's transaction open")
	marker(9, true)
	plain("e", 5, 1) // k5
	if before, after := compact("after producer 9's commit"); after >= before {
		t.Fatalf("compaction dropped nothing (%d bytes, then %d): the test tests nothing", before, after)
	}
}

// PostgreSQL killed with a transaction open and one aborted: the state
// comes back with the log, on the node that wrote it and on a node that
// opens the partition after the restart.
func TestTransactionStateSurvivesPostgresKill(t *testing.T) {
	srv, c := newKillableCluster(t)
	a := c.node("a", func(cfg *Config) { cfg.CommitTimeout = 20 * time.Second })
	pa := openPart(t, a, "t", 0)
	ctx := context.Background()
	beginTxn(t, pa, 8)
	if _, err := pa.AppendBatch(ctx, txnBatch(t, 8, 0, 2)); err != nil { // 0-1
		t.Fatal(err)
	}
	if _, err := endTxn(t, pa, 8, false); err != nil { // 2
		t.Fatal(err)
	}
	beginTxn(t, pa, 9)
	if _, err := pa.AppendBatch(ctx, txnBatch(t, 9, 0, 1)); err != nil { // 3, left open
		t.Fatal(err)
	}
	if _, err := pa.Append(ctx, recs("plain", 0, 1)); err != nil { // 4
		t.Fatal(err)
	}
	srv.Kill()
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	wantAborted := []log.AbortedTxn{{ProducerID: 8, FirstOffset: 0, LastOffset: 2}}
	pb := openPart(t, c.node("b", func(cfg *Config) { cfg.Pool = openPool(t, c.url) }), "t", 0)
	for _, p := range []*Partition{pa, pb} {
		if err := p.refresh(ctx); err != nil {
			t.Fatal(err)
		}
		checkOffsets(t, "after the restart", p, 5, 3)
		if got := p.AbortedTxns(0, 5); !slices.Equal(got, wantAborted) {
			t.Fatalf("aborted transactions %v after the restart, want %v", got, wantAborted)
		}
		if got := values(t, p, 0); len(got) != 0 {
			t.Fatalf("reads %q after the restart, want nothing (aborted, then open)", got)
		}
	}
	if _, err := endTxn(t, pb, 9, true); err != nil { // 5
		t.Fatal(err)
	}
	waitHW(t, pa, 6)
	for _, p := range []*Partition{pa, pb} {
		checkOffsets(t, "after the commit", p, 6, 6)
		if got, want := values(t, p, 0), []string{"p9-0", "plain-0"}; !slices.Equal(got, want) {
			t.Fatalf("reads %q after the commit, want %q", got, want)
		}
	}
}

// FuzzApplyNotification feeds the listener's parser any payload: it never
// panics, and the partition's last stable offset stays at or below its
// high watermark. (Payloads come from this package's SQL, but a listener
// must survive another version's.)
func FuzzApplyNotification(f *testing.F) {
	for _, s := range []string{
		"0 12 topic-a",
		"txn 0 12 10 - topic-a\n0 12 topic-a",
		"txn 0 12 - 9 topic-a",
		"compacted 0 topic-a",
		"*",
		"",
		"txn 0 x 1 2 t",
		"txn -1 2 3 4",
		"1 2",
	} {
		f.Add(s)
	}
	c := newCluster(f)
	l := c.node("fuzz", nil)
	p := openPart(f, l, "topic-a", 0)
	f.Fuzz(func(t *testing.T, payload string) {
		l.applyNotification(payload)
		if lso, hw := p.LastStableOffset(), p.HighWatermark(); lso > hw {
			t.Fatalf("last stable offset %d above the high watermark %d after %q", lso, hw, payload)
		}
	})
}

// The transaction gate admits a producer's transactional batches only
// while its transaction is Ongoing with the partition added, at its epoch,
// and a marker only while it is prepared with that outcome; what it
// refuses is not written.
func TestTransactionGate(t *testing.T) {
	c := newCluster(t)
	l := c.node("a", nil)
	p, other := openPart(t, l, "t", 0), openPart(t, l, "t", 1)
	ctx := context.Background()
	refused := func(what string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Fatalf("%s: %v, want %v", what, err, want)
		}
		if hw := p.HighWatermark(); hw != 0 {
			t.Fatalf("%s: the high watermark moved to %d", what, hw)
		}
	}
	_, err := p.AppendBatch(ctx, txnBatch(t, 7, 0, 1))
	refused("a batch before the transaction is open", err, ErrBatchNotInTransaction)
	setGate(t, p, 7, GateOngoing, other)
	_, err = p.AppendBatch(ctx, txnBatch(t, 7, 0, 1))
	refused("a batch for a partition not added", err, ErrBatchNotInTransaction)
	_, err = p.WriteTxnMarker(ctx, 7, 0, true, 0)
	refused("a marker while the transaction is Ongoing", err, ErrMarkerRefused)
	beginTxn(t, p, 7) // p added
	err = pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error { return SetTxnGate(ctx, tx, 7, 1, GateOngoing) })
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.AppendBatch(ctx, txnBatch(t, 7, 0, 1))
	refused("a batch of an older epoch", err, log.ErrInvalidProducerEpoch)
	beginTxn(t, p, 7) // back to epoch 0
	if off, err := p.AppendBatch(ctx, txnBatch(t, 7, 0, 1)); err != nil || off != 0 {
		t.Fatalf("admitted batch: offset %d, %v", off, err)
	}
	setGate(t, p, 7, GatePrepareAbort)
	if _, err := p.AppendBatch(ctx, txnBatch(t, 7, 1, 1)); !errors.Is(err, ErrBatchNotInTransaction) {
		t.Fatalf("a batch after the transaction was prepared: %v", err)
	}
	if _, err := p.WriteTxnMarker(ctx, 7, 0, true, 0); !errors.Is(err, ErrMarkerRefused) {
		t.Fatalf("a commit marker of a transaction preparing to abort: %v", err)
	}
	if off, err := p.WriteTxnMarker(ctx, 7, 0, false, 0); err != nil || off != 1 {
		t.Fatalf("abort marker: offset %d, %v", off, err)
	}
	setGate(t, p, 7, GateClosed)
	if _, err := p.WriteTxnMarker(ctx, 7, 0, false, 0); !errors.Is(err, ErrMarkerRefused) {
		t.Fatalf("a marker after the transaction completed: %v", err)
	}
	checkOffsets(t, "after the abort", p, 2, 2)
}

// TestTransactionGateRefusesABatchCommittedAfterTheMarker forces the race
// that TestTransactionGateOrdersBatchesBeforeTheMarker leaves to timing: a
// transactional batch whose object is stored, its commit held until another
// node has written the transaction's commit marker, is refused when its
// commit runs (the gate is closed by then), and leaves no open transaction
// and nothing visible behind the marker.
func TestTransactionGateRefusesABatchCommittedAfterTheMarker(t *testing.T) {
	c := newCluster(t)
	la := c.node("a", nil)
	pa, pb := openPart(t, la, "t", 0), openPart(t, c.node("b", nil), "t", 0)
	ctx := context.Background()
	const pid = 300
	beginTxn(t, pa, pid)
	if _, err := pa.AppendBatch(ctx, txnBatch(t, pid, 0, 1)); err != nil {
		t.Fatal(err) // committed while the transaction is open: in it
	}
	reached, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	la.testBeforeCommit = func() {
		once.Do(func() {
			close(reached)
			<-release
		})
	}
	late := make(chan error, 1)
	go func() {
		_, err := pa.AppendBatch(ctx, txnBatch(t, pid, 1, 1))
		late <- err
	}()
	<-reached // the late batch's object is stored; its commit waits
	if _, err := endTxn(t, pb, pid, true); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-late; !errors.Is(err, ErrBatchNotInTransaction) {
		t.Fatalf("a batch committed after its transaction's marker: %v, want ErrBatchNotInTransaction", err)
	}
	if err := pb.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if open := pb.OpenTxns(); len(open) != 0 {
		t.Fatalf("transactions open after the marker: %v", open)
	}
	if got := len(values(t, pb, 0)); got != 1 {
		t.Fatalf("%d records visible, want the 1 committed in the transaction", got)
	}
}

// A producer's batches racing the coordinator's end of its transaction
// (on two nodes) land before the marker or are refused: no batch of it is
// left open after the marker. The partition's row lock orders them; the
// race is not forced, so a broken gate may pass some runs.
func TestTransactionGateOrdersBatchesBeforeTheMarker(t *testing.T) {
	c := newCluster(t)
	pa, pb := openPart(t, c.node("a", nil), "t", 0), openPart(t, c.node("b", nil), "t", 0)
	ctx := context.Background()
	for round := range 10 {
		pid := int64(200 + round)
		beginTxn(t, pa, pid)
		stop := make(chan struct{})
		done := make(chan int)
		go func() {
			n := 0
			for seq := int32(0); ; seq++ {
				select {
				case <-stop:
					done <- n
					return
				default:
				}
				if _, err := pa.AppendBatch(ctx, txnBatch(t, pid, seq, 1)); err != nil {
					if !errors.Is(err, ErrBatchNotInTransaction) {
						t.Errorf("round %d: batch %d: %v", round, seq, err)
					}
					done <- n
					return
				}
				n++
			}
		}()
		time.Sleep(time.Duration(round) * time.Millisecond)
		if _, err := endTxn(t, pb, pid, true); err != nil {
			t.Fatal(err)
		}
		close(stop)
		<-done
		if err := pb.refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if open := pb.OpenTxns(); len(open) != 0 {
			t.Fatalf("round %d: transactions open after the marker: %v", round, open)
		}
	}
}
