package kafka

// ACL checks (DESIGN.md §10, package acl). With Config.ACL enforcing (the
// node authenticates), every request passes through its API's guard before
// its handler runs; each guard asks the one acl.Authorizer, with the
// connection's principal (Conn.Context), the same questions the Connect and
// REST transports ask for the same work, and answers refusals as Kafka
// does:
//   - Produce: write on each topic, else TOPIC_AUTHORIZATION_FAILED (29)
//     for its partitions, which are removed from the request before the
//     handler runs (nothing of them is written); a transactional produce
//     also needs write on its transactional id, else every partition is
//     TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53). With acks=0 a refusal
//     closes the connection, as any acks=0 failure.
//   - Fetch, OffsetCommit (plus read on the group), TxnOffsetCommit,
//     OffsetDelete: read on each topic; refused topics are removed first
//     and answer 29 (a refused read returns nothing).
//   - Metadata, ListOffsets, OffsetFetch, OffsetForLeaderEpoch,
//     DescribeConfigs: describe on each topic. Metadata for all topics
//     omits the topics the principal may not describe (as Kafka does); a
//     topic asked for by name answers 29; auto-creation needs create on the
//     topic or the cluster.
//   - CreateTopics: create on the cluster or the topic; DeleteTopics,
//     DeleteRecords: delete on the topic; CreatePartitions, AlterConfigs,
//     IncrementalAlterConfigs: alter on the topic (alter on the cluster for
//     a broker resource, else CLUSTER_AUTHORIZATION_FAILED, 31).
//   - JoinGroup, SyncGroup, Heartbeat, LeaveGroup, ConsumerGroupHeartbeat,
//     OffsetCommit, TxnOffsetCommit, AddOffsetsToTxn: read on the group,
//     else GROUP_AUTHORIZATION_FAILED (30); DescribeGroups,
//     ConsumerGroupDescribe, OffsetFetch: describe on the group; DeleteGroups
//     and OffsetDelete: delete on the group; ListGroups lists the groups the
//     principal may describe (all with describe on the cluster).
//   - InitProducerId with a transactional id, AddPartitionsToTxn,
//     AddOffsetsToTxn, EndTxn, TxnOffsetCommit: write on the transactional
//     id, else 53; DescribeTransactions: describe on it; ListTransactions
//     lists those the principal may describe.
//   - DescribeAcls: describe on the cluster; CreateAcls, DeleteAcls: alter
//     on the cluster (their handlers check, so that they answer
//     SECURITY_DISABLED without an authorizer).
//   - Open to every authenticated principal: ApiVersions, the SASL
//     exchange, FindCoordinator, DescribeCluster (the broker list that
//     Metadata gives too) and InitProducerId without a transactional id (an
//     idempotent producer id grants nothing; each produce is checked).
//   - Authorized operations (Metadata v8+, DescribeCluster), when asked
//     for, are the principal's: each Kafka operation bit is set when the
//     principal may perform it (describe_configs as describe,
//     alter_configs as alter, cluster_action as all; idempotent_write
//     always).
//
// A test checks that every registered API has a guard or is listed open.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/acl"
	"github.com/sluicehq/sluice/auth"
	"github.com/sluicehq/sluice/internal/reqid"
)

// aclGuard runs the ACL checks of one API around its handler next.
type aclGuard func(c *Conn, a aclCheck, req kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error)

// aclCheck is the authorizer as one request's guard sees it: with the
// request's identity, taken in stage 1, for the log line of a refusal
// (which may be decided later, on the response, in the request's wait).
type aclCheck struct {
	*acl.Authorizer
	req reqid.Kafka
}

// aclOpen lists the APIs every authenticated principal may call, and those
// whose handler does its own check (the ACL APIs).
var aclOpen = map[kmsg.Key]bool{
	kmsg.ApiVersions:      true,
	kmsg.SASLHandshake:    true,
	kmsg.SASLAuthenticate: true,
	kmsg.FindCoordinator:  true,
	kmsg.DescribeACLs:     true,
	kmsg.CreateACLs:       true,
	kmsg.DeleteACLs:       true,
}

