package group

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"
)

// TestForget: a node that stops coordinating a group forgets it whole: its
// consumer members' watchers wake, a classic member waiting in JoinGroup is
// answered with the cause, and the group is unknown afterwards.
func TestForget(t *testing.T) {
	n := 0
	c := NewCoordinator(Config{NewMemberID: func() string { n++; return "m" + strconv.Itoa(n) }, InitialRebalanceDelay: time.Hour})
	defer c.Close()
	ctx := context.Background()
	now := time.Unix(0, 0)
	topics := Topics{"a": 2}
	var hb HeartbeatResponse
	var err error
	c.Do(ctx, func(s *State) {
		hb, err = s.Heartbeat(now, topics, HeartbeatRequest{Group: "g", Sub: &Subscription{Topics: []string{"a"}}, Managed: true})
	})
	if err != nil {
		t.Fatal(err)
	}
	wake, unwatch, err := c.Watch(ctx, "g", hb.MemberID)
	if err != nil {
		t.Fatal(err)
	}
	defer unwatch()
	joined := make(chan JoinResult, 1)
	c.Do(ctx, func(s *State) {
		// The initial delay keeps the join waiting.
		s.JoinClassic(now, JoinRequest{Group: "k", ProtocolType: "consumer", Protocols: []ClassicProtocol{{Name: "range"}},
			SessionTimeout: 10 * time.Second, RebalanceTimeout: 10 * time.Second}, func(r JoinResult) { joined <- r })
	})
	select {
	case r := <-joined:
		t.Fatalf("the classic join was answered before Forget: %+v", r)
	default:
	}
	cause := errors.New("lease lost")
	var known [3]bool
	c.Do(ctx, func(s *State) {
		known[0] = s.Forget("g", cause)
		known[1] = s.Forget("k", cause)
		known[2] = s.Forget("never", cause)
	})
	if known != [3]bool{true, true, false} {
		t.Errorf("Forget reported known = %v, want [true true false]", known)
	}
	select {
	case <-wake:
	case <-time.After(10 * time.Second):
		t.Fatal("the consumer member's watcher was not woken")
	}
	select {
	case r := <-joined:
		if !errors.Is(r.Err, cause) {
			t.Errorf("waiting join answered %v, want the cause", r.Err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting classic join was not answered")
	}
	c.Do(ctx, func(s *State) {
		if s.MemberCount("g") != 0 || s.MemberCount("k") != 0 || len(s.Groups()) != 0 {
			t.Errorf("after Forget: groups %v", s.Groups())
		}
		// The member is unknown now: its heartbeat says so.
		_, err = s.Heartbeat(now, topics, HeartbeatRequest{Group: "g", MemberID: hb.MemberID, Epoch: hb.Epoch})
	})
	if !errors.Is(err, ErrUnknownMember) {
		t.Errorf("heartbeat of a forgotten member = %v, want ErrUnknownMember", err)
	}
}
