package group

import (
	"slices"
)

// Assignors are pure functions from the sorted member ids, each member's
// subscription test and the subscribed topics' partition counts (plus, for
// the sticky one, the previous target) to a target per member.

// allPartitions lists every partition of topics in (topic, partition) order.
func allPartitions(topics Topics) []TopicPartition {
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	slices.Sort(names)
	var out []TopicPartition
	for _, t := range names {
		for p := int32(0); p < topics[t]; p++ {
			out = append(out, TopicPartition{t, p})
		}
	}
	return out
}

// assignUniform balances partition counts across members (within one when
// every member subscribes to the same topics) and keeps each partition with
// its previous target owner whenever balance allows: sticky.
//
// It runs in four passes: keep up to floor(P/N) previous partitions per
// member; let up to P mod N members keep one more; hand out the rest to the
// eligible member with the fewest; then, for mixed subscriptions, move
// partitions from a member with two or more than another eligible one until
// no such move exists.
func assignUniform(ids []string, subs map[string]func(string) bool, topics Topics, prev map[string]tpSet) map[string]tpSet {
	out := make(map[string]tpSet, len(ids))
	for _, id := range ids {
		out[id] = tpSet{}
	}
	parts := allPartitions(topics)
	if len(ids) == 0 || len(parts) == 0 {
		return out
	}
	owner := map[TopicPartition]string{}
	give := func(id string, tp TopicPartition) {
		out[id][tp] = true
		owner[tp] = id
	}
	exists := func(tp TopicPartition) bool {
		n, ok := topics[tp.Topic]
		return ok && tp.Partition < n
	}
	floor, extra := len(parts)/len(ids), len(parts)%len(ids)
	for _, id := range ids {
		for _, tp := range prev[id].sorted() {
			if len(out[id]) >= floor {
				break
			}
			if exists(tp) && subs[id](tp.Topic) && owner[tp] == "" {
				give(id, tp)
			}
		}
	}
	for _, id := range ids {
		if extra == 0 {
			break
		}
		if len(out[id]) != floor {
			continue
		}
		for _, tp := range prev[id].sorted() {
			if exists(tp) && subs[id](tp.Topic) && owner[tp] == "" {
				give(id, tp)
				extra--
				break
			}
		}
	}
	for _, tp := range parts {
		if owner[tp] != "" {
			continue
		}
		best := ""
		for _, id := range ids {
			if subs[id](tp.Topic) && (best == "" || len(out[id]) < len(out[best])) {
				best = id
			}
		}
		if best != "" {
			give(best, tp)
		}
	}
	// Balance mixed subscriptions; bounded so that a bug cannot spin.
	for range len(parts) * len(ids) {
		moved := false
		for _, tp := range parts {
			o := owner[tp]
			if o == "" {
				continue
			}
			best := ""
			for _, id := range ids {
				if id != o && subs[id](tp.Topic) && len(out[id]) < len(out[o])-1 && (best == "" || len(out[id]) < len(out[best])) {
					best = id
				}
			}
			if best != "" {
				delete(out[o], tp)
				give(best, tp)
				moved = true
			}
		}
		if !moved {
			break
		}
	}
	return out
}

// assignRange gives, per topic, each subscribed member (in id order) a
// contiguous range of partitions; the first P mod N members get one more.
// It ignores history, like Kafka's range assignor.
func assignRange(ids []string, subs map[string]func(string) bool, topics Topics) map[string]tpSet {
	out := make(map[string]tpSet, len(ids))
	for _, id := range ids {
		out[id] = tpSet{}
	}
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	slices.Sort(names)
	for _, t := range names {
		var ms []string
		for _, id := range ids {
			if subs[id](t) {
				ms = append(ms, id)
			}
		}
		if len(ms) == 0 {
			continue
		}
		n := int(topics[t])
		per, extra := n/len(ms), n%len(ms)
		p := 0
		for i, id := range ms {
			k := per
			if i < extra {
				k++
			}
			for range k {
				out[id][TopicPartition{t, int32(p)}] = true
				p++
			}
		}
	}
	return out
}
