package kafka_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/broker"
)

// TestLogAppendTime: on a topic created over Kafka with
// message.timestamp.type=LogAppendTime, records produced over Kafka and over
// Connect carry the broker's append time, not the producer's timestamp; on
// a CreateTime topic the producer's timestamp stays.
func TestLogAppendTime(t *testing.T) {
	addr, _, srv := startServer(t)
	ctx := testCtx(t)
	adm := newAdmin(t, addr)
	for topic, typ := range map[string]string{"appended": "LogAppendTime", "created": "CreateTime"} {
		resp, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"message.timestamp.type": sp(typ)}, topic)
		if err != nil || resp.Err != nil {
			t.Fatalf("create %s with message.timestamp.type=%s: %v %v", topic, typ, err, resp.Err)
		}
	}
	rc, err := adm.DescribeTopicConfigs(ctx, "appended")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := rc.On("appended", nil); err != nil {
		t.Fatal(err)
	} else if v := configValue(c, "message.timestamp.type"); v != "LogAppendTime" {
		t.Fatalf("DescribeConfigs message.timestamp.type = %q, want LogAppendTime", v)
	}

	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	before := time.Now().Add(-time.Second)
	cl := newClient(t, addr)
	for _, topic := range []string{"appended", "created"} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("kafka"), Timestamp: old}).FirstErr(); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
		if _, err := srv.Broker.Produce(ctx, topic, []broker.ProduceRecord{{Value: []byte("connect"), Timestamp: old.UnixMilli()}}); err != nil {
			t.Fatalf("Connect produce to %s: %v", topic, err)
		}
	}
	after := time.Now().Add(time.Second)

	for _, topic := range []string{"appended", "created"} {
		res, err := srv.Broker.Fetch(ctx, broker.FetchRequest{Topic: topic, Partition: 0, Offset: 0, MaxRecords: 10})
		if err != nil {
			t.Fatalf("fetch %s: %v", topic, err)
		}
		if len(res.Records) != 2 {
			t.Fatalf("%s holds %d records, want 2", topic, len(res.Records))
		}
		for _, r := range res.Records {
			ts := time.UnixMilli(r.Timestamp)
			if topic == "created" && !ts.Equal(old) {
				t.Errorf("%s: record %q has timestamp %v, want the producer's %v", topic, r.Value, ts, old)
			}
			if topic == "appended" && (ts.Before(before) || ts.After(after)) {
				t.Errorf("%s: record %q has timestamp %v, want the append time (between %v and %v)", topic, r.Value, ts, before, after)
			}
		}
	}

	// A Kafka consumer sees the append time too. The batch produced over
	// Kafka carries the LogAppendTime attribute and maxTimestamp; the one
	// appended over Connect holds the append time in each record.
	cons := newClient(t, addr, kgo.ConsumeTopics("appended"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := 0
	for got < 2 {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("poll: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got++
			if r.Timestamp.Before(before) || r.Timestamp.After(after) || (string(r.Value) == "kafka" && r.Attrs.TimestampType() != 1) {
				t.Errorf("Kafka consumer: record %q has timestamp %v (log append time %v), want the append time", r.Value, r.Timestamp, r.Attrs.TimestampType() == 1)
			}
		})
	}
}

// configValue is the value of key in c, or "" when absent.
func configValue(c kadm.ResourceConfig, key string) string {
	for _, cfg := range c.Configs {
		if cfg.Key == key && cfg.Value != nil {
			return *cfg.Value
		}
	}
	return ""
}
