package kafka_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/server"
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

// registerTipRule registers subject's Avro record Tip {total: long} with a
// CEL rule diverting a total <= 0 to dlqTopic, and returns the schema id.
func registerTipRule(t *testing.T, srv *server.Server, subject, dlqTopic string) int32 {
	t.Helper()
	sv, err := srv.Registry.Register(testCtx(t), subject, registry.Schema{
		Type:    serde.Avro,
		Text:    `{"type":"record","name":"Tip","fields":[{"name":"total","type":"long"}]}`,
		RuleSet: json.RawMessage(`{"domainRules":[{"name":"positive_total","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.total > 0","onFailure":"DLQ","params":{"dlq.topic":"` + dlqTopic + `"}}]}`),
	}, registry.RegisterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return int32(sv.ID)
}

// tipTotal decodes avroLong's value.
func tipTotal(t testing.TB, v []byte) int64 {
	t.Helper()
	if len(v) < 6 {
		t.Fatalf("value %x is not a Tip", v)
	}
	n, w := binary.Varint(v[5:])
	if w <= 0 {
		t.Fatalf("value %x is not a Tip", v)
	}
	return n
}

// headerMap is a record's headers by key (the last of a repeated key).
func headerMap(hs []kgo.RecordHeader) map[string]string {
	m := map[string]string{}
	for _, h := range hs {
		m[h.Key] = string(h.Value)
	}
	return m
}

// TestDataContractDLQOverKafka: a DLQ rule diverts records over the Kafka
// listener. kgo's idempotent producer (its default) sends batches mixing
// good and diverted records, then batches of only diverted records, then
// more: every produce succeeds, each record (kept or diverted) takes its
// offset in the topic, a consumer of the topic sees only the kept records
// at those offsets, and the DLQ topic holds the diverted ones with the
// client's headers and the rule's (the same as on Connect produce).
func TestDataContractDLQOverKafka(t *testing.T) {
	addr, _, srv := startServer(t)
	id := registerTipRule(t, srv, "tips-value", "tips-dlq")
	createTopicCore(t, srv, "tips", 1, nil)
	createTopicCore(t, srv, "tips-dlq", 1, nil)
	cl := newClient(t, addr, kgo.DefaultProduceTopic("tips"), kgo.ProducerLinger(50*time.Millisecond))
	rounds := [][]int64{{5, -3, 7, -1}, {-4, 8}, {-9}, {-2, -6}, {10, 11}}
	var kept, dropped []int64
	for _, round := range rounds {
		recs := make([]*kgo.Record, len(round))
		for i, v := range round {
			recs[i] = &kgo.Record{Value: avroLong(id, v), Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte(fmt.Sprint(v))}}}
			if v > 0 {
				kept = append(kept, v)
			} else {
				dropped = append(dropped, v)
			}
		}
		if err := cl.ProduceSync(testCtx(t), recs...).FirstErr(); err != nil {
			t.Fatalf("produce %v: %v", round, err)
		}
	}
	info, err := srv.Broker.DescribeTopic("tips")
	if err != nil {
		t.Fatal(err)
	}
	// Diverted records take their offsets too: the producer's view.
	if hw := info.Partitions[0].HighWatermark; hw != int64(len(kept)+len(dropped)) {
		t.Fatalf("high watermark %d, want %d", hw, len(kept)+len(dropped))
	}
	got := consumeAll(t, addr, "tips", 1, len(kept))[0]
	wantOffsets := []int64{0, 2, 5, 9, 10}
	for i, r := range got {
		if tipTotal(t, r.Value) != kept[i] || r.Offset != wantOffsets[i] {
			t.Errorf("topic record %d: total %d at offset %d, want %d at %d", i, tipTotal(t, r.Value), r.Offset, kept[i], wantOffsets[i])
		}
	}
	dlq := consumeAll(t, addr, "tips-dlq", 1, len(dropped))[0]
	for i, r := range dlq {
		h := headerMap(r.Headers)
		want := map[string]string{
			"trace":            fmt.Sprint(dropped[i]),
			"__rule.name":      "positive_total",
			"__rule.mode":      "WRITE",
			"__rule.subject":   "tips-value",
			"__rule.version":   "1",
			"__rule.topic":     "tips",
			"__rule.exception": `rule "positive_total" (CEL) failed: message.total > 0 is false`,
		}
		if tipTotal(t, r.Value) != dropped[i] {
			t.Errorf("DLQ record %d: total %d, want %d", i, tipTotal(t, r.Value), dropped[i])
		}
		for k, v := range want {
			if h[k] != v {
				t.Errorf("DLQ record %d: header %s = %q, want %q", i, k, h[k], v)
			}
		}
	}
	// Nothing more arrives on either topic.
	for topic, n := range map[string]int{"tips": len(kept), "tips-dlq": len(dropped)} {
		if got := countRecords(t, addr, topic); got != n {
			t.Errorf("%s holds %d records, want %d", topic, got, n)
		}
	}
}