// aclGuards is filled at package initialisation, before the init funcs
// that register handlers run.
var aclGuards = map[kmsg.Key]aclGuard{
	kmsg.Produce:                 guardProduce,
	kmsg.Fetch:                   guardFetch,
	kmsg.ListOffsets:             guardListOffsets,
	kmsg.Metadata:                guardMetadata,
	kmsg.OffsetCommit:            guardOffsetCommit,
	kmsg.OffsetFetch:             guardOffsetFetch,
	kmsg.JoinGroup:               guardGroupRead(func(r kmsg.Request) string { return r.(*kmsg.JoinGroupRequest).Group }),
	kmsg.Heartbeat:               guardGroupRead(func(r kmsg.Request) string { return r.(*kmsg.HeartbeatRequest).Group }),
	kmsg.LeaveGroup:              guardGroupRead(func(r kmsg.Request) string { return r.(*kmsg.LeaveGroupRequest).Group }),
	kmsg.SyncGroup:               guardGroupRead(func(r kmsg.Request) string { return r.(*kmsg.SyncGroupRequest).Group }),
	kmsg.ConsumerGroupHeartbeat:  guardGroupRead(func(r kmsg.Request) string { return r.(*kmsg.ConsumerGroupHeartbeatRequest).Group }),
	kmsg.DescribeGroups:          guardDescribeGroups,
	kmsg.ConsumerGroupDescribe:   guardConsumerGroupDescribe,
	kmsg.ListGroups:              guardListGroups,
	kmsg.DeleteGroups:            guardDeleteGroups,
	kmsg.OffsetDelete:            guardOffsetDelete,
	kmsg.CreateTopics:            guardCreateTopics,
	kmsg.DeleteTopics:            guardDeleteTopics,
	kmsg.DeleteRecords:           guardDeleteRecords,
	kmsg.CreatePartitions:        guardCreatePartitions,
	kmsg.DescribeConfigs:         guardDescribeConfigs,
	kmsg.AlterConfigs:            guardAlterConfigs,
	kmsg.IncrementalAlterConfigs: guardIncrementalAlterConfigs,
	kmsg.OffsetForLeaderEpoch:    guardOffsetForLeaderEpoch,
	kmsg.InitProducerID:          guardInitProducerID,
	kmsg.AddPartitionsToTxn:      guardAddPartitionsToTxn,
	kmsg.AddOffsetsToTxn:         guardAddOffsetsToTxn,
	kmsg.EndTxn:                  guardEndTxn,
	kmsg.TxnOffsetCommit:         guardTxnOffsetCommit,
	kmsg.DescribeTransactions:    guardDescribeTransactions,
	kmsg.ListTransactions:        guardListTransactions,
	kmsg.DescribeCluster:         guardDescribeCluster,
}

// guarded wraps h with key's guard. An API with neither a guard nor a place
// in aclOpen is refused outright when ACLs are enforced: a new API cannot
// slip past the checks.
func guarded(key kmsg.Key, h handler) handler {
	if aclOpen[key] {
		return h
	}
	g := aclGuards[key]
	return func(c *Conn, req kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
		a := c.srv.cfg.ACL
		if !a.Enforcing() {
			return h(c, req)
		}
		if g == nil {
			return nil, nil, fmt.Errorf("kafka: %s has no ACL guard", key.Name())
		}
		return g(c, aclCheck{Authorizer: a, req: c.request()}, req, h)
	}
}

// authorized asks a about the connection's principal, logging a refusal
// with the request's identity (connection, correlation and client ids).
func authorized(c *Conn, a aclCheck, op acl.Operation, res acl.Resource) bool {
	ctx := c.Context()
	if a.Allowed(ctx, op, res) {
		return true
	}
	// Only a refusal pays for the context that names the request.
	a.Authorize(reqid.WithKafka(ctx, a.req), op, res)
	return false
}

// visible asks without logging: for filtering lists.
func visible(c *Conn, a aclCheck, op acl.Operation, res acl.Resource) bool {
	return a.Allowed(c.Context(), op, res)
}

// after runs post on the response of a handler's answer, once it exists
// (in stage 1, or at the end of its wait func).
func after(resp kmsg.Response, wait func() kmsg.Response, err error, post func(kmsg.Response)) (kmsg.Response, func() kmsg.Response, error) {
	if err != nil {
		return resp, wait, err
	}
	if wait != nil {
		return resp, func() kmsg.Response {
			r := wait()
			if r != nil {
				post(r)
			}
			return r
		}, nil
	}
	if resp != nil {
		post(resp)
	}
	return resp, nil, nil
}

// runThen runs next and post on its response.
func runThen(c *Conn, req kmsg.Request, next handler, post func(kmsg.Response)) (kmsg.Response, func() kmsg.Response, error) {
	resp, wait, err := next(c, req)
	return after(resp, wait, err, post)
}

// narrowed answers a request whose items a guard split into kept and
// refused ones, some refused (with none, the guard runs next on req as
// is, before making narrowed's closures): narrow puts only the kept items
// in req, next runs on it and post adds the refusals to its response;
// with none kept, next does not run at all and the refusals alone make
// the response (of req's version): a refused produce writes nothing, a
// refused read returns nothing.
func narrowed(c *Conn, req kmsg.Request, next handler, kept int, narrow func(), post func(kmsg.Response)) (kmsg.Response, func() kmsg.Response, error) {
	if kept == 0 {
		resp := req.ResponseKind()
		post(resp)
		return resp, nil, nil
	}
	narrow()
	return runThen(c, req, next, post)
}

