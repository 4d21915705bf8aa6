package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/golden"
)

// brokenOrder is order.avsc with total narrowed from double to long:
// incompatible under the FULL level the manifest gives orders.
const brokenOrder = `{
  "type": "record",
  "name": "Order",
  "namespace": "com.acme",
  "fields": [
    {"name": "id", "type": "string"},
    {"name": "total", "type": "long"},
    {"name": "ship_to", "type": "Address"}
  ]
}
`

// TestSchemaCheckRegistry checks manifests and explicit files against a
// live in-process node, after `sluice apply` registered the example
// project: unchanged, broken (in every output format), a new subject,
// transitive and non-transitive levels read from the registry, and the
// LENIENT policy read from the subject's config.
func TestSchemaCheckRegistry(t *testing.T) {
	addr := apServer(t)
	base := ckCopy(t, nil)
	tr := newAPTranscript(t, addr, "ADDR", base, "BASE")
	if code := run(context.Background(), []string{"apply", "--manifest", filepath.Join(base, "sluice.yaml"), "--addr", addr}, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatalf("apply: exit %d", code)
	}
	tr.run(0, "schema", "check", "--registry", addr, "--manifest", filepath.Join(base, "sluice.yaml"))

	broken := ckCopy(t, map[string]string{"schemas/order.avsc": brokenOrder})
	tr.replacer = strings.NewReplacer(addr, "ADDR", base, "BASE", broken, "NEW")
	mf := filepath.Join(broken, "sluice.yaml")
	tr.run(1, "schema", "check", "--registry", addr, "--manifest", mf)
	tr.run(1, "schema", "check", "--registry", addr, "--manifest", mf, "--output", "json")
	tr.run(1, "schema", "check", "--registry", addr, "--manifest", mf, "--output", "github")
	// The registry's own verdict: the same violation, in its words.
	tr.run(1, "schema", "check", "--registry", addr, "--manifest", mf, "--verdict", "registry")
	tr.run(1, "schema", "check", "--registry", addr, "--manifest", mf, "--verdict", "registry", "--output", "github")
	tr.run(0, "schema", "check", "--registry", addr, "--manifest", filepath.Join(base, "sluice.yaml"), "--verdict", "registry")
	tr.run(2, "schema", "check", "--against", base, "--manifest", mf, "--verdict", "registry")
	// --level overrides the manifest's FULL: BACKWARD still breaks
	// (long cannot read double), FORWARD does not (double reads long).
	tr.run(0, "schema", "check", "--registry", addr, "--manifest", mf, "--level", "FORWARD")

	// A topic the registry has never seen is new and passes.
	yaml, err := os.ReadFile(filepath.Join(base, "sluice.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	grown := ckCopy(t, map[string]string{"sluice.yaml": string(yaml) + "  - name: invoices\n    value:\n      primitive: bytes\n"})
	tr.replacer = strings.NewReplacer(addr, "ADDR", grown, "NEW")
	tr.run(0, "schema", "check", "--registry", addr, "--manifest", filepath.Join(grown, "sluice.yaml"))

	// Explicit files, levels from the registry: events-value has two
	// versions; the candidate drops b's default, which reads version 2's
	// data but not version 1's.
	dir := t.TempDir()
	tr.replacer = strings.NewReplacer(addr, "ADDR", dir, "DIR")
	apWrite(t, dir, "v1.avsc", `{"type":"record","name":"Event","fields":[{"name":"a","type":"int"}]}`)
	apWrite(t, dir, "v2.avsc", `{"type":"record","name":"Event","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":""}]}`)
	apWrite(t, dir, "event.avsc", `{"type":"record","name":"Event","fields":[
  {"name":"a","type":"int"},
  {"name":"b","type":"string"}
]}`)
	tr.run(0, "schema", "register", "events-value", filepath.Join(dir, "v1.avsc"), "--addr", addr)
	tr.run(0, "schema", "register", "events-value", filepath.Join(dir, "v2.avsc"), "--addr", addr)
	tr.run(0, "schema", "check", "--registry", addr, "--subject", "events-value", filepath.Join(dir, "event.avsc"))
	tr.run(0, "schema", "config", "events-value", "--set", "BACKWARD_TRANSITIVE", "--addr", addr)
	tr.run(1, "schema", "check", "--registry", addr, "--subject", "events-value", filepath.Join(dir, "event.avsc"))

	// compatibilityGroup: version 2 belongs to another group (metadata
	// major=2), so the candidate, which has no metadata, is checked
	// against version 1 only.
	put := func(path, body string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPut, addr+path, strings.NewReader(body))
		if strings.HasPrefix(path, "/subjects") {
			req.Method = http.MethodPost
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s %s: %v %v", req.Method, path, resp, err)
		}
		resp.Body.Close()
	}
	put("/subjects/groups-value/versions", `{"schema":"{\"type\":\"record\",\"name\":\"Event\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}"}`)
	put("/config/groups-value", `{"compatibilityGroup":"major"}`)
	put("/subjects/groups-value/versions", `{"schema":"{\"type\":\"record\",\"name\":\"Event\",\"fields\":[{\"name\":\"z\",\"type\":\"int\"}]}","metadata":{"properties":{"major":"2"}}}`)
	tr.run(0, "schema", "check", "--registry", addr, "--subject", "groups-value", filepath.Join(dir, "v2.avsc"))
	put("/config/groups-value", `{"compatibilityGroup":"other"}`)
	tr.run(1, "schema", "check", "--registry", addr, "--subject", "groups-value", filepath.Join(dir, "v2.avsc"))

	// JSON Schema: adding an optional property to an open content model
	// is a violation under STRICT, accepted under the LENIENT policy the
	// subject's config asks for.
	apWrite(t, dir, "customer.json", `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "Customer",
  "type": "object",
  "properties": {
    "name": {"type": "string"},
    "home": {"$ref": "postal.json"},
    "email": {"type": "string"}
  }
}`)
	postal, _ := os.ReadFile(filepath.Join(base, "schemas", "postal.json"))
	apWrite(t, dir, "postal.json", string(postal))
	// The referenced file is registered under its reference name here.
	cust := "customers-Customer=" + filepath.Join(dir, "customer.json")
	tr.run(1, "schema", "check", "--registry", addr, "--subject", cust, "--subject", "schemas/postal.json", filepath.Join(dir, "postal.json"))
	req, _ := http.NewRequest(http.MethodPut, addr+"/config/customers-Customer", strings.NewReader(`{"compatibilityPolicy":"LENIENT"}`))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("PUT config: %v %v", resp, err)
	}
	tr.run(0, "schema", "check", "--registry", addr, "--subject", cust, "--subject", "schemas/postal.json", filepath.Join(dir, "postal.json"))

	// Errors: no registry there, a file without a subject, two baselines.
	tr.run(2, "schema", "check", "--registry", "http://127.0.0.1:1", "--subject", "events-value", filepath.Join(dir, "event.avsc"))
	tr.run(2, "schema", "check", "--registry", addr, filepath.Join(dir, "event.avsc"))
	tr.run(2, "schema", "check", "--registry", addr, "--against", dir, "--subject", "x", filepath.Join(dir, "event.avsc"))
	tr.run(2, "schema", "check", "--registry", addr, "--subject", "x")

	golden.Check(t, filepath.Join("testdata", "check_registry.golden"), tr.sb.String())
}

