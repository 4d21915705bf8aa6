package group

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// classicClient is a simulated classic member following the protocol.
type classicClient struct {
	instance string
	memberID string
	gen      int32
	leader   bool
	members  []JoinMember
	waiting  bool // a join or sync is parked
	stable   bool
	// protocols it supports, in preference order
	protocols []ClassicProtocol
}

// protocolChoices are what simulated clients support: mostly compatible,
// sometimes not.
var protocolChoices = [][]ClassicProtocol{
	{{Name: "range"}},
	{{Name: "range"}, {Name: "roundrobin"}},
	{{Name: "roundrobin"}, {Name: "range"}, {Name: "range"}},
	{{Name: "sticky"}},
}

// TestClassicChurnRepliesOnce drives simulated classic clients (dynamic and
// static, v4-style and older) through random joins, syncs, heartbeats,
// leaves and clock jumps. It checks that every request is answered at most
// once, that generations never go back, that a leader's member list is the
// group's, and, once the clock passes every timeout, that every parked
// request was answered and the group is empty.
func TestClassicChurnRepliesOnce(t *testing.T) {
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 7))
		n := 0
		st := NewState(Config{NewMemberID: func() string { n++; return "m" + strconv.Itoa(n) }, InitialRebalanceDelay: time.Duration(seed%3) * time.Second})
		now := time.Unix(0, 0)
		var clients []*classicClient
		replies := map[int]int{} // request -> replies
		req := 0
		lastGen := int32(0)
		stables := 0
		maxGen := int32(0)
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("seed %d: %s", seed, fmt.Sprintf(format, args...))
		}
		join := func(c *classicClient) {
			req++
			id := req
			c.waiting, c.stable = true, false
			st.JoinClassic(now, JoinRequest{
				Group: "g", MemberID: c.memberID, InstanceID: c.instance, ProtocolType: "consumer",
				Protocols:      c.protocols,
				SessionTimeout: 5 * time.Second, RebalanceTimeout: 5 * time.Second, RequireKnownMemberID: rng.IntN(2) == 0,
			}, func(r JoinResult) {
				replies[id]++
				if replies[id] > 1 {
					fail("join %d answered twice", id)
				}
				c.waiting = false
				switch {
				case errors.Is(r.Err, ErrMemberIDRequired):
					c.memberID = r.MemberID
				case r.Err != nil:
					if errors.Is(r.Err, ErrUnknownMember) || errors.Is(r.Err, ErrFencedInstance) {
						c.memberID = ""
					}
				default:
					if r.Generation < lastGen {
						fail("generation %d after %d", r.Generation, lastGen)
					}
					lastGen = r.Generation
					maxGen = max(maxGen, r.Generation)
					c.memberID, c.gen, c.leader, c.members = r.MemberID, r.Generation, r.Leader == r.MemberID, r.Members
					if c.leader && !r.SkipAssignment {
						gi, _ := st.DescribeClassic("g")
						if len(gi.Members) != len(r.Members) {
							fail("leader told %d members, the group has %d", len(r.Members), len(gi.Members))
						}
					}
				}
			})
		}
		sync := func(c *classicClient) {
			req++
			id := req
			c.waiting = true
			sr := SyncRequest{Group: "g", MemberID: c.memberID, InstanceID: c.instance, Generation: c.gen}
			if c.leader {
				sr.Assignments = map[string][]byte{}
				for _, m := range c.members {
					sr.Assignments[m.ID] = []byte("a")
				}
			}
			st.SyncClassic(now, sr, func(r SyncResult) {
				replies[id]++
				if replies[id] > 1 {
					fail("sync %d answered twice", id)
				}
				c.waiting = false
				c.stable = r.Err == nil
				if c.stable {
					stables++
				}
				if errors.Is(r.Err, ErrUnknownMember) || errors.Is(r.Err, ErrFencedInstance) {
					c.memberID = ""
				}
			})
		}
		for range 400 {
			if g := st.classic["g"]; g != nil {
				checkCounts(t, g)
			}
			switch r := rng.IntN(40); {
			case (r < 1 && len(clients) < 6) || len(clients) == 0:
				c := &classicClient{protocols: protocolChoices[rng.IntN(len(protocolChoices))]}
				if rng.IntN(3) == 0 {
					c.instance = "i" + strconv.Itoa(rng.IntN(4))
				}
				clients = append(clients, c)
				join(c)
			case r < 2:
				c := clients[rng.IntN(len(clients))]
				if c.memberID != "" || c.instance != "" {
					st.LeaveClassic(now, "g", []LeaveMember{{MemberID: c.memberID, InstanceID: c.instance}})
				}
			case r < 5:
				now = now.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
				st.Tick(now, nil)
				if _, known := st.DescribeClassic("g"); !known {
					lastGen = 0 // an empty group is forgotten; generations restart
				}
			default:
				c := clients[rng.IntN(len(clients))]
				switch {
				case c.waiting:
				case c.memberID == "" || c.gen == 0:
					join(c)
				case !c.stable:
					sync(c)
				default:
					err := st.HeartbeatClassic(now, "g", c.memberID, c.instance, c.gen)
					switch {
					case errors.Is(err, ErrRebalanceInProgress):
						join(c)
					case err != nil:
						c.memberID, c.gen, c.stable = "", 0, false
						if !errors.Is(err, ErrFencedInstance) {
							join(c)
						}
					}
				}
			}
		}
		if stables == 0 || maxGen < 2 {
			fail("the churn never reached a stable generation (%d syncs, generation %d)", stables, maxGen)
		}
		now = now.Add(time.Hour)
		st.Tick(now, nil)
		now = now.Add(time.Hour)
		st.Tick(now, nil)
		for id := 1; id <= req; id++ {
			if replies[id] != 1 {
				fail("request %d answered %d times after every timeout", id, replies[id])
			}
		}
		if gi, known := st.DescribeClassic("g"); known {
			fail("not forgotten after every timeout: %+v", gi)
		}
	}
}

// checkCounts checks the group's incremental counts against a recount.
func checkCounts(t *testing.T, g *classicGroup) {
	t.Helper()
	awaiting := 0
	supported := map[string]int{}
	for _, m := range g.members {
		if m.joinReply != nil {
			awaiting++
		}
		seen := map[string]bool{}
		for _, p := range m.protocols {
			if !seen[p.Name] {
				seen[p.Name] = true
				supported[p.Name]++
			}
		}
	}
	if awaiting != g.awaiting {
		t.Fatalf("awaiting %d, recounted %d", g.awaiting, awaiting)
	}
	for name, n := range g.supported {
		if n != supported[name] {
			t.Fatalf("protocol %s supported by %d, recounted %d", name, n, supported[name])
		}
	}
}
