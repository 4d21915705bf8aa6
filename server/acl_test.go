package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/sluicehq/sluice/acl"
	aclv1 "github.com/sluicehq/sluice/proto/gen/sluice/acl/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/acl/v1/aclv1connect"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
	"github.com/sluicehq/sluice/proto/gen/sluice/cluster/v1/clusterv1connect"
	registryv1 "github.com/sluicehq/sluice/proto/gen/sluice/registry/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/registry/v1/registryv1connect"
)

// TestEveryProcedureHasAnACLCheck: a new RPC cannot slip past
// authorization: every procedure of the node's services has a check or
// checks itself.
func TestEveryProcedureHasAnACLCheck(t *testing.T) {
	var procs []string
	for _, fd := range []string{
		brokerv1connect.BrokerServiceName, brokerv1connect.TopicServiceName, brokerv1connect.GroupServiceName,
		registryv1connect.RegistryServiceName, aclv1connect.AclServiceName, clusterv1connect.ClusterServiceName,
	} {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(fd))
		if err != nil {
			t.Fatal(err)
		}
		ms := d.(protoreflect.ServiceDescriptor).Methods()
		for i := range ms.Len() {
			procs = append(procs, "/"+fd+"/"+string(ms.Get(i).Name()))
		}
	}
	if len(procs) < 30 {
		t.Fatalf("found only %d procedures", len(procs))
	}
	for _, p := range procs {
		if _, ok := connectChecks[p]; !ok && !selfChecked[p] {
			t.Errorf("procedure %s has no ACL check (server/acl.go)", p)
		}
	}
}

// aclNode is a node with authentication (alice is a superuser, bob is not)
// and the Kafka listener.
type aclNode struct {
	t     *testing.T
	s     *Server
	url   string
	kafka string
}

func startACLNode(t *testing.T) *aclNode {
	t.Helper()
	a, _, _ := newTestAuthenticator(t)
	s, url, stop, err := Start(context.Background(), Config{DataDir: t.TempDir(), Logger: testLogger(t), Auth: a,
		KafkaAddr: "127.0.0.1:0", Fsync: neverFsync(t)}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return &aclNode{t: t, s: s, url: url, kafka: s.KafkaAddr()}
}

// basicTransport adds basic auth to every request.
type basicTransport struct{ user, pass string }

func (b basicTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.pass)
	return http.DefaultTransport.RoundTrip(r)
}

func (n *aclNode) httpClient(user, pass string) *http.Client {
	return &http.Client{Transport: basicTransport{user, pass}}
}

func (n *aclNode) kgo(user, pass string) *kgo.Client {
	n.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.kafka), kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()))
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(cl.Close)
	return cl
}

// rest sends a REST request as bob and returns the status and body.
func (n *aclNode) rest(method, path, body string) (int, string) {
	n.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, n.url+path, rd)
	if err != nil {
		n.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	}
	resp, err := n.httpClient("bob", "bob-pw").Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// outcome is one probe's answer: allowed, refused (by ACL), or something
// else (a failure of the test).
type outcome string

const (
	allowed outcome = "allowed"
	refused outcome = "refused"
)

func restOutcome(status int, body string) outcome {
	switch {
	case status == 200:
		return allowed
	case status == 403 && strings.Contains(body, `"error_code":40301`):
		return refused
	}
	return outcome("HTTP " + body)
}

func connectOutcome(err error) outcome {
	switch {
	case err == nil:
		return allowed
	case connect.CodeOf(err) == connect.CodePermissionDenied:
		return refused
	}
	return outcome(err.Error())
}

func kafkaOutcome(code int16) outcome {
	switch code {
	case 0:
		return allowed
	case kerr.TopicAuthorizationFailed.Code, kerr.GroupAuthorizationFailed.Code, kerr.ClusterAuthorizationFailed.Code,
		kerr.TransactionalIDAuthorizationFailed.Code:
		return refused
	}
	return outcome(kerr.ErrorForCode(code).Error())
}

