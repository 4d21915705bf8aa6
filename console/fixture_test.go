package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/console"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/serde/protobuf"
	"github.com/sluicehq/sluice/server"
	"github.com/sluicehq/sluice/srclient"
)

// node is an in-process Sluice node with data for the console's tests.
type node struct {
	URL     string
	Handler http.Handler // the node's whole handler (console included)
	Console *console.Console
	topics  brokerv1connect.TopicServiceClient
	broker  brokerv1connect.BrokerServiceClient
	groups  brokerv1connect.GroupServiceClient
	sr      *srclient.Client
}

// epoch is the fixed time of the fixture's records and the console's clock.
var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const (
	orderV1 = `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"long"},{"name":"total","type":"double"}]}`
	orderV2 = `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"long"},{"name":"total","type":"double"},{"name":"note","type":"string","default":""}]}`
	orderV3 = `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"long"},{"name":"total","type":"string"},{"name":"note","type":"string","default":""}]}`
	eventPB = `syntax = "proto3";
package shop.v1;

// Event is something that happened to an order.
message Event {
  string order_id = 1;
  int32 kind = 2;
}
`
)

// startNode starts a node in a temporary directory and fills it: topic
// orders (2 partitions, Avro values, subject orders-value with versions
// 1..3, the third breaking under BACKWARD), topic events (Protobuf values),
// topic plain (untyped text), and group billing with committed offsets.
func startNode(t *testing.T) *node {
	t.Helper()
	ctx := context.Background()
	never, err := broker.ParseFsyncPolicy("never")
	if err != nil {
		t.Fatal(err)
	}
	srv, base, stop, err := server.Start(ctx, server.Config{DataDir: t.TempDir(), Fsync: never}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	// The golden pages do not depend on whether the node serves metrics
	// (TestOverviewRates tests the rates).
	noMetrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			http.NotFound(w, r)
			return
		}
		srv.Handler().ServeHTTP(w, r)
	})
	c, err := console.New(console.Config{API: noMetrics, Version: "v0.0.0-test", Started: epoch, Now: func() time.Time { return epoch.Add(90*time.Minute + 5*time.Second) }})
	if err != nil {
		t.Fatal(err)
	}
	hc := http.DefaultClient
	n := &node{URL: base, Handler: srv.Handler(), Console: c,
		topics: brokerv1connect.NewTopicServiceClient(hc, base),
		broker: brokerv1connect.NewBrokerServiceClient(hc, base),
		groups: brokerv1connect.NewGroupServiceClient(hc, base),
		sr:     &srclient.Client{Base: base}}
	n.seed(t)
	return n
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func (n *node) register(t *testing.T, subject, typ, text string) int {
	t.Helper()
	body := map[string]any{"schema": text}
	if typ != "AVRO" {
		body["schemaType"] = typ
	}
	var out struct{ ID int }
	if err := n.sr.Do(context.Background(), http.MethodPost, "/subjects/"+url.PathEscape(subject)+"/versions", nil, body, &out); err != nil {
		t.Fatalf("register %s: %v", subject, err)
	}
	return out.ID
}

func (n *node) setLevel(t *testing.T, subject, level string) {
	t.Helper()
	if err := n.sr.Do(context.Background(), http.MethodPut, "/config/"+url.PathEscape(subject), nil, map[string]string{"compatibility": level}, nil); err != nil {
		t.Fatal(err)
	}
}

func (n *node) createTopic(t *testing.T, name string, partitions int32) {
	t.Helper()
	if _, err := n.topics.CreateTopic(context.Background(), connect.NewRequest(&brokerv1.CreateTopicRequest{Name: name, Partitions: partitions})); err != nil {
		t.Fatal(err)
	}
}