// split partitions items by ok on their names, keeping order; ok runs once
// per item. When every item passes, keep is items itself (no copy: the
// common case costs no allocation).
func split[T any](items []T, name func(*T) string, ok func(string) bool) (keep, denied []T) {
	for i := range items {
		if ok(name(&items[i])) {
			continue
		}
		keep = append(keep, items[:i:i]...)
		denied = append(denied, items[i])
		for j := i + 1; j < len(items); j++ {
			if ok(name(&items[j])) {
				keep = append(keep, items[j])
			} else {
				denied = append(denied, items[j])
			}
		}
		return keep, denied
	}
	return items, nil
}

var (
	codeTopicAuth   = kerr.TopicAuthorizationFailed.Code
	codeGroupAuth   = kerr.GroupAuthorizationFailed.Code
	codeClusterAuth = kerr.ClusterAuthorizationFailed.Code
	codeTxnAuth     = kerr.TransactionalIDAuthorizationFailed.Code
)

func guardProduce(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.ProduceRequest)
	refuseAll := false
	if req.TransactionID != nil && !authorized(c, a, acl.Write, acl.TransactionalIDResource(*req.TransactionID)) {
		refuseAll = true
	}
	var keep, denied []kmsg.ProduceRequestTopic
	code := codeTopicAuth
	if refuseAll {
		denied, code = req.Topics, codeTxnAuth
	} else {
		keep, denied = split(req.Topics, func(t *kmsg.ProduceRequestTopic) string { return t.Topic },
			func(n string) bool { return authorized(c, a, acl.Write, acl.TopicResource(n)) })
	}
	if len(denied) == 0 {
		return next(c, req)
	}
	if req.Acks == 0 {
		return nil, nil, fmt.Errorf("kafka: acks=0 produce to %q refused by ACL", denied[0].Topic)
	}
	post := func(r kmsg.Response) {
		resp := r.(*kmsg.ProduceResponse)
		for _, t := range denied {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, code
				rp.BaseOffset, rp.LogAppendTime, rp.LogStartOffset = -1, -1, -1
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
	}
	if len(keep) == 0 {
		resp := req.ResponseKind()
		post(resp)
		return resp, nil, nil
	}
	req.Topics = keep
	return runThen(c, req, next, post)
}

func guardFetch(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.FetchRequest)
	b := c.srv.Broker()
	name := func(t *kmsg.FetchRequestTopic) string {
		if req.Version >= 13 {
			n, err := b.TopicByID(t.TopicID)
			if err != nil {
				return "" // unknown id: the handler answers UNKNOWN_TOPIC_ID
			}
			return n
		}
		return t.Topic
	}
	keep, denied := split(req.Topics, name, func(n string) bool {
		return n == "" || authorized(c, a, acl.Read, acl.TopicResource(n))
	})
	if len(denied) == 0 {
		return next(c, req) // the common case: no closure made
	}
	return narrowed(c, req, next, len(keep), func() { req.Topics = keep }, func(r kmsg.Response) {
		resp := fetchResponse(r)
		for _, t := range denied {
			rt := kmsg.NewFetchResponseTopic()
			rt.Topic, rt.TopicID = t.Topic, t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewFetchResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, codeTopicAuth
				rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = -1, -1, -1
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
	})
}

// fetchResponse is the Fetch response inside r (a fetchFrame when the
// handler sends file ranges; appending topics keeps its partitions in
// place).
func fetchResponse(r kmsg.Response) *kmsg.FetchResponse {
	if f, ok := r.(fetchFrame); ok {
		return f.FetchResponse
	}
	return r.(*kmsg.FetchResponse)
}

func guardListOffsets(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	return runThen(c, kreq, next, func(r kmsg.Response) {
		for i := range r.(*kmsg.ListOffsetsResponse).Topics {
			t := &r.(*kmsg.ListOffsetsResponse).Topics[i]
			if authorized(c, a, acl.Describe, acl.TopicResource(t.Topic)) {
				continue
			}
			for j := range t.Partitions {
				p := &t.Partitions[j]
				p.ErrorCode, p.Timestamp, p.Offset, p.LeaderEpoch = codeTopicAuth, -1, -1, -1
			}
		}
	})
}

func guardOffsetForLeaderEpoch(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	return runThen(c, kreq, next, func(r kmsg.Response) {
		for i := range r.(*kmsg.OffsetForLeaderEpochResponse).Topics {
			t := &r.(*kmsg.OffsetForLeaderEpochResponse).Topics[i]
			if authorized(c, a, acl.Describe, acl.TopicResource(t.Topic)) {
				continue
			}
			for j := range t.Partitions {
				p := &t.Partitions[j]
				p.ErrorCode, p.LeaderEpoch, p.EndOffset = codeTopicAuth, -1, -1
			}
		}
	})
}

