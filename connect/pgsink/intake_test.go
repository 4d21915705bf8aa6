package pgsink

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestIntakeFullBatchWaits: consumers putting into a full batch wait until
// the filler takes it (every waiting consumer, not just one), or until
// their context ends; nothing is lost or reordered within a consumer.
func TestIntakeFullBatchWaits(t *testing.T) {
	in := newIntake(4)
	ctx := context.Background()
	for i := range 4 {
		if err := in.put(ctx, []message{{Offset: int64(i)}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for p := range 3 { // three consumers, each waiting with one record
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := in.put(ctx, []message{{Partition: int32(p + 1), Offset: 10}}, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	if n := in.len(); n != 4 {
		t.Fatalf("a put went into a full batch: %d records", n)
	}
	b := in.take()
	for i, m := range b.msgs {
		if m.Offset != int64(i) || m.Partition != 0 {
			t.Fatalf("record %d of the first batch: %+v", i, m)
		}
	}
	wg.Wait() // all three were woken by the one take
	b2 := in.take()
	if len(b2.msgs) != 3 {
		t.Fatalf("second batch: %d records, want the 3 waiting ones", len(b2.msgs))
	}

	// A consumer waiting on a full batch stops with its context.
	for in.len() < 4 {
		in.put(ctx, []message{{}}, nil)
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- in.put(cctx, []message{{}}, nil) }()
	time.Sleep(10 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("put into a full batch returned nil after its context ended")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("put into a full batch did not stop with its context")
	}
	if n := in.len(); n != 4 {
		t.Fatalf("the cancelled put added a record: %d", n)
	}
}

// TestIntakeRecycle: a written batch's buffers come back empty (no
// reference to its records) and are used for a later batch.
func TestIntakeRecycle(t *testing.T) {
	in := newIntake(8)
	ctx := context.Background()
	in.put(ctx, []message{{RawValue: []byte("x")}}, nil)
	b := in.take()
	b.ops = append(b.ops, op{m: &b.msgs[0]})
	chunk := append(make([]byte, 0, arenaSize), "enc"...)
	b.arenas = append(b.arenas, chunk)
	in.recycle(b)
	if len(b.msgs) != 0 || b.msgs[:1][0].RawValue != nil || b.ops[:1][0].m != nil || len(b.arenas) != 0 ||
		b.arenas[:1][0] != nil {
		t.Fatalf("recycled buffers keep the batch: %+v", b)
	}
	// Its arena chunk is handed out again, empty.
	if c := in.chunk(); len(c) != 0 || cap(c) != arenaSize || &c[:1][0] != &chunk[0] {
		t.Fatalf("the recycled chunk was not reused")
	}
	in.take() // the batch filled meanwhile (empty), replaced by the recycled one
	in.put(ctx, []message{{Offset: 7}}, nil)
	if got := in.take(); got != b || got.msgs[0].Offset != 7 {
		t.Fatalf("the recycled buffers were not reused")
	}
}

// TestIntakePutSplits: the records of one put that do not fit in the batch
// being filled go, in order, to the next one (the put waits for it), and
// the filler is woken when a put crosses a multiple of readyEvery.
func TestIntakePutSplits(t *testing.T) {
	in := newIntake(5)
	ctx := context.Background()
	ms := make([]message, 12)
	for i := range ms {
		ms[i].Offset = int64(i)
	}
	done := make(chan error, 1)
	go func() { done <- in.put(ctx, ms, nil) }()
	var got []int64
	for len(got) < len(ms) {
		<-in.ready
		if in.len() < 5 && len(got)+in.len() < len(ms) {
			continue // not full yet: the put goes on
		}
		for _, m := range in.take().msgs {
			got = append(got, m.Offset)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i, o := range got {
		if o != int64(i) {
			t.Fatalf("records taken in the order %v", got)
		}
	}

	big := newIntake(4 * readyEvery)
	big.put(ctx, make([]message, readyEvery-1), nil) // the first records wake
	<-big.ready
	big.put(ctx, make([]message, 1), nil) // 255 -> 256: crosses readyEvery
	select {
	case <-big.ready:
	default:
		t.Fatal("no wake-up at readyEvery records")
	}
	big.put(ctx, make([]message, 10), nil) // 256 -> 266: no wake-up
	select {
	case <-big.ready:
		t.Fatal("a wake-up between two multiples of readyEvery")
	default:
	}
}
