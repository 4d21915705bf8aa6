package group

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// TestChurnKeepsOwnershipDisjoint drives random joins, heartbeats (members
// report exactly what they were last told), leaves and clock jumps, and
// checks after every step that no partition is held by two members, and at
// the end, once everyone has heartbeated twice, that the group is stable
// and balanced.
func TestChurnKeepsOwnershipDisjoint(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		n := 0
		st := NewState(Config{NewMemberID: func() string { n++; return "m" + strconv.Itoa(n) }})
		now := time.Unix(0, 0)
		topics := Topics{"a": 6, "b": 5}
		told := map[string]HeartbeatResponse{}
		for i := range 300 {
			switch r := rng.IntN(10); {
			case r < 2 || len(told) == 0:
				resp, err := st.Heartbeat(now, topics, HeartbeatRequest{Group: "g", Sub: &Subscription{Topics: []string{"a", "b"}, SessionTimeout: 10 * time.Second}})
				if err != nil {
					t.Fatal(err)
				}
				told[resp.MemberID] = resp
			case r < 3:
				for id := range told {
					if err := st.Leave(now, topics, "g", id); err != nil && !errors.Is(err, ErrUnknownMember) {
						t.Fatal(err) // unknown: it timed out, fine
					}
					delete(told, id)
					break
				}
			case r < 4:
				now = now.Add(time.Duration(rng.IntN(4)) * time.Second)
				st.Tick(now, topics)
			default:
				for id, prev := range told {
					resp, err := st.Heartbeat(now, topics, HeartbeatRequest{Group: "g", MemberID: id, Epoch: prev.Epoch, Owned: prev.Assignment, OwnedReported: true})
					if err != nil {
						delete(told, id) // timed out
						break
					}
					told[id] = resp
					break
				}
			}
			if err := st.CheckInvariant(); err != nil {
				t.Fatalf("seed %d step %d: %v", seed, i, err)
			}
		}
		for range 3 {
			for id, prev := range told {
				resp, err := st.Heartbeat(now, topics, HeartbeatRequest{Group: "g", MemberID: id, Epoch: prev.Epoch, Owned: prev.Assignment, OwnedReported: true})
				if err != nil {
					delete(told, id)
					continue
				}
				told[id] = resp
			}
		}
		gi, _ := st.Describe("g")
		if len(gi.Members) == 0 {
			continue
		}
		if gi.State != "stable" {
			t.Fatalf("seed %d: not stable after settling: %+v", seed, gi)
		}
		lo, hi, total := 1<<30, 0, 0
		for _, m := range gi.Members {
			lo, hi, total = min(lo, len(m.Held)), max(hi, len(m.Held)), total+len(m.Held)
		}
		if hi-lo > 1 || total != 11 {
			t.Fatalf("seed %d: unbalanced or incomplete: min %d max %d total %d", seed, lo, hi, total)
		}
	}
}
