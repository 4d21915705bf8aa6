package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/internal/golden"
)

// typedTestFiles are the schemas of the typed produce and consume tests.
var typedTestFiles = map[string]string{
	"order.avsc": `{"type":"record","name":"Order","namespace":"shop.v1","fields":[
  {"name":"id","type":"string"},{"name":"total","type":"long"},
  {"name":"note","type":["null","string"],"default":null},
  {"name":"lines","type":{"type":"array","items":{"type":"record","name":"Line","fields":[{"name":"sku","type":"string"},{"name":"qty","type":"int"}]}},"default":[]}]}`,
	"pay.proto": "syntax = \"proto3\";\npackage shop.v1;\nmessage Money { string currency = 1; int64 units = 2; }\nmessage Payment { string id = 1; Money amount = 2; }\n",
	"key.json":  `{"$schema":"http://json-schema.org/draft-07/schema#","title":"OrderKey","type":"string","minLength":3}`,
	"event.json": `{"$schema":"http://json-schema.org/draft-07/schema#","title":"Event","type":"object",
  "properties":{"kind":{"enum":["created","paid"]},"at":{"type":"integer","minimum":0}},"required":["kind"]}`,
}

// typedTestSetup writes the schema files into a fresh working directory
// and returns a transcript against a fresh server.
func typedTestSetup(t *testing.T) (tr *btTranscript, goldenDir string) {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	for name, text := range typedTestFiles {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &btTranscript{t: t, addr: btServer(t)}, filepath.Join(wd, "testdata")
}

// TestProduceTyped: values typed as JSON are encoded through the
// registered schema (Avro, Protobuf, JSON Schema) and accepted by a topic
// that validates payloads; a value that does not fit names the record or
// line and the field, and the lines before it are written.
func TestProduceTyped(t *testing.T) {
	tr, dir := typedTestSetup(t)
	expect := func(code int, stdin string, args ...string) {
		t.Helper()
		if _, got := tr.run(stdin, args...); got != code {
			t.Errorf("sluice %v: exit %d, want %d", args, got, code)
		}
	}
	expect(0, "", "topic", "create", "orders", "--value-schema", "order.avsc", "--key-schema", "key.json")
	expect(0, "", "produce", "orders", "--value-subject", "orders-value", "--key-subject", "orders-key", "--key", `"o-1"`,
		`{"id":"o-1","total":1200,"note":{"string":"gift"},"lines":[{"sku":"a","qty":2}]}`)
	expect(0, `"o-2"|{"id":"o-2","total":5}`+"\n"+`"o-3"|{"id":"o-3","total":7,"note":null}`+"\n",
		"produce", "orders", "--value-schema-id", "1", "--key-schema-id", "2", "--key-separator", "|")
	// The second line does not fit: the first is written, nothing after.
	expect(1, `"o-4"|{"id":"o-4","total":1}`+"\n"+`"o-5"|{"id":"o-5","total":"12"}`+"\n"+`"o-6"|{"id":"o-6","total":3}`+"\n",
		"produce", "orders", "--value-subject", "orders-value", "--value-version", "1", "--key-subject", "orders-key", "--key-separator", "|")
	expect(1, "", "produce", "orders", "--value-subject", "orders-value", "--key", `"o-7"`, "--key-subject", "orders-key",
		`{"id":"o-7","total":1}`, `{"id":"o-8","total":2,"lines":[{"sku":"b","qty":1.5}]}`)
	expect(1, "", "produce", "orders", "--value-subject", "orders-value", `{"id":"o-9","total":1,"note":"plain"}`)
	expect(1, "\n", "produce", "orders", "--value-subject", "orders-value")
	expect(1, "", "produce", "orders", "--value-subject", "orders-value", "--key-subject", "orders-key", "--key", `"x"`, `{"id":"o-9","total":1}`)
	expect(1, "o-9|{}\n", "produce", "orders", "--value-subject", "orders-value", "--key-subject", "orders-key", "--key-separator", "|")
	// Plain values into the typed topic are still refused by the broker.
	expect(1, "", "produce", "orders", `{"id":"o-9","total":1}`)
	expect(0, "", "consume", "orders", "--output", "json")

	expect(0, "", "topic", "create", "payments", "--value-schema", "pay.proto", "--value-message", "shop.v1.Payment")
	expect(0, "", "produce", "payments", "--value-subject", "payments-value", "--value-message", "shop.v1.Payment",
		`{"id":"p-1","amount":{"currency":"EUR","units":"1250"}}`)
	expect(1, "", "produce", "payments", "--value-subject", "payments-value", "--value-message", "shop.v1.Payment",
		`{"id":"p-2","amount":{"currency":"EUR","units":"lots"}}`)
	expect(1, "", "produce", "payments", "--value-subject", "payments-value", "--value-message", "shop.v1.Nope", `{}`)
	expect(0, "", "consume", "payments", "--output", "json")

	expect(0, "", "topic", "create", "events", "--value-schema", "event.json")
	expect(0, "", "produce", "events", "--value-subject", "events-value", `{"kind": "paid", "at": 12}`)
	expect(1, "", "produce", "events", "--value-subject", "events-value", `{"kind":"lost","at":-1}`)
	expect(0, "", "consume", "events")

	// Flag combinations and registry lookups that fail.
	expect(2, "", "produce", "orders", "--value-schema-id", "1", "--value-subject", "orders-value", "{}")
	expect(2, "", "produce", "orders", "--value-version", "2", "{}")
	expect(2, "", "produce", "orders", "--value-subject", "orders-value", "--value-version", "zero", "{}")
	expect(2, "", "produce", "orders", "--key-subject", "orders-key", "{}")
	expect(2, "", "produce", "orders", "--key", "k", "--key-separator", "|", "{}")
	expect(1, "", "produce", "orders", "--value-subject", "nosuch-value", "{}")
	expect(1, "", "produce", "orders", "--value-schema-id", "99", "{}")
	expect(1, "", "produce", "orders", "--value-subject", "orders-value", "--value-message", "X", "{}")
	golden.Check(t, filepath.Join(dir, "produce_typed.golden"), tr.sb.String())
}