func guardMetadata(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.MetadataRequest)
	all := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	// Auto-creation needs create on the topic or the cluster: without it a
	// missing topic stays missing (UNKNOWN_TOPIC_OR_PARTITION, or 29 when
	// it may not be described either, as Kafka answers). v4+ carries the
	// client's permission, which is withdrawn; v0-3 always asks, so a
	// missing topic the principal may not create is answered here.
	var missing []string
	if !all && c.srv.AutoCreateTopics() && !visible(c, a, acl.Create, acl.ClusterResource()) {
		kept := req.Topics[:0:0]
		for _, t := range req.Topics {
			if t.Topic != nil && !visible(c, a, acl.Create, acl.TopicResource(*t.Topic)) {
				if _, err := c.srv.Broker().DescribeTopic(*t.Topic); err != nil {
					req.AllowAutoTopicCreation = false
					if req.Version < 4 {
						missing = append(missing, *t.Topic)
						continue
					}
				}
			}
			kept = append(kept, t)
		}
		req.Topics = kept
	}
	served := kmsg.Request(req)
	if req.Version == 0 && len(req.Topics) == 0 && len(missing) > 0 {
		// An empty v0 list means every topic: ask as v1 for none (the
		// brokers only) and answer v0.
		none := *req
		none.Version, none.Topics = 1, []kmsg.MetadataRequestTopic{}
		served = &none
	}
	return runThen(c, served, next, func(r kmsg.Response) {
		resp := r.(*kmsg.MetadataResponse)
		resp.Version = req.Version
		for _, name := range missing {
			t := kmsg.NewMetadataResponseTopic()
			t.Topic, t.ErrorCode = kmsg.StringPtr(name), kerr.UnknownTopicOrPartition.Code
			resp.Topics = append(resp.Topics, t)
		}
		if req.IncludeClusterAuthorizedOperations {
			resp.AuthorizedOperations = authorizedOps(c, a, acl.ClusterResource(), clusterOperations)
		}
		defer func() {
			if !req.IncludeTopicAuthorizedOperations {
				return
			}
			for i := range resp.Topics {
				t := &resp.Topics[i]
				if t.ErrorCode == 0 && t.Topic != nil {
					t.AuthorizedOperations = authorizedOps(c, a, acl.TopicResource(*t.Topic), topicOperations)
				}
			}
		}()
		kept := resp.Topics[:0]
		for _, t := range resp.Topics {
			name := ""
			if t.Topic != nil {
				name = *t.Topic
			}
			if name == "" || t.ErrorCode == kerr.UnknownTopicID.Code {
				kept = append(kept, t)
				continue
			}
			if all {
				if visible(c, a, acl.Describe, acl.TopicResource(name)) {
					kept = append(kept, t)
				}
				continue
			}
			if !authorized(c, a, acl.Describe, acl.TopicResource(name)) {
				d := kmsg.NewMetadataResponseTopic()
				d.Topic, d.ErrorCode = t.Topic, codeTopicAuth
				t = d
			}
			kept = append(kept, t)
		}
		resp.Topics = kept
	})
}

// guardGroupRead refuses, with GROUP_AUTHORIZATION_FAILED in the response's
// top-level error code, a principal who may not read the group.
func guardGroupRead(group func(kmsg.Request) string) aclGuard {
	return func(c *Conn, a aclCheck, req kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
		if authorized(c, a, acl.Read, acl.GroupResource(group(req))) {
			return next(c, req)
		}
		resp := req.ResponseKind()
		switch r := resp.(type) {
		case *kmsg.JoinGroupResponse:
			r.ErrorCode = codeGroupAuth
		case *kmsg.HeartbeatResponse:
			r.ErrorCode = codeGroupAuth
		case *kmsg.LeaveGroupResponse:
			r.ErrorCode = codeGroupAuth
		case *kmsg.SyncGroupResponse:
			r.ErrorCode = codeGroupAuth
		case *kmsg.ConsumerGroupHeartbeatResponse:
			r.ErrorCode = codeGroupAuth
			msg := "group authorization failed"
			r.ErrorMessage = &msg
		}
		return resp, nil, nil
	}
}

func guardOffsetCommit(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.OffsetCommitRequest)
	var keep, denied []kmsg.OffsetCommitRequestTopic
	code := codeTopicAuth
	if !authorized(c, a, acl.Read, acl.GroupResource(req.Group)) {
		denied, code = req.Topics, codeGroupAuth
	} else {
		keep, denied = split(req.Topics, func(t *kmsg.OffsetCommitRequestTopic) string { return t.Topic },
			func(n string) bool { return authorized(c, a, acl.Read, acl.TopicResource(n)) })
	}
	if len(denied) == 0 {
		return next(c, req) // the common case: no closure made
	}
	return narrowed(c, req, next, len(keep), func() { req.Topics = keep }, func(r kmsg.Response) {
		resp := r.(*kmsg.OffsetCommitResponse)
		for _, t := range denied {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
	})
}