// TestACLSameAnswerOnEveryTransport: for each (resource, operation), bob
// is refused on every transport that can do it while he has no rule, and
// allowed on all of them once `allow bob OP RESOURCE` exists; a refused
// produce leaves the high watermark where it was.
func TestACLSameAnswerOnEveryTransport(t *testing.T) {
	n := startACLNode(t)
	ctx := context.Background()
	// Fixtures, as alice, a superuser.
	alice := n.httpClient("alice", "alice-pw")
	topics := brokerv1connect.NewTopicServiceClient(alice, n.url)
	for _, name := range []string{"orders", "listed", "doomed-c", "doomed-k"} {
		if _, err := topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: name, Partitions: 1})); err != nil {
			t.Fatal(err)
		}
	}
	reg := registryv1connect.NewRegistryServiceClient(alice, n.url)
	if _, err := reg.Register(ctx, connect.NewRequest(&registryv1.RegisterRequest{Subject: "pay-value", Schema: &registryv1.Schema{Text: `"string"`}})); err != nil {
		t.Fatal(err)
	}

	bob := n.httpClient("bob", "bob-pw")
	bobBroker := brokerv1connect.NewBrokerServiceClient(bob, n.url)
	bobTopics := brokerv1connect.NewTopicServiceClient(bob, n.url)
	bobReg := registryv1connect.NewRegistryServiceClient(bob, n.url)
	bobACL := aclv1connect.NewAclServiceClient(bob, n.url)
	bobKafka := n.kgo("bob", "bob-pw")

	kreq := func(req kmsg.Request) kmsg.Response {
		t.Helper()
		resp, err := bobKafka.Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	hwm := func() int64 {
		info, err := n.s.Broker.DescribeTopic("orders")
		if err != nil {
			t.Fatal(err)
		}
		return info.Partitions[0].HighWatermark
	}
	kafkaProduce := func() outcome {
		err := bobKafka.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("k")}).FirstErr()
		switch {
		case err == nil:
			return allowed
		case errors.Is(err, kerr.TopicAuthorizationFailed):
			return refused
		}
		return outcome(err.Error())
	}

	type probe struct {
		name string
		run  func() outcome
	}
	for _, tc := range []struct {
		name   string
		rule   acl.Rule
		probes []probe
		after  func(t *testing.T, allowedNow bool)
	}{
		{
			name: "write topic",
			rule: acl.Rule{Resource: acl.Topic, Name: "orders", Operation: acl.Write},
			probes: []probe{
				{"connect produce", func() outcome {
					_, err := bobBroker.Produce(ctx, connect.NewRequest(&brokerv1.ProduceRequest{Topic: "orders", Records: []*brokerv1.ProduceRecord{{Value: []byte("v")}}}))
					return connectOutcome(err)
				}},
				{"kafka produce", kafkaProduce},
			},
			after: func(t *testing.T, allowedNow bool) {
				want := int64(0)
				if allowedNow {
					want = 2
				}
				if got := hwm(); got != want {
					t.Fatalf("high watermark %d, want %d", got, want)
				}
			},
		},
		{
			name: "read topic",
			rule: acl.Rule{Resource: acl.Topic, Name: "orders", Operation: acl.Read},
			probes: []probe{
				{"connect fetch", func() outcome {
					_, err := bobBroker.Fetch(ctx, connect.NewRequest(&brokerv1.FetchRequest{Topic: "orders"}))
					return connectOutcome(err)
				}},
				{"connect subscribe", func() outcome {
					// orders holds the two records of "write topic": an
					// allowed subscription from the start gets them at once.
					sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					defer cancel()
					st, err := bobBroker.Subscribe(sctx, connect.NewRequest(&brokerv1.SubscribeRequest{Topic: "orders",
						Start: &brokerv1.SubscribeRequest_Position{Position: brokerv1.StartPosition_START_POSITION_EARLIEST}}))
					if err != nil {
						return connectOutcome(err)
					}
					defer st.Close()
					if st.Receive() {
						return allowed
					}
					return connectOutcome(st.Err())
				}},
				{"kafka fetch", func() outcome {
					req := kmsg.NewPtrFetchRequest()
					req.Version, req.ReplicaID, req.MaxBytes, req.SessionEpoch = 12, -1, 1<<20, -1
					// kgo sends v13+: the topic travels as its id.
					req.Topics = []kmsg.FetchRequestTopic{{Topic: "orders", TopicID: n.s.Broker.TopicIDs()["orders"], Partitions: []kmsg.FetchRequestTopicPartition{{Partition: 0, PartitionMaxBytes: 1 << 20, CurrentLeaderEpoch: -1}}}}
					return kafkaOutcome(kreq(req).(*kmsg.FetchResponse).Topics[0].Partitions[0].ErrorCode)
				}},
			},
		},
		{
			name: "describe topic",
			rule: acl.Rule{Resource: acl.Topic, Name: "listed", Operation: acl.Describe},
			probes: []probe{
				{"connect describe", func() outcome {
					_, err := bobTopics.DescribeTopic(ctx, connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: "listed"}))
					return connectOutcome(err)
				}},
				{"kafka metadata", func() outcome {
					req := kmsg.NewPtrMetadataRequest()
					req.Version = 12
					req.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("listed")}}
					return kafkaOutcome(kreq(req).(*kmsg.MetadataResponse).Topics[0].ErrorCode)
				}},
			},
		},
		{
			name: "create topic",
			rule: acl.Rule{Resource: acl.Topic, Name: "new-", Pattern: acl.Prefixed, Operation: acl.Create},
			probes: []probe{
				{"connect create", func() outcome {
					_, err := bobTopics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "new-c", Partitions: 1}))
					return connectOutcome(err)
				}},
				{"kafka create", func() outcome {
					req := kmsg.NewPtrCreateTopicsRequest()
					req.Version = 7
					req.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "new-k", NumPartitions: 1, ReplicationFactor: 1}}
					return kafkaOutcome(kreq(req).(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode)
				}},
			},
		},
		{
			name: "delete topic",
			rule: acl.Rule{Resource: acl.Topic, Name: "doomed-", Pattern: acl.Prefixed, Operation: acl.Delete},
			probes: []probe{
				{"connect delete", func() outcome {
					_, err := bobTopics.DeleteTopic(ctx, connect.NewRequest(&brokerv1.DeleteTopicRequest{Name: "doomed-c"}))
					return connectOutcome(err)
				}},
				{"kafka delete", func() outcome {
					req := kmsg.NewPtrDeleteTopicsRequest()
					// kgo sends the highest version both sides know (v6:
					// Topics, not TopicNames).
					req.Version, req.TopicNames = 5, []string{"doomed-k"}
					req.Topics = []kmsg.DeleteTopicsRequestTopic{{Topic: kmsg.StringPtr("doomed-k")}}
					return kafkaOutcome(kreq(req).(*kmsg.DeleteTopicsResponse).Topics[0].ErrorCode)
				}},
			},
		},
		{
			name: "write subject",
			rule: acl.Rule{Resource: acl.Subject, Name: "new-value", Operation: acl.Write},
			probes: []probe{
				{"rest register", func() outcome {
					return restOutcome(n.rest("POST", "/subjects/new-value/versions", `{"schema":"\"string\""}`))
				}},
				{"connect register", func() outcome {
					_, err := bobReg.Register(ctx, connect.NewRequest(&registryv1.RegisterRequest{Subject: "new-value", Schema: &registryv1.Schema{Text: `"string"`}}))
					return connectOutcome(err)
				}},
			},
			// A refused registration stores nothing: the subject does not
			// exist until a registration is allowed.
			after: func(t *testing.T, allowedNow bool) {
				req, _ := http.NewRequest("GET", n.url+"/subjects/new-value/versions", nil)
				resp, err := n.httpClient("alice", "alice-pw").Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want, wantBody := http.StatusNotFound, `"error_code":40401`
				if allowedNow {
					want, wantBody = http.StatusOK, `[1]`
				}
				if resp.StatusCode != want || !strings.Contains(string(body), wantBody) {
					t.Fatalf("versions of new-value as alice: %d %s, want %d %s", resp.StatusCode, body, want, wantBody)
				}
			},
		},
		{
			name: "read subject",
			rule: acl.Rule{Resource: acl.Subject, Name: "pay-", Pattern: acl.Prefixed, Operation: acl.Read},
			probes: []probe{
				{"rest version", func() outcome { return restOutcome(n.rest("GET", "/subjects/pay-value/versions/1", "")) }},
				{"rest by id", func() outcome { return restOutcome(n.rest("GET", "/schemas/ids/1", "")) }},
				{"connect version", func() outcome {
					_, err := bobReg.GetVersion(ctx, connect.NewRequest(&registryv1.GetVersionRequest{Subject: "pay-value", Version: 1}))
					return connectOutcome(err)
				}},
				{"connect by id", func() outcome {
					_, err := bobReg.GetSchema(ctx, connect.NewRequest(&registryv1.GetSchemaRequest{Id: 1}))
					return connectOutcome(err)
				}},
			},
		},
		{
			name: "alter global config",
			rule: acl.Rule{Resource: acl.Cluster, Name: acl.ClusterName, Operation: acl.Alter},
			probes: []probe{
				{"rest put config", func() outcome { return restOutcome(n.rest("PUT", "/config", `{"compatibility":"BACKWARD"}`)) }},
				{"connect set config", func() outcome {
					_, err := bobReg.SetConfig(ctx, connect.NewRequest(&registryv1.SetConfigRequest{Compatibility: registryv1.Compatibility_COMPATIBILITY_BACKWARD}))
					return connectOutcome(err)
				}},
				{"connect list acls", func() outcome {
					_, err := bobACL.ListAcls(ctx, connect.NewRequest(&aclv1.ListAclsRequest{}))
					return connectOutcome(err)
				}},
				{"kafka describe acls", func() outcome {
					req := kmsg.NewPtrDescribeACLsRequest()
					req.Version, req.ResourceType, req.ResourcePatternType, req.Operation, req.PermissionType = 3, kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny, kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
					return kafkaOutcome(kreq(req).(*kmsg.DescribeACLsResponse).ErrorCode)
				}},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, allowedNow := range []bool{false, true} {
				want := refused
				if allowedNow {
					want = allowed
					r := tc.rule
					r.Principal, r.Permission = "bob", acl.Allow
					if r.Pattern == 0 {
						r.Pattern = acl.Literal
					}
					if err := n.s.ACL.Create(ctx, []acl.Rule{r}); err != nil {
						t.Fatal(err)
					}
				}
				for _, p := range tc.probes {
					if got := p.run(); got != want {
						t.Errorf("%s (rule present: %v): %s, want %s", p.name, allowedNow, got, want)
					}
				}
				if tc.after != nil {
					tc.after(t, allowedNow)
				}
			}
		})
	}
}

