package broker_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/broker"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
	registryv1 "github.com/sluicehq/sluice/proto/gen/sluice/registry/v1"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/serde/protobuf"
	"github.com/sluicehq/sluice/server"
)

// enfEnv is an in-process node (registry + enforcing broker) with real
// Connect clients.
type enfEnv struct {
	t      *testing.T
	srv    *server.Server
	topics brokerv1connect.TopicServiceClient
	broker brokerv1connect.BrokerServiceClient
}

func newEnfEnv(t *testing.T) *enfEnv {
	t.Helper()
	fsync, err := broker.ParseFsyncPolicy("never")
	if err != nil {
		t.Fatal(err)
	}
	srv, url, stop, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir(), Fsync: fsync}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return &enfEnv{
		t:      t,
		srv:    srv,
		topics: brokerv1connect.NewTopicServiceClient(h2cClient(), url),
		broker: brokerv1connect.NewBrokerServiceClient(h2cClient(), url),
	}
}

func (e *enfEnv) create(name string, partitions int, configs map[string]string) {
	e.t.Helper()
	_, err := e.topics.CreateTopic(ctxT(e.t), connect.NewRequest(&brokerv1.CreateTopicRequest{Name: name, Partitions: int32(partitions), Configs: configs}))
	if err != nil {
		e.t.Fatalf("create %s: %v", name, err)
	}
}

func (e *enfEnv) register(subject string, typ serde.Format, text string) int32 {
	e.t.Helper()
	sv, err := e.srv.Registry.Register(ctxT(e.t), subject, registry.Schema{Type: typ, Text: text}, registry.RegisterOptions{})
	if err != nil {
		e.t.Fatalf("register %s: %v", subject, err)
	}
	return int32(sv.ID)
}

// highWatermarks sums the latest offsets of every partition of topic.
func (e *enfEnv) highWatermarks(topic string) int64 {
	e.t.Helper()
	resp, err := e.broker.ListOffsets(ctxT(e.t), connect.NewRequest(&brokerv1.ListOffsetsRequest{
		Topic: topic, Query: &brokerv1.ListOffsetsRequest_Spec{Spec: brokerv1.OffsetSpec_OFFSET_SPEC_LATEST},
	}))
	if err != nil {
		e.t.Fatalf("list offsets %s: %v", topic, err)
	}
	var n int64
	for _, o := range resp.Msg.GetOffsets() {
		n += o.GetOffset()
	}
	return n
}

// refused produces recs, expects InvalidArgument (or code) with nothing
// appended, and returns the error for the golden file and detail checks.
func (e *enfEnv) refused(topic string, code connect.Code, req *brokerv1.ProduceRequest) *connect.Error {
	e.t.Helper()
	before := e.highWatermarks(topic)
	req.Topic = topic
	_, err := e.broker.Produce(ctxT(e.t), connect.NewRequest(req))
	var ce *connect.Error
	if !errors.As(err, &ce) {
		e.t.Fatalf("produce %s: got %v, want a refusal", topic, err)
	}
	if ce.Code() != code {
		e.t.Errorf("produce %s: code %v, want %v (%v)", topic, ce.Code(), code, ce.Message())
	}
	if after := e.highWatermarks(topic); after != before {
		e.t.Errorf("produce %s: high watermarks moved %d -> %d on a refused request", topic, before, after)
	}
	return ce
}

func (e *enfEnv) accepted(topic string, req *brokerv1.ProduceRequest) []*brokerv1.ProduceResult {
	e.t.Helper()
	req.Topic = topic
	resp, err := e.broker.Produce(ctxT(e.t), connect.NewRequest(req))
	if err != nil {
		e.t.Fatalf("produce %s: %v", topic, err)
	}
	return resp.Msg.GetResults()
}

func (e *enfEnv) fetchValue(topic string, r *brokerv1.ProduceResult) *brokerv1.Record {
	e.t.Helper()
	resp, err := e.broker.Fetch(ctxT(e.t), connect.NewRequest(&brokerv1.FetchRequest{Topic: topic, Partition: r.GetPartition(), Offset: r.GetOffset(), MaxRecords: 1}))
	if err != nil || len(resp.Msg.GetRecords()) == 0 {
		e.t.Fatalf("fetch %s/%d@%d: %v", topic, r.GetPartition(), r.GetOffset(), err)
	}
	return resp.Msg.GetRecords()[0]
}

