package shared

import (
	"context"
	"testing"
	"time"
)

// TestMergePacer: segment writes are charged to a budget of rate bytes a second;
// the next waits until it has been paid, idle time is not saved up, and no
// limit never waits.
func TestMergePacer(t *testing.T) {
	clock := time.Unix(1000, 0)
	m := &mergePacer{rate: 32 << 20, now: func() time.Time { return clock }}
	due := func() time.Duration { return m.next.Sub(clock) }

	m.spent(16 << 20) // half a second's budget
	if d := due(); d != 500*time.Millisecond {
		t.Fatalf("after 16 MiB at 32 MiB/s the next merge is due in %v, want 500ms", d)
	}
	m.spent(16 << 20)
	if d := due(); d != time.Second {
		t.Fatalf("after two merges of 16 MiB: due in %v, want 1s", d)
	}
	clock = clock.Add(10 * time.Second) // idle: no credit accumulates
	m.spent(8 << 20)
	if d := due(); d != 250*time.Millisecond {
		t.Fatalf("after an idle spell and 8 MiB: due in %v, want 250ms", d)
	}
	if err := m.wait(context.Background()); err != nil { // a real 250 ms wait on the real timer
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m.spent(1 << 30) // half a minute of budget: wait gives up with ctx
	if err := m.wait(ctx); err == nil {
		t.Fatal("wait with a cancelled context and a merge due in 32s returned nil")
	}

	free := &mergePacer{rate: -1, now: func() time.Time { return clock }}
	free.spent(1 << 40)
	if err := free.wait(ctx); err != nil {
		t.Fatalf("no limit: wait returned %v", err)
	}

	// take, as a segment's chunks are written: a chunk within the budget
	// goes at once and is charged; a cancelled wait charges nothing.
	chunks := &mergePacer{rate: 1 << 20, now: func() time.Time { return clock }}
	if err := chunks.take(context.Background(), 256<<10); err != nil {
		t.Fatal(err)
	}
	if d := chunks.next.Sub(clock); d != 250*time.Millisecond {
		t.Fatalf("after a first chunk of 256 KiB at 1 MiB/s: due in %v, want 250ms", d)
	}
	if err := chunks.take(ctx, 256<<10); err == nil {
		t.Fatal("take with a cancelled context and the budget spent returned nil")
	}
	if d := chunks.next.Sub(clock); d != 250*time.Millisecond {
		t.Fatalf("a cancelled take charged the budget: due in %v, want 250ms", d)
	}
}
