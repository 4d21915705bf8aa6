package kafka

import (
	"context"
	"net"
	"os"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Version-specific behaviour, over a raw connection at exact versions.

func TestMetadataVersions(t *testing.T) {
	s, addr := newTestServer(t, Config{AdvertisedAddr: "kafka.example:9999"})
	b := s.Broker()
	for _, n := range []string{"a", "b"} {
		if _, err := b.CreateTopic(context.Background(), n, 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	c := dialRaw(t, addr)
	names := func(resp *kmsg.MetadataResponse) []string {
		var out []string
		for _, t := range resp.Topics {
			out = append(out, *t.Topic)
		}
		return out
	}
	md := func(v int16, topics []kmsg.MetadataRequestTopic) *kmsg.MetadataResponse {
		req := kmsg.NewPtrMetadataRequest()
		req.Version = v
		req.Topics = topics
		return c.roundTrip(req, int32(v)).(*kmsg.MetadataResponse)
	}
	// v0: an empty list is every topic.
	if got := names(md(0, []kmsg.MetadataRequestTopic{})); len(got) != 2 {
		t.Fatalf("v0 empty list: %v", got)
	}
	// v1+: null is every topic, empty is none.
	if got := names(md(1, nil)); len(got) != 2 {
		t.Fatalf("v1 null: %v", got)
	}
	if got := names(md(1, []kmsg.MetadataRequestTopic{})); len(got) != 0 {
		t.Fatalf("v1 empty: %v", got)
	}
	// The advertised address and the cluster id.
	resp := md(12, nil)
	if len(resp.Brokers) != 1 || resp.Brokers[0].Host != "kafka.example" || resp.Brokers[0].Port != 9999 || *resp.ClusterID != b.ClusterID() {
		t.Fatalf("brokers %+v cluster %v", resp.Brokers, resp.ClusterID)
	}
	// v10+ by id: a known id answers with the name; an unknown one is
	// UNKNOWN_TOPIC_ID.
	ti, _ := b.DescribeTopic("a")
	byID := []kmsg.MetadataRequestTopic{{TopicID: ti.ID}, {TopicID: [16]byte{9}}}
	resp = md(12, byID)
	if len(resp.Topics) != 2 || *resp.Topics[0].Topic != "a" || resp.Topics[1].ErrorCode != kerr.UnknownTopicID.Code || resp.Topics[1].Topic != nil {
		t.Fatalf("by id: %+v", resp.Topics)
	}
	// A name Kafka refuses.
	bad := []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("no/slash")}}
	if resp = md(4, bad); resp.Topics[0].ErrorCode != kerr.InvalidTopicException.Code {
		t.Fatalf("bad name: %+v", resp.Topics[0])
	}
}

func TestFindCoordinatorVersions(t *testing.T) {
	_, addr := newTestServer(t, Config{AdvertisedAddr: "h:1"})
	c := dialRaw(t, addr)
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.Version, req.CoordinatorKey = 3, "g"
	resp := c.roundTrip(req, 1).(*kmsg.FindCoordinatorResponse)
	if resp.ErrorCode != 0 || resp.NodeID != 0 || resp.Host != "h" || resp.Port != 1 {
		t.Fatalf("v3: %+v", resp)
	}
	req = kmsg.NewPtrFindCoordinatorRequest()
	req.Version, req.CoordinatorKeys, req.CoordinatorType = 4, []string{"t1", "t2"}, 1
	resp = c.roundTrip(req, 2).(*kmsg.FindCoordinatorResponse)
	if len(resp.Coordinators) != 2 || resp.Coordinators[1].Key != "t2" || resp.Coordinators[1].Host != "h" {
		t.Fatalf("v4: %+v", resp.Coordinators)
	}
	req.CoordinatorType = 2
	resp = c.roundTrip(req, 3).(*kmsg.FindCoordinatorResponse)
	if resp.Coordinators[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("key type 2: %+v", resp.Coordinators[0])
	}
}

func TestDescribeClusterControllerEndpoint(t *testing.T) {
	_, addr := newTestServer(t, Config{})
	c := dialRaw(t, addr)
	req := kmsg.NewPtrDescribeClusterRequest()
	req.Version, req.EndpointType = 1, 2
	resp := c.roundTrip(req, 1).(*kmsg.DescribeClusterResponse)
	if resp.ErrorCode != kerr.UnsupportedEndpointType.Code {
		t.Fatalf("controller endpoints: %+v", resp)
	}
}

func TestAdvertisedAddr(t *testing.T) {
	for _, tc := range []struct {
		cfg, want string
	}{
		{"", "127.0.0.1:"},      // the listener's address and real port
		{"myhost:0", "myhost:"}, // the real port
		{"myhost:1234", "myhost:1234"},
	} {
		s, addr := newTestServer(t, Config{AdvertisedAddr: tc.cfg})
		_, port, _ := splitHostPort(addr)
		want := tc.want
		if want[len(want)-1] == ':' {
			want += strconv.Itoa(int(port))
		}
		if got := s.AdvertisedAddr(); got != want {
			t.Errorf("AdvertisedAddr %q: %q, want %q", tc.cfg, got, want)
		}
	}
	for _, bad := range []string{"nohost", ":9092", "0.0.0.0:9092", "h:99999"} {
		if _, err := New(Config{Broker: nil, AdvertisedAddr: bad}); err == nil {
			t.Errorf("New accepted %q", bad)
		}
	}
}

// fakeListener only reports an address.
type fakeListener struct {
	net.Listener
	addr net.Addr
}

func (l fakeListener) Addr() net.Addr { return l.addr }

// TestAdvertisedWildcard: a listener on every interface with nothing
// advertised advertises the host name.
func TestAdvertisedWildcard(t *testing.T) {
	s, _ := newTestServer(t, Config{})
	s2, err := New(Config{Broker: s.Broker()})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.Advertise(fakeListener{addr: &net.TCPAddr{IP: net.IPv4zero, Port: 9092}})
	host, _ := os.Hostname()
	if err != nil || got != net.JoinHostPort(host, "9092") {
		t.Fatalf("Advertise on 0.0.0.0:9092 = %q, %v; want the host name %q", got, err, host)
	}
}
