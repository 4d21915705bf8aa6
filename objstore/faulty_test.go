package objstore_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/objstore"
	"github.com/sluicehq/sluice/objstore/objstoretest"
)

func TestFaultyConformanceWithoutFaults(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Store { return objstore.NewFaulty(newDir(t), 1) })
}

func TestFaultyErrorRate(t *testing.T) {
	f := objstore.NewFaulty(newDir(t), 1)
	ctx := context.Background()
	f.Set(objstore.OpPut, objstore.Fault{ErrorRate: 1})
	err := f.Put(ctx, "k", []byte("v"))
	var ie *objstore.InjectedError
	if !errors.As(err, &ie) || ie.Applied || ie.Op != objstore.OpPut || !errors.Is(err, objstore.ErrInjected) {
		t.Fatalf("Put at error rate 1: %v, want an unapplied *InjectedError", err)
	}
	if _, err := f.Inner().GetRange(ctx, "k", 0, -1); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("a failed Put reached the store: %v", err)
	}
	// Other operations are untouched.
	if _, err := f.List(ctx, ""); err != nil {
		t.Fatal(err)
	}
	// About half fail at rate 0.5 (the seed makes it repeatable).
	f.Set(objstore.OpPut, objstore.Fault{ErrorRate: 0.5})
	failed := 0
	for range 200 {
		if f.Put(ctx, "k", []byte("v")) != nil {
			failed++
		}
	}
	if failed < 60 || failed > 140 {
		t.Fatalf("%d of 200 failed at rate 0.5", failed)
	}
	if c := f.Counts(objstore.OpPut); c.Calls != 201 || c.Failed != int64(failed)+1 {
		t.Fatalf("counts %+v, want 201 calls and %d failed", c, failed+1)
	}
	f.Heal()
	if err := f.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatalf("after Heal: %v", err)
	}
}

func TestFaultyLostResponse(t *testing.T) {
	f := objstore.NewFaulty(newDir(t), 1)
	ctx := context.Background()
	f.Set(objstore.OpPut, objstore.Fault{LostResponseRate: 1})
	err := f.Put(ctx, "k", []byte("applied"))
	var ie *objstore.InjectedError
	if !errors.As(err, &ie) || !ie.Applied {
		t.Fatalf("Put with a lost response: %v, want an applied *InjectedError", err)
	}
	got, err := f.GetRange(ctx, "k", 0, -1)
	if err != nil || string(got) != "applied" {
		t.Fatalf("the object of a Put whose response was lost: %q, %v", got, err)
	}
	f.Set(objstore.OpDelete, objstore.Fault{LostResponseRate: 1})
	if err := f.Delete(ctx, "k"); !errors.As(err, &ie) || !ie.Applied {
		t.Fatalf("Delete with a lost response: %v", err)
	}
	if _, err := f.GetRange(ctx, "k", 0, -1); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("Delete with a lost response did not delete: %v", err)
	}
}

func TestFaultyStallEndsWithContext(t *testing.T) {
	f := objstore.NewFaulty(newDir(t), 1)
	f.SetAll(objstore.Fault{Stall: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Put(ctx, "k", []byte("v")) }()
	select {
	case err := <-done:
		t.Fatalf("a stalled Put returned before its context ended: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("stalled Put after cancel: %v, want context.Canceled", err)
	}
	if c := f.Counts(objstore.OpPut); c.Stalled != 1 {
		t.Fatalf("counts %+v", c)
	}
	if _, err := f.Inner().GetRange(context.Background(), "k", 0, -1); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("a stalled Put reached the store: %v", err)
	}
}

func TestFaultyFuncAndLatency(t *testing.T) {
	f := objstore.NewFaulty(newDir(t), 1)
	ctx := context.Background()
	boom := errors.New("SlowDown")
	var seen []string
	f.Set(objstore.OpGet, objstore.Fault{Func: func(op objstore.Op, key string) error {
		seen = append(seen, op.String()+" "+key)
		if key == "bad" {
			return boom
		}
		return nil
	}})
	if err := f.Put(ctx, "good", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.GetRange(ctx, "bad", 0, -1); !errors.Is(err, boom) {
		t.Fatalf("Func's error: %v", err)
	}
	if _, err := f.GetRange(ctx, "good", 0, -1); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen, []string{"get bad", "get good"}) {
		t.Fatalf("Func saw %q", seen)
	}
	// A latency longer than the context's deadline ends with the deadline.
	f.Set(objstore.OpList, objstore.Fault{Latency: func() time.Duration { return time.Hour }})
	dctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := f.List(dctx, ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("List behind an hour of latency: %v, want DeadlineExceeded", err)
	}
}

func TestLatencyPercentiles(t *testing.T) {
	draw := objstore.LatencyPercentiles(100*time.Millisecond, 200*time.Millisecond, 7)
	ds := make([]time.Duration, 20000)
	for i := range ds {
		ds[i] = draw()
	}
	slices.Sort(ds)
	p50, p99 := ds[len(ds)/2], ds[len(ds)*99/100]
	if p50 < 95*time.Millisecond || p50 > 105*time.Millisecond || p99 < 185*time.Millisecond || p99 > 215*time.Millisecond {
		t.Fatalf("p50 %v p99 %v, want about 100ms and 200ms", p50, p99)
	}
	fixed := objstore.LatencyPercentiles(5*time.Millisecond, 0, 1)
	if d := fixed(); d != 5*time.Millisecond {
		t.Fatalf("p99 below p50: %v, want a fixed 5ms", d)
	}
}
