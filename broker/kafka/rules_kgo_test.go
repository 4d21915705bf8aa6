package kafka_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/serde"
)

// TestDataContractOverKafka: over the Kafka listener a record breaking a
// CEL rule of its writer version is refused with INVALID_RECORD and the
// rule's text as its KIP-467 record error; nothing of its batch is
// written; a batch of good records is appended (DESIGN.md §11).
func TestDataContractOverKafka(t *testing.T) {
	addr, _, srv := startServer(t)
	sv, err := srv.Registry.Register(testCtx(t), "bills-value", registry.Schema{
		Type:    serde.Avro,
		Text:    `{"type":"record","name":"Bill","fields":[{"name":"total","type":"long"}]}`,
		RuleSet: json.RawMessage(`{"domainRules":[{"name":"positive_total","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.total > 0"}]}`),
	}, registry.RegisterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id := int32(sv.ID)
	createTopicCore(t, srv, "bills", 2, nil)
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "bills"
	for p, vs := range [][][]byte{
		{avroLong(id, 5), avroLong(id, -2), avroLong(id, 7)},
		{avroLong(id, 1), avroLong(id, 2)},
	} {
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = int32(p), rawBatch(vs)
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(t), newClient(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	p0, p1 := resp.Topics[0].Partitions[0], resp.Topics[0].Partitions[1]
	if p0.ErrorCode != kerr.InvalidRecord.Code || len(p0.ErrorRecords) != 1 || p0.ErrorRecords[0].RelativeOffset != 1 {
		t.Fatalf("partition 0: %v, record errors %+v", kerr.ErrorForCode(p0.ErrorCode), p0.ErrorRecords)
	}
	want := `rule "positive_total" (CEL) failed: message.total > 0 is false`
	if msg := deref(p0.ErrorRecords[0].ErrorMessage); !strings.Contains(msg, want) {
		t.Errorf("record error %q does not say %q", msg, want)
	}
	if msg := deref(p0.ErrorMessage); !strings.Contains(msg, "record 1: "+want) {
		t.Errorf("error message %q does not say %q", msg, "record 1: "+want)
	}
	if p1.ErrorCode != 0 {
		t.Fatalf("partition 1: %v", kerr.ErrorForCode(p1.ErrorCode))
	}
	info, err := srv.Broker.DescribeTopic("bills")
	if err != nil {
		t.Fatal(err)
	}
	if info.Partitions[0].HighWatermark != 0 || info.Partitions[1].HighWatermark != 2 {
		t.Fatalf("high watermarks %d and %d, want 0 and 2", info.Partitions[0].HighWatermark, info.Partitions[1].HighWatermark)
	}
}

// TestDataContractDLQOverKafka: a rule whose onFailure is DLQ refuses the
// record over the Kafka listener (diversion is done on Connect produce),
// saying so.
func TestDataContractDLQOverKafka(t *testing.T) {
	addr, _, srv := startServer(t)
	sv, err := srv.Registry.Register(testCtx(t), "tips-value", registry.Schema{
		Type:    serde.Avro,
		Text:    `{"type":"record","name":"Tip","fields":[{"name":"total","type":"long"}]}`,
		RuleSet: json.RawMessage(`{"domainRules":[{"name":"positive_total","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.total > 0","onFailure":"DLQ","params":{"dlq.topic":"tips-dlq"}}]}`),
	}, registry.RegisterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	createTopicCore(t, srv, "tips", 1, nil)
	createTopicCore(t, srv, "tips-dlq", 1, nil)
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "tips"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = 0, rawBatch([][]byte{avroLong(int32(sv.ID), -3)})
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(t), newClient(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	p0 := resp.Topics[0].Partitions[0]
	if p0.ErrorCode != kerr.InvalidRecord.Code || len(p0.ErrorRecords) != 1 {
		t.Fatalf("partition 0: %v, record errors %+v", kerr.ErrorForCode(p0.ErrorCode), p0.ErrorRecords)
	}
	if msg := deref(p0.ErrorRecords[0].ErrorMessage); !strings.Contains(msg, `rule "positive_total" (CEL) failed`) || !strings.Contains(msg, "the Kafka listener refuses the record") {
		t.Errorf("record error %q", msg)
	}
}
