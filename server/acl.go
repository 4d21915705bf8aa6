package server

// Authorization on the node's Connect services (DESIGN.md §10). The node
// has one acl.Authorizer over its meta store (table acl_rules in meta.db,
// or in cluster mode in the cluster's PostgreSQL database); it enforces exactly
// when authentication is on (Config.Auth). The Kafka listener
// (broker/kafka/authorize.go) and the Confluent REST API
// (registry/rest/authorize.go) ask it too; here one Connect interceptor asks
// it for every broker, group, topic and registry procedure before the
// handler runs, from the table below, so a refused produce writes nothing
// and a refused read returns nothing; the refusal is PermissionDenied
// naming the principal, the operation and the resource. A procedure with no
// entry is refused when ACLs are enforced, so that a new RPC cannot slip
// past (a test checks every procedure has one). The AclService checks its
// own calls (alter or describe on the cluster).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"github.com/sluicehq/sluice/acl"
	"github.com/sluicehq/sluice/proto/gen/sluice/acl/v1/aclv1connect"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
	"github.com/sluicehq/sluice/proto/gen/sluice/cluster/v1/clusterv1connect"
	registryv1 "github.com/sluicehq/sluice/proto/gen/sluice/registry/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/registry/v1/registryv1connect"
	"github.com/sluicehq/sluice/registry"
)