// countRecords reads topic's partition 0 from the start through kgo until
// a poll of half a second brings nothing more, and counts the records.
func countRecords(t *testing.T, addr, topic string) int {
	t.Helper()
	cl := newClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}), kgo.FetchMaxWait(100*time.Millisecond))
	n := 0
	for {
		ctx, cancel := context.WithTimeout(testCtx(t), 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("fetch %s: %v", topic, err)
			}
		})
		if fs.NumRecords() == 0 {
			return n
		}
		n += fs.NumRecords()
	}
}

// idempotentBatch is rawBatch from idempotent producer pid, epoch 0, with
// base sequence seq (and the transactional bit when txn is set).
func idempotentBatch(values [][]byte, pid int64, seq int32, txn bool) []byte {
	raw := rawBatch(values)
	be := binary.BigEndian
	if txn {
		be.PutUint16(raw[21:], be.Uint16(raw[21:])|0x10)
	}
	be.PutUint64(raw[43:], uint64(pid))
	be.PutUint16(raw[51:], 0)
	be.PutUint32(raw[53:], uint32(seq))
	be.PutUint32(raw[17:], crcC(raw[21:]))
	return raw
}

// TestDataContractDLQIdempotentRetry: the same idempotent batch sent
// twice (a retry) is answered with the first answer's offset and its
// diverted records reach the DLQ once; the next sequence is accepted and
// a gap refused, both after a mixed batch and after a batch diverted
// whole, and still after a restart (the producer state is rebuilt from
// the stored batches).
func TestDataContractDLQIdempotentRetry(t *testing.T) {
	n := startNode(t)
	id := registerTipRule(t, n.Server, "tips-value", "tips-dlq")
	createTopicCore(t, n.Server, "tips", 1, nil)
	createTopicCore(t, n.Server, "tips-dlq", 1, nil)
	produce := func(addr string, batch []byte) kmsg.ProduceResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = 9, -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "tips"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = 0, batch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(testCtx(t), newClient(t, addr))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0]
	}
	init := kmsg.NewPtrInitProducerIDRequest()
	ir, err := init.RequestWith(testCtx(t), newClient(t, n.Addr))
	if err != nil || ir.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %v %v", err, kerr.ErrorForCode(ir.ErrorCode))
	}
	pid := ir.ProducerID
	vals := func(vs ...int64) [][]byte {
		out := make([][]byte, len(vs))
		for i, v := range vs {
			out[i] = avroLong(id, v)
		}
		return out
	}
	steps := []struct {
		name string
		vals [][]byte
		seq  int32
		code int16
		base int64
	}{
		{"mixed", vals(1, -1, 2), 0, 0, 0},
		{"mixed retried", vals(1, -1, 2), 0, 0, 0},
		{"all diverted", vals(-2, -3), 3, 0, 3},
		{"all diverted retried", vals(-2, -3), 3, 0, 3},
		{"gap", vals(3), 6, kerr.OutOfOrderSequenceNumber.Code, -1},
		{"next", vals(3, -4), 5, 0, 5},
	}
	for _, st := range steps {
		p := produce(n.Addr, idempotentBatch(st.vals, pid, st.seq, false))
		if p.ErrorCode != st.code || p.BaseOffset != st.base {
			t.Fatalf("%s: %v at offset %d (%s), want %v at %d", st.name, kerr.ErrorForCode(p.ErrorCode), p.BaseOffset, deref(p.ErrorMessage), kerr.ErrorForCode(st.code), st.base)
		}
	}
	if got := countRecords(t, n.Addr, "tips-dlq"); got != 4 {
		t.Fatalf("the DLQ holds %d records, want 4 (retries are not diverted again)", got)
	}
	if got := countRecords(t, n.Addr, "tips"); got != 3 {
		t.Fatalf("the topic holds %d records, want 3", got)
	}

	// Restart on the same data: the sparse and the empty batch are
	// recovered, and the producer's state with them.
	n.Stop()
	n2 := startNode(t, withDataDir(n.Dir))
	for _, st := range []struct {
		name string
		vals [][]byte
		seq  int32
		code int16
		base int64
	}{
		{"retry after restart", vals(3, -4), 5, 0, 5},
		{"gap after restart", vals(4), 8, kerr.OutOfOrderSequenceNumber.Code, -1},
		{"next after restart", vals(-5), 7, 0, 7},
		{"and after that", vals(4), 8, 0, 8},
	} {
		p := produce(n2.Addr, idempotentBatch(st.vals, pid, st.seq, false))
		if p.ErrorCode != st.code || p.BaseOffset != st.base {
			t.Fatalf("%s: %v at offset %d (%s), want %v at %d", st.name, kerr.ErrorForCode(p.ErrorCode), p.BaseOffset, deref(p.ErrorMessage), kerr.ErrorForCode(st.code), st.base)
		}
	}
	got := consumeAll(t, n2.Addr, "tips", 1, 4)[0]
	var totals []int64
	for _, r := range got {
		totals = append(totals, tipTotal(t, r.Value))
	}
	if fmt.Sprint(totals) != "[1 2 3 4]" || got[3].Offset != 8 {
		t.Fatalf("topic after restart: totals %v, last offset %d", totals, got[len(got)-1].Offset)
	}
	if got := countRecords(t, n2.Addr, "tips-dlq"); got != 5 {
		t.Fatalf("the DLQ holds %d records, want 5", got)
	}
}

