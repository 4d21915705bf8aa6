package broker_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sluicehq/sluice/broker"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

func TestTopicLifecycle(t *testing.T) {
	e := newEnv(t)
	d := e.createTopic("orders", 3, map[string]string{"retention.ms": "3600000", "cleanup.policy": "compact"})
	if len(d.GetPartitions()) != 3 || d.GetConfigs()["retention.ms"] != "3600000" || d.GetConfigs()["segment.bytes"] != "1073741824" {
		t.Fatalf("created %v", d)
	}
	e.createTopic("audit", 0, nil) // 0 partitions means 1

	list, err := e.topics.ListTopics(ctxT(t), connect.NewRequest(&brokerv1.ListTopicsRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range list.Msg.GetTopics() {
		names = append(names, fmt.Sprintf("%s:%d", d.GetName(), len(d.GetPartitions())))
	}
	if got := strings.Join(names, " "); got != "audit:1 orders:3" {
		t.Errorf("list: %s", got)
	}

	alt, err := e.topics.AlterTopicConfigs(ctxT(t), connect.NewRequest(&brokerv1.AlterTopicConfigsRequest{
		Name: "orders", Set: map[string]string{"max.message.bytes": "2048"}, Delete: []string{"cleanup.policy"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	c := alt.Msg.GetTopic().GetConfigs()
	if c["max.message.bytes"] != "2048" || c["cleanup.policy"] != "delete" || c["retention.ms"] != "3600000" {
		t.Errorf("after alter: %v", c)
	}
	// The new limit applies at once.
	_, err = e.client.Produce(ctxT(t), connect.NewRequest(&brokerv1.ProduceRequest{Topic: "orders", Records: []*brokerv1.ProduceRecord{{Value: make([]byte, 2049)}}}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("2049-byte record after max.message.bytes=2048: %v", err)
	}

	e.produce("orders", val("a"), val("b"), val("c"))
	e.restart()
	desc, err := e.topics.DescribeTopic(ctxT(t), connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: "orders"}))
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, p := range desc.Msg.GetTopic().GetPartitions() {
		total += p.GetHighWatermark()
		if p.GetHighWatermark() > 0 && p.GetSizeBytes() == 0 {
			t.Errorf("partition %d holds records but 0 bytes", p.GetPartition())
		}
	}
	if total != 3 || desc.Msg.GetTopic().GetConfigs()["max.message.bytes"] != "2048" {
		t.Errorf("after restart: %d records, configs %v", total, desc.Msg.GetTopic().GetConfigs())
	}

	if _, err := e.topics.DeleteTopic(ctxT(t), connect.NewRequest(&brokerv1.DeleteTopicRequest{Name: "orders"})); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "topics", "orders")); !os.IsNotExist(err) {
		t.Errorf("data of a deleted topic: %v", err)
	}
	if _, err := e.topics.DescribeTopic(ctxT(t), connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: "orders"})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("describe after delete: %v", err)
	}
	// A new topic of the same name starts empty.
	e.createTopic("orders", 1, nil)
	if hw := e.fetch("orders", 0, 0).GetHighWatermark(); hw != 0 {
		t.Errorf("recreated topic has high watermark %d", hw)
	}
	e.restart()
	if hw := e.fetch("orders", 0, 0).GetHighWatermark(); hw != 0 {
		t.Errorf("recreated topic after restart has high watermark %d", hw)
	}
}

// TestDeleteTopicFinishedAtOpen simulates a crash between marking a topic
// deleted and removing its data: Open finishes the deletion.
func TestDeleteTopicFinishedAtOpen(t *testing.T) {
	e := newEnv(t)
	e.createTopic("doomed", 2, nil)
	e.produce("doomed", val("x"))
	e.stop()
	db := openDB(t, e.dir)
	if _, err := db.Exec(`UPDATE broker_topics SET deleted = 1 WHERE name = 'doomed'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	e.start()
	if _, err := os.Stat(filepath.Join(e.dir, "topics", "doomed")); !os.IsNotExist(err) {
		t.Errorf("data of the deleted topic is still there: %v", err)
	}
	if list := e.b.ListTopics(); len(list) != 0 {
		t.Errorf("topics after finishing the deletion: %v", list)
	}
	e.createTopic("doomed", 1, nil)
}

func TestListOffsets(t *testing.T) {
	e := newEnv(t)
	e.createTopic("t", 2, nil)
	base := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	for i := range 5 {
		e.produce("t", &brokerv1.ProduceRecord{Value: []byte("x"), Partition: ptr[int32](0), Timestamp: timestamppb.New(base.Add(time.Duration(i) * time.Minute))})
	}
	list := func(q *brokerv1.ListOffsetsRequest) []string {
		t.Helper()
		res, err := e.client.ListOffsets(ctxT(t), connect.NewRequest(q))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, o := range res.Msg.GetOffsets() {
			s := fmt.Sprintf("%d:%d", o.GetPartition(), o.GetOffset())
			if o.GetTimestamp() != nil {
				s += "@" + o.GetTimestamp().AsTime().Format("15:04")
			}
			out = append(out, s)
		}
		return out
	}
	spec := func(s brokerv1.OffsetSpec) *brokerv1.ListOffsetsRequest_Spec {
		return &brokerv1.ListOffsetsRequest_Spec{Spec: s}
	}
	at := func(t time.Time) *brokerv1.ListOffsetsRequest_Timestamp {
		return &brokerv1.ListOffsetsRequest_Timestamp{Timestamp: timestamppb.New(t)}
	}
	tests := []struct {
		name string
		req  *brokerv1.ListOffsetsRequest
		want string
	}{
		{"earliest", &brokerv1.ListOffsetsRequest{Topic: "t", Query: spec(brokerv1.OffsetSpec_OFFSET_SPEC_EARLIEST)}, "[0:0 1:0]"},
		{"latest", &brokerv1.ListOffsetsRequest{Topic: "t", Query: spec(brokerv1.OffsetSpec_OFFSET_SPEC_LATEST)}, "[0:5 1:0]"},
		{"latest one partition", &brokerv1.ListOffsetsRequest{Topic: "t", Partitions: []int32{0}, Query: spec(brokerv1.OffsetSpec_OFFSET_SPEC_LATEST)}, "[0:5]"},
		{"at a record's time", &brokerv1.ListOffsetsRequest{Topic: "t", Partitions: []int32{0}, Query: at(base.Add(2 * time.Minute))}, "[0:2@08:02]"},
		{"between records", &brokerv1.ListOffsetsRequest{Topic: "t", Partitions: []int32{0}, Query: at(base.Add(90 * time.Second))}, "[0:2@08:02]"},
		{"before all", &brokerv1.ListOffsetsRequest{Topic: "t", Partitions: []int32{0}, Query: at(base.Add(-time.Hour))}, "[0:0@08:00]"},
		{"after all", &brokerv1.ListOffsetsRequest{Topic: "t", Query: at(base.Add(time.Hour))}, "[0:5 1:0]"},
	}
	for _, tt := range tests {
		if got := fmt.Sprint(list(tt.req)); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
}

// TestErrorMessages pins every refusal's code and message in
// testdata/errors.golden.
func TestErrorMessages(t *testing.T) {
	e := newEnv(t, func(c *broker.Config) { c.MaxRequestBytes = 64 << 10 })
	e.createTopic("t", 2, map[string]string{"max.message.bytes": "1024"})
	e.produce("t", &brokerv1.ProduceRecord{Value: []byte("x"), Partition: ptr[int32](0)})
	ctx := ctxT(t)
	big := func(n int) *brokerv1.ProduceRecord { return &brokerv1.ProduceRecord{Value: make([]byte, n)} }
	var manyBig []*brokerv1.ProduceRecord
	for range 80 {
		manyBig = append(manyBig, big(1000))
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"create: empty name", func() error {
			return topicErr(e.topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{})))
		}},
		{"create: bad character", func() error {
			return topicErr(e.topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "a/b"})))
		}},
		{"create: dot", func() error {
			return topicErr(e.topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: ".."})))
		}},
		{"create: too long", func() error {
			return topicErr(e.topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: strings.Repeat("x", 250)})))
		}},
		{"create: too many partitions", func() error {
			return topicErr(e.topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "x", Partitions: 1025})))
		}},
		{"create: negative partitions", func() error {
			return topicErr(e.topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "x", Partitions: -1})))
		}},
		{"create: exists", func() error {
			return topicErr(e.topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "t"})))
		}},
		{"create: bad configs", func() error {
			return topicErr(e.topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "x", Configs: map[string]string{
				"retention.ms": "soon", "cleanup.policy": "shred", "segment.bytes": "1000", "colour": "blue", "retention.bytes": "0",
			}})))
		}},
		{"alter: unknown topic", func() error {
			return topicErr(e.topics.AlterTopicConfigs(ctx, connect.NewRequest(&brokerv1.AlterTopicConfigsRequest{Name: "nope", Set: map[string]string{"retention.ms": "1"}})))
		}},
		{"alter: set and delete", func() error {
			return topicErr(e.topics.AlterTopicConfigs(ctx, connect.NewRequest(&brokerv1.AlterTopicConfigsRequest{Name: "t", Set: map[string]string{"retention.ms": "1"}, Delete: []string{"retention.ms"}})))
		}},
		{"alter: delete unknown key", func() error {
			return topicErr(e.topics.AlterTopicConfigs(ctx, connect.NewRequest(&brokerv1.AlterTopicConfigsRequest{Name: "t", Delete: []string{"colour"}})))
		}},
		{"delete: unknown topic", func() error {
			return topicErr(e.topics.DeleteTopic(ctx, connect.NewRequest(&brokerv1.DeleteTopicRequest{Name: "nope"})))
		}},
		{"describe: unknown topic", func() error {
			return topicErr(e.topics.DescribeTopic(ctx, connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: "nope"})))
		}},
		{"produce: unknown topic", func() error {
			return topicErr(e.client.Produce(ctx, connect.NewRequest(&brokerv1.ProduceRequest{Topic: "nope", Records: []*brokerv1.ProduceRecord{val("x")}})))
		}},
		{"produce: bad partitions and sizes", func() error {
			return topicErr(e.client.Produce(ctx, connect.NewRequest(&brokerv1.ProduceRequest{Topic: "t", Records: []*brokerv1.ProduceRecord{
				val("ok"), {Value: []byte("x"), Partition: ptr[int32](2)}, big(1025), {Partition: ptr[int32](-1)},
			}})))
		}},
		{"produce: request too large", func() error {
			return topicErr(e.client.Produce(ctx, connect.NewRequest(&brokerv1.ProduceRequest{Topic: "t", Records: manyBig})))
		}},
		{"produce: bad timestamp", func() error {
			return topicErr(e.client.Produce(ctx, connect.NewRequest(&brokerv1.ProduceRequest{Topic: "t", Records: []*brokerv1.ProduceRecord{
				{Timestamp: &timestamppb.Timestamp{Nanos: -1}},
			}})))
		}},
		{"fetch: unknown topic", func() error {
			return topicErr(e.client.Fetch(ctx, connect.NewRequest(&brokerv1.FetchRequest{Topic: "nope"})))
		}},
		{"fetch: unknown partition", func() error {
			return topicErr(e.client.Fetch(ctx, connect.NewRequest(&brokerv1.FetchRequest{Topic: "t", Partition: 7})))
		}},
		{"fetch: offset past the end", func() error {
			return topicErr(e.client.Fetch(ctx, connect.NewRequest(&brokerv1.FetchRequest{Topic: "t", Offset: 2})))
		}},
		{"fetch: negative offset", func() error {
			return topicErr(e.client.Fetch(ctx, connect.NewRequest(&brokerv1.FetchRequest{Topic: "t", Offset: -1})))
		}},
		{"fetch: bad limits", func() error {
			return topicErr(e.client.Fetch(ctx, connect.NewRequest(&brokerv1.FetchRequest{Topic: "t", MaxRecords: -5})))
		}},
		{"fetch: long max_wait", func() error {
			return topicErr(e.client.Fetch(ctx, connect.NewRequest(&brokerv1.FetchRequest{Topic: "t", MaxWait: durationpb.New(time.Hour)})))
		}},
		{"list offsets: no query", func() error {
			return topicErr(e.client.ListOffsets(ctx, connect.NewRequest(&brokerv1.ListOffsetsRequest{Topic: "t"})))
		}},
		{"list offsets: unknown partition", func() error {
			return topicErr(e.client.ListOffsets(ctx, connect.NewRequest(&brokerv1.ListOffsetsRequest{Topic: "t", Partitions: []int32{0, 9}, Query: &brokerv1.ListOffsetsRequest_Spec{Spec: brokerv1.OffsetSpec_OFFSET_SPEC_LATEST}})))
		}},
		{"list offsets: unknown topic", func() error {
			return topicErr(e.client.ListOffsets(ctx, connect.NewRequest(&brokerv1.ListOffsetsRequest{Topic: "nope", Query: &brokerv1.ListOffsetsRequest_Spec{Spec: brokerv1.OffsetSpec_OFFSET_SPEC_LATEST}})))
		}},
	}
	var sb strings.Builder
	for _, c := range calls {
		err := c.call()
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		fmt.Fprintf(&sb, "%s\n\t%v: %s\n", c.name, connect.CodeOf(err), connectMessage(err))
	}
	checkGolden(t, "errors.golden", sb.String())
}

// topicErr drops a response, keeping the error.
func topicErr[T any](_ *connect.Response[T], err error) error { return err }

// TestRetentionThroughTheAPI: retention.ms deletes expired segments under
// cleanup.policy delete and compact,delete, not under compact alone.
func TestRetentionThroughTheAPI(t *testing.T) {
	for _, policy := range []string{"delete", "compact,delete", "compact"} {
		t.Run(policy, func(t *testing.T) {
			now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
			// The clock is read by the broker's background group ticker too.
			var clock atomic.Int64
			clock.Store(now.UnixNano())
			e := newEnv(t, func(c *broker.Config) { c.Now = func() time.Time { return time.Unix(0, clock.Load()) } })
			// 1 MiB segments, 64 KiB records: a segment rolls every ~16 records.
			e.createTopic("t", 1, map[string]string{"segment.bytes": "1048576", "retention.ms": "3600000", "cleanup.policy": policy})
			n := 0
			rec := func() *brokerv1.ProduceRecord {
				n++ // a key of its own: compaction keeps every record
				return &brokerv1.ProduceRecord{Key: []byte(fmt.Sprint("k", n)), Value: make([]byte, 64<<10)}
			}
			for range 40 {
				e.produce("t", rec())
			}
			if err := e.b.RunMaintenance(now); err != nil {
				t.Fatal(err)
			}
			if lso := e.fetch("t", 0, 0).GetLogStartOffset(); lso != 0 {
				t.Fatalf("retention deleted young segments: log start %d", lso)
			}
			now = now.Add(2 * time.Hour)
			clock.Store(now.UnixNano())
			e.produce("t", rec()) // a young record in the active segment
			if err := e.b.RunMaintenance(now); err != nil {
				t.Fatal(err)
			}
			lo, err := e.client.ListOffsets(ctxT(t), connect.NewRequest(&brokerv1.ListOffsetsRequest{Topic: "t", Query: &brokerv1.ListOffsetsRequest_Spec{Spec: brokerv1.OffsetSpec_OFFSET_SPEC_EARLIEST}}))
			if err != nil {
				t.Fatal(err)
			}
			lso := lo.Msg.GetOffsets()[0].GetOffset()
			if policy == "compact" {
				if lso != 0 {
					t.Fatalf("retention.ms deleted records of a compact topic: log start %d", lso)
				}
				if got := e.fetchAll("t", 0, 0); len(got) != 41 {
					t.Fatalf("%d records left, want all 41", len(got))
				}
				return
			}
			res, err := e.client.Fetch(ctxT(t), connect.NewRequest(&brokerv1.FetchRequest{Topic: "t", Offset: 0}))
			if connect.CodeOf(err) != connect.CodeOutOfRange {
				t.Fatalf("fetch at 0 after retention: %v %v", res, err)
			}
			if lso == 0 || lso > 40 {
				t.Fatalf("log start after retention: %d", lso)
			}
			if got := e.fetchAll("t", 0, lso); len(got) == 0 || got[len(got)-1].GetOffset() != 40 {
				t.Fatalf("records after retention: %d", len(got))
			}
		})
	}
}

func TestCompactionThroughTheAPI(t *testing.T) {
	e := newEnv(t)
	e.createTopic("t", 1, map[string]string{"segment.bytes": "1048576", "cleanup.policy": "compact"})
	pad := make([]byte, 60<<10)
	// Three rounds over keys k0..k9 fill several segments.
	for round := range 3 {
		for k := range 10 {
			v := append([]byte(fmt.Sprintf("r%d|", round)), pad...)
			e.produce("t", &brokerv1.ProduceRecord{Key: []byte(fmt.Sprint("k", k)), Value: v})
		}
	}
	e.produce("t", kv("tail", "x")) // make sure the rounds are in closed segments
	for range 20 {
		e.produce("t", &brokerv1.ProduceRecord{Key: []byte("filler"), Value: pad})
	}
	if err := e.b.RunMaintenance(time.Now()); err != nil {
		t.Fatal(err)
	}
	last := map[string]string{}
	count := map[string]int{}
	ti, err := e.b.DescribeTopic("t")
	if err != nil {
		t.Fatal(err)
	}
	// Compaction may empty whole segments, moving the log start.
	for _, r := range e.fetchAll("t", 0, ti.Partitions[0].LogStartOffset) {
		k := string(r.GetKey())
		v, _, _ := strings.Cut(string(r.GetValue()), "|")
		last[k] = v
		count[k]++
	}
	for k := range 10 {
		key := fmt.Sprint("k", k)
		if last[key] != "r2" {
			t.Errorf("%s: last value %q, want r2", key, last[key])
		}
		if count[key] != 1 {
			t.Errorf("%s: %d records after compaction, want 1", key, count[key])
		}
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		key, value string
		ok         bool
		canon      string
	}{
		{"cleanup.policy", "delete", true, "delete"},
		{"cleanup.policy", "compact", true, "compact"},
		{"cleanup.policy", "compact,delete", true, "compact,delete"},
		{"cleanup.policy", "delete, compact", true, "compact,delete"},
		{"cleanup.policy", "compact,compact", true, "compact"},
		{"cleanup.policy", "compact,", false, ""},
		{"cleanup.policy", "", false, ""},
		{"cleanup.policy", "compact,archive", false, ""},
		{"retention.ms", "-1", true, "-1"},
		{"retention.ms", "0", false, ""},
		{"retention.ms", " 42 ", true, "42"},
		{"retention.ms", "1.5", false, ""},
		{"retention.bytes", "-1", true, "-1"},
		{"retention.bytes", "-2", false, ""},
		{"segment.bytes", "1048576", true, "1048576"},
		{"segment.bytes", "1048575", false, ""},
		{"segment.bytes", "1073741825", false, ""},
		{"segment.ms", "999", false, ""},
		{"segment.ms", "1000", true, "1000"},
		{"delete.retention.ms", "0", false, ""},
		{"max.message.bytes", "8388608", true, "8388608"},
		{"max.message.bytes", "8388609", false, ""},
		{"max.message.bytes", "0", false, ""},
		{"colour", "blue", false, ""},
	}
	b := newEnv(t).b
	for _, tt := range tests {
		name := tt.key + "=" + tt.value
		ti, err := b.CreateTopic(context.Background(), "cfg", 1, map[string]string{tt.key: tt.value})
		if (err == nil) != tt.ok {
			t.Errorf("%s: err %v, want ok=%v", name, err, tt.ok)
			continue
		}
		if err != nil {
			if !strings.Contains(err.Error(), tt.key) {
				t.Errorf("%s: error %q does not name the key", name, err)
			}
			continue
		}
		if got := ti.Config.Effective[tt.key]; got != tt.canon {
			t.Errorf("%s: effective %q, want %q", name, got, tt.canon)
		}
		if err := b.DeleteTopic(context.Background(), "cfg"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCloseIsIdempotentAndRefusesLaterCalls(t *testing.T) {
	e := newEnv(t)
	e.createTopic("t", 2, nil)
	if err := e.b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err := e.b.Produce(context.Background(), "t", []broker.ProduceRecord{{Value: []byte("x")}})
	if !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("produce after close: %v, want ErrClosed", err)
	}
	if _, err := e.b.CreateTopic(context.Background(), "u", 1, nil); !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("create after close: %v, want ErrClosed", err)
	}
}
