package kafka_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/primitive"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// envelope is the Confluent wire form: magic 0, the schema id, the datum.
func envelope(id int32, datum []byte) []byte {
	return append(binary.BigEndian.AppendUint32([]byte{0}, uint32(id)), datum...)
}

// avroLongDatum and avroStringDatum are Avro's binary encodings of a long
// and a string.
func avroLongDatum(v int64) []byte { return binary.AppendVarint(nil, v) }

func avroStringDatum(s string) []byte {
	return append(binary.AppendVarint(nil, int64(len(s))), s...)
}

// TestKafkaAndTypedClient: on a typed topic (Avro string keys and long
// values, both validated to the payload), records a Kafka producer writes
// with Confluent's envelope read back byte for byte over the Connect API
// (the Fetch RPC over HTTP) and decode in the typed Go client, whose raw
// bytes are the same; a record the typed client produces reads back over
// Kafka byte for byte as the Connect API returns it, at the offset the
// client was acknowledged.
func TestKafkaAndTypedClient(t *testing.T) {
	addr, url, srv := startServer(t)
	keyID := registerAvro(t, url, "typed-key", `"string"`)
	valueID := registerAvro(t, url, "typed-value", `"long"`)
	createTopicCore(t, srv, "typed", 1, map[string]string{"key.schema.validation": "payload", "value.schema.validation": "payload"})
	ctx := testCtx(t)

	ts := time.UnixMilli(1_700_000_000_123)
	var sent []*kgo.Record
	for i := range 5 {
		sent = append(sent, &kgo.Record{
			Topic:     "typed",
			Key:       envelope(keyID, avroStringDatum(fmt.Sprintf("key-%d", i))),
			Value:     envelope(valueID, avroLongDatum(int64(i*1000-2500))),
			Headers:   []kgo.RecordHeader{{Key: "i", Value: fmt.Appendf(nil, "%d", i)}, {Key: "empty", Value: []byte{}}},
			Timestamp: ts.Add(time.Duration(i) * time.Millisecond),
		})
	}
	if err := newClient(t, addr).ProduceSync(ctx, sent...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// Over the Connect API.
	bc := brokerv1connect.NewBrokerServiceClient(http.DefaultClient, url)
	fetch := func(offset int64, n int) []*brokerv1.Record {
		t.Helper()
		res, err := bc.Fetch(ctx, connect.NewRequest(&brokerv1.FetchRequest{Topic: "typed", Offset: offset, MaxRecords: int32(n)}))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Msg.GetRecords()) != n {
			t.Fatalf("Fetch from %d: %d records, want %d", offset, len(res.Msg.GetRecords()), n)
		}
		return res.Msg.GetRecords()
	}
	for i, r := range fetch(0, len(sent)) {
		s := sent[i]
		if r.GetOffset() != s.Offset || !bytes.Equal(r.GetKey(), s.Key) || !bytes.Equal(r.GetValue(), s.Value) || !r.GetTimestamp().AsTime().Equal(s.Timestamp) || len(r.GetHeaders()) != len(s.Headers) {
			t.Fatalf("record %d over Connect: %v, sent %+v", i, r, s)
		}
		for j, h := range r.GetHeaders() {
			if h.GetKey() != s.Headers[j].Key || !bytes.Equal(h.GetValue(), s.Headers[j].Value) {
				t.Fatalf("record %d header %d over Connect: %v, sent %+v", i, j, h, s.Headers[j])
			}
		}
	}

	// Through the typed Go client.
	conn := client.New(nil, url)
	c, err := client.NewConsumer(conn, "typed", primitive.String(), primitive.Int64(), client.FromEarliest(), client.Partitions(0))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m, err := range c.All(ctx) {
		if err != nil {
			t.Fatalf("typed consumer after %d records: %v", n, err)
		}
		s := sent[n]
		if m.Offset != s.Offset || m.Key != fmt.Sprintf("key-%d", n) || m.Value != int64(n*1000-2500) ||
			m.SchemaID != valueID || m.KeySchemaID != keyID || !bytes.Equal(m.RawKey, s.Key) || !bytes.Equal(m.RawValue, s.Value) ||
			!m.Timestamp.Equal(s.Timestamp) || len(m.Headers) != len(s.Headers) {
			t.Fatalf("record %d in the typed client: %+v, sent %+v", n, m, s)
		}
		for j, h := range m.Headers {
			if h.Key != s.Headers[j].Key || !bytes.Equal(h.Value, s.Headers[j].Value) {
				t.Fatalf("record %d header %d in the typed client: %+v", n, j, h)
			}
		}
		if n++; n == len(sent) {
			break
		}
	}
	if n != len(sent) {
		t.Fatalf("typed consumer read %d of %d records", n, len(sent))
	}

	// The reverse: the typed client produces, Kafka reads.
	p, err := client.NewProducer(ctx, conn, "typed", primitive.String(), primitive.Int64())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	ack, err := p.Produce(ctx, "from-the-client", -42, client.WithHeaders(client.Header{Key: "via", Value: []byte("client")}), client.WithTimestamp(ts))
	if err != nil {
		t.Fatal(err)
	}
	if ack.Partition != 0 || ack.Offset != int64(len(sent)) {
		t.Fatalf("typed client acknowledged %+v, want partition 0 offset %d", ack, len(sent))
	}
	got := consumeAll(t, addr, "typed", 1, len(sent)+1)[0][len(sent)]
	wantKey, wantValue := envelope(keyID, avroStringDatum("from-the-client")), envelope(valueID, avroLongDatum(-42))
	if got.Offset != ack.Offset || !bytes.Equal(got.Key, wantKey) || !bytes.Equal(got.Value, wantValue) || !got.Timestamp.Equal(ts) ||
		len(got.Headers) != 1 || got.Headers[0].Key != "via" || string(got.Headers[0].Value) != "client" {
		t.Fatalf("the typed client's record over Kafka: %+v (key %x value %x), want key %x value %x", got, got.Key, got.Value, wantKey, wantValue)
	}
	if r := fetch(ack.Offset, 1)[0]; !bytes.Equal(r.GetKey(), got.Key) || !bytes.Equal(r.GetValue(), got.Value) {
		t.Fatalf("over Connect %x=%x, over Kafka %x=%x", r.GetKey(), r.GetValue(), got.Key, got.Value)
	}
}

