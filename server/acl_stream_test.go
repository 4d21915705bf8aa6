package server

import (
	"context"
	"net/http"
	"testing"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/acl"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// h2cBasic is an h2c transport (bidirectional streams need HTTP/2) adding
// basic auth to every request.
type h2cBasic struct {
	user, pass string
	rt         http.RoundTripper
}

func (b h2cBasic) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.pass)
	return b.rt.RoundTrip(r)
}

// TestACLProduceStreamChecksEachRequest: on one ProduceStream, a request
// to a topic the user may not write is answered PermissionDenied, as
// unary Produce is, and the requests around it are written.
func TestACLProduceStreamChecksEachRequest(t *testing.T) {
	n := startACLNode(t)
	ctx := context.Background()
	topics := brokerv1connect.NewTopicServiceClient(n.httpClient("alice", "alice-pw"), n.url)
	for _, name := range []string{"orders", "secret"} {
		if _, err := topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: name, Partitions: 1})); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.s.ACL.Create(ctx, []acl.Rule{{Principal: "bob", Permission: acl.Allow, Resource: acl.Topic, Pattern: acl.Literal, Name: "orders", Operation: acl.Write}}); err != nil {
		t.Fatal(err)
	}
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	bob := &http.Client{Transport: h2cBasic{"bob", "bob-pw", &http.Transport{Protocols: &p}}}
	stream := brokerv1connect.NewBrokerServiceClient(bob, n.url).ProduceStream(ctx)
	for i, topic := range []string{"orders", "secret", "orders"} {
		req := &brokerv1.ProduceRequest{Topic: topic, Records: []*brokerv1.ProduceRecord{{Value: []byte("v")}}}
		if err := stream.Send(&brokerv1.ProduceStreamRequest{Id: uint64(i), Request: req}); err != nil {
			t.Fatal(err)
		}
	}
	stream.CloseRequest()
	defer stream.CloseResponse()
	for i, want := range []string{"", connect.CodePermissionDenied.String(), ""} {
		resp, err := stream.Receive()
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		if got := resp.GetError().GetCode(); got != want {
			t.Errorf("answer %d: code %q (%s), want %q", i, got, resp.GetError().GetMessage(), want)
		}
	}
	for topic, want := range map[string]int64{"orders": 2, "secret": 0} {
		info, err := n.s.Broker.DescribeTopic(topic)
		if err != nil {
			t.Fatal(err)
		}
		if hw := info.Partitions[0].HighWatermark; hw != want {
			t.Errorf("%s holds %d records, want %d", topic, hw, want)
		}
	}
}