func guardOffsetFetch(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.OffsetFetchRequest)
	groupOK := map[string]bool{}
	if req.Version < 8 {
		groupOK[req.Group] = authorized(c, a, acl.Describe, acl.GroupResource(req.Group))
	} else {
		for _, g := range req.Groups {
			groupOK[g.Group] = authorized(c, a, acl.Describe, acl.GroupResource(g.Group))
		}
	}
	// Topics: those asked for by name and refused answer 29; when all were
	// asked for (null), the refused ones are left out.
	fixTopics := func(all bool, topics []kmsg.OffsetFetchResponseTopic) []kmsg.OffsetFetchResponseTopic {
		kept := topics[:0]
		for _, t := range topics {
			if all {
				if visible(c, a, acl.Describe, acl.TopicResource(t.Topic)) {
					kept = append(kept, t)
				}
				continue
			}
			if !authorized(c, a, acl.Describe, acl.TopicResource(t.Topic)) {
				for j := range t.Partitions {
					p := &t.Partitions[j]
					p.ErrorCode, p.Offset, p.LeaderEpoch, p.Metadata = codeTopicAuth, -1, -1, nil
				}
			}
			kept = append(kept, t)
		}
		return kept
	}
	fixGroupTopics := func(all bool, topics []kmsg.OffsetFetchResponseGroupTopic) []kmsg.OffsetFetchResponseGroupTopic {
		kept := topics[:0]
		for _, t := range topics {
			if all {
				if visible(c, a, acl.Describe, acl.TopicResource(t.Topic)) {
					kept = append(kept, t)
				}
				continue
			}
			if !authorized(c, a, acl.Describe, acl.TopicResource(t.Topic)) {
				for j := range t.Partitions {
					p := &t.Partitions[j]
					p.ErrorCode, p.Offset, p.LeaderEpoch, p.Metadata = codeTopicAuth, -1, -1, nil
				}
			}
			kept = append(kept, t)
		}
		return kept
	}
	if req.Version < 8 && !groupOK[req.Group] {
		resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
		resp.ErrorCode = codeGroupAuth
		for _, t := range req.Topics { // v0-1 have no top-level error code
			rt := kmsg.NewOffsetFetchResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetFetchResponseTopicPartition()
				rp.Partition, rp.ErrorCode, rp.Offset = p, codeGroupAuth, -1
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, nil
	}
	allByGroup := map[string]bool{}
	for _, g := range req.Groups {
		allByGroup[g.Group] = g.Topics == nil
	}
	return runThen(c, req, next, func(r kmsg.Response) {
		resp := r.(*kmsg.OffsetFetchResponse)
		if req.Version < 8 {
			resp.Topics = fixTopics(req.Topics == nil, resp.Topics)
			return
		}
		for i := range resp.Groups {
			g := &resp.Groups[i]
			if !groupOK[g.Group] {
				g.ErrorCode, g.Topics = codeGroupAuth, nil
				continue
			}
			g.Topics = fixGroupTopics(allByGroup[g.Group], g.Topics)
		}
	})
}

func guardDescribeGroups(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	return runThen(c, kreq, next, func(r kmsg.Response) {
		resp := r.(*kmsg.DescribeGroupsResponse)
		for i := range resp.Groups {
			g := &resp.Groups[i]
			if !authorized(c, a, acl.Describe, acl.GroupResource(g.Group)) {
				d := kmsg.NewDescribeGroupsResponseGroup()
				d.Group, d.ErrorCode = g.Group, codeGroupAuth
				*g = d
			}
		}
	})
}

func guardConsumerGroupDescribe(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	return runThen(c, kreq, next, func(r kmsg.Response) {
		resp := r.(*kmsg.ConsumerGroupDescribeResponse)
		for i := range resp.Groups {
			g := &resp.Groups[i]
			if !authorized(c, a, acl.Describe, acl.GroupResource(g.Group)) {
				d := kmsg.NewConsumerGroupDescribeResponseGroup()
				d.Group, d.ErrorCode = g.Group, codeGroupAuth
				*g = d
			}
		}
	})
}

func guardListGroups(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	if visible(c, a, acl.Describe, acl.ClusterResource()) {
		return next(c, kreq)
	}
	return runThen(c, kreq, next, func(r kmsg.Response) {
		resp := r.(*kmsg.ListGroupsResponse)
		kept := resp.Groups[:0]
		for _, g := range resp.Groups {
			if visible(c, a, acl.Describe, acl.GroupResource(g.Group)) {
				kept = append(kept, g)
			}
		}
		resp.Groups = kept
	})
}

func guardDeleteGroups(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.DeleteGroupsRequest)
	keep, denied := split(req.Groups, func(g *string) string { return *g },
		func(n string) bool { return authorized(c, a, acl.Delete, acl.GroupResource(n)) })
	if len(denied) == 0 {
		return next(c, req) // the common case: no closure made
	}
	return narrowed(c, req, next, len(keep), func() { req.Groups = keep }, func(r kmsg.Response) {
		resp := r.(*kmsg.DeleteGroupsResponse)
		for _, g := range denied {
			rg := kmsg.NewDeleteGroupsResponseGroup()
			rg.Group, rg.ErrorCode = g, codeGroupAuth
			resp.Groups = append(resp.Groups, rg)
		}
	})
}

