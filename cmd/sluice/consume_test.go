package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"github.com/sluicehq/sluice/internal/golden"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
	"github.com/sluicehq/sluice/recordjson"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/srclient"
)

// TestConsumeDecode: consume --decode prints typed keys and values as JSON
// with their writer schema's subject, version and id, for Avro, Protobuf
// and JSON Schema, in prefix and header mode; records that do not decode
// say why and reading goes on, unless --stop-on-decode-error.
func TestConsumeDecode(t *testing.T) {
	tr, dir := typedTestSetup(t)
	expect := func(code int, stdin string, args ...string) {
		t.Helper()
		if _, got := tr.run(stdin, args...); got != code {
			t.Errorf("sluice %v: exit %d, want %d", args, got, code)
		}
	}
	expect(0, "", "topic", "create", "orders", "--value-schema", "order.avsc", "--key-schema", "key.json")
	expect(0, `"o-1"|{"id":"o-1","total":1200,"note":{"string":"gift <wrap>"},"lines":[{"sku":"a","qty":2}]}`+"\n"+`"o-2"|{"id":"o-2","total":5}`+"\n",
		"produce", "orders", "--value-subject", "orders-value", "--key-subject", "orders-key", "--key-separator", "|")
	expect(0, "", "topic", "create", "payments", "--value-schema", "pay.proto", "--value-message", "shop.v1.Payment")
	expect(0, "", "produce", "payments", "--value-subject", "payments-value", "--value-message", "shop.v1.Payment", "--key", "plain-key",
		`{"id":"p-1","amount":{"currency":"EUR","units":"1250"}}`)
	expect(0, "", "topic", "create", "events", "--value-schema", "event.json")
	expect(0, "", "produce", "events", "--value-subject", "events-value", `{"kind": "paid", "at": 12}`)

	expect(0, "", "consume", "orders", "--decode")
	expect(0, "", "consume", "orders", "--decode", "--output", "json")
	expect(0, "", "consume", "orders", "--decode", "--group", "readers", "--max", "2")
	expect(0, "", "consume", "orders", "--decode", "--follow", "--max", "1")
	expect(0, "", "consume", "payments", "--decode")
	expect(0, "", "consume", "events", "--decode", "--output", "json")
	// The same schema (id 1) under a second subject: the topic's record
	// strategy picks which subject version is shown.
	expect(0, "", "topic", "create", "orders2", "--value-schema", "order.avsc", "--config", "value.subject.name.strategy=record")
	expect(0, "", "produce", "orders2", "--value-subject", "shop.v1.Order", `{"id":"o-3","total":3}`)
	expect(0, "", "consume", "orders2", "--decode")

	// An untyped topic holding a bit of everything.
	expect(0, "", "topic", "create", "mixed")
	var guid struct {
		GUID string `json:"guid"`
	}
	reg := &srclient.Client{Base: tr.addr, HTTP: httpClient()}
	if err := reg.Do(context.Background(), http.MethodGet, "/schemas/ids/1", nil, nil, &guid); err != nil {
		t.Fatal(err)
	}
	g, err := uuid.Parse(guid.GUID)
	if err != nil {
		t.Fatalf("guid %q: %v", guid.GUID, err)
	}
	avroDatum := []byte{0x06, 'o', '-', '9', 0x02, 0x00, 0x00} // id "o-9", total 1, note null, lines []
	client := brokerv1connect.NewBrokerServiceClient(httpClient(), tr.addr)
	_, err = client.Produce(context.Background(), connect.NewRequest(&brokerv1.ProduceRequest{Topic: "mixed", Records: []*brokerv1.ProduceRecord{
		{Value: []byte("plain text")},
		{Value: append(serde.AppendPrefix(nil, 1), avroDatum...)},
		{Value: append(serde.AppendPrefix(nil, 99), avroDatum...)},
		{Value: append(serde.AppendPrefix(nil, 1), 0x06, 'o')},
		{Value: avroDatum, Headers: []*brokerv1.Header{{Key: "__value_schema_id", Value: serde.AppendGUID(nil, g)}}},
		{Key: append(serde.AppendPrefix(nil, 2), `"k-1"`...), Value: nil},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	expect(0, "", "consume", "mixed", "--decode")
	expect(0, "", "consume", "mixed", "--decode", "--output", "json")
	expect(1, "", "consume", "mixed", "--decode", "--stop-on-decode-error")
	expect(2, "", "consume", "mixed", "--stop-on-decode-error")
	expect(1, "", "consume", "nosuch", "--decode")
	golden.Check(t, filepath.Join(dir, "consume_decode.golden"), tr.sb.String())

	// The JSON lines are JSON, with the decoded value as an object.
	out, _ := tr.run("", "consume", "orders", "--decode", "--output", "json", "--max", "1")
	var rec struct {
		Value       map[string]any `json:"value"`
		ValueSchema schemaJSON     `json:"value_schema"`
	}
	if err := json.Unmarshal([]byte(out), &rec); err != nil || rec.Value["id"] != "o-1" || rec.ValueSchema.Subject != "orders-value" || rec.ValueSchema.Version != 1 {
		t.Errorf("decoded JSON line %s: %+v %v", out, rec, err)
	}
}

// FuzzRecordDecode: consume --decode reads record bytes from anyone; for
// any key, value and schema header it prints valid JSON or says why not,
// never panics. The schemas are preloaded (no registry).
func FuzzRecordDecode(f *testing.F) {
	d, err := newRecordDecoder(context.Background(), nil, "t", nil, false)
	if err != nil {
		f.Fatal(err)
	}
	for id, text := range map[int32]struct{ typ, text string }{
		1: {"AVRO", typedTestFiles["order.avsc"]},
		2: {"PROTOBUF", typedTestFiles["pay.proto"]},
		3: {"JSON", typedTestFiles["event.json"]},
	} {
		parsed, err := srclient.ParseSchema(text.typ, text.text, nil)
		if err != nil {
			f.Fatal(err)
		}
		d.Preload(id, parsed, []recordjson.SubjectVersion{{Subject: "t-value", Version: 1}})
	}
	f.Add(append(serde.AppendPrefix(nil, 1), 0x06, 'o', '-', '1', 0x02, 0x00, 0x00), []byte(nil), []byte(nil))
	f.Add(append(serde.AppendPrefix(nil, 2), 0x02, 0x02, 0x0a, 0x01, 'p'), []byte(nil), []byte(nil))
	f.Add(append(serde.AppendPrefix(nil, 3), `{"kind":"paid"}`...), []byte(nil), []byte(nil))
	f.Add([]byte{0x06, 'o'}, []byte{0x00, 0, 0, 0, 1}, serde.AppendPrefix(nil, 2))
	f.Fuzz(func(t *testing.T, value, key, header []byte) {
		r := &brokerv1.Record{Key: key, Value: value}
		if header != nil {
			r.Headers = []*brokerv1.Header{{Key: "__value_schema_id", Value: header}}
		}
		for _, side := range []serde.Side{serde.Key, serde.Value} {
			ds := d.Decode(r, side)
			if ds.JSON != nil && !json.Valid(ds.JSON) {
				t.Fatalf("%s decoded to invalid JSON %q", side, ds.JSON)
			}
			if ds.JSON != nil && ds.Err != "" {
				t.Fatalf("%s decoded and failed: %s", side, ds.Err)
			}
		}
		var b bytes.Buffer
		p := &recordPrinter{w: &b, dec: d}
		if err := p.print(r); err != nil {
			t.Fatal(err)
		}
		p.json = true
		b.Reset()
		if err := p.print(r); err != nil || !json.Valid(b.Bytes()) {
			t.Fatalf("JSON line %q: %v", b.String(), err)
		}
	})
}