func rejection(t *testing.T, ce *connect.Error) *brokerv1.ProduceRejection {
	t.Helper()
	for _, d := range ce.Details() {
		v, err := d.Value()
		if err != nil {
			t.Fatal(err)
		}
		if r, ok := v.(*brokerv1.ProduceRejection); ok {
			return r
		}
	}
	t.Fatalf("no ProduceRejection detail on %v", ce)
	return nil
}

// One schema per format; each has its own record name so that the record
// strategies give each format its own subject.
type format struct {
	name    string
	typ     serde.Format
	text    string
	record  string // record name (§7.1)
	indexes []int  // Protobuf message-index path of the record
	good    []byte // a valid datum
	bad     []byte // a datum that does not match
}

var formats = []format{
	{
		name: "avro", typ: serde.Avro,
		text:   `{"type":"record","name":"Order","namespace":"shopavro","fields":[{"name":"id","type":"long"},{"name":"name","type":"string"}]}`,
		record: "shopavro.Order",
		good:   avroOrder(42, "Ada"),
		bad:    avroOrder(42, "Ada")[:3], // the string is cut short
	},
	{
		name: "protobuf", typ: serde.Protobuf,
		text:    "syntax = \"proto3\";\npackage shopproto;\nmessage Envelope { string k = 1; }\nmessage Order { string id = 1; int64 amount = 2; }\n",
		record:  "shopproto.Order",
		indexes: []int{1}, // Order is the second message: a non-zero index
		good:    protoOrder("A1", 300),
		bad:     []byte{0x0a, 0x09, 'A'}, // length 9 overruns the buffer
	},
	{
		name: "json", typ: serde.JSON,
		text:   `{"title":"shopjson.Order","type":"object","properties":{"id":{"type":"integer"},"name":{"type":"string"}},"required":["id"],"additionalProperties":false}`,
		record: "shopjson.Order",
		good:   []byte(`{"id":42,"name":"Ada"}`),
		bad:    []byte(`{"name":"Ada"}`),
	},
}

func avroOrder(id int64, name string) []byte {
	b := binary.AppendVarint(nil, id)
	b = binary.AppendVarint(b, int64(len(name)))
	return append(b, name...)
}

func protoOrder(id string, amount int64) []byte {
	b := []byte{0x0a, byte(len(id))}
	b = append(b, id...)
	b = append(b, 0x10)
	return binary.AppendUvarint(b, uint64(amount))
}

// frame prefixes datum with the envelope of id (and the index path).
func (f format) frame(id int32, datum []byte) []byte {
	b := serde.AppendPrefix(nil, id)
	if f.typ == serde.Protobuf {
		b = serde.AppendIndexes(b, f.indexes)
	}
	return append(b, datum...)
}

// walkerReady skips payload-accepting subtests while a format's byte walker
// is still a placeholder (the walkers are written in parallel); every
// refusal test runs regardless.
func walkerReady(t *testing.T, f format) {
	t.Helper()
	var err error
	switch f.typ {
	case serde.Avro:
		s, perr := avro.Parse(f.text, nil)
		if perr != nil {
			t.Fatal(perr)
		}
		err = s.ValidateDatum(f.good)
	case serde.Protobuf:
		s, perr := protobuf.Parse(f.text, nil)
		if perr != nil {
			t.Fatal(perr)
		}
		err = s.ValidateMessage(f.indexes, f.good)
	}
	if err != nil && strings.Contains(err.Error(), "not implemented") {
		t.Skipf("%s walker not implemented yet: %v", f.name, err)
	}
}

func subjectFor(strategy, topic, side string, f format) string {
	switch strategy {
	case "record":
		return f.record
	case "topic_record":
		return topic + "-" + f.record
	}
	return topic + "-" + side
}