// TestRefusalSameOverKafkaAndConnect: the per-record reasons of a Kafka
// refusal (KIP-467 RecordErrors) are the texts the Connect API gives for
// the same records.
func TestRefusalSameOverKafkaAndConnect(t *testing.T) {
	addr, url, srv := startServer(t)
	id := registerAvro(t, url, "same-value", `{"type":"record","name":"Order","fields":[{"name":"id","type":"long"}]}`)
	createTopicCore(t, srv, "same", 1, map[string]string{"value.schema.validation": "payload"})
	values := [][]byte{
		avroLong(id, 1),
		append(avroLong(id, 2), 0x02), // a byte left over after the datum
		avroLong(id+1000, 3),          // an id that is not a version of the subject
		[]byte("plain text"),          // no envelope
	}
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "same"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = rawBatch(values)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(t), newClient(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != kerr.InvalidRecord.Code || len(p.ErrorRecords) != 3 {
		t.Fatalf("over Kafka: %v, record errors %+v", kerr.ErrorForCode(p.ErrorCode), p.ErrorRecords)
	}

	zero := int32(0)
	var recs []*brokerv1.ProduceRecord
	for _, v := range values {
		recs = append(recs, &brokerv1.ProduceRecord{Value: v, Partition: &zero})
	}
	bc := brokerv1connect.NewBrokerServiceClient(http.DefaultClient, url)
	_, err = bc.Produce(testCtx(t), connect.NewRequest(&brokerv1.ProduceRequest{Topic: "same", Records: recs}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("over Connect: %v, want InvalidArgument", err)
	}
	t.Logf("over Connect: %v", err)
	for _, er := range p.ErrorRecords {
		want := fmt.Sprintf("record %d: %s", er.RelativeOffset, deref(er.ErrorMessage))
		if deref(er.ErrorMessage) == "" || !strings.Contains(err.Error(), want) {
			t.Errorf("the Connect refusal %q does not say %q, as Kafka's record error does", err, want)
		}
	}
}
