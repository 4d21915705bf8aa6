package shared

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/internal/log"
)

func TestRetentionAndGC(t *testing.T) {
	c := newCluster(t)
	edit := func(cfg *Config) {
		cfg.GCGrace = time.Millisecond
		cfg.PutTimeout, cfg.CommitTimeout, cfg.OrphanAge = time.Second, time.Second, 3*time.Second
	}
	a, b := c.node("a", edit), c.node("b", edit)
	ctx := context.Background()
	pa := openPart(t, a, "ret", 0)
	pb := openPart(t, b, "ret", 0)
	other := openPart(t, a, "ret", 1) // shares objects with partition 0
	val := bytes.Repeat([]byte("v"), 1000)
	var batchLen int64
	for i := range 10 {
		// Each append waits for its commit: one object per batch.
		if _, err := pa.Append(ctx, []log.Record{{Value: val, Timestamp: int64(1000 + i)}}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			raw, _, err := pa.ReadBatches(nil, 0, 1<<20, true)
			if err != nil {
				t.Fatal(err)
			}
			batchLen = int64(len(raw))
		}
	}
	// One object holding batches of both partitions.
	w1, _ := log.EncodeBatch([]log.Record{{Value: val, Timestamp: 2000}}, 1, 0, 0)
	w2, _ := log.EncodeBatch([]log.Record{{Value: val, Timestamp: 2000}}, 1, 0, 0)
	p1, err := pa.EnqueueBatch(w1)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := other.EnqueueBatch(w2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p1.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p2.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	waitHW(t, pb, 11)

	// Size: keep at least 3 batches' bytes.
	if err := pa.Reconfigure(log.Config{RetentionAge: -1, RetentionBytes: 3 * batchLen}); err != nil {
		t.Fatal(err)
	}
	if err := pa.RunMaintenance(time.Now()); err != nil {
		t.Fatal(err)
	}
	if s := pa.LogStartOffset(); s != 8 {
		t.Fatalf("log start after retention.bytes of 3 batches: %d, want 8", s)
	}
	if sz := pa.Size(); sz != 3*batchLen {
		t.Fatalf("size %d, want %d", sz, 3*batchLen)
	}
	if _, err := pa.Read(7, 0, 0); !errors.Is(err, log.ErrOffsetOutOfRange) {
		t.Fatalf("read below the start: %v", err)
	}
	// Time: everything older than ts 1009 goes (the batch at offset 9 has 1009).
	if err := pa.Reconfigure(log.Config{RetentionAge: time.Second}); err != nil {
		t.Fatal(err)
	}
	if err := pa.RunMaintenance(time.UnixMilli(1009 + 1000)); err != nil {
		t.Fatal(err)
	}
	if s := pa.LogStartOffset(); s != 9 {
		t.Fatalf("log start after retention.ms: %d, want 9", s)
	}
	// DeleteRecordsBefore.
	if _, err := pa.DeleteRecordsBefore(12); !errors.Is(err, log.ErrOffsetOutOfRange) {
		t.Fatalf("DeleteRecordsBefore past the high watermark: %v", err)
	}
	if s, err := pa.DeleteRecordsBefore(10); err != nil || s != 10 {
		t.Fatalf("DeleteRecordsBefore(10): %d, %v", s, err)
	}
	// Node b learns the new start (notification, or poll).
	deadline := time.Now().Add(10 * time.Second)
	for pb.LogStartOffset() != 10 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if s := pb.LogStartOffset(); s != 10 {
		t.Fatalf("node b's log start %d, want 10", s)
	}
	got, err := pb.Read(10, 0, 0)
	if err != nil || len(got) != 1 || got[0].Offset != 10 {
		t.Fatalf("node b reads from the start: %d records, %v", len(got), err)
	}

	// GC: the 10 single-batch objects are dead; the shared one is not.
	dead, _, err := a.CollectGarbage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	listed, err := c.dir.List(ctx, "wal/")
	if err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := c.pool.QueryRow(ctx, `SELECT count(*) FROM sharedlog_objects`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	// The last two batches went into one object (or, on a slow machine,
	// two): only what is still referenced is left.
	if len(listed) != rows || rows < 1 || rows > 2 {
		t.Fatalf("after GC (%d collected now): %d objects in the store, %d rows; want the one or two still referenced", dead, len(listed), rows)
	}
	// Reads of what is left work on both nodes, from the store.
	b.cache = newCache(1<<20, 4096)
	for _, p := range []*Partition{pa, pb} {
		if got, err := p.Read(10, 0, 0); err != nil || len(got) != 1 {
			t.Fatalf("read after GC: %d records, %v", len(got), err)
		}
	}
	if got, err := other.Read(0, 0, 0); err != nil || len(got) != 1 {
		t.Fatalf("partition 1 after GC: %d records, %v", len(got), err)
	}
}

func TestDeleteTopic(t *testing.T) {
	c := newCluster(t)
	a := c.node("a", func(cfg *Config) { cfg.GCGrace = time.Millisecond })
	b := c.node("b", func(cfg *Config) { cfg.Window = 500 * time.Millisecond })
	ctx := context.Background()
	doomed := openPart(t, a, "doomed", 0)
	if _, err := doomed.Append(ctx, recs("d", 0, 3)); err != nil {
		t.Fatal(err)
	}
	// On node b, one window holds batches of the doomed topic and of
	// another; the topic is deleted before it is committed.
	bd, bk := openPart(t, b, "doomed", 0), openPart(t, b, "kept", 0)
	w1, _ := log.EncodeBatch(recs("d", 3, 1), 1, 0, 0)
	w2, _ := log.EncodeBatch(recs("k", 0, 2), 1, 0, 0)
	pd, err := bd.EnqueueBatch(w1)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := bk.EnqueueBatch(w2)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := a.DeleteTopic(ctx, "doomed"); err != nil || n != 1 {
		t.Fatalf("DeleteTopic: %d, %v", n, err)
	}
	if _, err := pd.Wait(ctx); !errors.Is(err, ErrPartitionDeleted) {
		t.Fatalf("append to the deleted topic: %v, want ErrPartitionDeleted", err)
	}
	if base, err := pk.Wait(ctx); err != nil || base != 0 {
		t.Fatalf("append to the other topic in the same object: %d, %v", base, err)
	}
	if _, err := doomed.Append(ctx, recs("d", 0, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("append on the deleting node: %v, want ErrClosed", err)
	}
	got, err := Partitions(ctx, c.pool)
	if err != nil || len(got) != 1 || got[0].TopicID != "kept" {
		t.Fatalf("partitions after the delete: %+v, %v", got, err)
	}
	// The doomed topic's own object is dead and collected (by this call or
	// node a's background collector); node b's, holding "kept", stays.
	if _, _, err := a.CollectGarbage(ctx); err != nil {
		t.Fatal(err)
	}
	listed, err := c.dir.List(ctx, "wal/")
	if err != nil || len(listed) != 1 || !strings.HasPrefix(listed[0].Key, "wal/b/") {
		t.Fatalf("objects after the delete and GC: %+v, %v; want node b's only", listed, err)
	}
}

// With GCInterval < 0 the node collects nothing by itself: its caller does.
func TestNoBackgroundGC(t *testing.T) {
	c := newCluster(t)
	a := c.node("a", func(cfg *Config) {
		cfg.GCInterval, cfg.GCGrace, cfg.PollInterval = -1, time.Millisecond, 5*time.Millisecond
	})
	ctx := context.Background()
	p := openPart(t, a, "nogc", 0)
	for range 3 {
		if _, err := p.Append(ctx, recs("x", 0, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.DeleteRecordsBefore(3); err != nil {
		t.Fatal(err)
	}
	for polls := a.Stats().Polls; a.Stats().Polls < polls+5; {
		time.Sleep(5 * time.Millisecond)
	}
	if listed, err := c.dir.List(ctx, "wal/"); err != nil || len(listed) != 3 {
		t.Fatalf("before CollectGarbage: %d objects, %v; want the 3 dead ones still there", len(listed), err)
	}
	if dead, _, err := a.CollectGarbage(ctx); err != nil || dead != 3 {
		t.Fatalf("CollectGarbage: %d, %v", dead, err)
	}
}

// TestRetentionCompactDelete: retention.ms applies to a compacted
// partition under cleanup.policy=compact,delete, and not under compact
// alone.
func TestRetentionCompactDelete(t *testing.T) {
	c := newCluster(t)
	a := c.node("a", nil)
	ctx := context.Background()
	p := openPart(t, a, "cd", 0)
	for i := range 10 {
		if _, err := p.Append(ctx, []log.Record{{Key: fmt.Appendf(nil, "k%d", i), Value: []byte("v"), Timestamp: int64(1000 + i)}}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.UnixMilli(1009 + 1000) // everything older than ts 1009 has expired
	for _, tc := range []struct {
		compactDelete bool
		start         int64
	}{{false, 0}, {true, 9}} {
		if err := p.Reconfigure(log.Config{Compact: true, CompactDelete: tc.compactDelete, RetentionAge: time.Second}); err != nil {
			t.Fatal(err)
		}
		if err := p.RunMaintenance(now); err != nil {
			t.Fatal(err)
		}
		if s := p.LogStartOffset(); s != tc.start {
			t.Fatalf("compact-delete=%v: log start %d, want %d", tc.compactDelete, s, tc.start)
		}
	}
	got, err := p.Read(9, 0, 0)
	if err != nil || len(got) != 1 || string(got[0].Key) != "k9" {
		t.Fatalf("read from the new start: %v, %v", got, err)
	}
}