func guardOffsetDelete(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.OffsetDeleteRequest)
	if !authorized(c, a, acl.Delete, acl.GroupResource(req.Group)) {
		resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
		resp.ErrorCode = codeGroupAuth
		return resp, nil, nil
	}
	keep, denied := split(req.Topics, func(t *kmsg.OffsetDeleteRequestTopic) string { return t.Topic },
		func(n string) bool { return authorized(c, a, acl.Read, acl.TopicResource(n)) })
	if len(denied) == 0 {
		return next(c, req) // the common case: no closure made
	}
	return narrowed(c, req, next, len(keep), func() { req.Topics = keep }, func(r kmsg.Response) {
		resp := r.(*kmsg.OffsetDeleteResponse)
		for _, t := range denied {
			rt := kmsg.NewOffsetDeleteResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetDeleteResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, codeTopicAuth
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
	})
}

func authMessage(c *Conn, op acl.Operation, res acl.Resource) *string {
	p := principalName(c.Context())
	who := "anonymous request"
	if p != "" {
		who = fmt.Sprintf("principal %q", p)
	}
	msg := fmt.Sprintf("%s is not authorized to %s %s", who, op, res)
	return &msg
}

func guardCreateTopics(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.CreateTopicsRequest)
	cluster := visible(c, a, acl.Create, acl.ClusterResource())
	keep, denied := split(req.Topics, func(t *kmsg.CreateTopicsRequestTopic) string { return t.Topic },
		func(n string) bool { return cluster || authorized(c, a, acl.Create, acl.TopicResource(n)) })
	if len(denied) == 0 {
		return next(c, req) // the common case: no closure made
	}
	return narrowed(c, req, next, len(keep), func() { req.Topics = keep }, func(r kmsg.Response) {
		resp := r.(*kmsg.CreateTopicsResponse)
		for _, t := range denied {
			rt := kmsg.NewCreateTopicsResponseTopic()
			rt.Topic, rt.ErrorCode = t.Topic, codeTopicAuth
			rt.ErrorMessage = authMessage(c, acl.Create, acl.TopicResource(t.Topic))
			rt.NumPartitions, rt.ReplicationFactor = -1, -1
			resp.Topics = append(resp.Topics, rt)
		}
	})
}

func guardDeleteTopics(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.DeleteTopicsRequest)
	b := c.srv.Broker()
	ok := func(n string) bool { return n == "" || authorized(c, a, acl.Delete, acl.TopicResource(n)) }
	var deniedNames []string
	var deniedTopics []kmsg.DeleteTopicsRequestTopic
	if req.Version < 6 {
		var keep []string
		keep, deniedNames = split(req.TopicNames, func(n *string) string { return *n }, ok)
		if len(deniedNames) == 0 {
			return next(c, req)
		}
		req.TopicNames = keep
	} else {
		var keep []kmsg.DeleteTopicsRequestTopic
		keep, deniedTopics = split(req.Topics, func(t *kmsg.DeleteTopicsRequestTopic) string {
			if t.Topic != nil {
				return *t.Topic
			}
			n, _ := b.TopicByID(t.TopicID)
			return n
		}, ok)
		if len(deniedTopics) == 0 {
			return next(c, req)
		}
		req.Topics = keep
	}
	post := func(r kmsg.Response) {
		resp := r.(*kmsg.DeleteTopicsResponse)
		for _, n := range deniedNames {
			rt := kmsg.NewDeleteTopicsResponseTopic()
			name := n
			rt.Topic, rt.ErrorCode = &name, codeTopicAuth
			resp.Topics = append(resp.Topics, rt)
		}
		for _, t := range deniedTopics {
			rt := kmsg.NewDeleteTopicsResponseTopic()
			rt.Topic, rt.TopicID, rt.ErrorCode = t.Topic, t.TopicID, codeTopicAuth
			resp.Topics = append(resp.Topics, rt)
		}
	}
	if len(req.TopicNames) == 0 && len(req.Topics) == 0 {
		resp := req.ResponseKind()
		post(resp)
		return resp, nil, nil
	}
	return runThen(c, req, next, post)
}

func guardDeleteRecords(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.DeleteRecordsRequest)
	keep, denied := split(req.Topics, func(t *kmsg.DeleteRecordsRequestTopic) string { return t.Topic },
		func(n string) bool { return authorized(c, a, acl.Delete, acl.TopicResource(n)) })
	if len(denied) == 0 {
		return next(c, req) // the common case: no closure made
	}
	return narrowed(c, req, next, len(keep), func() { req.Topics = keep }, func(r kmsg.Response) {
		resp := r.(*kmsg.DeleteRecordsResponse)
		for _, t := range denied {
			rt := kmsg.NewDeleteRecordsResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewDeleteRecordsResponseTopicPartition()
				rp.Partition, rp.ErrorCode, rp.LowWatermark = p.Partition, codeTopicAuth, -1
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
	})
}