// openACL opens the ACL store and the node's Authorizer: the rules live in
// meta.db, or in cluster mode (after openRegistry joined the cluster) in
// the cluster's PostgreSQL database, shared by every node, each following
// the others' writes (LISTEN/NOTIFY and a safety poll, acl.Watcher) until
// closeACL.
func (s *Server) openACL(ctx context.Context, db *sql.DB, enforce bool) error {
	var store *acl.MetaStore
	var err error
	if s.cluster != nil {
		// The node's notification hub: one listening connection per node.
		store, err = acl.OpenPostgresStore(ctx, s.cluster.pool, s.cluster.notify)
	} else {
		store, err = acl.OpenSQLiteStore(ctx, db)
	}
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.ACL, err = acl.New(ctx, acl.Config{Store: store, Enforce: enforce, Logger: s.cfg.Logger.With("component", "acl")})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

// closeACL stops the Authorizer following a shared store (before the
// cluster's pool closes); a no-op otherwise.
func (s *Server) closeACL() { s.ACL.Close() }

// connectCheck is one procedure's authorization: check runs on the request
// message before the handler, filter (optional) trims a listing in the
// response to what the principal may describe.
type connectCheck struct {
	check  func(ctx context.Context, g *connectGuard, msg any) error
	filter func(ctx context.Context, g *connectGuard, msg any)
}

// connectGuard is the interceptor.
type connectGuard struct {
	a   *acl.Authorizer
	reg *registry.Registry
}

func (g *connectGuard) authorize(ctx context.Context, op acl.Operation, res acl.Resource) error {
	return g.a.Authorize(ctx, op, res)
}

func one(op acl.Operation, res func(any) acl.Resource) func(context.Context, *connectGuard, any) error {
	return func(ctx context.Context, g *connectGuard, msg any) error { return g.authorize(ctx, op, res(msg)) }
}

func topicOf(name func(any) string) func(any) acl.Resource {
	return func(m any) acl.Resource { return acl.TopicResource(name(m)) }
}

func subjectOf(name func(any) string) func(any) acl.Resource {
	return func(m any) acl.Resource { return acl.SubjectResource(name(m)) }
}

// subjectOrCluster is the subject's resource, or the cluster for the
// global config ("" subject).
func subjectOrCluster(name func(any) string) func(any) acl.Resource {
	return func(m any) acl.Resource {
		if n := name(m); n != "" {
			return acl.SubjectResource(n)
		}
		return acl.ClusterResource()
	}
}

// readSchemaID allows reading schema id when the principal may read one of
// the subjects it is a version of (soft-deleted ones included), as the REST
// API does; an unknown id is left to the handler (NotFound).
func (g *connectGuard) readSchemaID(ctx context.Context, id int) error {
	subjects, err := g.reg.SubjectsByID(ctx, id, registry.ListOptions{Deleted: true})
	if err != nil {
		return nil
	}
	res := make([]acl.Resource, len(subjects))
	for i, s := range subjects {
		res[i] = acl.SubjectResource(s)
	}
	return g.a.AuthorizeAny(ctx, acl.Read, res)
}

// connectChecks maps every procedure of the broker and registry services
// to its check.
var connectChecks = map[string]connectCheck{
	// ClusterService (cluster_status.go): describe on the cluster.
	clusterv1connect.ClusterServiceStatusProcedure: {check: one(acl.Describe, func(any) acl.Resource { return acl.ClusterResource() })},
	// BrokerService
	brokerv1connect.BrokerServiceProduceProcedure: {check: one(acl.Write, topicOf(func(m any) string { return m.(*brokerv1.ProduceRequest).GetTopic() }))},
	brokerv1connect.BrokerServiceProduceStreamProcedure: {check: one(acl.Write, topicOf(func(m any) string {
		return m.(*brokerv1.ProduceStreamRequest).GetRequest().GetTopic()
	}))},
	brokerv1connect.BrokerServiceFetchProcedure: {check: one(acl.Read, topicOf(func(m any) string { return m.(*brokerv1.FetchRequest).GetTopic() }))},
	brokerv1connect.BrokerServiceSubscribeProcedure: {check: one(acl.Read, topicOf(func(m any) string {
		return m.(*brokerv1.SubscribeRequest).GetTopic()
	}))},
	brokerv1connect.BrokerServiceListOffsetsProcedure: {check: one(acl.Describe, topicOf(func(m any) string {
		return m.(*brokerv1.ListOffsetsRequest).GetTopic()
	}))},

	// TopicService
	brokerv1connect.TopicServiceCreateTopicProcedure: {check: func(ctx context.Context, g *connectGuard, m any) error {
		if g.a.Allowed(ctx, acl.Create, acl.ClusterResource()) {
			return nil
		}
		return g.authorize(ctx, acl.Create, acl.TopicResource(m.(*brokerv1.CreateTopicRequest).GetName()))
	}},
	brokerv1connect.TopicServiceDeleteTopicProcedure: {check: one(acl.Delete, topicOf(func(m any) string { return m.(*brokerv1.DeleteTopicRequest).GetName() }))},
	brokerv1connect.TopicServiceDescribeTopicProcedure: {check: one(acl.Describe, topicOf(func(m any) string {
		return m.(*brokerv1.DescribeTopicRequest).GetName()
	}))},
	brokerv1connect.TopicServiceAlterTopicConfigsProcedure: {check: one(acl.Alter, topicOf(func(m any) string {
		return m.(*brokerv1.AlterTopicConfigsRequest).GetName()
	}))},
	brokerv1connect.TopicServiceCreatePartitionsProcedure: {check: one(acl.Alter, topicOf(func(m any) string {
		return m.(*brokerv1.CreatePartitionsRequest).GetName()
	}))},
	brokerv1connect.TopicServiceListTopicsProcedure: {
		check: func(context.Context, *connectGuard, any) error { return nil },
		filter: func(ctx context.Context, g *connectGuard, m any) {
			resp := m.(*brokerv1.ListTopicsResponse)
			kept := resp.Topics[:0]
			for _, t := range resp.Topics {
				if g.a.Allowed(ctx, acl.Describe, acl.TopicResource(t.GetName())) {
					kept = append(kept, t)
				}
			}
			resp.Topics = kept
		},
	},

	// GroupService
	brokerv1connect.GroupServiceHeartbeatProcedure: {check: one(acl.Read, groupOf(func(m any) string { return m.(*brokerv1.HeartbeatRequest).GetGroup() }))},
	brokerv1connect.GroupServiceLeaveGroupProcedure: {check: one(acl.Read, groupOf(func(m any) string {
		return m.(*brokerv1.LeaveGroupRequest).GetGroup()
	}))},
	brokerv1connect.GroupServiceConsumeProcedure: {check: func(ctx context.Context, g *connectGuard, m any) error {
		req := m.(*brokerv1.ConsumeRequest)
		if err := g.authorize(ctx, acl.Read, acl.GroupResource(req.GetGroup())); err != nil {
			return err
		}
		for _, t := range req.GetSubscription().GetTopics() {
			if err := g.authorize(ctx, acl.Read, acl.TopicResource(t)); err != nil {
				return err
			}
		}
		if req.GetSubscription().GetTopicRegex() != "" {
			// A pattern may match any topic, now or later: it needs read
			// on every topic (a literal "*" rule).
			return g.authorize(ctx, acl.Read, acl.TopicResource(acl.Wildcard))
		}
		return nil
	}},
	brokerv1connect.GroupServiceCommitOffsetsProcedure: {check: func(ctx context.Context, g *connectGuard, m any) error {
		req := m.(*brokerv1.CommitOffsetsRequest)
		if err := g.authorize(ctx, acl.Read, acl.GroupResource(req.GetGroup())); err != nil {
			return err
		}
		for _, o := range req.GetOffsets() {
			if err := g.authorize(ctx, acl.Read, acl.TopicResource(o.GetTopic())); err != nil {
				return err
			}
		}
		return nil
	}},
	// Kafka's rules for a transactional producer: Write on its
	// transactional id and on every topic written, Read on the group and
	// on every topic whose offsets it commits.
	brokerv1connect.GroupServiceInitProducerProcedure: {check: one(acl.Write, func(m any) acl.Resource {
		return acl.TransactionalIDResource(m.(*brokerv1.InitProducerRequest).GetTransactionalId())
	})},
	brokerv1connect.GroupServiceProduceAndCommitProcedure: {check: func(ctx context.Context, g *connectGuard, m any) error {
		req := m.(*brokerv1.ProduceAndCommitRequest)
		if err := g.authorize(ctx, acl.Write, acl.TransactionalIDResource(req.GetTransactionalId())); err != nil {
			return err
		}
		for _, t := range req.GetTopics() {
			if err := g.authorize(ctx, acl.Write, acl.TopicResource(t.GetTopic())); err != nil {
				return err
			}
		}
		if len(req.GetOffsets()) > 0 || req.GetGroup() != "" {
			if err := g.authorize(ctx, acl.Read, acl.GroupResource(req.GetGroup())); err != nil {
				return err
			}
		}
		for _, o := range req.GetOffsets() {
			if err := g.authorize(ctx, acl.Read, acl.TopicResource(o.GetTopic())); err != nil {
				return err
			}
		}
		return nil
	}},
	brokerv1connect.GroupServiceFetchOffsetsProcedure: {
		check: one(acl.Describe, groupOf(func(m any) string { return m.(*brokerv1.FetchOffsetsRequest).GetGroup() })),
		filter: func(ctx context.Context, g *connectGuard, m any) {
			resp := m.(*brokerv1.FetchOffsetsResponse)
			kept := resp.Offsets[:0]
			for _, o := range resp.Offsets {
				if g.a.Allowed(ctx, acl.Describe, acl.TopicResource(o.GetTopic())) {
					kept = append(kept, o)
				}
			}
			resp.Offsets = kept
		},
	},
	brokerv1connect.GroupServiceDescribeGroupProcedure: {check: one(acl.Describe, groupOf(func(m any) string {
		return m.(*brokerv1.DescribeGroupRequest).GetGroup()
	}))},
	brokerv1connect.GroupServiceDeleteGroupProcedure: {check: one(acl.Delete, groupOf(func(m any) string {
		return m.(*brokerv1.DeleteGroupRequest).GetGroup()
	}))},
	brokerv1connect.GroupServiceResetOffsetsProcedure: {check: func(ctx context.Context, g *connectGuard, m any) error {
		req := m.(*brokerv1.ResetOffsetsRequest)
		if err := g.authorize(ctx, acl.Read, acl.GroupResource(req.GetGroup())); err != nil {
			return err
		}
		return g.authorize(ctx, acl.Read, acl.TopicResource(req.GetTopic()))
	}},
	brokerv1connect.GroupServiceListGroupsProcedure: {
		check: func(context.Context, *connectGuard, any) error { return nil },
		filter: func(ctx context.Context, g *connectGuard, m any) {
			if g.a.Allowed(ctx, acl.Describe, acl.ClusterResource()) {
				return
			}
			resp := m.(*brokerv1.ListGroupsResponse)
			kept := resp.Groups[:0]
			for _, l := range resp.Groups {
				if g.a.Allowed(ctx, acl.Describe, acl.GroupResource(l.GetGroup())) {
					kept = append(kept, l)
				}
			}
			resp.Groups = kept
		},
	},

	// RegistryService
	registryv1connect.RegistryServiceRegisterProcedure: {check: one(acl.Write, subjectOf(func(m any) string { return m.(*registryv1.RegisterRequest).GetSubject() }))},
	registryv1connect.RegistryServiceLookupProcedure:   {check: one(acl.Read, subjectOf(func(m any) string { return m.(*registryv1.LookupRequest).GetSubject() }))},
	registryv1connect.RegistryServiceGetVersionProcedure: {check: one(acl.Read, subjectOf(func(m any) string {
		return m.(*registryv1.GetVersionRequest).GetSubject()
	}))},
	registryv1connect.RegistryServiceListVersionsProcedure: {check: one(acl.Describe, subjectOf(func(m any) string {
		return m.(*registryv1.ListVersionsRequest).GetSubject()
	}))},
	registryv1connect.RegistryServiceCheckCompatibilityProcedure: {check: one(acl.Read, subjectOf(func(m any) string {
		return m.(*registryv1.CheckCompatibilityRequest).GetSubject()
	}))},
	registryv1connect.RegistryServiceGetConfigProcedure: {check: one(acl.Describe, subjectOrCluster(func(m any) string {
		return m.(*registryv1.GetConfigRequest).GetSubject()
	}))},
	registryv1connect.RegistryServiceSetConfigProcedure: {check: one(acl.Alter, subjectOrCluster(func(m any) string {
		return m.(*registryv1.SetConfigRequest).GetSubject()
	}))},
	registryv1connect.RegistryServiceDeleteSubjectProcedure: {check: one(acl.Delete, subjectOf(func(m any) string {
		return m.(*registryv1.DeleteSubjectRequest).GetSubject()
	}))},
	registryv1connect.RegistryServiceDeleteVersionProcedure: {check: one(acl.Delete, subjectOf(func(m any) string {
		return m.(*registryv1.DeleteVersionRequest).GetSubject()
	}))},
	registryv1connect.RegistryServiceGetSchemaProcedure: {check: func(ctx context.Context, g *connectGuard, m any) error {
		return g.readSchemaID(ctx, int(m.(*registryv1.GetSchemaRequest).GetId()))
	}},
	registryv1connect.RegistryServiceGetSchemaByGUIDProcedure: {check: func(ctx context.Context, g *connectGuard, m any) error {
		guid, err := uuid.FromBytes(m.(*registryv1.GetSchemaByGUIDRequest).GetGuid())
		if err != nil {
			return nil // the handler refuses the malformed GUID
		}
		ids, err := g.reg.IDsByGUID(ctx, guid)
		if err != nil || len(ids) == 0 {
			return nil
		}
		return g.readSchemaID(ctx, ids[0])
	}},
	registryv1connect.RegistryServiceListSubjectsProcedure: {
		check: func(context.Context, *connectGuard, any) error { return nil },
		filter: func(ctx context.Context, g *connectGuard, m any) {
			resp := m.(*registryv1.ListSubjectsResponse)
			kept := resp.Subjects[:0]
			for _, s := range resp.Subjects {
				if g.a.Allowed(ctx, acl.Describe, acl.SubjectResource(s)) {
					kept = append(kept, s)
				}
			}
			resp.Subjects = kept
		},
	},
}

func groupOf(name func(any) string) func(any) acl.Resource {
	return func(m any) acl.Resource { return acl.GroupResource(name(m)) }
}

// selfChecked are the procedures whose handlers check (the AclService).
var selfChecked = map[string]bool{
	aclv1connect.AclServiceCreateAclsProcedure: true,
	aclv1connect.AclServiceListAclsProcedure:   true,
	aclv1connect.AclServiceDeleteAclsProcedure: true,
}

// lookupCheck returns procedure's check; ok false means refuse (no entry).
func lookupCheck(procedure string) (connectCheck, bool) {
	c, ok := connectChecks[procedure]
	return c, ok
}

// permissionDenied maps a refusal to Connect's code.
func permissionDenied(err error) error {
	if errors.Is(err, acl.ErrDenied) {
		return connect.NewError(connect.CodePermissionDenied, err)
	}
	return err
}

// WrapUnary checks unary calls.
func (g *connectGuard) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		proc := req.Spec().Procedure
		if !g.a.Enforcing() || selfChecked[proc] || req.Spec().IsClient {
			return next(ctx, req)
		}
		c, ok := lookupCheck(proc)
		if !ok {
			return nil, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%s has no ACL rule", proc))
		}
		if err := c.check(ctx, g, req.Any()); err != nil {
			return nil, permissionDenied(err)
		}
		resp, err := next(ctx, req)
		if err == nil && c.filter != nil && resp != nil {
			c.filter(ctx, g, resp.Any())
		}
		return resp, err
	}
}

// WrapStreamingClient leaves clients alone.
func (g *connectGuard) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler checks each message a streaming handler receives
// (Subscribe and Consume receive one, their request) before the handler
// sees it.
func (g *connectGuard) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		proc := conn.Spec().Procedure
		if !g.a.Enforcing() || selfChecked[proc] {
			return next(ctx, conn)
		}
		c, ok := lookupCheck(proc)
		if !ok {
			return connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%s has no ACL rule", proc))
		}
		return next(ctx, &checkedConn{StreamingHandlerConn: conn, ctx: ctx, g: g, c: c})
	}
}

// checkedConn checks every received message.
type checkedConn struct {
	connect.StreamingHandlerConn
	ctx context.Context
	g   *connectGuard
	c   connectCheck
}

func (cc *checkedConn) Receive(m any) error {
	if err := cc.StreamingHandlerConn.Receive(m); err != nil {
		return err
	}
	return permissionDenied(cc.c.check(cc.ctx, cc.g, m))
}