// TestSchemaCheckRegistryAuth reaches the registry through a proxy that
// demands basic auth: credentials from the URL and from the environment
// work, none is refused with the registry's answer.
func TestSchemaCheckRegistryAuth(t *testing.T) {
	reg := apProxy(t, apServer(t), func(w http.ResponseWriter, r *http.Request) bool {
		if u, p, ok := r.BasicAuth(); ok && u == "ci" && p == "s3cret" {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error_code":40101,"message":"Unauthorized"}`))
		return true
	})
	dir := ckCopy(t, nil)
	mf := filepath.Join(dir, "sluice.yaml")
	check := func(env map[string]string, reg string) (int, string) {
		for k, v := range env {
			t.Setenv(k, v)
		}
		var out, errb bytes.Buffer
		args := append([]string{"schema", "check", "--manifest", mf, "--registry"}, strings.Fields(reg)...)
		code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
		return code, out.String() + errb.String()
	}
	withUser := strings.Replace(reg, "http://", "http://ci:s3cret@", 1)
	if code, out := check(nil, withUser); code != 0 || strings.Contains(out, "s3cret") {
		t.Errorf("userinfo: exit %d: %s", code, out)
	}
	if code, out := check(map[string]string{"SLUICE_REGISTRY_USER": "ci", "SLUICE_REGISTRY_PASSWORD": "s3cret"}, reg); code != 0 {
		t.Errorf("env: exit %d: %s", code, out)
	}
	if code, out := check(map[string]string{"SLUICE_REGISTRY_USER": "", "SLUICE_REGISTRY_PASSWORD": ""}, reg); code != exitUnauthenticated || !strings.Contains(out, "authentication failed at "+reg+": Unauthorized") {
		t.Errorf("no credentials: exit %d: %s", code, out)
	}
	// --user is Confluent's basic.auth.user.info; the password from the
	// environment; a wrong one names the user and exits 3.
	if code, out := check(map[string]string{"SLUICE_PASSWORD": "s3cret"}, reg+" --user ci"); code != 0 {
		t.Errorf("--user: exit %d: %s", code, out)
	}
	if code, out := check(map[string]string{"SLUICE_PASSWORD": "wrong"}, reg+" --user ci"); code != exitUnauthenticated || !strings.Contains(out, "authentication failed for user ci at "+reg) || strings.Contains(out, "wrong") {
		t.Errorf("--user, wrong password: exit %d: %s", code, out)
	}
}

// TestSchemaCheckFiles checks explicit files against a folder and a git
// ref, with references between the files inferred.
func TestSchemaCheckFiles(t *testing.T) {
	base := ckCopy(t, nil)
	broken := ckCopy(t, map[string]string{"schemas/order.avsc": brokenOrder, "schemas/payment.proto": `syntax = "proto3";
package acme.payments;

import "schemas/money.proto";

message Payment {
  int64 id = 1;
  acme.common.Money amount = 2;
}
`})
	goldenPath, err := filepath.Abs(filepath.Join("testdata", "check_files.golden"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(broken)
	tr := newAPTranscript(t, base, "BASE", broken, "NEW")
	tr.run(1, "schema", "check", "--against", base, "--level", "FULL", "--subject", "orders-value", "schemas/order.avsc", "--subject", "payments-value=schemas/payment.proto")
	tr.run(1, "schema", "check", "--against", base, "--level", "FULL", "--subject", "orders-value", "schemas/order.avsc", "--output", "github")
	tr.run(0, "schema", "check", "--against", base, "--subject", "customers-Customer", "schemas/customer.json", "--subject", "brand-new", "schemas/address.avsc")
	outside := t.TempDir()
	apWrite(t, outside, "elsewhere.avsc", `"string"`)
	tr.replacer = strings.NewReplacer(base, "BASE", broken, "NEW", outside, "OUTSIDE")
	tr.run(2, "schema", "check", "--against", base, "--subject", "orders-value", filepath.Join(outside, "elsewhere.avsc"))
	tr.run(2, "schema", "check", "--against", base, "--subject", "orders-value", "nope.avsc")

	if _, err := exec.LookPath("git"); err == nil {
		git := func(args ...string) {
			cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"}, args...)...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("git %v: %v\n%s", args, err, out)
			}
		}
		// Commit the good order.avsc, then break it in the work tree.
		good, _ := os.ReadFile(filepath.Join(base, "schemas", "order.avsc"))
		apWrite(t, broken, "schemas/order.avsc", string(good))
		git("init", "-q", "-b", "main")
		git("add", ".")
		git("commit", "-q", "-m", "base")
		apWrite(t, broken, "schemas/order.avsc", brokenOrder)
		tr.run(1, "schema", "check", "--against", "git:main", "--level", "FULL", "--subject", "orders-value", "schemas/order.avsc", "--output", "json")
	}
	golden.Check(t, goldenPath, tr.sb.String())
}