// TestEnforceRefusals covers each refusal reason for keys and values, each
// strategy and each format: the code, the message (golden) and that nothing
// was appended.
func TestEnforceRefusals(t *testing.T) {
	e := newEnfEnv(t)
	// An id that exists but belongs to another subject.
	foreign := e.register("unrelated-value", serde.Avro, `{"type":"record","name":"Other","fields":[{"name":"x","type":"int"}]}`)
	var golden strings.Builder
	for _, f := range formats {
		for _, strategy := range []string{"topic", "record", "topic_record"} {
			for _, side := range []string{"key", "value"} {
				topic := fmt.Sprintf("%s-%s-%s", f.name, strings.ReplaceAll(strategy, "_", ""), side)
				e.create(topic, 1, map[string]string{
					side + ".schema.validation":     "payload",
					side + ".subject.name.strategy": strategy,
				})
				subject := subjectFor(strategy, topic, side, f)
				id := e.register(subject, f.typ, f.text)
				rec := func(b []byte) *brokerv1.ProduceRecord {
					if side == "key" {
						return &brokerv1.ProduceRecord{Key: b, Value: []byte("v")}
					}
					return &brokerv1.ProduceRecord{Value: b}
				}
				cases := []struct {
					name string
					b    []byte
				}{
					{"no envelope", []byte(`{"x":1}`)},
					{"truncated envelope", []byte{0, 0, 0}},
					{"foreign id", f.frame(foreign, f.good)},
					{"unknown id", f.frame(999, f.good)},
					{"payload mismatch", f.frame(id, f.bad)},
				}
				for _, c := range cases {
					name := topic + "/" + c.name
					t.Run(name, func(t *testing.T) {
						// A valid record first: the request is refused whole.
						ce := e.refused(topic, connect.CodeInvalidArgument, &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{rec(f.frame(id, f.good)), rec(c.b)}})
						fmt.Fprintf(&golden, "%s: %s: %s\n", name, ce.Code(), ce.Message())
						rej := rejection(t, ce)
						// The valid record may also fail while a walker is a placeholder.
						last := rej.GetRecords()[len(rej.GetRecords())-1]
						if last.GetIndex() != 1 || last.GetSide().String() != "RECORD_SIDE_"+strings.ToUpper(side) {
							t.Errorf("rejection %v, want record 1 on the %s side", last, side)
						}
						if c.name == "payload mismatch" && (last.GetSchemaId() != id || last.GetSubject() != subject) {
							t.Errorf("rejection %v, want subject %s id %d", last, subject, id)
						}
					})
				}
				t.Run(topic+"/valid", func(t *testing.T) {
					walkerReady(t, f)
					b := f.frame(id, f.good)
					res := e.accepted(topic, &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{rec(b)}})
					got := e.fetchValue(topic, res[0])
					stored := got.GetValue()
					if side == "key" {
						stored = got.GetKey()
					}
					if !bytes.Equal(stored, b) {
						t.Errorf("round trip: stored %x, want %x", stored, b)
					}
				})
			}
		}
	}
	if !t.Failed() {
		checkGolden(t, "enforce_refusals.golden", golden.String())
	}
}