func guardCreatePartitions(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.CreatePartitionsRequest)
	keep, denied := split(req.Topics, func(t *kmsg.CreatePartitionsRequestTopic) string { return t.Topic },
		func(n string) bool { return authorized(c, a, acl.Alter, acl.TopicResource(n)) })
	if len(denied) == 0 {
		return next(c, req) // the common case: no closure made
	}
	return narrowed(c, req, next, len(keep), func() { req.Topics = keep }, func(r kmsg.Response) {
		resp := r.(*kmsg.CreatePartitionsResponse)
		for _, t := range denied {
			rt := kmsg.NewCreatePartitionsResponseTopic()
			rt.Topic, rt.ErrorCode = t.Topic, codeTopicAuth
			rt.ErrorMessage = authMessage(c, acl.Alter, acl.TopicResource(t.Topic))
			resp.Topics = append(resp.Topics, rt)
		}
	})
}

// configResource maps a config resource (2 topic, 4 broker) to its ACL
// resource and refusal code; other types are left to the handler.
func configResource(typ kmsg.ConfigResourceType, name string) (acl.Resource, int16, bool) {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		return acl.TopicResource(name), codeTopicAuth, true
	case kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeBrokerLogger:
		return acl.ClusterResource(), codeClusterAuth, true
	}
	return acl.Resource{}, 0, false
}

func guardDescribeConfigs(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	return runThen(c, kreq, next, func(r kmsg.Response) {
		resp := r.(*kmsg.DescribeConfigsResponse)
		for i := range resp.Resources {
			rr := &resp.Resources[i]
			res, code, ok := configResource(rr.ResourceType, rr.ResourceName)
			if ok && !authorized(c, a, acl.Describe, res) {
				rr.ErrorCode, rr.Configs = code, nil
				rr.ErrorMessage = authMessage(c, acl.Describe, res)
			}
		}
	})
}

func guardAlterConfigs(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.AlterConfigsRequest)
	type refused struct {
		r    kmsg.AlterConfigsRequestResource
		code int16
		msg  *string
	}
	var denied []refused
	keep := req.Resources[:0:0]
	for _, rr := range req.Resources {
		res, code, ok := configResource(rr.ResourceType, rr.ResourceName)
		if ok && !authorized(c, a, acl.Alter, res) {
			denied = append(denied, refused{rr, code, authMessage(c, acl.Alter, res)})
			continue
		}
		keep = append(keep, rr)
	}
	if len(denied) == 0 {
		return next(c, req) // the common case: no closure made
	}
	return narrowed(c, req, next, len(keep), func() { req.Resources = keep }, func(r kmsg.Response) {
		resp := r.(*kmsg.AlterConfigsResponse)
		for _, d := range denied {
			rr := kmsg.NewAlterConfigsResponseResource()
			rr.ResourceType, rr.ResourceName, rr.ErrorCode, rr.ErrorMessage = d.r.ResourceType, d.r.ResourceName, d.code, d.msg
			resp.Resources = append(resp.Resources, rr)
		}
	})
}

func guardIncrementalAlterConfigs(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.IncrementalAlterConfigsRequest)
	type refused struct {
		r    kmsg.IncrementalAlterConfigsRequestResource
		code int16
		msg  *string
	}
	var denied []refused
	keep := req.Resources[:0:0]
	for _, rr := range req.Resources {
		res, code, ok := configResource(rr.ResourceType, rr.ResourceName)
		if ok && !authorized(c, a, acl.Alter, res) {
			denied = append(denied, refused{rr, code, authMessage(c, acl.Alter, res)})
			continue
		}
		keep = append(keep, rr)
	}
	if len(denied) == 0 {
		return next(c, req) // the common case: no closure made
	}
	return narrowed(c, req, next, len(keep), func() { req.Resources = keep }, func(r kmsg.Response) {
		resp := r.(*kmsg.IncrementalAlterConfigsResponse)
		for _, d := range denied {
			rr := kmsg.NewIncrementalAlterConfigsResponseResource()
			rr.ResourceType, rr.ResourceName, rr.ErrorCode, rr.ErrorMessage = d.r.ResourceType, d.r.ResourceName, d.code, d.msg
			resp.Resources = append(resp.Resources, rr)
		}
	})
}

func guardInitProducerID(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.InitProducerIDRequest)
	if req.TransactionalID == nil || authorized(c, a, acl.Write, acl.TransactionalIDResource(*req.TransactionalID)) {
		return next(c, req)
	}
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch = codeTxnAuth, -1, -1
	return resp, nil, nil
}