func (n *node) produce(t *testing.T, topic string, recs ...*brokerv1.ProduceRecord) {
	t.Helper()
	if _, err := n.broker.Produce(context.Background(), connect.NewRequest(&brokerv1.ProduceRequest{Topic: topic, Records: recs})); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

func record(key string, value []byte, partition int32, at time.Time, headers ...string) *brokerv1.ProduceRecord {
	r := &brokerv1.ProduceRecord{Value: value, Partition: &partition, Timestamp: timestamppb.New(at)}
	if key != "" {
		r.Key = []byte(key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Headers = append(r.Headers, &brokerv1.Header{Key: headers[i], Value: []byte(headers[i+1])})
	}
	return r
}

func avroValue(t *testing.T, id int, schema, doc string) []byte {
	t.Helper()
	s := must[*avro.Schema](t)(avro.Parse(schema, nil))
	return must[[]byte](t)(s.AppendEncodeJSON(serde.AppendPrefix(nil, int32(id)), []byte(doc)))
}

func protoValue(t *testing.T, id int, schema, doc string) []byte {
	t.Helper()
	s := must[*protobuf.Schema](t)(protobuf.Parse(schema, nil))
	md, err := s.MessageByIndexes([]int{0})
	if err != nil {
		t.Fatal(err)
	}
	m := dynamicpb.NewMessage(md)
	if err := protojson.Unmarshal([]byte(doc), m); err != nil {
		t.Fatal(err)
	}
	b := serde.AppendIndexes(serde.AppendPrefix(nil, int32(id)), []int{0})
	return must[[]byte](t)(proto.MarshalOptions{Deterministic: true}.MarshalAppend(b, m))
}

func (n *node) seed(t *testing.T) {
	t.Helper()
	n.createTopic(t, "orders", 2)
	id1 := n.register(t, "orders-value", "AVRO", orderV1)
	id2 := n.register(t, "orders-value", "AVRO", orderV2)
	n.setLevel(t, "orders-value", "NONE")
	n.register(t, "orders-value", "AVRO", orderV3)
	n.setLevel(t, "orders-value", "BACKWARD")
	n.produce(t, "orders",
		record("k1", avroValue(t, id1, orderV1, `{"id":1,"total":9.5}`), 0, epoch, "trace", "abc"),
		record("k2", avroValue(t, id2, orderV2, `{"id":2,"total":20,"note":"gift"}`), 1, epoch.Add(time.Second)),
		record("k3", avroValue(t, id2, orderV2, `{"id":3,"total":7.25,"note":""}`), 0, epoch.Add(2*time.Second)),
	)
	n.createTopic(t, "events", 1)
	idp := n.register(t, "events-value", "PROTOBUF", eventPB)
	n.produce(t, "events", record("", protoValue(t, idp, eventPB, `{"orderId":"1","kind":2}`), 0, epoch.Add(3*time.Second)))
	n.createTopic(t, "plain", 1)
	n.produce(t, "plain", record("greeting", []byte("hello <world>"), 0, epoch.Add(4*time.Second)))
	if _, err := n.groups.CommitOffsets(context.Background(), connect.NewRequest(&brokerv1.CommitOffsetsRequest{Group: "billing",
		Offsets: []*brokerv1.OffsetCommit{{Topic: "orders", Partition: 0, Offset: 1}, {Topic: "orders", Partition: 1, Offset: 0}}})); err != nil {
		t.Fatal(err)
	}
	// Group live has a member (it stays for its session timeout, longer
	// than any test here), which owns both partitions of orders.
	if _, err := n.groups.Heartbeat(context.Background(), connect.NewRequest(&brokerv1.HeartbeatRequest{Group: "live", MemberId: "member-one",
		Subscription: &brokerv1.Subscription{Topics: []string{"orders"}, SessionTimeout: durationpb.New(5 * time.Minute)}})); err != nil {
		t.Fatal(err)
	}
}

// get serves one console request in process.
func (n *node) do(t *testing.T, method, target string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	var r *http.Request
	if form != nil {
		r = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	w := httptest.NewRecorder()
	n.Console.ServeHTTP(w, r)
	return w
}

// stable replaces what changes from run to run (topic ids) in a page.
var topicID = regexp.MustCompile(`<code>[0-9a-fA-F-]{32,36}</code>|<code>[A-Za-z0-9_-]{22}</code>`)

// The configs table lists every topic config with its value, and the list
// grows with the broker: the golden pages keep its first row (a config
// every version has); TestActions checks set and removed values.
var configRows = regexp.MustCompile(`(?s)(<table id="configs">.*?<tbody>.*?</tr>).*?(</tbody>)`)

// configKeys is the config form's list of keys, the same list.
var configKeys = regexp.MustCompile(`(<datalist id="config-keys">)[^/]*(</datalist>)`)

// memberID is a group member id the broker made.
var memberID = regexp.MustCompile(`<code>[0-9a-f]{24}</code>`)

// assetVersion is the content hash in a static file's URL (TestAssets
// checks it).
var assetVersion = regexp.MustCompile(`(/console/static/[a-z.]+)\?v=[0-9a-f]+`)

func stable(s string) string {
	s = assetVersion.ReplaceAllString(s, "$1?v=HASH")
	s = memberID.ReplaceAllString(s, "<code>MEMBER-ID</code>")
	s = topicID.ReplaceAllString(s, "<code>TOPIC-ID</code>")
	s = configKeys.ReplaceAllString(s, "$1<!-- every config key -->$2")
	return configRows.ReplaceAllString(s, "$1<!-- more configs -->$2")
}

func jsonOf(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func newRequest(method, target string) *http.Request { return httptest.NewRequest(method, target, nil) }

func serve(n *node, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	n.Console.ServeHTTP(w, r)
	return w
}