// TestEnforceRules covers the rules that are not per format: nulls and
// tombstones, header mode, Protobuf paths, the auto default, the detail
// listing every bad record, and deletes taking effect at once.
func TestEnforceRules(t *testing.T) {
	e := newEnfEnv(t)
	av := formats[0]
	pb := formats[1]
	var golden strings.Builder
	note := func(name string, ce *connect.Error) {
		fmt.Fprintf(&golden, "%s: %s: %s\n", name, ce.Code(), ce.Message())
	}

	e.create("plain", 1, map[string]string{"value.schema.validation": "payload"})
	id := e.register("plain-value", serde.Avro, av.text)
	e.create("compacted", 1, map[string]string{"value.schema.validation": "payload", "cleanup.policy": "compact"})
	e.register("compacted-value", serde.Avro, av.text)

	t.Run("null value on a delete topic", func(t *testing.T) {
		note(t.Name(), e.refused("plain", connect.CodeInvalidArgument, &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{{Key: []byte("k")}}}))
	})
	t.Run("empty value on a delete topic", func(t *testing.T) {
		note(t.Name(), e.refused("plain", connect.CodeInvalidArgument, &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{{Key: []byte("k"), Value: []byte{}}}}))
	})
	t.Run("tombstone on a compacted topic", func(t *testing.T) {
		e.accepted("compacted", &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{{Key: []byte("k")}}})
	})
	t.Run("null key allowed without key validation", func(t *testing.T) {
		walkerReady(t, av)
		e.accepted("plain", &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{{Value: av.frame(id, av.good)}}})
	})
	t.Run("null key refused with key validation", func(t *testing.T) {
		e.create("keyed", 1, map[string]string{"key.schema.validation": "id"})
		e.register("keyed-key", serde.Avro, av.text)
		note(t.Name(), e.refused("keyed", connect.CodeInvalidArgument, &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{{Value: []byte("v")}}}))
	})
	t.Run("header mode unknown GUID", func(t *testing.T) {
		guid := serde.AppendGUID(nil, [16]byte{0x12, 0x3e, 0x45, 0x67})
		note(t.Name(), e.refused("plain", connect.CodeInvalidArgument, &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{
			{Value: av.good, Headers: []*brokerv1.Header{{Key: serde.ValueSchemaIDHeader, Value: guid}}},
		}}))
	})
	t.Run("header mode integer id", func(t *testing.T) {
		walkerReady(t, av)
		e.accepted("plain", &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{
			{Value: av.good, Headers: []*brokerv1.Header{{Key: serde.ValueSchemaIDHeader, Value: serde.AppendPrefix(nil, id)}}},
		}})
	})
	t.Run("header mode bad header", func(t *testing.T) {
		note(t.Name(), e.refused("plain", connect.CodeInvalidArgument, &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{
			{Value: av.good, Headers: []*brokerv1.Header{{Key: serde.ValueSchemaIDHeader, Value: []byte{7}}}},
		}}))
	})

	e.create("pb", 1, map[string]string{"value.schema.validation": "id"})
	pid := e.register("pb-value", serde.Protobuf, pb.text)
	t.Run("protobuf index path names no message", func(t *testing.T) {
		b := serde.AppendIndexes(serde.AppendPrefix(nil, pid), []int{5})
		note(t.Name(), e.refused("pb", connect.CodeInvalidArgument, &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{{Value: append(b, pb.good...)}}}))
	})
	t.Run("protobuf index path absent", func(t *testing.T) {
		note(t.Name(), e.refused("pb", connect.CodeInvalidArgument, &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{{Value: serde.AppendPrefix(nil, pid)}}}))
	})
	t.Run("id mode does not walk the payload", func(t *testing.T) {
		e.accepted("pb", &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{{Value: pb.frame(pid, pb.bad)}}})
	})

	t.Run("auto: untyped accepts raw bytes, typed refuses them", func(t *testing.T) {
		e.create("auto", 1, nil)
		e.accepted("auto", &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{{Value: []byte("raw")}}})
		e.register("auto-value", serde.Avro, av.text)
		note(t.Name(), e.refused("auto", connect.CodeInvalidArgument, &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{{Value: []byte("raw")}}}))
	})

	t.Run("every bad record listed, live versions named", func(t *testing.T) {
		id := e.register("other-value", serde.Avro, `{"type":"record","name":"Other","fields":[{"name":"x","type":"int"}]}`)
		e.create("multi", 1, map[string]string{"value.schema.validation": "id"})
		v1 := e.register("multi-value", serde.Avro, av.text)
		v2 := e.register("multi-value", serde.Avro, `{"type":"record","name":"Order","namespace":"shopavro","fields":[{"name":"id","type":"long"},{"name":"name","type":"string"},{"name":"note","type":["null","string"],"default":null}]}`)
		ce := e.refused("multi", connect.CodeInvalidArgument, &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{
			{Value: av.frame(v1, av.good)}, {Value: []byte("x")}, {Value: av.frame(v2, av.good)}, {Value: av.frame(id, av.good)},
		}})
		note(t.Name(), ce)
		want := fmt.Sprintf("record 3: schema id %d is not a version of subject multi-value (live versions 1→id %d, 2→id %d)", id, v1, v2)
		if id == v1 {
			t.Fatalf("ids collide: %d", id)
		}
		if !strings.Contains(ce.Message(), want) {
			t.Errorf("message %q lacks %q", ce.Message(), want)
		}
		rej := rejection(t, ce)
		if len(rej.GetRecords()) != 2 || rej.GetRecords()[0].GetIndex() != 1 || rej.GetRecords()[1].GetIndex() != 3 || rej.GetRecords()[1].GetSchemaId() != id || rej.GetRecords()[1].GetSubject() != "multi-value" {
			t.Errorf("rejection %v, want records 1 and 3", rej)
		}
	})

	t.Run("deleted version refused at once", func(t *testing.T) {
		e.create("del", 1, map[string]string{"value.schema.validation": "id"})
		did := e.register("del-value", serde.Avro, av.text)
		e.accepted("del", &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{{Value: av.frame(did, av.good)}}})
		if _, err := e.srv.Registry.DeleteVersion(ctxT(t), "del-value", 1, false); err != nil {
			t.Fatal(err)
		}
		note(t.Name(), e.refused("del", connect.CodeInvalidArgument, &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{{Value: av.frame(did, av.good)}}}))
	})

	if !t.Failed() {
		checkGolden(t, "enforce_rules.golden", golden.String())
	}
}

