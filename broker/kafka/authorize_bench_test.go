package kafka

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/acl"
)

// BenchmarkProduceACL: one Produce of a 1 KiB record through the
// registration (guard and handler), with ACLs off and enforced (an allow
// among 1,000 rules); compare the two with benchstat.
func BenchmarkProduceACL(b *testing.B) {
	for _, enforce := range []bool{false, true} {
		name := "off"
		if enforce {
			name = "enforced"
		}
		b.Run(name, func(b *testing.B) {
			a, err := acl.New(context.Background(), acl.Config{Store: &acl.MemoryStore{}, Enforce: enforce})
			if err != nil {
				b.Fatal(err)
			}
			var rules []acl.Rule
			for i := range 1000 {
				rules = append(rules, acl.Rule{Principal: "u", Resource: acl.Topic, Name: fmt.Sprintf("topic-%d", i), Pattern: acl.Literal, Operation: acl.Write, Permission: acl.Allow})
			}
			rules = append(rules, acl.Rule{Principal: "alice", Resource: acl.Topic, Name: "orders", Pattern: acl.Literal, Operation: acl.Write, Permission: acl.Allow})
			if err := a.Create(context.Background(), rules); err != nil {
				b.Fatal(err)
			}
			s, _ := newTestServer(b, Config{ACL: a})
			createTopic(b, s, "orders", 1, nil)
			n := &aclNode{s: s, a: a}
			c := n.asTB(b, "alice")
			batch := testBatch(b, []testRecord{{Key: []byte("k"), Value: bytes.Repeat([]byte("v"), 1024)}}, batchOpts{})
			reg, _ := lookup(0, 9)
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			for b.Loop() {
				req := produceReq(9, -1, "orders", map[int32][]byte{0: batch})
				c.cur = &pending{}
				resp, wait, err := reg.h(c, req)
				if err != nil {
					b.Fatal(err)
				}
				if wait != nil {
					resp = wait()
				}
				if resp == nil {
					b.Fatal("no response")
				}
			}
		})
	}
}