// TestDataContractDLQRefusedOverKafka: a DLQ rule's record is refused,
// with the reason, where it cannot be diverted: in a transactional batch
// (its DLQ record would escape the transaction), beside a record refused
// for another reason, or when its DLQ topic does not exist. Nothing of the
// batch is written, nor to the DLQ.
func TestDataContractDLQRefusedOverKafka(t *testing.T) {
	addr, _, srv := startServer(t)
	id := registerTipRule(t, srv, "tips-value", "tips-dlq")
	lost := registerTipRule(t, srv, "lost-value", "no-such-topic")
	strict := registerTipRule(t, srv, "strict-value", "strict-dlq")
	createTopicCore(t, srv, "tips", 1, nil)
	createTopicCore(t, srv, "lost", 1, nil)
	createTopicCore(t, srv, "tips-dlq", 1, nil)
	createTopicCore(t, srv, "strict", 1, nil)
	// A typed DLQ topic whose subject has no schema: it refuses the
	// diverted records.
	createTopicCore(t, srv, "strict-dlq", 1, map[string]string{"value.schema.validation": "payload"})
	for _, tc := range []struct {
		name, topic string
		batch       []byte
		want        []string
	}{
		{"transactional", "tips", idempotentBatch([][]byte{avroLong(id, 1), avroLong(id, -1)}, 7, 0, true),
			[]string{`record 1: rule "positive_total" (CEL) failed`, "a record of a transactional batch is not diverted"}},
		{"beside another refusal", "tips", rawBatch([][]byte{avroLong(id, -1), []byte("not avro")}),
			[]string{"2 of 2 records refused", `record 0: rule "positive_total" (CEL) failed`, "diverts it to tips-dlq only when no other record of its request is refused", "record 1: "}},
		{"no DLQ topic", "lost", rawBatch([][]byte{avroLong(lost, 1), avroLong(lost, -1)}),
			[]string{`record 1: rule "positive_total" (CEL) failed`, "its DLQ topic no-such-topic"}},
		{"the DLQ topic refuses", "strict", rawBatch([][]byte{avroLong(strict, 1), avroLong(strict, -1)}),
			[]string{`record 1: rule "positive_total" diverts it to DLQ topic strict-dlq, which refuses it`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := kmsg.NewPtrProduceRequest()
			req.Version, req.Acks, req.TimeoutMillis = 9, -1, 5000
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = tc.topic
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition, rp.Records = 0, tc.batch
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp, err := req.RequestWith(testCtx(t), newClient(t, addr))
			if err != nil {
				t.Fatal(err)
			}
			p := resp.Topics[0].Partitions[0]
			msg := deref(p.ErrorMessage)
			if p.ErrorCode != kerr.InvalidRecord.Code {
				t.Fatalf("%v (%s), want INVALID_RECORD", kerr.ErrorForCode(p.ErrorCode), msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not say %q", msg, w)
				}
			}
		})
	}
	for _, topic := range []string{"tips", "lost", "tips-dlq", "strict", "strict-dlq"} {
		info, err := srv.Broker.DescribeTopic(topic)
		if err != nil {
			t.Fatal(err)
		}
		if hw := info.Partitions[0].HighWatermark; hw != 0 {
			t.Errorf("%s: high watermark %d, want 0", topic, hw)
		}
	}
}

