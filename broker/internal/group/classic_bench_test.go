package group

import (
	"strconv"
	"testing"
	"time"
)

// BenchmarkClassicRebalance measures one full generation of a 100-member
// classic group: every member rejoins, the leader syncs, every member syncs.
func BenchmarkClassicRebalance(b *testing.B) {
	n := 0
	st := NewState(Config{NewMemberID: func() string { n++; return "m" + strconv.Itoa(n) }})
	now := time.Unix(0, 0)
	const members = 100
	req := func(id string) JoinRequest {
		return JoinRequest{Group: "g", MemberID: id, ProtocolType: "consumer", Protocols: []ClassicProtocol{{Name: "range", Metadata: []byte("m")}},
			SessionTimeout: time.Minute, RebalanceTimeout: time.Minute}
	}
	var ids []string
	var leader string
	var gen int32
	for range members {
		st.JoinClassic(now, req(""), func(r JoinResult) {
			if r.Err == nil && len(ids) < members {
				ids = append(ids, r.MemberID)
			}
		})
	}
	for b.Loop() {
		for _, id := range ids {
			st.JoinClassic(now, req(id), func(r JoinResult) { leader, gen = r.Leader, r.Generation })
		}
		assign := map[string][]byte{}
		for _, id := range ids {
			assign[id] = []byte("a")
		}
		st.SyncClassic(now, SyncRequest{Group: "g", MemberID: leader, Generation: gen, Assignments: assign}, func(SyncResult) {})
		for _, id := range ids {
			st.SyncClassic(now, SyncRequest{Group: "g", MemberID: id, Generation: gen}, func(r SyncResult) {
				if r.Err != nil {
					b.Fatal(r.Err)
				}
			})
		}
	}
}

// BenchmarkClassicHeartbeat measures a heartbeat in a stable 100-member
// group.
func BenchmarkClassicHeartbeat(b *testing.B) {
	n := 0
	st := NewState(Config{NewMemberID: func() string { n++; return "m" + strconv.Itoa(n) }})
	now := time.Unix(0, 0)
	var ids []string
	var gen int32
	for range 100 {
		st.JoinClassic(now, JoinRequest{Group: "g", ProtocolType: "consumer", Protocols: []ClassicProtocol{{Name: "range"}}, SessionTimeout: time.Minute}, func(r JoinResult) {})
	}
	gi, _ := st.DescribeClassic("g")
	for _, m := range gi.Members {
		ids = append(ids, m.ID)
	}
	for _, id := range ids {
		st.JoinClassic(now, JoinRequest{Group: "g", MemberID: id, ProtocolType: "consumer", Protocols: []ClassicProtocol{{Name: "range"}}, SessionTimeout: time.Minute}, func(r JoinResult) { gen = r.Generation })
	}
	gi, _ = st.DescribeClassic("g")
	st.SyncClassic(now, SyncRequest{Group: "g", MemberID: gi.Leader, Generation: gen}, func(SyncResult) {})
	i := 0
	for b.Loop() {
		if err := st.HeartbeatClassic(now, "g", ids[i%len(ids)], "", gen); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
