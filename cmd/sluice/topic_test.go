package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/golden"
)

func TestTopicCommands(t *testing.T) {
	tr := &btTranscript{t: t, addr: btServer(t)}
	tr.run("", "topic", "create", "orders", "--partitions", "3", "--config", "retention.ms=3600000", "--config", "cleanup.policy=compact")
	tr.run("", "topic", "create", "orders")
	tr.run("", "topic", "create", "bad/name")
	tr.run("", "topic", "create", "x", "--config", "colour=blue")
	tr.run("", "topic", "create", "audit", "--output", "json")
	tr.run("", "topic", "list")
	tr.run("", "topic", "list", "--output", "json")
	tr.run("", "topic", "describe", "orders")
	tr.run("", "topic", "alter", "orders", "--set", "max.message.bytes=2048", "--delete", "cleanup.policy")
	tr.run("", "topic", "alter", "orders", "--set", "segment.bytes=12")
	tr.run("", "topic", "alter", "orders", "--partitions", "5")
	tr.run("", "topic", "alter", "orders", "--partitions", "2")
	tr.run("", "topic", "describe", "orders", "--output", "json")
	tr.run("", "topic", "delete", "orders")
	tr.run("", "topic", "describe", "orders")
	tr.run("", "topic", "delete", "audit", "--output", "json")
	tr.run("", "topic", "list")
	tr.check("topic.golden")
}

func TestTopicUsageErrors(t *testing.T) {
	tr := &btTranscript{t: t, addr: "http://127.0.0.1:1"}
	for _, args := range [][]string{
		{"topic"},
		{"topic", "create"},
		{"topic", "list", "extra"},
		{"topic", "frobnicate", "x"},
		{"topic", "alter", "x"},
		{"topic", "describe", "x", "--output", "yaml"},
	} {
		if _, code := tr.run("", args...); code != 2 {
			t.Errorf("sluice %v: exit %d, want 2", args, code)
		}
	}
}

func TestParseArgsIntersperses(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	n := fs.Int("n", 0, "")
	pos, _, ok := parseArgs(fs, []string{"a", "-n", "3", "b", "--", "-c", "d"})
	if !ok || *n != 3 || len(pos) != 4 || pos[0] != "a" || pos[1] != "b" || pos[2] != "-c" || pos[3] != "d" {
		t.Fatalf("got %v n=%d ok=%v", pos, *n, ok)
	}
}