// TestKcatDataContractDLQ: librdkafka's idempotent producer (kcat) sends
// good and DLQ-bound records; kcat exits 0, a kcat consumer of the topic
// reads only the good ones (skipping the gaps and empty batches) and one
// of the DLQ topic the others, with the rule's headers.
func TestKcatDataContractDLQ(t *testing.T) {
	addr, _, srv := startServer(t)
	id := registerTipRule(t, srv, "tips-value", "tips-dlq")
	createTopicCore(t, srv, "tips", 1, nil)
	createTopicCore(t, srv, "tips-dlq", 1, nil)
	// kcat -P reads one record per line: the values are binary Avro, so
	// they go in one file each, produced in order (-l: a record per file).
	dir := t.TempDir()
	var files []string
	totals := []int64{1, -1, 2, -2, -3, 3}
	for i, v := range totals {
		f := filepath.Join(dir, fmt.Sprintf("%02d", i))
		if err := os.WriteFile(f, avroLong(id, v), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	args := append([]string{"-b", addr, "-P", "-t", "tips", "-p", "0", "-X", "enable.idempotence=true", "-X", "linger.ms=100"}, files...)
	if _, stderr, err := kcat(t, "", args...); err != nil {
		t.Fatalf("kcat -P: %v\n%s", err, stderr)
	}
	read := func(want string) {
		t.Helper()
		out, stderr, err := kcat(t, "", "-b", addr, "-C", "-t", "tips", "-e", "-o", "beginning", "-f", "%o\n")
		if err != nil {
			t.Fatalf("kcat -C tips: %v\n%s", err, stderr)
		}
		if got := strings.Fields(out); strings.Join(got, ",") != want {
			t.Fatalf("kcat read offsets %v of tips, want %s\n%s", got, want, stderr)
		}
	}
	read("0,2,5")
	// A batch diverted whole (an empty batch at the end of the log), then
	// one good record after it: kcat reads to the end past both.
	for _, f := range []string{files[1], files[5]} {
		if _, stderr, err := kcat(t, "", "-b", addr, "-P", "-t", "tips", "-p", "0", "-X", "enable.idempotence=true", f); err != nil {
			t.Fatalf("kcat -P %s: %v\n%s", f, err, stderr)
		}
		if f == files[1] {
			read("0,2,5")
		}
	}
	read("0,2,5,7")
	out, stderr, err := kcat(t, "", "-b", addr, "-C", "-t", "tips-dlq", "-e", "-o", "beginning", "-f", "%o %h\n")
	if err != nil {
		t.Fatalf("kcat -C tips-dlq: %v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("kcat read %d DLQ records, want 4:\n%s", len(lines), out)
	}
	for _, l := range lines {
		if !strings.Contains(l, "__rule.name=positive_total") || !strings.Contains(l, "__rule.topic=tips") {
			t.Errorf("DLQ record %q lacks the rule's headers", l)
		}
	}
	_ = srv
}

// TestDataContractDLQTransactionalKgo: kgo's transactional producer gets
// INVALID_RECORD for a record a DLQ rule would divert (the refusal of a
// transactional batch), aborts, and goes on: its next transaction of good
// records commits, and a read_committed consumer sees only those; the
// DLQ topic gets nothing.
func TestDataContractDLQTransactionalKgo(t *testing.T) {
	addr, _, srv := startServer(t)
	id := registerTipRule(t, srv, "tips-value", "tips-dlq")
	createTopicCore(t, srv, "tips", 1, nil)
	createTopicCore(t, srv, "tips-dlq", 1, nil)
	ctx := testCtx(t)
	pr := newClient(t, addr, kgo.TransactionalID("tips-tx"), kgo.DefaultProduceTopic("tips"))
	if err := pr.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	err := pr.ProduceSync(ctx, &kgo.Record{Value: avroLong(id, 1)}, &kgo.Record{Value: avroLong(id, -1)}).FirstErr()
	if !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("transactional produce of a DLQ-bound record: %v, want INVALID_RECORD", err)
	}
	if err := pr.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatalf("abort: %v", err)
	}
	if err := pr.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := pr.ProduceSync(ctx, &kgo.Record{Value: avroLong(id, 2)}, &kgo.Record{Value: avroLong(id, 3)}).FirstErr(); err != nil {
		t.Fatalf("good transaction: %v", err)
	}
	if err := pr.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit: %v", err)
	}
	got := consumeAll(t, addr, "tips", 1, 2, kgo.FetchIsolationLevel(kgo.ReadCommitted()))[0]
	if len(got) != 2 || tipTotal(t, got[0].Value) != 2 || tipTotal(t, got[1].Value) != 3 {
		t.Fatalf("read_committed: %d records", len(got))
	}
	if n := countRecords(t, addr, "tips-dlq"); n != 0 {
		t.Fatalf("the DLQ holds %d records, want 0", n)
	}
}
