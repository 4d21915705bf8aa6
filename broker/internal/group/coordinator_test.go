package group

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"
)

// TestCoordinatorWakesWatcher checks that an operation changing a member's
// answer wakes that member's watcher, and that Do fails after Close.
func TestCoordinatorWakesWatcher(t *testing.T) {
	n := 0
	c := NewCoordinator(Config{NewMemberID: func() string { n++; return "m" + strconv.Itoa(n) }})
	ctx := context.Background()
	now := time.Unix(0, 0)
	topics := Topics{"a": 2}
	var first HeartbeatResponse
	var err error
	c.Do(ctx, func(s *State) {
		first, err = s.Heartbeat(now, topics, HeartbeatRequest{Group: "g", Sub: &Subscription{Topics: []string{"a"}}, Managed: true})
	})
	if err != nil || len(first.Assignment) != 2 {
		t.Fatalf("join: %+v, %v", first, err)
	}
	wake, unwatch, err := c.Watch(ctx, "g", first.MemberID)
	if err != nil {
		t.Fatal(err)
	}
	defer unwatch()
	c.Do(ctx, func(s *State) {
		_, err = s.Heartbeat(now, topics, HeartbeatRequest{Group: "g", Sub: &Subscription{Topics: []string{"a"}}})
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-wake:
	case <-time.After(10 * time.Second):
		t.Fatal("the first member was not woken when a second joined")
	}
	c.Close()
	c.Close()
	if err := c.Do(ctx, func(*State) {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Do after Close: %v, want ErrClosed", err)
	}
}

// TestCoordinatorWakesFencedWatcher checks that a static member replaced by
// a newer incarnation has its watcher woken, so its stream stops.
func TestCoordinatorWakesFencedWatcher(t *testing.T) {
	n := 0
	c := NewCoordinator(Config{NewMemberID: func() string { n++; return "m" + strconv.Itoa(n) }})
	defer c.Close()
	ctx := context.Background()
	now := time.Unix(0, 0)
	topics := Topics{"a": 2}
	sub := &Subscription{Topics: []string{"a"}, InstanceID: "w1"}
	var first HeartbeatResponse
	var err error
	c.Do(ctx, func(s *State) {
		first, err = s.Heartbeat(now, topics, HeartbeatRequest{Group: "g", Sub: sub, Managed: true})
	})
	if err != nil {
		t.Fatal(err)
	}
	wake, unwatch, err := c.Watch(ctx, "g", first.MemberID)
	if err != nil {
		t.Fatal(err)
	}
	defer unwatch()
	var second HeartbeatResponse
	c.Do(ctx, func(s *State) {
		second, err = s.Heartbeat(now, topics, HeartbeatRequest{Group: "g", Sub: sub, Managed: true})
	})
	if err != nil || len(second.Assignment) != 2 {
		t.Fatalf("static rejoin: %+v, %v", second, err)
	}
	select {
	case <-wake:
	case <-time.After(10 * time.Second):
		t.Fatal("the fenced member's watcher was not woken")
	}
	c.Do(ctx, func(s *State) {
		_, err = s.Heartbeat(now, topics, HeartbeatRequest{Group: "g", MemberID: first.MemberID, Epoch: first.Epoch})
	})
	if !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("fenced member's heartbeat: %v, want ErrUnknownMember", err)
	}
}