// TestTopicCreateTyped covers topic create with schemas: registration and a
// typed topic in one step, the refusals (invalid schema with its position,
// incompatible schema with its violations, existing topic), a failed
// creation after a successful registration and its idempotent re-run, and
// that the created topic enforces its schema.
func TestTopicCreateTyped(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(dir) // file names in the transcript stay short and stable
	files := map[string]string{
		"order.avsc":    `{"type":"record","name":"Order","namespace":"shop.v1","fields":[{"name":"id","type":"string"},{"name":"total","type":"long"}]}`,
		"order_v2.avsc": `{"type":"record","name":"Order","namespace":"shop.v1","fields":[{"name":"id","type":"string"},{"name":"total","type":"long"},{"name":"currency","type":"string"}]}`,
		"broken.avsc":   "{\"type\": \"record\",\n \"name\": \"Order\",\n \"fields\": [{\"name\": \"id\" \"type\": \"string\"}]}",
		"nofields.avsc": `{"type":"record","name":"Order"}`,
		"pay.proto":     "syntax = \"proto3\";\npackage shop.v1;\nmessage Money { string currency = 1; int64 units = 2; }\nmessage Payment { string id = 1; Money amount = 2; }\n",
		"key.json":      `{"$schema":"http://json-schema.org/draft-07/schema#","title":"PaymentKey","type":"string","minLength":1}`,
		"order.txt":     "not a schema",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tr := &btTranscript{t: t, addr: btServer(t)}
	expect := func(code int, stdin string, args ...string) {
		t.Helper()
		if _, got := tr.run(stdin, args...); got != code {
			t.Errorf("sluice %v: exit %d, want %d", args, got, code)
		}
	}
	expect(0, "", "topic", "create", "orders", "--value-schema", "order.avsc", "--partitions", "2")
	expect(0, "", "topic", "describe", "orders")
	// The topic is typed: a raw value is refused, nothing is appended.
	expect(1, "not framed\n", "produce", "orders")
	expect(1, "", "topic", "create", "orders", "--value-schema", "order.avsc")
	// Invalid schemas are refused before anything is registered.
	expect(1, "", "topic", "create", "broken", "--value-schema", "broken.avsc")
	expect(1, "", "topic", "create", "broken", "--value-schema", "nofields.avsc")
	expect(2, "", "topic", "create", "broken", "--value-schema", "order.txt")
	expect(1, "", "topic", "create", "broken", "--value-schema", "missing.avsc")
	expect(2, "", "topic", "create", "broken", "--value-schema", "order.avsc", "--value-message", "shop.v1.Order")
	expect(1, "", "topic", "create", "broken", "--value-schema", "pay.proto", "--value-message", "shop.v1.Nope")
	expect(2, "", "topic", "create", "broken", "--value-type", "avro")
	// Registration succeeds, creation fails; the same command, fixed, re-uses
	// the registered version.
	expect(1, "", "topic", "create", "audit", "--value-schema", "order.avsc", "--config", "retention.ms=soon")
	expect(0, "", "topic", "create", "audit", "--value-schema", "order.avsc")
	// An incompatible new schema for a subject that outlived its topic.
	expect(0, "", "topic", "delete", "orders")
	expect(1, "", "topic", "create", "orders", "--value-schema", "order_v2.avsc")
	// Protobuf value with a chosen message, JSON Schema key, record strategy.
	expect(0, "", "topic", "create", "payments", "--value-schema", "pay.proto", "--value-message", "shop.v1.Payment", "--key-schema", "key.json")
	expect(0, "", "topic", "create", "events", "--value-schema", "order.avsc", "--config", "value.subject.name.strategy=record", "--output", "json")
	expect(0, "", "schema", "list")
	golden.Check(t, filepath.Join(wd, "testdata", "topic_typed.golden"), tr.sb.String())
}

// TestTopicRefusals: a misspelt subcommand is named as unknown (with a
// suggestion), whatever its arguments; a partition count below 1 or over
// the limit is refused before any request.
func TestTopicRefusals(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"topic", "lst"}, `sluice topic: unknown subcommand "lst"; want create, list, describe, alter or delete (did you mean "list"?)`},
		{[]string{"topic", "frobnicate", "x"}, `sluice topic: unknown subcommand "frobnicate"; want create, list, describe, alter or delete`},
		{[]string{"topic", "create", "t", "--partitions", "0"}, `sluice topic create: --partitions 0: want 1 to 1024 (a topic needs at least one partition)`},
		{[]string{"topic", "create", "t", "--partitions", "-3"}, `sluice topic create: --partitions -3: want 1 to 1024 (a topic needs at least one partition)`},
		{[]string{"topic", "create", "t", "--partitions", "1025", "--value-schema", "x.avsc"}, `sluice topic create: --partitions 1025: want 1 to 1024 (a topic needs at least one partition)`},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append(c.args, "--addr", "http://127.0.0.1:1"), strings.NewReader(""), &stdout, &stderr)
		if code != 2 || strings.TrimSpace(stderr.String()) != c.want || stdout.Len() != 0 {
			t.Errorf("sluice %v: exit %d\nstderr: %s\nwant:   %s", c.args, code, stderr.String(), c.want)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"lst", ` (did you mean "list"?)`},
		{"crate", ` (did you mean "create"?)`},
		{"describ", ` (did you mean "describe"?)`},
		{"xyz", ""},
		{"", ""},
	} {
		if got := didYouMean(c.in, topicSubcommands); got != c.want {
			t.Errorf("didYouMean(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestTopicDescribeValidation: describe shows each side's effective schema
// validation and why: auto follows the subject's live versions, an
// explicit level is the topic's, and topic --help explains the levels.
func TestTopicDescribeValidation(t *testing.T) {
	tr, dir := typedTestSetup(t)
	expect := func(code int, args ...string) string {
		t.Helper()
		out, got := tr.run("", args...)
		if got != code {
			t.Errorf("sluice %v: exit %d, want %d", args, got, code)
		}
		return out
	}
	expect(0, "topic", "create", "shop")
	expect(0, "schema", "register", "shop-value", "order.avsc")
	expect(0, "topic", "alter", "shop", "--set", "key.schema.validation=id")
	out := expect(0, "topic", "describe", "shop")
	for _, want := range []string{
		"value              payload (auto: subject shop-value has live versions (1))",
		"key                id (set on the topic: key.schema.validation=id)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
	expect(0, "topic", "alter", "shop", "--set", "value.subject.name.strategy=record")
	expect(0, "topic", "describe", "shop", "--output", "json")
	golden.Check(t, filepath.Join(dir, "topic_validation.golden"), tr.sb.String())

	help, _ := tr.run("", "topic", "--help")
	for _, want := range []string{"auto     the default: payload while the subject <topic>-value", "payload  id, and the bytes must decode"} {
		if !strings.Contains(help, want) {
			t.Errorf("topic --help lacks %q", want)
		}
	}
}

// TestTopicCreateWithReferences: topic create registers a schema that uses
// other subjects' types through --ref (Avro named types) and --key-ref
// (a Protobuf import); latest is pinned; the typed topic then takes
// values typed as JSON and gives them back decoded.
func TestTopicCreateWithReferences(t *testing.T) {
	tr, dir := typedTestSetup(t)
	files := map[string]string{
		"address.avsc":  `{"type":"record","name":"Address","namespace":"shop.v1","fields":[{"name":"city","type":"string"}]}`,
		"customer.avsc": `{"type":"record","name":"Customer","namespace":"shop.v1","fields":[{"name":"name","type":"string"},{"name":"home","type":"shop.v1.Address"}]}`,
		"money.proto":   "syntax = \"proto3\";\npackage shop.v1;\nmessage Money { string currency = 1; int64 units = 2; }\n",
		"pkey.proto":    "syntax = \"proto3\";\npackage shop.v1;\nimport \"shop/money.proto\";\nmessage PriceKey { Money floor = 1; }\n",
	}
	for name, text := range files {
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(code int, args ...string) {
		t.Helper()
		if _, got := tr.run("", args...); got != code {
			t.Errorf("sluice %v: exit %d, want %d", args, got, code)
		}
	}
	expect(0, "schema", "register", "address-value", "address.avsc")
	expect(0, "schema", "register", "money-value", "money.proto")
	// Without its reference the schema does not parse: nothing registered.
	expect(1, "topic", "create", "customers", "--value-schema", "customer.avsc")
	expect(1, "topic", "create", "customers", "--value-schema", "customer.avsc", "--ref", "shop.v1.Address=nosuch-value:1")
	expect(2, "topic", "create", "customers", "--value-ref", "shop.v1.Address=address-value:1")
	expect(0, "topic", "create", "customers", "--value-schema", "customer.avsc", "--ref", "shop.v1.Address=address-value:latest",
		"--key-schema", "pkey.proto", "--key-ref", "shop/money.proto=money-value:1", "--output", "json")
	expect(0, "schema", "get", "customers-value")
	expect(0, "produce", "customers", "--value-subject", "customers-value", "--key-subject", "customers-key",
		"--key", `{"floor":{"currency":"EUR","units":"3"}}`, `{"name":"Ada","home":{"city":"Paris"}}`)
	expect(0, "consume", "customers", "--decode")
	golden.Check(t, filepath.Join(dir, "topic_refs.golden"), tr.sb.String())
}