func guardAddPartitionsToTxn(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.AddPartitionsToTxnRequest)
	txnOK := authorized(c, a, acl.Write, acl.TransactionalIDResource(req.TransactionalID))
	topicOK := map[string]bool{}
	allOK := txnOK
	if txnOK {
		for _, t := range req.Topics {
			ok := authorized(c, a, acl.Write, acl.TopicResource(t.Topic))
			topicOK[t.Topic] = ok
			allOK = allOK && ok
		}
	}
	if allOK {
		return next(c, req)
	}
	// As Kafka: nothing is added; refused topics answer 29 and the rest
	// OPERATION_NOT_ATTEMPTED, or every partition 53 for the id.
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewAddPartitionsToTxnResponseTopic()
		rt.Topic = t.Topic
		code := kerr.OperationNotAttempted.Code
		switch {
		case !txnOK:
			code = codeTxnAuth
		case !topicOK[t.Topic]:
			code = codeTopicAuth
		}
		for _, p := range t.Partitions {
			rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil, nil
}

func guardAddOffsetsToTxn(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.AddOffsetsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	switch {
	case !authorized(c, a, acl.Write, acl.TransactionalIDResource(req.TransactionalID)):
		resp.ErrorCode = codeTxnAuth
	case !authorized(c, a, acl.Read, acl.GroupResource(req.Group)):
		resp.ErrorCode = codeGroupAuth
	default:
		return next(c, req)
	}
	return resp, nil, nil
}

func guardEndTxn(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.EndTxnRequest)
	if authorized(c, a, acl.Write, acl.TransactionalIDResource(req.TransactionalID)) {
		return next(c, req)
	}
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	resp.ErrorCode = codeTxnAuth
	return resp, nil, nil
}

func guardTxnOffsetCommit(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.TxnOffsetCommitRequest)
	code := int16(0)
	switch {
	case !authorized(c, a, acl.Write, acl.TransactionalIDResource(req.TransactionalID)):
		code = codeTxnAuth
	case !authorized(c, a, acl.Read, acl.GroupResource(req.Group)):
		code = codeGroupAuth
	}
	var keep, denied []kmsg.TxnOffsetCommitRequestTopic
	if code != 0 {
		denied = req.Topics
	} else {
		code = codeTopicAuth
		keep, denied = split(req.Topics, func(t *kmsg.TxnOffsetCommitRequestTopic) string { return t.Topic },
			func(n string) bool { return authorized(c, a, acl.Read, acl.TopicResource(n)) })
	}
	if len(denied) == 0 {
		return next(c, req) // the common case: no closure made
	}
	return narrowed(c, req, next, len(keep), func() { req.Topics = keep }, func(r kmsg.Response) {
		resp := r.(*kmsg.TxnOffsetCommitResponse)
		for _, t := range denied {
			rt := kmsg.NewTxnOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
	})
}

func guardDescribeTransactions(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	return runThen(c, kreq, next, func(r kmsg.Response) {
		resp := r.(*kmsg.DescribeTransactionsResponse)
		for i := range resp.TransactionStates {
			s := &resp.TransactionStates[i]
			if !authorized(c, a, acl.Describe, acl.TransactionalIDResource(s.TransactionalID)) {
				d := kmsg.NewDescribeTransactionsResponseTransactionState()
				d.TransactionalID, d.ErrorCode = s.TransactionalID, codeTxnAuth
				*s = d
			}
		}
	})
}

func guardListTransactions(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	return runThen(c, kreq, next, func(r kmsg.Response) {
		resp := r.(*kmsg.ListTransactionsResponse)
		kept := resp.TransactionStates[:0]
		for _, s := range resp.TransactionStates {
			if visible(c, a, acl.Describe, acl.TransactionalIDResource(s.TransactionalID)) {
				kept = append(kept, s)
			}
		}
		resp.TransactionStates = kept
	})
}

// principalName is the connection's principal ("" anonymous).
func principalName(ctx context.Context) string {
	p, _ := auth.FromContext(ctx)
	return p.Name
}

func guardDescribeCluster(c *Conn, a aclCheck, kreq kmsg.Request, next handler) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.DescribeClusterRequest)
	if !req.IncludeClusterAuthorizedOperations {
		return next(c, req)
	}
	return runThen(c, req, next, func(r kmsg.Response) {
		r.(*kmsg.DescribeClusterResponse).ClusterAuthorizedOperations = authorizedOps(c, a, acl.ClusterResource(), clusterOperations)
	})
}

// authorizedOps is the subset of the Kafka operation bits in mask that the
// connection's principal may perform on res.
func authorizedOps(c *Conn, a aclCheck, res acl.Resource, mask int32) int32 {
	var out int32
	for op := kmsg.ACLOperation(0); op < 32; op++ {
		if mask&(1<<op) == 0 {
			continue
		}
		var want acl.Operation
		switch op {
		case kmsg.ACLOperationDescribeConfigs:
			want = acl.Describe
		case kmsg.ACLOperationAlterConfigs:
			want = acl.Alter
		case kmsg.ACLOperationClusterAction:
			want = acl.All
		case kmsg.ACLOperationIdempotentWrite:
			out |= 1 << op
			continue
		default:
			var ok bool
			if want, ok = kafkaOps[op]; !ok {
				continue
			}
		}
		if visible(c, a, want, res) {
			out |= 1 << op
		}
	}
	return out
}
