package main

import (
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/internal/golden"
)

// TestSchemaDiffRegistry diffs subject versions of a live node with each
// other and with files, under the subject's level from the registry or a
// named one.
func TestSchemaDiffRegistry(t *testing.T) {
	addr := apServer(t)
	dir := ckCopy(t, nil)
	tr := newAPTranscript(t, addr, "ADDR", dir, "DIR")
	mf := filepath.Join(dir, "sluice.yaml")
	tr.run(0, "apply", "--manifest", mf, "--addr", addr, "--output", "json")
	apWrite(t, dir, "schemas/order.avsc", `{"type": "record", "name": "Order", "namespace": "com.acme",
  "fields": [{"name": "id", "type": "string"}, {"name": "total", "type": "double"}, {"name": "ship_to", "type": "Address"}, {"name": "note", "type": "string", "default": ""}]}`)
	tr.run(0, "apply", "--manifest", mf, "--addr", addr, "--output", "json")
	tr.sb.Reset()

	tr.run(0, "schema", "diff", "--registry", addr, "orders-value:1", "orders-value:2")
	// Removing a field that has a default keeps FULL compatibility.
	tr.run(0, "schema", "diff", "--registry", addr, "orders-value:2", "orders-value:1")
	tr.run(0, "schema", "diff", "--registry", addr, "orders-value:1", "orders-value:2", "--level", "FORWARD_TRANSITIVE")
	apWrite(t, dir, "broken.avsc", brokenOrder)
	tr.run(1, "schema", "diff", "--registry", addr, "orders-value", filepath.Join(dir, "broken.avsc"))
	tr.run(1, "schema", "diff", "--registry", addr, "orders-value:latest", filepath.Join(dir, "broken.avsc"), "--output", "json")
	tr.run(2, "schema", "diff", "--registry", addr, "orders-value:1", "orders-value:9")
	tr.run(2, "schema", "diff", "orders-value:1", filepath.Join(dir, "broken.avsc"))
	golden.Check(t, filepath.Join("testdata", "diff_registry.golden"), tr.sb.String())
}

// TestSchemaDiffReferences diffs files that reference other files: the
// references are inferred from their neighbours, as for a manifest.
func TestSchemaDiffReferences(t *testing.T) {
	base := ckCopy(t, nil)
	broken := ckCopy(t, map[string]string{"schemas/order.avsc": brokenOrder, "schemas/payment.proto": `syntax = "proto3";
package acme.payments;

import "schemas/money.proto";

message Payment {
  string id = 1;
  acme.common.Money amount = 2;
  string note = 3;
}
`})
	tr := newAPTranscript(t, base, "BASE", broken, "NEW")
	tr.run(1, "schema", "diff", filepath.Join(base, "schemas", "order.avsc"), filepath.Join(broken, "schemas", "order.avsc"), "--level", "FULL")
	tr.run(0, "schema", "diff", filepath.Join(base, "schemas", "customer.json"), filepath.Join(broken, "schemas", "customer.json"))
	tr.run(0, "schema", "diff", filepath.Join(base, "schemas", "payment.proto"), filepath.Join(broken, "schemas", "payment.proto"))
	apWrite(t, broken, "schemas/payment_v3.proto", `syntax = "proto3";
package acme.payments;

import "schemas/money.proto";

message Payment {
  int64 id = 1;
  repeated string tags = 4;
  enum State { UNKNOWN = 0; PAID = 1; }
  State state = 5;
}
`)
	tr.run(1, "schema", "diff", filepath.Join(base, "schemas", "payment.proto"), filepath.Join(broken, "schemas", "payment_v3.proto"), "--output", "json")
	golden.Check(t, filepath.Join("testdata", "diff_references.golden"), tr.sb.String())
}