// TestEnforcePartitionKey: a key keeps its partition when the key schema
// evolves, because the envelope is not hashed.
func TestEnforcePartitionKey(t *testing.T) {
	e := newEnfEnv(t)
	e.create("pk", 16, map[string]string{"key.schema.validation": "id", "value.schema.validation": "none"})
	j := formats[2]
	id1 := e.register("pk-key", serde.JSON, j.text)
	id2 := e.register("pk-key", serde.JSON, strings.Replace(j.text, `"additionalProperties":false`, `"additionalProperties":true`, 1))
	if id1 == id2 {
		t.Fatalf("want two ids, got %d", id1)
	}
	for i := range 20 {
		k := fmt.Appendf(nil, `{"id":%d}`, i)
		res := e.accepted("pk", &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{
			{Key: j.frame(id1, k), Value: []byte("a")}, {Key: j.frame(id2, k), Value: []byte("b")},
		}})
		if res[0].GetPartition() != res[1].GetPartition() {
			t.Errorf("key %s: partition %d under id %d, %d under id %d", k, res[0].GetPartition(), id1, res[1].GetPartition(), id2)
		}
	}
}

// TestProduceWithSchema: a Produce carrying a schema instead of ids.
func TestProduceWithSchema(t *testing.T) {
	e := newEnfEnv(t)
	j := formats[2]
	schema := &registryv1.Schema{Type: registryv1.SchemaType_SCHEMA_TYPE_JSON, Text: j.text}
	var golden strings.Builder

	e.create("ws-off", 1, nil)
	ce := e.refused("ws-off", connect.CodeFailedPrecondition, &brokerv1.ProduceRequest{ValueSchema: schema, Records: []*brokerv1.ProduceRecord{{Value: j.good}}})
	fmt.Fprintf(&golden, "autoregister off: %s: %s\n", ce.Code(), ce.Message())

	e.create("ws", 1, map[string]string{"value.schema.autoregister": "true"})
	res := e.accepted("ws", &brokerv1.ProduceRequest{ValueSchema: schema, Records: []*brokerv1.ProduceRecord{{Value: j.good}, {Value: []byte(`{"id":7}`)}}})
	sv, err := e.srv.Registry.Version(ctxT(t), "ws-value", registry.Latest, false)
	if err != nil {
		t.Fatalf("the schema was not registered: %v", err)
	}
	if got, want := e.fetchValue("ws", res[0]).GetValue(), j.frame(int32(sv.ID), j.good); !bytes.Equal(got, want) {
		t.Errorf("stored %q, want %q", got, want)
	}
	// Registered now: the same schema is found without auto-registration.
	if _, err := e.topics.AlterTopicConfigs(ctxT(t), connect.NewRequest(&brokerv1.AlterTopicConfigsRequest{Name: "ws", Set: map[string]string{"value.schema.autoregister": "false"}})); err != nil {
		t.Fatal(err)
	}
	e.accepted("ws", &brokerv1.ProduceRequest{ValueSchema: schema, Records: []*brokerv1.ProduceRecord{{Value: j.good}}})

	// The topic is typed now: a bad payload under the sent schema is refused.
	ce = e.refused("ws", connect.CodeInvalidArgument, &brokerv1.ProduceRequest{ValueSchema: schema, Records: []*brokerv1.ProduceRecord{{Value: j.bad}}})
	fmt.Fprintf(&golden, "bad payload: %s: %s\n", ce.Code(), ce.Message())

	// An incompatible schema: every violation in an IncompatibilityDetail.
	if _, err := e.topics.AlterTopicConfigs(ctxT(t), connect.NewRequest(&brokerv1.AlterTopicConfigsRequest{Name: "ws", Set: map[string]string{"value.schema.autoregister": "true"}})); err != nil {
		t.Fatal(err)
	}
	incompatible := &registryv1.Schema{Type: registryv1.SchemaType_SCHEMA_TYPE_JSON, Text: `{"title":"shopjson.Order","type":"object","properties":{"id":{"type":"string"}},"required":["id","sku"],"additionalProperties":false}`}
	ce = e.refused("ws", connect.CodeFailedPrecondition, &brokerv1.ProduceRequest{ValueSchema: incompatible, Records: []*brokerv1.ProduceRecord{{Value: []byte(`{"id":"x","sku":"y"}`)}}})
	fmt.Fprintf(&golden, "incompatible: %s: %s\n", ce.Code(), ce.Message())
	found := false
	for _, d := range ce.Details() {
		if v, err := d.Value(); err == nil {
			if det, ok := v.(*registryv1.IncompatibilityDetail); ok {
				found = len(det.GetViolations()) > 0 && det.GetSubject() == "ws-value"
			}
		}
	}
	if !found {
		t.Errorf("no IncompatibilityDetail with violations on %v", ce)
	}
	checkGolden(t, "enforce_with_schema.golden", golden.String())
}

