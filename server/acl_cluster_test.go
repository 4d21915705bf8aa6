package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/internal/pgtest"
	aclv1 "github.com/sluicehq/sluice/proto/gen/sluice/acl/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/acl/v1/aclv1connect"
)

// TestClusterACLsShared: in cluster mode the ACL rules live in the
// cluster's PostgreSQL database. A rule created through node a's
// AclService lets bob register a schema through node b's REST API, as soon
// as b's authorizer hears of it (LISTEN/NOTIFY; the wait allows far more);
// deleted through node b, it refuses bob on node a again; and node b lists
// what node a created.
func TestClusterACLsShared(t *testing.T) {
	meta := pgtest.DB(t)
	start := func(id string) string {
		a, _, _ := newTestAuthenticator(t)
		_, url, stop, err := Start(context.Background(), Config{DataDir: t.TempDir(), Meta: meta, NodeID: id, Auth: a,
			Logger: testLogger(t), Fsync: neverFsync(t)}, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := stop(); err != nil {
				t.Errorf("stop node %s: %v", id, err)
			}
		})
		return url
	}
	urlA, urlB := start("a"), start("b")
	ctx := context.Background()
	register := func(url string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", url+"/subjects/orders-value/versions", strings.NewReader(avroBody("Order")))
		req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		req.SetBasicAuth("bob", "bob-pw")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 30 s", what)
			}
		}
	}
	if code := register(urlB); code != http.StatusForbidden {
		t.Fatalf("bob registers on b before any rule: HTTP %d, want 403", code)
	}
	aclsOn := func(url string) aclv1connect.AclServiceClient {
		return aclv1connect.NewAclServiceClient(&http.Client{Transport: basicTransport{"alice", "alice-pw"}}, url)
	}
	rule := &aclv1.Acl{Principal: "bob", ResourceType: aclv1.ResourceType_RESOURCE_TYPE_SUBJECT, ResourceName: "orders-",
		PatternType: aclv1.PatternType_PATTERN_TYPE_PREFIXED, Operation: aclv1.Operation_OPERATION_WRITE, Permission: aclv1.Permission_PERMISSION_ALLOW}
	if _, err := aclsOn(urlA).CreateAcls(ctx, connect.NewRequest(&aclv1.CreateAclsRequest{Acls: []*aclv1.Acl{rule}})); err != nil {
		t.Fatal(err)
	}
	eventually("bob allowed on b by a rule created on a", func() bool { return register(urlB) == http.StatusOK })
	list, err := aclsOn(urlB).ListAcls(ctx, connect.NewRequest(&aclv1.ListAclsRequest{}))
	if err != nil || len(list.Msg.GetAcls()) != 1 || list.Msg.GetAcls()[0].GetResourceName() != "orders-" {
		t.Fatalf("node b lists %v, %v", list, err)
	}
	del, err := aclsOn(urlB).DeleteAcls(ctx, connect.NewRequest(&aclv1.DeleteAclsRequest{Filter: &aclv1.AclFilter{Principal: "bob"}}))
	if err != nil || len(del.Msg.GetDeleted()) != 1 {
		t.Fatalf("delete on b: %v, %v", del, err)
	}
	eventually("bob refused on a after the rule was deleted on b", func() bool { return register(urlA) == http.StatusForbidden })
}