// TestACLServiceRoundTrip: the AclService as the superuser, and the
// PermissionDenied message naming operation and resource.
func TestACLServiceRoundTrip(t *testing.T) {
	n := startACLNode(t)
	ctx := context.Background()
	alice := aclv1connect.NewAclServiceClient(n.httpClient("alice", "alice-pw"), n.url)
	rule := &aclv1.Acl{Principal: "bob", ResourceType: aclv1.ResourceType_RESOURCE_TYPE_TOPIC, ResourceName: "orders",
		PatternType: aclv1.PatternType_PATTERN_TYPE_LITERAL, Operation: aclv1.Operation_OPERATION_WRITE, Permission: aclv1.Permission_PERMISSION_ALLOW}
	if _, err := alice.CreateAcls(ctx, connect.NewRequest(&aclv1.CreateAclsRequest{Acls: []*aclv1.Acl{rule}})); err != nil {
		t.Fatal(err)
	}
	bad := &aclv1.Acl{Principal: "", ResourceType: aclv1.ResourceType_RESOURCE_TYPE_TOPIC}
	_, err := alice.CreateAcls(ctx, connect.NewRequest(&aclv1.CreateAclsRequest{Acls: []*aclv1.Acl{bad}}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "principal is empty") || !strings.Contains(err.Error(), "resource name is empty") {
		t.Fatalf("invalid rule: %v", err)
	}
	res, err := alice.ListAcls(ctx, connect.NewRequest(&aclv1.ListAclsRequest{Filter: &aclv1.AclFilter{Principal: "bob"}}))
	if err != nil || len(res.Msg.GetAcls()) != 1 {
		t.Fatalf("list: %v %v", res, err)
	}
	bob := aclv1connect.NewAclServiceClient(n.httpClient("bob", "bob-pw"), n.url)
	_, err = bob.DeleteAcls(ctx, connect.NewRequest(&aclv1.DeleteAclsRequest{}))
	if connect.CodeOf(err) != connect.CodePermissionDenied || !strings.Contains(err.Error(), `principal "bob" is not authorized to alter cluster`) {
		t.Fatalf("bob deletes: %v", err)
	}
	del, err := alice.DeleteAcls(ctx, connect.NewRequest(&aclv1.DeleteAclsRequest{Filter: &aclv1.AclFilter{Principal: "bob"}}))
	if err != nil || len(del.Msg.GetDeleted()) != 1 {
		t.Fatalf("delete: %v %v", del, err)
	}
	// The Connect refusal for a produce names the operation and resource.
	_, err = brokerv1connect.NewBrokerServiceClient(n.httpClient("bob", "bob-pw"), n.url).Produce(ctx,
		connect.NewRequest(&brokerv1.ProduceRequest{Topic: "orders"}))
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Message() != `principal "bob" is not authorized to write topic "orders"` {
		t.Fatalf("produce refusal: %v", err)
	}
}

// TestKafkaMetadataFiltered: a franz-go admin client listing topics as bob
// sees only the topics bob may describe.
func TestKafkaMetadataFiltered(t *testing.T) {
	n := startACLNode(t)
	ctx := context.Background()
	for _, name := range []string{"orders", "payments", "audit"} {
		if _, err := n.s.Broker.CreateTopic(ctx, name, 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.s.ACL.Create(ctx, []acl.Rule{
		{Principal: "bob", Resource: acl.Topic, Name: "orders", Pattern: acl.Literal, Operation: acl.Read, Permission: acl.Allow},
		{Principal: "*", Resource: acl.Topic, Name: "pay", Pattern: acl.Prefixed, Operation: acl.Describe, Permission: acl.Allow},
	}); err != nil {
		t.Fatal(err)
	}
	list := func(user string) []string {
		td, err := kadm.NewClient(n.kgo(user, user+"-pw")).ListTopics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return td.Names()
	}
	if got := list("bob"); !slices.Equal(got, []string{"orders", "payments"}) {
		t.Fatalf("bob lists %v, want [orders payments]", got)
	}
	// (bob, not alice: alice's argon2id hash is slow under -race.)
	if err := n.s.ACL.Create(ctx, []acl.Rule{{Principal: "bob", Resource: acl.Topic, Name: "*", Pattern: acl.Literal, Operation: acl.Describe, Permission: acl.Allow}}); err != nil {
		t.Fatal(err)
	}
	if got := list("bob"); !slices.Equal(got, []string{"audit", "orders", "payments"}) {
		t.Fatalf("bob with describe on * lists %v", got)
	}
}
