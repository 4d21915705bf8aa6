package kafka

// OffsetFetch, v1-9: a group's committed offsets, for the partitions asked
// or (topics null, v2+) all of them; a partition without a commit answers
// offset -1. v8+ asks for several groups at once; v9 names the KIP-848
// member and epoch asking (STALE_MEMBER_EPOCH, UNKNOWN_MEMBER_ID). With
// v7's require_stable, a partition whose offset an open transaction holds
// pending (TxnOffsetCommit) answers UNSTABLE_OFFSET_COMMIT (88), offset -1;
// the client retries until the transaction ends.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

func init() { register(kmsg.OffsetFetch, 1, 9, handleOffsetFetch) }

// fetchedTopic is one topic of an OffsetFetch answer.
type fetchedTopic struct {
	topic string
	parts []kmsg.OffsetFetchResponseTopicPartition
}

// fetchGroupOffsets answers one group: all == true asks for every committed
// offset, else the partitions of topics.
func fetchGroupOffsets(c *Conn, groupID string, all bool, topics map[string][]int32, order []string) ([]fetchedTopic, int16) {
	if !validGroup(groupID) {
		return nil, kerr.InvalidGroupID.Code
	}
	var want []broker.TopicPartition
	for _, t := range order {
		for _, p := range topics[t] {
			want = append(want, broker.TopicPartition{Topic: t, Partition: p})
		}
	}
	offs, err := c.Server().Broker().FetchOffsets(c.Context(), groupID, want)
	if err != nil {
		return nil, groupCode(err)
	}
	got := map[broker.TopicPartition]broker.OffsetCommit{}
	for _, oc := range offs {
		got[broker.TopicPartition{Topic: oc.Topic, Partition: oc.Partition}] = oc
	}
	part := func(p int32, oc broker.OffsetCommit, ok bool) kmsg.OffsetFetchResponseTopicPartition {
		rp := kmsg.NewOffsetFetchResponseTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch = p, -1, -1
		md := ""
		if ok {
			rp.Offset, md = oc.Offset, oc.Metadata
		}
		rp.Metadata = &md
		return rp
	}
	var out []fetchedTopic
	if all {
		for _, oc := range offs {
			if len(out) == 0 || out[len(out)-1].topic != oc.Topic {
				out = append(out, fetchedTopic{topic: oc.Topic})
			}
			last := &out[len(out)-1]
			last.parts = append(last.parts, part(oc.Partition, oc, true))
		}
		return out, 0
	}
	for _, t := range order {
		ft := fetchedTopic{topic: t}
		for _, p := range topics[t] {
			oc, ok := got[broker.TopicPartition{Topic: t, Partition: p}]
			ft.parts = append(ft.parts, part(p, oc, ok))
		}
		out = append(out, ft)
	}
	return out, 0
}

func handleOffsetFetch(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.OffsetFetchRequest)
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version < 8 {
		topics := map[string][]int32{}
		var order []string
		for _, t := range req.Topics {
			if _, ok := topics[t.Topic]; !ok {
				order = append(order, t.Topic)
			}
			topics[t.Topic] = append(topics[t.Topic], t.Partitions...)
		}
		fts, code := fetchGroupOffsets(c, req.Group, req.Topics == nil, topics, order)
		if req.RequireStable {
			markUnstable(c, req.Group, fts) // txn.go
		}
		resp.ErrorCode = code
		for _, ft := range fts {
			rt := kmsg.NewOffsetFetchResponseTopic()
			rt.Topic, rt.Partitions = ft.topic, ft.parts
			resp.Topics = append(resp.Topics, rt)
		}
		if code != 0 && req.Version < 2 {
			// v0-1 have no group error: put it on every partition.
			for _, t := range req.Topics {
				rt := kmsg.NewOffsetFetchResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetFetchResponseTopicPartition()
					rp.Partition, rp.Offset, rp.ErrorCode = p, -1, code
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
		}
		return resp, nil, nil
	}
	for _, g := range req.Groups {
		rg := kmsg.NewOffsetFetchResponseGroup()
		rg.Group = g.Group
		if g.MemberID != nil && *g.MemberID != "" && validGroup(g.Group) {
			if err := c.Server().Broker().CheckGroupMember(c.Context(), g.Group, *g.MemberID, g.MemberEpoch); err != nil {
				rg.ErrorCode = groupCode(err)
				resp.Groups = append(resp.Groups, rg)
				continue
			}
		}
		topics := map[string][]int32{}
		var order []string
		for _, t := range g.Topics {
			if _, ok := topics[t.Topic]; !ok {
				order = append(order, t.Topic)
			}
			topics[t.Topic] = append(topics[t.Topic], t.Partitions...)
		}
		fts, code := fetchGroupOffsets(c, g.Group, g.Topics == nil, topics, order)
		if req.RequireStable {
			markUnstable(c, g.Group, fts) // txn.go
		}
		rg.ErrorCode = code
		for _, ft := range fts {
			rt := kmsg.NewOffsetFetchResponseGroupTopic()
			rt.Topic = ft.topic
			for _, p := range ft.parts {
				rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
				rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode
				rt.Partitions = append(rt.Partitions, rp)
			}
			rg.Topics = append(rg.Topics, rt)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil, nil
}
