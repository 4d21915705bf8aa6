package client

import (
	"context"
	"testing"
	"time"
)

// TestAttemptContextRenew: a context that no lookup asked for is kept for
// the next attempt; one a lookup used is replaced, and a goroutine still
// holding it sees its attempt end (cancelled), not a fresh context.
func TestAttemptContextRenew(t *testing.T) {
	a := &attemptContext{parent: context.Background()}
	first := a.renew(time.Minute)
	if first != a {
		t.Fatal("an unused attempt context was replaced")
	}
	if !first.stop().IsZero() {
		t.Fatal("an attempt without lookups reported a start")
	}
	held := context.Context(first) // what a lookup keeps
	if held.Err() != nil {
		t.Fatalf("a fresh attempt is already over: %v", held.Err())
	}
	if first.stop().IsZero() {
		t.Fatal("an attempt whose lookup asked for the context reported no start")
	}
	second := first.renew(time.Minute)
	if second == first {
		t.Fatal("a used attempt context was reused for the next attempt")
	}
	if held.Err() == nil {
		t.Fatal("the earlier attempt's lookup sees a live context after the attempt ended")
	}
	if second.Err() != nil {
		t.Fatalf("the next attempt starts over: %v", second.Err())
	}
	if d, ok := second.Deadline(); !ok || time.Until(d) > time.Minute {
		t.Fatalf("the next attempt's deadline: %v %v", d, ok)
	}
}