// TestEnforceGUID covers header-mode GUID identities: a GUID of a live
// version of the subject is accepted, and a GUID of a schema registered
// only under another subject is refused (the unknown GUID is in
// TestEnforceRules' golden).
func TestEnforceGUID(t *testing.T) {
	e := newEnfEnv(t)
	av := formats[0]
	e.create("plain", 1, map[string]string{"value.schema.validation": "payload"})
	id := e.register("plain-value", serde.Avro, av.text)
	t.Run("header mode GUID", func(t *testing.T) {
		walkerReady(t, av)
		sch, err := e.srv.Registry.SchemaByID(ctxT(t), int(id))
		if err != nil {
			t.Fatal(err)
		}
		e.accepted("plain", &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{
			{Value: av.good, Headers: []*brokerv1.Header{{Key: serde.ValueSchemaIDHeader, Value: serde.AppendGUID(nil, sch.GUID())}}},
		}})
	})
	t.Run("header mode GUID of another subject", func(t *testing.T) {
		oid := e.register("guid-other-value", serde.Avro, `{"type":"record","name":"Other","fields":[{"name":"x","type":"int"}]}`)
		sch, err := e.srv.Registry.SchemaByID(ctxT(t), int(oid))
		if err != nil {
			t.Fatal(err)
		}
		ce := e.refused("plain", connect.CodeInvalidArgument, &brokerv1.ProduceRequest{Records: []*brokerv1.ProduceRecord{
			{Value: av.good, Headers: []*brokerv1.Header{{Key: serde.ValueSchemaIDHeader, Value: serde.AppendGUID(nil, sch.GUID())}}},
		}})
		if !strings.Contains(ce.Message(), "is not a version of subject plain-value") {
			t.Errorf("refusal %q does not say the GUID's schema is not a version of plain-value", ce.Message())
		}
	})
}
